"""Thread operations (issue 16 item 1) and ``with_response`` for every call, against a
small aiohttp.web server of the test's own on loopback (the emulator has no thread
routes yet)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import orjson
import pytest
from aiohttp import web

import openai_messages as om
from openai_messages.emulator import Emulator

from .support import API_KEY, FAST_RETRIES


class ThreadServer:
    """POST/GET/DELETE /v1/threads[/{id}], storing threads in memory; faults on demand."""

    def __init__(self) -> None:
        self.threads: dict[str, dict[str, Any]] = {}
        self.requests: list[web.Request] = []
        self.bodies: list[Any] = []
        self.fail_next: list[str] = []  # "500", "drop", "500-after-commit"
        self._ids = itertools.count(1)
        app = web.Application()
        app.router.add_post("/v1/threads", self.create)
        app.router.add_get("/v1/threads/{thread_id}", self.retrieve)
        app.router.add_post("/v1/threads/{thread_id}", self.modify)
        app.router.add_delete("/v1/threads/{thread_id}", self.delete)
        self.runner = web.AppRunner(app)
        self.url = ""

    async def __aenter__(self) -> ThreadServer:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()

    def _fault(self, request: web.Request) -> str | None:
        self.requests.append(request)
        return self.fail_next.pop(0) if self.fail_next else None

    @staticmethod
    def _answer(fault: str | None, payload: Any) -> web.StreamResponse:
        if fault == "drop":
            raise ConnectionResetError  # aiohttp.web closes the connection
        if fault is not None and fault.startswith("500"):
            return web.json_response({"error": {"message": "boom"}}, status=500)
        return web.json_response(payload, headers={"x-request-id": "req_t"})

    async def create(self, request: web.Request) -> web.StreamResponse:
        fault = self._fault(request)
        body = orjson.loads(await request.read())
        self.bodies.append(body)
        if fault == "500":
            return self._answer(fault, None)
        thread_id = f"thread_{next(self._ids)}"
        thread = {
            "id": thread_id,
            "object": "thread",
            "created_at": 1700000000,
            "metadata": body.get("metadata", {}),
            "tool_resources": body.get("tool_resources"),
        }
        self.threads[thread_id] = thread
        return self._answer(fault, thread)

    def _find(self, request: web.Request) -> dict[str, Any] | None:
        return self.threads.get(request.match_info["thread_id"])

    async def retrieve(self, request: web.Request) -> web.StreamResponse:
        fault = self._fault(request)
        thread = self._find(request)
        if thread is None:
            return web.json_response({"error": {"message": "no such thread"}}, status=404)
        return self._answer(fault, thread)

    async def modify(self, request: web.Request) -> web.StreamResponse:
        fault = self._fault(request)
        thread = self._find(request)
        if thread is None:
            return web.json_response({"error": {"message": "no such thread"}}, status=404)
        body = orjson.loads(await request.read())
        thread["metadata"] = body.get("metadata") or {}
        if "tool_resources" in body:
            thread["tool_resources"] = body["tool_resources"]
        return self._answer(fault, thread)

    async def delete(self, request: web.Request) -> web.StreamResponse:
        fault = self._fault(request)
        thread_id = request.match_info["thread_id"]
        if self.threads.pop(thread_id, None) is None:
            return web.json_response({"error": {"message": "no such thread"}}, status=404)
        return self._answer(fault, {"id": thread_id, "object": "thread.deleted", "deleted": True})


@pytest.fixture
async def server() -> AsyncIterator[ThreadServer]:
    async with ThreadServer() as running:
        yield running


def _client(server: ThreadServer, **options: Any) -> om.Client:
    return om.Client(
        api_key=API_KEY,
        base_url=server.url,
        retry_policy=FAST_RETRIES,
        retry_budget=None,
        **options,
    )


async def test_thread_round_trip(server: ThreadServer) -> None:
    async with _client(server) as client:
        thread = await client.create_thread(
            messages=[{"role": "user", "content": "hi"}],
            metadata={"a": "1"},
            tool_resources={"code_interpreter": {"file_ids": []}},
        )
        assert isinstance(thread, om.Thread)
        assert (thread.object, thread.metadata) == ("thread", {"a": "1"})
        assert thread.tool_resources == {"code_interpreter": {"file_ids": []}}
        assert await client.retrieve_thread(thread.id) == thread
        modified = await client.modify_thread(thread.id, metadata={"a": "2"})
        assert modified.metadata == {"a": "2"}
        gone = await client.delete_thread(thread.id)
        assert isinstance(gone, om.DeletedThread)
        assert (gone.id, gone.deleted) == (thread.id, True)
        with pytest.raises(om.NotFoundError):
            await client.retrieve_thread(thread.id)
    assert server.bodies[0]["messages"] == [{"role": "user", "content": "hi"}]
    assert server.requests[0].headers["Idempotency-Key"].startswith("om-")


async def test_create_thread_checks_its_messages(server: ThreadServer) -> None:
    async with _client(server) as client:
        bad: list[Any] = [[{"role": "robot", "content": "x"}], [{"content": ""}], ["hi"]]
        for messages in bad:
            with pytest.raises(om.InvalidArgumentError, match=r"messages\[0\]"):
                await client.create_thread(messages=messages)
        with pytest.raises(om.InvalidArgumentError):
            await client.retrieve_thread("thread/../x")
    assert server.requests == []


async def test_ambiguous_thread_create_is_reported_not_repeated(server: ThreadServer) -> None:
    server.fail_next = ["500-after-commit"]
    async with _client(server) as client:
        with pytest.raises(om.CreateOutcomeUnknownError) as info:
            await client.create_thread(idempotency_key="key-1")
    assert info.value.thread_id is None
    assert info.value.idempotency_key == "key-1"
    assert len(server.threads) == 1
    assert len(server.requests) == 1


async def test_trusted_key_resends_a_thread_create(server: ThreadServer) -> None:
    server.fail_next = ["500"]
    async with _client(server, trust_idempotency_key=True) as client:
        thread = await client.create_thread()
    keys = [r.headers["Idempotency-Key"] for r in server.requests]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert list(server.threads) == [thread.id]


async def test_thread_delete_after_a_failed_attempt_is_done(server: ThreadServer) -> None:
    async with _client(server) as client:
        thread = await client.create_thread()
        server.fail_next = ["500-after-commit"]  # deleted, then the reply is an error
        gone = await client.delete_thread(thread.id)
    assert (gone.id, gone.deleted) == (thread.id, True)
    assert server.threads == {}


async def test_with_response_for_thread_calls(server: ThreadServer) -> None:
    async with _client(server) as client:
        created = await client.with_response.create_thread(metadata={"x": "y"})
        assert (created.status_code, created.request_id) == (200, "req_t")
        thread_id = created.value.id
        calls: list[Awaitable[om.Response[Any]]] = [
            client.with_response.retrieve_thread(thread_id),
            client.with_response.modify_thread(thread_id, metadata={}),
            client.with_response.delete_thread(thread_id, timeout=5.0, max_retries=0),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 200
            assert response.attempts == 1


# -- with_response and per-call options for the message calls, on the emulator ----------


async def test_with_response_for_every_message_call(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_w")
    emu.store.add_messages("thread_w", 5)
    wr = client.with_response
    created = await wr.create("thread_w", role="user", content="x")
    assert created.status_code == 200
    assert created.request_id
    message_id = created.value.id
    assert (await wr.retrieve("thread_w", message_id)).value == created.value
    assert (await wr.modify("thread_w", message_id, metadata={"k": "v"})).value.metadata == {
        "k": "v"
    }
    pages = [page async for page in wr.list("thread_w", page_size=2, max_items=5)]
    assert [len(p.value.data) for p in pages] == [2, 2, 1]
    assert all(isinstance(p, om.Response) and p.status_code == 200 for p in pages)
    assert pages[0].request_id
    assert (await wr.delete("thread_w", message_id)).value.deleted


async def test_with_response_for_message_files(emu: Emulator) -> None:
    emu.store.create_thread("thread_f")
    message = emu.store.add_message("thread_f", file_ids=["file_a", "file_b"])
    async with om.Client(api_key=API_KEY, base_url=emu.url, api_version="v1") as client:
        pages = [p async for p in client.with_response.list_files("thread_f", message["id"])]
        assert [f.id for p in pages for f in p.value.data] == ["file_b", "file_a"]
        one = await client.with_response.retrieve_file("thread_f", message["id"], "file_a")
        assert one.value.id == "file_a"


async def test_list_takes_every_per_call_option(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_o")
    emu.store.add_messages("thread_o", 3)
    pager = client.list(
        "thread_o",
        page_size=2,
        timeout=5.0,
        max_retries=0,
        extra_headers={"X-Trace": "t1"},
        extra_query={"probe": "1"},
    )
    assert len(await pager.collect()) == 3
    lists = [r for r in emu.log if r.route == "list"]
    assert len(lists) == 2
    assert all(r.headers.get("X-Trace") == "t1" for r in lists)
    assert all(r.query.get("probe") == "1" for r in lists)
    with pytest.raises(om.InvalidArgumentError):
        await client.list("thread_o", max_retries=-1).collect()


# -- issue 14 item 1 (the client's part): limiter waits count in the call's timeout ------


async def test_waiting_for_the_limiter_counts_in_the_timeout(emu: Emulator) -> None:
    emu.store.create_thread("thread_l")
    emu.store.add_messages("thread_l", 1)
    message_id = emu.store.messages("thread_l")[0]["id"]
    emu.latency = 3.0
    limits = om.RateLimits(max_concurrency=1, adaptive=False)
    async with om.Client(
        api_key=API_KEY, base_url=emu.url, rate_limits=limits, max_retries=0
    ) as client:
        hog = asyncio.ensure_future(client.retrieve("thread_l", message_id, timeout=30.0))
        await asyncio.sleep(0.2)  # the hog holds the only slot
        with pytest.raises(om.APITimeoutError, match="rate limiter"):
            # a hang guard, not a timing assertion
            await asyncio.wait_for(client.retrieve("thread_l", message_id, timeout=0.5), 20)
        hog.cancel()
        await asyncio.gather(hog, return_exceptions=True)
