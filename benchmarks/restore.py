"""Restoring an export: ``openai-messages import`` beside a naive loop of the official SDK.

Two emulator processes, both with a per-request latency: a clean one, where messages/s is
measured (the importer's exactly-once bookkeeping against a bare loop of
``client.beta.threads.messages.create``), and one with the emulator's chaos faults, where
each client imports the same threads and the targets are then counted: duplicates (the
same source message stored twice) and losses. The importer runs as a user would, again
after a run that stopped a thread on an unknown outcome; the naive loop goes on past a
message whose create failed for good (a loss) and its SDK re-sends blindly (duplicates).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import openai_messages as om
from openai_messages.cli.importer import (
    ImportJournal,
    ImportStats,
    SourceThread,
    import_threads,
    read_export,
)

from .emulator_proc import EmulatorSpec, RunningEmulator
from .results import Results, Target
from .scenarios import Context

__all__ = [
    "SIZES",
    "RestoreSize",
    "fault_spec",
    "restore",
    "sdk_client",
    "throughput_spec",
    "write_export",
]

OM_LABEL = "openai_messages import"
SDK_LABEL = "openai SDK naive loop"
MAX_RESUMES = 20


@dataclass(frozen=True)
class RestoreSize:
    """Threads and messages per thread, on the clean and on the faulty emulator."""

    threads: int
    messages: int
    fault_threads: int
    fault_messages: int


SIZES: dict[str, RestoreSize] = {
    "smoke": RestoreSize(threads=4, messages=20, fault_threads=2, fault_messages=6),
    "quick": RestoreSize(threads=8, messages=100, fault_threads=4, fault_messages=40),
    "full": RestoreSize(threads=16, messages=200, fault_threads=4, fault_messages=50),
}
CHAOS_SEED = 11


def throughput_spec(mode_name: str, runs: int, latency: float, official: bool) -> EmulatorSpec:
    """The clean emulator: empty target threads for every run of every client."""
    size = SIZES[mode_name]
    return EmulatorSpec(size.threads * runs * (2 if official else 1), 0, latency=latency)


def fault_spec(mode_name: str, latency: float) -> EmulatorSpec:
    """The faulty emulator: empty target threads for one import of each client."""
    size = SIZES[mode_name]
    return EmulatorSpec(size.fault_threads * 2, 0, latency=latency, chaos=CHAOS_SEED)


def _export(directory: Path, threads: int, messages: int) -> list[SourceThread]:
    """An export of ``threads`` x ``messages`` (unique texts), read as the importer reads it."""
    return read_export(str(write_export(directory, threads, messages)))


def write_export(directory: Path, threads: int, messages: int) -> Path:
    """Write an export of ``threads`` x ``messages`` (unique texts) in ``directory``."""
    path = directory / f"export-{threads}x{messages}.jsonl"
    with open(path, "wb") as fh:
        for t in range(threads):
            for n in range(messages):
                line = {
                    "id": f"msg_src_{t}_{n}",
                    "object": "thread.message",
                    "created_at": 1_700_000_000 + n,
                    "thread_id": f"thread_src_{t}",
                    "role": "user" if n % 2 == 0 else "assistant",
                    "content": [
                        {"type": "text", "text": {"value": f"src {t}/{n}", "annotations": []}}
                    ],
                    "attachments": [],
                    "metadata": {"n": str(n)},
                }
                fh.write(orjson.dumps(line) + b"\n")
    return path


async def _om_import(
    client: om.Client,
    threads: Sequence[SourceThread],
    targets: Sequence[str],
    state: Path,
) -> int:
    """Import with the importer (resumed after a stopped thread); the runs it took."""
    mapping = {t.thread_id: target for t, target in zip(threads, targets, strict=True)}
    for attempt in range(1, MAX_RESUMES + 1):
        journal = ImportJournal.open(str(state), None, client.endpoint.base_url)
        try:
            failures = await import_threads(
                client,
                threads,
                journal,
                ImportStats(),
                thread_map=mapping,
                concurrency=len(threads),
            )
        finally:
            journal.close()
        if not failures:
            return attempt
    raise RuntimeError(f"the import was not done after {MAX_RESUMES} runs")


def sdk_client(emu: RunningEmulator) -> Any:
    """The official client, with its default (httpx) transport."""
    import openai

    http = openai.DefaultAsyncHttpxClient(trust_env=False)
    return openai.AsyncOpenAI(api_key=emu.api_key, base_url=emu.base_url, http_client=http)


async def _sdk_loop(client: Any, threads: Sequence[SourceThread], targets: Sequence[str]) -> int:
    """The naive loop: every message with ``messages.create``; the creates that failed."""
    failed = 0

    async def one(thread: SourceThread, target: str) -> None:
        nonlocal failed
        for message in thread.messages:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    await client.beta.threads.messages.create(
                        target,
                        role=message.role,
                        content=message.content,
                        metadata=message.metadata,
                    )
            except Exception:  # e.g. JSONDecodeError: the SDK does not retry a cut body
                failed += 1

    await asyncio.gather(*(one(t, d) for t, d in zip(threads, targets, strict=True)))
    return failed


@contextlib.asynccontextmanager
async def _clients(emu: RunningEmulator, official: bool) -> AsyncIterator[dict[str, Any]]:
    """Both clients of ``emu``, warmed up (one list each) so that timing sees no set-up."""
    clients: dict[str, Any] = {OM_LABEL: om.Client(emu.api_key, base_url=emu.base_url)}
    if official:
        clients[SDK_LABEL] = sdk_client(emu)
    try:
        warm = emu.thread_ids[0]
        await clients[OM_LABEL].list(warm, max_items=1).collect()
        if official:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                await clients[SDK_LABEL].beta.threads.messages.list(warm, limit=1)
        yield clients
    finally:
        for client in clients.values():
            await client.close()


async def _count(emu: RunningEmulator, targets: Sequence[str], expected: int) -> tuple[int, int]:
    """Duplicates and losses in the targets (each source text is unique)."""
    texts: list[str] = []
    async with om.Client(emu.api_key, base_url=emu.base_url, max_retries=20) as client:
        for target in targets:
            texts += [m.text async for m in client.list(target, order="asc")]
    unique = len(set(texts))
    return len(texts) - unique, expected - unique


def restore(
    ctx: Context,
    clean: RunningEmulator,
    faulty: RunningEmulator,
    results: Results,
) -> None:
    """Messages/s of an import at the emulator's latency; duplicates and losses under chaos."""
    size = SIZES[ctx.mode.name]
    names = [OM_LABEL, *([SDK_LABEL] if ctx.official else [])]
    note = f"{size.threads} threads x {size.messages} msgs, one thread per worker"
    rate = {c: results.figure("restore", "throughput", "msg/s", c, note=note) for c in names}
    fault_note = f"chaos faults, {size.fault_threads} threads x {size.fault_messages} msgs"
    dupes = {
        c: results.figure(
            "restore",
            "duplicates",
            "msgs",
            c,
            note=fault_note,
            target=Target("<=", 0, "no duplicate under faults") if c == OM_LABEL else None,
        )
        for c in names
    }
    lost = {c: results.figure("restore", "lost", "msgs", c, note=fault_note) for c in names}
    free = list(clean.thread_ids)

    async def main(directory: Path) -> None:
        threads = _export(directory, size.threads, size.messages)
        expected = size.threads * size.messages
        async with _clients(clean, ctx.official) as live:
            for run in range(ctx.mode.runs):
                for name in names:
                    targets = [free.pop() for _ in threads]
                    gc.collect()
                    started = time.perf_counter()
                    if name == OM_LABEL:
                        state = directory / f"state-{run}.json"
                        await _om_import(live[name], threads, targets, state)
                    elif await _sdk_loop(live[name], threads, targets):
                        raise RuntimeError("the naive loop failed against the clean emulator")
                    rate[name].values.append(expected / (time.perf_counter() - started))
                ctx.log(f"restore run {run + 1}/{ctx.mode.runs}")
        faulty_threads = _export(directory, size.fault_threads, size.fault_messages)
        expected = size.fault_threads * size.fault_messages
        spare = list(faulty.thread_ids)
        async with _clients(faulty, ctx.official) as live:
            for name in names:
                targets = [spare.pop() for _ in faulty_threads]
                if name == OM_LABEL:
                    state = directory / "state-faults.json"
                    await _om_import(live[name], faulty_threads, targets, state)
                else:
                    await _sdk_loop(live[name], faulty_threads, targets)
                duplicates, losses = await _count(faulty, targets, expected)
                dupes[name].values.append(duplicates)
                lost[name].values.append(losses)
        ctx.log("restore under faults done")

    with tempfile.TemporaryDirectory(prefix="om-bench-restore-") as directory:
        asyncio.run(main(Path(directory)))
    if ctx.official:
        results.ratio(
            "restore",
            f"{OM_LABEL} / {SDK_LABEL}",
            rate[OM_LABEL],
            rate[SDK_LABEL],
            Target(">=", 0.8, "import msg/s >= 0.8x the naive loop (exactly once costs little)"),
        )
