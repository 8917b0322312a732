"""Settling an ambiguous message create: did the failed attempt store the message?

The walk of the thread's newest messages is here; the matching rules are the pure
functions of :mod:`openai_messages._core.idempotency`. See the README ("Errors and retries")
for what this can and cannot promise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from .. import errors
from .._codec.models import Message, MessagePage
from .._core.bodies import IDEMPOTENCY_MARKER
from .._core.headers import parse_date
from .._core.idempotency import find_created, find_marked, without_marker
from .lookback import RECONCILE_MAX_ITEMS, read_newest
from .retry_loop import Pages, Response

__all__ = ["Reconcile"]

CLOCK_SKEW_ALLOWANCE: Final = 300.0
"""Without the server's ``Date``, how far back (s) a reconcile looks for the create."""

ListPages = Callable[[float | None], Pages[Response[MessagePage]]]
"""``pages(timeout)``: the thread's pages, newest first, each request within ``timeout``."""


class Reconcile:
    """One settling of an ambiguous create of ``body`` sent with ``key`` at ``started``."""

    def __init__(
        self,
        pages: ListPages,
        *,
        thread_id: str,
        body: bytes,
        key: str,
        started: float,
        cause: errors.APIError,
        recheck_delay: float,
    ) -> None:
        self._pages = pages
        self.thread_id = thread_id
        self.body: Mapping[str, Any] = orjson.loads(body)  # read back only on this rare path
        self.key = key
        self.started = started
        self.cause = cause
        self.recheck_delay = recheck_delay
        self.marked = (self.body.get("metadata") or {}).get(IDEMPOTENCY_MARKER) == key

    def unknown(self, reason: str) -> errors.CreateOutcomeUnknownError:
        return errors.CreateOutcomeUnknownError(
            f"the create in thread {self.thread_id!r} may have been stored ({self.cause}), and "
            f"{reason}; settle it with client.find_created(thread_id, idempotency_key) "
            "before creating it again",
            thread_id=self.thread_id,
            idempotency_key=self.key,
            request_id=self.cause.request_id,
        )

    async def run(self, deadline: float | None) -> Message | None:
        """The message the attempt stored, None if it stored none; raises if unsure.

        After a read timeout the server may still be storing the message: when the
        first look finds nothing, look again after ``recheck_delay`` seconds.
        """
        found = await self._look(deadline)
        if found is not None or not isinstance(self.cause, errors.APITimeoutError):
            return found
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= self.recheck_delay:
            raise self.unknown("the call's timeout leaves no time to check again")
        await asyncio.sleep(self.recheck_delay)
        return await self._look(deadline)

    async def find_stored(self, deadline: float | None) -> Message | None:
        """The one message holding this create's key, for a create known to be stored
        (its 2xx reply could not be read); None if it is not found within ``deadline``."""
        if not self.marked:
            return None  # no marker to match exactly: a look-alike is not proof
        try:
            seen = await self._recent(deadline)
        except errors.CreateOutcomeUnknownError:
            return None
        mine = [] if seen is None else find_marked(seen[0], IDEMPOTENCY_MARKER, self.key)
        return mine[0] if len(mine) == 1 else None

    async def _look(self, deadline: float | None) -> Message | None:
        seen = await self._recent(deadline)
        if seen is None:
            return None  # no such thread: nothing was stored in it
        recent, not_before, complete = seen
        return self._match(recent, self.started if not_before is None else not_before, complete)

    async def _recent(
        self, deadline: float | None
    ) -> tuple[list[Message], float | None, bool] | None:
        """The thread's messages since the attempt (newest first), the attempt's start by
        the server's clock, and whether that start was reached; None: no such thread."""
        recent: list[Message] = []
        not_before: float | None = None
        complete = False

        def take(response: Response[MessagePage]) -> bool:
            nonlocal not_before, complete
            if not_before is None:
                not_before = self._not_before(response.headers)
            complete = self._collect(response.value, not_before, recent)
            return complete or len(recent) >= RECONCILE_MAX_ITEMS

        exhausted = await read_newest(self._pages, deadline, self.unknown, take)
        if exhausted is None:
            return None  # no such thread
        return recent, not_before, complete or exhausted

    def _not_before(self, headers: Mapping[str, str]) -> float:
        """The attempt's start by the server's clock (its ``Date``), rounded down."""
        server_now = parse_date(headers)
        if server_now is None:
            return self.started - CLOCK_SKEW_ALLOWANCE
        return self.started + (server_now - time.time()) - 1.0

    @staticmethod
    def _collect(page: MessagePage, not_before: float, recent: list[Message]) -> bool:
        """Add the page's messages since ``not_before``; True once past it."""
        for message in page.data:
            if message.created_at is not None and message.created_at < not_before:
                return True
            recent.append(message)
        return not page.has_more

    def _match(self, recent: list[Message], not_before: float, complete: bool) -> Message | None:
        if self.marked:
            mine = find_marked(recent, IDEMPOTENCY_MARKER, self.key)
            if len(mine) == 1:
                return mine[0]
            if mine:
                raise self.unknown(f"{len(mine)} messages hold its idempotency key")
            plain = without_marker(self.body, IDEMPOTENCY_MARKER)
            unmarked = [m for m in recent if IDEMPOTENCY_MARKER not in (m.metadata or {})]
            if find_created(unmarked, plain, not_before=not_before):
                raise self.unknown(
                    "a message like it but without its key was created since (does the "
                    "server keep metadata?)"
                )
        else:
            found = find_created(recent, self.body, not_before=not_before)
            if len(found) == 1:
                return found[0]
            if found:
                raise self.unknown(f"{len(found)} identical recent messages exist")
        if not complete:
            raise self.unknown(f"it is not among the newest {RECONCILE_MAX_ITEMS} messages")
        return None
