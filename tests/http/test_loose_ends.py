"""Issue 21: loose ends found against hostile servers, each reproduced over real HTTP.

The servers are raw sockets (:mod:`tests.hostile`) or the emulator. Each test names the
issue's item.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import openai_messages as om
from openai_messages._codec import converter
from openai_messages.emulator import Emulator

from ..hostile import Received, response, serve
from ..support import API_KEY, FAST_RETRIES, assert_nowhere

MESSAGE: dict[str, Any] = {"id": "msg_1", "object": "thread.message", "role": "user"}

# -- item 1: no key in the exception chain of a reply aiohttp cannot parse -------------

KEYS = {
    "plain": API_KEY,
    "b64ish": "sk-ab/cd+ef=gh/IJ+kl==-0123456789",
}


def _echoed(received: Received) -> str:
    """The credential header as the server read it (bytes as Latin-1)."""
    return received.headers.get("authorization") or received.headers["api-key"]


REPLIES: dict[str, Callable[[str], str]] = {
    "status_line": lambda e: f"HTTP/1.1 2x0 {e}\r\nContent-Length: 2\r\n\r\n{{}}",
    "nul_in_value": lambda e: f"HTTP/1.1 200 OK\r\nX-Echo: {e}\x00\r\nContent-Length: 0\r\n\r\n",
    "ctl_in_name": lambda e: f"HTTP/1.1 200 OK\r\nX-Echo\x01: {e}\r\nContent-Length: 0\r\n\r\n",
    "bare_line": lambda e: f"HTTP/1.1 200 OK\r\n{e}\r\nContent-Length: 0\r\n\r\n",
    "length": lambda e: f"HTTP/1.1 200 OK\r\nContent-Length: 2{e}\r\n\r\n{{}}",
}


def _client(url: str, key: str, auth: str) -> om.Client:
    options: dict[str, Any] = {"retry_policy": FAST_RETRIES, "retry_budget": None}
    if auth == "azure":
        return om.Client.azure(endpoint=url.removesuffix("/v1"), api_key=key, **options)
    if auth == "provider":
        return om.Client(api_key=lambda: key, base_url=url, **options)
    return om.Client(api_key=key, base_url=url, **options)


AUTHS = [(a, k) for a in ("bearer", "azure", "provider") for k in KEYS]

# a key or token must fit a header as it is: one check refuses the others before sending
UNSENDABLE = {
    "non_ascii": "sk-cl\u00e9-\u00fcber-\u00e9t\u00e9-0123456789",
    "newline": "sk-abc-0123456789\n",
    "inner_nul": "sk-abc\x00def-0123456789",
    "space": " sk-abc-0123456789",
}


@pytest.mark.parametrize("auth", ["bearer", "azure", "provider"])
@pytest.mark.parametrize("key", list(UNSENDABLE))
async def test_item1_a_key_that_cannot_go_in_a_header_is_refused_before_sending(
    auth: str, key: str
) -> None:
    secret = UNSENDABLE[key]
    async with serve(lambda _: response(200, orjson.dumps(MESSAGE))) as (url, seen):
        with pytest.raises(om.OpenAIMessagesError) as info:
            async with _client(url, secret, auth) as client:
                await client.retrieve("thread_1", "msg_1")
    assert isinstance(info.value, (om.InvalidArgumentError, om.CredentialError))
    assert "header" in str(info.value) or "whitespace" in str(info.value)
    assert_nowhere(secret, info.value)
    assert seen == []  # nothing was sent


@pytest.mark.parametrize("task", ["c_task", "python_task"])
@pytest.mark.parametrize("reply", list(REPLIES))
@pytest.mark.parametrize(("auth", "key"), AUTHS)
async def test_item1_unparsable_reply_echoing_the_key_leaks_it_nowhere(
    reply: str, key: str, auth: str, task: str
) -> None:
    if task == "c_task":
        await _unparsable_reply_leaks_nowhere(reply, key, auth)
        return
    # asyncio's pure-Python task resumes its coroutine inside an ``except`` block after a
    # failed await (as Python 3.10 may run it): a later raise chains that failure
    loop = asyncio.get_running_loop()
    await asyncio.tasks._PyTask(_unparsable_reply_leaks_nowhere(reply, key, auth), loop=loop)  # type: ignore[attr-defined]


async def _unparsable_reply_leaks_nowhere(reply: str, key: str, auth: str) -> None:
    secret = KEYS[key]
    raw = REPLIES[reply]

    async with (
        serve(lambda r: raw(_echoed(r)).encode("latin-1")) as (url, seen),
        _client(url, secret, auth) as client,
    ):
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: client.retrieve("thread_1", "msg_1"),
            lambda: client.create("thread_1", role="user", content="x", max_retries=0),
        ]
        for call in calls:
            with pytest.raises(om.OpenAIMessagesError) as info:
                await call()
            error = info.value
            unparsable = (om.APIConnectionError, om.CreateOutcomeUnknownError)
            if not (isinstance(error, unparsable) and "could not be parsed" in str(error)):
                # an aiohttp that reads a NUL in a header value (3.11, the floor) takes this
                # reply for an empty 200: a typed error follows all the same, the key in none
                assert reply == "nul_in_value", error
            assert_nowhere(secret, error)
        results = [r async for r in client.fetch_many(["thread_1"])]
        assert results[0].error is not None
        assert_nowhere(secret, results[0].error)
    assert secret.encode().decode("latin-1") in _echoed(seen[0])  # the key was echoed


# -- item 2: a message nested deeper than orjson writes is encoded all the same --------


@pytest.mark.parametrize("depth", [300, 1010])
async def test_item2_deeply_nested_message_encodes(depth: int) -> None:
    deep = "[" * depth + '{"k":"\u00e9"}' + "]" * depth  # orjson writes 255 levels at most
    body = orjson.dumps(MESSAGE)[:-1] + b',"x_deep":' + deep.encode() + b"}"
    async with (
        serve(lambda _: response(200, body)) as (url, _),
        om.Client(api_key=API_KEY, base_url=url) as client,
    ):
        message = await client.retrieve("thread_1", "msg_1")
    encoded = converter.encode(message)
    assert encoded == body  # as orjson writes: compact, UTF-8, keys in order, nothing lost


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
)


@given(JSON)
def test_item2_the_deep_writer_writes_what_orjson_writes(value: object) -> None:
    assert converter._encode_deep(value) == orjson.dumps(value)


# -- item 3: a token provider that cannot give a token ends a bulk run at once ---------


def _failing_provider(good: int) -> tuple[Callable[[], str], list[int]]:
    """A provider that gives the key ``good`` times, then fails; and its call count."""
    calls = [0]

    def provider() -> str:
        calls[0] += 1
        if calls[0] > good:
            raise RuntimeError("the vault is sealed")
        return API_KEY

    return provider, calls


@pytest.mark.parametrize("how", ["fetch_many", "stream_many"])
async def test_item3_failing_token_provider_ends_the_whole_run(emu: Emulator, how: str) -> None:
    ids = [f"thread_{i}" for i in range(30)]
    for thread_id in ids:
        emu.store.add_messages(thread_id, 1)
    provider, calls = _failing_provider(good=3)
    async with om.Client(api_key=provider, base_url=emu.url, retry_policy=FAST_RETRIES) as client:
        run = client.fetch_many(ids, concurrency=2)
        source = run if how == "fetch_many" else run.stream
        seen: list[object] = []
        with pytest.raises(om.CredentialError):
            async for item in source:
                seen.append(item)
        assert all(getattr(item, "error", None) is None for item in seen)
    assert calls[0] < len(ids)  # the other threads never asked for a token


# -- item 4: a create stored but unreadable is looked up by its key --------------------


class _Store:
    """A hostile server's thread: a create is stored (metadata kept), then answered with
    ``reply``; a list answers the stored messages, newest first."""

    def __init__(self, reply: bytes, *, keeps_metadata: bool = True) -> None:
        self.reply = reply
        self.keeps_metadata = keeps_metadata
        self.stored: list[dict[str, Any]] = []

    def add(self, received: Received) -> dict[str, Any]:
        body = orjson.loads(received.body)
        message = {**MESSAGE, "id": f"msg_{len(self.stored)}", "created_at": int(time.time())}
        message["content"] = [
            {"type": "text", "text": {"value": body["content"], "annotations": []}}
        ]
        message["metadata"] = body.get("metadata", {}) if self.keeps_metadata else {}
        self.stored.append(message)
        return message

    def listing(self) -> bytes:
        data = self.stored[::-1]
        return response(200, {"object": "list", "data": data, "has_more": False})

    def answer(self, received: Received) -> bytes:
        if received.method == "POST":
            self.add(received)
            return self.reply
        return self.listing()


UNREADABLE = {
    "empty": response(200, b""),
    "not_json": response(200, b"<html>stored</html>"),
    "too_large": response(200, {**MESSAGE, "id": "msg_0", "pad": "x" * 5000}),
}


@pytest.mark.parametrize("kind", list(UNREADABLE))
async def test_item4_unreadable_2xx_create_is_found_by_its_key(kind: str) -> None:
    store = _Store(UNREADABLE[kind])
    store.stored.append({**MESSAGE, "id": "msg_older", "metadata": {}})  # not it
    async with (
        serve(store.answer) as (url, seen),
        om.Client(api_key=API_KEY, base_url=url, max_response_bytes=1000) as client,
    ):
        created = await client.create("thread_1", role="user", content="hi", metadata={"a": "b"})
    assert created.id == store.stored[-1]["id"]
    assert created.metadata is not None
    assert created.metadata["a"] == "b"
    assert [r.method for r in seen] == ["POST", "GET"]  # looked up, never re-sent


@pytest.mark.parametrize("kind", list(UNREADABLE))
async def test_item4_stored_but_unreadable_only_when_not_found(kind: str) -> None:
    store = _Store(UNREADABLE[kind], keeps_metadata=False)  # the key cannot be found
    async with (
        serve(store.answer) as (url, seen),
        om.Client(api_key=API_KEY, base_url=url, max_response_bytes=1000) as client,
    ):
        with pytest.raises(om.StoredButUnreadableError) as info:
            await client.create("thread_1", role="user", content="hi")
    assert "do not create it again" in str(info.value)
    assert [r.method for r in seen] == ["POST", "GET"]


# -- item 5: a create that timed out after it was stored is settled by find_created ----


async def test_item5_find_created_settles_a_create_whose_timeout_ran_out() -> None:
    store = _Store(b"")
    release = asyncio.Event()

    async def answer(received: Received) -> bytes:
        if received.method == "POST":
            store.add(received)  # stored, then the reply never comes in time
            await release.wait()
            return response(500, {"error": {"message": "late"}})
        return store.listing()

    async with serve(answer) as (url, seen), _client(url, API_KEY, "bearer") as client:
        try:
            with pytest.raises(om.CreateOutcomeUnknownError) as info:
                # a hang guard, not a timing assertion: the create's own timeout ends it
                await asyncio.wait_for(
                    client.create("thread_1", role="user", content="hi", timeout=0.3), 20
                )
        finally:
            release.set()
        err = info.value
        assert err.thread_id == "thread_1"
        found = await client.find_created(err.thread_id, err.idempotency_key)
        assert found is not None
        assert found.id == store.stored[0]["id"]
        assert await client.find_created("thread_1", "om-not-this-one") is None
    assert [r.method for r in seen].count("POST") == 1


async def test_item5_find_created_walks_past_the_first_page(emu: Emulator) -> None:
    emu.store.create_thread("thread_f")
    async with om.Client(api_key=API_KEY, base_url=emu.url) as client:
        first = await client.create("thread_f", role="user", content="mine", idempotency_key="k-1")
        emu.store.add_messages("thread_f", 150)  # newer ones: it is on the second page
        found = await client.find_created("thread_f", "k-1")
        assert found == first
        assert await client.find_created("thread_f", "k-1", max_items=100) is None
