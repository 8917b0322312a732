"""Calling a user's token provider that may be sync or async, blocking or not.

A coroutine function (or an object whose ``__call__`` is one) is awaited in the loop.
A plain function runs in the source's :class:`~.worker.Worker` thread when one is given:
a sync provider that refreshes over the network would otherwise stall every call of the
loop, and its time could not be bounded by the caller's deadline. The hop costs some
tens of microseconds of CPU, once per request (a walk sends one per 100 messages).
What a sync callable returns may itself be awaitable (``lambda: fetch()``): it is awaited.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .worker import Worker

__all__ = ["invoke", "is_async_callable", "provider_name"]


def is_async_callable(fn: object) -> bool:
    """True when calling ``fn`` gives a coroutine without running anything first."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - the attribute itself is inspected
    return call is not None and inspect.iscoroutinefunction(call)


async def invoke(fn: Callable[..., Any], *args: Any, worker: Worker | None) -> Any:
    """``fn(*args)``, awaited when async; a sync ``fn`` runs in ``worker`` if one is given."""
    if is_async_callable(fn):
        result = fn(*args)
    elif worker is not None:
        result = await worker.run(fn, *args)
    else:
        result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def provider_name(fn: object) -> str:
    """A printable name for ``fn`` that cannot hold a secret (no repr, no arguments)."""
    name = getattr(fn, "__qualname__", None)
    if not isinstance(name, str):
        name = type(fn).__qualname__
    return name
