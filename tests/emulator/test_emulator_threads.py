"""Threads in the emulator over real loopback HTTP: CRUD on every prefix, the real API's
404 and 400 answers, and the switch for looser ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from openai_messages.emulator import Emulator, Faults

from ..emulator_support import PREFIXES, url
from ..emulator_support import status_and_body as call

KEY = "sk-emu-threads"
THREAD_FIELDS = {"id", "object", "created_at", "metadata", "tool_resources"}


@pytest.fixture
async def server() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, seed=21) as emu:
        yield emu


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as session:
        yield session


@pytest.mark.parametrize("flavour", list(PREFIXES))
async def test_thread_crud_on_every_prefix(
    server: Emulator, http: aiohttp.ClientSession, flavour: str
) -> None:
    body = {
        "messages": [
            {"role": "user", "content": "first", "metadata": {"n": "1"}},
            {"role": "assistant", "content": [{"type": "text", "text": "second"}]},
        ],
        "metadata": {"project": "x"},
        "tool_resources": {"code_interpreter": {"file_ids": ["file-1"]}},
    }
    status, thread = await call(http, "POST", url(server, flavour, "/threads"), body)
    assert status == 200, thread
    assert set(thread) == THREAD_FIELDS
    assert thread["object"] == "thread"
    assert thread["id"].startswith("thread_")
    assert isinstance(thread["created_at"], int)
    assert thread["metadata"] == {"project": "x"}
    assert thread["tool_resources"] == {"code_interpreter": {"file_ids": ["file-1"]}}
    tid = thread["id"]
    stored = server.store.messages(tid)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert [m["content"][0]["text"]["value"] for m in stored] == ["first", "second"]
    assert stored[0]["metadata"] == {"n": "1"}
    assert all(m["thread_id"] == tid for m in stored)

    status, got = await call(http, "GET", url(server, flavour, f"/threads/{tid}"))
    assert (status, got) == (200, thread)
    status, changed = await call(
        http, "POST", url(server, flavour, f"/threads/{tid}"), {"metadata": {"k": "v"}}
    )
    assert status == 200
    assert changed["metadata"] == {"k": "v"}
    assert changed["tool_resources"] == thread["tool_resources"]  # untouched

    status, gone = await call(http, "DELETE", url(server, flavour, f"/threads/{tid}"))
    assert (status, gone) == (200, {"id": tid, "object": "thread.deleted", "deleted": True})
    assert server.store.thread(tid) is None
    for method, path in (
        ("GET", f"/threads/{tid}"),
        ("DELETE", f"/threads/{tid}"),
        ("GET", f"/threads/{tid}/messages"),
        ("GET", f"/threads/{tid}/messages/{stored[0]['id']}"),
    ):
        status, err = await call(http, method, url(server, flavour, path))
        assert status == 404, (method, path, err)
        assert err["error"]["message"] == f"No thread found with id '{tid}'."


async def test_an_empty_create_makes_an_empty_thread(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    status, thread = await call(http, "POST", f"{server.url}/threads")
    assert status == 200
    assert thread["metadata"] == {}
    assert thread["tool_resources"] == {}
    assert server.store.count(thread["id"]) == 0
    status, page = await call(http, "GET", f"{server.url}/threads/{thread['id']}/messages")
    assert (status, page["data"]) == (200, [])


async def test_create_into_a_missing_thread_is_404_in_the_openai_shape(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    body = {"role": "user", "content": "hi"}
    status, err = await call(http, "POST", f"{server.url}/threads/thread_nope/messages", body)
    assert status == 404
    assert err == {
        "error": {
            "message": "No thread found with id 'thread_nope'.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    assert server.store.thread("thread_nope") is None  # nothing was created


@pytest.mark.parametrize(
    ("path", "param", "prefix"),
    [
        ("/threads/undefined/messages", "thread_id", "thread"),
        ("/threads/undefined", "thread_id", "thread"),
        ("/threads/thread_x/messages/m_1", "message_id", "msg"),
    ],
)
async def test_ids_with_the_wrong_prefix_are_400(
    server: Emulator, http: aiohttp.ClientSession, path: str, param: str, prefix: str
) -> None:
    server.store.create_thread("thread_x")
    value = path.split("/")[-1] if param == "message_id" else "undefined"
    methods = ("GET", "POST") if path.endswith("/messages") else ("GET", "POST", "DELETE")
    for method in methods:
        body = {"role": "user", "content": "x"} if method == "POST" else None
        status, err = await call(http, method, f"{server.url}{path}", body)
        assert status == 400, (method, err)
        assert err["error"] == {
            "message": f"Invalid '{param}': '{value}'. Expected an ID that begins with '{prefix}'.",
            "type": "invalid_request_error",
            "param": param,
            "code": "invalid_id_prefix",
        }
    assert server.store.count("thread_x") == 0


async def test_loose_ids_switch() -> None:
    async with (
        Emulator(api_key=KEY, strict_ids=False) as emu,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        emu.store.create_thread("t1")
        status, msg = await call(
            http, "POST", f"{emu.url}/threads/t1/messages", {"role": "user", "content": "x"}
        )
        assert status == 200
        assert msg["thread_id"] == "t1"
        emu.store.add_message("t1", content="seeded")
        status, _ = await call(http, "GET", f"{emu.url}/threads/t1")
        assert status == 200
        # still 404 for a thread that does not exist, loose ids or not
        status, _ = await call(
            http, "POST", f"{emu.url}/threads/t2/messages", {"role": "user", "content": "x"}
        )
        assert status == 404
        emu.strict_ids = True
        status, err = await call(http, "GET", f"{emu.url}/threads/t1")
        assert status == 400
        assert err["error"]["param"] == "thread_id"


async def test_implicit_threads_switch() -> None:
    async with (
        Emulator(api_key=KEY, implicit_threads=True) as emu,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        body = {"role": "user", "content": "x"}
        status, msg = await call(http, "POST", f"{emu.url}/threads/thread_new/messages", body)
        assert (status, msg["thread_id"]) == (200, "thread_new")
        assert emu.store.count("thread_new") == 1
        emu.implicit_threads = False
        status, _ = await call(http, "POST", f"{emu.url}/threads/thread_other/messages", body)
        assert status == 404


async def test_thread_create_validates_everything_before_creating_anything(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    cases: list[tuple[Any, str | None]] = [
        (
            {"messages": [{"role": "user", "content": "ok"}, {"role": "user"}]},
            "messages[1].content",
        ),
        ({"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": "x", "extra": 1}]}, "messages[0].extra"),
        ({"messages": ["x"]}, "messages[0]"),
        ({"messages": {"role": "user"}}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}] * 33}, "messages"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"tool_resources": {"nope": {}}}, "tool_resources.nope"),
        ({"tool_resources": {"code_interpreter": {"file_ids": ["f"] * 21}}}, None),
        ({"tool_resources": {"file_search": {"vector_store_ids": ["a", "b"]}}}, None),
        ({"unknown": 1}, "unknown"),
    ]
    for body, param in cases:
        status, err = await call(http, "POST", f"{server.url}/threads", body)
        assert status == 400, (body, err)
        assert err["error"]["type"] == "invalid_request_error"
        if param is not None:
            assert err["error"]["param"] == param, (body, err)
    assert server.store.thread_ids() == []


async def test_inline_vector_stores_become_ids(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    body = {"tool_resources": {"file_search": {"vector_stores": [{"file_ids": ["file-1"]}]}}}
    status, thread = await call(http, "POST", f"{server.url}/threads", body)
    assert status == 200
    (vs_id,) = thread["tool_resources"]["file_search"]["vector_store_ids"]
    assert vs_id.startswith("vs_")


async def test_v1_threads_have_no_tool_resources(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    v1 = {"OpenAI-Beta": "assistants=v1"}
    body = {"messages": [{"role": "user", "content": "x", "file_ids": ["file-1"]}]}
    status, thread = await call(http, "POST", f"{server.url}/threads", body, headers=v1)
    assert status == 200
    assert set(thread) == {"id", "object", "created_at", "metadata"}
    assert server.store.messages(thread["id"])[0]["attachments"] == []
    status, err = await call(
        http, "POST", f"{server.url}/threads", {"tool_resources": {}}, headers=v1
    )
    assert (status, err["error"]["param"]) == (400, "tool_resources")


async def test_thread_create_honours_idempotency_key(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    key = {"Idempotency-Key": "thread-key-1"}
    body = {"messages": [{"role": "user", "content": "once"}]}
    _, first = await call(http, "POST", f"{server.url}/threads", body, headers=key)
    _, again = await call(http, "POST", f"{server.url}/threads", body, headers=key)
    _, other = await call(http, "POST", f"{server.url}/threads", body)
    assert first == again
    assert other["id"] != first["id"]
    assert server.store.count(first["id"]) == 1
    assert len(server.store.thread_ids()) == 2


async def test_deleting_a_thread_deletes_its_messages(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    status, thread = await call(http, "POST", f"{server.url}/threads")
    tid = thread["id"]
    for i in range(3):
        await call(
            http,
            "POST",
            f"{server.url}/threads/{tid}/messages",
            {"role": "user", "content": str(i)},
        )
    mid = server.store.messages(tid)[0]["id"]
    await call(http, "DELETE", f"{server.url}/threads/{tid}")
    assert server.store.get(tid, mid) is None
    assert tid not in server.store.thread_ids()
    status, _ = await call(http, "GET", f"{server.url}/threads/{tid}/messages/{mid}")
    assert status == 404


async def test_thread_routes_take_faults_and_are_logged(server: Emulator) -> None:
    server.faults = Faults.chaos(seed=2, error_rate=1.0, drop_rate=0.0, truncate_rate=0.0)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http:
        status, _ = await call(http, "POST", f"{server.url}/threads")
    assert status in (429, 500, 502, 503)
    assert server.log.count("create_thread") == 1
    assert server.store.thread_ids() == []
