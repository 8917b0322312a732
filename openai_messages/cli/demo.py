"""The ``demo`` command: export many threads from the embedded emulator (with faults and
a rate limit), then check the export against the emulator's store and print a summary."""

from __future__ import annotations

import contextlib
import gc
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import attrs
import orjson
from rich.console import Console
from rich.table import Table

from .._core.retry import RetryBudget, RetryPolicy
from ..client import Client
from ..emulator import Emulator, Fault, Faults, RateLimit
from .export import STATE_SUFFIX, ExportStats, ResumableFile, ThreadFailure, export_threads
from .progress import make_display, showing

__all__ = [
    "DEMO_API_KEY",
    "DemoResult",
    "Verdict",
    "demo_client_options",
    "demo_faults",
    "fresh_output",
    "read_grouped",
    "remove_output",
    "run_local_demo",
    "run_remote_demo",
    "summary_table",
    "verify_export",
]

DEMO_API_KEY: Final = "sk-demo-local-emulator"
DEMO_SEED: Final = 20240601
DEMO_RATE: Final = 400.0
"""The emulator's request-rate limit (requests per second) in the demo."""
DEMO_BURST: Final = 16
JSON = dict[str, Any]


def demo_faults() -> Faults:
    """A sprinkle of faults on list requests, drawn from a fixed seed: about 1% each of
    500 and 503, 0.5% of 429 (asking for 200 ms), 0.5% of connections dropped before the
    reply, 0.5% dropped mid-body and 0.3% of truncated bodies. More 429s come from the
    emulator's rate limit itself."""
    faults = Faults(seed=DEMO_SEED)
    for fault, probability in (
        (Fault.error(500), 0.01),
        (Fault.error(503), 0.01),
        (Fault.rate_limited(None, retry_after_ms=200), 0.005),
        (Fault.drop(), 0.005),
        (Fault.drop_mid_body(0.5), 0.005),
        (Fault.truncate(0.5), 0.003),
    ):
        faults.add(fault, route="list", probability=probability)
    return faults


def demo_client_options(api_key: str, base_url: str) -> dict[str, Any]:
    """A patient client: enough quick retries, and a budget, for a sprinkle of faults."""
    return {
        "api_key": api_key,
        "base_url": base_url,
        "retry_policy": RetryPolicy(max_retries=8, backoff_base=0.05, backoff_max=1.0),
        "retry_budget": RetryBudget(ratio=0.5, min_per_second=20.0),
    }


@attrs.frozen
class Verdict:
    """The outcome of comparing an export with the store."""

    threads: int
    messages: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@attrs.define
class DemoResult:
    """What the demo measured."""

    stats: ExportStats
    counters: dict[str, int]
    failures: list[ThreadFailure]
    output: str
    verdict: Verdict | None = None
    faults_injected: int = 0
    seeded_in: float | None = None
    checked_in: float | None = None


def fresh_output(path: str | None) -> str:
    """The demo's output path: a new temporary file, or ``path`` if it is empty or absent.

    Raises :class:`FileExistsError` rather than overwrite a file that holds data.
    """
    if path is None:
        handle, path = tempfile.mkstemp(prefix="openai-messages-demo-", suffix=".jsonl")
        os.close(handle)
    elif os.path.exists(path) and os.path.getsize(path) > 0:
        raise FileExistsError(f"{path} already holds data; the demo writes a fresh file")
    with contextlib.suppress(FileNotFoundError):
        os.remove(path + STATE_SUFFIX)
    return path


_THREAD_ID: Final = re.compile(rb'"thread_id":"([^"\\]*)"')


def _thread_of(line: bytes) -> str:
    """A line's ``thread_id``: found directly in the bytes, else by parsing the line."""
    found = _THREAD_ID.search(line)
    if found is not None:
        return found.group(1).decode()
    item = orjson.loads(line)
    return str(item.get("thread_id")) if isinstance(item, dict) else ""


def remove_output(path: str) -> None:
    """Remove an export and its state file."""
    for name in (path, path + STATE_SUFFIX):
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)


def read_grouped(path: str) -> dict[str, list[bytes]]:
    """The lines of an export (without their newline), grouped by ``thread_id``, in file
    order."""
    grouped: dict[str, list[bytes]] = {}
    with open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for line in lines:
        grouped.setdefault(_thread_of(line), []).append(line)
    return grouped


def _compare(thread_id: str, lines: Sequence[bytes], expected: Sequence[JSON]) -> Iterator[str]:
    """Problems of one thread's lines against the store's messages (oldest first)."""
    got = orjson.loads(b"[" + b",".join(lines) + b"]")
    if got == expected:
        return
    got_ids = [m.get("id") for m in got]
    want_ids = [m["id"] for m in expected]
    if len(set(got_ids)) != len(got_ids):
        yield f"{thread_id}: {len(got_ids) - len(set(got_ids))} duplicate messages"
    if got_ids != want_ids:
        missing = len(set(want_ids) - set(got_ids))
        yield f"{thread_id}: ids differ from the store ({missing} missing, {len(got)} exported)"
    else:
        yield f"{thread_id}: some messages differ from the store's JSON"


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """No cyclic garbage collection while building many short-lived JSON objects."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep what exists now (the seeded store) out of the collector's scans."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def verify_export(
    path: str, thread_ids: Sequence[str], expected: Callable[[str], Sequence[JSON]]
) -> Verdict:
    """Every message of every thread exactly once, in order, with the store's exact JSON."""
    with _no_gc():
        return _verify(path, thread_ids, expected)


