"""Issue 14: hostile servers and bad input, each reproduced over real HTTP on loopback.

The servers are raw sockets (:mod:`tests.hostile`) answering exactly the bytes written
here, or the emulator where its faults say it. Each test names the issue's item.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

import openai_messages as om
from openai_messages.emulator import Emulator, Fault

from ..hostile import Received, gzip_bomb, response, serve
from ..support import API_KEY, FAST_RETRIES

MESSAGE: dict[str, Any] = {"id": "msg_1", "object": "thread.message", "role": "user"}


def _client(url: str, **options: Any) -> om.Client:
    options.setdefault("retry_policy", FAST_RETRIES)
    options.setdefault("retry_budget", None)
    return om.Client(api_key=options.pop("api_key", API_KEY), base_url=url, **options)


def _posts(seen: list[Received]) -> int:
    return sum(1 for r in seen if r.method == "POST")


# -- item 10: the body cap counts decompressed bytes -----------------------------------


async def test_item10_gzip_body_is_capped_decompressed() -> None:
    bomb = gzip_bomb(8 * 1024 * 1024)
    assert len(bomb) < 64 * 1024  # the declared length is far under the cap
    raw = response(200, bomb, {"Content-Encoding": "gzip"})
    async with (
        serve(lambda _: raw) as (url, seen),
        _client(url, max_response_bytes=1024 * 1024) as client,
    ):
        with pytest.raises(om.ResponseTooLargeError, match="decompressed"):
            await client.retrieve("thread_1", "msg_1")
    assert len(seen) == 1  # too large: not retried


async def test_item10_chunked_gzip_body_is_capped_decompressed() -> None:
    bomb = gzip_bomb(8 * 1024 * 1024)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    raw = head + f"{len(bomb):x}\r\n".encode() + bomb + b"\r\n0\r\n\r\n"
    async with (
        serve(lambda _: raw) as (url, _),
        _client(url, max_response_bytes=1024 * 1024) as client,
    ):
        with pytest.raises(om.ResponseTooLargeError):
            await client.retrieve("thread_1", "msg_1")


async def test_item10_small_gzip_body_is_read() -> None:
    raw = response(200, gzip_bomb(1000), {"Content-Encoding": "gzip"})
    async with serve(lambda _: raw) as (url, _), _client(url) as client:
        message = await client.retrieve("thread_1", "msg_1")
    assert message.id == "msg_1"


# -- item 11: the key is scrubbed from what is decoded too -----------------------------

ODD_KEY = 'sk-odd/with"quote\\back-0123456789'  # JSON escapes the " and the \\, may escape /


def _u_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _php_escaped(text: str) -> str:
    return orjson.dumps(text).decode()[1:-1].replace("/", "\\/")


@pytest.mark.parametrize("escape", [_u_escaped, _php_escaped], ids=["uXXXX", "php"])
@pytest.mark.parametrize("key", [API_KEY, ODD_KEY], ids=["plain", "odd"])
@pytest.mark.parametrize("azure", [False, True], ids=["bearer", "azure"])
async def test_item11_escaped_key_echo_is_scrubbed(escape: Any, key: str, azure: bool) -> None:
    echoed = escape(key)
    fields = f'"message": "Incorrect API key provided: {echoed}", "code": "{echoed}"'
    body = ('{"error": {' + fields + f', "param": "{echoed}"' + "}}").encode()
    raw = response(401, body, {"x-echo": key.encode().decode("latin-1")})
    async with serve(lambda _: raw) as (url, seen):
        if azure:
            client = om.Client.azure(endpoint=url, api_key=key, retry_policy=FAST_RETRIES)
        else:
            client = _client(url, api_key=key)
        async with client:
            with pytest.raises(om.AuthenticationError) as info:
                await client.retrieve("thread_1", "msg_1")
    err = info.value
    assert seen  # the request was sent
    everything = [str(err), repr(err), *map(str, err.args), err.message, err.code, err.param]
    everything += list(err.headers.values())
    for text in everything:
        assert key not in (text or "")
        assert echoed not in (text or "")
    assert "***" in err.message


# -- item 12 and 14: base_url refused at construction ----------------------------------


def test_item12_credentials_in_base_url_are_refused() -> None:
    with pytest.raises(om.InvalidArgumentError) as info:
        om.Client(api_key=API_KEY, base_url="http://admin:hunter2@127.0.0.1:1/v1")
    assert "hunter2" not in str(info.value)
    assert "admin" not in str(info.value)
    assert "credentials" in str(info.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1/v1?x=1", "http://127.0.0.1:1/v1#top", "http://127.0.0.1:1/v1?"]
)
def test_item14_query_or_fragment_in_base_url_is_refused(url: str) -> None:
    with pytest.raises(om.InvalidArgumentError, match="default_query"):
        om.Client(api_key=API_KEY, base_url=url)


# -- item 13: typed errors, checked before sending -------------------------------------


@pytest.mark.parametrize(
    "url", ["http://[::1/v1", "http://127.0.0.1:99999/v1", "http://[::1]:70000/v1"]
)
def test_item13_broken_base_url_is_typed(url: str) -> None:
    with pytest.raises(om.InvalidArgumentError):
        om.Client(api_key=API_KEY, base_url=url)


@pytest.mark.parametrize(
    "location",
    ["http://user:secret@127.0.0.1:1/x", "http://[::1/x", "http://127.0.0.1:99999/x"],
    ids=["userinfo", "ipv6", "port"],
)
async def test_item13_bad_redirect_location_is_typed(location: str) -> None:
    raw = response(302, b"", {"Location": location})
    async with serve(lambda _: raw) as (url, seen), _client(url) as client:
        with pytest.raises(om.RedirectError) as info:
            await client.retrieve("thread_1", "msg_1")
    assert "secret" not in str(info.value)
    assert len(seen) == 1


async def test_item13_crlf_is_refused_before_sending() -> None:
    async with serve(lambda _: response(200, MESSAGE)) as (url, seen), _client(url) as client:
        for headers in ({"X-A": "1\r\nX-Injected: 1"}, {"X-A\n": "1"}, {"X A": "1"}):
            with pytest.raises(om.InvalidArgumentError):
                await client.retrieve("thread_1", "msg_1", extra_headers=headers)
        with pytest.raises(om.InvalidArgumentError):
            await client.create("thread_1", role="user", content="x", idempotency_key="k\r\n")
        assert seen == []
    with pytest.raises(om.InvalidArgumentError) as info:
        om.Client(api_key=API_KEY + "\n", base_url=url)
    assert API_KEY not in str(info.value)
    with pytest.raises(om.InvalidArgumentError):
        om.Client(api_key=API_KEY, base_url=url, default_headers={"X-B": "a\rb"})


# -- item 9: create's max_retries is checked like every other call's -------------------


async def test_item9_create_with_negative_max_retries_is_refused() -> None:
    async with serve(lambda _: response(200, MESSAGE)) as (url, seen), _client(url) as client:
        with pytest.raises(om.InvalidArgumentError, match="max_retries"):
            await client.create("thread_1", role="user", content="x", max_retries=-1)
        with pytest.raises(om.InvalidArgumentError, match="max_retries"):
            await client.retrieve("thread_1", "msg_1", max_retries=-1)
    assert seen == []


# -- item 15: server-given cursors are sent quoted -------------------------------------


def _page(ids: list[str], has_more: bool, start: int = 0) -> bytes:
    data = [{**MESSAGE, "id": i, "created_at": start + n} for n, i in enumerate(ids)]
    return response(200, {"object": "list", "data": data, "has_more": has_more})


async def test_item15_server_cursor_with_percent_is_quoted() -> None:
    def answer(received: Received) -> bytes:
        if "after=" not in received.target:
            return _page(["msg_1", "msg_50%off"], True)
        return _page(["msg_3"], False, start=2)

    async with serve(answer) as (url, seen), _client(url) as client:
        messages = await client.list("thread_1", order="asc", page_size=2).collect()
        assert [m.id for m in messages] == ["msg_1", "msg_50%off", "msg_3"]
        assert "after=msg_50%25off" in seen[1].target
        with pytest.raises(om.InvalidArgumentError):
            client.list("thread_1", after="msg_50%off")  # the caller's cursor is still checked


# -- item 8: a 2xx create reply that cannot be read means stored -----------------------


@pytest.mark.parametrize("kind", ["too_large", "truncated"])
async def test_item8_unreadable_2xx_create_says_stored(kind: str) -> None:
    if kind == "too_large":
        raw = response(200, {**MESSAGE, "id": "msg_s1", "pad": "x" * 5000}, {"x-request-id": "r1"})
    else:
        raw = response(200, b'{"id": "msg_s1", "object": "thread.me', {"x-request-id": "r1"})
    async with serve(lambda _: raw) as (url, seen), _client(url, max_response_bytes=1000) as client:
        with pytest.raises(om.StoredButUnreadableError) as info:
            await client.create("thread_1", role="user", content="x")
    err = info.value
    assert (err.object_id, err.status_code, err.request_id) == ("msg_s1", 200, "r1")
    assert "stored" in str(err)
    assert "do not create it again" in str(err)
    assert _posts(seen) == 1  # never re-sent (looked up by its key: this server lists nothing)


# -- item 3: the reconcile honours the call's timeout ----------------------------------


async def test_item3_reconcile_honours_the_call_timeout() -> None:
    release = asyncio.Event()

    async def answer(received: Received) -> bytes:
        if received.method == "POST":
            return response(500, {"error": {"message": "stored, maybe"}})
        await release.wait()  # the list never answers
        return response(200, {"data": [], "has_more": False})

    async with serve(answer) as (url, seen), _client(url) as client:
        try:
            with pytest.raises(om.CreateOutcomeUnknownError):
                # a hang guard, not a timing assertion: without the fix this waits 60 s
                await asyncio.wait_for(
                    client.create("thread_1", role="user", content="x", timeout=1.0), 20
                )
        finally:
            release.set()
    assert _posts(seen) == 1


# -- item 6: never the older twin ------------------------------------------------------


async def test_item6_older_identical_message_is_not_returned(
    client: om.Client, emu: Emulator
) -> None:
    emu.store.create_thread("thread_twin")
    older = await client.create("thread_twin", role="user", content="same")
    emu.faults.add(Fault.error(500), route="create", nth=1)  # fails without storing
    newer = await client.create("thread_twin", role="user", content="same")
    assert newer.id != older.id
    assert [m["id"] for m in emu.store.messages("thread_twin")] == [older.id, newer.id]


async def test_item6_without_room_for_the_marker_the_server_clock_bounds_the_match(
    client: om.Client, emu: Emulator
) -> None:
    full = {f"k{i}": "v" for i in range(16)}
    emu.store.create_thread("thread_twin")
    seeded = emu.store.add_message("thread_twin", "user", "same", metadata=full)
    record = emu.store.thread("thread_twin").find(seeded["id"])  # type: ignore[union-attr]
    assert record is not None
    record.created_at -= 10  # sent 10 s earlier, by the server's clock
    emu.faults.add(Fault.error(500), route="create", nth=1)
    created = await client.create("thread_twin", role="user", content="same", metadata=full)
    assert created.id != seeded["id"]
    assert len(emu.store.messages("thread_twin")) == 2


# -- item 7: after a read timeout, look again before re-sending ------------------------


async def test_item7_late_commit_after_a_read_timeout_is_found_not_duplicated() -> None:
    stored: list[dict[str, Any]] = []

    async def answer(received: Received) -> bytes:
        if received.method == "POST":  # ignores Idempotency-Key, commits late
            await asyncio.sleep(0.6)
            body = orjson.loads(received.body)
            message = {**MESSAGE, "id": f"msg_{len(stored)}", "created_at": int(time.time())}
            message["metadata"] = body.get("metadata", {})
            stored.append(message)
            return response(200, message)
        data = sorted(stored, key=lambda m: -int(m["created_at"]))
        return response(200, {"object": "list", "data": data, "has_more": False})

    policy = om.RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=1.5)
    timeout = om.Timeout(total=30.0, read=0.2)
    async with (
        serve(answer) as (url, seen),
        _client(url, retry_policy=policy, timeout=timeout) as client,
    ):
        created = await client.create("thread_1", role="user", content="late")
    assert created.id == "msg_0"
    assert len(stored) == 1
    assert _posts(seen) == 1
