"""Walking many threads at once: a bounded pool of walkers over one walk function.

The walkers know no client: they call ``walk(thread_id)``, which yields that thread's
pages (the client passes a function that starts a :class:`~.pagination.Pager`), as
:class:`~.pagination.Pager` calls its fetch function. An error that no other thread can
escape (:data:`RUN_ENDING`: a refused key, no token to be had, a closed client) ends the
whole run at once.

:class:`ThreadStream` yields each thread's messages a page at a time
(:class:`ThreadChunk`); :class:`ThreadResults` gathers them into one
:class:`ThreadResult` per thread. Thread ids are taken lazily from any iterable or
async iterable, so a million ids need no list in memory. Stopping early (break,
an exception, cancellation, or :meth:`aclose`) cancels every walker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Final, Protocol

import attrs

from .._codec.models import Message
from ..errors import (
    AuthenticationError,
    ClientClosedError,
    CredentialError,
    InvalidArgumentError,
    OpenAIMessagesError,
    PermissionDeniedError,
)
from .feed import Feed, FeedRegistry

__all__ = [
    "RUN_ENDING",
    "FetchProgress",
    "RunTotals",
    "ThreadChunk",
    "ThreadResult",
    "ThreadResults",
    "ThreadStream",
    "WalkThread",
]

RUN_ENDING: Final = (AuthenticationError, PermissionDeniedError, CredentialError, ClientClosedError)
"""Errors that end a whole bulk run: no other thread can succeed after them (a refused
key or token, a credential that cannot give a token, a closed client)."""


class MessagePageLike(Protocol):
    @property
    def data(self) -> Sequence[Message]: ...


WalkThread = Callable[[str], AsyncIterator[MessagePageLike]]
"""``walk(thread_id)`` yields the pages of one thread."""


@attrs.define
class RunTotals:
    """The running totals of any walk of many threads (a bulk fetch, an export)."""

    threads_done: int = 0
    threads_failed: int = 0
    messages: int = 0
    pages: int = 0
    started: float = attrs.field(factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    @property
    def messages_per_second(self) -> float:
        """Messages per second so far."""
        elapsed = self.elapsed
        return self.messages / elapsed if elapsed > 0 else 0.0


@attrs.define
class FetchProgress(RunTotals):
    """Running totals of a bulk fetch, handed to ``on_progress`` after every page."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0


@attrs.frozen
class ThreadChunk:
    """Some messages of one thread; the thread's last chunk has ``done=True``."""

    thread_id: str
    index: int
    """Position of the thread in the input."""
    messages: tuple[Message, ...]
    done: bool = False
    error: OpenAIMessagesError | None = None
    """On the last chunk: the error that ended the thread after retries, if any."""


@attrs.frozen
class ThreadResult:
    """All the messages of one thread, or the error that ended its walk."""

    thread_id: str
    index: int
    messages: list[Message]
    error: OpenAIMessagesError | None = None
    """The error that ended the thread's walk (after retries), if any."""

    @property
    def ok(self) -> bool:
        return self.error is None


_NO_MORE: Final = object()


class _Ids:
    """Thread ids drawn one at a time, with their input positions."""

    def __init__(self, ids: Iterable[str] | AsyncIterable[str]) -> None:
        self._sync = iter(ids) if isinstance(ids, Iterable) else None
        self._async = aiter(ids) if self._sync is None else None  # type: ignore[arg-type]
        self._lock = asyncio.Lock()
        self._index = 0

    async def next(self) -> tuple[int, str] | None:
        """The next id and its position; None at the end; raises on an id that is no str."""
        if self._sync is not None:
            value: object = next(self._sync, _NO_MORE)
        else:
            assert self._async is not None
            async with self._lock:
                value = await anext(self._async, _NO_MORE)
        if value is _NO_MORE:
            return None
        index, self._index = self._index, self._index + 1
        if not isinstance(value, str):
            raise InvalidArgumentError(
                f"thread id #{index} (counting from 0) is {value!r}, not a str"
            )
        return index, value


def _check_concurrency(concurrency: int) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidArgumentError(f"concurrency must be an int >= 1, got {concurrency!r}")
    return concurrency


