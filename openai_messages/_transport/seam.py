"""The one seam between the client and HTTP: a prepared request in, a reply out.

:class:`Seam` follows redirects (:func:`~openai_messages._core.exchange.redirect_target`)
and counts requests; a subclass supplies :meth:`Seam.exchange`, one HTTP exchange, its
body read through a :class:`~openai_messages._core.exchange.BodyLimit`. The aiohttp one is
:class:`~openai_messages._transport.aiohttp_seam.AiohttpSeam`; :class:`MockSeam` answers
from a function, for tests.
"""

from __future__ import annotations

import abc

from .. import errors
from .._core.exchange import (
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    HttpReply,
    PreparedRequest,
    redirect_target,
)

__all__ = ["Seam"]


class Seam(abc.ABC):
    """Sends a prepared request, following redirects; counts every HTTP request sent."""

    def __init__(self, max_response_bytes: int) -> None:
        self.max_response_bytes = max_response_bytes
        self.requests_sent = 0
        self.closed = False

    def open(self) -> None:
        """Make ready for use (a client entering ``async with``); refused once closed."""
        if self.closed:
            raise errors.ClientClosedError("this client is closed; create a new one")

    @property
    def owns_open_session(self) -> bool:
        """Whether it holds a session that only closing releases (none by default)."""
        return False

    async def send(self, request: PreparedRequest) -> HttpReply:
        """The final reply to ``request`` (after at most ``MAX_REDIRECTS`` redirects)."""
        for _ in range(MAX_REDIRECTS + 1):
            self.requests_sent += 1
            reply = await self.exchange(request)
            if reply.status not in REDIRECT_STATUSES:
                return reply
            follow = redirect_target(request, reply)
            if follow is None:
                return reply
            request = follow
        raise errors.RedirectError(f"more than {MAX_REDIRECTS} redirects")

    @abc.abstractmethod
    async def exchange(self, request: PreparedRequest) -> HttpReply:
        """One HTTP exchange; the body read through a :class:`BodyLimit`.

        Raises :class:`~openai_messages.errors.APIConnectionError` (or its timeout
        subclass) when it fails, with ``maybe_delivered`` False only when the request
        surely never left.
        """

    async def close(self) -> None:
        """Release what the seam holds (nothing by default)."""
        self.closed = True
