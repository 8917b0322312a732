"""Tests of the client-side rate limiter (openai_messages.ratelimit)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Coroutine
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from openai_messages.errors import APITimeoutError
from openai_messages.ratelimit import (
    RateLimiter,
    RateLimits,
    Ticket,
    parse_reset_duration,
    parse_retry_after,
)

from ..support import T, loop_clock, virtual_time


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ratelimit_headers(limit: int, remaining: int, reset: str, **extra: str) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": reset,
        **extra,
    }


def elapsed_since(start: float) -> float:
    """Seconds on the loop's clock: exact under ``@virtual_time``."""
    return asyncio.get_running_loop().time() - start


def run_without_suspending(coro: Coroutine[object, None, T]) -> T:
    """Runs ``coro`` to its end in one step: fails if it ever waits for the event loop."""
    with pytest.raises(StopIteration) as done:
        coro.send(None)
    result: T = done.value.value
    return result


# -- header parsing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("120ms", 0.12),
        ("6m0s", 360.0),
        ("1.5s", 1.5),
        ("2m30.5s", 150.5),
        ("0s", 0.0),
        ("1h2m3s", 3723.0),
        ("500us", 0.0005),
        ("500µs", 0.0005),
        ("1m0.25s", 60.25),
        ("20ns", 20e-9),
        ("19.5ms", 0.0195),
        (".5s", 0.5),
        (" 2s ", 2.0),
        ("1.5", 1.5),
        ("7", 7.0),
    ],
)
def test_parse_reset_duration(text: str, seconds: float) -> None:
    assert parse_reset_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        *["", " ", "abc", "1x", "-1s", "s", "ms", "1s-", "1 s", "nan", "inf", "1e3s", "1..2s"],
        *["1s2", "9" * 400 + "s", "1" * 65, "\u0661s", "1\u0661"],
    ],
)
def test_parse_reset_duration_garbage(text: str) -> None:
    assert parse_reset_duration(text) is None


def test_parse_reset_duration_non_string() -> None:
    assert parse_reset_duration(None) is None  # type: ignore[arg-type]
    assert parse_reset_duration(1.5) is None  # type: ignore[arg-type]


@given(st.text(max_size=40))
def test_parse_reset_duration_never_raises(text: str) -> None:
    result = parse_reset_duration(text)
    assert result is None or (math.isfinite(result) and result >= 0)


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 999), st.sampled_from(["ms", "s"]))
def test_parse_reset_duration_compound(minutes: int, seconds: int, millis: int, last: str) -> None:
    text = f"{minutes}m{seconds}s" + (f"{millis}ms" if last == "ms" else "")
    expected = minutes * 60 + seconds + (millis / 1000 if last == "ms" else 0)
    assert parse_reset_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "250.5"}, 0.2505),
        ({"retry-after": "3"}, 3.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "100", "retry-after": "20"}, 0.1),  # ms first
        ({"retry-after-ms": "soon", "retry-after": "20"}, 20.0),  # falls back
        ({"retry-after-ms": "-5", "retry-after": "4"}, 4.0),
        ({"retry-after-ms": "-5"}, None),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after-ms": "1e400"}, None),
        ({"retry-after": "tomorrow"}, None),
        ({"retry-after": ""}, None),
        ({"content-type": "application/json"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    result = parse_retry_after(headers)
    if seconds is None:
        assert result is None
    else:
        assert result == pytest.approx(seconds)


def test_parse_retry_after_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    earlier = format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after({"Retry-After": later}, now=now.timestamp()) == pytest.approx(90)
    assert parse_retry_after({"Retry-After": earlier}, now=now.timestamp()) == 0.0
    assert parse_retry_after({"Retry-After": "Wed, 99 Foo 2024 99:99:99 GMT"}) is None
    # Without ``now`` the current time is used.
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=60), usegmt=True)
    assert 55 < (parse_retry_after({"retry-after": soon}) or 0) <= 60


def test_parse_retry_after_multidict() -> None:
    headers = CIMultiDictProxy(CIMultiDict({"Retry-After-MS": "300", "Retry-After": "9"}))
    assert parse_retry_after(headers) == pytest.approx(0.3)


