"""What the limiter measures of its own traffic: requests in flight, send rate, latency."""

from __future__ import annotations

import math

__all__ = ["TrafficMeter"]


class TrafficMeter:
    """Counts requests as they start and finish; pure, with times passed in.

    ``send_rate`` is a decaying count (about the last second); ``latency`` follows from
    Little's law (time-averaged requests in flight over the rate of completions).
    """

    __slots__ = (
        "_busy_area",
        "_busy_at",
        "_done",
        "_sent",
        "_sent_at",
        "_start",
        "in_flight",
        "started",
    )

    def __init__(self, now: float) -> None:
        self.in_flight = 0  #: requests started and not finished
        self.started = 0  #: requests started so far: the sequence number of the latest
        self._sent = 0.0
        self._sent_at = self._start = now
        self._busy_area = self._done = 0.0
        self._busy_at = now

    def start(self, now: float) -> int:
        """A request starts at ``now``; returns its sequence number (from 1)."""
        self._account(now)
        self.started += 1
        self._sent = self._sent * math.exp(self._sent_at - now) + 1.0
        self._sent_at = now
        self.in_flight += 1
        return self.started

    def finish(self, now: float) -> None:
        """A request has finished at ``now``, whatever its outcome."""
        self._account(now)
        self.in_flight -= 1
        self._busy_area *= 0.95
        self._done = self._done * 0.95 + 1.0

    def send_rate(self, now: float) -> float:
        """Requests started per second, averaged over about the last second."""
        span = -math.expm1(self._start - now)  # corrects for a history under a second
        return self._sent * math.exp(self._sent_at - now) / span if span > 0 else 0.0

    def latency(self) -> float:
        """The recent mean seconds from start to finish (0 before any finished)."""
        return self._busy_area / self._done if self._done else 0.0

    def _account(self, now: float) -> None:
        self._busy_area += self.in_flight * max(0.0, now - self._busy_at)
        self._busy_at = now
