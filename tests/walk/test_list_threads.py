"""Listing threads (issue 22 items 1 and 4): ``client.list_threads`` over loopback against
the emulator's Foundry prefix (and the others behind the switch), the typed error where a
server does not list threads, the pager's guards, and the emulator's ``GET /threads``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import openai_messages as om
from openai_messages._codec import converter
from openai_messages.emulator import Emulator, Fault

from ..emulator_support import spawn_emulator as _spawn
from ..emulator_support import status_and_body as call
from ..emulator_support import url
from ..support import API_KEY, FAST_RETRIES


def foundry_client(emu: Emulator, **options: Any) -> om.Client:
    return om.Client.foundry(
        emu.url_for("foundry"),
        token_provider=lambda: emu.issue_token(600.0).token,
        retry_policy=FAST_RETRIES,
        retry_budget=None,
        **options,
    )


def seed_threads(emu: Emulator, count: int) -> list[str]:
    return [emu.store.create_thread(metadata={"n": str(n)}) for n in range(count)]


async def test_list_threads_walks_every_thread_of_a_foundry_project(emu: Emulator) -> None:
    ids = seed_threads(emu, 230)
    async with foundry_client(emu) as client:
        oldest_first = [t.id async for t in client.list_threads(order="asc")]
        newest_first = await client.list_threads(order="desc", page_size=7).collect()
        pages = [len(p) async for p in client.list_threads(order="asc").pages()]
    assert oldest_first == ids
    assert [t.id for t in newest_first] == ids[::-1]
    assert newest_first[0].metadata == {"n": "229"}
    assert pages == [100, 100, 30]
    walks = emu.log.filter("list_threads")
    assert walks[0].path == "/api/projects/emulator/threads"
    assert walks[0].query == {"api-version": "v1", "limit": "100", "order": "asc"}
    assert walks[1].query["after"] == ids[99]


async def test_the_cursor_resumes_a_listing_and_before_walks_back(emu: Emulator) -> None:
    ids = seed_threads(emu, 25)
    async with foundry_client(emu) as client:
        pager = client.list_threads(order="asc", page_size=4, max_items=10)
        first = [t.id async for t in pager]
        rest = [t.id async for t in client.list_threads(order="asc", after=pager.cursor)]
        back = [t.id async for t in client.list_threads(order="asc", before=ids[5])]
    assert first == ids[:10]
    assert pager.cursor == ids[9]
    assert rest == ids[10:]
    assert back == ids[4::-1]


async def test_with_response_yields_one_thread_page_per_request(emu: Emulator) -> None:
    ids = seed_threads(emu, 5)
    async with foundry_client(emu) as client:
        responses = [r async for r in client.with_response.list_threads(order="asc", page_size=2)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert all(isinstance(r.value, om.ThreadPage) for r in responses)
    assert [t.id for r in responses for t in r.value] == ids
    assert responses[0].value.first_id == ids[0]
    assert responses[0].value.has_more
    assert responses[0].request_id == emu.log.filter("list_threads")[0].request_id


@pytest.mark.parametrize("flavour", ["openai", "azure", "azure_v1"])
async def test_a_service_that_does_not_list_threads_raises_a_typed_error(
    emu: Emulator, flavour: str
) -> None:
    seed_threads(emu, 3)
    if flavour == "openai":
        client = om.Client(api_key=API_KEY, base_url=emu.url)
    else:
        version = "v1" if flavour == "azure_v1" else "2024-05-01-preview"
        client = om.Client.azure(
            endpoint=emu.url_for("azure"), azure_api_version=version, api_key=API_KEY
        )
    async with client:
        with pytest.raises(om.ThreadListingUnsupportedError) as caught:
            await client.list_threads().collect()
        with pytest.raises(om.NotFoundError):  # a 404 is still a NotFoundError
            async for _ in client.list_threads():
                pass
        emu.list_threads = True  # a compatible server that lists them
        assert len(await client.list_threads().collect()) == 3
    error = caught.value
    assert error.status_code == 404
    assert type(error).__name__ == "ThreadListingUnsupportedError"
    assert "cannot list threads" in str(error)
    assert "Invalid URL" in str(error)
    assert error.request_id is not None


@pytest.fixture
async def refusing() -> AsyncIterator[str]:
    """A server whose ``/v1/threads`` allows POST only: GET answers 405."""

    async def create(request: web.Request) -> web.Response:
        return web.json_response({"id": "thread_1", "object": "thread"})

    app = web.Application()
    app.router.add_post("/v1/threads", create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


async def test_a_405_is_the_typed_error_too(refusing: str) -> None:
    async with om.Client(api_key=API_KEY, base_url=refusing, retry_policy=FAST_RETRIES) as client:
        with pytest.raises(om.ThreadListingUnsupportedError) as caught:
            await client.list_threads().collect()
        assert client.stats["retries"] == 0
    assert caught.value.status_code == 405
    assert not isinstance(caught.value, om.NotFoundError)
    assert API_KEY not in repr(caught.value.headers) + str(caught.value)


async def test_other_errors_are_not_taken_for_an_unsupported_listing(emu: Emulator) -> None:
    seed_threads(emu, 3)
    emu.faults.add(Fault.error(503), route="list_threads", times=1)
    emu.faults.add(Fault.error(400), route="list_threads", nth=3)  # after 503, 200
    async with foundry_client(emu) as client:
        assert len(await client.list_threads().collect()) == 3  # the 503 is retried
        with pytest.raises(om.BadRequestError) as caught:
            await client.list_threads().collect()
    assert not isinstance(caught.value, om.ThreadListingUnsupportedError)


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (Fault.repeat_page(), "repeated items"),
        (Fault.empty_has_more(), "has_more but sent an empty page"),
        (Fault.reverse_page(), "go backwards"),
    ],
)
async def test_the_pager_guards_apply_to_a_lying_thread_list(
    emu: Emulator, fault: Fault, problem: str
) -> None:
    seed_threads(emu, 6)
    for n, thread_id in enumerate(emu.store.thread_ids()):
        emu.store.thread(thread_id).created_at = 1_700_000_000 + n  # type: ignore[union-attr]
    emu.faults.add(fault, route="list_threads", nth=2 if problem == "repeated items" else 1)
    async with foundry_client(emu) as client:
        with pytest.raises(om.PaginationError, match=problem):
            await client.list_threads(order="asc", page_size=3).collect()


def test_a_thread_page_is_read_leniently_and_losslessly() -> None:
    payloads: list[dict[str, Any]] = [
        {"data": [{"id": "thread_a", "created_at": 1, "future": [1]}], "last_id": "thread_a"},
        {
            "object": "list",
            "data": [],
            "first_id": None,
            "last_id": None,
            "has_more": False,
            "next": "x",
        },
    ]
    for payload in payloads:
        page = converter.structure(payload, om.ThreadPage)
        assert converter.unstructure(page) == payload
    page = converter.structure(payloads[0], om.ThreadPage)
    assert page.data[0].extra == {"future": [1]}
    assert "has_more" in page.absent_fields
    assert "object" in page.absent_fields


# -- the emulator's GET /threads ---------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[Emulator]:
    async with Emulator(api_key="sk-emu-threads", seed=22) as emu:
        yield emu


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": "Bearer sk-emu-threads"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield session


async def test_the_emulator_lists_threads_in_the_foundry_shape(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    ids = [server.store.create_thread() for _ in range(25)]
    server.store.delete_thread(ids[3])
    live = ids[:3] + ids[4:]
    status, page = await call(http, "GET", url(server, "foundry", "/threads"))
    assert status == 200
    assert set(page) == {"object", "data", "first_id", "last_id", "has_more"}
    assert page["object"] == "list"
    assert page["has_more"] is True
    assert [t["id"] for t in page["data"]] == live[::-1][:20]  # default: desc, 20
    assert (page["first_id"], page["last_id"]) == (live[-1], live[-20])
    assert set(page["data"][0]) == {"id", "object", "created_at", "metadata", "tool_resources"}
    base = url(server, "foundry", "/threads")
    status, page = await call(http, "GET", f"{base}&order=asc&limit=2&after={ids[3]}")
    assert [t["id"] for t in page["data"]] == ids[4:6]  # a deleted thread is still a cursor
    status, page = await call(http, "GET", f"{base}&order=asc&before={ids[2]}")
    assert [t["id"] for t in page["data"]] == ids[:2]
    assert page["has_more"] is False
    for query, param in (("limit=0", "limit"), ("limit=101", "limit"), ("after=thread_x", "after")):
        status, error = await call(http, "GET", f"{base}&{query}")
        assert status == 400, (query, error)
        assert param in str(error)


async def test_a_thread_made_again_after_a_delete_is_listed_once_as_the_newest(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    ids = [server.store.create_thread(f"thread_{n}") for n in range(3)]
    server.store.delete_thread(ids[0])
    server.store.create_thread(ids[0])
    status, page = await call(http, "GET", url(server, "foundry", "/threads") + "&order=asc")
    assert status == 200
    assert [t["id"] for t in page["data"]] == [*ids[1:], ids[0]]


async def test_the_other_prefixes_answer_404_unless_switched_on(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    server.store.create_thread()
    for flavour in ("openai", "azure", "azure_v1"):
        status, error = await call(http, "GET", url(server, flavour, "/threads"))
        assert (status, "Invalid URL" in error["error"]["message"]) == (404, True), flavour
    server.list_threads = True
    for flavour in ("openai", "azure", "azure_v1"):
        status, page = await call(http, "GET", url(server, flavour, "/threads"))
        assert (status, len(page["data"])) == (200, 1), flavour


async def test_serve_list_threads_lists_them_on_every_prefix() -> None:
    proc = await _spawn(
        *("--port", "0", "--seed-threads", "3", "--api-key", "sk-cli", "--list-threads"),
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 30)).decode() for _ in range(3)]
        base_url = lines[0].strip().split("=", 1)[1]
        seeded = lines[2].strip().split("=", 1)[1].split(",")
        async with (
            aiohttp.ClientSession(headers={"Authorization": "Bearer sk-cli"}) as session,
            session.get(f"{base_url}/threads", params={"order": "asc"}) as resp,
        ):
            assert resp.status == 200
            assert [t["id"] for t in (await resp.json())["data"]] == seeded
    finally:
        proc.kill()
        await proc.wait()