def _verify(
    path: str, thread_ids: Sequence[str], expected: Callable[[str], Sequence[JSON]]
) -> Verdict:
    grouped = read_grouped(path)
    problems: list[str] = []
    messages = 0
    for thread_id in thread_ids:
        lines = grouped.pop(thread_id, [])
        messages += len(lines)
        problems.extend(_compare(thread_id, lines, expected(thread_id)))
    problems.extend(
        f"{tid}: {len(lines)} lines of an unexpected thread" for tid, lines in grouped.items()
    )
    return Verdict(len(thread_ids), messages, tuple(problems))


async def export_for_demo(
    client: Client,
    thread_ids: Sequence[str],
    output: str,
    *,
    concurrency: int,
    console: Console,
    progress: str,
) -> DemoResult:
    """Export the threads into ``output`` with the progress display, measuring it."""
    stats = ExportStats()
    sink = ResumableFile.open(output, "asc")
    try:
        async with showing(make_display(progress, stats, lambda: client.stats, console, 2.0)):
            failures = await export_threads(
                client, thread_ids, sink, stats, order="asc", concurrency=concurrency
            )
    finally:
        stats.finished = time.monotonic()
        sink.close()
    return DemoResult(stats, dict(client.stats), failures, output)


async def run_local_demo(
    threads: int,
    messages: int,
    *,
    concurrency: int,
    output: str,
    console: Console,
    progress: str,
) -> DemoResult:
    """Seed the embedded emulator, export it through faults and a rate limit, check it."""
    limit = RateLimit(rate=DEMO_RATE, burst=DEMO_BURST)
    emulator = Emulator(DEMO_API_KEY, faults=demo_faults(), rate_limit=limit, seed=DEMO_SEED)
    async with emulator as emu:
        started = time.monotonic()
        thread_ids = emu.store.seed(threads, messages)
        seeded_in = time.monotonic() - started
        console.print(
            f"emulator at {emu.url}: seeded {threads:,} threads x {messages:,} messages "
            f"in {seeded_in:.1f} s; exporting to {output}"
        )
        with _frozen_heap():
            async with Client(**demo_client_options(DEMO_API_KEY, emu.url)) as client:
                result = await export_for_demo(
                    client,
                    thread_ids,
                    output,
                    concurrency=concurrency,
                    console=console,
                    progress=progress,
                )
            started = time.monotonic()
            result.verdict = verify_export(output, thread_ids, emu.store.messages)
            result.checked_in = time.monotonic() - started
        result.seeded_in = seeded_in
        result.faults_injected = sum(rule.fired for rule in emu.faults.rules)
    return result


async def run_remote_demo(
    base_url: str,
    api_key: str,
    thread_ids: Sequence[str],
    *,
    concurrency: int,
    output: str,
    console: Console,
    progress: str,
) -> DemoResult:
    """Export the given threads from a real server (nothing to check them against)."""
    console.print(f"exporting {len(thread_ids):,} threads from {base_url} to {output}")
    async with Client(**demo_client_options(api_key, base_url)) as client:
        return await export_for_demo(
            client, thread_ids, output, concurrency=concurrency, console=console, progress=progress
        )


def summary_table(result: DemoResult, extra: Mapping[str, str] | None = None) -> Table:
    """The demo's summary: counts, wall time, rate and the check."""
    stats, counters = result.stats, result.counters
    table = Table(title="openai-messages demo", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("threads", f"{stats.threads_done:,} of {stats.threads_total:,}"),
        ("messages", f"{stats.messages:,}"),
        ("pages", f"{stats.pages:,}"),
        ("requests", f"{counters.get('requests', 0):,}"),
        ("retries", f"{counters.get('retries', 0):,}"),
        ("429s", f"{counters.get('throttled', 0):,}"),
        ("faults injected", f"{result.faults_injected:,}"),
        ("wall time (export)", f"{stats.elapsed:.2f} s"),
        ("messages per second", f"{stats.messages_per_second:,.0f}"),
        ("output", result.output),
        *(extra or {}).items(),
    ]
    if result.seeded_in is not None and result.checked_in is not None:
        rows.append(("seed / check time", f"{result.seeded_in:.1f} s / {result.checked_in:.1f} s"))
    for name, value in rows:
        table.add_row(name, value)
    if result.verdict is not None:
        verdict = result.verdict
        mark = "[green]PASS[/green]" if verdict.ok else "[red]FAIL[/red]"
        table.add_row("check", f"{mark} ({verdict.messages:,} messages compared)")
    return table
