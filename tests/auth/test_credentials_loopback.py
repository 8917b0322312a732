"""The contract the transport relies on, over loopback HTTP with rotating tokens.

A small server issues tokens at ``/token`` and accepts only the newest one, for 0.5 s
after its first use; older or expired ones get a 401 with ``WWW-Authenticate``. A
client loop, written with raw aiohttp the way the transport will call a TokenSource
(``get`` before each attempt; on a 401 ``invalidate`` once and re-send), sends 30
requests over about 2 s, so the token rotates several times under it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web

from openai_messages.auth import CallableToken, CommandToken, CredentialToken, TokenSource

LIFETIME = 0.5
REQUESTS = 30
SPACING = 2.0 / REQUESTS


class TokenServer:
    """Issues tokens and accepts only the newest, for LIFETIME seconds after its first use."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.first_use: dict[str, float] = {}
        self.rejected = 0
        self.accepted = 0
        self.url = ""
        self.runner: web.AppRunner | None = None

    async def token(self, request: web.Request) -> web.Response:
        token = f"rot-{len(self.issued) + 1}-{secrets.token_hex(8)}"
        self.issued.append(token)
        if request.query.get("format") == "json":
            return web.json_response({"access_token": token, "expires_in": LIFETIME})
        return web.Response(text=token + "\n")

    def current(self, presented: str) -> bool:
        if not self.issued or presented != self.issued[-1]:
            return False
        first = self.first_use.setdefault(presented, time.monotonic())
        return time.monotonic() - first < LIFETIME

    async def messages(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme != "Bearer" or not self.current(presented):
            self.rejected += 1
            return web.json_response(
                {"error": {"message": "token expired", "type": "invalid_request_error"}},
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        self.accepted += 1
        return web.json_response({"object": "list", "data": [], "has_more": False})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/token", self.token)
        app.router.add_get("/threads/thread_1/messages", self.messages)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[TokenServer]:
    srv = TokenServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@attrs.frozen
class Token:
    token: str
    expires_on: float


class AsyncHttpCredential:
    """An async credential that fetches from /token and claims a far expiry (so only a
    401 tells it the token rotated)."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def get_token(self, *scopes: str) -> Token:
        async with self.session.get(f"{self.url}/token") as resp:
            return Token((await resp.text()).strip(), time.time() + 3600)


class SyncHttpCredential:
    """A blocking credential (urllib, run in a thread) reporting the true expiry."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get_token(self, *scopes: str) -> Token:
        with urllib.request.urlopen(f"{self.url}/token?format=json", timeout=10) as resp:
            body = json.loads(resp.read())
        return Token(body["access_token"], time.time() + body["expires_in"])


def command_source(url: str, session: aiohttp.ClientSession) -> TokenSource:
    fetch = f"urllib.request.urlopen({url + '/token'!r}).read().decode().strip()"
    code = f"import urllib.request; print({fetch})"
    return CommandToken([sys.executable, "-c", code], timeout=30)


def async_callable_source(url: str, session: aiohttp.ClientSession) -> TokenSource:
    async def provider() -> str:
        async with session.get(f"{url}/token") as resp:
            return (await resp.text()).strip()

    return CallableToken(provider)


SOURCES: dict[str, Callable[[str, aiohttp.ClientSession], TokenSource]] = {
    "async credential": lambda url, s: CredentialToken(AsyncHttpCredential(url, s)),
    "sync credential": lambda url, s: CredentialToken(SyncHttpCredential(url)),
    "token command": command_source,
    "async provider": async_callable_source,
}


async def send(session: aiohttp.ClientSession, source: TokenSource, url: str) -> list[int]:
    """One call as the transport makes it: the statuses of its attempts."""
    statuses: list[int] = []
    for attempt in (1, 2):
        token = await asyncio.wait_for(source.get(), 30)
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(url, headers=headers) as resp:
            await resp.read()
            statuses.append(resp.status)
            if resp.status == 401:
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
                if attempt == 1 and source.invalidate(token):
                    continue
            return statuses
    return statuses


@pytest.mark.parametrize("kind", list(SOURCES))
async def test_thirty_requests_through_rotating_tokens(server: TokenServer, kind: str) -> None:
    async with aiohttp.ClientSession() as session:
        source = SOURCES[kind](server.url, session)
        calls: list[list[int]] = []
        for _ in range(REQUESTS):
            calls.append(await send(session, source, f"{server.url}/threads/thread_1/messages"))
            await asyncio.sleep(SPACING)
    assert all(statuses[-1] == 200 for statuses in calls), calls
    assert all(len(statuses) <= 2 for statuses in calls)
    resent = sum(1 for statuses in calls if statuses == [401, 200])
    assert server.accepted == REQUESTS
    assert server.rejected == resent
    assert len(server.issued) >= 4, "the tokens rotated while the loop ran"
    if kind in ("async credential", "token command"):
        # These sources learn of a rotation only from the 401: exactly one per new token.
        assert resent == len(server.issued) - 1 >= 3
    if kind == "async provider":
        # Asked before every attempt, uncached: one token per request, never refused.
        assert (resent, len(server.issued)) == (0, REQUESTS)


async def test_without_invalidate_the_rotated_token_keeps_failing(server: TokenServer) -> None:
    """The control: a source that is not told of the 401 keeps sending the dead token."""

    def ignore(rejected: str) -> bool:
        return False

    async with aiohttp.ClientSession() as session:
        source: Any = CredentialToken(AsyncHttpCredential(server.url, session))
        source.invalidate = ignore
        url = f"{server.url}/threads/thread_1/messages"
        assert await send(session, source, url) == [200]
        await asyncio.sleep(LIFETIME * 1.2)
        assert await send(session, source, url) == [401]
