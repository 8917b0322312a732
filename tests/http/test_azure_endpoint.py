"""``Client.azure`` on the classic and the v1 GA routes, with an api-key, an Entra token
or a token provider, over real loopback HTTP against the emulator (issue 15, item 3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import pytest

import openai_messages as om
from openai_messages.emulator import COGNITIVE_SERVICES_SCOPE, Emulator

KEY = "sk-live-azure-0123456789"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, entra=True) as emulator:
        emulator.store.create_thread("thread_z")
        emulator.store.add_messages("thread_z", 3)
        yield emulator


async def walk(client: om.Client) -> int:
    async with client:
        return len(await client.list("thread_z").collect())


async def test_an_endpoint_ending_in_openai_v1_takes_the_v1_route(emu: Emulator) -> None:
    assert emu.url_for("azure_v1").endswith("/openai/v1")
    assert await walk(om.Client.azure(endpoint=emu.url_for("azure_v1"), api_key=KEY)) == 3
    (record,) = emu.log
    assert record.path == "/openai/v1/threads/thread_z/messages"
    assert "api-version" not in record.query
    assert record.headers["api-key"] == KEY


@pytest.mark.parametrize("suffix", ["", "/"])
async def test_api_version_v1_takes_the_v1_route(emu: Emulator, suffix: str) -> None:
    client = om.Client.azure(endpoint=emu.root_url + suffix, azure_api_version="v1", api_key=KEY)
    assert repr(client).endswith(" azure v1>")
    assert await walk(client) == 3
    assert emu.log[0].path == "/openai/v1/threads/thread_z/messages"
    assert "api-version" not in emu.log[0].query


@pytest.mark.parametrize("suffix", ["", "/openai", "/openai/"])
async def test_the_classic_route(emu: Emulator, suffix: str) -> None:
    client = om.Client.azure(
        endpoint=emu.root_url + suffix, azure_api_version="2024-05-01-preview", api_key=KEY
    )
    assert await walk(client) == 3
    assert emu.log[0].path == "/openai/threads/thread_z/messages"
    assert emu.log[0].query["api-version"] == "2024-05-01-preview"


@pytest.mark.parametrize("route", ["azure", "azure_v1"])
async def test_an_entra_token_on_either_route(
    emu: Emulator, route: Literal["azure", "azure_v1"]
) -> None:
    token = emu.issue_token(3600, COGNITIVE_SERVICES_SCOPE).token
    assert await walk(om.Client.azure(endpoint=emu.url_for(route), azure_ad_token=token)) == 3
    assert emu.log[0].headers["Authorization"] == f"Bearer {token}"
    assert "api-key" not in emu.log[0].headers


@pytest.mark.parametrize("route", ["azure", "azure_v1"])
async def test_a_credential_as_token_provider_on_either_route(
    emu: Emulator, route: Literal["azure", "azure_v1"]
) -> None:
    credential = emu.async_credential(3600)
    client = om.Client.azure(endpoint=emu.url_for(route), azure_ad_token_provider=credential)
    assert await walk(client) == 3
    assert credential.scopes == [(COGNITIVE_SERVICES_SCOPE,)]
    assert emu.log[0].status == 200


async def test_a_callable_api_key_goes_in_the_api_key_header(emu: Emulator) -> None:
    calls = 0

    def key() -> str:
        nonlocal calls
        calls += 1
        return KEY

    assert await walk(om.Client.azure(endpoint=emu.url_for("azure_v1"), api_key=key)) == 3
    assert calls == 1
    assert emu.log[0].headers["api-key"] == KEY


def test_one_credential_only() -> None:
    with pytest.raises(om.InvalidArgumentError, match="not several"):
        om.Client.azure(
            endpoint="https://r.openai.azure.com", api_key=KEY, azure_ad_token_provider=str
        )


async def test_an_azure_client_can_pick_assistants_v1(emu: Emulator) -> None:
    """The Azure api-version and the Assistants version have names of their own."""
    client = om.Client.azure(endpoint=emu.root_url, assistants_version="v1", api_key=KEY)
    assert await walk(client) == 3
    (record,) = emu.log
    assert record.headers["OpenAI-Beta"] == "assistants=v1"
    assert record.query["api-version"] == "2024-05-01-preview"


async def test_the_former_api_version_keyword_still_works_with_a_warning(emu: Emulator) -> None:
    with pytest.warns(DeprecationWarning, match="azure_api_version"):
        client = om.Client.azure(
            endpoint=emu.root_url, api_version="2024-02-15-preview", api_key=KEY
        )
    assert await walk(client) == 3
    (record,) = emu.log
    assert record.query["api-version"] == "2024-02-15-preview"
    assert record.headers["OpenAI-Beta"] == "assistants=v2"
    with (
        pytest.warns(DeprecationWarning, match="azure_api_version"),
        pytest.raises(om.InvalidArgumentError),
    ):
        om.Client.azure(
            endpoint=emu.root_url, api_version="v1", azure_api_version="v1", api_key=KEY
        )
