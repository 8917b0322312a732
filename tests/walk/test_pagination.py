"""Auto-pagination over real HTTP (issue #5): request counts, limits, both directions,
resume from ``pager.cursor``, prefetch, early exits, failures and the v1 file pager."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest

import openai_messages as om
from openai_messages.emulator import Emulator, Fault

from ..support import API_KEY, FAST_RETRIES, settle, until


def list_queries(emu: Emulator, route: str = "list") -> list[dict[str, str]]:
    return [record.query for record in emu.log.filter(route)]


def seed(emu: Emulator, count: int, thread_id: str = "thread_p") -> list[str]:
    """``count`` messages; their ids oldest first."""
    emu.store.create_thread(thread_id)
    return emu.store.add_messages(thread_id, count) if count else []


# ----------------------------------------------------------------------------- request counts


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 250, 1000])
async def test_full_walk_makes_ceil_m_over_100_requests(
    client: om.Client, emu: Emulator, count: int
) -> None:
    ids = seed(emu, count)
    seen = [m.id for m in await client.list("thread_p", order="asc").collect()]
    assert seen == ids
    queries = list_queries(emu)
    assert len(queries) == max(1, math.ceil(count / 100))
    assert {q["limit"] for q in queries} == {"100"}
    assert [q.get("after") for q in queries] == [None] + [
        ids[100 * k - 1] for k in range(1, len(queries))
    ]
    assert client.stats["requests"] == len(queries)


async def test_desc_is_the_default_order(client: om.Client, emu: Emulator) -> None:
    ids = seed(emu, 230)
    assert [m.id for m in await client.list("thread_p").collect()] == ids[::-1]
    assert [q["order"] for q in list_queries(emu)] == ["desc"] * 3


@pytest.mark.parametrize(
    ("count", "max_items", "page_size", "limits"),
    [
        (250, 130, 100, ["100", "30"]),
        (250, 200, 100, ["100", "100"]),
        (250, 7, 100, ["7"]),
        (250, 25, 10, ["10", "10", "5"]),
        (50, 80, 100, ["80"]),
        (250, 0, 100, []),
    ],
)
async def test_max_items_asks_only_for_what_is_needed(
    client: om.Client,
    emu: Emulator,
    count: int,
    max_items: int,
    page_size: int,
    limits: list[str],
) -> None:
    ids = seed(emu, count)
    pager = client.list("thread_p", order="asc", max_items=max_items, page_size=page_size)
    seen = [m.id for m in await pager.collect()]
    assert seen == ids[:max_items]
    assert [q["limit"] for q in list_queries(emu)] == limits


async def test_max_items_with_pages(client: om.Client, emu: Emulator) -> None:
    ids = seed(emu, 250)
    pages = [p async for p in client.list("thread_p", order="asc", max_items=130).pages()]
    assert [len(p.data) for p in pages] == [100, 30]
    assert [m.id for p in pages for m in p.data] == ids[:130]


# ----------------------------------------------------------------------------- directions


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_backward_walk_with_before(
    client: om.Client, emu: Emulator, order: om.Order, prefetch: int
) -> None:
    ids = seed(emu, 333)
    k = 200
    # "before" X in the listing order, nearest to X first.
    expected = ids[:k][::-1] if order == "asc" else ids[k + 1 :]
    pager = client.list("thread_p", order=order, before=ids[k], page_size=40, prefetch=prefetch)
    assert [m.id for m in await pager.collect()] == expected
    queries = list_queries(emu)
    assert len(queries) == math.ceil(len(expected) / 40)
    assert all("after" not in q and "before" in q for q in queries)
    assert pager.cursor == expected[-1]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_backward_pages_keep_the_listing_order(
    client: om.Client, emu: Emulator, order: om.Order
) -> None:
    ids = seed(emu, 100)
    pages = [
        [m.id for m in page.data]
        async for page in client.list("thread_p", order=order, before=ids[50], page_size=20).pages()
    ]
    listing = ids if order == "asc" else ids[::-1]
    for page in pages:
        start = listing.index(page[0])
        assert page == listing[start : start + len(page)]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("backward", [False, True], ids=["after", "before"])
@pytest.mark.parametrize("stop_at", [1, 39, 40, 41, 150])
async def test_resume_from_cursor(
    client: om.Client, emu: Emulator, order: om.Order, backward: bool, stop_at: int
) -> None:
    ids = seed(emu, 200)
    listing = ids if order == "asc" else ids[::-1]
    if backward:
        start = listing[-1]
        expected = listing[-2::-1]
        first = client.list("thread_p", order=order, before=start, page_size=40)
    else:
        expected = listing
        first = client.list("thread_p", order=order, page_size=40)
    got: list[str] = []
    async for message in first:
        got.append(message.id)
        if len(got) == stop_at:
            break
    assert first.cursor == got[-1]
    if backward:
        rest = client.list("thread_p", order=order, before=first.cursor, page_size=40)
    else:
        rest = client.list("thread_p", order=order, after=first.cursor, page_size=40)
    got += [m.id for m in await rest.collect()]
    assert got == expected
    await settle(emu)


async def test_cursor_of_pages_is_the_edge_of_the_last_page(
    client: om.Client, emu: Emulator
) -> None:
    ids = seed(emu, 120)
    pager = client.list("thread_p", order="asc", page_size=50)
    async for page in pager.pages():
        assert pager.cursor == page.data[-1].id
        break
    rest = await client.list("thread_p", order="asc", after=pager.cursor).collect()
    assert [m.id for m in rest] == ids[50:]
    backward = client.list("thread_p", order="asc", before=ids[100], page_size=30)
    async for page in backward.pages():
        assert backward.cursor == page.data[0].id == ids[70]
        break
    await settle(emu)


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("backward", [False, True])
async def test_prefetch_on_and_off_give_identical_results(
    client: om.Client, emu: Emulator, order: om.Order, backward: bool
) -> None:
    ids = seed(emu, 470)
    before = (ids[-1] if order == "asc" else ids[0]) if backward else None
    results = []
    for prefetch in (0, 1, 2, 5):
        emu.log.clear()
        pager = client.list("thread_p", order=order, before=before, page_size=25, prefetch=prefetch)
        results.append(([m.id for m in await pager.collect()], list_queries(emu)))
    assert all(r == results[0] for r in results)
    assert len(results[0][0]) == (469 if backward else 470)


async def test_prefetch_fetches_ahead_while_the_caller_works(
    client: om.Client, emu: Emulator
) -> None:
    seed(emu, 500)
    pager = client.list("thread_p", order="asc", page_size=100, prefetch=2)
    async for _ in pager.pages():
        # the caller works on its page: two more are requested meanwhile (and no more)
        await until(lambda: pager.requests >= 3 and not emu.in_flight, what="the prefetch")
        break
    assert pager.requests == 3
    assert len(emu.log.filter("list")) == 3
    await pager.aclose()
    await settle(emu)


# ----------------------------------------------------------------------------- early exits


@pytest.fixture
async def slow_emu(emu: Emulator) -> Emulator:
    seed(emu, 2000)
    emu.latency = 0.02
    return emu


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_break_leaves_nothing_running(
    client: om.Client, slow_emu: Emulator, prefetch: int
) -> None:
    async for _ in client.list("thread_p", page_size=10, prefetch=prefetch):
        break
    await settle(slow_emu)
    assert slow_emu.in_flight == 0


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_break_out_of_pages_leaves_nothing_running(
    client: om.Client, slow_emu: Emulator, prefetch: int
) -> None:
    async for _ in client.list("thread_p", page_size=10, prefetch=prefetch).pages():
        break
    await settle(slow_emu)


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_exception_in_the_loop_body_leaves_nothing_running(
    client: om.Client, slow_emu: Emulator, prefetch: int
) -> None:
    with pytest.raises(KeyError):
        async for _ in client.list("thread_p", page_size=10, prefetch=prefetch):
            raise KeyError("the caller's own error")
    await settle(slow_emu)


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_cancellation_leaves_nothing_running(
    client: om.Client, slow_emu: Emulator, prefetch: int
) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in client.list("thread_p", page_size=10, prefetch=prefetch):
            started.set()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(consume())
    await started.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settle(slow_emu)


async def test_timeout_around_a_walk_leaves_nothing_running(
    client: om.Client, slow_emu: Emulator
) -> None:
    with pytest.raises(asyncio.TimeoutError):  # not the builtin TimeoutError before 3.11
        await asyncio.wait_for(client.list("thread_p", page_size=10, prefetch=2).collect(), 0.1)
    await settle(slow_emu)


async def test_closing_the_client_stops_walks_in_progress(emu: Emulator) -> None:
    seed(emu, 2000)
    emu.latency = 0.02
    client = om.Client(api_key=API_KEY, base_url=emu.url, retry_policy=FAST_RETRIES)
    pager = client.list("thread_p", page_size=10, prefetch=3)
    async for _ in pager:
        break
    await client.close()
    await settle(emu)
    assert client.closed


# ----------------------------------------------------------------------------- failures


@pytest.mark.parametrize("prefetch", [0, 1, 2])
@pytest.mark.parametrize("backward", [False, True], ids=["after", "before"])
async def test_failed_page_raises_with_the_cursor_on_the_last_item(
    client: om.Client, emu: Emulator, prefetch: int, backward: bool
) -> None:
    ids = seed(emu, 250)
    # The 2nd page fails on every attempt (1 + FAST_RETRIES.max_retries), then heals.
    attempts = FAST_RETRIES.max_retries + 1
    emu.faults.add(Fault.error(503), route="list", nth=range(2, 2 + attempts))
    if backward:
        expected = ids[-2::-1]
        pager = client.list("thread_p", order="asc", before=ids[-1], prefetch=prefetch)
    else:
        expected = ids
        pager = client.list("thread_p", order="asc", prefetch=prefetch)
    got: list[str] = []
    with pytest.raises(om.InternalServerError):
        async for message in pager:
            got.append(message.id)
    assert got == expected[:100]
    assert pager.cursor == got[-1]
    assert emu.log.count("list", status=503) == attempts
    if backward:
        rest = client.list("thread_p", order="asc", before=pager.cursor, prefetch=prefetch)
    else:
        rest = client.list("thread_p", order="asc", after=pager.cursor, prefetch=prefetch)
    assert got + [m.id for m in await rest.collect()] == expected
    await settle(emu)


async def test_failed_first_page_keeps_the_starting_cursor(
    client: om.Client, emu: Emulator
) -> None:
    ids = seed(emu, 50)
    emu.faults.add(Fault.error(500), route="list", times=FAST_RETRIES.max_retries + 1)
    pager = client.list("thread_p", order="asc", after=ids[9])
    with pytest.raises(om.InternalServerError):
        await pager.collect()
    assert pager.cursor == ids[9]
    assert [m.id for m in await client.list("thread_p", order="asc", after=ids[9]).collect()] == (
        ids[10:]
    )
    await settle(emu)


async def test_not_found_thread_is_not_retried(client: om.Client, emu: Emulator) -> None:
    with pytest.raises(om.NotFoundError):
        await client.list("thread_missing").collect()
    assert emu.log.count("list") == 1


async def test_a_pager_walks_once(client: om.Client, emu: Emulator) -> None:
    seed(emu, 5)
    pager = client.list("thread_p")
    assert len(await pager.collect()) == 5
    with pytest.raises(RuntimeError):
        await pager.collect()


async def test_nothing_is_requested_before_iteration(client: om.Client, emu: Emulator) -> None:
    seed(emu, 5)
    pager = client.list("thread_p", prefetch=3)
    await asyncio.sleep(0.05)
    assert len(emu.log) == 0
    assert pager.requests == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page_size": 0},
        {"page_size": 101},
        {"max_items": -1},
        {"prefetch": -1},
        {"order": "up"},
        {"after": "a", "before": "b"},
        {"after": "../x"},
        {"before": "a b"},
    ],
)
async def test_bad_walk_arguments_are_refused_before_sending(
    client: om.Client, emu: Emulator, kwargs: dict[str, object]
) -> None:
    with pytest.raises(om.InvalidArgumentError):
        client.list("thread_p", **kwargs)  # type: ignore[arg-type]
    assert len(emu.log) == 0


# ----------------------------------------------------------------------------- v1 files


@pytest.fixture
async def v1_client(emu: Emulator) -> AsyncIterator[om.Client]:
    async with om.Client(
        api_key=API_KEY,
        base_url=emu.url,
        api_version="v1",
        retry_policy=FAST_RETRIES,
        retry_budget=None,
    ) as c:
        yield c


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("prefetch", [0, 2])
async def test_v1_list_files_walks_every_file(
    v1_client: om.Client, emu: Emulator, order: om.Order, prefetch: int
) -> None:
    file_ids = [f"file-{i:04d}" for i in range(250)]
    message = emu.store.add_message("thread_v1", file_ids=file_ids)
    pager = v1_client.list_files("thread_v1", message["id"], order=order, prefetch=prefetch)
    files = await pager.collect()
    assert [f.id for f in files] == (file_ids if order == "asc" else file_ids[::-1])
    assert {f.message_id for f in files} == {message["id"]}
    queries = list_queries(emu, "list_files")
    assert len(queries) == 3
    assert all(r.headers.get("OpenAI-Beta") == "assistants=v1" for r in emu.log)
    await settle(emu)


async def test_v1_list_files_max_items_backward_and_resume(
    v1_client: om.Client, emu: Emulator
) -> None:
    file_ids = [f"file-{i:04d}" for i in range(120)]
    message_id = emu.store.add_message("thread_v1", file_ids=file_ids)["id"]
    first = v1_client.list_files("thread_v1", message_id, order="asc", max_items=45, page_size=20)
    assert [f.id for f in await first.collect()] == file_ids[:45]
    assert [q["limit"] for q in list_queries(emu, "list_files")] == ["20", "20", "5"]
    rest = v1_client.list_files("thread_v1", message_id, order="asc", after=first.cursor)
    assert [f.id for f in await rest.collect()] == file_ids[45:]
    back = v1_client.list_files("thread_v1", message_id, order="asc", before=file_ids[30])
    assert [f.id for f in await back.collect()] == file_ids[:30][::-1]
    one = await v1_client.retrieve_file("thread_v1", message_id, file_ids[7])
    assert (one.id, one.message_id) == (file_ids[7], message_id)
    await settle(emu)


async def test_v1_list_files_of_a_message_without_files(
    v1_client: om.Client, emu: Emulator
) -> None:
    message_id = emu.store.add_message("thread_v1")["id"]
    assert await v1_client.list_files("thread_v1", message_id).collect() == []
    assert len(list_queries(emu, "list_files")) == 1
