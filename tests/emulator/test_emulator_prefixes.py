"""The Azure v1 and Foundry prefixes of the emulator over real loopback HTTP: addresses,
``api-version`` rules, auth headers and Foundry's list shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from openai_messages.emulator import FOUNDRY_API_VERSIONS, Emulator

KEY = "sk-emu-prefixes"
BEARER = {"Authorization": f"Bearer {KEY}"}

openai = pytest.importorskip("openai")
# The SDK marks the Assistants API deprecated; that is not what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def server() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, seed=4) as emu:
        yield emu


async def call(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    json: Any = None,
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, headers=headers, params=params, json=json) as resp,
    ):
        return resp.status, orjson.loads(await resp.read())


async def test_url_for_every_flavour(server: Emulator) -> None:
    root = server.root_url
    assert server.url_for("openai") == server.url == root + "/v1"
    assert server.url_for("azure") == root
    assert server.url_for("azure_v1") == root + "/openai/v1"
    assert server.url_for("foundry") == root + "/api/projects/emulator"
    assert server.url_for("foundry", project="p1") == root + "/api/projects/p1"
    with pytest.raises(ValueError, match="unknown flavour"):
        server.url_for("bedrock")  # type: ignore[arg-type]


async def test_foundry_requires_api_version(server: Emulator) -> None:
    tid = server.store.create_thread("thread_f")
    url = f"{server.url_for('foundry')}/threads/{tid}/messages"
    status, body = await call("GET", url, headers=BEARER)
    assert status == 400
    assert body == {
        "error": {"code": "BadRequest", "message": "Missing required query parameter: api-version"}
    }
    status, body = await call("GET", url, headers=BEARER, params={"api-version": "2024-02-01"})
    assert status == 400
    assert body["error"]["code"] == "UnsupportedApiVersionValue"
    assert "'2024-02-01'" in body["error"]["message"]
    assert "'v1'" in body["error"]["message"]
    for version in FOUNDRY_API_VERSIONS:
        status, body = await call("GET", url, headers=BEARER, params={"api-version": version})
        assert status == 200, (version, body)


async def test_foundry_lists_have_the_agents_paged_result_shape(server: Emulator) -> None:
    tid = server.store.create_thread("thread_f")
    ids = server.store.add_messages(tid, 5)
    url = f"{server.url_for('foundry', 'proj-a')}/threads/{tid}/messages"
    query = {"api-version": "v1", "limit": "2", "order": "asc"}
    status, page = await call("GET", url, headers=BEARER, params=query)
    assert status == 200
    # the schema's AgentsPagedResult: no "object", no "first_id"
    assert set(page) == {"data", "last_id", "has_more"}
    assert [m["id"] for m in page["data"]] == ids[:2]
    assert (page["last_id"], page["has_more"]) == (ids[1], True)
    status, rest = await call(
        "GET", url, headers=BEARER, params={**query, "after": page["last_id"], "limit": "10"}
    )
    assert [m["id"] for m in rest["data"]] == ids[2:]
    assert rest["has_more"] is False
    status, empty = await call("GET", url, headers=BEARER, params={**query, "after": ids[-1]})
    assert empty == {"data": [], "last_id": None, "has_more": False}
    # the other prefixes keep OpenAI's first_id
    status, openai_page = await call("GET", f"{server.url}/threads/{tid}/messages", headers=BEARER)
    assert openai_page["first_id"] == ids[-1]


async def test_foundry_takes_bearer_only(server: Emulator) -> None:
    tid = server.store.create_thread("thread_f")
    url = f"{server.url_for('foundry')}/threads/{tid}?api-version=v1"
    status, body = await call("GET", url, headers={"api-key": KEY})
    assert status == 401
    status, body = await call("GET", url, headers=BEARER)
    assert (status, body["id"]) == (200, tid)


async def test_azure_v1_needs_no_api_version_and_takes_either_header(server: Emulator) -> None:
    tid = server.store.create_thread("thread_v")
    url = f"{server.url_for('azure_v1')}/threads/{tid}/messages"
    for headers in ({"api-key": KEY}, BEARER):
        status, msg = await call(
            "POST", url, headers=headers, json={"role": "user", "content": "hello"}
        )
        assert status == 200, msg
    status, page = await call("GET", url, headers={"api-key": KEY})
    assert status == 200
    assert len(page["data"]) == 2
    assert "first_id" in page
    status, err = await call("GET", url, headers={"api-key": "wrong"})
    assert status == 401
    assert err["error"]["code"] == "invalid_api_key"
    # the classic route still wants api-version
    status, err = await call("GET", f"{server.root_url}/openai/threads/{tid}", headers=BEARER)
    assert (status, err["error"]["param"]) == (400, "api-version")


async def test_the_official_sdk_on_the_foundry_prefix(server: Emulator) -> None:
    async with openai.AsyncOpenAI(
        base_url=server.url_for("foundry"),
        api_key=KEY,
        default_query={"api-version": "v1"},
        max_retries=0,
    ) as sdk:
        thread = await sdk.beta.threads.create(messages=[{"role": "user", "content": "one"}])
        await sdk.beta.threads.messages.create(thread.id, role="assistant", content="two")
        seen = [m.content[0].text.value async for m in sdk.beta.threads.messages.list(thread.id)]
    assert seen == ["two", "one"]
    assert server.log[-1].path == f"/api/projects/emulator/threads/{thread.id}/messages"
    assert server.log[-1].query["api-version"] == "v1"
