"""The scenarios: each runs every client, run after run, and records figures and ratios.

Clients are interleaved within a run (client A, B, C, then A, B, C again...), so that
a ratio is taken between figures measured side by side, and drifts of the machine
touch every client alike.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import parsing
from .clients import ClientSpec, Walker, make_walker
from .config import Mode
from .emulator_proc import ROOT, RunningEmulator
from .importtime import import_ms
from .results import Figure, Results, Target

__all__ = [
    "Context",
    "SERVE_MESSAGES",
    "bulk",
    "emulator_memory",
    "full_walk",
    "import_time",
    "latency_hiding",
    "memory",
    "parse",
    "rate_limited",
]

OM = ClientSpec("om")
FLOOR = ClientSpec("floor")
HTTPX = ClientSpec("openai", "httpx", page_size=None)
AIOHTTP = ClientSpec("openai", "aiohttp", page_size=None)
HTTPX_100 = HTTPX.with_(page_size=100)
AIOHTTP_100 = AIOHTTP.with_(page_size=100)


@dataclass
class Context:
    """What every scenario needs: the mode, whether ``openai`` is there, and a logger."""

    mode: Mode
    official: bool
    log: Callable[[str], None]

    def officials(
        self, scenario: str, *specs: ClientSpec, extra: tuple[ClientSpec, ...] = ()
    ) -> list[ClientSpec]:
        """The official package's variants this mode runs in ``scenario``."""
        if not self.official:
            return []
        chosen = [*specs, *(extra if self.mode.extra_rows else ())]
        if scenario not in self.mode.aiohttp_in:
            chosen = [s for s in chosen if s.transport != "aiohttp"]
        return chosen


# -- parsing ---------------------------------------------------------------------------


def parse(ctx: Context, emu: RunningEmulator, results: Results) -> None:
    """Microseconds per message, bytes of a 100-message page to models."""

    def fetch() -> bytes:
        return asyncio.run(parsing.fetch_page(emu.base_url, emu.api_key, emu.thread_ids[0]))

    setup = parsing.payload(ctx.official, ctx.mode.parse_seconds, fetch)
    note = f"100-msg page from {setup.source}, {len(setup.body):,} bytes"
    figures = {
        label: results.figure("parsing", "parse time", "us/msg", label, note=note)
        for label in setup.parsers
    }
    for run in range(ctx.mode.runs):
        for label, parse_page in setup.parsers.items():
            figures[label].values.append(setup.time(parse_page))
        ctx.log(f"parsing run {run + 1}/{ctx.mode.runs}")
    om = figures["openai_messages"]
    if "openai" in figures:
        results.ratio(
            "parsing",
            "openai / openai_messages",
            figures["openai"],
            om,
            Target(">=", 7, "parsing >= 7x faster than openai"),
        )
    if "openai (strict validation)" in figures:
        results.ratio(
            "parsing",
            "openai (strict validation) / openai_messages",
            figures["openai (strict validation)"],
            om,
        )
    results.ratio(
        "parsing",
        "openai_messages / orjson.loads",
        om,
        figures["orjson.loads (floor)"],
        Target("<=", 3.5, "parsing within 3.5x of orjson.loads"),
    )


# -- one long walk ---------------------------------------------------------------------


async def _open(specs: list[ClientSpec], emu: RunningEmulator) -> dict[ClientSpec, Walker]:
    walkers = {spec: make_walker(spec, emu.base_url, emu.api_key) for spec in specs}
    for walker in walkers.values():
        await walker.warm_up(emu.thread_ids[0])
    return walkers


async def _close(walkers: dict[ClientSpec, Walker]) -> None:
    for walker in walkers.values():
        await walker.aclose()


