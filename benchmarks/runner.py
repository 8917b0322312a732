"""Run the scenarios against emulator subprocesses, then print and write the results."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from . import checkpoint, conversations, report, restore, restore_conversations, scenarios
from .chart import write_chart
from .clients import official_available
from .config import MODES, Mode
from .emulator_proc import EmulatorSpec, RunningEmulator, running, stop_all
from .machine import machine_info
from .results import Results

__all__ = ["main"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCENARIOS = (
    "parsing",
    "walk",
    "items",
    "latency",
    "bulk",
    "limited",
    "memory",
    "serve",
    "import",
    "restore",
    "checkpoint",
    "conversations",
)


def _emulators(mode: Mode, wanted: set[str], official: bool) -> dict[str, EmulatorSpec]:
    """One emulator per data shape; only those the chosen scenarios need."""
    specs = {
        "walk": EmulatorSpec(1, mode.walk_messages),
        "latency": EmulatorSpec(1, mode.latency_messages, latency=mode.latency_seconds),
        "bulk": EmulatorSpec(mode.bulk_threads, mode.bulk_messages),
        "limited": EmulatorSpec(
            mode.limited_threads,
            mode.limited_messages,
            rate_limit=mode.limited_rate,
            burst=mode.limited_burst,
        ),
        "memory": EmulatorSpec(1, mode.memory_messages),
        "serve": EmulatorSpec(mode.serve_threads, scenarios.SERVE_MESSAGES),
        "restore": restore.throughput_spec(mode.name, mode.runs, mode.latency_seconds, official),
        "restore_faults": restore.fault_spec(mode.name, mode.latency_seconds),
        "conversations": restore_conversations.spec(mode.name, mode.latency_seconds),
    }
    needs = {"parsing": "walk", "walk": "walk", "latency": "latency", "bulk": "bulk"}
    needs |= {"limited": "limited", "memory": "memory", "serve": "serve"}
    needs |= {"items": "walk", "conversations": "conversations"}
    used = {needs[name] for name in wanted if name in needs}
    if "restore" in wanted:
        used |= {"restore", "restore_faults"}
    return {name: spec for name, spec in specs.items() if name in used}


def _loopback_only() -> None:
    """Keep proxies (from the environment) away from loopback traffic."""
    hosts = "127.0.0.1,localhost,::1"
    for name in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(name)
        os.environ[name] = f"{current},{hosts}" if current else hosts


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="openai_messages beside the official openai package and a bare floor.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a short run (under two minutes)")
    size.add_argument("--smoke", action="store_true", help="a tiny run that checks the harness")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (default: all of {','.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--no-official", action="store_true", help="leave the official openai package out"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where to write the results"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - set(SCENARIOS)
    if unknown:
        print(f"unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    _loopback_only()
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    official = official_available() and not args.no_official
    if not official:
        log("the official openai package is left out (not installed, or --no-official)")
    ctx = scenarios.Context(mode, official, log)
    results = Results()
    try:
        specs = _emulators(mode, wanted, official)
        log(f"{mode.name} mode; starting {len(specs)} emulator process(es)")

        def save() -> None:  # after every scenario: an interrupted run keeps what it measured
            _write(args.results_dir, results, mode, time.monotonic() - started)

        with running(*specs.values()) as started_emulators:
            emus = dict(zip(specs, started_emulators, strict=True))
            log("emulators ready")
            _run_all(ctx, emus, wanted, results, save)
    finally:
        stop_all()
    seconds = time.monotonic() - started
    print(report.text_table(results))
    print(f"{mode.name} mode took {seconds:.0f} s")
    _write(args.results_dir, results, mode, seconds)
    if write_chart(results, args.results_dir / "ratios.png"):
        log(f"wrote {args.results_dir / 'ratios.png'}")
    else:
        log("matplotlib is not importable: no chart")
    log(f"wrote {args.results_dir / 'latest.json'} and {args.results_dir / 'table.rst'}")
    return 1 if results.errors else 0


def _run_all(
    ctx: scenarios.Context,
    emus: dict[str, RunningEmulator],
    wanted: set[str],
    results: Results,
    save: Callable[[], None],
) -> None:
    steps: list[tuple[str, Callable[[], None]]] = [
        ("parsing", lambda: scenarios.parse(ctx, emus["walk"], results)),
        ("walk", lambda: scenarios.full_walk(ctx, emus["walk"], results)),
        ("items", lambda: conversations.items_walk(ctx, emus["walk"], results)),
        ("latency", lambda: scenarios.latency_hiding(ctx, emus["latency"], results)),
        ("bulk", lambda: scenarios.bulk(ctx, emus["bulk"], results)),
        ("limited", lambda: scenarios.rate_limited(ctx, emus["limited"], results)),
        ("memory", lambda: scenarios.memory(ctx, emus["memory"], results)),
        ("serve", lambda: scenarios.emulator_memory(ctx, emus["serve"], results)),
        ("import", lambda: scenarios.import_time(ctx, results)),
        (
            "restore",
            lambda: restore.restore(ctx, emus["restore"], emus["restore_faults"], results),
        ),
        ("checkpoint", lambda: checkpoint.checkpoint(ctx.mode.name, results, ctx.log)),
        (
            "conversations",
            lambda: restore_conversations.move_to_conversations(
                ctx, emus["conversations"], results
            ),
        ),
    ]
    for name, step in steps:
        if name not in wanted:
            continue
        ctx.log(f"{name}...")
        begin = time.monotonic()
        try:
            step()
        except Exception as exc:  # report it with the rest, go on with the next scenario
            traceback.print_exc(file=sys.stderr)
            results.error(name, f"{type(exc).__name__}: {exc}")
        results.seconds[name] = time.monotonic() - begin
        ctx.log(f"{name} done in {results.seconds[name]:.1f} s")
        save()


def _write(directory: Path, results: Results, mode: Mode, seconds: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    doc = report.document(results, mode=mode.as_dict(), machine=machine_info(), seconds=seconds)
    report.write_json(directory / "latest.json", doc)
    (directory / "table.rst").write_text(report.rst_table(results), encoding="utf-8")
