"""An append-only journal: the committed state of a resumable command, one JSON record a line.

The first line is a header, written by :meth:`Journal.create` at once (through a temporary
file, fsynced, renamed, the directory fsynced), so a journal always has one and an
unwritable folder fails before any work. Each later line is a record of what changed:
:meth:`Journal.commit` writes the records added since the last commit in one write and
fsyncs them, so a checkpoint costs what changed, not the whole state. When the records
outgrow the last snapshot, :meth:`Journal.compact` rewrites the journal as its header
plus a snapshot, by the same atomic replace. A crash can leave the last line torn:
:func:`load` drops it, and :meth:`Journal.resume` cuts it off. After any error writing or
syncing, the journal is **poisoned** and never commits again: Linux reports a writeback
error to one fsync only, so a later fsync that succeeds would claim bytes that were lost.

The caller holds a lock for the journal's path (:func:`lock`); stale temporary files of
an earlier run (``PATH.tmpPID``) are swept when a journal is created or resumed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

import attrs
import orjson

if sys.platform != "win32":  # pragma: no branch
    import fcntl

__all__ = [
    "JOURNAL_VERSION",
    "Journal",
    "JournalDamagedError",
    "Loaded",
    "ResumeError",
    "fsync_directory",
    "load",
    "lock",
    "naming",
    "replace_atomically",
    "sweep_temporaries",
]

JOURNAL_VERSION: Final = 1
"""The value of the header's ``journal`` key."""
COMPACT_AFTER: Final = 1 << 20
"""Records are compacted once they exceed this many bytes and twice the last snapshot."""

Record = Mapping[str, Any]


class ResumeError(Exception):
    """A state or output cannot be used safely as it is (bad input: nothing was changed)."""


class JournalDamagedError(ResumeError):
    """A journal whose header or a record before the last cannot be read."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line} {reason}")
        self.path = path
        self.line = line
        self.reason = reason


@attrs.frozen
class Loaded:
    """A journal as read from disk: its header, its whole records, and where they end."""

    header: dict[str, Any]
    records: list[dict[str, Any]]
    size: int
    """Bytes of the header and the whole records (where appending resumes)."""
    torn: int = 0
    """Bytes of a torn last record left out (0 if none)."""
    legacy: bool = False
    """The file was one JSON object (an older state file): ``header`` holds it whole."""


@contextlib.contextmanager
def naming(path: str) -> Iterator[None]:
    """Give an :class:`OSError` raised inside the path it concerns (``exc.filename``)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = path
        raise


def fsync_directory(path: str) -> None:
    """Sync the directory holding ``path`` (a rename or a new file in it is then durable)."""
    if sys.platform == "win32":  # pragma: no cover
        return
    directory = os.path.dirname(os.path.abspath(path))
    with naming(directory):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def replace_atomically(path: str, data: bytes) -> None:
    """Replace ``path`` by ``data``: a temporary file, fsynced, renamed, directory fsynced.

    A failure removes the temporary file (a crash leaves it to :func:`sweep_temporaries`).
    """
    temporary = f"{path}.tmp{os.getpid()}"
    try:
        with naming(temporary):
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        with naming(path):
            os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_directory(path)


def sweep_temporaries(path: str) -> list[str]:
    """Remove the ``PATH.tmpPID`` files an earlier run left; the paths removed.

    Only the holder of ``path``'s lock writes them, so under the lock every one is stale.
    """
    directory = os.path.dirname(os.path.abspath(path))
    prefix = os.path.basename(path) + ".tmp"
    removed: list[str] = []
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                stale = os.path.join(directory, name)
                with contextlib.suppress(OSError):
                    os.unlink(stale)
                    removed.append(stale)
    return removed


def lock(fd: int, path: str, holder: str = "another process") -> None:
    """Lock ``fd`` for this process alone; :class:`ResumeError` if ``holder`` has it."""
    if sys.platform == "win32":  # pragma: no cover
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ResumeError(f"{path} is in use by {holder}") from None


def _encode(record: Record) -> bytes:
    return orjson.dumps(record) + b"\n"


