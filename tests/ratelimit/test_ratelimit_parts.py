"""Unit tests of the limiter's pure parts: token bucket, traffic meter, adaptive pace.

No server, no event loop, no sleeping: time is a fake clock moved by hand.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from openai_messages._core.headers import parse_ratelimit
from openai_messages.ratelimit import RateLimits, RequestLimits
from openai_messages.ratelimit.adaptive import AdaptivePace
from openai_messages.ratelimit.bucket import TokenBucket
from openai_messages.ratelimit.traffic import TrafficMeter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


PURE = ("adaptive", "bucket", "settings", "traffic")  # the header readers: test_core.py


@pytest.mark.parametrize("name", PURE)
def test_the_pure_parts_import_no_event_loop(name: str) -> None:
    path = Path(__file__).parents[2] / "openai_messages" / "ratelimit" / f"{name}.py"
    imported = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert imported
    assert not imported & {"asyncio", "aiohttp"}
    if name in ("adaptive", "bucket", "traffic"):
        assert "time" not in imported  # their clock is injected


# -- the token bucket ------------------------------------------------------------------------


def test_an_unpaced_bucket_lets_everything_through() -> None:
    bucket = TokenBucket(3.0, now=0.0)
    for _ in range(10):
        assert bucket.wait_time(0.0) == 0.0
        bucket.take(0.0)
    assert bucket.tokens == 3.0  # untouched until a pace is set


def test_a_paced_bucket_spends_then_waits_for_the_refill() -> None:
    bucket = TokenBucket(2.0, now=0.0, rate=10.0)
    bucket.take(0.0)
    bucket.take(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(0.1)
    assert bucket.wait_time(0.05) == pytest.approx(0.05)
    assert bucket.wait_time(0.1) == 0.0
    bucket.take(0.1)
    assert bucket.tokens == pytest.approx(0.0)


def test_the_refill_stops_at_capacity_and_never_goes_back_in_time() -> None:
    bucket = TokenBucket(2.0, now=0.0, rate=10.0)
    bucket.take(0.0)
    bucket.refill(100.0)
    assert bucket.tokens == 2.0
    bucket.take(100.0)
    bucket.refill(50.0)  # an earlier time adds nothing
    assert bucket.tokens == pytest.approx(1.0)
    bucket.refill(100.05)
    assert bucket.tokens == pytest.approx(1.5)


def test_drain_keeps_a_debt_and_drops_a_credit() -> None:
    bucket = TokenBucket(5.0, now=0.0, rate=1.0)
    bucket.drain()
    assert bucket.tokens == 0.0
    bucket.tokens = -0.5
    bucket.drain()
    assert bucket.tokens == -0.5
    assert bucket.wait_time(0.0) == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("tokens", "allowance", "may_raise", "after"),
    [
        (0.5, 3.0, True, 3.0),  # the server takes more: catch up
        (0.5, 3.0, False, 0.5),  # ... unless a fixed limit forbids it
        (2.4, 1.0, True, 1.0),  # the server takes fewer: cut down
        (2.4, 0.0, False, 0.4),  # keeping the progress towards the next token
        (0.7, 0.0, True, 0.7),  # less than a token in hand: nothing to cut
        (2.0, -3.0, True, 0.0),  # requests the server has not counted yet: nothing left
    ],
)
def test_align_matches_the_server(
    tokens: float, allowance: float, may_raise: bool, after: float
) -> None:
    bucket = TokenBucket(5.0, now=0.0, rate=1.0)
    bucket.tokens = tokens
    bucket.align(allowance, may_raise=may_raise)
    assert bucket.tokens == pytest.approx(after)


# -- the traffic meter -----------------------------------------------------------------------


def test_the_meter_counts_and_numbers_requests() -> None:
    meter = TrafficMeter(0.0)
    assert (meter.start(0.0), meter.start(0.0), meter.in_flight) == (1, 2, 2)
    meter.finish(0.1)
    assert (meter.started, meter.in_flight) == (2, 1)


def test_latency_follows_littles_law() -> None:
    meter = TrafficMeter(0.0)
    assert meter.latency() == 0.0
    meter.start(0.0)
    meter.finish(0.2)
    assert meter.latency() == pytest.approx(0.2 * 0.95)  # the area decays per completion
    for i in range(200):  # many requests of 50 ms: the old one is forgotten
        meter.start(1.0 + i)
        meter.finish(1.05 + i)
    assert meter.latency() == pytest.approx(0.05, rel=0.1)


def test_send_rate_is_about_the_last_second() -> None:
    meter = TrafficMeter(0.0)
    for i in range(300):
        meter.start(i / 100)  # 100 per second for 3 s
    assert meter.send_rate(3.0) == pytest.approx(100, rel=0.1)
    assert meter.send_rate(10.0) < 1  # idle since


# -- the adaptive pace -----------------------------------------------------------------------


def make_pace(
    limits: RateLimits | None = None, latency: float = 0.1
) -> tuple[AdaptivePace, TokenBucket, TrafficMeter, FakeClock]:
    """A pace whose meter saw one request of ``latency`` seconds."""
    clock = FakeClock()
    limits = limits or RateLimits()
    bucket = TokenBucket(limits.burst or 1.0, clock(), rate=limits.fixed_rate)
    meter = TrafficMeter(clock())
    meter.start(clock())
    meter.finish(clock() + latency)
    return AdaptivePace(limits, bucket, meter, clock), bucket, meter, clock


def reply(limit: float, remaining: float, reset: float) -> RequestLimits:
    return RequestLimits(limit=limit, remaining=remaining, reset=reset)


NOTHING = RequestLimits()


def test_parse_ratelimit() -> None:
    headers = {
        "X-RateLimit-Limit-Requests": "60",
        "x-ratelimit-remaining-requests": "12",
        "x-ratelimit-reset-requests": "1m30s",
    }
    assert parse_ratelimit(headers) == reply(60, 12, 90)
    garbage = {"x-ratelimit-limit-requests": "many", "x-ratelimit-reset-requests": "soon"}
    assert parse_ratelimit(garbage) == NOTHING


def test_no_pace_until_a_signal() -> None:
    pace, bucket, _, _ = make_pace()
    assert not pace.observe(200, reply(1000, 900, 1.0), unseen=0, waiting=0)
    assert pace.rate() is None
    assert bucket.rate is None
    assert pace.estimate == pytest.approx(100)  # learnt, but nothing to pace yet


def test_low_remaining_with_callers_waiting_starts_the_pace() -> None:
    pace, bucket, _, _ = make_pace()
    # 17 used, refilled in 0.85 s: 20 per second; 3 left, 5 callers waiting
    pace.observe(200, reply(20, 3, 0.85), unseen=0, waiting=5)
    assert pace.estimate == pytest.approx(20)
    assert bucket.rate == pytest.approx(20 * 0.95)
    assert bucket.capacity == 20
    assert bucket.tokens == pytest.approx(3)  # what the server allows now


def test_unseen_requests_count_against_the_allowance() -> None:
    pace, bucket, _, _ = make_pace()
    pace.observe(200, reply(20, 3, 0.85), unseen=3, waiting=0)  # 3 on their way: none left
    assert bucket.rate == pytest.approx(19)
    other, other_bucket, _, _ = make_pace()
    other.observe(200, reply(20, 3, 0.85), unseen=2, waiting=0)
    assert other_bucket.rate is None


def test_the_first_429_paces_at_the_estimate_and_the_next_cuts_once() -> None:
    pace, bucket, _, clock = make_pace()
    pace.observe(200, reply(100, 50, 0.5), unseen=0, waiting=0)
    assert not pace.observe(429, reply(100, 0, 1.0), unseen=0, waiting=0)
    assert bucket.rate == pytest.approx(95)  # pacing starts, not yet a cut
    assert bucket.tokens <= 0
    clock.now += 1
    assert pace.observe(429, reply(100, 0, 1.0), unseen=0, waiting=0)
    assert bucket.rate == pytest.approx(95 * 0.7)
    for _ in range(10):  # replies to requests sent before the cut: within the cooldown
        assert not pace.observe(429, reply(100, 0, 1.0), unseen=0, waiting=0)
    assert bucket.rate == pytest.approx(95 * 0.7)
    clock.now += 0.5  # two round trips (2 x 95 ms) later, a 429 cuts again
    assert pace.observe(429, reply(100, 0, 1.0), unseen=0, waiting=0)
    assert bucket.rate == pytest.approx(95 * 0.7 * 0.7)


@pytest.mark.parametrize("paused", [True, False])
def test_a_pause_with_the_cut_extends_its_cooldown(paused: bool) -> None:
    pace, _, _, clock = make_pace()
    pace.observe(200, reply(100, 50, 0.5), unseen=0, waiting=0)
    pace.observe(429, NOTHING, unseen=0, waiting=0)
    clock.now += 1
    assert pace.observe(429, NOTHING, unseen=0, waiting=0)
    if paused:
        pace.paused(clock.now + 5)  # the server asked for 5 s
    clock.now += 3  # past the cooldown of the cut alone, inside the pause
    assert pace.observe(429, NOTHING, unseen=0, waiting=0) is not paused
    clock.now += 2.5  # past the pause and two round trips
    assert pace.observe(429, NOTHING, unseen=0, waiting=0)


def test_a_pause_earns_no_growth() -> None:
    rates = []
    for pause in (0.0, 10.0):
        pace, bucket, _, clock = make_pace()
        pace.observe(200, reply(100, 50, 0.5), unseen=0, waiting=0)
        pace.observe(429, NOTHING, unseen=0, waiting=0)
        clock.now += 1
        pace.observe(429, NOTHING, unseen=0, waiting=0)
        pace.paused(clock.now + pause)
        clock.now += 10.5
        pace.observe(200, reply(100, 1, 0.99), unseen=0, waiting=5)
        rates.append(bucket.rate or 0.0)
    assert rates[0] == pytest.approx(95)  # 10.5 s of growth at 50%/s: back to the estimate
    assert rates[1] == pytest.approx(95 * 0.7 * 1.5**0.5)  # 0.5 s after the pause ended


def test_growth_needs_waiting_callers_and_stops_at_the_estimate() -> None:
    pace, bucket, _, clock = make_pace()
    pace.observe(200, reply(100, 50, 0.5), unseen=0, waiting=0)
    pace.observe(429, NOTHING, unseen=0, waiting=0)
    clock.now += 1
    pace.observe(429, NOTHING, unseen=0, waiting=0)
    cut = bucket.rate
    clock.now += 1
    pace.observe(200, reply(100, 1, 0.99), unseen=0, waiting=0)
    assert bucket.rate == cut  # nobody waits: no reason to grow
    rates = []
    for _ in range(30):
        clock.now += 0.1
        pace.observe(200, reply(100, 1, 0.99), unseen=0, waiting=10)
        rates.append(bucket.rate or 0.0)
    assert rates == sorted(rates)
    assert rates[0] == pytest.approx((cut or 0) * 1.5**0.1)
    assert rates[-1] == pytest.approx(95)  # the estimate is the ceiling


def test_without_headers_the_cut_starts_from_the_send_rate_and_probes() -> None:
    pace, bucket, meter, clock = make_pace(latency=0.005)
    for _ in range(100):  # 100 per second, 5 ms each
        clock.now += 0.01
        meter.start(clock.now)
        meter.finish(clock.now + 0.005)
    assert pace.observe(429, NOTHING, unseen=0, waiting=0)
    cut = bucket.rate or 0.0
    assert cut == pytest.approx(meter.send_rate(clock.now) * 0.7)
    clock.now += 0.05
    pace.observe(200, NOTHING, unseen=0, waiting=3)
    assert (bucket.rate or 0.0) > 4 * cut  # doubles per round trip (5 ms) while probing


def test_a_lone_caller_doubles_per_success() -> None:
    pace, bucket, meter, clock = make_pace()
    meter.start(clock.now)  # the one request in flight
    pace.observe(429, NOTHING, unseen=0, waiting=0)  # probing from the send rate
    clock.now += 1
    pace.observe(429, NOTHING, unseen=0, waiting=0)  # a cut from a pace: no longer probing
    low = bucket.rate or 0.0
    for expected in (2 * low, 4 * low):
        clock.now += 0.1
        pace.granted(waited=True)  # the pace held it back
        pace.observe(200, NOTHING, unseen=0, waiting=0)
        assert bucket.rate == pytest.approx(expected)


def test_without_headers_pacing_ends_after_a_quiet_spell() -> None:
    pace, bucket, _, clock = make_pace(RateLimits(quiet_seconds=1.0))
    pace.observe(429, NOTHING, unseen=0, waiting=0)
    assert bucket.rate is not None
    for _ in range(16):
        pace.granted(waited=False)
    clock.now += 0.5
    pace.observe(200, NOTHING, unseen=0, waiting=0)
    assert bucket.rate is not None  # not quiet for long enough
    clock.now += 0.6
    pace.observe(200, NOTHING, unseen=0, waiting=0)
    assert bucket.rate is None


def test_the_pace_never_exceeds_a_fixed_rate() -> None:
    pace, bucket, _, _ = make_pace(RateLimits(requests_per_second=10))
    assert bucket.rate == 10
    pace.observe(200, reply(1000, 500, 1.0), unseen=0, waiting=0)
    assert bucket.rate == 10
    assert bucket.capacity == 1.0  # a fixed rate keeps its own burst
    pace.observe(200, reply(10, 5, 1.0), unseen=0, waiting=0)  # the server allows 5/s
    assert bucket.rate == pytest.approx(4.75)


def test_the_pace_never_goes_below_min_rate() -> None:
    pace, bucket, _, clock = make_pace(RateLimits(min_rate=2.0, decrease_factor=0.1))
    pace.observe(200, reply(10, 5, 1.0), unseen=0, waiting=0)
    pace.observe(429, NOTHING, unseen=0, waiting=0)
    for _ in range(5):
        clock.now += 10
        pace.observe(429, NOTHING, unseen=0, waiting=0)
    assert bucket.rate == 2.0
