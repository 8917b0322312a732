"""The cache shared by sources that fetch a token with a lifetime (credential, command).

One fetch at a time (an ``asyncio.Lock``): concurrent callers of an expired cache wait
for the same refresh instead of each starting one, and share its failure too. A token is
refreshed when less than ``min(refresh_margin, lifetime / 2)`` of its lifetime is left,
so an hour-long token is renewed 5 minutes early and a 2-second one after 1 second. A
cancelled caller releases the lock and leaves the cache as it was: the next caller
fetches again.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable
from typing import Any

import attrs

from ..errors import InvalidArgumentError
from .source import CredentialError

__all__ = ["DEFAULT_REFRESH_MARGIN", "CachedToken", "Lease"]

logger = logging.getLogger("openai_messages.auth")

DEFAULT_REFRESH_MARGIN = 300.0
Clock = Callable[[], float]


@attrs.frozen(repr=False)
class Lease:
    """A fetched token and when to fetch the next one (epoch seconds; None: on a 401 only)."""

    value: str
    refresh_at: float | None

    def __repr__(self) -> str:
        return f"Lease('***', refresh_at={self.refresh_at!r})"


class CachedToken(abc.ABC):
    """A :class:`~openai_messages.auth.TokenSource` that caches what :meth:`_fetch` gives."""

    def __init__(self, *, refresh_margin: float, clock: Clock) -> None:
        if isinstance(refresh_margin, bool) or not isinstance(refresh_margin, (int, float)):
            raise InvalidArgumentError("refresh_margin must be a number of seconds")
        if not refresh_margin >= 0:
            raise InvalidArgumentError("refresh_margin must be 0 or more seconds")
        self.refresh_margin = float(refresh_margin)
        self._clock = clock
        self._lease: Lease | None = None
        self._lock = asyncio.Lock()
        self._outcomes = 0
        self._last_failure: CredentialError | None = None
        self.refreshes = 0
        """How many tokens were fetched so far."""

    @abc.abstractmethod
    async def _fetch(self) -> Lease:
        """Get a new token (raising CredentialError when none can be had)."""

    def lease(self, value: str, expires_on: float | None, *, what: str) -> Lease:
        """A lease of ``value`` that expires at ``expires_on`` (epoch seconds, or None)."""
        if expires_on is None:
            return Lease(value, None)
        now = self._clock()
        lifetime = expires_on - now
        if lifetime <= 0:
            raise CredentialError(
                f"{what} gave a token that expired {-lifetime:.0f} s ago (is the clock right?)"
            )
        return Lease(value, expires_on - min(self.refresh_margin, lifetime / 2))

    def _fresh(self, lease: Lease | None) -> bool:
        return lease is not None and (lease.refresh_at is None or self._clock() < lease.refresh_at)

    async def get(self) -> str:
        """The cached token, fetched first when there is none or it is about to expire.

        Callers that waited for a fetch that failed get its error too, without fetching
        again: a failing credential is asked once per wave of callers, not once each.
        """
        lease = self._lease
        if lease is not None and self._fresh(lease):
            return lease.value
        seen = self._outcomes
        async with self._lock:
            lease = self._lease
            if lease is not None and self._fresh(lease):
                return lease.value
            if self._outcomes != seen and self._last_failure is not None:
                raise CredentialError(str(self._last_failure))
            try:
                lease = await self._fetch()
            except CredentialError as error:
                self._last_failure = error
                self._outcomes += 1
                raise
            self._lease, self._last_failure = lease, None
            self._outcomes += 1
            self.refreshes += 1
            logger.debug("%r fetched a new token (refresh at %s)", self, lease.refresh_at)
            return lease.value

    def __reduce__(self) -> Any:
        raise TypeError(f"a {type(self).__name__} holds a token and cannot be pickled")

    def invalidate(self, rejected: str) -> bool:
        """Drop the cached token if it is ``rejected``; a new one is fetched next: True."""
        lease = self._lease
        if lease is not None and lease.value == rejected:
            self._lease = None
            logger.debug("%r: the server refused the cached token; fetching anew next", self)
        return True