@given(st.dictionaries(st.sampled_from(["retry-after", "Retry-After-Ms", "x"]), st.text()))
def test_parse_retry_after_never_raises(headers: dict[str, str]) -> None:
    result = parse_retry_after(headers, now=0.0)
    assert result is None or (math.isfinite(result) and result >= 0)


# -- configuration -------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"requests_per_second": 0},
        {"requests_per_minute": -1},
        {"requests_per_second": math.inf},
        {"max_concurrency": 0},
        {"max_concurrency": True},
        {"burst": 0},
        {"safety_factor": 1.5},
        {"decrease_factor": 0},
        {"min_rate": 0},
    ],
)
def test_invalid_limits(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateLimits(**kwargs)  # type: ignore[arg-type]


def test_fixed_rate_combines_second_and_minute() -> None:
    assert RateLimits().fixed_rate is None
    assert RateLimits(requests_per_minute=600).fixed_rate == pytest.approx(10)
    assert RateLimits(requests_per_second=5, requests_per_minute=600).fixed_rate == 5
    assert RateLimits(requests_per_second=50, requests_per_minute=600).fixed_rate == 10


# -- fast path -----------------------------------------------------------------


async def test_disabled_limiter_never_suspends() -> None:
    limiter = RateLimiter(RateLimits(adaptive=False))
    assert not limiter.enabled
    assert limiter.current_rate is None
    run_without_suspending(limiter.acquire()).release()
    limiter.observe(429, {"retry-after": "60"})  # not adaptive: ignored

    async def many() -> None:
        for _ in range(20_000):
            async with limiter.slot():
                pass

    run_without_suspending(many())  # not once did a slot wait for the event loop
    assert limiter.stats.acquired == 20_001


async def test_adaptive_limiter_is_unlimited_until_throttled() -> None:
    limiter = RateLimiter(RateLimits())
    assert limiter.enabled

    async def many() -> None:
        for _ in range(200):
            async with limiter.slot() as ticket:
                ticket.observe(200, ratelimit_headers(1000, 900, "1s"))

    run_without_suspending(many())
    assert limiter.stats.acquired == 200
    assert limiter.current_rate is None
    assert limiter.stats.delayed == 0


# -- fixed limits --------------------------------------------------------------


@pytest.mark.parametrize(
    "limits",
    [
        RateLimits(requests_per_second=100, adaptive=False),
        RateLimits(requests_per_minute=6000, adaptive=False),
        RateLimits(requests_per_second=100),  # adaptive never exceeds the fixed rate
    ],
)
@virtual_time
async def test_fixed_rate_paces(limits: RateLimits) -> None:
    limiter = RateLimiter(limits, clock=loop_clock())
    assert limiter.current_rate == pytest.approx(100)
    start = asyncio.get_running_loop().time()
    for _ in range(20):
        async with limiter.slot() as ticket:
            # A server that claims a huge limit must not make us burst past the fixed one.
            ticket.observe(200, ratelimit_headers(10_000, 9_999, "6ms"))
    assert elapsed_since(start) == pytest.approx(0.19)  # the first at once, 19 at 100/s
    assert limiter.current_rate == pytest.approx(100)
    assert limiter.stats.delayed == 19


@virtual_time
async def test_burst_is_free_then_paced() -> None:
    limits = RateLimits(requests_per_second=20, burst=5, adaptive=False)
    limiter = RateLimiter(limits, clock=loop_clock())
    start = asyncio.get_running_loop().time()
    for _ in range(5):
        await limiter.acquire()
    assert elapsed_since(start) == 0
    for _ in range(3):
        await limiter.acquire()
    assert elapsed_since(start) == pytest.approx(0.15)  # 3 more at 20/s
    assert limiter.in_flight == 8


@virtual_time
async def test_concurrent_callers_share_the_rate() -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=100, adaptive=False), clock=loop_clock())

    async def call() -> None:
        async with limiter.slot():
            await asyncio.sleep(0)

    start = asyncio.get_running_loop().time()
    await asyncio.gather(*(call() for _ in range(21)))
    assert elapsed_since(start) == pytest.approx(0.2)


async def test_waiters_are_served_in_order() -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=200, adaptive=False))
    order: list[int] = []

    async def call(i: int) -> None:
        async with limiter.slot():
            order.append(i)

    tasks = []
    for i in range(10):
        tasks.append(asyncio.create_task(call(i)))
        await asyncio.sleep(0)  # each task starts waiting before the next is created
    await asyncio.gather(*tasks)
    assert order == list(range(10))


