"""Client-side rate limiting shared by all calls of one client.

A :class:`RateLimiter` enforces optional fixed limits (requests per second or
minute, requests in flight) and, in adaptive mode, learns the server's limit
from 429 answers and the ``x-ratelimit-*-requests`` headers so that every caller
slows down together, honours ``Retry-After`` together, and ramps back up.

The interface the transport codes against::

    ticket = await limiter.acquire(deadline)   # deadline: time.monotonic() value or None;
                                               # APITimeoutError if no slot before it
    ticket.observe(status, headers)            # feeds the adaptive estimator
    ticket.release()                           # idempotent
    limiter.pause(seconds)                     # a server's Retry-After the caller honours

The modules, one job each: :mod:`.settings` (:class:`RateLimits`), :mod:`.bucket` (the
token bucket), :mod:`.traffic` (send rate and latency), :mod:`.adaptive` (the pure
estimator, injected clock) and :mod:`.limiter` (the asyncio waiting, tickets). The header
readers are the core's (:mod:`openai_messages._core.headers`); ``RequestLimits``,
``parse_retry_after`` and ``parse_reset_duration`` are re-exported here.
"""

from __future__ import annotations

from .._core.headers import RequestLimits, parse_reset_duration, parse_retry_after
from .limiter import RateLimiter, RateLimiterStats, Ticket
from .settings import RateLimits

__all__ = [
    "RateLimiter",
    "RateLimiterStats",
    "RateLimits",
    "RequestLimits",
    "Ticket",
    "parse_reset_duration",
    "parse_retry_after",
]
