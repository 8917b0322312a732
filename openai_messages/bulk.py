"""Walking many threads at once: a bounded pool of walkers over one client.

:class:`ThreadStream` yields each thread's messages a page at a time
(:class:`ThreadChunk`); :class:`ThreadResults` gathers them into one
:class:`ThreadResult` per thread. Thread ids are taken lazily from any iterable or
async iterable, so a million ids need no list in memory. Stopping early (break,
an exception, cancellation, or :meth:`aclose`) cancels every walker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING

import attrs

from .background import Feed
from .errors import InvalidArgumentError, OpenAIMessagesError
from .models import Message

if TYPE_CHECKING:
    from .client import Client

__all__ = ["FetchProgress", "ThreadChunk", "ThreadResult", "ThreadResults", "ThreadStream"]


@attrs.define
class FetchProgress:
    """Running totals of a bulk fetch, handed to ``on_progress`` after every page."""

    threads_done: int = 0
    threads_failed: int = 0
    messages: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    started: float = attrs.field(factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def messages_per_second(self) -> float:
        elapsed = self.elapsed
        return self.messages / elapsed if elapsed > 0 else 0.0


@attrs.frozen
class ThreadChunk:
    """Some messages of one thread; the thread's last chunk has ``done=True``."""

    thread_id: str
    index: int
    """Position of the thread in the input."""
    messages: tuple[Message, ...]
    done: bool = False
    error: BaseException | None = None
    """On the last chunk: the error that ended the thread after retries, if any."""


@attrs.frozen
class ThreadResult:
    """All the messages of one thread, or the error that ended its walk."""

    thread_id: str
    index: int
    messages: list[Message]
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Ids:
    """Thread ids drawn one at a time, with their input positions."""

    def __init__(self, ids: Iterable[str] | AsyncIterable[str]) -> None:
        self._sync = iter(ids) if isinstance(ids, Iterable) else None
        self._async = aiter(ids) if self._sync is None else None  # type: ignore[arg-type]
        self._lock = asyncio.Lock()
        self._index = 0

    async def next(self) -> tuple[int, str] | None:
        if self._sync is not None:
            value = next(self._sync, None)
        else:
            assert self._async is not None
            async with self._lock:
                try:
                    value = await anext(self._async)
                except StopAsyncIteration:
                    value = None
        if value is None:
            return None
        index, self._index = self._index, self._index + 1
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
        client: Client,
        ids: _Ids,
        *,
        order: str,
        max_items: int | None,
        page_size: int,
        prefetch: int,
        on_progress: Callable[[FetchProgress], None] | None,
    ) -> None:
        self.client = client
        self.ids = ids
        self.order = order
        self.max_items = max_items
        self.page_size = page_size
        self.prefetch = prefetch
        self.on_progress = on_progress
        self.progress = FetchProgress()

    async def walk(self, feed: Feed[ThreadChunk]) -> None:
        """One walker: draw a thread id, walk it page by page, repeat."""
        while True:
            drawn = await self.ids.next()
            if drawn is None:
                return
            index, thread_id = drawn
            error: BaseException | None = None
            try:
                pager = self.client.list(
                    thread_id,
                    order=self.order,
                    page_size=self.page_size,
                    max_items=self.max_items,
                    prefetch=self.prefetch,
                )
                async for page in pager.pages():
                    await feed.reserve()
                    feed.put(ThreadChunk(thread_id, index, page.data))
                    self.progress.pages += 1
                    self.progress.messages += len(page.data)
                    self.report()
            except OpenAIMessagesError as exc:
                error = exc
                self.progress.threads_failed += 1
            self.progress.threads_done += 1
            await feed.reserve()
            feed.put(ThreadChunk(thread_id, index, (), done=True, error=error))
            self.report()

    def report(self) -> None:
        stats = self.client.stats
        self.progress.requests = stats["requests"]
        self.progress.retries = stats["retries"]
        self.progress.throttled = stats["throttled"]
        if self.on_progress is not None:
            self.on_progress(self.progress)


class ThreadStream:
    """Chunks of many threads' messages as they arrive (see :meth:`Client.stream_many`)."""

    def __init__(
        self,
        client: Client,
        thread_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 8,
        order: str = "asc",
        max_items_per_thread: int | None = None,
        on_progress: Callable[[FetchProgress], None] | None = None,
        page_size: int = 100,
        prefetch: int = 1,
    ) -> None:
        self._concurrency = _check_concurrency(concurrency)
        self._walkers = _Walkers(
            client,
            _Ids(thread_ids),
            order=order,
            max_items=max_items_per_thread,
            page_size=page_size,
            prefetch=prefetch,
            on_progress=on_progress,
        )
        self._registry = client._feeds
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