async def test_a_newcomer_does_not_overtake_waiters() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(), clock=clock)
    order: list[str] = []

    async def waiter() -> None:
        await limiter.acquire()
        order.append("waiter")

    limiter.pause(10)
    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    clock.now += 11  # the pause is over, the waiter is about to be woken ...
    limiter.observe(200, {})
    await limiter.acquire()  # ... and a newcomer arrives first
    order.append("newcomer")
    await task
    assert order == ["waiter", "newcomer"]


async def test_concurrency_cap() -> None:
    limiter = RateLimiter(RateLimits(max_concurrency=3, adaptive=False))
    assert limiter.enabled
    active = peak = 0

    async def call() -> None:
        nonlocal active, peak
        async with limiter.slot():
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1

    await asyncio.gather(*(call() for _ in range(12)))
    assert peak == 3
    assert limiter.in_flight == 0


@virtual_time
async def test_release_is_idempotent() -> None:
    limiter = RateLimiter(RateLimits(max_concurrency=2), clock=loop_clock())
    first = await limiter.acquire()
    await limiter.acquire()
    first.release()
    first.release()  # a second release frees nothing more
    assert first.released
    assert limiter.in_flight == 1
    await asyncio.wait_for(limiter.acquire(), 1.0)  # the one slot that was freed
    blocked = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(60)
    assert not blocked.done()  # both slots are taken: nothing was freed twice
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    assert limiter.in_flight == 2


# -- pause ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "limits",
    [RateLimits(), RateLimits(adaptive=False), RateLimits(max_concurrency=8, adaptive=False)],
)
@virtual_time
async def test_pause_holds_every_caller(limits: RateLimits) -> None:
    limiter = RateLimiter(limits, clock=loop_clock())
    loop = asyncio.get_running_loop()
    start = loop.time()
    limiter.pause(0.2)
    done: list[float] = []

    async def call() -> None:
        async with limiter.slot():
            done.append(elapsed_since(start))

    await asyncio.gather(*(call() for _ in range(5)))
    assert done == pytest.approx([0.2] * 5)
    assert limiter.stats.pauses == 1
    # Once over, the pause costs nothing.
    await asyncio.wait_for(limiter.acquire(), 0.1)


@virtual_time
async def test_pause_extends_a_wait_in_progress() -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=10, adaptive=False), clock=loop_clock())
    await limiter.acquire()  # the next token comes in 0.1 s
    start = asyncio.get_running_loop().time()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.02)
    limiter.pause(0.3)
    await waiter
    assert elapsed_since(start) == pytest.approx(0.32)  # not the token's 0.1 s


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_pause_rejects_bad_values(seconds: float) -> None:
    with pytest.raises(ValueError, match="pause"):
        RateLimiter(RateLimits()).pause(seconds)


@virtual_time
async def test_retry_after_from_a_429_pauses_everybody() -> None:
    limiter = RateLimiter(RateLimits(), clock=loop_clock())
    reply = {"Retry-After-Ms": "150"}
    async with limiter.slot() as ticket:
        await asyncio.sleep(0.01)  # the round trip
        ticket.observe(429, reply)
    assert limiter.stats.throttled == 1
    assert limiter.stats.pauses == 0  # observe feeds the estimate; the caller pauses
    start = asyncio.get_running_loop().time()
    limiter.pause(parse_retry_after(reply) or 0.0)
    waits: list[float] = []

    async def call() -> None:
        async with limiter.slot():
            waits.append(elapsed_since(start))

    await asyncio.gather(*(call() for _ in range(4)))
    assert waits[0] == pytest.approx(0.15)  # then paced at the cut rate
    assert waits == sorted(waits)


# -- cancellation --------------------------------------------------------------


@virtual_time
async def test_cancelled_rate_waiter_takes_no_token() -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=5, adaptive=False), clock=loop_clock())
    (await limiter.acquire()).release()
    start = asyncio.get_running_loop().time()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await limiter.acquire()  # gets the token the cancelled task was waiting for
    assert elapsed_since(start) == pytest.approx(0.2)  # a leaked one: 0.4 s
    assert limiter.stats.acquired == 2
    assert limiter.in_flight == 1