def full_walk(ctx: Context, emu: RunningEmulator, results: Results) -> None:
    """Client CPU per message, messages per second and requests, over one long thread."""
    # The floor runs right after openai_messages in every run: the CPU ratio is paired
    # run by run, and neighbours in time share the machine's mood.
    om_seq = OM.with_(prefetch=0)
    om_token = OM.with_(token_provider=True)
    officials = ctx.officials("walk", HTTPX_100, HTTPX, extra=(AIOHTTP_100, AIOHTTP))
    specs = [OM, FLOOR, om_seq, om_token, *officials]
    thread = emu.thread_ids[0]
    size = f"{ctx.mode.walk_messages:,}-msg thread"
    cpu = {
        s: results.figure("full walk", "client CPU", "us/msg", s.label, note=size) for s in specs
    }
    rate = {s: results.figure("full walk", "throughput", "msg/s", s.label) for s in specs}
    reqs = {s: results.figure("full walk", "requests", "requests", s.label) for s in specs}

    async def main() -> None:
        walkers = await _open(specs, emu)
        try:
            for run in range(ctx.mode.runs):
                for spec, walker in walkers.items():
                    gc.collect()
                    before = walker.requests
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                    messages = await walker.walk(thread)
                    cpu1, wall1 = time.process_time(), time.perf_counter()
                    cpu[spec].values.append((cpu1 - cpu0) / messages * 1e6)
                    rate[spec].values.append(messages / (wall1 - wall0))
                    reqs[spec].values.append(walker.requests - before)
                ctx.log(f"full walk run {run + 1}/{ctx.mode.runs}")
        finally:
            await _close(walkers)

    asyncio.run(main())
    if ctx.official:
        # The headline compares at the same page size (limit 100); the official
        # package's default page size of 20 is a second row.
        results.ratio(
            "full walk",
            f"{HTTPX_100.label} / openai_messages",
            cpu[HTTPX_100],
            cpu[OM],
            Target(">=", 8, "client CPU/msg >= 8x less than openai at the same page size"),
        )
        for spec in (HTTPX, AIOHTTP_100, AIOHTTP):
            if spec in cpu:
                results.ratio("full walk", f"{spec.label} / openai_messages", cpu[spec], cpu[OM])
    results.ratio(
        "full walk",
        "openai_messages / floor",
        cpu[OM],
        cpu[FLOOR],
        Target("<=", 2, "client CPU/msg within 2x of the aiohttp+orjson floor"),
    )
    # The floor waits for each page before asking for the next, like prefetch=0.
    results.ratio("full walk", f"{om_seq.label} / floor", cpu[om_seq], cpu[FLOOR])
    # An async token provider is asked before every request (once per 100 messages).
    results.ratio("full walk", f"{om_token.label} / openai_messages", cpu[om_token], cpu[OM])


# -- latency hiding --------------------------------------------------------------------


def latency_hiding(ctx: Context, emu: RunningEmulator, results: Results) -> None:
    """Wall time with server latency and a caller busy for as long on every page."""
    om_off = OM.with_(prefetch=0)
    specs = [OM, om_off, *ctx.officials("latency", HTTPX_100, AIOHTTP_100), FLOOR]
    thread = emu.thread_ids[0]
    delay = ctx.mode.latency_seconds
    note = f"{ctx.mode.latency_messages:,} msgs, {delay * 1000:.0f} ms server + caller per page"
    wall = {
        s: results.figure("latency hiding", "wall time", "s", s.label, note=note) for s in specs
    }

    async def work() -> None:
        await asyncio.sleep(delay)

    async def main() -> None:
        walkers = await _open(specs, emu)
        try:
            for run in range(ctx.mode.runs):
                for spec, walker in walkers.items():
                    start = time.perf_counter()
                    await walker.walk(thread, per_page=work)
                    wall[spec].values.append(time.perf_counter() - start)
                ctx.log(f"latency run {run + 1}/{ctx.mode.runs}")
        finally:
            await _close(walkers)

    asyncio.run(main())
    results.ratio(
        "latency hiding",
        "prefetch=1 / prefetch=0",
        wall[OM],
        wall[om_off],
        Target("<=", 0.6, "wall with prefetch <= 0.6x without"),
    )
    for spec in specs[2:]:
        results.ratio("latency hiding", f"{spec.label} / openai_messages", wall[spec], wall[OM])


# -- many threads ----------------------------------------------------------------------


