"""A local token bucket, the limiter's pace: pure arithmetic on times the caller passes in."""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """Up to ``capacity`` tokens, refilled at ``rate`` per second; one request takes one.

    ``rate`` None means no pace: every request may go, and the tokens stay as they are
    (the adaptive pace aligns them with the server's bucket before it turns pacing on).
    The tokens may go below zero: a debt the refill pays back first. Times are seconds
    of one monotonic clock, passed in by the caller; the bucket never reads a clock.
    """

    __slots__ = ("_stamp", "capacity", "rate", "tokens")

    def __init__(self, capacity: float, now: float, rate: float | None = None) -> None:
        self.capacity = capacity
        self.tokens = capacity
        self.rate = rate
        self._stamp = now

    def __repr__(self) -> str:
        return f"TokenBucket(capacity={self.capacity}, tokens={self.tokens:.3f}, rate={self.rate})"

    def refill(self, now: float) -> None:
        """Add what ``rate`` refilled since the last call (never beyond ``capacity``)."""
        if self.rate is not None and now > self._stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = max(self._stamp, now)

    def wait_time(self, now: float) -> float:
        """Seconds from ``now`` until a whole token is there (0: one is there now)."""
        if self.rate is None:
            return 0.0
        self.refill(now)
        return (1.0 - self.tokens) / self.rate if self.tokens < 1.0 else 0.0

    def take(self, now: float) -> None:
        """Spend one token (a no-op without a pace); the caller checked :meth:`wait_time`."""
        self.refill(now)
        if self.rate is not None:
            self.tokens -= 1.0

    def drain(self) -> None:
        """Keep no token in hand (a debt stays): the next request waits for the refill."""
        self.tokens = min(self.tokens, 0.0)

    def align(self, allowance: float, *, may_raise: bool) -> None:
        """Match the server's bucket, which would take ``allowance`` requests now.

        Fewer tokens than that are raised to it only when ``may_raise`` (never above a
        fixed limit); more are cut to it, keeping the progress towards the next token.
        """
        if allowance >= self.tokens:
            if may_raise:
                self.tokens = allowance
        elif self.tokens > 1.0:
            self.tokens = max(allowance, self.tokens % 1.0)
