"""The pager's walk logic over an in-process page source (no HTTP): directions,
max_items, guards, prefetch and cancellation (those that wait, in virtual time: no
sleep there takes real time or races the walk). The same behaviours are exercised over
real HTTP in test_pagination.py."""

from __future__ import annotations

import asyncio

import pytest

from openai_messages import InvalidArgumentError, PaginationError
from openai_messages._codec.models import Message, MessagePage
from openai_messages._walk.pagination import REPEAT_WINDOW, Pager, _RepeatGuard

from ..support import pending_tasks, settle, virtual_time


def _messages(n: int) -> list[Message]:
    return [Message(id=f"msg_{i:05d}", created_at=1000 + i) for i in range(n)]


class Source:
    """A list served with the API's cursor rules; records the requests."""

    def __init__(self, n: int) -> None:
        self.items = _messages(n)
        self.requests: list[tuple[int, str | None, str | None]] = []
        self.in_flight = 0
        self.delay = 0.0

    async def fetch(
        self, limit: int, after: str | None, before: str | None, order: str
    ) -> MessagePage:
        self.requests.append((limit, after, before))
        self.in_flight += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        items = self.items if order == "asc" else self.items[::-1]
        ids = [m.id for m in items]
        if after is not None:
            start = ids.index(after) + 1
            chunk = items[start : start + limit]
            more = start + limit < len(items)
        elif before is not None:
            end = ids.index(before)
            chunk = items[max(0, end - limit) : end]
            more = end - limit > 0
        else:
            chunk = items[:limit]
            more = limit < len(items)
        return MessagePage(
            data=tuple(chunk),
            first_id=chunk[0].id if chunk else None,
            last_id=chunk[-1].id if chunk else None,
            has_more=more,
        )

    def pager(self, order: str = "asc", **kwargs: object) -> Pager[Message, MessagePage]:
        async def fetch(limit: int, after: str | None, before: str | None) -> MessagePage:
            return await self.fetch(limit, after, before, order)

        return Pager(fetch, order=order, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefetch", [0, 1, 3])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_full_walk_forward(order: str, prefetch: int) -> None:
    source = Source(250)
    pager = source.pager(order, page_size=100, prefetch=prefetch)
    got = [m.id async for m in pager]
    expected = [m.id for m in (source.items if order == "asc" else source.items[::-1])]
    assert got == expected
    assert len(source.requests) == 3
    assert pager.cursor == expected[-1]


@virtual_time
async def test_nothing_is_requested_before_iteration() -> None:
    source = Source(10)
    pager = source.pager()
    await asyncio.sleep(0.01)
    assert source.requests == []
    assert len(await pager.collect()) == 10


async def test_max_items_asks_only_for_what_is_needed() -> None:
    source = Source(1000)
    got = await source.pager(page_size=100, max_items=250).collect()
    assert len(got) == 250
    assert [r[0] for r in source.requests] == [100, 100, 50]


async def test_backward_walk_moves_away_from_the_cursor() -> None:
    source = Source(250)
    start = source.items[200].id
    pager = source.pager("asc", before=start, page_size=30)
    got = [m.id async for m in pager]
    assert got == [m.id for m in source.items[:200][::-1]]
    assert all(r[1] is None and r[2] is not None for r in source.requests)
    assert pager.cursor == source.items[0].id


async def test_resume_from_cursor_yields_exactly_the_rest() -> None:
    source = Source(333)
    first = source.pager("desc", page_size=40)
    seen = []
    async for message in first:
        seen.append(message.id)
        if len(seen) == 111:
            break
    rest = await source.pager("desc", after=first.cursor, page_size=40).collect()
    assert seen + [m.id for m in rest] == [m.id for m in source.items[::-1]]


async def test_pages_and_first_page() -> None:
    source = Source(120)
    pages = [page async for page in source.pager(page_size=50).pages()]
    assert [len(p) for p in pages] == [50, 50, 20]
    first = await source.pager(page_size=7).first_page()
    assert len(first.data) == 7


async def test_empty_thread() -> None:
    source = Source(0)
    assert await source.pager().collect() == []
    pages = [p async for p in source.pager().pages()]
    assert len(pages) == 1
    assert pages[0].data == ()


async def test_a_pager_walks_once() -> None:
    source = Source(3)
    pager = source.pager()
    await pager.collect()
    with pytest.raises(RuntimeError, match="walked already"):
        await pager.collect()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page_size": 0},
        {"page_size": 101},
        {"max_items": -1},
        {"prefetch": -1},
        {"after": "a", "before": "b"},
        {"after": "a/b"},
    ],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        Source(1).pager("asc", **kwargs)


def _static(pages: list[MessagePage]) -> Pager[Message, MessagePage]:
    calls = iter(pages)

    async def fetch(limit: int, after: str | None, before: str | None) -> MessagePage:
        return next(calls)

    return Pager(fetch, order="asc", prefetch=0)


async def test_has_more_with_empty_page_is_an_error() -> None:
    pages = [MessagePage(data=(), has_more=True)] * 3
    with pytest.raises(PaginationError, match="empty page"):
        await _static(pages).collect()


async def test_repeated_page_is_an_error() -> None:
    page = MessagePage(data=tuple(_messages(3)), has_more=True)
    with pytest.raises(PaginationError, match="repeated"):
        await _static([page, page, page]).collect()


