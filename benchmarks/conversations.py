"""The walk of a conversation's items beside the walk of a thread's messages.

The walk emulator's long thread is copied into a conversation (its messages mapped with
``om.conversation_items``, 20 items a call), then, run after run and side by side,
openai_messages walks the thread (``client.list``) and the conversation
(``client.conversations.items.list``), newest first, 100 a page: client CPU per item
against client CPU per message, whose ratio has a target (within 15%).
"""

from __future__ import annotations

import asyncio
import gc
import time

from .clients import ORDER
from .emulator_proc import RunningEmulator
from .results import Results, Target
from .scenarios import Context

__all__ = ["items_walk"]

SCENARIO = "items walk"
BATCH = 20


def items_walk(ctx: Context, emu: RunningEmulator, results: Results) -> None:
    """Client CPU per item of ``items.list`` against per message of ``client.list``."""
    import openai_messages as om

    thread = emu.thread_ids[0]
    size = f"{ctx.mode.walk_messages:,} msgs / items"
    labels = ("openai_messages list (per message)", "openai_messages items.list (per item)")
    cpu = {
        label: results.figure(SCENARIO, "client CPU", "us/item", label, note=size)
        for label in labels
    }

    async def main() -> None:
        async with om.Client(api_key=emu.api_key, base_url=emu.base_url) as client:
            source = await client.list(thread, order="asc").collect()
            conversation = await client.conversations.create(metadata={"source_thread_id": thread})
            items = [item for message in source for item in om.conversation_items(message)]
            last = ""
            for start in range(0, len(items), BATCH):
                made = await client.conversations.items.create(
                    conversation.id, items[start : start + BATCH], follows=last
                )
                last = made[-1].id
            ctx.log(f"items walk: {len(items):,} items in {conversation.id}")

            async def walk_thread() -> int:
                count = 0
                async for _ in client.list(thread, order=ORDER, page_size=100):
                    count += 1
                return count

            async def walk_items() -> int:
                count = 0
                pager = client.conversations.items.list(conversation.id, order=ORDER, page_size=100)
                async for _ in pager:
                    count += 1
                return count

            await walk_thread()  # warm both paths (readers learn the key sets once)
            await walk_items()
            for run in range(ctx.mode.runs):
                for label, walk in zip(labels, (walk_thread, walk_items), strict=True):
                    gc.collect()
                    cpu0 = time.process_time()
                    count = await walk()
                    cpu[label].values.append((time.process_time() - cpu0) / count * 1e6)
                ctx.log(f"items walk run {run + 1}/{ctx.mode.runs}")

    asyncio.run(main())
    results.ratio(
        SCENARIO,
        "items.list / list (CPU per item)",
        cpu[labels[1]],
        cpu[labels[0]],
        Target("<=", 1.15, "items.list CPU/item within 15% of client.list's per message"),
    )
