"""Reading a listing's newest pages to settle an ambiguous create, within the deadline.

Both reconciles (:mod:`~openai_messages._transport.reconcile` for messages,
:mod:`~openai_messages._transport.item_reconcile` for conversation items) look back the
same way: newest first, each page handed to the caller, the call's deadline kept, any
failure of the look itself reported as an outcome it cannot tell.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import aclosing
from typing import Final, TypeVar

from .. import errors
from .retry_loop import Pages, Response

__all__ = ["RECONCILE_MAX_ITEMS", "read_newest"]

RECONCILE_MAX_ITEMS: Final = 1000
"""How many of the newest messages or items a reconcile reads at most."""

PageT = TypeVar("PageT")


async def read_newest(
    pages: Callable[[float | None], Pages[Response[PageT]]],
    deadline: float | None,
    unknown: Callable[[str], errors.CreateOutcomeUnknownError],
    take: Callable[[Response[PageT]], bool],
) -> bool | None:
    """Hand each page of ``pages(timeout)`` (newest first) to ``take`` until it says stop.

    Returns whether the listing ran out before ``take`` returned True, or None when the
    listing is not found (a 404: the create stored nothing there). Running out of time,
    or a failure while reading, raises ``unknown(reason)``.
    """
    timeout = None if deadline is None else deadline - time.monotonic()
    if timeout is not None and timeout <= 0:
        raise unknown("the call's timeout ran out before checking")
    try:
        async with aclosing(pages(timeout)) as walk:
            async for response in walk:
                if take(response):
                    return False
                if deadline is not None and time.monotonic() >= deadline:
                    raise unknown("the call's timeout ran out while checking")
    except errors.NotFoundError:
        return None
    except errors.OpenAIMessagesError as exc:
        if isinstance(exc, errors.CreateOutcomeUnknownError):
            raise
        raise unknown(f"checking failed too ({type(exc).__name__})") from None
    return True
