"""Turning a provider's exception into a :class:`CredentialError` that holds no secret."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._core.scrubbing import Scrubber
from .._core.unchained import raise_alone
from .invoke import invoke
from .source import CredentialError
from .worker import Worker

__all__ = ["DETAIL_LIMIT", "call_provider", "provider_failure"]

DETAIL_LIMIT = 300


def provider_failure(what: str, exc: BaseException, known: Iterable[str] = ()) -> CredentialError:
    """A CredentialError naming ``what`` failed and ``exc``'s type, with a scrubbed excerpt
    of its message. ``exc`` is chained only when nothing it prints looks like a secret."""
    scrubber = Scrubber(*known, shapes=True)
    try:
        detail = " ".join(str(exc).split())
    except Exception:
        detail = ""
    detail = scrubber.text(detail)
    if len(detail) > DETAIL_LIMIT:
        detail = detail[:DETAIL_LIMIT] + "..."
    message = f"{what} raised {type(exc).__name__}"
    if detail:
        message = f"{message}: {detail}"
    error = CredentialError(message)
    if scrubber.safe_to_chain(exc):
        error.__cause__ = exc
    error.__suppress_context__ = True
    return error


async def call_provider(
    what: str,
    fn: Callable[..., Any],
    *args: Any,
    worker: Worker | None,
    known: Iterable[str] = (),
) -> Any:
    """``fn(*args)`` (see :func:`invoke`); any exception but a CredentialError or a
    cancellation becomes a :func:`provider_failure`, raised outside the handler so that
    an unsafe original is not even kept as its ``__context__``."""
    try:
        return await invoke(fn, *args, worker=worker)
    except CredentialError:
        raise
    except Exception as exc:
        failure = provider_failure(what, exc, known)
    raise_alone(failure)
