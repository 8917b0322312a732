"""Simulate a bulk job through the adaptive RateLimiter against a token-bucket server.

No HTTP: a fake server holds a token bucket (``rate`` per second, ``burst`` deep),
answers 429 with ``retry-after-ms`` beyond it and sends the ``x-ratelimit-*``
headers on every reply, after a few ms of simulated latency. Concurrent workers
each make sequential requests through one limiter, retrying 429s (a 429's wait
pauses the limiter, so everybody honours it, as the client's transport does). By
default time is virtual (the event loop jumps to its next timer, so a 64 s run takes
a second); ``--real`` uses the wall clock.

    python -m benchmarks.sim_ratelimit                # R = 50, 200, 1000 per second
    python -m benchmarks.sim_ratelimit --real --rates 200 1000
    python -m benchmarks.sim_ratelimit --no-headers   # 429s and retry-after-ms only
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import selectors
import time
from collections.abc import Callable

from openai_messages.ratelimit import RateLimiter, RateLimits, parse_retry_after

Reply = tuple[int, dict[str, str]]


class _JumpingSelector(selectors.SelectSelector):
    """Never blocks: a wait for ``timeout`` seconds moves the virtual clock instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("deadlock: nothing scheduled in the simulation")
        self.now += max(0.0, timeout)
        return super().select(0)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock only advances when every task is waiting."""

    def __init__(self) -> None:
        self._jumper = _JumpingSelector()
        super().__init__(self._jumper)

    def time(self) -> float:
        return self._jumper.now


def format_duration(seconds: float) -> str:
    """OpenAI style: "950ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    rest_text = f"{rest:.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}m{rest_text}s" if minutes else f"{rest_text}s"


class FakeServer:
    """A token bucket of ``rate`` per second and ``burst`` capacity, with latency."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float],
        rng: random.Random,
        latency: float = 0.004,
    ) -> None:
        self.rate, self.burst, self.clock, self.rng = rate, burst, clock, rng
        self.one_way = latency / 2  # mean; each leg is uniform in [0.5, 1.5] x this
        self.tokens = float(burst)
        self.stamp = clock()
        self.served = self.throttled = 0

    def _handle(self, headers: bool) -> Reply:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        reply: dict[str, str] = {}
        if self.tokens >= 1:
            self.tokens -= 1
            self.served += 1
            status = 200
        else:
            self.throttled += 1
            status = 429
            reply["retry-after-ms"] = f"{(1 - self.tokens) / self.rate * 1000:.3f}"
        if headers:
            reply["x-ratelimit-limit-requests"] = str(self.burst)
            reply["x-ratelimit-remaining-requests"] = str(math.floor(self.tokens))
            reply["x-ratelimit-reset-requests"] = format_duration(
                (self.burst - self.tokens) / self.rate
            )
        return status, reply

    async def call(self, headers: bool = True) -> Reply:
        await asyncio.sleep(self.one_way * self.rng.uniform(0.5, 1.5))  # request travels
        reply = self._handle(headers)
        await asyncio.sleep(self.one_way * self.rng.uniform(0.5, 1.5))  # response travels
        return reply


async def run_job(
    rate: float,
    *,
    workers: int,
    per_worker: int,
    burst: int,
    latency: float,
    headers: bool,
    seed: int,
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    server = FakeServer(rate, burst, loop.time, random.Random(seed), latency)
    limiter = RateLimiter(RateLimits(), clock=loop.time)

    async def worker() -> None:
        for _ in range(per_worker):
            while True:
                async with limiter.slot() as ticket:
                    status, reply = await server.call(headers)
                    ticket.observe(status, reply)
                if status != 429:
                    break
                wait = parse_retry_after(reply)
                if wait is not None:  # everybody honours it, as the client does
                    limiter.pause(wait)

    start = loop.time()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = loop.time() - start
    total = server.served + server.throttled
    return {
        "elapsed": elapsed,
        "ideal": server.served / rate,
        "share_429": server.throttled / total,
        "estimate": limiter.estimated_server_rate or math.nan,
        "final_rate": limiter.current_rate or math.nan,
        "decreases": limiter.stats.rate_decreases,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 200.0, 1000.0])
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--per-worker", type=int, default=100)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=4.0, help="mean round trip")
    parser.add_argument("--seeds", type=int, default=3, help="runs per rate")
    parser.add_argument("--real", action="store_true", help="wall clock instead of virtual time")
    parser.add_argument("--no-headers", action="store_true", help="429s only, no x-ratelimit-*")
    args = parser.parse_args()
    print(f"{'R/s':>7} {'seed':>4} {'time s':>8} {'ideal s':>8} {'ratio':>6} {'429 %':>6}"
          f" {'est R':>8} {'pace':>8} {'cuts':>5}")  # fmt: skip
    ok = True
    for rate in args.rates:
        for seed in range(args.seeds):
            job = run_job(
                rate,
                workers=args.workers,
                per_worker=args.per_worker,
                burst=args.burst,
                latency=args.latency_ms / 1000,
                headers=not args.no_headers,
                seed=seed,
            )
            loop = asyncio.new_event_loop() if args.real else VirtualTimeLoop()
            try:
                wall = time.perf_counter()
                r = loop.run_until_complete(job)
                wall = time.perf_counter() - wall
            finally:
                loop.close()
            ratio = r["elapsed"] / r["ideal"]
            ok = ok and ratio <= 1.25 and r["share_429"] <= 0.05
            print(
                f"{rate:7.0f} {seed:4d} {r['elapsed']:8.2f} {r['ideal']:8.2f} {ratio:6.3f}"
                f" {r['share_429'] * 100:6.2f} {r['estimate']:8.1f} {r['final_rate']:8.1f}"
                f" {r['decreases']:5.0f}   (ran in {wall:.1f} s)"
            )
    print("target met (<= 1.25x ideal, <= 5% 429s)" if ok else "TARGET MISSED")


if __name__ == "__main__":
    main()
