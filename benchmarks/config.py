"""The sizes and repetition counts of each benchmark mode."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["MODES", "Mode"]


@dataclass(frozen=True)
class Mode:
    """How big each scenario is and how many times it runs."""

    name: str
    runs: int
    """Runs per figure (each figure is the median of these, with min and max)."""
    parse_seconds: float
    """Time budget of one parsing run (repeats the page until it is spent)."""
    walk_messages: int
    latency_messages: int
    latency_seconds: float
    """Emulator latency per request, and the caller's time per page, in the latency run."""
    bulk_threads: int
    bulk_messages: int
    bulk_concurrency: int
    limited_threads: int
    limited_messages: int
    limited_rate: float
    limited_burst: int
    memory_messages: int
    memory_runs: int
    memory_official_messages: int | None
    """The official package walks only this many messages of the long thread (None: all)."""
    serve_threads: int
    """Threads (of 5 messages) the emulator-memory run seeds and reads once, then again."""
    import_runs: int
    extra_rows: bool
    """Also run the official package with limit=100 where it is not the default."""
    aiohttp_in: tuple[str, ...]
    """Scenarios where the official package also runs with its aiohttp transport."""
    bulk_runs: int
    limited_runs: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


MODES: dict[str, Mode] = {
    "smoke": Mode(
        name="smoke",
        runs=1,
        parse_seconds=0.05,
        walk_messages=300,
        latency_messages=300,
        latency_seconds=0.005,
        bulk_threads=4,
        bulk_messages=150,
        bulk_concurrency=4,
        limited_threads=4,
        limited_messages=150,
        limited_rate=200.0,
        limited_burst=20,
        memory_messages=500,
        memory_runs=1,
        memory_official_messages=None,
        serve_threads=2_000,
        import_runs=1,
        extra_rows=False,
        aiohttp_in=("walk", "latency", "bulk", "limited", "memory"),
        bulk_runs=1,
        limited_runs=1,
    ),
    "quick": Mode(
        name="quick",
        runs=3,
        parse_seconds=0.15,
        walk_messages=10_000,
        latency_messages=2_000,
        latency_seconds=0.02,
        bulk_threads=20,
        bulk_messages=500,
        bulk_concurrency=32,
        limited_threads=30,
        limited_messages=500,
        limited_rate=200.0,
        limited_burst=20,
        memory_messages=100_000,
        memory_runs=1,
        memory_official_messages=20_000,
        serve_threads=5_000,
        import_runs=3,
        extra_rows=False,
        aiohttp_in=("walk",),
        bulk_runs=3,
        limited_runs=3,
    ),
    "full": Mode(
        name="full",
        runs=5,
        parse_seconds=0.5,
        walk_messages=10_000,
        latency_messages=2_000,
        latency_seconds=0.02,
        bulk_threads=200,
        bulk_messages=500,
        bulk_concurrency=32,
        limited_threads=100,
        limited_messages=500,
        limited_rate=200.0,
        limited_burst=20,
        memory_messages=100_000,
        memory_runs=3,
        memory_official_messages=None,
        serve_threads=20_000,
        import_runs=9,
        extra_rows=True,
        aiohttp_in=("walk", "latency", "bulk"),
        bulk_runs=3,
        limited_runs=3,
    ),
}
