"""Resumable JSON Lines export of threads: the sinks that write pages, and the export loop.

A page is written as whole lines (one message each, exactly the JSON the server sent) in
a single write. :class:`ResumableFile` keeps a sidecar ``FILE.state.json``, replaced
atomically at checkpoints, that records how many bytes of ``FILE`` are committed and, per
thread, the id of the last message written and whether the thread is complete. The data
is synced before the state that claims it, so after any interruption (Ctrl-C, a crash, a
kill) the file is cut back to the committed size, which always ends on a line boundary,
and each unfinished thread resumes its walk with ``after=<last id>``: nothing is written
twice, nothing is lost, and no partial line survives. Without a state file, an existing
file is recovered by reading each line's ``thread_id`` and ``id``.

``export --all-threads`` feeds the same loop from the service's thread list
(:mod:`~openai_messages.cli.thread_listing`): the sink records the threads a listing page
names together with the listing's cursor (``listing_cursor``, one more field of the state),
so a resumed listing goes on after the last thread the state knows.
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

from .. import converter
from ..bulk import RUN_ENDING as WALK_ENDING
from ..bulk import RunTotals
from ..client import Client
from ..errors import CredentialError, OpenAIMessagesError
from ..models import Message
from ..types import Order

if sys.platform != "win32":  # pragma: no branch
    import fcntl

RUN_ENDING: Final = (*WALK_ENDING, CredentialError)
"""What ends an export or import at once: a refused key or token (401/403), a closed
client, or no token to be had (a failing --token-command would fail every thread)."""

__all__ = [
    "STATE_SUFFIX",
    "ExportStats",
    "JsonlSink",
    "ResumableFile",
    "ResumeError",
    "Sink",
    "ThreadFailure",
    "ThreadState",
    "UnwritableMessageError",
    "encode_page",
    "export_threads",
]

STATE_SUFFIX: Final = ".state.json"
STATE_FORMAT: Final = "openai-messages-export/1"
CHECKPOINT_INTERVAL: Final = 1.0
_BLOCK: Final = 1 << 16


class ResumeError(Exception):
    """An existing output file cannot be resumed safely (bad input: exit code 2)."""


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
        if cursor is not None:
            self.listing_cursor = cursor
        self.maybe_checkpoint()
        return new

    def state(self, thread_id: str) -> ThreadState:
        """The export state of a thread (a fresh one if it was never seen)."""
        found = self.threads.get(thread_id)
        if found is None:
            found = self.threads[thread_id] = ThreadState()
        return found

    def write_page(self, thread_id: str, messages: Sequence[Message]) -> None:
        """Write one page of a thread as whole lines, then remember its last message."""
        if not messages:
            return
        self._write(encode_page(messages))
        state = self.state(thread_id)
        state.last_id = messages[-1].id
        state.count += len(messages)
        self.maybe_checkpoint()

    def finish(self, thread_id: str) -> None:
        """Mark a thread as completely exported."""
        self.state(thread_id).done = True
        self.maybe_checkpoint()

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

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream

    def _write(self, data: bytes) -> None:
        self._stream.write(data)
        self._stream.flush()

    def close(self) -> None:
        """Flush what was written."""
        self._stream.flush()


class ResumableFile(Sink):
    """A JSON Lines file that an interrupted export can be resumed into.

    Open it with :meth:`open`, which recovers the committed part of an existing file.
    ``order`` is the walk order; resuming with another order is refused.
    """

    def __init__(self, path: str, fd: int, order: str, size: int) -> None:
        super().__init__()
        self.path = path
        self.state_path = path + STATE_SUFFIX
        self.order = order
        self.size = size
        self._fd = fd
        self._committed_at = time.monotonic()
        self._dirty = False

    @classmethod
    def open(cls, path: str, order: str) -> ResumableFile:
        """Open ``path`` for appending, cut back to its last committed line."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            _lock(fd, path)
            sink = cls(path, fd, order, 0)
            sink._recover(os.fstat(fd).st_size)
        except BaseException:
            os.close(fd)
            raise
        return sink

    # -- recovery --------------------------------------------------------------------------

    def _recover(self, actual: int) -> None:
        state = _read_json(self.state_path) if actual > 0 else None
        if state is not None and state.get("order") not in (None, self.order):
            raise ResumeError(
                f"{self.path} was exported with --order {state['order']}; "
                f"resume it with the same order, or write to another file"
            )
        if state is not None and self._restore(state, actual):
            os.ftruncate(self._fd, self.size)
            return
        self.threads.clear()
        self.size = _last_line_end(self._fd, actual)
        os.ftruncate(self._fd, self.size)
        self.threads = _scan(self._fd, self.size, self.path)

    def _restore(self, state: dict[str, Any], actual: int) -> bool:
        """Load a state file if it matches the data file; False to fall back to a scan."""
        size = state.get("size")
        threads = state.get("threads")
        if state.get("format") != STATE_FORMAT or not isinstance(threads, dict):
            return False
        if not isinstance(size, int) or not 0 <= size <= actual:
            return False
        if size > 0 and os.pread(self._fd, 1, size - 1) != b"\n":
            return False
        try:
            self.threads = {
                str(tid): ThreadState(
                    last_id=entry.get("last_id"),
                    count=int(entry.get("count", 0)),
                    done=bool(entry.get("done", False)),
                )
                for tid, entry in threads.items()
            }
        except (AttributeError, TypeError, ValueError):
            return False
        self.size = size
        cursor = state.get("listing_cursor")  # only with the threads it comes after
        self.listing_cursor = cursor if isinstance(cursor, str) and cursor else None
        return True

    # -- writing ---------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(data)
        self._dirty = True

    def finish(self, thread_id: str) -> None:
        self._dirty = True
        super().finish(thread_id)

    def discover(self, thread_ids: Sequence[str], cursor: str | None) -> list[str]:
        self._dirty = True
        return super().discover(thread_ids, cursor)

    def maybe_checkpoint(self) -> None:
        """Commit at most once every ``CHECKPOINT_INTERVAL`` seconds."""
        if time.monotonic() - self._committed_at >= CHECKPOINT_INTERVAL:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Sync the data, then atomically replace the state file that claims it."""
        self._committed_at = time.monotonic()
        if not self._dirty and os.path.exists(self.state_path):
            return
        os.fsync(self._fd)
        state = {
            "format": STATE_FORMAT,
            "order": self.order,
            "size": self.size,
            "threads": {tid: attrs.asdict(st) for tid, st in self.threads.items()},
            "listing_cursor": self.listing_cursor,
        }
        _replace_atomically(self.state_path, orjson.dumps(state, option=orjson.OPT_INDENT_2))
        self._dirty = False

    def close(self) -> None:
        """Commit and close the file."""
        if self._fd < 0:
            return
        try:
            self.checkpoint()
        finally:
            os.close(self._fd)
            self._fd = -1


def _lock(fd: int, path: str) -> None:
    """Refuse to share the file with another export running at the same time."""
    if sys.platform == "win32":  # pragma: no cover
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ResumeError(f"{path} is being written by another export") from None


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            value = orjson.loads(fh.read())
    except (OSError, orjson.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _replace_atomically(path: str, data: bytes) -> None:
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, path)
    if sys.platform != "win32":
        directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


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


def _scan(fd: int, size: int, path: str) -> dict[str, ThreadState]:
    """Rebuild the per-thread state from the lines themselves (no state file)."""
    threads: dict[str, ThreadState] = {}
    for number, line in enumerate(_lines(fd, size), 1):
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ResumeError(f"{path}:{number} is not JSON; cannot resume into it") from None
        tid = item.get("thread_id") if isinstance(item, dict) else None
        mid = item.get("id") if isinstance(item, dict) else None
        if not isinstance(tid, str) or not isinstance(mid, str):
            raise ResumeError(
                f"{path}:{number} has no thread_id or id and {path}{STATE_SUFFIX} is missing; "
                f"cannot resume into it"
            )
        state = threads.setdefault(tid, ThreadState())
        state.last_id = mid
        state.count += 1
    return threads


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
    page_size: int = 100,
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
                    if isinstance(chunk.error, CredentialError):
                        raise chunk.error
                    ended(chunk.thread_id, chunk.error)
    return failures


async def _then(first: Sequence[str], more: AsyncIterable[str]) -> AsyncIterator[str]:
    for thread_id in first:
        yield thread_id
    async for thread_id in more:
        yield thread_id
