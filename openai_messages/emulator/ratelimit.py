"""A server-side token bucket and the OpenAI ``x-ratelimit-*`` headers it produces."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import attrs

__all__ = ["RateDecision", "RateLimit", "format_duration"]


def _trim(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def format_duration(seconds: float) -> str:
    """Format a duration like OpenAI's reset headers: ``120ms``, ``1s``, ``1.5s``, ``6m0s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        ms = max(1, round(seconds * 1000))
        return "1s" if ms >= 1000 else f"{ms}ms"
    hours, rest = divmod(seconds, 3600.0)
    minutes, secs = divmod(rest, 60.0)
    secs = round(secs, 3)
    if secs >= 60:  # rounding pushed us over a minute
        minutes, secs = minutes + 1, 0.0
    if minutes >= 60:
        hours, minutes = hours + 1, minutes - 60
    if hours:
        return f"{int(hours)}h{int(minutes)}m{_trim(secs)}s"
    if minutes:
        return f"{int(minutes)}m{_trim(secs)}s"
    return f"{_trim(secs)}s"


@attrs.frozen
class RateDecision:
    """The outcome of one request against the bucket."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    retry_after: float  # 0.0 when allowed

    def headers(self) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers (plus ``Retry-After``/``retry-after-ms`` if refused)."""
        out = {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(self.remaining),
            "x-ratelimit-reset-requests": format_duration(self.reset_seconds),
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
            out["retry-after-ms"] = str(max(1, math.ceil(self.retry_after * 1000)))
        return out


@attrs.define
class RateLimit:
    """Token bucket: ``rate`` requests per second refill, at most ``burst`` tokens.

    The bucket starts full.  Each admitted request takes one token; a request that
    finds less than one token is refused (429) and takes nothing.
    """

    rate: float = attrs.field(validator=attrs.validators.gt(0))
    burst: int = attrs.field(validator=attrs.validators.ge(1))
    clock: Callable[[], float] = attrs.field(default=time.monotonic, repr=False, eq=False)
    _tokens: float = attrs.field(init=False, repr=False, eq=False)
    _stamp: float = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        self._tokens = float(self.burst)
        self._stamp = self.clock()

    def _refill(self) -> float:
        now = self.clock()
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._stamp = now
        return self._tokens

    def _decision(self, allowed: bool, retry_after: float = 0.0) -> RateDecision:
        tokens = self._tokens
        return RateDecision(
            allowed=allowed,
            limit=self.burst,
            remaining=max(0, math.floor(tokens + 1e-9)),
            reset_seconds=max(0.0, (self.burst - tokens) / self.rate),
            retry_after=retry_after,
        )

    def acquire(self) -> RateDecision:
        """Take a token if one is available and say what happened."""
        tokens = self._refill()
        if tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, tokens - 1.0)
            return self._decision(True)
        return self._decision(False, (1.0 - tokens) / self.rate)

    def peek(self) -> RateDecision:
        """The bucket's state without taking a token (for responses that cost nothing)."""
        self._refill()
        return self._decision(True)
