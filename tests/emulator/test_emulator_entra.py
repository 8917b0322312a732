"""The emulator's Entra ID mode over real loopback HTTP: short-lived tokens, 401 with
``WWW-Authenticate`` once they expire, audiences, the token endpoint and the
credential helpers.  Time moves through an injected clock: nothing sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from openai_messages.emulator import (
    AI_AZURE_SCOPE,
    COGNITIVE_SERVICES_SCOPE,
    Emulator,
    TokenIssuer,
)

KEY = "sk-emu-entra"
EXPIRED = 'Bearer error="invalid_token", error_description="The token is expired"'


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(clock: FakeClock) -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, entra=True, tokens=TokenIssuer(clock=clock)) as emu:
        emu.store.create_thread("thread_e")
        emu.store.add_messages("thread_e", 3)
        yield emu


async def get(url: str, headers: dict[str, str]) -> tuple[int, Any, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        return resp.status, orjson.loads(await resp.read()), resp.headers


def foundry_list(emu: Emulator) -> str:
    return f"{emu.url_for('foundry')}/threads/thread_e/messages?api-version=v1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_fresh_token_200_then_expired_401_with_www_authenticate(
    server: Emulator, clock: FakeClock
) -> None:
    issued = server.issue_token(2.0, AI_AZURE_SCOPE)
    assert issued.expires_on == int(clock.now + 2.0)
    assert issued.token not in repr(issued)
    status, page, _ = await get(foundry_list(server), bearer(issued.token))
    assert status == 200
    assert len(page["data"]) == 3
    clock.now += 2.0
    status, err, headers = await get(foundry_list(server), bearer(issued.token))
    assert status == 401
    assert headers["WWW-Authenticate"] == EXPIRED
    assert err["error"]["code"] == "401"
    assert "expired" in err["error"]["message"]
    assert issued.token not in orjson.dumps(err).decode()
    # a new token works again
    status, _, _ = await get(foundry_list(server), bearer(server.issue_token(2.0).token))
    assert status == 200


async def test_expired_tokens_are_refused_on_every_prefix(
    server: Emulator, clock: FakeClock
) -> None:
    token = server.issue_token(0.0).token  # expired from the start
    urls = [
        f"{server.url}/threads/thread_e/messages",
        f"{server.url_for('azure')}/openai/threads/thread_e/messages?api-version=2024-05-01-preview",
        f"{server.url_for('azure_v1')}/threads/thread_e/messages",
        foundry_list(server),
    ]
    for url in urls:
        status, _, headers = await get(url, bearer(token))
        assert status == 401, url
        assert headers["WWW-Authenticate"] == EXPIRED
    fresh = server.issue_token(60.0).token
    for url in urls:
        status, _, _ = await get(url, bearer(fresh))
        assert status == 200, url
    server.tokens.expire_all()
    status, _, headers = await get(urls[0], bearer(fresh))
    assert (status, headers["WWW-Authenticate"]) == (401, EXPIRED)


async def test_foundry_wants_a_token_in_entra_mode(server: Emulator) -> None:
    status, _, headers = await get(foundry_list(server), bearer(KEY))
    assert status == 401
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    status, _, headers = await get(foundry_list(server), {})
    assert (status, headers["WWW-Authenticate"]) == (401, "Bearer")
    # the key still works where keys are accepted
    status, _, _ = await get(f"{server.url}/threads/thread_e/messages", bearer(KEY))
    assert status == 200
    status, _, _ = await get(
        f"{server.url_for('azure_v1')}/threads/thread_e/messages", {"api-key": KEY}
    )
    assert status == 200
    # an unknown bearer value is neither the key nor a token
    status, _, headers = await get(f"{server.url}/threads/thread_e/messages", bearer("nope"))
    assert status == 401
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]


async def test_audience_must_match_the_prefix(server: Emulator) -> None:
    azure_token = server.issue_token(60.0, COGNITIVE_SERVICES_SCOPE).token
    status, _, headers = await get(foundry_list(server), bearer(azure_token))
    assert status == 401
    assert "audience" in headers["WWW-Authenticate"]
    status, _, _ = await get(
        f"{server.url_for('azure_v1')}/threads/thread_e/messages", bearer(azure_token)
    )
    assert status == 200


async def test_token_endpoint(server: Emulator, clock: FakeClock) -> None:
    async with aiohttp.ClientSession() as http:
        params = {"lifetime": "5", "scope": AI_AZURE_SCOPE}
        async with http.get(server.token_url, params=params) as resp:
            assert resp.status == 200
            body = await resp.json()
        async with http.get(server.token_url, params={**params, "format": "text"}) as resp:
            text = (await resp.text()).strip()
        async with http.get(server.token_url, params={"lifetime": "soon"}) as resp:
            assert resp.status == 400
    assert body["token_type"] == "Bearer"
    assert body["expires_on"] == int(clock.now + 5)
    assert body["expires_in"] == 5
    assert text != body["access_token"]
    for token in (body["access_token"], text):
        status, _, _ = await get(foundry_list(server), bearer(token))
        assert status == 200
    clock.now += 5
    status, _, _ = await get(foundry_list(server), bearer(text))
    assert status == 401
    assert server.tokens.issued == 2


async def test_credentials_sync_and_async(server: Emulator, clock: FakeClock) -> None:
    with server.credential(lifetime=3.0) as cred:
        first = cred.get_token(AI_AZURE_SCOPE)
    async with server.async_credential(lifetime=3.0) as acred:
        second = await acred.get_token(AI_AZURE_SCOPE, tenant_id="ignored")
    assert first.token != second.token
    assert first.expires_on == second.expires_on == int(clock.now + 3.0)
    assert (cred.calls, acred.calls) == (1, 1)
    assert cred.scopes == [(AI_AZURE_SCOPE,)]
    assert first.token not in repr(cred)
    for token in (first.token, second.token):
        status, _, _ = await get(foundry_list(server), bearer(token))
        assert status == 200
    clock.now += 3.0
    for token in (first.token, second.token):
        status, _, headers = await get(foundry_list(server), bearer(token))
        assert (status, headers["WWW-Authenticate"]) == (401, EXPIRED)


async def test_tokens_are_judged_without_entra_mode_too() -> None:
    clock = FakeClock()
    async with Emulator(api_key=KEY, tokens=TokenIssuer(clock=clock)) as emu:
        emu.store.create_thread("thread_e")
        token = emu.issue_token(1.0).token
        status, _, _ = await get(foundry_list(emu), bearer(token))
        assert status == 200
        status, _, _ = await get(foundry_list(emu), bearer(KEY))  # the key, outside Entra mode
        assert status == 200
        clock.now += 1.0
        status, _, headers = await get(foundry_list(emu), bearer(token))
        assert (status, headers["WWW-Authenticate"]) == (401, EXPIRED)
