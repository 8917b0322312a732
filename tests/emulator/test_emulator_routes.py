"""The emulator's routes over real loopback HTTP: shapes, validation, auth, v1, Azure."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import orjson
import pytest
from yarl import URL

from openai_messages.emulator import Emulator

from ..emulator_support import KEY, assert_error, http, server
from ..support import call, until

__all__ = ["http", "server"]  # the route tests' fixtures: pytest finds them by these names

V2_FIELDS = {
    "id",
    "object",
    "created_at",
    "thread_id",
    "status",
    "incomplete_details",
    "completed_at",
    "incomplete_at",
    "role",
    "content",
    "assistant_id",
    "run_id",
    "attachments",
    "metadata",
}
V1_FIELDS = {
    "id",
    "object",
    "created_at",
    "thread_id",
    "role",
    "content",
    "file_ids",
    "assistant_id",
    "run_id",
    "metadata",
}
V1 = {"OpenAI-Beta": "assistants=v1"}


# -- create / retrieve / modify / delete ----------------------------------------------


async def test_create_string_content_v2_shape(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    server.store.create_thread("thread_a")
    status, msg, _ = await call(
        http,
        "POST",
        f"{server.url}/threads/thread_a/messages",
        json={"role": "user", "content": "Hello", "metadata": {"k": "v"}},
    )
    assert status == 200
    assert set(msg) == V2_FIELDS
    assert msg["id"].startswith("msg_")
    assert len(msg["id"]) == 28
    assert msg["object"] == "thread.message"
    assert msg["thread_id"] == "thread_a"
    assert msg["status"] == "completed"
    assert msg["incomplete_details"] is None
    assert msg["incomplete_at"] is None
    assert msg["completed_at"] == msg["created_at"]
    assert msg["content"] == [{"type": "text", "text": {"value": "Hello", "annotations": []}}]
    assert msg["attachments"] == []
    assert msg["metadata"] == {"k": "v"}
    assert server.store.get("thread_a", msg["id"]) == msg  # created the thread too


async def test_create_content_parts_and_attachments(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    server.store.create_thread("thread_a")
    parts = [
        {"type": "text", "text": "look"},
        {"type": "image_file", "image_file": {"file_id": "file-abc", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
    ]
    attachments = [{"file_id": "file-1", "tools": [{"type": "code_interpreter"}]}]
    status, msg, _ = await call(
        http,
        "POST",
        f"{server.url}/threads/thread_a/messages",
        json={"role": "assistant", "content": parts, "attachments": attachments},
    )
    assert status == 200
    assert msg["role"] == "assistant"
    assert msg["content"] == [
        {"type": "text", "text": {"value": "look", "annotations": []}},
        {"type": "image_file", "image_file": {"file_id": "file-abc", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
    ]
    assert msg["attachments"] == attachments
    status, msg, _ = await call(
        http,
        "POST",
        f"{server.url}/threads/thread_a/messages",
        json={"role": "user", "content": "x", "attachments": None},
    )
    assert status == 200
    assert msg["attachments"] == []


async def test_retrieve_modify_delete(server: Emulator, http: aiohttp.ClientSession) -> None:
    created = server.store.add_message("thread_b", "user", "hi", metadata={"a": "1"})
    url = f"{server.url}/threads/thread_b/messages/{created['id']}"
    status, got, _ = await call(http, "GET", url)
    assert (status, got) == (200, created)
    status, got, _ = await call(http, "POST", url, json={"metadata": {"b": "2"}})
    assert status == 200
    assert got["metadata"] == {"b": "2"}
    assert got["id"] == created["id"]
    status, got, _ = await call(http, "GET", url)
    assert got["metadata"] == {"b": "2"}
    status, got, _ = await call(http, "POST", url, json={})
    assert (status, got["metadata"]) == (200, {"b": "2"})
    status, got, _ = await call(http, "DELETE", url)
    assert (status, got) == (
        200,
        {"id": created["id"], "object": "thread.message.deleted", "deleted": True},
    )
    for method in ("GET", "DELETE", "POST"):
        status, got, _ = await call(http, method, url, json={} if method == "POST" else None)
        assert status == 404
        assert_error(got)
    assert server.store.count("thread_b") == 0


async def test_unknown_thread_and_message_are_404(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(http, "GET", f"{server.url}/threads/thread_none/messages")
    assert status == 404
    assert_error(body)
    assert "thread_none" in body["error"]["message"]
    server.store.create_thread("thread_c")
    other = server.store.add_message("thread_d", content="elsewhere")
    for mid in ("msg_nope", other["id"]):
        status, body, _ = await call(http, "GET", f"{server.url}/threads/thread_c/messages/{mid}")
        assert status == 404
        assert_error(body)
    status, body, _ = await call(http, "GET", f"{server.url}/threads/thread_none/messages/msg_1")
    assert status == 404


async def test_unknown_url_is_404_in_openai_shape(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(http, "GET", f"{server.url}/assistants")
    assert status == 404
    assert_error(body)
    status, body, _ = await call(http, "PUT", f"{server.url}/threads/thread_t/messages")
    assert status == 404
    assert server.log[-1].route is None
    assert server.log[-1].status == 404


# -- validation ----------------------------------------------------------------------

BAD_CREATES: list[tuple[Any, str | None]] = [
    ({"content": "x"}, "role"),
    ({"role": "user"}, "content"),
    ({"role": "system", "content": "x"}, "role"),
    ({"role": 1, "content": "x"}, "role"),
    ({"role": "user", "content": ""}, "content"),
    ({"role": "user", "content": []}, "content"),
    ({"role": "user", "content": 5}, "content"),
    ({"role": "user", "content": [{"type": "audio"}]}, "content[0].type"),
    ({"role": "user", "content": [{"text": "no type"}]}, "content[0].type"),
    ({"role": "user", "content": [{"type": "text", "text": 3}]}, "content[0].text"),
    ({"role": "user", "content": [{"type": "text", "text": "a", "x": 1}]}, "content[0].x"),
    ({"role": "user", "content": [{"type": "image_file", "image_file": {}}]}, None),
    (
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "x"}}],
        },
        "content[0].image_url.detail",
    ),
    ({"role": "user", "content": "x", "metadata": [1]}, "metadata"),
    ({"role": "user", "content": "x", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"role": "user", "content": "x", "metadata": {"k" * 65: "v"}}, "metadata"),
    ({"role": "user", "content": "x", "metadata": {"k": "v" * 513}}, "metadata.k"),
    ({"role": "user", "content": "x", "metadata": {"k": 1}}, "metadata.k"),
    ({"role": "user", "content": "x", "attachments": {}}, "attachments"),
    ({"role": "user", "content": "x", "attachments": [{"tools": []}]}, None),
    (
        {
            "role": "user",
            "content": "x",
            "attachments": [{"file_id": "f", "tools": [{"type": "web"}]}],
        },
        "attachments[0].tools[0].type",
    ),
    ({"role": "user", "content": "x", "file_ids": ["file-1"]}, "file_ids"),
    ({"role": "user", "content": "x", "surprise": True}, "surprise"),
    ([1, 2], None),
    ("just a string", None),
]


@pytest.mark.parametrize(("body", "param"), BAD_CREATES)
async def test_bad_create_bodies_are_400(
    server: Emulator, http: aiohttp.ClientSession, body: Any, param: str | None
) -> None:
    status, err, _ = await call(http, "POST", f"{server.url}/threads/thread_v/messages", json=body)
    assert status == 400
    assert_error(err, param=param)
    assert server.store.thread("thread_v") is None  # nothing stored, no thread created


async def test_metadata_at_the_limits_is_accepted(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    server.store.create_thread("thread_t")
    meta = {f"{i:064d}": "v" * 512 for i in range(16)}
    status, msg, _ = await call(
        http,
        "POST",
        f"{server.url}/threads/thread_t/messages",
        json={"role": "user", "content": "x", "metadata": meta},
    )
    assert status == 200
    assert msg["metadata"] == meta


async def test_invalid_json_and_modify_rules(server: Emulator, http: aiohttp.ClientSession) -> None:
    url = f"{server.url}/threads/thread_t/messages"
    status, err, _ = await call(http, "POST", url, data=b"{not json")
    assert status == 400
    assert_error(err)
    msg = server.store.add_message("thread_t", content="x")
    murl = f"{url}/{msg['id']}"
    status, err, _ = await call(http, "POST", murl, json={"content": "new"})
    assert status == 400
    assert_error(err, param="content", code="unknown_parameter")
    status, err, _ = await call(http, "POST", murl, json={"metadata": {"k": 1}})
    assert status == 400
    status, err, _ = await call(http, "POST", murl, data=b"[]")
    assert status == 400


@pytest.mark.parametrize("thread_id", ["t" * 65, "thread%20x", "thread.x", "thr%C3%A9ad", "a%2Fb"])
async def test_invalid_ids_are_400(
    server: Emulator, http: aiohttp.ClientSession, thread_id: str
) -> None:
    url = f"{server.url}/threads/{thread_id}/messages"
    async with http.post(URL(url, encoded=True), json={"role": "user", "content": "x"}) as resp:
        assert resp.status in (400, 404)  # %2F may not even route
        assert_error(await resp.json())
    assert server.store.thread_ids() == []
    server.store.create_thread("thread_t")
    status, err, _ = await call(http, "GET", f"{server.url}/threads/thread_t/messages/{'m' * 65}")
    assert status == 400
    assert_error(err, param="message_id")


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"order": "up"}, "order"),
        ({"after": "msg_unknown"}, "after"),
        ({"before": "msg_unknown"}, "before"),
        ({"after": "bad id!"}, "after"),
    ],
)
async def test_bad_list_parameters_are_400(
    server: Emulator, http: aiohttp.ClientSession, params: dict[str, str], param: str
) -> None:
    server.store.add_messages("thread_t", 3)
    status, err, _ = await call(
        http, "GET", f"{server.url}/threads/thread_t/messages", params=params
    )
    assert status == 400
    assert_error(err, param=param)


# -- listing and cursors ---------------------------------------------------------------


async def list_page(
    server: Emulator, http: aiohttp.ClientSession, thread_id: str, **params: str
) -> Any:
    status, page, _ = await call(
        http, "GET", f"{server.url}/threads/{thread_id}/messages", params=params
    )
    assert status == 200, page
    assert set(page) == {"object", "data", "first_id", "last_id", "has_more"}
    assert page["object"] == "list"
    return page


def _ids(page: Any) -> list[str]:
    return [m["id"] for m in page["data"]]


async def test_list_defaults_desc_20(server: Emulator, http: aiohttp.ClientSession) -> None:
    ids = server.store.add_messages("thread_t", 25)
    page = await list_page(server, http, "thread_t")
    assert _ids(page) == ids[::-1][:20]
    assert page["first_id"] == ids[-1]
    assert page["last_id"] == ids[5]
    assert page["has_more"] is True
    assert all(set(m) == V2_FIELDS for m in page["data"])


async def test_list_empty_thread_has_null_ids(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    server.store.create_thread("thread_empty")
    page = await list_page(server, http, "thread_empty")
    assert page == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_cursor_after_and_before(
    server: Emulator, http: aiohttp.ClientSession, order: str
) -> None:
    ids = server.store.add_messages("thread_t", 10)
    seq = ids if order == "asc" else ids[::-1]
    page = await list_page(server, http, "thread_t", order=order, limit="3", after=seq[2])
    assert _ids(page) == seq[3:6]
    assert page["has_more"] is True
    page = await list_page(server, http, "thread_t", order=order, limit="3", before=seq[7])
    assert _ids(page) == seq[4:7]  # the 3 just before, still in the requested order
    assert page["has_more"] is True
    page = await list_page(server, http, "thread_t", order=order, limit="5", before=seq[3])
    assert _ids(page) == seq[0:3]
    assert page["has_more"] is False
    page = await list_page(
        server, http, "thread_t", order=order, limit="5", after=seq[1], before=seq[4]
    )
    assert _ids(page) == seq[2:4]


async def test_full_walks_both_directions_with_changes(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    ids = server.store.add_messages("thread_t", 57)
    # forward walk by last_id, deleting the message just served and adding new ones
    seen: list[str] = []
    after: dict[str, str] = {}
    added = 0
    while True:
        page = await list_page(server, http, "thread_t", order="asc", limit="10", **after)
        seen += _ids(page)
        if not page["has_more"]:
            break
        assert server.store.delete("thread_t", page["last_id"])  # the cursor is now a tombstone
        server.store.add_message("thread_t", content="late")
        added += 1
        after = {"after": page["last_id"]}
    assert len(seen) == len(set(seen))
    assert seen[:57] == ids
    assert added == 6
    assert len(seen) == 57 + added  # those added during the walk, each once
    # backward walk by first_id from an anchor
    live = [m["id"] for m in server.store.messages("thread_t")]
    back: list[str] = []
    before = live[-1]
    while True:
        page = await list_page(server, http, "thread_t", order="asc", limit="7", before=before)
        back = _ids(page) + back
        if not page["has_more"]:
            break
        before = page["first_id"]
    assert back == live[:-1]


async def test_list_run_id_filter(server: Emulator, http: aiohttp.ClientSession) -> None:
    wanted = [
        server.store.add_message(
            "thread_t", content=str(i), run_id="run_x" if i % 3 == 0 else None
        )["id"]
        for i in range(12)
    ]
    expected = wanted[::3]
    page = await list_page(server, http, "thread_t", run_id="run_x", order="asc", limit="3")
    assert _ids(page) == expected[:3]
    page = await list_page(server, http, "thread_t", run_id="run_x", order="asc", after=expected[2])
    assert _ids(page) == expected[3:]
    assert all(m["run_id"] == "run_x" for m in page["data"])


# -- v1 ------------------------------------------------------------------------------


async def test_v1_shape_file_ids_and_files(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.store.create_thread("thread_1")
    url = f"{server.url}/threads/thread_1/messages"
    file_ids = [f"file-{i}" for i in range(4)]
    status, msg, _ = await call(
        http, "POST", url, json={"role": "user", "content": "x", "file_ids": file_ids}, headers=V1
    )
    assert status == 200
    assert set(msg) == V1_FIELDS
    assert msg["file_ids"] == file_ids
    status, page, _ = await call(http, "GET", url, headers=V1)
    assert set(page["data"][0]) == V1_FIELDS
    status, got, _ = await call(http, "GET", f"{url}/{msg['id']}", headers=V1)
    assert got == msg
    # the v2 view of the same message
    status, v2, _ = await call(http, "GET", f"{url}/{msg['id']}")
    assert set(v2) == V2_FIELDS
    # files, paginated like messages
    furl = f"{url}/{msg['id']}/files"
    status, files, _ = await call(
        http, "GET", furl, params={"limit": "2", "order": "asc"}, headers=V1
    )
    assert status == 200
    assert [f["id"] for f in files["data"]] == file_ids[:2]
    assert files["has_more"] is True
    assert files["data"][0] == {
        "id": "file-0",
        "object": "thread.message.file",
        "created_at": msg["created_at"],
        "message_id": msg["id"],
    }
    status, files, _ = await call(
        http, "GET", furl, params={"after": files["last_id"], "order": "asc"}, headers=V1
    )
    assert [f["id"] for f in files["data"]] == file_ids[2:]
    assert files["has_more"] is False
    status, files, _ = await call(http, "GET", furl, params={"before": "file-2"}, headers=V1)
    assert [f["id"] for f in files["data"]] == ["file-3"]
    status, one, _ = await call(http, "GET", f"{furl}/file-3", headers=V1)
    assert status == 200
    assert one["id"] == "file-3"
    status, err, _ = await call(http, "GET", f"{furl}/file-9", headers=V1)
    assert status == 404
    assert_error(err)
    status, err, _ = await call(http, "GET", furl, params={"after": "file-9"}, headers=V1)
    assert status == 400


async def test_v1_rejects_attachments_and_too_many_files(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    url = f"{server.url}/threads/thread_1/messages"
    status, err, _ = await call(
        http,
        "POST",
        url,
        json={"role": "user", "content": "x", "attachments": []},
        headers=V1,
    )
    assert status == 400
    assert_error(err, param="attachments")
    status, err, _ = await call(
        http,
        "POST",
        url,
        json={"role": "user", "content": "x", "file_ids": [f"file-{i}" for i in range(11)]},
        headers=V1,
    )
    assert status == 400
    assert_error(err, param="file_ids")


async def test_v2_header_explicit_and_v1_among_other_betas(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    msg = server.store.add_message("thread_t", content="x")
    url = f"{server.url}/threads/thread_t/messages/{msg['id']}"
    _, got, _ = await call(http, "GET", url, headers={"OpenAI-Beta": "assistants=v2"})
    assert set(got) == V2_FIELDS
    _, got, _ = await call(http, "GET", url, headers={"OpenAI-Beta": "foo=1, assistants=v1"})
    assert set(got) == V1_FIELDS


# -- auth, Azure, prefixes --------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk-wrong-PRESENTED"}, {"Authorization": "Basic abc"}],
)
async def test_auth_failures_are_401(server: Emulator, headers: dict[str, str]) -> None:
    server.store.add_messages("thread_t", 1)
    async with (
        aiohttp.ClientSession() as anon,
        anon.get(f"{server.url}/threads/thread_t/messages", headers=headers) as resp,
    ):
        assert resp.status == 401
        assert resp.headers["x-request-id"].startswith("req_")
        text = await resp.text()
    body = orjson.loads(text)
    assert_error(body, code="invalid_api_key")
    assert "PRESENTED" not in text
    assert server.log[-1].status == 401
    assert server.log[-1].route == "list"


async def test_no_api_key_accepts_anyone() -> None:
    async with Emulator(api_key=None) as emu, aiohttp.ClientSession() as anon:
        emu.store.create_thread("thread_t")
        body = {"role": "user", "content": "x"}
        async with anon.post(f"{emu.url}/threads/thread_t/messages", json=body) as resp:
            assert resp.status == 200


async def test_prefixes_serve_the_same_data(server: Emulator, http: aiohttp.ClientSession) -> None:
    msg = server.store.add_message("thread_t", content="x")
    _, a, _ = await call(http, "GET", f"{server.url}/threads/thread_t/messages/{msg['id']}")
    _, b, _ = await call(http, "GET", f"{server.root_url}/threads/thread_t/messages/{msg['id']}")
    assert a == b == msg
    assert server.url == server.root_url + "/v1"
    assert server.root_url.startswith("http://127.0.0.1:")


async def test_azure_routes(server: Emulator) -> None:
    msg = server.store.add_message("thread_t", content="x")
    url = f"{server.root_url}/openai/threads/thread_t/messages"
    version = {"api-version": "2024-05-01-preview"}
    async with aiohttp.ClientSession() as anon:
        async with anon.get(url, params=version, headers={"api-key": KEY}) as resp:
            assert resp.status == 200
            assert (await resp.json())["data"][0]["id"] == msg["id"]
        async with anon.get(
            url, params=version, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            assert resp.status == 200
        async with anon.get(url, headers={"api-key": KEY}) as resp:
            assert resp.status == 400
            assert_error(await resp.json(), param="api-version")
        async with anon.get(url, params=version, headers={"api-key": "nope"}) as resp:
            assert resp.status == 401
        async with anon.get(
            f"{server.url}/threads/thread_t/messages", headers={"api-key": KEY}
        ) as resp:
            assert resp.status == 401  # api-key is only an Azure header


# -- idempotency -----------------------------------------------------------------------


async def test_idempotency_key_replays_the_first_message(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    server.store.create_thread("thread_t")
    url = f"{server.url}/threads/thread_t/messages"
    body = {"role": "user", "content": "once"}
    key = {"Idempotency-Key": "k-1"}
    s1, first, _ = await call(http, "POST", url, json=body, headers=key)
    s2, second, _ = await call(http, "POST", url, json=body, headers=key)
    assert s1 == s2 == 200
    assert first == second
    assert server.store.count("thread_t") == 1
    _, third, _ = await call(http, "POST", url, json=body, headers={"Idempotency-Key": "k-2"})
    _, fourth, _ = await call(http, "POST", url, json=body)
    _, fifth, _ = await call(http, "POST", url, json=body)
    assert len({first["id"], third["id"], fourth["id"], fifth["id"]}) == 4
    # keys are per thread
    server.store.create_thread("thread_2")
    _, other, _ = await call(
        http, "POST", f"{server.url}/threads/thread_2/messages", json=body, headers=key
    )
    assert other["id"] != first["id"]


# -- the log and in-flight accounting --------------------------------------------------


async def test_request_log(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.store.add_messages("thread_t", 3)
    await call(http, "GET", f"{server.url}/threads/thread_t/messages", params={"limit": "2"})
    await call(
        http,
        "POST",
        f"{server.url}/threads/thread_t/messages",
        json={"role": "user", "content": "x"},
        headers={"X-Custom": "yes"},
    )
    await call(http, "GET", f"{server.url}/threads/thread_nope/messages")
    assert len(server.log) == 3
    first, second, third = list(server.log)
    assert (first.method, first.route, first.status) == ("GET", "list", 200)
    assert first.path == "/v1/threads/thread_t/messages"
    assert first.query == {"limit": "2"}
    assert first.headers["authorization"] == f"Bearer {KEY}"  # case-insensitive
    assert first.fault is None
    assert first.done
    assert second.headers["x-custom"] == "yes"
    assert orjson.loads(second.body) == {"role": "user", "content": "x"}
    assert first.time <= second.time <= third.time
    assert third.status == 404
    assert server.log.count("list") == 2
    assert server.log.count(method="post") == 1
    assert server.log.count(status=404) == 1
    assert server.log.statuses() == [200, 200, 404]
    assert server.log.last is third
    assert len({r.request_id for r in server.log}) == 3
    server.log.clear()
    assert len(server.log) == 0
    assert server.log.last is None


async def test_requests_are_logged_on_arrival_and_in_flight_is_counted(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    server.store.add_messages("thread_t", 1)
    server.latency = 1.0  # the three must all arrive while the first is held
    tasks = [
        asyncio.create_task(call(http, "GET", f"{server.url}/threads/thread_t/messages"))
        for _ in range(3)
    ]
    await until(lambda: len(server.log) == 3, what="three arrivals")
    assert all(r.status is None and not r.done for r in server.log)
    assert server.in_flight == 3
    await asyncio.gather(*tasks)
    assert server.log.statuses() == [200, 200, 200]
    assert server.max_in_flight == 3
    assert server.in_flight == 0
    server.reset_stats()
    assert server.max_in_flight == 0


async def test_global_latency_applies_to_every_request(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    server.latency = 0.15
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, _, _ = await call(http, "GET", f"{server.url}/threads/thread_none/messages")
    assert status == 404
    assert loop.time() - started >= 0.14


async def test_oversized_body_is_413_in_openai_shape(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    big = b'{"role": "user", "content": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    async with http.post(f"{server.url}/threads/thread_t/messages", data=io.BytesIO(big)) as resp:
        assert resp.status == 413
        err = await resp.json()
    assert set(err["error"]) == {"message", "type", "param", "code"}
    assert server.store.thread("t") is None


async def test_an_internal_bug_is_a_500_not_a_traceback(
    server: Emulator, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    server.store.add_messages("thread_t", 1)
    monkeypatch.setattr(server.store, "page", boom)
    status, err, _ = await call(http, "GET", f"{server.url}/threads/thread_t/messages")
    assert status == 500
    assert err["error"]["type"] == "server_error"
    assert "Traceback" not in err["error"]["message"]
    assert server.log[-1].status == 500
