"""One client walking one thread in a fresh process, reporting its peak RSS growth.

    python -m benchmarks.memory_child --kind om --base-url URL --api-key KEY --thread ID

Prints one JSON line: messages walked, RSS before the walk, peak RSS during it and
their difference, in MB. The baseline is taken after the imports, the client's
creation and a one-page warm-up, so only what the walk itself holds is counted.
The walk keeps nothing but a count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import threading
from typing import Any

from .clients import ClientSpec, make_walker

MB = 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The current resident set size of this process."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        import psutil

        return int(psutil.Process().memory_info().rss)


def max_rss_bytes() -> int:
    """The peak resident set size so far (``ru_maxrss`` is in KiB on Linux)."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage if sys.platform == "darwin" else usage * 1024


class PeakSampler:
    """Samples RSS every few milliseconds in a background thread; keeps the peak."""

    def __init__(self, interval: float = 0.002) -> None:
        self.peak = rss_bytes()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


async def measure(
    spec: ClientSpec, base_url: str, api_key: str, thread_id: str, limit: int | None
) -> dict[str, Any]:
    walker = make_walker(spec, base_url, api_key)
    try:
        await walker.warm_up(thread_id)
        baseline = rss_bytes()
        maxrss_before = max_rss_bytes()
        with PeakSampler() as sampler:
            messages = await walker.walk(thread_id, max_messages=limit)
        peak = sampler.peak
        maxrss_after = max_rss_bytes()
        if maxrss_after > maxrss_before:  # a peak between two samples
            peak = max(peak, maxrss_after)
        return {
            "client": spec.label,
            "messages": messages,
            "requests": walker.requests,
            "baseline_mb": baseline / MB,
            "peak_mb": peak / MB,
            "growth_mb": max(0, peak - baseline) / MB,
        }
    finally:
        await walker.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory_child")
    parser.add_argument("--kind", choices=["om", "openai", "floor"], required=True)
    parser.add_argument("--transport", choices=["httpx", "aiohttp"], default="httpx")
    parser.add_argument("--page-size", type=int, default=0, help="0: the client's default")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--thread", required=True)
    parser.add_argument("--max-messages", type=int, default=0, help="0: the whole thread")
    args = parser.parse_args(argv)
    spec = ClientSpec(args.kind, args.transport, page_size=args.page_size or None)
    limit = args.max_messages or None
    result = asyncio.run(measure(spec, args.base_url, args.api_key, args.thread, limit))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
