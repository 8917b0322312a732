"""What one checkpoint of a resumable export or import costs, as its state grows.

Each state is filled with ``N`` threads (every one done), committed, then checkpointed
again and again, each time after one page of one thread (the export) or one created
message (the import): the figure is the median wall time of one such checkpoint (data
fsync, record appended, journal fsync). The journal makes it flat in ``N``; the ratio
of the largest state to the smallest says so. Beside it, for scale, the time to write
the whole state once (what a checkpoint cost when the state was rewritten every time).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable

import orjson

from openai_messages._codec import converter
from openai_messages._codec.models import Message
from openai_messages.cli.export import ResumableFile, ThreadState
from openai_messages.cli.import_journal import ImportJournal
from openai_messages.cli.import_source import SourceMessage
from openai_messages.cli.journal import replace_atomically

from .results import Results, Target

__all__ = ["SIZES", "checkpoint"]

SIZES: dict[str, tuple[int, ...]] = {
    "smoke": (1_000, 10_000),
    "quick": (10_000, 100_000),
    "full": (10_000, 100_000),
}
CHECKPOINTS: dict[str, int] = {"smoke": 20, "quick": 50, "full": 200}
LABEL = "openai_messages"
FLAT = Target("<=", 2.0, "a checkpoint at the largest state <= 2x one at the smallest")


def _message(n: int, thread_id: str) -> Message:
    payload = {
        "id": f"msg_{n:08d}",
        "object": "thread.message",
        "created_at": 1_700_000_000 + n,
        "thread_id": thread_id,
        "role": "user",
        "content": [{"type": "text", "text": {"value": f"m{n}", "annotations": []}}],
        "metadata": {},
    }
    return converter.structure(payload, Message)


def _timed(step: Callable[[int], None], count: int) -> float:
    """The median milliseconds of ``step(i)`` over ``count`` calls."""
    times: list[float] = []
    for i in range(count):
        begin = time.perf_counter()
        step(i)
        times.append((time.perf_counter() - begin) * 1000)
    return statistics.median(times)


def _export_cost(directory: str, threads: int, count: int) -> tuple[float, float]:
    """(ms per checkpoint, ms to rewrite the whole state once) with ``threads`` done."""
    path = os.path.join(directory, f"export-{threads}.jsonl")
    sink = ResumableFile.open(path, "asc")
    try:
        for n in range(threads):
            tid = f"thread_{n:07d}"
            sink.write_page(tid, [_message(n, tid)])
            sink.finish(tid)
        sink.checkpoint()
        pages = [_message(threads + i, "thread_more") for i in range(count)]

        def step(i: int) -> None:
            sink.write_page("thread_more", [pages[i]])
            sink.checkpoint()

        per_checkpoint = _timed(step, count)
        whole = _timed(lambda _: _rewrite(path + ".whole", sink.threads), 3)
    finally:
        sink.close()
    return per_checkpoint, whole


def _rewrite(path: str, threads: dict[str, ThreadState]) -> None:
    state = {
        t: {"last_id": s.last_id, "count": s.count, "done": s.done} for t, s in threads.items()
    }
    replace_atomically(path, orjson.dumps({"threads": state}, option=orjson.OPT_INDENT_2))


def _import_cost(directory: str, threads: int, count: int) -> float:
    """ms per checkpoint of an import state holding ``threads`` done threads."""
    state = os.path.join(directory, f"import-{threads}.json")
    journal = ImportJournal.open(state, os.path.join(directory, f"map-{threads}.jsonl"), "bench")
    try:
        for n in range(threads):
            tid = f"thread_{n:07d}"
            journal.state(tid).target = f"thread_dst_{n}"
            journal.finish(tid)
        journal.checkpoint()
        journal.set_target("thread_more", "thread_dst_more")

        def step(i: int) -> None:
            source = SourceMessage(i, f"msg_{i}", "thread_more", i, "user", [], None, None, {})
            journal.record(source, "thread_dst_more", f"msg_dst_{i}")
            journal.checkpoint()

        return _timed(step, count)
    finally:
        journal.close()


def checkpoint(mode_name: str, results: Results, log: Callable[[str], None]) -> None:
    """Figures: ms per checkpoint of the export and the import at each state size."""
    sizes, count = SIZES[mode_name], CHECKPOINTS[mode_name]
    note = f"median of {count} checkpoints, one page (export) or message (import) each"
    figures = {}
    for kind in ("export", "import"):
        for threads in sizes:
            figures[kind, threads] = results.figure(
                "checkpoint", f"{kind} checkpoint, {threads:,} threads", "ms", LABEL, note=note
            )
    whole = {
        threads: results.figure(
            "checkpoint",
            f"whole export state written once, {threads:,} threads",
            "ms",
            LABEL,
            note="for scale: what every checkpoint cost before the journal",
        )
        for threads in sizes
    }
    with tempfile.TemporaryDirectory(prefix="om-bench-checkpoint-") as directory:
        for threads in sizes:
            per_checkpoint, rewrite = _export_cost(directory, threads, count)
            figures["export", threads].values.append(per_checkpoint)
            whole[threads].values.append(rewrite)
            figures["import", threads].values.append(_import_cost(directory, threads, count))
            log(f"checkpoint at {threads:,} threads measured")
    small, large = sizes[0], sizes[-1]
    for kind in ("export", "import"):
        results.ratio(
            "checkpoint",
            f"{kind}: {large:,} / {small:,} threads",
            figures[kind, large],
            figures[kind, small],
            FLAT,
        )
