"""The state of an import: an append-only journal, and its map, committed like the export's.

:class:`ImportJournal` records, per source thread, the target thread (and, before a target
thread is created, that its create is pending), how many of its messages are created
(and the last target and source ids), and a random nonce the idempotency keys are made
from. Its file is a :class:`~openai_messages.cli.journal.Journal`, written at open:
each checkpoint syncs the map, then appends the threads changed since the last one, at
most every ``CHECKPOINT_INTERVAL`` seconds and at once on request; after an error writing
or syncing, nothing is committed again. After any interruption the map is cut back to
what the state claims and never holds a partial line or a duplicate.

A lost state is rebuilt from what exists: the ``--map`` (each thread's target and the
messages it records) and the ``--thread-map`` targets; the importer then finds on the
target what was created after that by content (:attr:`ImportJournal.rebuilt`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Mapping
from typing import Any, Final

import attrs
import orjson

from .export import CHECKPOINT_INTERVAL, _last_line_end
from .import_source import Exported
from .journal import (
    Journal,
    JournalDamagedError,
    ResumeError,
    fsync_directory,
    load,
    lock,
    naming,
)

__all__ = [
    "CONVERSATIONS",
    "STATE_FORMAT",
    "THREADS",
    "Destination",
    "ImportJournal",
    "ImportThreadState",
]

STATE_FORMAT: Final = "openai-messages-import/2"
LEGACY_FORMAT: Final = "openai-messages-import/1"
_FIELDS: Final = ("target", "count", "last_id", "source_id", "done", "pending", "batch")


@attrs.frozen
class Destination:
    """What an import creates: its name (the state's ``to``) and its map's two keys."""

    name: str
    target_key: str
    """The map's key of the target (a thread, a conversation)."""
    created_key: str
    """The map's key of what was created for a message (a message, an item)."""


THREADS: Final = Destination("threads", "thread_id", "id")
CONVERSATIONS: Final = Destination("conversations", "conversation_id", "item_id")


@attrs.define
class ImportThreadState:
    """What is committed of one source thread's import."""

    target: str | None = None
    count: int = 0
    last_id: str | None = None
    source_id: str | None = None
    """The id of the last source message committed (checks the export did not change)."""
    done: bool = False
    pending: bool = False
    """A target thread's create was sent and its id not recorded (it may be an orphan)."""
    batch: dict[str, Any] | None = None
    """A batch of items sent and not yet settled (conversations): ``index``, ``start``
    (the count when it was sent), ``first`` (its first source id) and ``size``."""


class ImportJournal:
    """The state file (and the optional ``--map`` file) of one import, resumable.

    The state is committed at most every ``CHECKPOINT_INTERVAL`` seconds, and at once by
    :meth:`checkpoint`: the map is synced, then what changed is appended to the state's
    journal and synced. On open, the map is cut back to the committed size.
    """

    def __init__(
        self,
        state_path: str,
        map_path: str | None,
        target: str,
        destination: Destination = THREADS,
    ) -> None:
        self.state_path = state_path
        self.map_path = map_path
        self.target = target
        self.destination = destination
        self.nonce = secrets.token_hex(16)
        self.threads: dict[str, ImportThreadState] = {}
        self.resumed = False
        self.rebuilt = False
        """The state was lost and rebuilt from the map and the thread map."""
        self.orphans: list[str] = []
        """Source threads whose target thread's create an earlier run sent, unrecorded."""
        self._map_fd = -1
        self._map_size = 0
        self._lock_fd = -1
        self._journal: Journal | None = None
        self._changed: set[str] = set()
        self._committed_at = time.monotonic()

    @classmethod
    def open(
        cls,
        state_path: str,
        map_path: str | None,
        target: str,
        thread_map: Mapping[str, str] | None = None,
        destination: Destination = THREADS,
    ) -> ImportJournal:
        """Open (or start, or rebuild) the journal; :class:`ResumeError` if it cannot be
        resumed safely, :class:`OSError` naming the file that cannot be read or written."""
        journal = cls(state_path, map_path, target, destination)
        lock_path = state_path + ".lock"
        used_before = os.path.exists(lock_path)
        try:
            journal._open(dict(thread_map or {}), used_before)
        except BaseException:
            journal._release()
            if not used_before and not os.path.exists(state_path):
                with contextlib.suppress(OSError):
                    os.unlink(lock_path)  # no trace of a run that never had a state
            raise
        return journal

    def _open(self, thread_map: dict[str, str], used_before: bool) -> None:
        lock_path = self.state_path + ".lock"
        with naming(lock_path):
            self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        lock(self._lock_fd, self.state_path, "another import")
        try:
            loaded = load(self.state_path)
        except JournalDamagedError as exc:
            raise ResumeError(
                f"{exc}: the import state is damaged. Do not delete it (a new import would "
                f"copy everything again): move it aside and re-run with the same --map "
                f"(or --thread-map) to rebuild it"
            ) from None
        if self.map_path is not None:
            created = not os.path.exists(self.map_path)
            with naming(self.map_path):
                self._map_fd = os.open(self.map_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            if created:
                fsync_directory(self.map_path)
        if loaded is None:
            self._fresh(thread_map, used_before)
        else:
            self._restore(loaded.records if not loaded.legacy else [loaded.header],
                          loaded.header)  # fmt: skip
        self._journal = Journal.create(self.state_path, self._header(), [self._snapshot()])

    def _header(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "nonce": self.nonce,
            "target": self.target,
            "to": self.destination.name,
            "map": os.path.abspath(self.map_path) if self.map_path else None,
        }

    def _snapshot(self) -> dict[str, Any]:
        return {
            "map_size": self._map_size,
            "threads": {tid: attrs.asdict(st) for tid, st in self.threads.items()},
        }

    def _fresh(self, thread_map: dict[str, str], used_before: bool) -> None:
        """No state: a first run, or a lost state rebuilt from the map and thread map."""
        map_size = os.fstat(self._map_fd).st_size if self._map_fd >= 0 else 0
        if map_size == 0 and not thread_map and used_before:
            raise ResumeError(
                f"{self.state_path} is missing, but {self.state_path}.lock shows an import "
                f"kept its state there: re-run with that import's --map (or --thread-map) to "
                f"rebuild it, or delete {self.state_path}.lock to start a new copy"
            )
        if map_size == 0 and not thread_map:
            return
        self.rebuilt = True
        for source, target in thread_map.items():
            self.state(source).target = target
        if map_size:
            self._rebuild_from_map(map_size)

    def _rebuild_from_map(self, map_size: int) -> None:
        """Each thread's target, count and last ids from the map's whole lines."""
        assert self.map_path is not None
        size = _last_line_end(self._map_fd, map_size)
        for source, found in self._read_map(size).items():
            state = self.state(source)
            if state.target not in (None, found.target):
                raise ResumeError(
                    f"{self.map_path} puts {source} into {found.target}, not "
                    f"{state.target}; resume with the --thread-map the import had"
                )
            self.threads[source] = found
        with naming(self.map_path):
            os.ftruncate(self._map_fd, size)
        self._map_size = size

    def _read_map(self, size: int) -> dict[str, ImportThreadState]:
        """What the first ``size`` bytes of the map record, source thread by source thread."""
        threads: dict[str, ImportThreadState] = {}
        with naming(self.map_path or ""):
            data = os.pread(self._map_fd, size, 0)
        for number, raw in enumerate(data.split(b"\n")[:-1], 1):
            try:
                line = orjson.loads(raw)
                source = str(line["source_thread_id"])
                target = str(line[self.destination.target_key])
                created = str(line[self.destination.created_key])
                source_id = str(line["source_id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                raise ResumeError(
                    f"{self.map_path}:{number} is not a line of an import's map; "
                    f"give the --map the import wrote"
                ) from None
            state = threads.setdefault(source, ImportThreadState(target=target))
            if state.target != target:
                raise ResumeError(
                    f"{self.map_path}:{number} puts {source} into {target} and "
                    f"{state.target}; give the --map the import wrote"
                )
            state.last_id, state.source_id = created, source_id
            state.count += 1
        return threads

    def _check_map(self) -> None:
        """Refuse a map whose lines do not say what the state records (edited, lost)."""
        recorded = self._read_map(self._map_size)
        for source in dict.fromkeys([*self.threads, *recorded]):
            claim = self.threads.get(source, ImportThreadState())
            found = recorded.get(source, ImportThreadState())
            if (claim.count, claim.last_id) != (found.count, found.last_id) and (
                claim.count or found.count
            ):
                raise ResumeError(
                    f"{self.map_path} records {found.count} messages of source thread "
                    f"{source} where {self.state_path} records {claim.count} (was it "
                    f"edited?); resume with the map the import wrote, or move the state aside "
                    f"to rebuild it from this map"
                )

    def _restore(self, records: list[dict[str, Any]], header: dict[str, Any]) -> None:
        path = self.state_path
        if header.get("format") not in (STATE_FORMAT, LEGACY_FORMAT):
            raise ResumeError(f"{path} is not an import state file ({STATE_FORMAT})")
        if header.get("target") != self.target:
            raise ResumeError(
                f"{path} is an import into {header.get('target')}, not {self.target}; "
                f"give another --state to import there"
            )
        if header.get("to", THREADS.name) != self.destination.name:
            raise ResumeError(
                f"{path} is an import into {header.get('to', THREADS.name)}, not "
                f"{self.destination.name}; give another --state"
            )
        if header.get("map") != (os.path.abspath(self.map_path) if self.map_path else None):
            raise ResumeError(f"{path} was written with --map {header.get('map')}; resume with it")
        size = 0
        try:
            self.nonce = str(header["nonce"])
            for record in records:
                size = int(record.get("map_size", size))
                for tid, entry in record["threads"].items():
                    self.threads[str(tid)] = ImportThreadState(
                        **{k: entry[k] for k in _FIELDS if k in entry}
                    )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ResumeError(
                f"{path} is damaged (a record of an unexpected shape). Do not delete it: "
                f"move it aside and re-run with the same --map to rebuild it"
            ) from None
        if self._map_fd >= 0 and self.map_path is not None:
            actual = os.fstat(self._map_fd).st_size
            if not 0 <= size <= actual:
                raise ResumeError(f"{self.map_path} is shorter than {path} says; cannot resume")
            if _last_line_end(self._map_fd, size) != size:
                raise ResumeError(f"{self.map_path} does not end on a line at {size} bytes")
            with naming(self.map_path):
                os.ftruncate(self._map_fd, size)
            self._map_size = size
            self._check_map()
        self.orphans = [t for t, st in self.threads.items() if st.pending and st.target is None]
        self.resumed = True

    def state(self, source_thread: str) -> ImportThreadState:
        """The state of a source thread (a fresh one if it was never started)."""
        found = self.threads.get(source_thread)
        if found is None:
            found = self.threads[source_thread] = ImportThreadState()
        return found

    def create_pending(self, source_thread: str) -> None:
        """Record, at once, that a target thread is about to be created for it."""
        self.state(source_thread).pending = True
        self._changed.add(source_thread)
        self.checkpoint()

    def set_target(self, source_thread: str, target: str) -> None:
        """Record the target thread of a source thread and commit it at once."""
        state = self.state(source_thread)
        state.target, state.pending = target, False
        self._changed.add(source_thread)
        self.checkpoint()

    def batch_pending(self, source_thread: str, index: int, first: str, size: int) -> None:
        """Record, at once, that a batch of ``size`` items is about to be sent (with all
        that is recorded before it): ``first`` is its first source message's id."""
        state = self.state(source_thread)
        state.batch = {"index": index, "start": state.count, "first": first, "size": size}
        self._changed.add(source_thread)
        self.checkpoint()

    def batch_settled(self, source_thread: str) -> None:
        """The pending batch is settled: what it stored is recorded (committed later)."""
        state = self.state(source_thread)
        if state.batch is not None:
            state.batch = {**state.batch, "settled": True}
        self._changed.add(source_thread)

    def record(self, source: Exported, target_thread: str, created_id: str) -> None:
        """Record one created message (map line, count, last id); commit if it is time."""
        if self._map_fd >= 0:
            assert self.map_path is not None
            line = orjson.dumps(
                {
                    "source_thread_id": source.thread_id,
                    "source_id": source.id,
                    self.destination.target_key: target_thread,
                    self.destination.created_key: created_id,
                }
            )
            self._check()
            try:
                with naming(self.map_path):
                    view = memoryview(line + b"\n")
                    while view:
                        view = view[os.write(self._map_fd, view) :]
            except OSError as exc:
                self._poison(exc)
                raise
            self._map_size += len(line) + 1
        state = self.state(source.thread_id)
        state.count += 1
        state.last_id = created_id
        state.source_id = source.id
        self._changed.add(source.thread_id)
        self.maybe_checkpoint()

    def finish(self, source_thread: str) -> None:
        """Mark a source thread as completely imported."""
        self.state(source_thread).done = True
        self._changed.add(source_thread)
        self.maybe_checkpoint()

    def reopen(self, source_thread: str) -> None:
        """A thread done with fewer messages than the export now has: import the rest."""
        self.state(source_thread).done = False
        self._changed.add(source_thread)

    def _check(self) -> None:
        if self._journal is not None and self._journal.poisoned is not None:
            raise self._journal.poisoned

    def _poison(self, error: OSError) -> None:
        if self._journal is not None:
            self._journal.poison(error)

    @property
    def poisoned(self) -> bool:
        """Whether a write or sync failed (the state then stays at its last commit)."""
        return self._journal is not None and self._journal.poisoned is not None

    def maybe_checkpoint(self) -> None:
        """Commit at most once every ``CHECKPOINT_INTERVAL`` seconds (from the end of the last)."""
        if time.monotonic() - self._committed_at >= CHECKPOINT_INTERVAL:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Sync the map, then append what changed to the state's journal and sync it."""
        journal = self._journal
        if journal is None:
            return
        self._check()
        if self._changed:
            record = {
                "map_size": self._map_size,
                "threads": {t: attrs.asdict(self.threads[t]) for t in self._changed},
            }
            map_path = self.map_path or ""  # (no map: no fd to sync)
            journal.commit_after(self._map_fd, map_path, record, lambda: [self._snapshot()])
            self._changed.clear()
        self._committed_at = time.monotonic()

    def close(self) -> None:
        """Commit (unless a write or sync failed) and release the files."""
        try:
            if self._journal is not None and not self.poisoned:
                self.checkpoint()
        finally:
            self._release()

    def _release(self) -> None:
        for fd in (self._map_fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._map_fd = self._lock_fd = -1
        if self._journal is not None:
            self._journal.close()
