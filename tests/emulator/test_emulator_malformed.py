"""Issue 21, item 6: every malformed request to the emulator is a 400 naming the bad
field, never a 500, on every prefix (over real loopback HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openai_messages.emulator import Emulator

from ..payload_strategies import ANY_JSON as JSON

KEY = "sk-emu-malformed"

# (path prefix under the root, query): every address the emulator serves the API under
PREFIXES: dict[str, tuple[str, dict[str, str]]] = {
    "root": ("", {}),
    "openai": ("/v1", {}),
    "azure": ("/openai", {"api-version": "2024-05-01-preview"}),
    "azure_v1": ("/openai/v1", {}),
    "foundry": ("/api/projects/p1", {"api-version": "v1"}),
}


@pytest.fixture
async def server() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY) as emu:
        emu.store.create_thread("thread_m")
        emu.store.add_messages("thread_x", 3)
        yield emu


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as session:
        yield session


async def post(
    http: aiohttp.ClientSession, server: Emulator, prefix: str, path: str, body: Any
) -> tuple[int, Any]:
    root, query = PREFIXES[prefix]
    url = f"{server.root_url}{root}{path}"
    async with http.post(url, params=query, data=orjson.dumps(body)) as resp:
        return resp.status, orjson.loads(await resp.read())


def _message(**fields: Any) -> dict[str, Any]:
    return {"role": "user", "content": "x", **fields}


# a message body, and the parameter its 400 must name
BAD_MESSAGES: list[tuple[dict[str, Any], str]] = [
    (_message(content=[{"type": {}, "text": ""}]), "content[0].type"),
    (_message(content=[{"type": [], "text": ""}]), "content[0].type"),
    (_message(content=[{"type": ["text"], "text": "a"}]), "content[0].type"),
    (_message(content=[{"type": 1.5}]), "content[0].type"),
    (
        _message(attachments=[{"file_id": "file_1", "tools": [{"type": {}}]}]),
        "attachments[0].tools[0].type",
    ),
    (
        _message(attachments=[{"file_id": "file_1", "tools": [{"type": []}]}]),
        "attachments[0].tools[0].type",
    ),
]


@pytest.mark.parametrize("prefix", list(PREFIXES))
@pytest.mark.parametrize(("body", "param"), BAD_MESSAGES)
async def test_item6_a_type_that_is_an_object_or_a_list_is_400(
    server: Emulator, http: aiohttp.ClientSession, prefix: str, body: dict[str, Any], param: str
) -> None:
    status, reply = await post(http, server, prefix, "/threads/thread_m/messages", body)
    assert status == 400, reply
    assert reply["error"]["param"] == param
    status, reply = await post(http, server, prefix, "/threads", {"messages": [body]})
    assert status == 400, reply
    assert reply["error"]["param"] == f"messages[0].{param}"
    assert len(server.store.messages("thread_m")) == 0


KEYS = st.sampled_from(
    ["type", "text", "image_file", "image_url", "file_id", "tools", "url", "detail"]
)
# bodies shaped like the real thing, any value anywhere
PART = st.dictionaries(
    KEYS, JSON | st.sampled_from(["text", "image_file", "image_url"]), max_size=3
)
ATTACHMENT = st.dictionaries(
    KEYS, JSON | st.lists(st.dictionaries(KEYS, JSON, max_size=2), max_size=2), max_size=3
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant"]) | JSON},
    optional={
        "content": st.lists(PART, max_size=3) | JSON,
        "attachments": st.lists(ATTACHMENT, max_size=2) | JSON,
        "metadata": st.dictionaries(st.text(max_size=4), JSON, max_size=3) | JSON,
    },
)
THREAD = st.fixed_dictionaries(
    {},
    optional={
        "messages": st.lists(MESSAGE, max_size=2) | JSON,
        "metadata": JSON,
        "tool_resources": st.dictionaries(
            st.sampled_from(["code_interpreter", "file_search"]),
            st.dictionaries(
                st.sampled_from(["file_ids", "vector_store_ids", "vector_stores"]), JSON, max_size=2
            )
            | JSON,
            max_size=2,
        )
        | JSON,
    },
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    prefix=st.sampled_from(list(PREFIXES)),
    target=st.sampled_from(["message", "thread", "modify_thread", "modify_message"]),
    message=MESSAGE,
    thread=THREAD,
)
async def test_item6_no_malformed_body_is_a_500(
    server: Emulator,
    http: aiohttp.ClientSession,
    prefix: str,
    target: str,
    message: dict[str, Any],
    thread: dict[str, Any],
) -> None:
    path, body = {
        "message": ("/threads/thread_m/messages", message),
        "thread": ("/threads", thread),
        "modify_thread": (
            "/threads/thread_m",
            {k: v for k, v in thread.items() if k != "messages"},
        ),
        "modify_message": (
            f"/threads/thread_x/messages/{server.store.messages('thread_x')[0]['id']}",
            {k: v for k, v in message.items() if k == "metadata"},
        ),
    }[target]
    status, reply = await post(http, server, prefix, path, body)
    assert status in (200, 400), (status, reply)
    if status == 400:
        assert reply["error"]["message"]


QUERY = st.dictionaries(
    st.sampled_from(["limit", "order", "after", "before", "run_id"]), st.text(max_size=70)
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(prefix=st.sampled_from(list(PREFIXES)), query=QUERY)
async def test_item6_no_malformed_list_query_is_a_500(
    server: Emulator, http: aiohttp.ClientSession, prefix: str, query: dict[str, str]
) -> None:
    root, version = PREFIXES[prefix]
    url = f"{server.root_url}{root}/threads/thread_x/messages"
    async with http.get(url, params={**query, **version}) as resp:
        assert resp.status in (200, 400, 404), (resp.status, await resp.read())
