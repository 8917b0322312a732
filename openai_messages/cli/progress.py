"""Progress of an export on stderr: a rich progress bar on a terminal, log lines otherwise."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import IO, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from .export import ExportStats

__all__ = [
    "Counters",
    "Display",
    "LogDisplay",
    "NoDisplay",
    "RichDisplay",
    "describe",
    "make_display",
    "showing",
]

Counters = Callable[[], Mapping[str, int]]
"""The client's counters: ``requests``, ``retries``, ``throttled`` (``Client.stats``)."""


def describe(stats: ExportStats, counters: Mapping[str, int], *, compact: bool = False) -> str:
    """One line: messages, requests, retries, 429s and rate."""
    if compact:
        return (
            f"{stats.messages:,} msgs  {counters.get('requests', 0):,} req  "
            f"{counters.get('retries', 0):,} retries  {counters.get('throttled', 0):,}x429  "
            f"{stats.messages_per_second:,.0f} msg/s"
        )
    return (
        f"{stats.messages:,} msgs, {counters.get('requests', 0):,} requests, "
        f"{counters.get('retries', 0):,} retries, {counters.get('throttled', 0):,} x 429, "
        f"{stats.messages_per_second:,.0f} msg/s"
    )


def _threads_finished(stats: ExportStats) -> int:
    return stats.threads_done + stats.threads_failed + stats.threads_skipped


def _threads_found(stats: ExportStats) -> str:
    """The total of threads; ``N+`` while a thread listing is still finding more."""
    return f"{stats.threads_total}+" if stats.listing else str(stats.threads_total)


class Display(Protocol):
    """Something that shows an export's progress; :meth:`refresh` is called periodically."""

    interval: float

    def start(self) -> None: ...
    def refresh(self) -> None: ...
    def stop(self) -> None: ...


class NoDisplay:
    """Shows nothing."""

    interval = 3600.0

    def start(self) -> None:
        """Nothing to start."""

    def refresh(self) -> None:
        """Nothing to show."""

    def stop(self) -> None:
        """Nothing to stop."""


class RichDisplay:
    """A live progress bar: threads done/total, then the running counters."""

    interval = 0.2

    def __init__(
        self, stats: ExportStats, counters: Counters, console: Console, label: str = "export"
    ) -> None:
        self._stats = stats
        self._counters = counters
        self._progress = Progress(
            TextColumn(f"[bold blue]{label}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("threads  {task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=8,
        )
        self._task: TaskID | None = None

    def start(self) -> None:
        """Show the bar."""
        self._progress.start()
        self._task = self._progress.add_task("export", total=None, detail="")  # total: later
        self.refresh()

    def refresh(self) -> None:
        """Bring the bar up to date."""
        if self._task is None:
            return
        stats = self._stats
        self._progress.update(
            self._task,
            total=stats.threads_total or None,
            completed=_threads_finished(stats),
            detail=("listing  " if stats.listing else "")
            + describe(stats, self._counters(), compact=True),
        )

    def stop(self) -> None:
        """Draw the final state and leave the bar on screen."""
        self.refresh()
        self._progress.stop()


class LogDisplay:
    """A plain line every ``interval`` seconds, for logs and pipes."""

    def __init__(
        self,
        stats: ExportStats,
        counters: Counters,
        stream: IO[str],
        interval: float,
        label: str = "export",
    ):
        self._label = label
        self._stats = stats
        self._counters = counters
        self._stream = stream
        self.interval = interval

    def _line(self) -> None:
        stats = self._stats
        print(
            f"{self._label}: {_threads_finished(stats)}/{_threads_found(stats)} threads, "
            f"{describe(stats, self._counters())}, {stats.elapsed:.1f} s",
            file=self._stream,
            flush=True,
        )

    def start(self) -> None:
        """Nothing is shown at the start."""

    def refresh(self) -> None:
        """Print the current totals."""
        self._line()

    def stop(self) -> None:
        """Print the final totals."""
        self._line()


def make_display(
    mode: str,
    stats: ExportStats,
    counters: Counters,
    console: Console,
    interval: float,
    label: str = "export",
) -> Display:
    """A bar on a terminal (``auto``) or always (``bar``), log lines (``log``), or nothing."""
    if mode == "auto":
        mode = "bar" if console.is_terminal else "log"
    if mode == "bar":
        return RichDisplay(stats, counters, console, label)
    if mode == "log":
        return LogDisplay(stats, counters, console.file, interval, label)
    return NoDisplay()


@contextlib.asynccontextmanager
async def showing(display: Display) -> AsyncIterator[None]:
    """Start ``display``, refresh it every ``display.interval`` seconds, stop it at the end."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(display.interval)
            display.refresh()

    display.start()
    ticker = asyncio.ensure_future(tick())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        display.stop()
