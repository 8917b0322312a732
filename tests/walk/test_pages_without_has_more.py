"""A compatible server whose list pages leave ``has_more`` out (issue 14 item 4, pager
side): the walk goes on while pages come back full, and ends at a short or empty one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

import openai_messages as om

from ..support import API_KEY, FAST_RETRIES

THREAD = "thread_nomore"


class NoHasMoreServer:
    """A loopback server of one thread's list whose pages have ``data`` and no ``has_more``."""

    def __init__(self, count: int) -> None:
        self.ids = [f"msg_{n:05d}" for n in range(count)]
        self.limits: list[int] = []
        self.url = ""

    def message(self, mid: str, stamp: int) -> dict[str, Any]:
        return {
            "id": mid,
            "object": "thread.message",
            "created_at": 1_700_000_000 + stamp,
            "thread_id": THREAD,
            "role": "user",
            "content": [],
        }

    async def handle(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "20"))
        after = request.query.get("after")
        self.limits.append(limit)
        start = self.ids.index(after) + 1 if after else 0
        page = [self.message(mid, start + n) for n, mid in enumerate(self.ids[start:][:limit])]
        return web.json_response({"object": "list", "data": page})

    async def __aenter__(self) -> NoHasMoreServer:
        app = web.Application()
        app.router.add_get(f"/v1/threads/{THREAD}/messages", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._runner.cleanup()


@pytest.fixture
async def client_of() -> AsyncIterator[Any]:
    servers: list[NoHasMoreServer] = []
    clients: list[om.Client] = []

    async def make(count: int) -> tuple[NoHasMoreServer, om.Client]:
        server = await NoHasMoreServer(count).__aenter__()
        servers.append(server)
        client = om.Client(api_key=API_KEY, base_url=server.url, retry_policy=FAST_RETRIES)
        clients.append(client)
        return server, client

    yield make
    for client in clients:
        await client.close()
    for server in servers:
        await server.__aexit__()


@pytest.mark.parametrize(
    ("count", "requests"), [(0, 1), (7, 1), (10, 2), (25, 3), (30, 4)]
)  # fmt: skip
@pytest.mark.parametrize("prefetch", [0, 1])
async def test_full_pages_without_has_more_are_walked_on(
    client_of: Any, count: int, requests: int, prefetch: int
) -> None:
    server, client = await client_of(count)
    got = [m.id async for m in client.list(THREAD, order="asc", page_size=10, prefetch=prefetch)]
    assert got == server.ids
    assert len(server.limits) == requests


async def test_max_items_without_has_more_asks_for_what_is_left(client_of: Any) -> None:
    server, client = await client_of(30)
    got = await client.list(THREAD, order="asc", page_size=10, max_items=15).collect()
    assert [m.id for m in got] == server.ids[:15]
    assert server.limits == [10, 5]


async def test_fetch_many_walks_every_page_without_has_more(client_of: Any) -> None:
    server, client = await client_of(250)
    results = [r async for r in client.fetch_many([THREAD], page_size=100)]
    assert results[0].ok
    assert [m.id for m in results[0].messages] == server.ids


async def test_with_response_list_walks_every_page_without_has_more(client_of: Any) -> None:
    server, client = await client_of(25)
    pages = [r async for r in client.with_response.list(THREAD, order="asc", page_size=10)]
    assert [m.id for r in pages for m in r.value.data] == server.ids
    assert [r.status_code for r in pages] == [200, 200, 200]
