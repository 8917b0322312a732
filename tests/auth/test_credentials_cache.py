"""CredentialToken: the token cache over a fake azure-identity credential and a fake clock."""

from __future__ import annotations

import asyncio
import sys
import threading
import types
from typing import Any

import attrs
import pytest

from openai_messages.auth import CredentialError, CredentialToken, default_azure_credential
from openai_messages.errors import InvalidArgumentError

SCOPE = "https://ai.azure.com/.default"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@attrs.frozen
class AccessToken:
    token: str
    expires_on: float


class FakeCredential:
    """Issues ``tok-1``, ``tok-2``... each living ``lifetime`` seconds on ``clock``."""

    def __init__(self, clock: Clock, lifetime: float = 3600.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.scopes: list[tuple[str, ...]] = []
        self.threads: set[int] = set()
        self.gate: asyncio.Event | None = None
        self.fail_with: Exception | None = None

    def issue(self, scopes: tuple[str, ...]) -> AccessToken:
        self.scopes.append(scopes)
        self.threads.add(threading.get_ident())
        if self.fail_with is not None:
            raise self.fail_with
        return AccessToken(f"tok-{len(self.scopes)}", self.clock.now + self.lifetime)

    @property
    def issued(self) -> int:
        return len(self.scopes)


class SyncCredential(FakeCredential):
    def get_token(self, *scopes: str) -> AccessToken:
        return self.issue(scopes)


class AsyncCredential(FakeCredential):
    async def get_token(self, *scopes: str) -> AccessToken:
        await asyncio.sleep(0)
        if self.gate is not None:
            await self.gate.wait()
        return self.issue(scopes)

    closed = False

    async def close(self) -> None:
        self.closed = True


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(kind: str, clock: Clock, lifetime: float = 3600.0) -> FakeCredential:
    return (SyncCredential if kind == "sync" else AsyncCredential)(clock, lifetime)


async def test_the_token_is_cached_until_the_refresh_margin(kind: str) -> None:
    clock = Clock()
    credential = make(kind, clock)
    source = CredentialToken(credential, refresh_margin=300, clock=clock)  # type: ignore[arg-type]
    assert await source.get() == "tok-1"
    assert credential.scopes == [(SCOPE,)]
    clock.now += 3600 - 301
    assert await source.get() == "tok-1"
    clock.now += 2
    assert await source.get() == "tok-2"
    assert credential.issued == source.refreshes == 2


async def test_a_short_lived_token_is_refreshed_at_half_its_life(kind: str) -> None:
    clock = Clock()
    credential = make(kind, clock, lifetime=2.0)
    source = CredentialToken(credential, clock=clock)  # type: ignore[arg-type]
    assert await source.get() == "tok-1"
    clock.now += 0.9
    assert await source.get() == "tok-1"
    clock.now += 0.2
    assert await source.get() == "tok-2"


async def test_a_sync_credential_runs_in_a_worker_thread() -> None:
    clock = Clock()
    credential = SyncCredential(clock)
    await CredentialToken(credential, clock=clock).get()
    assert threading.get_ident() not in credential.threads


async def test_invalidate_forces_a_new_token_only_if_the_rejected_one_is_cached(
    kind: str,
) -> None:
    clock = Clock()
    credential = make(kind, clock)
    source = CredentialToken(credential, clock=clock)  # type: ignore[arg-type]
    assert await source.get() == "tok-1"
    assert source.invalidate("tok-1") is True
    assert await source.get() == "tok-2"
    # A late 401 for the old token must not throw away the fresh one.
    assert source.invalidate("tok-1") is True
    assert await source.get() == "tok-2"
    assert credential.issued == 2


async def test_fifty_concurrent_callers_share_one_refresh(kind: str) -> None:
    clock = Clock()
    credential = make(kind, clock)
    source = CredentialToken(credential, clock=clock)  # type: ignore[arg-type]
    tokens = await asyncio.gather(*(source.get() for _ in range(50)))
    assert set(tokens) == {"tok-1"}
    assert credential.issued == 1
    clock.now += 3600
    tokens = await asyncio.gather(*(source.get() for _ in range(50)))
    assert set(tokens) == {"tok-2"}
    assert credential.issued == 2


async def test_cancelling_a_refresh_leaves_the_source_usable() -> None:
    clock = Clock()
    credential = AsyncCredential(clock)
    credential.gate = asyncio.Event()
    source = CredentialToken(credential, clock=clock)
    first = asyncio.create_task(source.get())
    waiting = [asyncio.create_task(source.get()) for _ in range(5)]
    await asyncio.sleep(0.01)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    credential.gate.set()
    tokens = await asyncio.gather(*waiting)
    assert set(tokens) == {"tok-1"}
    assert credential.issued == 1
    assert await source.get() == "tok-1"


async def test_a_refresh_cut_by_a_deadline_is_retried_by_the_next_call() -> None:
    clock = Clock()
    credential = AsyncCredential(clock)
    credential.gate = asyncio.Event()
    source = CredentialToken(credential, clock=clock)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(source.get(), 0.05)
    credential.gate.set()
    assert await asyncio.wait_for(source.get(), 5) == "tok-1"


class CredentialUnavailableError(Exception):
    pass


async def test_a_failing_credential_gives_a_credential_error_and_no_cache(kind: str) -> None:
    clock = Clock()
    credential = make(kind, clock)
    credential.fail_with = CredentialUnavailableError("no az login session")
    source = CredentialToken(credential, clock=clock)  # type: ignore[arg-type]
    with pytest.raises(CredentialError, match="CredentialUnavailableError: no az login"):
        await source.get()
    credential.fail_with = None
    assert await source.get() == "tok-2"


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (AccessToken("", 1_800_003_600.0), r"\.token that is empty"),
        (AccessToken("tok\n", 1_800_003_600.0), r"\.token that has leading or trailing"),
        (AccessToken("tok", "soon"), r"\.expires_on that is a str"),  # type: ignore[arg-type]
        (AccessToken("tok", 1_799_999_000.0), "expired 1000 s ago"),
        (object(), r"\.token that is a NoneType"),
    ],
)
async def test_a_credential_giving_an_unusable_token_is_refused(
    token: object, problem: str
) -> None:
    class Odd:
        async def get_token(self, *scopes: str) -> Any:
            return token

    source = CredentialToken(Odd(), clock=Clock())
    with pytest.raises(CredentialError, match=problem) as caught:
        await source.get()
    assert "tok" not in str(caught.value).replace("token", "")


