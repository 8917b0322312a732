"""Auto-pagination over cursor pages, in both directions, with prefetch and resume.

A walk that starts with ``after=`` (or from the top) goes forward: each request sends
``after=<id of the last item seen>`` and items come in the requested ``order``. A walk
that starts with ``before=X`` goes backward, away from ``X``: each request sends
``before=<id of the first item of the previous page>`` and items come out in the
reverse of ``order``, the nearest to ``X`` first. Either way ``pager.cursor`` is the id
of the last item handed out, so ``after=pager.cursor`` (or ``before=`` going back)
resumes exactly where the walk stopped.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, Final, Generic, Protocol, TypeVar

import attrs

from .._codec.literals import Order
from .._core import checks as validation
from .._core.defaults import PAGE_SIZE
from ..errors import InvalidArgumentError, PaginationError
from .feed import Feed, FeedRegistry

__all__ = ["PageLike", "Pager"]


class ItemLike(Protocol):
    @property
    def id(self) -> str: ...


class PageLike(Protocol):
    @property
    def data(self) -> Sequence[Any]: ...

    @property
    def has_more(self) -> bool: ...


ItemT = TypeVar("ItemT", bound=ItemLike)
PageT = TypeVar("PageT", bound=PageLike)

FetchPage = Callable[[int, "str | None", "str | None"], Awaitable[PageT]]
"""``fetch(limit, after, before)`` returns one page."""


def _check_order(items: Sequence[Any], ascending: bool, cursor: str | None) -> None:
    """Raise unless the ``created_at`` stamps of ``items`` follow ``order`` (ties allowed)."""
    try:
        stamps = [item.created_at for item in items]
    except AttributeError:  # items without creation times cannot be checked
        return
    try:
        ordered = sorted(stamps, reverse=not ascending)  # ints (the models check the type)
    except TypeError:  # some items have no stamp (None): the others are checked
        stamps = [stamp for stamp in stamps if stamp is not None]
        ordered = sorted(stamps, reverse=not ascending)
    if stamps == ordered:
        return
    # out of order: find the first item that goes backwards, to name it
    previous: int | None = None
    for item in items:
        stamp = getattr(item, "created_at", None)
        if not isinstance(stamp, int):
            continue
        if previous is not None and (stamp < previous if ascending else stamp > previous):
            raise PaginationError(
                f"the server returned a page whose items go backwards at {item.id!r}",
                cursor=cursor,
            )
        previous = stamp


def _has_more(page: PageLike, limit: int) -> bool:
    """Whether another page follows: the server's ``has_more``, or, when the page left
    ``has_more`` out (a compatible server), whether the page came back full."""
    if "has_more" in getattr(page, "absent_fields", ()):
        return len(page.data) >= limit
    return page.has_more


REPEAT_WINDOW: Final = 5_000
"""How many of the latest items of a walk, at least, are remembered one by one to catch
repeats (at most twice as many are)."""


class _RepeatGuard:
    """Catches a server that sends items again, in memory that does not grow with the walk.

    It remembers every item of the latest ``REPEAT_WINDOW`` at least (hashes of their
    ids), and the first and last item of every page since the start (two per page). A
    server that serves an earlier page again (say, one computed without the cursor)
    repeats at least one of those; what it cannot catch is a few items from inside a page
    older than the window, without that page's edges.

    The window is two sets: new items go into the newer one, and once it holds
    ``REPEAT_WINDOW`` items it becomes the older one and the oldest set is dropped whole.
    Nothing is ever removed from a set one by one (a set keeps a mark where each removed
    item was, and a set that always takes and drops items rebuilds its table over and
    over, clearing it each time: the costliest part of a page's check).
    """

    __slots__ = ("_edges", "_newer", "_older")

    def __init__(self, cursor: str | None) -> None:
        self._edges: set[int] = {hash(cursor)} if cursor is not None else set()
        self._newer: set[int] = set()
        self._older: set[int] = set()

    def check(self, ids: list[str]) -> bool:
        """Record the ids of one page; False if any was seen before (or twice in it)."""
        hashes = set(map(hash, ids))
        if (
            len(hashes) != len(ids)
            or not self._newer.isdisjoint(hashes)
            or not self._older.isdisjoint(hashes)
            or not self._edges.isdisjoint(hashes)
        ):
            return False
        self._edges.add(hash(ids[0]))
        self._edges.add(hash(ids[-1]))
        if len(self._newer) >= REPEAT_WINDOW:
            self._older = self._newer
            self._newer = hashes
        else:
            self._newer |= hashes
        return True


class Pager(Generic[ItemT, PageT]):
    """Every item of a listing, fetched page by page as you iterate.

    ``async for item in pager`` yields items; :meth:`pages` yields whole pages;
    :meth:`collect` returns a list; :meth:`first_page` fetches one page only.
    ``page_size`` is the API's ``limit`` (items per request); ``max_items`` bounds
    the items of the whole walk. Nothing is requested before iteration starts.
    A pager walks once; to go on later, start a new one with ``after=pager.cursor``.
    """

    def __init__(
        self,
        fetch: FetchPage[PageT],
        *,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
        page_size: int = PAGE_SIZE,
        max_items: int | None = None,
        prefetch: int = 1,
        registry: FeedRegistry | None = None,
    ) -> None:
        self.order = validation.check_order(order)
        validation.check_cursor("after", after)
        validation.check_cursor("before", before)
        if after is not None and before is not None:
            raise InvalidArgumentError("pass after= or before=, not both: a walk has one direction")
        self.page_size = validation.check_page_size(page_size)
        if max_items is not None and (
            isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0
        ):
            raise InvalidArgumentError(f"max_items must be an int >= 0 or None, got {max_items!r}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
            raise InvalidArgumentError(f"prefetch must be an int >= 0, got {prefetch!r}")
        self.max_items = max_items
        self.prefetch = prefetch
        self.backward = before is not None
        self._cursor: str | None = before if self.backward else after
        self._shown: Sequence[Any] = ()  # the items of the page being handed out
        self._rest: Iterator[Any] = iter(())  # and those of them not handed out yet
        self.requests = 0
        """Pages requested so far (prefetched ones included)."""
        self._fetch = fetch
        self._registry = registry
        self._started = False
        self._feed: Feed[PageT] | None = None

    @property
    def cursor(self) -> str | None:
        """Id of the last item handed out (the starting cursor before any)."""
        handed = len(self._shown) - operator.length_hint(self._rest)
        return self._cursor if handed <= 0 else str(self._shown[handed - 1].id)

    def _show(self, items: Sequence[Any]) -> Iterator[Any]:
        """Hand ``items`` out next: the cursor follows the iterator this returns (read
        when asked, not set for each item)."""
        self._cursor = self.cursor
        self._shown = items
        self._rest = rest = iter(items)
        return rest

    def _set_cursor(self, cursor: str | None) -> None:
        self._shown = ()
        self._cursor = cursor

    # -- the walk --------------------------------------------------------------------------

    async def _walk(self, feed: Feed[PageT] | None) -> AsyncIterator[PageT]:
        """Pages in walk order, checked; with a feed, waits for room before each fetch."""
        cursor = self.cursor
        received = 0
        guard = _RepeatGuard(cursor)  # an item sent again is a server fault
        edge: object = None
        ascending = self.order == "asc"
        first = True
        while True:
            limit = self.page_size
            if self.max_items is not None:
                limit = min(limit, self.max_items - received)
                if limit <= 0:
                    return
            if feed is not None:
                await feed.reserve()
            after, before = (None, cursor) if self.backward else (cursor, None)
            page = await self._fetch(limit, after, before)
            self.requests += 1
            items = page.data
            more = _has_more(page, limit)
            if not items:
                if more:
                    raise PaginationError(
                        "the server said has_more but sent an empty page", cursor=cursor
                    )
                if first:
                    yield page
                return
            if not guard.check([item.id for item in items]):
                raise PaginationError(
                    "the server repeated items already seen in this walk", cursor=cursor
                )
            _check_order(items, ascending, cursor)
            # Across the page boundary: forward, the new page follows the old one;
            # backward, it precedes it.
            boundary = [edge, items[0]] if not self.backward else [items[-1], edge]
            if edge is not None:
                _check_order(boundary, ascending, cursor)
            edge = items[0] if self.backward else items[-1]
            next_cursor = items[0].id if self.backward else items[-1].id
            received += len(items)
            first = False
            yield page
            if not more:
                return
            cursor = next_cursor

    def _page_source(self) -> AsyncIterator[PageT]:
        if self._started:
            raise RuntimeError(
                "this pager has been walked already; start a new one with after=pager.cursor"
            )
        self._started = True
        if self.prefetch == 0:
            return self._walk(None)

        async def produce(feed: Feed[PageT]) -> None:
            async for page in self._walk(feed):
                feed.put(page)

        self._feed = Feed([produce], window=self.prefetch, registry=self._registry)
        return self._feed

    def _edge_id(self, page: PageT) -> str | None:
        items = page.data
        if not items:
            return self.cursor
        return str(items[0].id if self.backward else items[-1].id)

    async def pages(self) -> AsyncIterator[PageT]:
        """Every page as the server sent it (items in ``order``), trimmed to ``max_items``."""
        source = self._page_source()
        yielded = 0
        try:
            async for page in source:
                if self.max_items is not None and yielded + len(page.data) > self.max_items:
                    keep = self.max_items - yielded
                    page = attrs.evolve(page, data=tuple(page.data)[:keep])  # type: ignore[misc]
                yielded += len(page.data)
                self._set_cursor(self._edge_id(page))
                yield page
        finally:
            await self.aclose()

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._items()

    async def _items(self) -> AsyncIterator[ItemT]:
        source = self._page_source()
        remaining = self.max_items
        try:
            async for page in source:
                items: Sequence[ItemT] = page.data
                if self.backward:
                    items = items[::-1]
                if remaining is None:  # the common walk: no count to keep
                    for item in self._show(items):
                        yield item
                    continue
                if remaining < len(items):
                    items = items[:remaining]
                remaining -= len(items)
                for item in self._show(items):
                    yield item
                if remaining <= 0:
                    return
        finally:
            await self.aclose()

    async def collect(self) -> list[ItemT]:
        """Every item of the walk, in a list."""
        return [item async for item in self]

    async def first_page(self) -> PageT:
        """The first page only (one request); the pager can still be walked afterwards."""
        after, before = (None, self.cursor) if self.backward else (self.cursor, None)
        limit = (
            self.page_size
            if self.max_items is None
            else max(1, min(self.page_size, self.max_items))
        )
        page = await self._fetch(limit, after, before)
        self.requests += 1
        return page

    async def aclose(self) -> None:
        """Stop the walk: cancel a prefetch in flight and wait for it to end."""
        if self._feed is not None:
            await self._feed.aclose()

    async def __aenter__(self) -> Pager[ItemT, PageT]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
