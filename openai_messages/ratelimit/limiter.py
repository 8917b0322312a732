"""The composed limiter: the asyncio part that makes callers wait their turn.

:class:`RateLimiter` holds the shared state of one client's calls (a
:class:`~.bucket.TokenBucket` pace, a concurrency cap, a pause of all callers, the
cold start) and, when adaptive, an :class:`~.adaptive.AdaptivePace` that sets the
pace from replies. Each grant is a :class:`Ticket`; use it like this::

    ticket = await limiter.acquire(deadline)  # a time.monotonic() value, or None
    try:
        reply = await send(...)
        ticket.observe(reply.status, reply.headers)
    finally:
        ticket.release()
    if reply.status == 429 and wait is not None and wait <= cap:
        limiter.pause(wait)  # every caller honours the Retry-After the caller honours
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Mapping

import attrs

from .. import errors
from .._core.headers import parse_ratelimit
from .adaptive import AdaptivePace
from .bucket import TokenBucket
from .settings import RateLimits
from .traffic import TrafficMeter

__all__ = ["RateLimiter", "RateLimiterStats", "Ticket"]


@attrs.define
class RateLimiterStats:
    """Counters of a :class:`RateLimiter` (all cumulative)."""

    acquired: int = 0  #: slots granted
    delayed: int = 0  #: acquisitions that had to wait
    wait_seconds: float = 0.0  #: total time callers spent waiting in acquire
    throttled: int = 0  #: 429 responses observed
    pauses: int = 0  #: calls to pause (including Retry-After from 429s)
    rate_decreases: int = 0  #: times the adaptive pace was cut
    timeouts: int = 0  #: acquisitions given up at their deadline


class Ticket:
    """One request's grant from a :class:`RateLimiter`: report its reply, then release it.

    ``observe`` may be called before or after ``release``; ``release`` is idempotent.
    A ticket of a limiter that does nothing (no limits, not adaptive) ignores both.
    """

    __slots__ = ("_before", "_limiter", "_released", "_seq")

    def __init__(self, limiter: RateLimiter | None, seq: int, before: int) -> None:
        self._limiter = limiter
        self._seq = seq  # this request's sequence number
        self._before = before  # requests in flight when it was granted
        self._released = limiter is None

    @property
    def released(self) -> bool:
        """True once :meth:`release` was called (always, for a limiter that does nothing)."""
        return self._released

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Feed the adaptive pace from this request's reply (status and headers)."""
        limiter = self._limiter
        if limiter is not None:
            # The server may not have counted the requests sent after this one, nor
            # those sent before it whose replies it overtook.
            limiter._learn(
                status, headers, unseen=limiter._meter.started - self._seq + self._before
            )

    def release(self) -> None:
        """The request is over (whatever its outcome): free its slot. Idempotent."""
        if not self._released:
            self._released = True
            assert self._limiter is not None
            self._limiter._release()


_FREE = Ticket(None, 0, 0)  # what a limiter that does nothing grants


class _Slot:
    __slots__ = ("_deadline", "_limiter", "_ticket")

    def __init__(self, limiter: RateLimiter, deadline: float | None) -> None:
        self._limiter = limiter
        self._deadline = deadline
        self._ticket = _FREE

    async def __aenter__(self) -> Ticket:
        self._ticket = await self._limiter.acquire(self._deadline)
        return self._ticket

    async def __aexit__(self, *exc_info: object) -> None:
        self._ticket.release()


class _Waiter:
    """A caller in the queue; ``wake`` is set while it sleeps."""

    __slots__ = ("wake",)

    def __init__(self) -> None:
        self.wake: asyncio.Future[None] | None = None


