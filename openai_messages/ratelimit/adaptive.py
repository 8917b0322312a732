"""The adaptive pace: a pure estimator of the server's rate limit, with an injected clock.

:class:`AdaptivePace` learns from replies (their status and ``x-ratelimit-*`` headers)
and sets the rate of a :class:`~openai_messages.ratelimit.bucket.TokenBucket`; it never
waits, sleeps or touches asyncio, so it is tested by feeding it replies and moving a
fake clock. The rules:

* **Unlimited** until a signal: no fixed rate and no 429 means no pace at all.
* **Estimate** from the headers: a reply's bucket refills ``limit - remaining``
  requests in ``reset`` seconds; as ``remaining`` is rounded down that is an upper
  bound of the server's rate, so the estimate is the lowest of the last 16 bounds.
  Pacing starts (at ``safety_factor`` x the estimate) when the server's allowance,
  less the requests it cannot have counted yet, no longer covers the callers waiting.
* **Cut** after a 429 (multiplicative decrease), once per cooldown of two round trips
  after the cut or after the pause that came with it, so a burst of 429s answering
  requests sent together cuts once. Without an estimate the cut starts from the
  measured send rate.
* **Grow** back while the pace holds callers back: by ``increase_per_second`` per
  second, or doubling per round trip when nothing bounds it (no estimate: probing,
  or a lone caller whose every success is a round trip the server took). Growth
  ends at the estimate; without headers, pacing ends after ``quiet_seconds`` without
  a 429 once 16 grants in a row were not held back.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from .._core.headers import RequestLimits
from .bucket import TokenBucket
from .settings import RateLimits
from .traffic import TrafficMeter

__all__ = ["AdaptivePace"]


class AdaptivePace:
    """Learns the server's limit from replies and paces ``bucket`` accordingly.

    ``meter`` supplies the measured send rate, latency and requests in flight;
    ``clock`` the time (seconds, monotonic). The pace never exceeds the fixed rate of
    ``limits``. Call :meth:`observe` for each reply, :meth:`granted` for each request
    let through and :meth:`paused` when every caller is held.
    """

    def __init__(
        self,
        limits: RateLimits,
        bucket: TokenBucket,
        meter: TrafficMeter,
        clock: Callable[[], float],
    ) -> None:
        self.limits = limits
        self._bucket = bucket
        self._meter = meter
        self._clock = clock
        self._fixed = limits.fixed_rate
        now = clock()
        self._paced = self._fixed is not None  # False: unlimited until a throttling signal
        self._estimate: float | None = None  # server refill rate learnt from headers
        self._bounds: deque[float] = deque(maxlen=16)  # recent upper bounds of that rate
        self._aimd: float | None = None  # pace cut by 429s, growing back
        self._probing = False  # cut without knowing the server's rate: grow fast
        self._grown_at = now
        self._cooldown_until = -math.inf
        self._throttled_at = -math.inf  # the last 429
        self._cooled_at = math.nan  # the 429 that started the current cooldown
        self._held = False  # a grant waited for the pace since the last growth
        self._free = 0  # grants in a row the pace did not hold back
        bucket.rate = self.rate()

    @property
    def estimate(self) -> float | None:
        """The server's refill rate learnt from the headers (requests per second), if any."""
        return self._estimate

    def rate(self) -> float | None:
        """The pace now in requests per second (None: unlimited)."""
        if not self._paced:
            return None
        rates = [r for r in (self._fixed, self._aimd) if r is not None]
        if self._estimate is not None:
            rates.append(self._estimate * self.limits.safety_factor)
        return max(self.limits.min_rate, min(rates)) if rates else None

    def granted(self, *, waited: bool) -> None:
        """A request was let through, at once or after ``waited`` in the queue."""
        if not waited:
            self._free += 1
        elif self._bucket.rate is not None:
            self._held = True
            self._free = 0

    def paused(self, until: float) -> None:
        """Every caller is held until ``until``. A pause that came with the 429 that
        started the current cooldown extends it: that time earns no growth, and 429s to
        requests sent before it ends (within two round trips) do not cut again."""
        if self._throttled_at != self._cooled_at:
            return  # no 429 yet, or the latest one fell in the cooldown
        self._grown_at = max(self._grown_at, until)
        self._cooldown_until = max(self._cooldown_until, until + 2.0 * self._meter.latency())

    def observe(
        self,
        status: int,
        reply: RequestLimits,
        *,
        unseen: int,
        waiting: int,
        paused_until: float = -math.inf,
    ) -> bool:
        """Learn from one reply; True when it cut the pace.

        ``unseen``: requests the server may not have counted when it answered (sent
        after this one, or overtaken by its reply); ``waiting``: callers queued for a
        grant now; ``paused_until``: when the current pause of all callers ends.
        """
        now = self._clock()
        bucket = self._bucket
        limit, remaining, reset = reply.limit, reply.remaining, reply.reset
        if limit is not None and limit >= 1:
            if self._fixed is None:
                bucket.capacity = self.limits.burst or limit
            if remaining is not None and reset and remaining <= limit - 1:
                self._learn(limit - remaining, reset)
        bucket.refill(now)
        cut = False
        if status == 429:
            cut = self._throttled(now, paused_until)
        else:
            if remaining is not None:
                allowance = min(bucket.capacity, remaining - unseen)
                if not self._paced and allowance <= waiting and self._estimate is not None:
                    # about to run dry, or more callers wait than the server would take
                    # now: pace at the estimate, from what it allows
                    self._paced = True
                    bucket.tokens = 0.0
                bucket.align(allowance, may_raise=self._fixed is None)
            self._grow(now, waiting)
        bucket.rate = self.rate()
        return cut

    def _learn(self, deficit: float, reset: float) -> None:
        self._bounds.append(deficit / reset)
        self._estimate = min(self._bounds)

    def _throttled(self, now: float, paused_until: float) -> bool:
        was_paced = self._paced
        self._paced = True
        self._throttled_at = now
        self._free = 0
        self._bucket.drain()
        if now <= self._cooldown_until:
            return False  # answers to requests sent before the last cut
        rate = self.rate()
        decrease = self.limits.decrease_factor
        if rate is None:  # nothing known: start from what was sent, and probe fast
            self._aimd = self._meter.send_rate(now) * decrease
            self._probing = True
        elif was_paced:
            if self._estimate is None:  # the pace may be far above what is really sent
                rate = min(rate, self._meter.send_rate(now))
            self._aimd = rate * decrease
            self._probing = False
        if self._aimd is not None:
            self._aimd = max(self.limits.min_rate, self._aimd)
        self._cooled_at = now
        self._grown_at = max(now, paused_until)
        self._cooldown_until = self._grown_at + 2.0 * self._meter.latency()
        return self._aimd is not None

    def _grow(self, now: float, waiting: int) -> None:
        """Raise the pace after a cut, while it holds callers back; drop it once it doesn't."""
        if self._aimd is None or now <= self._grown_at:
            return
        elapsed, self._grown_at = now - self._grown_at, now
        # A lone caller held back by the pace: with nobody else in flight, each success
        # is a round trip the server took without complaint.
        lone = self._held and not waiting and self._meter.in_flight <= 1
        self._held = False
        if not waiting and not lone:
            # The pace holds nobody back: no evidence it could be higher. Without headers
            # nothing else bounds it, so once 429s have stopped for a while, stop pacing.
            if (
                self._estimate is None
                and self._free >= 16
                and now - self._throttled_at >= self.limits.quiet_seconds
            ):
                self._aimd = None
                self._probing = False
                self._paced = self._fixed is not None
            return
        latency = max(self._meter.latency(), 1e-3)
        if self._probing and self._estimate is None:  # double every round trip
            factor = 2.0 ** (elapsed / latency)
        elif lone and self._estimate is None:  # double every round trip, as when probing
            factor = 2.0
        else:
            factor = (1.0 + self.limits.increase_per_second) ** elapsed
        self._aimd *= factor
        if self._estimate is not None and self._aimd >= self._estimate * self.limits.safety_factor:
            self._aimd = None  # recovered: the estimate alone sets the pace
