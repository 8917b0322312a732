"""Resumable JSON Lines export of threads: the sinks that write pages, and the export loop.

A page is written as whole lines (one message each, exactly the JSON the server sent) in
a single write. :class:`ResumableFile` keeps a sidecar ``FILE.state.json``, an append-only
:class:`~openai_messages.cli.journal.Journal` whose records say how many bytes of ``FILE``
are committed and, per thread changed since the last checkpoint, the id of the last
message written, the count and whether the thread is complete. The data is synced before
the record that claims it; after an error writing or syncing, nothing is claimed again.
After any interruption the file is cut back to the committed size (always a line end),
and each unfinished thread resumes with ``after=<last id>``. Resume checks every line and
every thread's count and last id against the state: a thread that does not match (a line
deleted by hand, no state at all) is walked again from its start, writing only the
messages not in the file. A file that is not an export is refused before anything in it
is changed.

``export --all-threads`` feeds the same loop from the service's thread list
(:mod:`~openai_messages.cli.thread_listing`): the sink records the threads a listing page
names together with the listing's cursor (``listing_cursor``, one more field of the
state, in the same record), so a resumed listing goes on after the last thread the state
knows; ``listing`` is ``"running"`` until the list's last page was read, and an export
whose listing did not finish is unfinished.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import IO, Any, Final

import attrs
import orjson

from .._codec import converter
from .._codec.literals import Order
from .._codec.models import Message
from .._core.defaults import PAGE_SIZE
from .._walk.bulk import RUN_ENDING as WALK_ENDING
from .._walk.bulk import RunTotals
from ..client import Client
from ..errors import OpenAIMessagesError
from .journal import Journal, JournalDamagedError, ResumeError, load, lock, naming

if sys.platform != "win32":  # pragma: no branch
    import fcntl

RUN_ENDING: Final = WALK_ENDING
"""What ends an export or import at once (the library's bulk runs end on the same): a
refused key or token (401/403), a closed client, or no token to be had (a failing
--token-command would fail every thread)."""

__all__ = [
    "STATE_SUFFIX",
    "ExportState",
    "ExportStats",
    "JsonlSink",
    "ResumableFile",
    "ResumeError",
    "Sink",
    "ThreadFailure",
    "ThreadState",
    "Unfinished",
    "UnwritableMessageError",
    "encode_page",
    "export_threads",
    "read_state",
    "unfinished",
]

STATE_SUFFIX: Final = ".state.json"
STATE_FORMAT: Final = "openai-messages-export/2"
LEGACY_FORMAT: Final = "openai-messages-export/1"
CHECKPOINT_INTERVAL: Final = 1.0
_BLOCK: Final = 1 << 16
_NOTES: Final = 5
"""Threads named one by one in what resume found; the rest are counted."""


class UnwritableMessageError(OpenAIMessagesError):
    """A message that was read but cannot be written as JSON (nested too deep even for
    the standard library's encoder): the error of its thread, whose export stops there."""

    def __init__(self, message_id: str, reason: str) -> None:
        super().__init__(f"message {message_id!r} cannot be written as JSON: {reason}")
        self.message_id = message_id


@attrs.define
class ThreadState:
    """What has been exported of one thread."""

    last_id: str | None = None
    count: int = 0
    done: bool = False
    rewalk: bool = False
    """Walked from its start again, writing only messages not in the file (its lines
    did not match the state, or there was no state)."""
    skip: set[str] | None = attrs.field(default=None, repr=False, eq=False)
    """The ids already in the file of a thread walked again."""


@attrs.frozen
class ThreadFailure:
    """A thread whose walk ended with an error."""

    thread_id: str
    error: BaseException


@attrs.define
class ExportStats(RunTotals):
    """Running totals of an export, read by the progress display."""

    threads_total: int = 0
    threads_skipped: int = 0
    listing: bool = False
    """True while the thread list is being read (``threads_total`` still grows)."""
    finished: float | None = None
    """When the export ended (``time.monotonic()``); None while it runs."""

    @property
    def elapsed(self) -> float:
        """Seconds since the export started, until it finished."""
        end = self.finished if self.finished is not None else time.monotonic()
        return end - self.started


def encode_page(messages: Sequence[Message]) -> bytes:
    """The messages as JSON lines (each ends with a newline), losslessly re-encoded.

    orjson writes every line it can; a message it refuses (it stops at 255 levels of
    nesting, which a server's unknown fields may exceed) is written by the standard
    library's encoder, and one neither can write raises :class:`UnwritableMessageError`.
    """
    encode = converter.encode  # orjson.dumps of converter.unstructure
    try:
        return b"".join([encode(m) + b"\n" for m in messages])
    except TypeError:
        return b"".join([_encode_slowly(m) + b"\n" for m in messages])


def _encode_slowly(message: Message) -> bytes:
    try:
        return converter.encode(message)
    except TypeError:
        pass
    try:
        text = json.dumps(
            converter.unstructure(message),
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        )
    except RecursionError:
        raise UnwritableMessageError(message.id, "nested too deep") from None
    except (TypeError, ValueError) as exc:
        raise UnwritableMessageError(message.id, str(exc)) from None
    return text.encode()


class Sink:
    """Where pages go: whole JSON lines, plus what has been exported of each thread."""

    def __init__(self) -> None:
        self.threads: dict[str, ThreadState] = {}
        self.listing_cursor: str | None = None
        """The id of the last thread a listing recorded (``--all-threads`` resumes after it)."""

    def discover(self, thread_ids: Sequence[str], cursor: str | None) -> list[str]:
        """Record the threads of one listing page and the listing's cursor, together (so
        that a state holding the cursor holds every thread before it); the new ones."""
        new = [tid for tid in dict.fromkeys(thread_ids) if tid not in self.threads]
        for tid in new:
            self.threads[tid] = ThreadState()
            self._touched(tid)
        self._listed(cursor if cursor is not None else self.listing_cursor, running=True)
        self.maybe_checkpoint()
        return new

    def listing_done(self) -> None:
        """The thread list's last page was read: the export knows every thread."""
        self._listed(self.listing_cursor, running=False)
        self.maybe_checkpoint()

    def _listed(self, cursor: str | None, running: bool) -> None:
        """Remember the listing's cursor and whether it is still running."""
        self.listing_cursor = cursor

    def state(self, thread_id: str) -> ThreadState:
        """The export state of a thread (a fresh one if it was never seen)."""
        found = self.threads.get(thread_id)
        if found is None:
            found = self.threads[thread_id] = ThreadState()
        return found

    def write_page(self, thread_id: str, messages: Sequence[Message]) -> None:
        """Write one page of a thread as whole lines, then remember its last message."""
        state = self.state(thread_id)
        if state.skip:
            messages = [m for m in messages if m.id not in state.skip]
        if not messages:
            return
        self._write(encode_page(messages))
        state.last_id = messages[-1].id
        state.count += len(messages)
        self._touched(thread_id)
        self.maybe_checkpoint()

    def finish(self, thread_id: str) -> None:
        """Mark a thread as completely exported."""
        self.state(thread_id).done = True
        self._touched(thread_id)
        self.maybe_checkpoint()

    def _touched(self, thread_id: str) -> None:
        """The state of ``thread_id`` changed (nothing to track by default)."""

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def maybe_checkpoint(self) -> None:
        """Commit progress if it is time to (nothing to commit by default)."""

    def checkpoint(self) -> None:
        """Commit progress now (nothing to commit by default)."""

    def close(self) -> None:
        """Release the output."""


class JsonlSink(Sink):
    """Writes pages as JSON lines to a binary stream, with no resume (e.g. stdout)."""

    def __init__(self, stream: IO[bytes], *, owned: bool = False) -> None:
        super().__init__()
        self._stream = stream
        self._owned = owned

    def _write(self, data: bytes) -> None:
        self._stream.write(data)
        self._stream.flush()

    def close(self) -> None:
        """Flush what was written (and close the stream if the sink opened it)."""
        if self._owned:
            self._stream.close()
        else:
            self._stream.flush()


class ResumableFile(Sink):
    """A JSON Lines file that an interrupted export can be resumed into.

    Open it with :meth:`open`, which checks read-only that an existing file is an export
    (and its state a state of it) before it cuts anything, verifies every thread the
    state claims against the lines, and writes the state at once. ``order`` is the walk
    order; resuming with another order is refused. ``notes`` says what resume found.
    """

    def __init__(self, path: str, fd: int, order: str, size: int) -> None:
        super().__init__()
        self.path = path
        self.state_path = path + STATE_SUFFIX
        self.order = order
        self.size = size
        self.fields: dict[str, Any] = {}
        """Further values kept in the state (latest wins), e.g. a listing cursor."""
        self.notes: list[str] = []
        self._fd = fd
        self._journal: Journal | None = None
        self._changed: dict[str, None] = {}
        """The threads changed since the last checkpoint, in the order first changed (a
        record keeps the order in which threads were found)."""
        self._changed_fields: set[str] = set()
        self._committed_size = -1
        self._committed_at = time.monotonic()

    @classmethod
    def open(cls, path: str, order: str) -> ResumableFile:
        """Open ``path`` for appending, cut back to its last committed line.

        :class:`ResumeError` (nothing changed) if the file is not an export, if its state
        is damaged or of another order; :class:`OSError` (naming the path) if a file
        cannot be read or written.
        """
        with naming(path):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            lock(fd, path, "another export")
            sink = cls(path, fd, order, 0)
            with naming(path):
                plan = _plan(fd, path, order)
            sink._start(plan)
        except BaseException:
            os.close(fd)
            raise
        return sink

    def _start(self, plan: _Plan) -> None:
        """Cut the file where the plan says and write the state at once."""
        self.threads, self.size, self.fields, self.notes = (
            plan.threads, plan.size, plan.fields, plan.notes
        )  # fmt: skip
        cursor = self.fields.get("listing_cursor")  # kept only with the threads before it
        self.listing_cursor = cursor if isinstance(cursor, str) and cursor else None
        with naming(self.path):
            if plan.actual > plan.size:
                os.ftruncate(self._fd, plan.size)
            os.fsync(self._fd)
        self._journal = Journal.create(
            self.state_path, {"format": STATE_FORMAT, "order": self.order}, [self._snapshot()]
        )
        self._committed_size = self.size

    def set_field(self, name: str, value: Any) -> None:
        """Keep ``name: value`` in the state from the next checkpoint on."""
        self.fields[name] = value
        self._changed_fields.add(name)

    def _snapshot(self) -> dict[str, Any]:
        return {
            **self.fields,
            "size": self.size,
            "threads": {tid: _entry(st) for tid, st in self.threads.items()},
        }

    # -- writing ---------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        journal = self._journal
        assert journal is not None
        if journal.poisoned is not None:
            raise journal.poisoned
        try:
            with naming(self.path):
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
        except OSError as exc:
            journal.poison(exc)  # what reached the file is unknown: never claim it
            raise
        self.size += len(data)

    def _touched(self, thread_id: str) -> None:
        self._changed[thread_id] = None

    def _listed(self, cursor: str | None, running: bool) -> None:
        super()._listed(cursor, running)
        self.set_field("listing_cursor", self.listing_cursor)
        self.set_field("listing", "running" if running else "done")

    def maybe_checkpoint(self) -> None:
        """Commit at most once every ``CHECKPOINT_INTERVAL`` seconds (from the end of the last)."""
        if time.monotonic() - self._committed_at >= CHECKPOINT_INTERVAL:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Sync the data, then append what changed to the state's journal and sync it.

        After any error writing or syncing the data or the state, nothing is ever
        committed again (the error is raised again).
        """
        journal = self._journal
        if journal is None:
            return
        if journal.poisoned is not None:
            raise journal.poisoned
        if self._changed or self._changed_fields or self.size != self._committed_size:
            record = {
                **{name: self.fields[name] for name in self._changed_fields},
                "size": self.size,
                "threads": {tid: _entry(self.threads[tid]) for tid in self._changed},
            }
            journal.commit_after(self._fd, self.path, record, lambda: [self._snapshot()])
            self._changed.clear()
            self._changed_fields.clear()
            self._committed_size = self.size
        self._committed_at = time.monotonic()

    @property
    def poisoned(self) -> bool:
        """Whether a write or sync failed (the state then stays at its last commit)."""
        return self._journal is not None and self._journal.poisoned is not None

    def close(self) -> None:
        """Commit (unless a write or sync failed) and close the file."""
        if self._fd < 0:
            return
        try:
            if not self.poisoned:
                self.checkpoint()
        finally:
            os.close(self._fd)
            self._fd = -1
            if self._journal is not None:
                self._journal.close()


def _entry(state: ThreadState) -> dict[str, Any]:
    entry: dict[str, Any] = {"last_id": state.last_id, "count": state.count, "done": state.done}
    if state.rewalk:
        entry["rewalk"] = True
    return entry


@attrs.frozen
class ExportState:
    """What an export's state file says: its order, size, threads and further fields."""

    order: str | None
    size: int | None
    threads: dict[str, ThreadState]
    fields: dict[str, Any]


def read_state(path: str) -> ExportState | None:
    """The state of the export at ``path`` (None if it has none); changes nothing.

    :class:`ResumeError` if the state file is damaged or not an export's.
    """
    state_path = path + STATE_SUFFIX
    try:
        loaded = load(state_path)
    except JournalDamagedError as exc:
        raise ResumeError(
            f"{exc}: the state of {path} is damaged; move it aside to resume from the "
            f"lines of {path} alone (nothing is written twice), or give another -o"
        ) from None
    if loaded is None:
        return None
    header = loaded.header
    records = loaded.records
    if loaded.legacy:
        records = [header]
    if header.get("format") not in (STATE_FORMAT, LEGACY_FORMAT):
        raise ResumeError(f"{state_path} is not the state of an export; give another -o")
    threads: dict[str, ThreadState] = {}
    fields: dict[str, Any] = {}
    size: int | None = None
    try:
        for record in records:
            for tid, entry in record.get("threads", {}).items():
                threads[str(tid)] = ThreadState(
                    last_id=entry.get("last_id"),
                    count=int(entry.get("count", 0)),
                    done=bool(entry.get("done", False)),
                    rewalk=bool(entry.get("rewalk", False)),
                )
            if "size" in record:
                size = int(record["size"])
            fields.update((k, v) for k, v in record.items() if k not in _STATE_KEYS)
    except (AttributeError, TypeError, ValueError):
        raise ResumeError(
            f"{state_path} is damaged (a record of an unexpected shape); move it aside to "
            f"resume from the lines of {path} alone"
        ) from None
    return ExportState(header.get("order"), size, threads, fields)


@attrs.frozen
class Unfinished:
    """An export that is not finished: why, whether it still runs, what is complete."""

    reason: str
    running: bool
    complete: frozenset[str] = frozenset()
    """The threads it has finished."""
    size: int = 0
    """The bytes of the file its state claims (whole lines)."""


def unfinished(path: str) -> Unfinished | None:
    """Why the export at ``path`` is not finished (None if it is, or has no state).

    An export still running holds its file's lock; a finished one has a state claiming
    the whole file with every thread complete. Changes nothing.
    """
    if sys.platform != "win32":
        with naming(path):
            fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return Unfinished(f"{path} is being written by an export that is still running", True)
        finally:
            os.close(fd)
    state = read_state(path)
    if state is None:
        return None
    complete = frozenset(tid for tid, st in state.threads.items() if st.done)
    listing = state.fields.get("listing") == "running"  # --all-threads: more may follow
    if len(complete) < len(state.threads) or state.size != os.path.getsize(path) or listing:
        listed = "; its --all-threads listing did not reach the end" if listing else ""
        reason = (
            f"{path} is an unfinished export ({len(complete)} of {len(state.threads)} threads "
            f"complete{listed}, per {path}{STATE_SUFFIX})"
        )
        return Unfinished(reason, False, complete, state.size or 0)
    return None


_STATE_KEYS: Final = frozenset({"size", "threads", "format", "order", "journal"})


@attrs.frozen
class _Plan:
    """What opening an existing file will do: cut it at ``size``, resume these threads."""

    actual: int
    size: int
    threads: dict[str, ThreadState]
    fields: dict[str, Any]
    notes: list[str]


def _plan(fd: int, path: str, order: str) -> _Plan:
    """Read the file and its state, change nothing, and say how to resume (or refuse)."""
    actual = os.fstat(fd).st_size
    state = read_state(path)
    if state is not None and state.order not in (None, order):
        raise ResumeError(
            f"{path} was exported with --order {state.order}; "
            f"resume it with the same order, or write to another file"
        )
    claimed = state.size if state is not None else None
    if (
        claimed is not None
        and 0 <= claimed <= actual
        and (claimed == 0 or os.pread(fd, 1, claimed - 1) == b"\n")
    ):
        size = claimed  # the state's: anything after it was never committed
    else:
        size = _last_line_end(fd, actual)
        _check_torn_tail(os.pread(fd, min(actual - size, 64), size), path, size)
    scanned = _scan(fd, size, path)
    notes: list[str] = []
    mismatched = 0
    threads: dict[str, ThreadState] = {}
    known = state.threads if state is not None else {}
    for tid in dict.fromkeys([*known, *scanned]):
        claim = known.get(tid)
        found = scanned.get(tid, (0, None))
        matches = claim is not None and (claim.count, claim.last_id) == found
        if claim is not None and matches and (claim.done or not claim.rewalk):
            threads[tid] = claim  # (a thread walked again resumes from its start again)
            continue
        threads[tid] = ThreadState(count=found[0], rewalk=True)
        if claim is not None and not claim.rewalk:
            mismatched += 1
            if mismatched <= _NOTES:
                notes.append(
                    f"thread {tid}: {path} holds {found[0]} of the {claim.count} lines its "
                    f"state records (lines lost or edited?); walking it again, writing only "
                    f"what is missing"
                )
    if mismatched > _NOTES:
        notes.append(f"... and {mismatched - _NOTES} more threads like these")
    if state is None and scanned:
        notes.append(
            f"{path}{STATE_SUFFIX} is missing: rebuilt from the lines of {path}; its "
            f"{len(scanned)} threads are walked again, writing only what is missing"
        )
    again = {tid for tid, st in threads.items() if st.rewalk and st.count}
    if again:
        for tid, ids in _ids(fd, size, again).items():
            threads[tid].skip = ids
    fields = state.fields if state is not None else {}
    return _Plan(actual, size, threads, fields, notes)


def _check_torn_tail(tail: bytes, path: str, size: int) -> None:
    """Refuse to cut a last partial line that is not the start of a JSON line (or zeros)."""
    if tail and not tail.startswith(b"{") and tail.strip(b"\x00"):
        raise ResumeError(
            f"{path} does not look like an export (it ends with text that is not a JSON "
            f"line, after byte {size}); nothing was changed: give another -o"
        )


def _last_line_end(fd: int, size: int) -> int:
    """The offset just past the last newline before ``size`` (0 if there is none)."""
    end = size
    while end > 0:
        start = max(0, end - _BLOCK)
        block = os.pread(fd, end - start, start)
        found = block.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def _lines(fd: int, size: int) -> Iterator[bytes]:
    """The lines of the first ``size`` bytes of the file (which end with a newline)."""
    offset = 0
    rest = b""
    while offset < size:
        block = os.pread(fd, min(_BLOCK * 16, size - offset), offset)
        if not block:
            break
        offset += len(block)
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        yield from lines


def _ids_of(line: bytes, number: int, path: str) -> tuple[str, str]:
    """The thread id and message id of an export line; :class:`ResumeError` if it is not."""
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise ResumeError(
            f"{path}:{number} is not JSON: {path} is not an export; nothing was changed, "
            f"give another -o"
        ) from None
    tid = item.get("thread_id") if isinstance(item, dict) else None
    mid = item.get("id") if isinstance(item, dict) else None
    if not isinstance(tid, str) or not isinstance(mid, str):
        raise ResumeError(
            f"{path}:{number} has no thread_id or id: {path} is not an export; nothing "
            f"was changed, give another -o"
        )
    return tid, mid


def _scan(fd: int, size: int, path: str) -> dict[str, tuple[int, str | None]]:
    """Each thread's line count and last message id in the file, every line checked."""
    threads: dict[str, tuple[int, str | None]] = {}
    for number, line in enumerate(_lines(fd, size), 1):
        tid, mid = _ids_of(line, number, path)
        threads[tid] = (threads.get(tid, (0, None))[0] + 1, mid)
    return threads


def _ids(fd: int, size: int, wanted: set[str]) -> dict[str, set[str]]:
    """The message ids in the file of each thread of ``wanted``."""
    found: dict[str, set[str]] = {tid: set() for tid in wanted}
    for number, line in enumerate(_lines(fd, size), 1):
        tid, mid = _ids_of(line, number, "")
        if tid in found:
            found[tid].add(mid)
    return found


# -- the export loop -------------------------------------------------------------------------


async def _bounded(jobs: list[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    """Run the jobs, ``concurrency`` at a time; on failure or cancellation, stop them all."""
    gate = asyncio.Semaphore(concurrency)

    async def gated(job: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await job()

    tasks = [asyncio.ensure_future(gated(job)) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def export_threads(
    client: Client,
    thread_ids: Sequence[str],
    sink: Sink,
    stats: ExportStats,
    *,
    order: Order = "asc",
    concurrency: int = 8,
    page_size: int = PAGE_SIZE,
    more: AsyncIterable[str] | None = None,
) -> list[ThreadFailure]:
    """Export every thread not yet complete in ``sink``; return the threads that failed.

    Threads with messages already written resume with ``after=<last id>``; the others
    are walked by ``client.stream_many`` page by page, followed by the threads of ``more``
    (ids found while the export runs: ``--all-threads``). A failing thread does not stop the
    others and is never marked done; a refused key (401/403) or a token that cannot be
    had (:data:`RUN_ENDING`) ends the export at once, raised from here.
    """
    todo = [tid for tid in thread_ids if not sink.state(tid).done]
    stats.threads_total = len(thread_ids)
    stats.threads_skipped = len(thread_ids) - len(todo)
    failures: list[ThreadFailure] = []
    failed: set[str] = set()

    def page(thread_id: str, messages: Sequence[Message]) -> bool:
        """Write one page; False if the thread has failed (its walk should stop)."""
        if thread_id in failed:
            return False
        try:
            sink.write_page(thread_id, messages)
        except UnwritableMessageError as exc:
            ended(thread_id, exc)
            return False
        stats.pages += 1
        stats.messages += len(messages)
        return True

    def ended(thread_id: str, error: BaseException | None) -> None:
        if thread_id in failed:
            return  # its error is recorded already; never marked done
        if error is None:
            sink.finish(thread_id)
            stats.threads_done += 1
        else:
            failed.add(thread_id)
            failures.append(ThreadFailure(thread_id, error))
            stats.threads_failed += 1

    def resume_job(thread_id: str) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            pager = client.list(
                thread_id,
                order=order,
                after=sink.state(thread_id).last_id,
                page_size=page_size,
                prefetch=0,
            )
            try:
                async for one in pager.pages():
                    if not page(thread_id, one.data):
                        return
            except RUN_ENDING:
                raise  # a refused key: no other thread can succeed either
            except OpenAIMessagesError as exc:
                ended(thread_id, exc)
            else:
                ended(thread_id, None)

        return job

    partial = [tid for tid in todo if sink.state(tid).last_id is not None]
    await _bounded([resume_job(tid) for tid in partial], concurrency)
    fresh = [tid for tid in todo if sink.state(tid).last_id is None]
    if fresh or more is not None:
        ids = fresh if more is None else _then(fresh, more)
        stream = client.stream_many(ids, concurrency=concurrency, order=order, page_size=page_size)
        async with stream:
            async for chunk in stream:
                if chunk.messages:
                    page(chunk.thread_id, chunk.messages)
                if chunk.done:
                    ended(chunk.thread_id, chunk.error)
    return failures


async def _then(first: Sequence[str], more: AsyncIterable[str]) -> AsyncIterator[str]:
    for thread_id in first:
        yield thread_id
    async for thread_id in more:
        yield thread_id