def bulk(ctx: Context, emu: RunningEmulator, results: Results) -> None:
    """Messages per second fetching many threads, ``bulk_concurrency`` at a time."""
    mode = ctx.mode
    specs = [OM, *ctx.officials("bulk", HTTPX, AIOHTTP), FLOOR]
    note = (
        f"{mode.bulk_threads} threads x {mode.bulk_messages} msgs, "
        f"concurrency {mode.bulk_concurrency}"
    )
    rate = {s: results.figure("bulk", "throughput", "msg/s", s.label, note=note) for s in specs}
    cpu = {s: results.figure("bulk", "client CPU", "us/msg", s.label) for s in specs}
    reqs = {s: results.figure("bulk", "requests", "requests", s.label) for s in specs}
    threads = emu.thread_ids[: mode.bulk_threads]
    expected = mode.bulk_threads * mode.bulk_messages

    async def main() -> None:
        walkers = await _open(specs, emu)
        try:
            for run in range(mode.bulk_runs):
                for spec, walker in walkers.items():
                    gc.collect()
                    before = walker.requests
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                    messages, failed = await walker.walk_many(threads, mode.bulk_concurrency)
                    cpu1, wall1 = time.process_time(), time.perf_counter()
                    if failed or messages != expected:
                        raise RuntimeError(
                            f"{spec.label}: {failed} threads failed, {messages} of {expected} msgs"
                        )
                    rate[spec].values.append(messages / (wall1 - wall0))
                    cpu[spec].values.append((cpu1 - cpu0) / messages * 1e6)
                    reqs[spec].values.append(walker.requests - before)
                ctx.log(f"bulk run {run + 1}/{mode.bulk_runs}")
        finally:
            await _close(walkers)

    asyncio.run(main())
    if ctx.official:
        results.ratio(
            "bulk",
            "openai_messages / openai (httpx)",
            rate[OM],
            rate[HTTPX],
            Target(">=", 5, "bulk msg/s >= 5x openai (default transport)"),
        )
        if AIOHTTP in rate:
            for spec in (AIOHTTP,):
                results.ratio("bulk", f"openai_messages / {spec.label}", rate[OM], rate[spec])
    results.ratio("bulk", "floor / openai_messages", rate[FLOOR], rate[OM])


# -- many threads under a rate limit ---------------------------------------------------


def rate_limited(ctx: Context, emu: RunningEmulator, results: Results) -> None:
    """Bulk fetch against a server limited to R requests/s: time against ideal, 429 share."""
    mode = ctx.mode
    retrying = 10
    officials = [
        s.with_(max_retries=retrying) for s in ctx.officials("limited", HTTPX_100, AIOHTTP_100)
    ]
    specs = [OM, *officials, FLOOR]
    r = mode.limited_rate
    note = (
        f"{mode.limited_threads} threads x {mode.limited_messages} msgs at {r:.0f} req/s "
        f"(burst {mode.limited_burst}), concurrency {mode.bulk_concurrency}"
    )
    labels = {s: s.label + (f" retries={retrying}" if s.kind == "openai" else "") for s in specs}
    wall = {
        s: results.figure("rate-limited", "wall time", "s", labels[s], note=note) for s in specs
    }
    over = {
        s: results.figure(
            "rate-limited",
            "wall / ideal",
            "x",
            labels[s],
            target=Target("<=", 1.25, "wall <= 1.25x ideal") if s == OM else None,
            note="ideal: answered requests / R",
        )
        for s in specs
    }
    share = {
        s: results.figure(
            "rate-limited",
            "answered 429",
            "%",
            labels[s],
            target=Target("<=", 5, "<= 5% of requests answered 429") if s == OM else None,
        )
        for s in specs
    }
    failed = {s: results.figure("rate-limited", "failed threads", "", labels[s]) for s in specs}
    threads = emu.thread_ids[: mode.limited_threads]

    async def one(spec: ClientSpec) -> None:
        # A fresh client per run: a bulk job starts knowing nothing of the server's limit.
        walker = make_walker(spec, emu.base_url, emu.api_key)
        try:
            start = time.perf_counter()
            _, lost = await walker.walk_many(threads, mode.bulk_concurrency)
            elapsed = time.perf_counter() - start
        finally:
            await walker.aclose()
        answered = walker.requests - walker.throttled
        wall[spec].values.append(elapsed)
        over[spec].values.append(elapsed / (answered / r))
        share[spec].values.append(100.0 * walker.throttled / max(1, walker.requests))
        failed[spec].values.append(lost)
        # let the server's bucket fill up again before the next client
        await asyncio.sleep(mode.limited_burst / r + 0.2)

    async def main() -> None:
        for run in range(mode.limited_runs):
            for spec in specs:
                await one(spec)
            ctx.log(f"rate-limited run {run + 1}/{mode.limited_runs}")

    asyncio.run(main())
    for spec in officials:
        results.ratio("rate-limited", f"{labels[spec]} / openai_messages", wall[spec], wall[OM])


# -- memory ----------------------------------------------------------------------------


