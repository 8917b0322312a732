"""Keys and tokens that refresh, over real loopback HTTP (issue 15, item 1).

``api_key`` may be a str, a sync or async callable, a credential object or a
TokenSource: asked before every attempt (retries included), refreshed once on a 401,
failures typed as :class:`CredentialError` and never retried, secrets never shown.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

import openai_messages as om
from openai_messages.emulator import Emulator, Fault

from ..support import FAST_RETRIES

KEY = "sk-live-auth-KEY-0123456789"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, entra=True) as emulator:
        emulator.store.create_thread("thread_a")
        emulator.store.add_messages("thread_a", 5)
        yield emulator


def sent_tokens(emu: Emulator) -> list[str]:
    return [r.headers.get("Authorization", "") for r in emu.log]


async def test_sync_callable_is_asked_before_every_attempt(emu: Emulator) -> None:
    issued: list[str] = []

    def provider() -> str:
        token = emu.issue_token(3600).token
        issued.append(token)
        return token

    emu.faults.add(Fault.error(500), route="retrieve", nth={1, 2})
    async with om.Client(api_key=provider, base_url=emu.url, retry_policy=FAST_RETRIES) as client:
        page = [m async for m in client.list("thread_a")]
        await client.retrieve("thread_a", page[0].id)
    assert len(issued) == len(emu.log) == 4  # one list + three attempts of the retrieve
    assert sent_tokens(emu) == [f"Bearer {t}" for t in issued]


async def test_async_callable_is_not_cached(emu: Emulator) -> None:
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return emu.issue_token(3600).token

    async with om.Client(api_key=provider, base_url=emu.url) as client:
        for _ in range(3):
            [m async for m in client.list("thread_a")]
    assert calls == 3 == len(emu.log)
    assert len(set(sent_tokens(emu))) == 3


def stale_then_fresh(emu: Emulator) -> object:
    """A provider that serves its first token twice (its cache does not know the server
    refused it), then a fresh one each time."""
    first = emu.issue_token(3600).token
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        return first if calls <= 2 else emu.issue_token(3600).token

    return provider


async def test_a_refused_token_is_refreshed_once_without_spending_a_retry(emu: Emulator) -> None:
    provider = stale_then_fresh(emu)

    budget = om.RetryBudget(ratio=0.0, min_per_second=0.0)
    async with om.Client(
        api_key=provider,  # type: ignore[arg-type]
        base_url=emu.url,
        max_retries=0,
        retry_budget=budget,
    ) as client:
        [m async for m in client.list("thread_a")]
        emu.tokens.expire_all()
        response = await client.with_response.retrieve_thread("thread_a")
        assert client.stats["retries"] == 0
    assert response.value.id == "thread_a"
    assert [r.status for r in emu.log] == [200, 401, 200]


async def test_a_create_refreshed_after_401_keeps_its_idempotency_key(emu: Emulator) -> None:
    provider = stale_then_fresh(emu)

    async with om.Client(
        api_key=provider,  # type: ignore[arg-type]
        base_url=emu.url,
        max_retries=0,
    ) as client:
        [m async for m in client.list("thread_a")]
        emu.tokens.expire_all()
        await client.create("thread_a", role="user", content="hello")
    creates = [r for r in emu.log if r.method == "POST"]
    assert [r.status for r in creates] == [401, 200]
    keys = {r.headers["Idempotency-Key"] for r in creates}
    assert len(keys) == 1
    assert len(emu.store.messages("thread_a")) == 6


async def test_a_static_key_refused_is_not_resent(emu: Emulator) -> None:
    async with om.Client(api_key="sk-wrong-key-0000", base_url=emu.url) as client:
        with pytest.raises(om.AuthenticationError):
            await client.retrieve_thread("thread_a")
    assert len(emu.log) == 1


async def test_a_token_refused_twice_is_an_authentication_error(emu: Emulator) -> None:
    calls = 0

    def provider() -> str:
        nonlocal calls
        calls += 1
        return emu.issue_token(-1).token  # already expired

    async with om.Client(api_key=provider, base_url=emu.url, max_retries=3) as client:
        with pytest.raises(om.AuthenticationError):
            await client.retrieve_thread("thread_a")
    assert calls == 2
    assert len(emu.log) == 2


@pytest.mark.parametrize("outcome", ["raise", "empty", "none"])
async def test_a_failing_provider_is_a_credential_error_not_retried(
    emu: Emulator, outcome: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0
    secret = "sk-leaked-in-the-provider-message-1234567890"

    def provider() -> str | None:
        nonlocal calls
        calls += 1
        if outcome == "raise":
            raise RuntimeError(f"vault unreachable, last token {secret}")
        return "" if outcome == "empty" else None

    caplog.set_level(logging.DEBUG, logger="openai_messages")
    async with om.Client(
        api_key=provider,  # type: ignore[arg-type]  # returns None on purpose
        base_url=emu.url,
        max_retries=3,
    ) as client:
        with pytest.raises(om.CredentialError) as info:
            await client.retrieve_thread("thread_a")
    assert calls == 1
    assert len(emu.log) == 0
    assert info.value is not None
    assert secret not in str(info.value)
    assert all(secret not in r.getMessage() for r in caplog.records)
    assert om.CredentialError is om.auth.CredentialError


async def test_a_slow_provider_counts_in_the_calls_timeout(emu: Emulator) -> None:
    release = threading.Event()

    def provider() -> str:
        release.wait(5)
        return emu.issue_token(3600).token

    try:
        async with om.Client(api_key=provider, base_url=emu.url, timeout=0.2) as client:
            with pytest.raises(om.APITimeoutError):
                await client.retrieve_thread("thread_a")
    finally:
        release.set()
    assert len(emu.log) == 0


async def test_tokens_are_scrubbed_from_errors_and_never_in_a_repr() -> None:
    """A server that echoes the Authorization header of each attempt in its 400."""
    tokens: list[str] = []

    async def echo(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        body = {"error": {"message": f"bad request with {header}", "code": header}}
        return web.json_response(body, status=400, headers={"X-Echo": header})

    def provider() -> str:
        token = f"tok-{len(tokens)}-abcdefghijklmnop0123456789"
        tokens.append(token)
        return token

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with om.Client(
            api_key=provider, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
        ) as client:
            errors = []
            for _ in range(2):
                with pytest.raises(om.BadRequestError) as info:
                    await client.retrieve_thread("thread_a")
                errors.append(info.value)
            texts = [repr(client), repr(client._transport)]
            for error in errors:
                texts += [str(error), repr(error), str(error.headers), str(error.code)]
    finally:
        await runner.cleanup()
    assert len(tokens) == 2
    assert "bad request with Bearer ***" in str(errors[1])
    assert all(t not in text for t in tokens for text in texts)


async def test_repr_never_shows_the_key_or_the_provider_result(emu: Emulator) -> None:
    async with om.Client(api_key=KEY, base_url=emu.url) as client:
        assert KEY not in repr(client)
        assert KEY not in repr(client._transport.__dict__)


async def test_azure_ad_token_provider_is_asked_every_attempt(emu: Emulator) -> None:
    calls = 0

    def provider() -> str:
        nonlocal calls
        calls += 1
        return emu.issue_token(3600, "https://cognitiveservices.azure.com/.default").token

    emu.faults.add(Fault.error(503), route="retrieve_thread", nth=1)
    async with om.Client.azure(
        endpoint=emu.url_for("azure"),
        azure_ad_token_provider=provider,
        retry_policy=FAST_RETRIES,
    ) as client:
        await client.retrieve_thread("thread_a")
    assert calls == 2
    assert all(r.headers["Authorization"].startswith("Bearer emu-entra-") for r in emu.log)
    assert all("api-key" not in r.headers for r in emu.log)


async def test_the_provider_secret_is_stripped_on_cross_origin_redirects(emu: Emulator) -> None:
    async with Emulator(api_key=None) as other:
        other.store.create_thread("thread_a")
        emu.faults.add(Fault.redirect(other.root_url + "{path_qs}", status=307))

        async def provider() -> str:
            return emu.issue_token(3600).token

        async with om.Client(api_key=provider, base_url=emu.url, max_retries=0) as client:
            thread = await client.retrieve_thread("thread_a")
        assert thread.id == "thread_a"
        assert len(other.log) == 1
        assert "Authorization" not in other.log[0].headers
        assert emu.log[0].headers["Authorization"].startswith("Bearer emu-entra-")


async def test_concurrent_calls_scrub_each_their_own_token() -> None:
    """The first call is answered only once the second has sent its own token: each error
    is scrubbed of the token that call sent, not of the latest one the client used."""
    arrived = 0
    first_arrived = asyncio.Event()
    second_arrived = asyncio.Event()

    async def echo(request: web.Request) -> web.Response:
        nonlocal arrived
        arrived += 1
        if arrived == 1:
            first_arrived.set()
            await asyncio.wait_for(second_arrived.wait(), 30)  # a hang guard only
        else:
            second_arrived.set()
        header = request.headers.get("Authorization", "")
        return web.json_response({"error": {"message": f"refused {header}"}}, status=400)

    tokens = iter(f"tok-{i}-abcdefghijklmnop0123456789" for i in range(10))
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with om.Client(
            api_key=lambda: next(tokens),
            base_url=f"http://127.0.0.1:{port}/v1",
            max_retries=0,
            # no holding back before the first reply: the second call goes out at once
            rate_limits=om.RateLimits(first_reply_wait=None),
        ) as client:
            first = asyncio.ensure_future(client.retrieve_thread("thread_a"))
            await first_arrived.wait()
            outcomes = await asyncio.gather(
                first, client.retrieve_thread("thread_b"), return_exceptions=True
            )
    finally:
        await runner.cleanup()
    assert all(isinstance(o, om.BadRequestError) for o in outcomes)
    for outcome in outcomes:
        assert "refused Bearer ***" in str(outcome)
        assert "tok-" not in str(outcome)
