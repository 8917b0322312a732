"""A token provider: a user's function returning the current token, asked every time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias, Union

from ..errors import InvalidArgumentError
from .failure import call_provider
from .invoke import is_async_callable, provider_name
from .source import CredentialError, token_problem
from .worker import Worker

__all__ = ["CallableToken", "TokenProvider"]

TokenProvider: TypeAlias = Callable[[], Union[str, Awaitable[str]]]  # noqa: UP007
"""A sync or async callable with no arguments returning the current key or token."""


class CallableToken:
    """Calls ``fn`` before every attempt and uses what it returns, uncached.

    Caching is the provider's job (azure-identity's ``get_bearer_token_provider`` caches
    until shortly before expiry). A sync ``fn`` runs in a daemon worker thread of this
    source (see :mod:`.worker`) unless ``run_in_thread=False``, for a provider known never
    to block; a caller that stops waiting leaves the call to finish there. A provider that
    raises or returns something that is not a usable token gives a
    :class:`CredentialError`, raised to the caller (not retried).
    """

    __slots__ = ("_fn", "_name", "_worker")

    def __init__(self, fn: TokenProvider, *, run_in_thread: bool = True) -> None:
        if not callable(fn):
            raise InvalidArgumentError(
                f"a token provider must be callable, not {type(fn).__name__}"
            )
        self._fn = fn
        self._name = provider_name(fn)
        blocking = run_in_thread and not is_async_callable(fn)
        self._worker = Worker(f"openai_messages token provider {self._name}") if blocking else None

    async def get(self) -> str:
        """What the provider returns now."""
        what = f"the token provider {self._name}"
        value = await call_provider(what, self._fn, worker=self._worker)
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