async def test_cancelled_waiters_leak_no_slot() -> None:
    limiter = RateLimiter(RateLimits(max_concurrency=1, requests_per_second=20, adaptive=False))
    ticket = await limiter.acquire()
    # One waits for the slot, one is cancelled after getting the slot but not the token.
    blocked = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    blocked.cancel()
    ticket.release()
    pacing = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    pacing.cancel()
    for task in (blocked, pacing):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert limiter.in_flight == 0
    ticket = await asyncio.wait_for(limiter.acquire(), 1.0)  # the slot is free again
    assert limiter.in_flight == 1
    ticket.release()
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_slot_released_on_error() -> None:
    limiter = RateLimiter(RateLimits(max_concurrency=1))
    with pytest.raises(KeyError):
        async with limiter.slot():
            raise KeyError("boom")
    assert limiter.in_flight == 0
    await asyncio.wait_for(limiter.acquire(), 0.5)


# -- adaptation ----------------------------------------------------------------


@virtual_time
async def test_low_remaining_starts_pacing_at_the_refill_rate() -> None:
    limiter = RateLimiter(RateLimits(first_reply_wait=None), clock=loop_clock())  # 5 at once
    tickets = [await limiter.acquire() for _ in range(5)]
    # 17 used, refilled in 0.85 s: 20 per second. Only 3 left with 5 in flight.
    tickets[-1].observe(200, ratelimit_headers(20, 3, "850ms"))
    assert limiter.estimated_server_rate == pytest.approx(20)
    assert limiter.current_rate == pytest.approx(20 * 0.95)
    for ticket in tickets:
        ticket.release()
    start = asyncio.get_running_loop().time()
    for _ in range(4):
        async with limiter.slot():
            pass
    assert elapsed_since(start) == pytest.approx(4 / 19)  # each spaced at 19/s, no burst
    assert limiter.stats.throttled == 0


async def test_plenty_remaining_keeps_the_burst() -> None:
    limiter = RateLimiter(RateLimits(first_reply_wait=None))  # five at once, no wait
    tickets = [await limiter.acquire() for _ in range(5)]
    tickets[-1].observe(200, ratelimit_headers(20, 12, "400ms"))  # 12 left, 5 in flight
    assert limiter.current_rate is None


async def keep_callers_waiting(
    limiter: RateLimiter, clock: FakeClock, seconds: float, headers: dict[str, str]
) -> list[float]:
    """Callers queue for the pace while time passes with successes; the pace after each step."""

    async def call() -> None:
        async with limiter.slot():
            pass

    waiters = [asyncio.create_task(call()) for _ in range(round(seconds * 100) + 50)]
    await asyncio.sleep(0)
    rates = []
    for _ in range(round(seconds * 100)):
        clock.now += 0.01
        limiter.observe(200, headers)
        rates.append(limiter.current_rate or 0.0)
        await asyncio.sleep(0)
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    return rates


async def test_throttling_slows_down_then_ramps_back() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(), clock=clock)
    limiter.observe(200, ratelimit_headers(100, 50, "500ms"))  # 100 per second
    assert limiter.estimated_server_rate == pytest.approx(100)
    limiter.observe(429, ratelimit_headers(100, 0, "1s", **{"retry-after-ms": "10"}))
    assert limiter.current_rate == pytest.approx(95)  # starts pacing just under the estimate
    clock.now += 1
    limiter.observe(429, ratelimit_headers(100, 0, "1s"))
    cut = limiter.current_rate
    assert cut is not None
    assert cut == pytest.approx(95 * 0.7)
    assert limiter.stats.rate_decreases == 1
    clock.now += 1
    limiter.observe(200, ratelimit_headers(100, 0, "1s"))
    assert limiter.current_rate == cut  # nobody is waiting: no reason to grow
    rates = await keep_callers_waiting(limiter, clock, 3.0, ratelimit_headers(100, 1, "990ms"))
    assert rates == sorted(rates)  # ramps up steadily ...
    assert cut < rates[0] < rates[30] < 95
    assert rates[-1] == pytest.approx(95)  # ... back to the ceiling, not beyond
    assert limiter.stats.delayed > 0  # the callers really waited for the pace


