"""A token provider: a user's function returning the current token, asked every time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

from .failure import call_provider
from .invoke import provider_name
from .source import CredentialError, token_problem

__all__ = ["CallableToken", "TokenProvider"]

TokenProvider: TypeAlias = "Callable[[], str | Awaitable[str]]"
"""A sync or async callable with no arguments returning the current key or token."""


class CallableToken:
    """Calls ``fn`` before every attempt and uses what it returns, uncached.

    Caching is the provider's job (azure-identity's ``get_bearer_token_provider`` caches
    until shortly before expiry). A sync ``fn`` runs in a worker thread unless
    ``run_in_thread=False`` (for a provider known never to block). A provider that
    raises or returns something that is not a usable token gives a
    :class:`CredentialError`, raised to the caller (not retried).
    """

    __slots__ = ("_fn", "_name", "_run_in_thread")

    def __init__(self, fn: TokenProvider, *, run_in_thread: bool = True) -> None:
        if not callable(fn):
            raise TypeError(f"a token provider must be callable, not {type(fn).__name__}")
        self._fn = fn
        self._name = provider_name(fn)
        self._run_in_thread = run_in_thread

    async def get(self) -> str:
        """What the provider returns now."""
        what = f"the token provider {self._name}"
        value = await call_provider(what, self._fn, in_thread=self._run_in_thread)
        problem = token_problem(value)
        if problem is not None:
            raise CredentialError(f"{what} returned a value that {problem}")
        assert isinstance(value, str)
        return value

    def invalidate(self, rejected: str) -> bool:
        """Nothing is cached here; the provider is asked again: True."""
        return True

    def __repr__(self) -> str:
        return f"CallableToken({self._name})"