def load(path: str) -> Loaded | None:
    """Read the journal at ``path`` (None if there is none); change nothing.

    A last line that is torn (no newline, or not JSON: a crash mid-append, a zeroed
    block after a power loss) is left out; a header or an earlier record that cannot be
    read raises :class:`JournalDamagedError`.
    """
    with naming(path):
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return None
    if not data.endswith(b"\n"):
        with contextlib.suppress(orjson.JSONDecodeError):
            whole = orjson.loads(data)
            if isinstance(whole, dict) and "journal" not in whole:
                return Loaded(header=whole, records=[], size=len(data), legacy=True)
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" or a torn line
    records: list[dict[str, Any]] = []
    offset = 0
    torn = len(tail)
    for number, line in enumerate(lines, 1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            if number == len(lines) and number > 1 and not tail:
                torn = len(line) + 1
                break
            what = "header" if number == 1 else "record"
            raise JournalDamagedError(path, number, f"is not a JSON {what}")
        records.append(record)
        offset += len(line) + 1
    if not records:
        raise JournalDamagedError(path, 1, "has no header")
    header = records.pop(0)
    if header.get("journal") != JOURNAL_VERSION:
        raise JournalDamagedError(path, 1, f"is not a journal (version {JOURNAL_VERSION})")
    return Loaded(header=header, records=records, size=offset, torn=torn)


class Journal:
    """An open journal, appended to by one process (which holds its lock).

    :meth:`add` queues a record; :meth:`commit` makes the queued records durable (one
    write, one fsync). :attr:`wants_compaction` says when :meth:`compact` is worth its
    cost. Any :class:`OSError` on the way poisons the journal (:attr:`poisoned`): every
    later commit or compaction raises it again and writes nothing.
    """

    def __init__(self, path: str, fd: int, header: Mapping[str, Any], size: int) -> None:
        self.path = path
        self.header: dict[str, Any] = {**header, "journal": JOURNAL_VERSION}
        self._fd = fd
        self._queued: list[bytes] = []
        self._size = size
        self._snapshot = size
        self.poisoned: OSError | None = None

    @classmethod
    def create(
        cls, path: str, header: Mapping[str, Any], records: Iterable[Record] = ()
    ) -> Journal:
        """Start a journal at ``path`` (replacing any) of ``header`` and ``records``, durably."""
        sweep_temporaries(path)
        journal = cls(path, -1, header, 0)
        journal._rewrite(records)
        return journal

    @classmethod
    def resume(cls, path: str, loaded: Loaded) -> Journal:
        """Append to the journal ``loaded`` was read from, its torn last record cut off.

        A legacy state is rewritten at once as a journal of its header alone: the
        caller should :meth:`compact` it with its snapshot before anything else.
        """
        sweep_temporaries(path)
        if loaded.legacy:
            return cls.create(path, loaded.header)
        with naming(path):
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
            try:
                if loaded.torn:
                    os.ftruncate(fd, loaded.size)
                    os.fsync(fd)
            except BaseException:
                os.close(fd)
                raise
        return cls(path, fd, loaded.header, loaded.size)

    def add(self, record: Record) -> None:
        """Queue ``record`` for the next :meth:`commit`."""
        self._queued.append(_encode(record))

    def poison(self, error: OSError) -> None:
        """Never commit again (``error``: what made the committed state unknowable)."""
        if self.poisoned is None:
            self.poisoned = error

    def _check(self) -> None:
        if self.poisoned is not None:
            raise self.poisoned

    def commit(self) -> None:
        """Write the queued records in one write and fsync them."""
        self._check()
        if not self._queued:
            return
        data = b"".join(self._queued)
        try:
            with naming(self.path):
                _write_all(self._fd, data)
                os.fsync(self._fd)
        except OSError as exc:
            self.poison(exc)
            raise
        self._queued.clear()
        self._size += len(data)

    def commit_after(
        self, fd: int, path: str, record: Record, snapshot: Callable[[], Iterable[Record]]
    ) -> None:
        """A checkpoint: fsync ``fd`` (the data ``record`` claims; ``-1`` for none), then
        commit ``record``, then compact to ``snapshot()`` when that pays off. A failed sync
        poisons the journal, as a failed commit does: nothing is claimed after it."""
        self._check()
        if fd >= 0:
            try:
                with naming(path):
                    os.fsync(fd)
            except OSError as exc:
                self.poison(exc)
                raise
        self.add(record)
        self.commit()
        if self.wants_compaction:
            self.compact(snapshot())

    @property
    def wants_compaction(self) -> bool:
        """Whether the records have outgrown the last snapshot (compaction pays off)."""
        grown = self._size - self._snapshot
        return grown > COMPACT_AFTER and grown > 2 * self._snapshot

    def compact(self, records: Iterable[Record]) -> None:
        """Replace the journal by its header and ``records`` (the whole state, durably)."""
        self._check()
        self._queued.clear()
        try:
            self._rewrite(records)
        except OSError as exc:
            self.poison(exc)
            raise

    def _rewrite(self, records: Iterable[Record]) -> None:
        data = b"".join([_encode(self.header), *(_encode(r) for r in records)])
        replace_atomically(self.path, data)
        with naming(self.path):
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        self._size = self._snapshot = len(data)

    def close(self) -> None:
        """Release the file (what is queued and not committed is dropped)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