def test_burst_of_429s_cuts_the_rate_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(), clock=clock)
    limiter.observe(200, ratelimit_headers(100, 50, "500ms"))
    limiter.observe(429, ratelimit_headers(100, 0, "1s"))
    clock.now += 1
    for _ in range(10):  # answers to requests that were all in flight together
        limiter.observe(429, ratelimit_headers(100, 0, "1s"))
    assert limiter.current_rate == pytest.approx(95 * 0.7)
    assert limiter.stats.throttled == 11


async def test_throttling_without_headers_uses_the_measured_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(), clock=clock)
    for _ in range(100):  # 100 requests per second for a second
        async with limiter.slot():
            clock.now += 0.01
    limiter.observe(429, {})
    rate = limiter.current_rate
    assert rate is not None
    assert 50 < rate < 90  # about 0.7 x the recent send rate
    clock.now += 5
    limiter.observe(200, {})
    assert limiter.current_rate == rate  # idle: no reason to grow
    rates = await keep_callers_waiting(limiter, clock, 0.5, {})
    assert rates[-1] > 2 * rate  # no estimate to stop at: probes upwards fast


def test_estimate_follows_the_lowest_upper_bound() -> None:
    limiter = RateLimiter(RateLimits(), clock=FakeClock())
    # remaining is rounded down: 1 / 6 ms is an upper bound of the refill rate.
    limiter.observe(200, ratelimit_headers(10_000, 9_999, "6ms"))
    assert limiter.estimated_server_rate == pytest.approx(1 / 0.006)
    limiter.observe(200, ratelimit_headers(10_000, 9_990, "60s"))  # an outlier
    assert limiter.estimated_server_rate == pytest.approx(10 / 60)
    for _ in range(16):
        limiter.observe(200, ratelimit_headers(10_000, 9_999, "6ms"))
    assert limiter.estimated_server_rate == pytest.approx(1 / 0.006)  # forgotten


@pytest.mark.parametrize(
    "headers",
    [
        {"x-ratelimit-limit-requests": "abc", "x-ratelimit-remaining-requests": "-3"},
        ratelimit_headers(0, 0, "1s"),
        ratelimit_headers(20, 25, "1s"),
        ratelimit_headers(20, 5, "soon"),
        ratelimit_headers(20, 5, "0s"),
        {"X-RateLimit-Remaining-Requests": "nan", "Retry-After": "later"},
    ],
)
def test_observe_ignores_garbage(headers: dict[str, str]) -> None:
    limiter = RateLimiter(RateLimits(), clock=FakeClock())
    limiter.observe(200, headers)
    assert limiter.estimated_server_rate is None
    assert limiter.current_rate is None
    limiter.observe(429, headers)  # a 429 without a usable Retry-After still slows down
    assert limiter.stats.pauses == 0
    assert limiter.current_rate is not None


def test_observe_reads_multidict_headers() -> None:
    limiter = RateLimiter(RateLimits(), clock=FakeClock())
    headers = CIMultiDict(
        {
            "X-RateLimit-Limit-Requests": "60",
            "X-RateLimit-Remaining-Requests": "0",
            "X-RateLimit-Reset-Requests": "1m0s",
            "Retry-After": "2",
        }
    )
    limiter.observe(429, CIMultiDictProxy(headers))
    assert limiter.estimated_server_rate == pytest.approx(1.0)
    assert limiter.current_rate == pytest.approx(0.95)
    assert limiter.stats.throttled == 1


def test_adaptive_off_ignores_feedback() -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=10, adaptive=False))
    limiter.observe(429, ratelimit_headers(5, 0, "1s", **{"retry-after": "30"}))
    assert limiter.current_rate == 10
    assert limiter.stats.throttled == 0
    assert limiter.stats.pauses == 0


def test_adaptive_never_exceeds_a_fixed_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(requests_per_second=10), clock=clock)
    limiter.observe(200, ratelimit_headers(1000, 500, "1s"))
    assert limiter.current_rate == 10
    limiter.observe(200, ratelimit_headers(10, 5, "1s"))  # the server allows only 5/s
    assert limiter.current_rate == pytest.approx(4.75)


