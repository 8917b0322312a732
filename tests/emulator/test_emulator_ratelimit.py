"""The emulator's request-rate token bucket and its OpenAI-style headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from openai_messages.emulator import Emulator, RateLimit, format_duration

KEY = "sk-emu-rl"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.12, "120ms"),
        (0.0004, "1ms"),
        (0.9996, "1s"),
        (1, "1s"),
        (1.5, "1.5s"),
        (59.25, "59.25s"),
        (360, "6m0s"),
        (361.5, "6m1.5s"),
        (3723, "1h2m3s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_bucket_arithmetic() -> None:
    clock = FakeClock()
    bucket = RateLimit(rate=2, burst=3, clock=clock)
    decisions = [bucket.acquire() for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[0].reset_seconds == pytest.approx(0.5)
    assert decisions[2].reset_seconds == pytest.approx(1.5)
    assert decisions[3].retry_after == pytest.approx(0.5)
    headers = decisions[3].headers()
    assert headers == {
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1.5s",
        "Retry-After": "1",
        "retry-after-ms": "500",
    }
    clock.now += 0.5  # one token back
    assert bucket.acquire().allowed
    assert not bucket.acquire().allowed
    clock.now += 100  # refills up to the burst, not beyond
    assert bucket.peek().remaining == 3
    assert [bucket.acquire().allowed for _ in range(4)] == [True, True, True, False]


def test_bucket_validation() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimit(rate=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(rate=1, burst=0)


@pytest.fixture
async def server() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, rate_limit=RateLimit(rate=2, burst=3)) as emu:
        emu.store.add_messages("thread_t", 2)
        yield emu


async def test_limit_over_http(server: Emulator) -> None:
    url = f"{server.url}/threads/thread_t/messages"
    seen = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http:
        for _ in range(4):
            async with http.get(url) as resp:
                await resp.read()
                seen.append((resp.status, dict(resp.headers)))
    assert [s for s, _ in seen] == [200, 200, 200, 429]
    assert [h["x-ratelimit-remaining-requests"] for _, h in seen] == ["2", "1", "0", "0"]
    assert all(h["x-ratelimit-limit-requests"] == "3" for _, h in seen)
    assert all(h["x-ratelimit-reset-requests"].endswith("s") for _, h in seen)
    limited = seen[3][1]
    assert limited["Retry-After"] == "1"
    assert 400 <= int(limited["retry-after-ms"]) <= 500
    assert "Retry-After" not in seen[0][1]
    assert server.log.statuses() == [200, 200, 200, 429]


async def test_limit_is_settable_at_runtime(server: Emulator) -> None:
    url = f"{server.url}/threads/thread_t/messages"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http:
        server.rate_limit = None
        for _ in range(5):
            async with http.get(url) as resp:
                assert resp.status == 200
                assert "x-ratelimit-limit-requests" not in resp.headers
        server.rate_limit = RateLimit(rate=1000, burst=50)
        async with http.get(url) as resp:
            assert resp.headers["x-ratelimit-limit-requests"] == "50"
            assert resp.headers["x-ratelimit-remaining-requests"] == "49"
            assert resp.headers["x-ratelimit-reset-requests"] == "1ms"


async def test_unauthenticated_requests_carry_headers_but_cost_nothing(server: Emulator) -> None:
    url = f"{server.url}/threads/thread_t/messages"
    async with aiohttp.ClientSession() as anon:
        for _ in range(5):
            async with anon.get(url) as resp:
                assert resp.status == 401
                assert resp.headers["x-ratelimit-remaining-requests"] == "3"
