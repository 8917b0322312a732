"""Moving threads into conversations under chaos: ``import --to conversations`` beside the
naive loop a user would write with the official SDK.

One emulator process with the emulator's chaos faults (errors, mid-body drops,
truncations on every route) and a per-request latency. Each client moves the same export
(unique texts) into new conversations: openai_messages through the import's own loop
(:func:`~openai_messages.cli.conversation_import.import_conversations`, run again after a
run that stopped a thread, as a user re-runs the command), the official package creating
each conversation and calling ``conversations.items.create`` per 20 items with its default
retries, carrying on past a batch that failed. Then each target conversation is read back:
messages/s (wall time of the whole move), duplicates (a source message stored twice) and
losses. Sizes per mode in :data:`SIZES` (the full size is 200 threads of 500 messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai_messages as om
from openai_messages.cli.conversation_import import (
    ConversationSource,
    import_conversations,
    read_for_conversations,
)
from openai_messages.cli.import_journal import CONVERSATIONS, ImportJournal
from openai_messages.cli.importer import ImportStats

from .emulator_proc import EmulatorSpec, RunningEmulator
from .restore import MAX_RESUMES, OM_LABEL, SDK_LABEL, sdk_client, write_export
from .results import Results, Target
from .scenarios import Context

__all__ = ["SIZES", "ConversationMove", "move_to_conversations", "spec"]

SCENARIO = "conversations restore"
CHAOS_SEED = 13
BATCH = 20
CLI_RETRIES = 4
"""The import command's default ``--max-retries``."""


@dataclass(frozen=True)
class ConversationMove:
    """Threads and messages per thread moved, and the threads moved at once."""

    threads: int
    messages: int
    concurrency: int


SIZES: dict[str, ConversationMove] = {
    "smoke": ConversationMove(threads=3, messages=45, concurrency=3),
    "quick": ConversationMove(threads=20, messages=200, concurrency=20),
    "full": ConversationMove(threads=200, messages=500, concurrency=64),
}


def spec(mode_name: str, latency: float) -> EmulatorSpec:
    """The chaos emulator (it needs no seeded thread: everything is created)."""
    return EmulatorSpec(1, 0, latency=latency, chaos=CHAOS_SEED)


async def _om_move(
    client: om.Client, threads: Sequence[ConversationSource], directory: Path, concurrency: int
) -> tuple[list[str], int, int]:
    """The import, re-run until done; the conversations, the runs, the possible orphans."""
    state = str(directory / "conversations-state.json")
    orphans: set[str] = set()
    for attempt in range(1, MAX_RESUMES + 1):
        journal = ImportJournal.open(state, None, client.endpoint.base_url, None, CONVERSATIONS)
        try:
            failures, left = await import_conversations(
                client,
                threads,
                journal,
                ImportStats(),
                lists_conversations=False,
                concurrency=concurrency,
            )
            targets = [journal.state(t.thread_id).target or "" for t in threads]
        finally:
            journal.close()
        orphans |= set(left)
        if not failures:
            return targets, attempt, len(orphans)
    raise RuntimeError(f"the import was not done after {MAX_RESUMES} runs")


async def _sdk_move(
    client: Any, threads: Sequence[ConversationSource], concurrency: int
) -> list[str]:
    """The naive loop: create, then ``items.create`` per 20 (default retries); the
    conversations (a thread whose create failed is lost whole)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(thread: ConversationSource) -> str:
        async with gate:
            try:
                conversation = await client.conversations.create(
                    metadata={"source_thread_id": thread.thread_id}
                )
            except Exception:
                return ""
            items = [m.item for m in thread.messages]
            for start in range(0, len(items), BATCH):
                with contextlib.suppress(Exception):  # a user's loop goes on with the next
                    await client.conversations.items.create(
                        conversation.id, items=items[start : start + BATCH]
                    )
            return str(conversation.id)

    return list(await asyncio.gather(*(one(t) for t in threads)))


async def _count(emu: RunningEmulator, targets: Sequence[str], expected: int) -> tuple[int, int]:
    """Duplicates and losses in the conversations (each source text is unique)."""
    texts: list[str] = []
    async with om.Client(emu.api_key, base_url=emu.base_url, max_retries=20) as client:
        for target in targets:
            if target:
                pager = client.conversations.items.list(target, order="asc")
                texts += [item.text async for item in pager]
    unique = len(set(texts))
    return len(texts) - unique, expected - unique


def move_to_conversations(ctx: Context, emu: RunningEmulator, results: Results) -> None:
    """Messages/s, duplicates and losses of a move into conversations under chaos."""
    size = SIZES[ctx.mode.name]
    names = [OM_LABEL, *([SDK_LABEL] if ctx.official else [])]
    note = (
        f"chaos faults, {size.threads} threads x {size.messages} msgs, {size.concurrency} at once"
    )
    rate = {c: results.figure(SCENARIO, "throughput", "msg/s", c, note=note) for c in names}
    dupes = {
        c: results.figure(
            SCENARIO,
            "duplicates",
            "msgs",
            c,
            note=note,
            target=Target("<=", 0, "no duplicate under faults") if c == OM_LABEL else None,
        )
        for c in names
    }
    lost = {
        c: results.figure(
            SCENARIO,
            "lost",
            "msgs",
            c,
            note=note,
            target=Target("<=", 0, "no loss under faults") if c == OM_LABEL else None,
        )
        for c in names
    }
    orphans = results.figure(SCENARIO, "possible empty orphans", "convs", OM_LABEL, note=note)
    expected = size.threads * size.messages

    async def main(directory: Path) -> None:
        threads = read_for_conversations(str(write_export(directory, size.threads, size.messages)))
        for name in names:
            started = time.perf_counter()
            if name == OM_LABEL:
                policy = om.RetryPolicy(max_retries=CLI_RETRIES)
                async with om.Client(
                    emu.api_key, base_url=emu.base_url, retry_policy=policy
                ) as client:
                    targets, runs, left = await _om_move(
                        client, threads, directory, size.concurrency
                    )
                orphans.values.append(left)
                ctx.log(f"{name}: {runs} run(s)")
            else:
                sdk = sdk_client(emu)
                try:
                    targets = await _sdk_move(sdk, threads, size.concurrency)
                finally:
                    await sdk.close()
            rate[name].values.append(expected / (time.perf_counter() - started))
            duplicates, losses = await _count(emu, targets, expected)
            dupes[name].values.append(duplicates)
            lost[name].values.append(losses)
            ctx.log(f"{name}: {duplicates} duplicates, {losses} lost")

    with tempfile.TemporaryDirectory(prefix="om-bench-conversations-") as directory:
        asyncio.run(main(Path(directory)))
