"""fetch_many / stream_many over real HTTP against the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import openai_messages as om
from openai_messages.emulator import Emulator, Fault, RateLimit

from ..support import API_KEY, FAST_RETRIES, pending_tasks, settle


async def test_fetch_many_gets_every_thread(client: om.Client, emu: Emulator) -> None:
    thread_ids = emu.store.seed(12, 130)
    progress: list[om.FetchProgress] = []
    results = [
        r async for r in client.fetch_many(thread_ids, concurrency=4, on_progress=progress.append)
    ]
    assert sorted(r.thread_id for r in results) == sorted(thread_ids)
    for result in results:
        assert result.ok
        expected = [m["id"] for m in emu.store.messages(result.thread_id)]
        assert [m.id for m in result.messages] == expected  # order="asc" by default
    assert progress[-1].threads_done == 12
    assert progress[-1].messages == 12 * 130
    assert progress[-1].pages == 12 * 2
    assert len([r for r in emu.log if r.route == "list"]) == 12 * 2


async def test_ordered_results_follow_the_input(client: om.Client, emu: Emulator) -> None:
    thread_ids = emu.store.seed(10, 5)
    results = [r async for r in client.fetch_many(thread_ids[::-1], concurrency=5, ordered=True)]
    assert [r.thread_id for r in results] == thread_ids[::-1]
    assert [r.index for r in results] == list(range(10))


async def test_one_failing_thread_does_not_stop_the_others(
    client: om.Client, emu: Emulator
) -> None:
    thread_ids = emu.store.seed(5, 10)
    results = {
        r.thread_id: r async for r in client.fetch_many([*thread_ids, "thread_nope"], concurrency=3)
    }
    assert isinstance(results["thread_nope"].error, om.NotFoundError)
    assert all(results[t].ok and len(results[t].messages) == 10 for t in thread_ids)


async def test_raise_on_error_stops_early(client: om.Client, emu: Emulator) -> None:
    thread_ids = emu.store.seed(30, 50)
    with pytest.raises(om.NotFoundError):
        async for _ in client.fetch_many(
            ["thread_nope", *thread_ids], concurrency=2, raise_on_error=True
        ):
            pass
    await settle()


async def test_invalid_thread_id_is_a_per_thread_error(client: om.Client, emu: Emulator) -> None:
    [good] = emu.store.seed(1, 3)
    results = {r.thread_id: r async for r in client.fetch_many([good, "bad/id"])}
    assert isinstance(results["bad/id"].error, om.InvalidArgumentError)
    assert results[good].ok


async def test_ids_are_read_lazily_from_an_async_iterable(client: om.Client, emu: Emulator) -> None:
    thread_ids = emu.store.seed(6, 3)
    drawn: list[str] = []

    async def ids() -> AsyncIterator[str]:
        for thread_id in thread_ids:
            drawn.append(thread_id)
            yield thread_id

    results = client.fetch_many(ids(), concurrency=2)
    assert drawn == []
    first = await results.__anext__()
    assert len(drawn) < len(thread_ids)
    rest = [r async for r in results]
    assert sorted([first.thread_id, *(r.thread_id for r in rest)]) == sorted(thread_ids)


async def test_concurrency_is_bounded(emu: Emulator) -> None:
    thread_ids = emu.store.seed(12, 20)
    emu.latency = 0.02
    async with om.Client(api_key=emu.api_key, base_url=emu.url) as client:
        async for _ in client.fetch_many(thread_ids, concurrency=3, prefetch=0):
            pass
    assert emu.max_in_flight <= 3


async def test_many_walkers_starting_together_do_not_overrun_the_limit(emu: Emulator) -> None:
    thread_ids = emu.store.seed(30, 120)
    emu.rate_limit = RateLimit(rate=200, burst=20)
    async with om.Client(api_key=emu.api_key, base_url=emu.url) as client:
        results = [r async for r in client.fetch_many(thread_ids, concurrency=32, page_size=60)]
        throttled = client.stats["throttled"]
    assert all(r.error is None and len(r.messages) == 120 for r in results)
    # 32 walkers, a burst of 20: all at once, a dozen would be refused at the start
    assert throttled <= 2, f"{throttled} of {len(emu.log)} requests were answered 429"


async def test_stream_many_yields_pages_then_done(client: om.Client, emu: Emulator) -> None:
    thread_ids = emu.store.seed(3, 250)
    chunks = [c async for c in client.stream_many(thread_ids, concurrency=2)]
    for thread_id in thread_ids:
        mine = [c for c in chunks if c.thread_id == thread_id]
        assert [len(c.messages) for c in mine] == [100, 100, 50, 0]
        assert mine[-1].done
        assert not any(c.done for c in mine[:-1])
        ids = [m.id for c in mine for m in c.messages]
        assert ids == [m["id"] for m in emu.store.messages(thread_id)]


async def test_breaking_out_cancels_every_walker(client: om.Client, emu: Emulator) -> None:
    thread_ids = emu.store.seed(20, 300)
    emu.latency = 0.01
    results = client.fetch_many(thread_ids, concurrency=8)
    async for _ in results:
        break
    await results.aclose()
    assert pending_tasks() == set()


async def test_cancelling_the_consumer_cancels_every_walker(
    client: om.Client, emu: Emulator
) -> None:
    thread_ids = emu.store.seed(20, 300)
    emu.latency = 0.01

    async def consume() -> None:
        async for _ in client.fetch_many(thread_ids, concurrency=8):
            await asyncio.sleep(10)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settle()


async def test_bad_concurrency(client: om.Client) -> None:
    with pytest.raises(om.InvalidArgumentError):
        client.fetch_many(["t"], concurrency=0)


# -- issue 14 items 16 and 18 ------------------------------------------------------------


async def test_none_among_the_ids_is_named_not_the_end_of_the_input(
    client: om.Client, emu: Emulator
) -> None:
    thread_ids = emu.store.seed(3, 5)
    ids: list[Any] = [thread_ids[0], None, *thread_ids[1:]]
    with pytest.raises(om.InvalidArgumentError, match=r"thread id #1 .*None"):
        async for _ in client.fetch_many(ids, concurrency=1):
            pass
    with pytest.raises(om.InvalidArgumentError, match=r"thread id #1 .*None"):
        async for _ in client.stream_many(ids, concurrency=1):
            pass


async def test_none_among_async_ids_is_named(client: om.Client, emu: Emulator) -> None:
    thread_ids = emu.store.seed(2, 5)

    async def ids() -> AsyncIterator[Any]:
        for value in (thread_ids[0], None, thread_ids[1]):
            yield value

    with pytest.raises(om.InvalidArgumentError, match="None"):
        async for _ in client.fetch_many(ids()):
            pass


def refused(emu: Emulator, status: int) -> om.Client:
    """A client whose key ``emu`` refuses: a wrong key (401) or a 403 on every list."""
    if status == 403:
        emu.faults.add(Fault.error(403), route="list")
        key = API_KEY
    else:
        key = "sk-wrong-key-000000000"
    return om.Client(api_key=key, base_url=emu.url, retry_policy=FAST_RETRIES)


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("call", ["fetch_many", "fetch_many_raise", "stream_many"])
async def test_a_refused_key_ends_a_bulk_run_at_once(emu: Emulator, status: int, call: str) -> None:
    thread_ids = emu.store.seed(40, 3)
    expected = om.AuthenticationError if status == 401 else om.PermissionDeniedError
    async with refused(emu, status) as client:
        if call == "stream_many":
            run: AsyncIterator[Any] = aiter(client.stream_many(thread_ids, concurrency=4))
        else:
            many = client.fetch_many(
                thread_ids, concurrency=4, raise_on_error=call == "fetch_many_raise"
            )
            run = aiter(many)
        got: list[Any] = []
        with pytest.raises(expected):
            async for item in run:
                got.append(item)
    assert got == []  # no per-thread result carries it: the run ends
    assert len(emu.log.filter("list")) <= 4  # at most one per walker, never one per thread
    await settle()