class _Walkers:
    """The walkers' shared state. The walker tasks hold this, never the reader's objects,
    so a reader that is dropped can be finalized, which cancels the walkers."""

    def __init__(
        self,
        walk_thread: WalkThread,
        ids: _Ids,
        *,
        on_progress: Callable[[FetchProgress], None] | None,
        stats: Callable[[], Mapping[str, int]] | None,
    ) -> None:
        self.walk_thread = walk_thread
        self.ids = ids
        self.on_progress = on_progress
        self.stats = stats
        self.progress = FetchProgress()

    async def walk(self, feed: Feed[ThreadChunk]) -> None:
        """One walker: draw a thread id, walk it page by page, repeat."""
        while True:
            drawn = await self.ids.next()
            if drawn is None:
                return
            index, thread_id = drawn
            error: OpenAIMessagesError | None = None
            try:
                async for page in self.walk_thread(thread_id):
                    await feed.reserve()
                    feed.put(ThreadChunk(thread_id, index, tuple(page.data)))
                    self.progress.pages += 1
                    self.progress.messages += len(page.data)
                    self.report()
            except RUN_ENDING:
                raise  # the reader gets it; every other walker is cancelled
            except OpenAIMessagesError as exc:
                error = exc
                self.progress.threads_failed += 1
            self.progress.threads_done += 1
            await feed.reserve()
            feed.put(ThreadChunk(thread_id, index, (), done=True, error=error))
            self.report()

    def report(self) -> None:
        if self.stats is not None:
            stats = self.stats()
            self.progress.requests = stats.get("requests", 0)
            self.progress.retries = stats.get("retries", 0)
            self.progress.throttled = stats.get("throttled", 0)
        if self.on_progress is not None:
            self.on_progress(self.progress)


class ThreadStream:
    """Chunks of many threads' messages as they arrive (see :meth:`Client.stream_many`).

    ``walk(thread_id)`` yields one thread's pages; ``stats()`` gives the request counters
    copied into :attr:`progress`; ``registry`` is where the feed is registered, so that
    closing the client ends the reader with :class:`ClientClosedError`.
    """

    def __init__(
        self,
        walk: WalkThread,
        thread_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 8,
        on_progress: Callable[[FetchProgress], None] | None = None,
        stats: Callable[[], Mapping[str, int]] | None = None,
        registry: FeedRegistry | None = None,
    ) -> None:
        self._concurrency = _check_concurrency(concurrency)
        self._walkers = _Walkers(walk, _Ids(thread_ids), on_progress=on_progress, stats=stats)
        self._registry = registry
        self._feed: Feed[ThreadChunk] | None = None

    @property
    def progress(self) -> FetchProgress:
        """Running totals: threads done and failed, messages, pages, requests, retries."""
        return self._walkers.progress

    def __aiter__(self) -> ThreadStream:
        return self

    async def __anext__(self) -> ThreadChunk:
        if self._feed is None:
            walkers = [self._walkers.walk] * self._concurrency
            self._feed = Feed(walkers, window=2 * self._concurrency, registry=self._registry)
        return await self._feed.__anext__()

    async def aclose(self) -> None:
        """Cancel every walker and wait for them to stop."""
        if self._feed is not None:
            await self._feed.aclose()

    def __del__(self) -> None:
        feed = getattr(self, "_feed", None)
        if feed is not None:
            feed.cancel_soon()

    async def __aenter__(self) -> ThreadStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class ThreadResults:
    """One :class:`ThreadResult` per thread (see :meth:`Client.fetch_many`)."""

    def __init__(self, stream: ThreadStream, *, ordered: bool, raise_on_error: bool) -> None:
        self._stream = stream
        self._ordered = ordered
        self._raise_on_error = raise_on_error
        self._partial: dict[int, list[Message]] = {}
        self._finished: dict[int, ThreadResult] = {}
        self._next_index = 0
        self._iterator: AsyncIterator[ThreadResult] | None = None

    @property
    def progress(self) -> FetchProgress:
        return self._stream.progress

    @property
    def stream(self) -> ThreadStream:
        """The chunks these results are gathered from (read one or the other, not both)."""
        return self._stream

    def __aiter__(self) -> ThreadResults:
        return self

    async def __anext__(self) -> ThreadResult:
        if self._ordered and self._next_index in self._finished:
            self._next_index += 1
            return self._finished.pop(self._next_index - 1)
        while True:
            try:
                chunk = await self._stream.__anext__()
            except BaseException:
                await self._stream.aclose()
                raise
            if not chunk.done:
                self._partial.setdefault(chunk.index, []).extend(chunk.messages)
                continue
            result = ThreadResult(
                chunk.thread_id, chunk.index, self._partial.pop(chunk.index, []), chunk.error
            )
            if self._raise_on_error and result.error is not None:
                await self._stream.aclose()
                raise result.error
            if not self._ordered:
                return result
            self._finished[result.index] = result
            if self._next_index in self._finished:
                self._next_index += 1
                return self._finished.pop(self._next_index - 1)

    async def aclose(self) -> None:
        """Cancel every walker and wait for them to stop."""
        await self._stream.aclose()

    async def __aenter__(self) -> ThreadResults:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
