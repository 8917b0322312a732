"""The client-side rate limits a :class:`~openai_messages.ratelimit.RateLimiter` enforces."""

from __future__ import annotations

import math
from typing import Any

import attrs

__all__ = ["RateLimits"]


def _positive(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive finite number, got {value!r}")


def _fraction(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{attribute.name} must be in (0, 1], got {value!r}")


@attrs.frozen
class RateLimits:
    """Client-side limits; all optional. The defaults only adapt to the server.

    ``requests_per_second`` and ``requests_per_minute`` combine into one pace (the
    stricter wins), enforced by a token bucket holding ``burst`` requests (default
    1: evenly spaced). ``max_concurrency`` caps the requests in flight.
    ``adaptive`` learns the server's limit from 429s and ``x-ratelimit-*`` headers;
    it never exceeds the fixed limits. The remaining fields tune adaptation.

    A server's ``Retry-After`` on a 429 pauses every caller through
    :meth:`RateLimiter.pause` when the client honours it, that is when it is at most
    ``RetryPolicy.retry_after_cap`` (60 s by default), the rule of its retry waits; a
    longer one fails only the call that got it.
    """

    requests_per_second: float | None = attrs.field(default=None, validator=_positive)
    requests_per_minute: float | None = attrs.field(default=None, validator=_positive)
    max_concurrency: int | None = attrs.field(default=None)
    adaptive: bool = True
    burst: float | None = attrs.field(default=None, validator=_positive)
    #: Pace at this fraction of the server rate estimated from the headers.
    safety_factor: float = attrs.field(default=0.95, validator=_fraction)
    #: Multiply the pace by this after a 429.
    decrease_factor: float = attrs.field(default=0.7, validator=_fraction)
    #: After a 429, the pace grows back by this fraction per second of success.
    increase_per_second: float = attrs.field(default=0.5, validator=_positive)
    #: The adaptive pace never goes below this many requests per second.
    min_rate: float = attrs.field(default=0.01, validator=_positive)
    #: Without ``x-ratelimit-*`` headers, pacing stops after this many seconds without
    #: a 429 once the pace no longer holds any caller back.
    quiet_seconds: float = attrs.field(default=2.0, validator=_positive)
    #: Adaptive, without a fixed rate: until the first reply (or for at most this many
    #: seconds), one request goes at a time, so that many callers starting together do
    #: not overrun a limit the client cannot know yet. None: no such wait.
    first_reply_wait: float | None = attrs.field(default=1.0, validator=_positive)

    @max_concurrency.validator
    def _check_concurrency(self, _: attrs.Attribute[int | None], value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or value < 1):
            raise ValueError(f"max_concurrency must be a positive integer, got {value!r}")

    @property
    def fixed_rate(self) -> float | None:
        """The fixed pace in requests per second (``None``: no fixed rate limit)."""
        rates = []
        if self.requests_per_second is not None:
            rates.append(self.requests_per_second)
        if self.requests_per_minute is not None:
            rates.append(self.requests_per_minute / 60.0)
        return min(rates, default=None)
