"""Entra ID (Azure AD) bearer tokens for the emulator: an issuer with short lifetimes,
and credential-like objects (sync and async) that tests hand to a client.

The credentials follow azure-identity's protocol: ``get_token(*scopes)`` returns an
object with ``.token`` and ``.expires_on`` (whole seconds since the epoch).
Written by hand because no library issues throwaway tokens for a loopback server.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from typing import Final, Literal

import attrs

__all__ = [
    "AI_AZURE_SCOPE",
    "COGNITIVE_SERVICES_SCOPE",
    "AsyncEmulatorCredential",
    "EmulatorCredential",
    "IssuedToken",
    "TokenIssuer",
    "TokenVerdict",
]

AI_AZURE_SCOPE: Final = "https://ai.azure.com/.default"
"""The scope of Foundry project endpoints."""
COGNITIVE_SERVICES_SCOPE: Final = "https://cognitiveservices.azure.com/.default"
"""The scope the official SDK asks for on Azure OpenAI endpoints."""

TokenVerdict = Literal["valid", "expired", "wrong_audience", "unknown"]


def _audience(scope: str) -> str:
    return scope.removesuffix("/.default").rstrip("/")


@attrs.frozen
class IssuedToken:
    """A token and when it expires (``expires_on``: whole seconds since the epoch,
    rounded down, so a client that trusts it never uses the token past its expiry)."""

    token: str = attrs.field(repr=False)
    expires_on: int
    expires_at: float = attrs.field(repr=False)
    """The exact expiry (seconds since the epoch)."""
    scopes: tuple[str, ...] = ()


class TokenIssuer:
    """Issues opaque bearer tokens and judges them.

    ``clock`` (default :func:`time.time`) can be replaced so tests move time without
    sleeping.  A token issued for scopes carries their audiences; a token issued for no
    scope is accepted by every prefix.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._tokens: dict[str, IssuedToken] = {}
        self.issued = 0

    def issue(self, lifetime: float = 3600.0, scopes: tuple[str, ...] = ()) -> IssuedToken:
        """A fresh token valid for ``lifetime`` seconds (0 or less: already expired)."""
        expires_at = self.clock() + lifetime
        issued = IssuedToken(
            token="emu-entra-" + secrets.token_urlsafe(24),
            expires_on=math.floor(expires_at),
            expires_at=expires_at,
            scopes=tuple(scopes),
        )
        self._tokens[issued.token] = issued
        self.issued += 1
        return issued

    def known(self, token: str) -> bool:
        """Whether this issuer issued ``token`` (expired or not)."""
        return token in self._tokens

    def judge(self, token: str, audiences: frozenset[str] | None = None) -> TokenVerdict:
        """``valid``, ``expired``, ``wrong_audience`` (not for one of ``audiences``) or
        ``unknown``."""
        issued = self._tokens.get(token)
        if issued is None:
            return "unknown"
        if self.clock() >= issued.expires_at:
            return "expired"
        if (
            audiences is not None
            and issued.scopes
            and not audiences.intersection(_audience(s) for s in issued.scopes)
        ):
            return "wrong_audience"
        return "valid"

    def expire_all(self) -> None:
        """Make every token issued so far expired (the next request with one gets 401)."""
        now = self.clock()
        for token, issued in list(self._tokens.items()):
            if issued.expires_at > now:
                self._tokens[token] = attrs.evolve(
                    issued, expires_at=now, expires_on=math.floor(now)
                )


class _CredentialBase:
    def __init__(self, issuer: TokenIssuer, lifetime: float) -> None:
        self.issuer = issuer
        self.lifetime = lifetime
        self.calls = 0
        self.scopes: list[tuple[str, ...]] = []

    def _issue(self, scopes: tuple[str, ...]) -> IssuedToken:
        self.calls += 1
        self.scopes.append(scopes)
        return self.issuer.issue(self.lifetime, scopes)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} lifetime={self.lifetime} calls={self.calls}>"


class EmulatorCredential(_CredentialBase):
    """A synchronous azure-identity-like credential issuing the emulator's tokens.

    ``calls`` counts ``get_token`` calls and ``scopes`` records what each asked for.
    """

    def get_token(self, *scopes: str, **kwargs: object) -> IssuedToken:
        """A fresh token for ``scopes`` (keyword options such as ``tenant_id`` are ignored)."""
        return self._issue(scopes)

    def close(self) -> None:
        """Nothing to release (part of the credential protocol)."""

    def __enter__(self) -> EmulatorCredential:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncEmulatorCredential(_CredentialBase):
    """The asynchronous variant of :class:`EmulatorCredential`."""

    async def get_token(self, *scopes: str, **kwargs: object) -> IssuedToken:
        """A fresh token for ``scopes`` (keyword options are ignored)."""
        return self._issue(scopes)

    async def close(self) -> None:
        """Nothing to release (part of the credential protocol)."""

    async def __aenter__(self) -> AsyncEmulatorCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
