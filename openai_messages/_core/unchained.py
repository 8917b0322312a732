"""Raising an error with nothing chained to it. Pure.

An error made from a failure that may hold a secret (a parser's raw line echoing the
key, a provider's message) is raised outside the ``except`` block that caught the
failure, so that the failure is not its ``__context__``. That is not enough where the
running coroutine was resumed *inside* an ``except`` block: asyncio's pure-Python task
(``asyncio.tasks._PyTask``, which pytest-asyncio ran on Python 3.10 here) hands a failed
future's exception to the coroutine from within one, and a ``raise`` there chains that
exception all the same. :func:`raise_alone` clears what its own ``raise`` chained; a
later re-raise up the stack can chain again, which is why the transport also blanks
aiohttp's failures (``_transport/aiohttp_seam._defuse``).
"""

from __future__ import annotations

from typing import NoReturn

__all__ = ["raise_alone"]


def raise_alone(error: BaseException) -> NoReturn:
    """Raise ``error`` with no ``__context__`` (its ``__cause__``, if any, is kept)."""
    try:
        raise error
    finally:
        error.__context__ = None
