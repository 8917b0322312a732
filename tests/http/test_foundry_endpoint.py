"""``Client.foundry`` against the emulator's Foundry project prefix in Entra mode, over
real loopback HTTP (issue 15, item 2): the request shape, credentials (sync and async,
cached, renewed on a 401), the Foundry list shape parsed losslessly, clear errors."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

import openai_messages as om
from openai_messages._codec import converter
from openai_messages.emulator import AI_AZURE_SCOPE, Emulator

KEY = "sk-live-foundry-0123456789"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, entra=True) as emulator:
        emulator.store.create_thread("thread_f")
        emulator.store.add_messages("thread_f", 7)
        yield emulator


async def test_requests_go_under_the_project_with_api_version_and_a_bearer(emu: Emulator) -> None:
    credential = emu.credential(3600)
    async with om.Client.foundry(emu.url_for("foundry", "proj-1"), credential=credential) as c:
        messages = await c.list("thread_f", order="asc", page_size=3).collect()
        created = await c.create("thread_f", role="user", content="hello")
    assert len(messages) == 7
    assert created.text == "hello"
    assert repr(c).endswith(" foundry>")
    for record in emu.log:
        assert record.path.startswith("/api/projects/proj-1/threads/thread_f/messages")
        assert record.query["api-version"] == "v1"
        assert record.headers["Authorization"].startswith("Bearer emu-entra-")
        assert record.status == 200
    assert credential.scopes[0] == (AI_AZURE_SCOPE,)
    assert credential.calls == 1  # cached: one token for the whole session


async def test_an_async_credential_is_renewed_once_on_a_401(emu: Emulator) -> None:
    credential = emu.async_credential(3600)
    async with om.Client.foundry(emu.url_for("foundry"), credential=credential) as c:
        await c.retrieve_thread("thread_f")
        emu.tokens.expire_all()  # the cached token is refused before its expires_on
        thread = await c.retrieve_thread("thread_f")
        assert c.stats["retries"] == 0
    assert thread.id == "thread_f"
    assert [r.status for r in emu.log] == [200, 401, 200]
    assert credential.calls == 2


async def test_a_token_provider(emu: Emulator) -> None:
    async def provider() -> str:
        return emu.issue_token(3600, AI_AZURE_SCOPE).token

    async with om.Client.foundry(
        emu.url_for("foundry"), token_provider=provider, azure_api_version="2025-05-01"
    ) as c:
        await c.retrieve_thread("thread_f")
    assert emu.log[0].query["api-version"] == "2025-05-01"


async def test_foundry_pages_without_object_or_first_id_parse_losslessly(emu: Emulator) -> None:
    token = emu.issue_token(3600, AI_AZURE_SCOPE).token
    url = f"{emu.url_for('foundry')}/threads/thread_f/messages?api-version=v1&limit=4&order=asc"
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        raw = orjson.loads(await resp.read())
    assert "object" not in raw
    assert "first_id" not in raw
    async with om.Client.foundry(emu.url_for("foundry"), token_provider=lambda: token) as c:
        pages = [r.value async for r in c.with_response.list("thread_f", order="asc", page_size=4)]
    assert converter.unstructure(pages[0]) == raw
    assert [len(p.data) for p in pages] == [4, 3]
    assert pages[1].data[0].id != pages[0].data[-1].id  # the cursor is the last item's id


async def test_the_endpoint_must_be_a_project_endpoint(emu: Emulator) -> None:
    with pytest.raises(om.InvalidArgumentError, match="api/projects"):
        om.Client.foundry(emu.root_url, token_provider=lambda: "t")
    with pytest.raises(om.InvalidArgumentError, match="not both"):
        om.Client.foundry(
            emu.url_for("foundry"), credential=emu.credential(), token_provider=lambda: "t"
        )


def test_without_a_credential_and_without_azure_identity_the_error_names_the_extra() -> None:
    if importlib.util.find_spec("azure") is not None:
        pytest.skip("an azure package is installed here")
    with pytest.raises(om.CredentialError, match=r'pip install "openai_messages\[azure\]"'):
        om.Client.foundry("https://r.services.ai.azure.com/api/projects/p")


async def test_a_refused_credential_token_twice_is_an_authentication_error(emu: Emulator) -> None:
    credential = emu.credential(-1)  # every token it gives is already expired
    with pytest.raises(om.CredentialError, match="expired"):
        async with om.Client.foundry(emu.url_for("foundry"), credential=credential) as c:
            await c.retrieve_thread("thread_f")
    assert len(emu.log) == 0


async def test_with_neither_the_default_azure_credential_is_made_on_first_use(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-identity is not installed here: a module of that name whose
    DefaultAzureCredential is the emulator's async credential stands in for it."""
    made: list[Any] = []
    closed: list[bool] = []

    def default_credential(**kwargs: Any) -> Any:
        credential = emu.async_credential(3600)

        async def close() -> None:
            closed.append(True)

        credential.close = close  # type: ignore[method-assign]
        made.append(credential)
        return credential

    for name in ("azure", "azure.identity", "azure.identity.aio"):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        module.DefaultAzureCredential = default_credential  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, module)
    client = om.Client.foundry(emu.url_for("foundry"))
    assert made == []  # nothing created before the first call
    async with client:
        assert len(await client.list("thread_f").collect()) == 7
        await client.retrieve_thread("thread_f")
    assert len(made) == 1
    assert made[0].scopes == [(AI_AZURE_SCOPE,)]
    assert closed == [True]
