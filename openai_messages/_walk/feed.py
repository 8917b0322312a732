"""A queue fed by background tasks, read as an async iterator, that cleans up after itself.

Both page prefetch and bulk fetches run producers in tasks. Whatever way the reader
stops (it finishes, breaks out, raises, or is cancelled), the producers are cancelled:
explicitly through :meth:`Feed.aclose`, or when the reader drops the feed. A feed closed
from elsewhere with an error (the client closing) hands that error to its reader, who
would otherwise wait forever for items no producer will make.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, Final, Generic, TypeVar

__all__ = ["Feed", "FeedRegistry"]

T = TypeVar("T")

_END: Final = object()
TASK_NAME: Final = "openai_messages.feed"
"""The name of every background task of this package."""


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


Producer = Callable[["Feed[T]"], Coroutine[Any, Any, None]]


class Feed(Generic[T], AsyncIterator[T]):
    """Items put by producer tasks, yielded in arrival order; the first failure is re-raised.

    ``producers`` are coroutine functions taking the feed. Before making an item, a
    producer awaits :meth:`reserve`, which waits while ``window`` items are made or being
    made but not yet read: a window of 1 means "one item ahead of the reader". The feed
    ends when every producer has returned.
    """

    def __init__(
        self,
        producers: Sequence[Producer[T]],
        *,
        window: int,
        registry: FeedRegistry | None = None,
    ) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._room = asyncio.Semaphore(window)
        self._running = len(producers)
        self._done = False
        self._reader_waits = False
        self._handed = 0  # items given room back at hand-over (see put)
        self._closed_with: BaseException | None = None
        self._tasks = [asyncio.create_task(self._run(p), name=TASK_NAME) for p in producers]
        if registry is not None:
            registry.add(self)

    async def reserve(self) -> None:
        """Wait for room to make one more item."""
        await self._room.acquire()

    def put(self, item: T) -> None:
        """Hand one item to the reader.

        A reader already waiting takes this item next: it counts as read now, and its
        room is given back at once, so the producer makes the next item in the same step
        (one event-loop turn and one task wake-up fewer per item than waiting for the
        reader to wake and give the room back).
        """
        if self._reader_waits:
            self._reader_waits = False
            self._handed += 1
            self._room.release()
        self._queue.put_nowait(item)

    async def _run(self, producer: Producer[T]) -> None:
        try:
            await producer(self)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the reader, never lost
            self._queue.put_nowait(_Failure(exc))
            return
        self._running -= 1
        if self._running == 0:
            self._queue.put_nowait(_END)

    def __aiter__(self) -> Feed[T]:
        return self

    async def __anext__(self) -> T:
        if self._done:
            if self._closed_with is not None:
                raise self._closed_with
            raise StopAsyncIteration
        self._reader_waits = self._queue.empty()
        try:
            item = await self._queue.get()
        except BaseException:
            self.cancel()
            raise
        finally:
            self._reader_waits = False
        if item is _END:
            self._done = True
            raise StopAsyncIteration
        if isinstance(item, _Failure):
            self.cancel()
            raise item.error
        if self._handed:
            self._handed -= 1
        else:
            self._room.release()
        return item  # type: ignore[return-value]  # only producers' items remain

    def cancel(self) -> None:
        """Cancel every producer now (they finish cancelling in the background)."""
        self._done = True
        for task in self._tasks:
            if not task.done():
                task.cancel()

    async def aclose(self, error: BaseException | None = None) -> None:
        """Cancel every producer and wait until they have stopped.

        With ``error``, a feed its reader has not finished ends with that error: a reader
        waiting now gets it at once, as does every later read.
        """
        if error is not None and not self._done:
            self._closed_with = error
            self._queue.put_nowait(_Failure(error))
        self.cancel()
        pending = [task for task in self._tasks if not task.done()]
        if pending:
            await asyncio.wait(pending)

    def cancel_soon(self) -> None:
        """Cancel every producer, from a finalizer too (nothing if the loop is closed)."""
        self._done = True
        for task in getattr(self, "_tasks", ()):
            if not task.done() and not task.get_loop().is_closed():
                task.cancel()

    def __del__(self) -> None:
        self.cancel_soon()


FeedRegistry = weakref.WeakSet[Feed[Any]]
"""The feeds of one client, which closing it stops."""
