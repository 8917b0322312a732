"""Long walks on the Foundry prefix that outlive several token lifetimes, with every
credential kind, over real loopback HTTP (issue 15, items 1, 2 and 6).

3,000 messages in pages of 100 against ``Emulator(entra=True)``, tokens living 2 s and
each page taking 0.2 s, so that a walk spans three lifetimes or more: every message
arrives exactly once, in order, and the tokens were renewed on the way (ahead of their
expiry, or after a 401 and one re-send), never with a retry.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

import openai_messages as om
from openai_messages.emulator import AI_AZURE_SCOPE, Emulator

MESSAGES = 3000
LIFETIME = 2.0
LATENCY = 0.2
KINDS = [
    "sync_callable",
    "async_callable",
    "credential",
    "async_credential",
    "command_json",
    "command_text",
]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(api_key="sk-walks-0123456789", entra=True) as emulator:
        emulator.store.create_thread("thread_long")
        emulator.store.add_messages("thread_long", MESSAGES)
        emulator.latency = LATENCY
        yield emulator


def command(emu: Emulator, text: bool) -> list[str]:
    url = f"{emu.token_url}?lifetime={LIFETIME}&scope={AI_AZURE_SCOPE}"
    if text:
        url += "&format=text"
    fetch = f"import urllib.request; print(urllib.request.urlopen({url!r}).read().decode().strip())"
    return [sys.executable, "-c", fetch]


def caching_provider(emu: Emulator) -> Any:
    """Like azure-identity's bearer token provider: one token until shortly before expiry."""
    current: list[Any] = []

    def provider() -> str:
        if not current or time.time() > current[0].expires_at - LIFETIME / 2:
            current[:] = [emu.issue_token(LIFETIME, AI_AZURE_SCOPE)]
        return str(current[0].token)

    return provider


def credential_of(kind: str, emu: Emulator) -> dict[str, Any]:
    if kind == "sync_callable":
        return {"token_provider": caching_provider(emu)}
    if kind == "async_callable":
        sync = caching_provider(emu)

        async def provider() -> str:
            return str(sync())

        return {"token_provider": provider}
    if kind == "credential":
        return {"credential": emu.credential(LIFETIME)}
    if kind == "async_credential":
        return {"credential": emu.async_credential(LIFETIME)}
    source = om.auth.CommandToken(command(emu, text=kind == "command_text"), timeout=30)
    return {"token_provider": source}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_long_walk_outlives_its_tokens_exactly_once(emu: Emulator, kind: str) -> None:
    expected = [m["id"] for m in emu.store.messages("thread_long")]
    async with om.Client.foundry(
        emu.url_for("foundry"), max_retries=0, timeout=60, **credential_of(kind, emu)
    ) as client:
        ids = [m.id async for m in client.list("thread_long", order="asc", page_size=100)]
        stats = client.stats
    assert ids == expected  # every message once, in order
    assert len(ids) == MESSAGES
    assert stats["retries"] == 0
    tokens = {r.headers["Authorization"] for r in emu.log}
    assert len(tokens) >= 3  # the walk outlived at least two tokens
    refused = [r for r in emu.log if r.status == 401]
    assert all(r.status in (200, 401) for r in emu.log)
    assert len(emu.log) == MESSAGES // 100 + len(refused)
    if kind == "command_text":  # no expiry printed: renewed after each 401 only
        assert len(refused) == len(tokens) - 1
