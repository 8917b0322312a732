"""The journal of an import: its state file and its map, committed like the export's.

:class:`ImportJournal` records, per source thread, the target thread, how many of its
messages are created (and the last target and source ids), and a random nonce the
idempotency keys are made from. It is committed at most every ``CHECKPOINT_INTERVAL``
seconds and at once on request: the map is synced, then the state that claims its size
replaces the old one atomically (the export's helpers), so after any interruption the
map is cut back to what the state claims and never holds a partial line or a duplicate.
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any, Final

import attrs
import orjson

from .export import (
    CHECKPOINT_INTERVAL,
    ResumeError,
    _last_line_end,
    _lock,
    _read_json,
    _replace_atomically,
)
from .import_source import SourceMessage

__all__ = ["STATE_FORMAT", "ImportJournal", "ImportThreadState"]

STATE_FORMAT: Final = "openai-messages-import/1"


@attrs.define
class ImportThreadState:
    """What is committed of one source thread's import."""

    target: str | None = None
    count: int = 0
    last_id: str | None = None
    source_id: str | None = None
    """The id of the last source message committed (checks the export did not change)."""
    done: bool = False


class ImportJournal:
    """The state file (and the optional ``--map`` file) of one import, resumable.

    The state is committed at most every ``CHECKPOINT_INTERVAL`` seconds, and at once by
    :meth:`checkpoint`: the map is synced, then the state that claims its size replaces
    the old one atomically. On open, the map is cut back to the committed size.
    """

    def __init__(self, state_path: str, map_path: str | None, target: str) -> None:
        self.state_path = state_path
        self.map_path = map_path
        self.target = target
        self.nonce = secrets.token_hex(16)
        self.threads: dict[str, ImportThreadState] = {}
        self.resumed = False
        self._map_fd = -1
        self._map_size = 0
        self._lock_fd = -1
        self._dirty = True
        self._committed_at = time.monotonic()

    @classmethod
    def open(cls, state_path: str, map_path: str | None, target: str) -> ImportJournal:
        """Open (or start) the journal; :class:`ResumeError` if it cannot be resumed safely."""
        journal = cls(state_path, map_path, target)
        try:
            journal._open()
        except BaseException:
            journal._release()
            raise
        return journal

    def _open(self) -> None:
        lock_path = self.state_path + ".lock"
        self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(self._lock_fd, lock_path)
        except ResumeError:
            raise ResumeError(f"{self.state_path} is in use by another import") from None
        state = _read_json(self.state_path)
        if state is None and os.path.exists(self.state_path):
            raise ResumeError(f"{self.state_path} is not an import state file")
        if self.map_path is not None:
            self._map_fd = os.open(self.map_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if state is None:
            if self._map_fd >= 0 and os.fstat(self._map_fd).st_size > 0:
                raise ResumeError(
                    f"{self.map_path} is not empty and {self.state_path} is missing; "
                    f"give another --map (or the --state of the import that wrote it)"
                )
            self.checkpoint()  # the nonce is durable before any key made from it is sent
            return
        self._restore(state)

    def _restore(self, state: dict[str, Any]) -> None:
        path = self.state_path
        if state.get("format") != STATE_FORMAT or not isinstance(state.get("threads"), dict):
            raise ResumeError(f"{path} is not an import state file ({STATE_FORMAT})")
        if state.get("target") != self.target:
            raise ResumeError(
                f"{path} is an import into {state.get('target')}, not {self.target}; "
                f"give another --state to import there"
            )
        if state.get("map") != (os.path.abspath(self.map_path) if self.map_path else None):
            raise ResumeError(f"{path} was written with --map {state.get('map')}; resume with it")
        size = state.get("map_size", 0)
        if self._map_fd >= 0:
            actual = os.fstat(self._map_fd).st_size
            if not isinstance(size, int) or not 0 <= size <= actual:
                raise ResumeError(f"{self.map_path} is shorter than {path} says; cannot resume")
            if _last_line_end(self._map_fd, size) != size:
                raise ResumeError(f"{self.map_path} does not end on a line at {size} bytes")
            os.ftruncate(self._map_fd, size)
            self._map_size = size
        try:
            self.nonce = str(state["nonce"])
            self.threads = {
                str(tid): ImportThreadState(
                    target=entry.get("target"),
                    count=int(entry.get("count", 0)),
                    last_id=entry.get("last_id"),
                    source_id=entry.get("source_id"),
                    done=bool(entry.get("done", False)),
                )
                for tid, entry in state["threads"].items()
            }
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ResumeError(f"{path} is damaged; cannot resume") from None
        self.resumed = True
        self._dirty = False

    def state(self, source_thread: str) -> ImportThreadState:
        """The state of a source thread (a fresh one if it was never started)."""
        found = self.threads.get(source_thread)
        if found is None:
            found = self.threads[source_thread] = ImportThreadState()
        return found

    def set_target(self, source_thread: str, target: str) -> None:
        """Record the target thread of a source thread and commit it at once."""
        self.state(source_thread).target = target
        self._dirty = True
        self.checkpoint()

    def record(self, source: SourceMessage, target_thread: str, created_id: str) -> None:
        """Record one created message (map line, count, last id); commit if it is time."""
        if self._map_fd >= 0:
            line = orjson.dumps(
                {
                    "source_thread_id": source.thread_id,
                    "source_id": source.id,
                    "thread_id": target_thread,
                    "id": created_id,
                }
            )
            view = memoryview(line + b"\n")
            while view:
                view = view[os.write(self._map_fd, view) :]
            self._map_size += len(line) + 1
        state = self.state(source.thread_id)
        state.count += 1
        state.last_id = created_id
        state.source_id = source.id
        self._dirty = True
        self.maybe_checkpoint()

    def finish(self, source_thread: str) -> None:
        """Mark a source thread as completely imported."""
        self.state(source_thread).done = True
        self._dirty = True
        self.maybe_checkpoint()

    def maybe_checkpoint(self) -> None:
        """Commit at most once every ``CHECKPOINT_INTERVAL`` seconds."""
        if time.monotonic() - self._committed_at >= CHECKPOINT_INTERVAL:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Sync the map, then atomically replace the state that claims it."""
        self._committed_at = time.monotonic()
        if not self._dirty:
            return
        if self._map_fd >= 0:
            os.fsync(self._map_fd)
        state = {
            "format": STATE_FORMAT,
            "nonce": self.nonce,
            "target": self.target,
            "map": os.path.abspath(self.map_path) if self.map_path else None,
            "map_size": self._map_size,
            "threads": {tid: attrs.asdict(st) for tid, st in self.threads.items()},
        }
        _replace_atomically(self.state_path, orjson.dumps(state, option=orjson.OPT_INDENT_2))
        self._dirty = False

    def close(self) -> None:
        """Commit and release the files."""
        try:
            if self._lock_fd >= 0:
                self.checkpoint()
        finally:
            self._release()

    def _release(self) -> None:
        for fd in (self._map_fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._map_fd = self._lock_fd = -1