@virtual_time
async def test_lone_caller_recovers_after_429s_without_headers() -> None:
    """One sequential caller, cut hard by 429s without headers, then a healthy server:
    the pace doubles per success while it holds the caller back, then pacing stops."""
    limits = RateLimits(decrease_factor=0.5, quiet_seconds=0.2)
    limiter = RateLimiter(limits, clock=loop_clock())
    for _ in range(20):
        async with limiter.slot():
            pass
    for _ in range(40):  # 429s, each after the last cut's cooldown, until the pace is low
        async with limiter.slot() as ticket:
            await asyncio.sleep(0.002)
            ticket.observe(429, {})
        if (limiter.current_rate or math.inf) < 20:
            break
        await asyncio.sleep(0.01)
    low = limiter.current_rate
    assert low is not None
    assert low < 20
    start = asyncio.get_running_loop().time()
    rates = []
    for _ in range(12):
        async with limiter.slot() as ticket:
            ticket.observe(200, {})
        rates.append(limiter.current_rate or math.inf)
    assert rates[-1] > 10 * low  # grew back fast, not at 50% per second
    assert elapsed_since(start) < 12 / low  # the caller was not held at the low pace
    await asyncio.sleep(0.25)  # no 429 for a while, and the pace holds nobody back
    for _ in range(20):
        async with limiter.slot() as ticket:
            await asyncio.sleep(0.001)  # a round trip: the caller sends below the pace
            ticket.observe(200, {})
    assert limiter.current_rate is None  # unlimited again


# -- before the first reply --------------------------------------------------------------


async def _waiters(limiter: RateLimiter, n: int) -> list[asyncio.Task[Ticket]]:
    tasks = [asyncio.create_task(limiter.acquire()) for _ in range(n)]
    await asyncio.sleep(0.05)
    return tasks


@virtual_time
async def test_callers_wait_for_the_first_reply_then_go_together() -> None:
    limiter = RateLimiter(RateLimits(), clock=loop_clock())
    first = await limiter.acquire()  # the first request goes at once
    waiting = await _waiters(limiter, 5)
    assert not any(task.done() for task in waiting)
    first.observe(200, ratelimit_headers(1000, 999, "60ms"))  # plenty of room
    await asyncio.wait_for(asyncio.gather(*waiting), 1.0)
    assert limiter.in_flight == 6
    assert limiter.current_rate is None  # nothing to pace


@virtual_time
async def test_the_first_reply_ends_the_wait_even_when_it_is_an_error() -> None:
    limiter = RateLimiter(RateLimits(), clock=loop_clock())
    first = await limiter.acquire()
    waiting = await _waiters(limiter, 3)
    first.release()  # the request failed without a reply (say, a dropped connection)
    await asyncio.wait_for(asyncio.gather(*waiting), 1.0)


@virtual_time
async def test_the_wait_for_the_first_reply_is_bounded() -> None:
    limiter = RateLimiter(RateLimits(first_reply_wait=0.1), clock=loop_clock())
    await limiter.acquire()  # and no reply ever comes
    start = asyncio.get_running_loop().time()
    await limiter.acquire()
    assert elapsed_since(start) == pytest.approx(0.1)


@virtual_time
async def test_more_waiters_than_the_server_allows_start_pacing() -> None:
    limiter = RateLimiter(RateLimits(), clock=loop_clock())
    first = await limiter.acquire()
    waiting = await _waiters(limiter, 10)
    # a burst of 5, 4 of them left; 1 used, back in 200 ms: 5 per second
    first.observe(200, ratelimit_headers(5, 4, "200ms"))
    assert limiter.current_rate == pytest.approx(5 * 0.95)
    await asyncio.sleep(0.05)
    assert sum(task.done() for task in waiting) == 4  # what the server can take now
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


@virtual_time
async def test_without_the_wait_everybody_goes_at_once() -> None:
    limiter = RateLimiter(RateLimits(first_reply_wait=None), clock=loop_clock())
    await limiter.acquire()
    waiting = await _waiters(limiter, 5)
    assert all(task.done() for task in waiting)


@virtual_time
async def test_a_fixed_rate_needs_no_first_reply() -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=1000, burst=10), clock=loop_clock())
    await limiter.acquire()
    waiting = await _waiters(limiter, 5)
    assert all(task.done() for task in waiting)


# -- tickets -----------------------------------------------------------------------------------


async def _pacing_after(observer: int) -> float | None:
    """Tickets 1 and 2 granted, 1 released, 3 granted; ticket ``observer`` sees 2 left."""
    limiter = RateLimiter(RateLimits(first_reply_wait=None))
    tickets = [await limiter.acquire(), await limiter.acquire()]
    tickets[0].release()
    tickets.append(await limiter.acquire())

    async def elsewhere() -> None:  # a reply may be handled in any task
        tickets[observer - 1].observe(200, ratelimit_headers(20, 2, "900ms"))

    await asyncio.create_task(elsewhere())
    return limiter.current_rate