async def test_a_page_served_again_far_into_a_walk_is_an_error() -> None:
    items = _messages(REPEAT_WINDOW + 300)
    pages = [
        MessagePage(data=tuple(items[i : i + 100]), has_more=True)
        for i in range(0, len(items), 100)
    ]
    pager = _static([*pages, pages[0]])
    seen = []
    with pytest.raises(PaginationError, match="repeated"):
        async for message in pager:
            seen.append(message.id)
    assert seen == [m.id for m in items]
    assert pager.cursor == items[-1].id


def _ids(start: int, n: int) -> list[str]:
    return [f"msg_{i:07d}" for i in range(start, start + n)]


def test_repeat_guard_catches_repeats_within_a_page_and_of_the_cursor() -> None:
    assert not _RepeatGuard(None).check(["a", "b", "a"])
    assert not _RepeatGuard("msg_start").check(["x", "msg_start"])
    guard = _RepeatGuard(None)
    assert guard.check(_ids(0, 100))
    assert not guard.check(_ids(150, 10) + _ids(50, 1))  # one item of the window again


def test_repeat_guard_remembers_page_edges_beyond_its_window() -> None:
    guard = _RepeatGuard(None)
    for start in range(0, 20 * REPEAT_WINDOW, 100):
        assert guard.check(_ids(start, 100))
    assert not guard.check(_ids(5_000_000, 5) + _ids(0, 1))  # the first page's first item
    assert not guard.check(_ids(5_000_000, 5) + _ids(99, 1))  # and its last
    # Inside a page older than the window, without its edges: the documented blind spot.
    assert guard.check(_ids(50, 10))


def test_repeat_guard_memory_does_not_grow_with_the_walk() -> None:
    guard = _RepeatGuard(None)
    for start in range(0, 50 * REPEAT_WINDOW, 100):
        guard.check(_ids(start, 100))
    assert len(guard._newer) + len(guard._older) <= 2 * REPEAT_WINDOW + 100
    assert len(guard._edges) == 2 * (50 * REPEAT_WINDOW // 100)


@pytest.mark.parametrize("pages", [1, 49, 50, 51, 99, 100, 101, 237])
def test_repeat_guard_window_holds_at_least_the_latest_items(pages: int) -> None:
    """Whenever its sets turn over, every one of the latest ``REPEAT_WINDOW`` items is
    still caught when sent again (an item from inside a page, not an edge)."""
    guard = _RepeatGuard(None)
    for page in range(pages):
        assert guard.check(_ids(page * 100, 100))
    end = pages * 100
    for item in range(max(0, end - REPEAT_WINDOW), end):
        if item % 100 not in (0, 99):
            assert not guard.check([f"new_{item}", *_ids(item, 1)]), item


async def test_page_going_backwards_is_an_error() -> None:
    items = _messages(6)
    pages = [
        MessagePage(data=tuple(items[3:]), has_more=True),
        MessagePage(data=tuple(items[:3]), has_more=False),
    ]
    with pytest.raises(PaginationError, match="backwards"):
        await _static(pages).collect()
    reversed_page = MessagePage(data=tuple(items[::-1]), has_more=False)
    with pytest.raises(PaginationError, match="backwards"):
        await _static([reversed_page]).collect()


async def test_failure_keeps_the_cursor_on_the_last_item_yielded() -> None:
    source = Source(300)
    calls = 0

    async def fetch(limit: int, after: str | None, before: str | None) -> MessagePage:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ConnectionError("boom")
        return await source.fetch(limit, after, before, "asc")

    pager: Pager[Message, MessagePage] = Pager(fetch, order="asc", page_size=100, prefetch=1)
    seen = []
    with pytest.raises(ConnectionError):
        async for message in pager:
            seen.append(message.id)
    assert len(seen) == 200
    assert pager.cursor == seen[-1]
    rest = await source.pager(after=pager.cursor).collect()
    assert seen + [m.id for m in rest] == [m.id for m in source.items]


@virtual_time
async def test_prefetch_runs_one_page_ahead() -> None:
    source = Source(500)
    pager = source.pager(page_size=100, prefetch=1)
    handled = 0
    async for _ in pager.pages():
        handled += 1
        await asyncio.sleep(0.05)  # the caller is slow: the next page is fetched meanwhile
        assert len(source.requests) == min(handled + 1, 5)
    assert len(source.requests) == 5


@virtual_time
async def test_no_prefetch_fetches_on_demand() -> None:
    source = Source(500)
    handled = 0
    async for _ in source.pager(page_size=100, prefetch=0).pages():
        handled += 1
        await asyncio.sleep(0.01)
        assert len(source.requests) == handled


@virtual_time
async def test_break_cancels_the_prefetch() -> None:
    source = Source(1000)
    source.delay = 0.05
    pager = source.pager(page_size=10, prefetch=2)
    async for _ in pager:
        break
    await pager.aclose()
    assert pending_tasks() == set()
    assert source.in_flight == 0


@virtual_time
async def test_cancelling_the_consumer_cancels_the_prefetch() -> None:
    source = Source(1000)
    source.delay = 0.05

    async def consume() -> None:
        async for _ in source.pager(page_size=10, prefetch=1):
            await asyncio.sleep(1)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settle()
    assert source.in_flight == 0


@virtual_time
async def test_error_in_loop_body_stops_the_walk() -> None:
    source = Source(1000)
    source.delay = 0.02

    async def consume() -> None:
        async for _ in source.pager(page_size=10, prefetch=1):
            raise KeyError("in the caller")

    with pytest.raises(KeyError):
        await consume()
    await settle()
    assert source.in_flight == 0
