"""Client-side rate limiting shared by all calls of one client.

A :class:`RateLimiter` enforces optional fixed limits (requests per second or
minute, requests in flight) and, in adaptive mode, learns the server's limit
from 429 answers and the ``x-ratelimit-*-requests`` headers so that every caller
slows down together, honours ``Retry-After`` together, and ramps back up.

Typical use by the client::

    async with limiter.slot():
        response = await send(...)
        limiter.observe(response.status, response.headers)
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "RateLimiter",
    "RateLimiterStats",
    "RateLimits",
    "parse_reset_duration",
    "parse_retry_after",
]

_UNIT_SECONDS = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,  # micro sign, as Go prints it
    "μs": 1e-6,  # Greek mu
    "ns": 1e-9,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|μs|ns|h|m|s)", re.ASCII)
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+", re.ASCII)
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+", re.ASCII)

#: (limiter, sequence number, requests already in flight) of the task's last acquisition.
_TICKET: ContextVar[tuple[RateLimiter, int, int] | None] = ContextVar(
    "openai_messages_ratelimit_ticket", default=None
)
_LIMIT = "x-ratelimit-limit-requests"
_REMAINING = "x-ratelimit-remaining-requests"
_RESET = "x-ratelimit-reset-requests"


def parse_reset_duration(value: str) -> float | None:
    """Seconds in an OpenAI/Go style duration ("1s", "120ms", "6m0s", "2m30.5s").

    A bare number is read as seconds. Returns ``None`` for anything else; never raises.
    """
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return float(text)
    if not _DURATION.fullmatch(text):
        return None
    total = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    return total if math.isfinite(total) else None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to ``retry-after-ms``, else ``Retry-After``.

    ``Retry-After`` may hold seconds or an HTTP date (compared with ``now``, a
    Unix time, default the current time; a date in the past gives 0). Returns
    ``None`` when both are absent, invalid, negative or not finite.
    """
    lowered = _lowered(headers)
    millis = _finite(lowered.get("retry-after-ms"))
    if millis is not None and millis >= 0:
        return millis / 1000.0
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return seconds if seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _lowered(headers: Mapping[str, str]) -> Mapping[str, str]:
    if isinstance(headers, (CIMultiDictProxy, CIMultiDict)):
        return headers
    return {str(k).lower(): v for k, v in headers.items()}


def _finite(value: object) -> float | None:
    if not isinstance(value, str) or not _NUMBER.fullmatch(text := value.strip()):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


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


@attrs.define
class RateLimiterStats:
    """Counters of a :class:`RateLimiter` (all cumulative)."""

    acquired: int = 0  #: slots granted
    delayed: int = 0  #: acquisitions that had to wait
    wait_seconds: float = 0.0  #: total time callers spent waiting in acquire
    throttled: int = 0  #: 429 responses observed
    pauses: int = 0  #: calls to pause (including Retry-After from 429s)
    rate_decreases: int = 0  #: times the adaptive pace was cut


class _Slot:
    __slots__ = ("_limiter",)

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    async def __aenter__(self) -> None:
        await self._limiter.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._limiter.release()