async def test_the_ticket_says_which_requests_the_server_had_not_seen() -> None:
    # Ticket 2's reply may have overtaken ticket 1's request, and ticket 3 was sent
    # after it: 2 unseen, nothing left, pace. Ticket 3's reply saw all but ticket 2.
    assert await _pacing_after(observer=2) == pytest.approx(20 * 0.95)
    assert await _pacing_after(observer=3) is None


async def test_a_limiter_that_does_nothing_grants_inert_tickets() -> None:
    limiter = RateLimiter(RateLimits(adaptive=False))
    ticket = await limiter.acquire()
    assert ticket.released
    ticket.observe(429, {"retry-after": "60"})
    ticket.release()
    assert limiter.in_flight == 0
    assert limiter.stats.throttled == 0


async def test_slot_yields_its_ticket_and_releases_it() -> None:
    limiter = RateLimiter(RateLimits(max_concurrency=1))
    async with limiter.slot() as ticket:
        assert limiter.in_flight == 1
    assert ticket.released
    assert limiter.in_flight == 0


# -- deadlines -----------------------------------------------------------------------------------

GUARD = 10.0  # seconds: a hang detector only


def soon(seconds: float) -> float:
    return time.monotonic() + seconds


@pytest.mark.parametrize("limits", [RateLimits(), RateLimits(adaptive=False)])
async def test_a_pause_beyond_the_deadline_fails_at_once(limits: RateLimits) -> None:
    limiter = RateLimiter(limits)
    limiter.pause(300)
    with pytest.raises(APITimeoutError, match="rate limiter holds every call") as info:
        await asyncio.wait_for(limiter.acquire(soon(1.0)), GUARD)
    assert "Retry-After" in str(info.value)
    assert limiter.stats.timeouts == 1
    assert limiter.in_flight == 0
    assert limiter.stats.acquired == 0


async def test_a_pace_wait_gives_up_at_the_deadline_and_takes_nothing() -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=2, adaptive=False))
    await limiter.acquire()  # the next token comes in 0.5 s
    with pytest.raises(APITimeoutError, match="waiting for the client's rate limiter"):
        await asyncio.wait_for(limiter.acquire(soon(0.05)), GUARD)
    await asyncio.wait_for(limiter.acquire(soon(GUARD)), GUARD)  # gets that token
    assert (limiter.stats.acquired, limiter.stats.timeouts, limiter.in_flight) == (2, 1, 2)


async def test_a_waiter_behind_the_head_gives_up_and_keeps_the_order() -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=5, adaptive=False))
    await limiter.acquire()
    head = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    with pytest.raises(APITimeoutError):
        await asyncio.wait_for(limiter.acquire(soon(0.02)), GUARD)
    behind = asyncio.create_task(limiter.acquire())
    await asyncio.wait_for(asyncio.gather(head, behind), GUARD)
    assert limiter.in_flight == 3
    assert limiter.stats.timeouts == 1


async def test_a_concurrency_wait_gives_up_and_leaks_no_slot() -> None:
    limiter = RateLimiter(RateLimits(max_concurrency=1, adaptive=False))
    ticket = await limiter.acquire()
    with pytest.raises(APITimeoutError):
        await asyncio.wait_for(limiter.acquire(soon(0.02)), GUARD)
    ticket.release()
    again = await asyncio.wait_for(limiter.acquire(soon(GUARD)), GUARD)
    assert limiter.in_flight == 1
    blocked = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.02)
    assert not blocked.done()  # one slot, and it is taken
    again.release()
    await asyncio.wait_for(blocked, GUARD)


async def test_a_free_slot_is_granted_past_the_deadline() -> None:
    limiter = RateLimiter(RateLimits(max_concurrency=2))
    await limiter.acquire(time.monotonic() - 1.0)  # a retry after its call's timeout
    assert limiter.in_flight == 1
    with pytest.raises(APITimeoutError):  # but no waiting past it
        await asyncio.wait_for(limiter.acquire(time.monotonic() - 1.0), GUARD)
    assert limiter.in_flight == 1
