"""Token sources without a lifetime: fixed keys, providers, token_source(), scrubbing."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import subprocess
import sys
import threading
from typing import Any

import pytest

from openai_messages.auth import (
    CallableToken,
    CommandToken,
    CredentialError,
    CredentialToken,
    StaticToken,
    TokenSource,
    token_source,
)
from openai_messages.errors import InvalidArgumentError, OpenAIMessagesError

SECRET = "sk-live-0123456789abcdef0123456789-SECRET"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets or (SECRET,):
        assert secret not in text, f"secret leaked into {text!r}"


# -- StaticToken ---------------------------------------------------------------------------


async def test_static_token_gives_its_value_and_cannot_refresh() -> None:
    source = StaticToken(SECRET)
    assert await source.get() == SECRET
    assert source.invalidate(SECRET) is False
    assert isinstance(source, TokenSource)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (SECRET + "\n", "trailing"),
        (" " + SECRET, "trailing"),
        (SECRET[:5] + "\r\n" + SECRET[5:], "U+000D"),
        (SECRET[:5] + "\x00" + SECRET[5:], "U+0000"),
        (SECRET[:5] + "\x7f" + SECRET[5:], "U+007F"),
        (SECRET[:5] + "é" + SECRET[5:], "U+00E9"),
        ("", "empty"),
    ],
)
def test_static_token_refuses_what_no_header_can_carry(value: str, problem: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        StaticToken(value)
    assert problem in str(caught.value)
    assert_hidden(str(caught.value))
    assert_hidden(repr(caught.value.args))


def test_static_token_refuses_a_non_str() -> None:
    with pytest.raises(InvalidArgumentError, match="bytes, not a str"):
        StaticToken(SECRET.encode())  # type: ignore[arg-type]


def test_static_token_hides_its_value() -> None:
    source = StaticToken(SECRET)
    assert_hidden(repr(source))
    assert_hidden(str(source))
    assert_hidden(f"{source!r} {source}")
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(source)


# -- CallableToken -------------------------------------------------------------------------


async def test_a_sync_provider_is_called_before_every_get_in_a_thread() -> None:
    threads: list[int] = []
    counter = iter(range(100))

    def provider() -> str:
        threads.append(threading.get_ident())
        return f"tok-{next(counter)}"

    source = CallableToken(provider)
    assert [await source.get() for _ in range(3)] == ["tok-0", "tok-1", "tok-2"]
    assert threading.get_ident() not in threads
    assert source.invalidate("tok-2") is True
    assert await source.get() == "tok-3"


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


async def test_a_sync_provider_runs_in_the_callers_context() -> None:
    REQUEST_ID.set("req-42")
    assert await CallableToken(lambda: f"tok-for-{REQUEST_ID.get()}").get() == "tok-for-req-42"


HUNG_PROVIDER = """
import asyncio, sys, time
from openai_messages.auth import CallableToken, CredentialToken

class Credential:
    def get_token(self, *scopes):
        time.sleep(3600)

async def main():
    for source in (CallableToken(lambda: time.sleep(3600)), CredentialToken(Credential())):
        try:
            await asyncio.wait_for(source.get(), 0.2)
        except asyncio.TimeoutError:
            print("timed out", flush=True)