def test_credential_token_checks_its_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="get_token"):
        CredentialToken(object())  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="refresh_margin"):
        CredentialToken(SyncCredential(Clock()), refresh_margin=-1)
    with pytest.raises(InvalidArgumentError, match="scope"):
        CredentialToken(SyncCredential(Clock()), scope="")


def test_repr_names_the_credential_and_scope_only() -> None:
    text = repr(CredentialToken(SyncCredential(Clock()), scope="api://app/.default"))
    assert text == "CredentialToken(SyncCredential.get_token('api://app/.default'))"


async def test_aclose_closes_only_an_owned_credential() -> None:
    clock = Clock()
    shared, owned = AsyncCredential(clock), AsyncCredential(clock)
    await CredentialToken(shared, clock=clock).aclose()
    await CredentialToken(owned, clock=clock, close_credential=True).aclose()
    assert (shared.closed, owned.closed) == (False, True)


def test_default_azure_credential_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity.aio", None)
    with pytest.raises(CredentialError, match=r'pip install "openai_messages\[azure\]"'):
        default_azure_credential()


def test_default_azure_credential_is_imported_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("azure.identity.aio")

    class DefaultAzureCredential:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

        async def get_token(self, *scopes: str) -> AccessToken:
            raise NotImplementedError

    module.DefaultAzureCredential = DefaultAzureCredential  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.identity.aio", module)
    credential = default_azure_credential(exclude_interactive_browser_credential=True)
    assert isinstance(credential, DefaultAzureCredential)
    assert credential.kwargs == {"exclude_interactive_browser_credential": True}


async def test_a_source_holding_a_token_cannot_be_pickled() -> None:
    import pickle

    clock = Clock()
    source = CredentialToken(AsyncCredential(clock), clock=clock)
    assert await source.get() == "tok-1"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(source)
    assert "tok-1" not in repr(source)


async def test_callers_waiting_on_a_failing_refresh_share_its_error(kind: str) -> None:
    clock = Clock()
    credential = make(kind, clock)
    credential.fail_with = CredentialUnavailableError("no managed identity endpoint")
    source = CredentialToken(credential, clock=clock)  # type: ignore[arg-type]
    results = await asyncio.gather(*(source.get() for _ in range(50)), return_exceptions=True)
    assert all(isinstance(r, CredentialError) for r in results)
    assert all("no managed identity endpoint" in str(r) for r in results)
    assert credential.issued == 1
    # The next wave asks again, and gets a token once the credential works.
    credential.fail_with = None
    assert await source.get() == "tok-2"