class RateLimiter:
    """Rate, concurrency and pause limits shared by all the calls of one client.

    Waiters are served in FIFO order; a caller cancelled while waiting takes
    nothing. ``clock`` must tick in seconds along with the event loop's clock.
    """

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.stats = RateLimiterStats()
        self._clock = clock
        self._fixed = limits.fixed_rate
        self._adaptive = limits.adaptive
        self._noop = self._fixed is None and limits.max_concurrency is None and not self._adaptive
        self._slot = _Slot(self)
        self._sem = asyncio.Semaphore(limits.max_concurrency) if limits.max_concurrency else None
        self._lock = asyncio.Lock()
        self._queued = 0  # tasks inside the slow path of acquire
        self._wakeup: asyncio.Future[None] | None = None
        now = clock()
        # Local token bucket; it is active when the pace (``_rate``) is not None.
        self._capacity = limits.burst or 1.0
        self._tokens = self._capacity
        self._stamp = now
        self._paused_until = -math.inf
        # Adaptive state.
        self._paced = self._fixed is not None  # False: unlimited until a throttling signal
        self._estimate: float | None = None  # server refill rate learnt from headers
        self._bounds: deque[float] = deque(maxlen=16)  # recent upper bounds of that rate
        self._aimd: float | None = None  # pace cut by 429s, growing back
        self._probing = False  # cut without knowing the server's rate: grow fast
        self._grown_at = now
        self._cooldown_until = -math.inf
        self._throttled_at = -math.inf  # the last 429
        self._held = False  # an acquisition waited for the pace since the last growth
        self._free = 0  # acquisitions in a row the pace did not hold back
        self._rate = self._compute_rate()
        # Before the first reply: one request at a time, until ``_cold_until`` at most.
        self._cold = self._adaptive and self._fixed is None and limits.first_reply_wait is not None
        self._cold_until = math.inf
        # Measurements: send rate (decaying count) and latency (Little's law).
        self._in_flight = 0
        self._seq = 0  # acquisitions so far (adaptive mode)
        self._sent = 0.0
        self._sent_at = self._start = now
        self._busy_area = self._done = 0.0
        self._busy_at = now

    @property
    def enabled(self) -> bool:
        """False when the limiter does nothing (no limits and not adaptive)."""
        return not self._noop

    @property
    def current_rate(self) -> float | None:
        """Requests per second currently allowed (``None``: unlimited)."""
        return self._rate

    @property
    def estimated_server_rate(self) -> float | None:
        """The server's refill rate learnt from ``x-ratelimit-*`` headers, if any."""
        return self._estimate

    @property
    def in_flight(self) -> int:
        """Slots acquired and not yet released."""
        return self._in_flight

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Async context manager: ``acquire()`` on entry, ``release()`` on exit."""
        return self._slot

    async def acquire(self) -> None:
        """Wait for permission to send one request; pair with :meth:`release`."""
        if self._noop:
            if self._paused_until > self._clock():  # only ever true after pause()
                await self._wait_turn()
            else:
                self.stats.acquired += 1
            return
        if self._sem is not None:
            await self._sem.acquire()
        try:
            now = await self._wait_turn()
        except BaseException:
            if self._sem is not None:
                self._sem.release()
            raise
        self._account_busy(now)
        if self._adaptive:
            self._seq += 1
            _TICKET.set((self, self._seq, self._in_flight))
            self._sent = self._sent * math.exp(self._sent_at - now) + 1.0
            self._sent_at = now
        self._in_flight += 1

    def release(self) -> None:
        """The request has finished: free its concurrency slot."""
        if self._noop:
            return
        if self._in_flight <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self._account_busy(self._clock())
        self._in_flight -= 1
        self._busy_area *= 0.95
        self._done = self._done * 0.95 + 1.0
        if self._sem is not None:
            self._sem.release()
        if self._cold:  # the first request is over, whatever its outcome
            self._cold = False
            self._wake_head()

    def pause(self, seconds: float) -> None:
        """Make every caller, waiting or future, wait at least ``seconds`` from now."""
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"pause needs a finite number of seconds >= 0, got {seconds!r}")
        self.stats.pauses += 1
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response (status and headers); a no-op unless adaptive.

        Call it inside the request's slot, in the task that acquired it: the
        limiter then knows which requests the server could not have counted yet.
        """
        if not self._adaptive:
            return
        self._cold = False
        now = self._clock()
        lowered = _lowered(headers)
        limit = _finite(lowered.get(_LIMIT))
        remaining = _finite(lowered.get(_REMAINING))
        reset_text = lowered.get(_RESET)
        reset = None if reset_text is None else parse_reset_duration(reset_text)
        if limit is not None and limit >= 1:
            if self._fixed is None:
                self._capacity = self.limits.burst or limit
            if remaining is not None and reset and remaining <= limit - 1:
                self._learn(limit - remaining, reset)
        self._refill(now)
        if status == 429:
            self.stats.throttled += 1
            delay = parse_retry_after(lowered)
            if delay:
                self.pause(delay)
            self._throttled(now)
        else:
            if remaining is not None:
                allowance = min(self._capacity, remaining - self._unseen())
                if not self._paced and allowance <= self._queued and self._estimate is not None:
                    # about to run dry, or more callers wait than the server would take
                    # now: pace at the estimate, from what it allows
                    self._paced = True
                    self._tokens = 0.0
                self._sync(allowance)
            self._grow(now)
        self._rate = self._compute_rate()
        self._wake_head()

    def _wake_head(self) -> None:
        """Let the head waiter recompute its delay."""
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    # -- waiting -------------------------------------------------------------

    async def _wait_turn(self) -> float:
        now = self._clock()
        if not self._queued and self._delay(now) <= 0:
            self._take(now)
            self._free += 1
            return now
        start = now
        self._queued += 1
        try:
            async with self._lock:
                now = self._clock()
                while (delay := self._delay(now)) > 1e-6:
                    await self._sleep(delay)
                    now = self._clock()
                self._take(now)
                if self._rate is not None:
                    self._held = True
                    self._free = 0
        finally:
            self._queued -= 1
        self.stats.delayed += 1
        self.stats.wait_seconds += now - start
        return now

    async def _sleep(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._wakeup = waiter = loop.create_future()
        handle = loop.call_later(delay, _wake, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._wakeup = None

    def _delay(self, now: float) -> float:
        delay = self._paused_until - now
        if self._cold and self._in_flight:
            if self._cold_until == math.inf:
                wait = self.limits.first_reply_wait or 0.0
                self._cold_until = now + wait
            if now < self._cold_until:
                delay = max(delay, self._cold_until - now)
            else:
                self._cold = False  # no reply in time: go on without one
        if self._rate is not None:
            self._refill(now)
            if self._tokens < 1.0:
                delay = max(delay, (1.0 - self._tokens) / self._rate)
        return delay

    def _take(self, now: float) -> None:
        self._refill(now)
        if self._rate is not None:
            self._tokens -= 1.0
        self.stats.acquired += 1

    def _refill(self, now: float) -> None:
        if self._rate is not None and now > self._stamp:
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = max(self._stamp, now)

    def _account_busy(self, now: float) -> None:
        self._busy_area += self._in_flight * max(0.0, now - self._busy_at)
        self._busy_at = now

    # -- adaptation ----------------------------------------------------------

    def _compute_rate(self) -> float | None:
        if not self._paced:
            return None
        rates = [r for r in (self._fixed, self._aimd) if r is not None]
        if self._estimate is not None:
            rates.append(self._estimate * self.limits.safety_factor)
        return max(self.limits.min_rate, min(rates)) if rates else None

    def _learn(self, deficit: float, reset: float) -> None:
        # The bucket refills ``deficit`` requests in ``reset`` seconds, but ``remaining``
        # is rounded down, so deficit / reset is an upper bound of the rate: take the
        # lowest of the last few.
        self._bounds.append(deficit / reset)
        self._estimate = min(self._bounds)

    def _unseen(self) -> int:
        """Requests the server may not have counted in the response being observed."""
        ticket = _TICKET.get()
        if ticket is None or ticket[0] is not self:
            return self._in_flight  # all in flight, which misses stale replies
        # Sent after it, or before it but possibly overtaken by it.
        _, seq, before = ticket
        return self._seq - seq + before

    def _sync(self, allowance: float) -> None:
        """Align the local bucket with the server's (``allowance``: requests it can take)."""
        if allowance >= self._tokens:
            if self._fixed is None:  # never outrun a fixed limit
                self._tokens = allowance
        elif self._tokens > 1.0:
            self._tokens = max(allowance, self._tokens % 1.0)  # keep progress to the next token

    def _throttled(self, now: float) -> None:
        was_paced = self._paced
        self._paced = True
        self._throttled_at = now
        self._free = 0
        self._tokens = min(self._tokens, 0.0)
        if now <= self._cooldown_until:
            return  # answers to requests sent before the last cut
        rate = self._compute_rate()
        if rate is None:  # nothing known: start from what was sent, and probe fast
            self._aimd = self._measured_rate() * self.limits.decrease_factor
            self._probing = True
        elif was_paced:
            if self._estimate is None:  # the pace may be far above what is really sent
                rate = min(rate, self._measured_rate())
            self._aimd = rate * self.limits.decrease_factor
            self._probing = False
        self._aimd = None if self._aimd is None else max(self.limits.min_rate, self._aimd)
        self.stats.rate_decreases += self._aimd is not None
        self._grown_at = max(now, self._paused_until)
        self._cooldown_until = self._grown_at + 2.0 * self._latency()

    def _grow(self, now: float) -> None:
        """Raise the pace after a cut, while it holds callers back; drop it once it doesn't."""
        if self._aimd is None or now <= self._grown_at:
            return
        elapsed, self._grown_at = now - self._grown_at, now
        # A lone caller held back by the pace: with nobody else in flight, each success
        # is a round trip the server took without complaint.
        lone = self._held and not self._queued and self._in_flight <= 1
        self._held = False
        if not self._queued and not lone:
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
        if self._probing and self._estimate is None:  # double every round trip
            factor = 2.0 ** (elapsed / max(self._latency(), 1e-3))
        elif lone and self._estimate is None:  # double every round trip, as when probing
            factor = 2.0
        else:
            factor = (1.0 + self.limits.increase_per_second) ** elapsed
        self._aimd *= factor
        if self._estimate is not None and self._aimd >= self._estimate * self.limits.safety_factor:
            self._aimd = None  # recovered: the estimate alone sets the pace

    def _measured_rate(self) -> float:
        """Requests sent per second, averaged over about the last second."""
        now = self._clock()
        span = -math.expm1(self._start - now)  # corrects for a history under a second
        return self._sent * math.exp(self._sent_at - now) / span if span > 0 else 0.0

    def _latency(self) -> float:
        return self._busy_area / self._done if self._done else 0.0


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