asyncio.run(main())
"""


def test_a_hung_sync_provider_does_not_keep_the_program_from_exiting() -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run(
        [sys.executable, "-c", HUNG_PROVIDER], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["timed out", "timed out"]


async def test_a_sync_provider_can_run_inline_when_asked() -> None:
    threads: list[int] = []

    def provider() -> str:
        threads.append(threading.get_ident())
        return SECRET

    assert await CallableToken(provider, run_in_thread=False).get() == SECRET
    assert threads == [threading.get_ident()]


class AsyncCallableObject:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(0)
        return f"obj-{self.calls}"


async def test_async_providers_of_every_shape_are_awaited() -> None:
    async def coroutine_function() -> str:
        return "coro"

    async def fetch() -> str:
        return "lambda"

    obj = AsyncCallableObject()
    assert await CallableToken(coroutine_function).get() == "coro"
    assert await CallableToken(lambda: fetch()).get() == "lambda"
    assert await CallableToken(obj).get() == "obj-1"
    assert await CallableToken(obj).get() == "obj-2"


class ProviderFailure(RuntimeError):
    pass


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_provider_that_raises_gives_a_credential_error_naming_its_type(
    asynchronous: bool,
) -> None:
    def failing() -> str:
        raise ProviderFailure("tenant not found: run az login")

    async def failing_async() -> str:
        failing()
        return ""

    source = CallableToken(failing_async if asynchronous else failing)
    with pytest.raises(CredentialError) as caught:
        await source.get()
    message = str(caught.value)
    assert "ProviderFailure" in message
    assert "run az login" in message
    # Nothing in it looks like a secret: the original is kept for the traceback.
    assert isinstance(caught.value.__cause__, ProviderFailure)
    assert isinstance(caught.value, OpenAIMessagesError)


async def test_a_provider_error_holding_a_token_is_scrubbed_and_not_chained() -> None:
    def leaky() -> str:
        raise ProviderFailure(f"refused Authorization: Bearer {JWT} and key {SECRET}")

    with pytest.raises(CredentialError) as caught:
        await CallableToken(leaky).get()
    error = caught.value
    assert "ProviderFailure" in str(error)
    assert_hidden(str(error), JWT, SECRET)
    assert error.__cause__ is None
    assert error.__context__ is None


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        (None, "NoneType, not a str"),
        (b"bytes-token", "bytes, not a str"),
        ("", "is empty"),
        (SECRET + "\n", "trailing"),
        (SECRET[:4] + "\n" + SECRET[4:], r"U\+000A"),
    ],
)
async def test_a_provider_returning_no_usable_token_gives_a_credential_error(
    returned: object, problem: str
) -> None:
    source = CallableToken(lambda: returned)  # type: ignore[arg-type,return-value]
    with pytest.raises(CredentialError, match=problem) as caught:
        await source.get()
    assert_hidden(str(caught.value))


async def test_a_provider_error_is_raised_once_not_retried() -> None:
    calls = 0

    def failing() -> str:
        nonlocal calls
        calls += 1
        raise ProviderFailure("down")

    with pytest.raises(CredentialError):
        await CallableToken(failing).get()
    assert calls == 1


async def test_a_cancelled_provider_call_leaves_the_source_usable() -> None:
    gate = asyncio.Event()
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()
        return f"tok-{calls}"

    source = CallableToken(provider)
    pending = asyncio.create_task(source.get())
    await asyncio.sleep(0.01)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert await source.get() == "tok-2"


def test_callable_token_refuses_what_cannot_be_called() -> None:
    with pytest.raises(InvalidArgumentError, match="must be callable, not str"):
        CallableToken(SECRET)  # type: ignore[arg-type]


def test_callable_token_repr_names_the_function_only() -> None:
    def my_provider() -> str:
        return SECRET

    text = repr(CallableToken(my_provider))
    assert "my_provider" in text
    assert_hidden(text)


# -- token_source() ------------------------------------------------------------------------


class SyncCredential:
    def get_token(self, *scopes: str) -> Any:
        raise NotImplementedError


async def test_token_source_maps_each_kind() -> None:
    async def provider() -> str:
        return SECRET

    static = token_source(SECRET)
    assert isinstance(static, StaticToken)
    assert await static.get() == SECRET
    assert isinstance(token_source(provider), CallableToken)
    assert isinstance(token_source(lambda: SECRET), CallableToken)
    credential = token_source(SyncCredential())
    assert isinstance(credential, CredentialToken)
    assert credential.scope == "https://ai.azure.com/.default"
    command = CommandToken(["true"])
    assert token_source(command) is command


@pytest.mark.parametrize("value", [None, 42, SECRET.encode(), ["a"]])
def test_token_source_refuses_anything_else(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="api_key must be") as caught:
        token_source(value)  # type: ignore[arg-type]
    assert_hidden(str(caught.value))


def test_token_source_refuses_a_key_with_a_newline_without_repeating_it() -> None:
    with pytest.raises(InvalidArgumentError, match="api_key has leading or trailing") as caught:
        token_source(SECRET + "\n")
    assert_hidden(str(caught.value))


async def test_no_secret_reaches_a_log_record(caplog: pytest.LogCaptureFixture) -> None:
    class Token:
        token = JWT
        expires_on = 4_102_444_800.0

    class Credential:
        async def get_token(self, *scopes: str) -> Token:
            return Token()

    caplog.set_level(logging.DEBUG, logger="openai_messages")
    source = CredentialToken(Credential())
    assert await source.get() == JWT
    assert source.invalidate(JWT) is True
    assert await source.get() == JWT
    with pytest.raises(CredentialError):
        await CallableToken(lambda: SECRET + "\n").get()
    assert caplog.records, "the refresh is logged at DEBUG"
    for record in caplog.records:
        assert_hidden(record.getMessage(), JWT, SECRET)
