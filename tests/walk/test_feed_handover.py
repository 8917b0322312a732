"""Issue 24: a feed gives a page's room back when it hands the page to a reader already
waiting, so the next fetch starts in the same step (one loop turn fewer per page)."""

from __future__ import annotations

import asyncio

from openai_messages._walk.feed import Feed

from ..support import settle, until


async def test_a_waiting_reader_frees_the_room_at_hand_over_and_the_window_holds() -> None:
    started: list[int] = []
    gate = asyncio.Event()

    async def producer(feed: Feed[int]) -> None:
        for i in range(4):
            await feed.reserve()
            started.append(i)
            if i == 0:
                await gate.wait()
            feed.put(i)

    feed = Feed([producer], window=1)
    await until(lambda: started == [0], what="the producer started its first item")
    asyncio.get_running_loop().call_soon(gate.set)  # once this reader waits below
    assert await anext(feed) == 0
    # handed to a waiting reader: item 1 was started in the step that put item 0
    assert started == [0, 1]
    assert await anext(feed) == 1
    await until(lambda: len(started) == 3, what="item 2 started once item 1 was read")
    assert [item async for item in feed] == [2, 3]
    await feed.aclose()
    await settle()