class RateLimiter:
    """Rate, concurrency and pause limits shared by all the calls of one client.

    Waiters are served in FIFO order, whatever they wait for (the pace, a free slot
    under ``max_concurrency``, a pause); a caller cancelled while waiting, or giving up
    at its deadline, takes nothing. ``clock`` must tick in seconds along with the
    event loop's clock (deadlines are ``time.monotonic()`` values whatever the clock).

    Hand-written rather than built on ``asyncio.Lock``/``Semaphore``: the head of the
    queue must wake up when a reply changes the pace, and every waiter must give up at
    its own deadline without losing a slot, on Python 3.10 as well.
    """

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.stats = RateLimiterStats()
        self._clock = clock
        fixed = limits.fixed_rate
        self._noop = fixed is None and limits.max_concurrency is None and not limits.adaptive
        self._max_in_flight = limits.max_concurrency or math.inf
        self._queue: deque[_Waiter] = deque()  # callers waiting, in order; the head sleeps
        now = clock()
        self._bucket = TokenBucket(limits.burst or 1.0, now, rate=fixed)
        self._meter = TrafficMeter(now)
        self._pace = (
            AdaptivePace(limits, self._bucket, self._meter, clock) if limits.adaptive else None
        )
        self._paused_until = -math.inf
        # Before the first reply: one request at a time, until ``_cold_until`` at most.
        self._cold = limits.adaptive and fixed is None and limits.first_reply_wait is not None
        self._cold_until = math.inf

    @property
    def enabled(self) -> bool:
        """False when the limiter does nothing (no limits and not adaptive)."""
        return not self._noop

    @property
    def current_rate(self) -> float | None:
        """Requests per second currently allowed (``None``: unlimited)."""
        return self._bucket.rate

    @property
    def estimated_server_rate(self) -> float | None:
        """The server's refill rate learnt from ``x-ratelimit-*`` headers, if any."""
        return None if self._pace is None else self._pace.estimate

    @property
    def in_flight(self) -> int:
        """Tickets granted and not yet released."""
        return self._meter.in_flight

    def slot(self, deadline: float | None = None) -> _Slot:
        """Async context manager: ``acquire(deadline)`` on entry (the ticket), release on exit."""
        return _Slot(self, deadline)

    async def acquire(self, deadline: float | None = None) -> Ticket:
        """Wait for permission to send one request; the :class:`Ticket` must be released.

        ``deadline`` (a ``time.monotonic()`` value, None: none) bounds the wait: a slot
        free now is granted whatever the deadline, but one that cannot be had before
        it raises :class:`~openai_messages.errors.APITimeoutError` (at once when a
        pause of every caller lasts beyond it), leaving the limiter as it was.
        """
        if self._noop:
            if self._paused_until > self._clock():  # only ever true after pause()
                await self._wait_turn(deadline)
            else:
                self.stats.acquired += 1
            return _FREE
        now = await self._wait_turn(deadline)
        seq = self._meter.start(now)
        return Ticket(self, seq, self._meter.in_flight - 1)

    def pause(self, seconds: float) -> None:
        """Make every caller, waiting or future, wait at least ``seconds`` from now.

        For a server's ``Retry-After`` on a 429, which the caller bounds: the client
        pauses only for one it honours (at most ``RetryPolicy.retry_after_cap``, 60 s by
        default). Calls whose deadline falls within the pause fail at once with
        ``APITimeoutError``.
        """
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"pause needs a finite number of seconds >= 0, got {seconds!r}")
        self.stats.pauses += 1
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        if self._pace is not None:
            self._pace.paused(self._paused_until)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a reply no ticket of this limiter stands for (prefer
        :meth:`Ticket.observe`): every request in flight counts as not yet seen by the
        server. A no-op unless adaptive."""
        self._learn(status, headers, unseen=self._meter.in_flight)

    # -- tickets ---------------------------------------------------------------------------

    def _learn(self, status: int, headers: Mapping[str, str], *, unseen: int) -> None:
        pace = self._pace
        if pace is None:
            return
        self._cold = False
        if status == 429:
            self.stats.throttled += 1
        reply = parse_ratelimit(headers)
        waiting = len(self._queue)
        if pace.observe(
            status, reply, unseen=unseen, waiting=waiting, paused_until=self._paused_until
        ):
            self.stats.rate_decreases += 1
        self._wake_head()

    def _release(self) -> None:
        was_full = self._meter.in_flight >= self._max_in_flight
        self._meter.finish(self._clock())
        if was_full or self._cold:  # a slot is free; or the first request is over
            self._cold = False
            self._wake_head()

    def _wake_head(self) -> None:
        """Let the head waiter recompute its delay."""
        if self._queue:
            wake = self._queue[0].wake
            if wake is not None and not wake.done():
                wake.set_result(None)

    # -- waiting ---------------------------------------------------------------------------

    async def _wait_turn(self, deadline: float | None) -> float:
        now = self._clock()
        if not self._queue and self._delay(now) <= 0:
            self._take(now, waited=False)
            return now
        left = _seconds_left(deadline)
        give_up_at = math.inf if left is None else now + left
        start = now
        me = _Waiter()
        self._queue.append(me)
        try:
            while True:
                delay = self._delay(now) if self._queue[0] is me else math.inf
                if delay <= 1e-6:
                    break
                if self._paused_until > give_up_at:
                    raise self._paused_beyond(now, give_up_at)
                if give_up_at - now <= 1e-6:
                    raise self._gave_up(start)
                await self._sleep(me, min(delay, give_up_at - now))
                now = self._clock()
            self._take(now, waited=True)
        finally:
            head = self._queue[0] is me
            self._queue.remove(me)
            if head:
                self._wake_head()  # the next one's turn: it recomputes its delay
        self.stats.delayed += 1
        self.stats.wait_seconds += now - start
        return now

    async def _sleep(self, me: _Waiter, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        me.wake = waiter = loop.create_future()
        handle = None if seconds == math.inf else loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            if handle is not None:
                handle.cancel()
            me.wake = None

    def _delay(self, now: float) -> float:
        if self._meter.in_flight >= self._max_in_flight:
            return math.inf  # until a release
        delay = self._paused_until - now
        if self._cold and self._meter.in_flight:
            if self._cold_until == math.inf:
                self._cold_until = now + (self.limits.first_reply_wait or 0.0)
            if now < self._cold_until:
                delay = max(delay, self._cold_until - now)
            else:
                self._cold = False  # no reply in time: go on without one
        return max(delay, self._bucket.wait_time(now))

    def _take(self, now: float, *, waited: bool) -> None:
        self._bucket.take(now)
        self.stats.acquired += 1
        if self._pace is not None:
            self._pace.granted(waited=waited)

    def _gave_up(self, start: float) -> errors.APITimeoutError:
        self.stats.timeouts += 1
        return errors.APITimeoutError(
            f"timed out after {max(0.0, self._clock() - start):.2f} s waiting for the "
            "client's rate limiter (its pace, concurrency cap or a pause): the call's "
            "timeout covers that wait",
            maybe_delivered=False,
        )

    def _paused_beyond(self, now: float, give_up_at: float) -> errors.APITimeoutError:
        self.stats.timeouts += 1
        return errors.APITimeoutError(
            f"the client's rate limiter holds every call for {self._paused_until - now:.1f} s "
            f"more (the server asked for that pause with Retry-After), beyond this call's "
            f"timeout, which ends in {max(0.0, give_up_at - now):.1f} s",
            maybe_delivered=False,
        )


def _seconds_left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