def _memory_run(spec: ClientSpec, emu: RunningEmulator, limit: int | None) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    argv = [
        sys.executable,
        "-m",
        "benchmarks.memory_child",
        "--kind",
        spec.kind,
        "--transport",
        spec.transport,
        "--page-size",
        str(spec.page_size or 0),
        "--base-url",
        emu.base_url,
        "--api-key",
        emu.api_key,
        "--thread",
        emu.thread_ids[0],
        "--max-messages",
        str(limit or 0),
    ]
    proc = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{spec.label}: memory run failed:\n{proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def memory(ctx: Context, emu: RunningEmulator, results: Results) -> None:
    """Peak RSS growth walking one very long thread, each client in a fresh process."""
    specs = [OM, *ctx.officials("memory", HTTPX, AIOHTTP), FLOOR]
    mode = ctx.mode
    limits = {s: mode.memory_official_messages if s.kind == "openai" else None for s in specs}
    growth: dict[ClientSpec, Figure] = {}
    for spec in specs:
        target = Target("<", 30, "peak RSS growth < 30 MB") if spec == OM else None
        walked = limits[spec] or mode.memory_messages
        label = spec.label + (f" first {walked:,} msgs" if limits[spec] else "")
        note = f"{walked:,} msgs of a {mode.memory_messages:,}-msg thread, fresh process per run"
        growth[spec] = results.figure(
            "memory", "peak RSS growth", "MB", label, target=target, note=note
        )
    for run in range(mode.memory_runs):
        for spec in specs:
            outcome = _memory_run(spec, emu, limits[spec])
            if outcome["messages"] != (limits[spec] or mode.memory_messages):
                raise RuntimeError(f"{spec.label} walked {outcome['messages']} messages")
            growth[spec].values.append(outcome["growth_mb"])
        ctx.log(f"memory run {run + 1}/{ctx.mode.memory_runs}")
    for spec in specs[1:]:
        label = f"{growth[spec].client} / openai_messages"
        results.ratio("memory", label, growth[spec], growth[OM])


# -- the emulator's memory while it serves ---------------------------------------------

SERVE_MESSAGES = 5
"""Messages per thread of the emulator-memory run (the shape of issue 21's report)."""


def _process_rss_mb(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 2**20


def emulator_memory(ctx: Context, emu: RunningEmulator, results: Results) -> None:
    """The emulator process's RSS seeded, after one fetch_many over every thread, and
    after a second: it should follow what the emulator stores, not what it served."""
    threads = emu.thread_ids[: ctx.mode.serve_threads]
    note = f"{len(threads):,} threads x {SERVE_MESSAGES} msgs, emulator process RSS"
    label = "emulator"
    seeded = results.figure("emulator memory", "RSS seeded", "MB", label, note=note)
    after = results.figure("emulator memory", "RSS after one pass", "MB", label)
    again = results.figure("emulator memory", "RSS after a second pass", "MB", label)
    per_thread = results.figure(
        "emulator memory",
        "growth per thread read",
        "KB/thread",
        label,
        target=Target("<", 4, "emulator grows < 4 KB per thread served"),
    )
    pid = emu.process.pid

    async def main() -> None:
        walker = make_walker(OM, emu.base_url, emu.api_key)
        try:
            before = _process_rss_mb(pid)
            readings = []
            for _ in range(2):
                messages, failed = await walker.walk_many(threads, 32)
                if failed or messages != len(threads) * SERVE_MESSAGES:
                    raise RuntimeError(f"{failed} threads failed, {messages} msgs read")
                readings.append(_process_rss_mb(pid))
        finally:
            await walker.aclose()
        seeded.values.append(before)
        after.values.append(readings[0])
        again.values.append(readings[1])
        per_thread.values.append((readings[0] - before) * 1024 / len(threads))

    asyncio.run(main())
    ctx.log("emulator memory: one run")


# -- import time -----------------------------------------------------------------------


def import_time(ctx: Context, results: Results) -> None:
    """Milliseconds to import each package in a fresh interpreter (``-X importtime``)."""
    modules = {"openai_messages": ["openai_messages"]}
    if ctx.official:
        modules["openai"] = ["openai"]
    modules["aiohttp+orjson floor"] = ["aiohttp", "orjson"]
    figures = {
        label: results.figure(
            "import", "import time", "ms", label, note="python -X importtime, cumulative"
        )
        for label in modules
    }
    for names in modules.values():
        import_ms(names)  # unmeasured: warms the disk cache and writes .pyc files
    for _ in range(ctx.mode.import_runs):
        for label, names in modules.items():
            figures[label].values.append(import_ms(names))
    if ctx.official:
        results.ratio(
            "import", "openai / openai_messages", figures["openai"], figures["openai_messages"]
        )
    results.ratio(
        "import",
        "openai_messages / aiohttp+orjson",
        figures["openai_messages"],
        figures["aiohttp+orjson floor"],
        Target("<=", 1.25, "import within 1.25x of aiohttp+orjson"),
    )
