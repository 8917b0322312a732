"""The emulator's conversation routes over real loopback HTTP (issue 23 item 4): checked as
the specification says, faults applied, on every prefix; and the official ``openai``
package's ``conversations.*`` and ``conversations.items.*`` against them, unchanged."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openai_messages.emulator import Emulator, Fault, Flavour

from ..emulator_support import KEY, assert_error, http, server
from ..payload_strategies import ANY_JSON as JSON
from ..support import call

openai = pytest.importorskip("openai")
__all__ = ["http", "server"]  # the route tests' fixtures: pytest finds them by these names


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def new_conversation(http: aiohttp.ClientSession, base: str, **body: Any) -> str:
    status, conv, _ = await call(http, "POST", f"{base}/conversations", json=body)
    assert status == 200, conv
    return str(conv["id"])


# -- shapes ---------------------------------------------------------------------------


async def test_shapes_of_every_route(server: Emulator, http: aiohttp.ClientSession) -> None:
    base = server.url
    status, conv, _ = await call(
        http,
        "POST",
        f"{base}/conversations",
        json={"metadata": {"k": "v"}, "items": [user("a"), {"role": "assistant", "content": "b"}]},
    )
    assert status == 200
    assert set(conv) == {"id", "object", "created_at", "metadata"}
    assert conv["object"] == "conversation"
    assert conv["id"].startswith("conv_")
    url = f"{base}/conversations/{conv['id']}/items"
    status, page, _ = await call(http, "GET", url)
    assert status == 200
    assert set(page) == {"object", "data", "first_id", "last_id", "has_more"}
    assert [i["content"][0]["text"] for i in page["data"]] == ["b", "a"]  # desc by default
    assert page["data"][0]["content"][0] == {"type": "output_text", "text": "b", "annotations": []}
    assert page["data"][1] == {
        "type": "message",
        "id": page["data"][1]["id"],
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": "a"}],
    }
    status, made, _ = await call(http, "POST", url, json={"items": [user("c"), user("d")]})
    assert status == 200
    assert made["object"] == "list"
    assert [i["content"][0]["text"] for i in made["data"]] == ["c", "d"]  # request order
    assert made["first_id"] == made["data"][0]["id"]
    item_url = f"{url}/{made['data'][0]['id']}"
    status, item, _ = await call(http, "GET", item_url)
    assert item == made["data"][0]
    status, after, _ = await call(http, "DELETE", item_url)
    assert status == 200
    assert after["object"] == "conversation"  # an item delete answers the conversation
    status, body, _ = await call(http, "GET", item_url)
    assert status == 404
    assert_error(body)
    status, gone, _ = await call(http, "DELETE", f"{base}/conversations/{conv['id']}")
    assert gone == {"id": conv["id"], "object": "conversation.deleted", "deleted": True}


async def test_limit_and_order_of_the_items_list(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    cid = await new_conversation(http, server.url)
    url = f"{server.url}/conversations/{cid}/items"
    for start in (0, 20):
        await call(
            http, "POST", url, json={"items": [user(str(n)) for n in range(start, start + 20)]}
        )
    status, page, _ = await call(http, "GET", url)
    assert len(page["data"]) == 20  # default limit 20
    assert page["has_more"] is True
    assert page["data"][0]["content"][0]["text"] == "39"
    status, page, _ = await call(http, "GET", url, params={"order": "asc", "limit": "100"})
    assert [i["content"][0]["text"] for i in page["data"]] == [str(n) for n in range(40)]
    assert page["has_more"] is False
    status, page, _ = await call(
        http, "GET", url, params={"order": "asc", "after": page["data"][37]["id"]}
    )
    assert [i["content"][0]["text"] for i in page["data"]] == ["38", "39"]
    for bad in ("0", "101", "x"):
        status, body, _ = await call(http, "GET", url, params={"limit": bad})
        assert status == 400
        assert_error(body, param="limit")
    status, body, _ = await call(http, "GET", url, params={"order": "sideways"})
    assert status == 400
    assert_error(body, param="order")
    status, body, _ = await call(http, "GET", url, params={"before": page["data"][0]["id"]})
    assert status == 400  # OpenAI's items list has no before
    assert_error(body, param="before")


# -- the checks of the specification ---------------------------------------------------


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}, "type"),
        ({"role": "user", "content": [{"type": "output_text", "text": "x"}]}, "type"),
        ({"role": "robot", "content": "x"}, "role"),
        ({"role": "user", "content": 5}, "content"),
        ({"role": "user", "content": [{"type": "input_image"}]}, "content[0]"),
        (
            {"role": "user", "content": [{"type": "input_image", "file_id": "f", "detail": "max"}]},
            "detail",
        ),
        ({"role": "user", "content": [{"type": "input_file"}]}, "content[0]"),
        ({"role": "user", "content": [{"type": "input_text", "text": "x", "extra": 1}]}, "extra"),
        ({"type": "teleport"}, "type"),
        ({"type": {}}, "type"),
        ({"type": ["message"]}, "type"),
        ({"role": {}, "content": "x"}, "role"),
        ("text", "items[0]"),
    ],
)
async def test_items_are_checked(
    server: Emulator, http: aiohttp.ClientSession, item: Any, param: str
) -> None:
    cid = await new_conversation(http, server.url)
    url = f"{server.url}/conversations/{cid}/items"
    status, body, _ = await call(http, "POST", url, json={"items": [item]})
    assert status == 400, body
    assert param in body["error"]["param"]
    assert server.conversations.items(cid) == []


async def test_batch_size_metadata_and_unknown_ids(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    base = server.url
    status, body, _ = await call(
        http, "POST", f"{base}/conversations", json={"items": [user("x")] * 21}
    )
    assert status == 400
    assert_error(body, param="items", code="array_above_max_length")
    status, body, _ = await call(
        http, "POST", f"{base}/conversations", json={"metadata": {str(n): "v" for n in range(17)}}
    )
    assert status == 400
    assert_error(body, param="metadata", code="object_above_max_properties")
    status, body, _ = await call(http, "POST", f"{base}/conversations", json={"tools": []})
    assert status == 400
    assert_error(body, code="unknown_parameter")
    assert server.conversations.ids_of() == []
    cid = await new_conversation(http, base)
    url = f"{base}/conversations/{cid}/items"
    for items in ([user("x")] * 21, []):
        status, body, _ = await call(http, "POST", url, json={"items": items})
        assert status == 400
        assert_error(body, param="items")
    status, body, _ = await call(http, "POST", url, json={})
    assert_error(body, param="items", code="missing_required_parameter")
    for method, path in (
        ("GET", "/conversations/conv_nope"),
        ("POST", "/conversations/conv_nope/items"),
        ("GET", "/conversations/conv_nope/items"),
        ("GET", f"/conversations/{cid}/items/msg_nope"),
        ("DELETE", f"/conversations/{cid}/items/msg_nope"),
        ("DELETE", "/conversations/conv_nope"),
    ):
        status, body, _ = await call(http, method, base + path, json={"items": [user("x")]})
        assert status == 404, (method, path)
        assert_error(body)
    status, body, _ = await call(http, "GET", f"{base}/conversations")
    assert status == 404  # OpenAI does not list conversations


async def test_foundry_lists_conversations_and_has_before(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    base = server.url_for("foundry_v1")
    ids = [await new_conversation(http, base, metadata={"n": str(n)}) for n in range(5)]
    status, page, _ = await call(http, "GET", f"{base}/conversations", params={"limit": "2"})
    assert status == 200
    assert [c["id"] for c in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True
    status, page, _ = await call(
        http, "GET", f"{base}/conversations", params={"order": "asc", "before": ids[3]}
    )
    assert [c["id"] for c in page["data"]] == ids[:3]
    url = f"{base}/conversations/{ids[0]}/items"
    await call(http, "POST", url, json={"items": [user(str(n)) for n in range(4)]})
    last = server.conversations.items(ids[0])[-1]["id"]
    status, page, _ = await call(http, "GET", url, params={"order": "asc", "before": last})
    assert [i["content"][0]["text"] for i in page["data"]] == ["0", "1", "2"]


async def test_the_foundry_prefix_wants_its_tokens_in_entra_mode(
    http: aiohttp.ClientSession,
) -> None:
    async with Emulator(api_key=KEY, entra=True) as emu:
        base = emu.url_for("foundry_v1")
        status, body, _ = await call(http, "POST", f"{base}/conversations", json={})
        assert status == 401  # the key is not a token
        assert "token" in str(body)
        token = emu.issue_token(60.0).token
        status, conv, _ = await call(
            http,
            "POST",
            f"{base}/conversations",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status == 200
        assert conv["id"] in emu.conversations.ids_of()


# -- faults ---------------------------------------------------------------------------


async def test_store_then_fail_and_a_partial_store(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    cid = await new_conversation(http, server.url)
    url = f"{server.url}/conversations/{cid}/items"
    server.faults.add(Fault.commit_then_error(503), route="create_items", nth=1)
    status, _, _ = await call(http, "POST", url, json={"items": [user("a"), user("b")]})
    assert status == 503
    assert len(server.conversations.items(cid)) == 2  # stored all the same
    server.faults.add(Fault.partial_commit(stored=1), route="create_items", nth=1)
    status, _, _ = await call(http, "POST", url, json={"items": [user("c"), user("d")]})
    assert status == 500
    texts = [i["content"][0]["text"] for i in server.conversations.items(cid)]
    assert texts == ["a", "b", "c"]
    server.faults.add(Fault.reverse_page(), route="list_items", nth=1)
    status, page, _ = await call(http, "GET", url, params={"order": "asc"})
    assert [i["content"][0]["text"] for i in page["data"]] == ["c", "b", "a"]


# -- the official package ---------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["openai", "foundry_v1", "azure_v1"])
async def test_the_official_package_runs_against_it(server: Emulator, flavour: Flavour) -> None:
    async with openai.AsyncOpenAI(
        base_url=server.url_for(flavour),
        api_key=KEY,
        max_retries=0,
    ) as sdk:
        conv = await sdk.conversations.create(
            items=[{"type": "message", "role": "user", "content": "hello"}],
            metadata={"source_thread_id": "thread_x"},
        )
        assert conv.id.startswith("conv_")
        assert conv.metadata == {"source_thread_id": "thread_x"}
        got = await sdk.conversations.retrieve(conv.id)
        assert got.id == conv.id
        updated = await sdk.conversations.update(conv.id, metadata={"k": "v"})
        assert updated.metadata == {"k": "v"}
        made = await sdk.conversations.items.create(
            conv.id,
            items=[
                {"type": "message", "role": "assistant", "content": "hi"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "more"}],
                },
            ],
        )
        assert [i.content[0].text for i in made.data] == ["hi", "more"]
        assert made.data[0].content[0].type == "output_text"
        for n in range(25):
            await sdk.conversations.items.create(
                conv.id, items=[{"type": "message", "role": "user", "content": str(n)}]
            )
        walked = [i.id async for i in sdk.conversations.items.list(conv.id, limit=10)]
        stored = [i["id"] for i in server.conversations.items(conv.id)]
        assert walked == stored[::-1]  # every page, newest first
        asc = [i.id async for i in sdk.conversations.items.list(conv.id, order="asc", limit=100)]
        assert asc == stored
        one = await sdk.conversations.items.retrieve(stored[0], conversation_id=conv.id)
        assert one.content[0].text == "hello"
        after = await sdk.conversations.items.delete(stored[0], conversation_id=conv.id)
        assert after.id == conv.id
        with pytest.raises(openai.NotFoundError):
            await sdk.conversations.items.retrieve(stored[0], conversation_id=conv.id)
        with pytest.raises(openai.BadRequestError):
            await sdk.conversations.items.create(
                conv.id, items=[{"type": "message", "role": "user", "content": "x"}] * 21
            )
        deleted = await sdk.conversations.delete(conv.id)
        assert deleted.deleted is True
        with pytest.raises(openai.NotFoundError):
            await sdk.conversations.retrieve(conv.id)


# -- malformed requests ---------------------------------------------------------------

PART_KEYS = st.sampled_from(
    ["type", "text", "image_url", "file_id", "detail", "annotations", "refusal", "filename"]
)
PART_TYPES = st.sampled_from(["input_text", "output_text", "input_image", "input_file", "refusal"])
ITEM = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "function_call", "reasoning"])
        | st.dictionaries(st.text(max_size=3), JSON, max_size=2)
        | st.lists(JSON, max_size=2)
        | JSON,
        "role": st.sampled_from(["user", "assistant", "system", "developer"]) | JSON,
        "content": st.lists(st.dictionaries(PART_KEYS, JSON | PART_TYPES, max_size=3), max_size=3)
        | JSON,
        "call_id": JSON,
    },
)
BODY = st.fixed_dictionaries(
    {},
    optional={
        "items": st.lists(ITEM, max_size=3) | JSON,
        "metadata": st.dictionaries(st.text(max_size=4), JSON, max_size=3) | JSON,
    },
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    flavour=st.sampled_from(["openai", "azure_v1", "foundry_v1"]),
    target=st.sampled_from(["create", "items", "update"]),
    body=BODY,
)
async def test_no_malformed_conversation_body_is_a_500(
    server: Emulator, http: aiohttp.ClientSession, flavour: Flavour, target: str, body: Any
) -> None:
    base = server.url_for(flavour)
    record = server.conversations.create()
    path = {
        "create": "/conversations",
        "items": f"/conversations/{record.id}/items",
        "update": f"/conversations/{record.id}",
    }[target]
    async with http.post(base + path, data=orjson.dumps(body)) as resp:
        reply = orjson.loads(await resp.read())
        assert resp.status in (200, 400), (resp.status, reply)
    if resp.status == 400:
        assert reply["error"]["message"]
        assert server.conversations.items(record.id) == []  # nothing stored by a refusal


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    flavour=st.sampled_from(["openai", "foundry_v1"]),
    query=st.dictionaries(
        st.sampled_from(["limit", "order", "after", "before"]), st.text(max_size=70)
    ),
)
async def test_no_malformed_items_query_is_a_500(
    server: Emulator, http: aiohttp.ClientSession, flavour: Flavour, query: dict[str, str]
) -> None:
    record = server.conversations.create(items=[user("a")])
    url = f"{server.url_for(flavour)}/conversations/{record.id}/items"
    async with http.get(url, params=query) as resp:
        assert resp.status in (200, 400), (resp.status, await resp.read())
