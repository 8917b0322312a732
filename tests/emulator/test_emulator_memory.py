"""Issue 21, item 7: the emulator's memory follows what it stores, not what it serves.

Measured in-process with tracemalloc (no timing): a pass over many threads keeps at
most about one compact copy of each message's JSON (the serialisation cache), a second
pass keeps nothing, and an entry of the request log costs a few hundred bytes.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator

import pytest

import openai_messages as om
from openai_messages.emulator import Emulator

from ..support import API_KEY

THREADS = 400
PER_THREAD = 5


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def _held() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def _pass(client: om.Client, ids: list[str]) -> None:
    results = [r async for r in client.fetch_many(ids, concurrency=4)]
    assert all(r.error is None and len(r.messages) == PER_THREAD for r in results)


async def test_item7_serving_keeps_one_compact_copy_per_message_at_most(traced: None) -> None:
    async with Emulator(api_key=API_KEY, log_size=0) as emu:
        ids = [f"thread_{i}" for i in range(THREADS)]
        for thread_id in [*ids, "thread_warm"]:
            emu.store.add_messages(thread_id, PER_THREAD)
        async with om.Client(api_key=API_KEY, base_url=emu.url) as client:
            await _pass(client, ["thread_warm"])  # the client's and server's own set-up
            before = _held()
            await _pass(client, ids)
            first = _held() - before
            await _pass(client, ids)
            second = _held() - before - first
        records = [r for t in ids for r in emu.store.thread(t).records]  # type: ignore[union-attr]
        stored = sum(len(r.json(2)) for r in records)
    # at most the messages' JSON once more (the cache), plus a fixed allowance (the
    # measured rest is ~400 KB whatever the size: connections, yarl's bounded caches)
    assert first < 1.5 * stored + 1024 * 1024, (first, stored)
    assert second < 128 * 1024, second  # a second pass keeps nothing per request


async def test_item7_a_request_log_entry_is_small(traced: None) -> None:
    requests = 400
    async with Emulator(api_key=API_KEY, log_size=requests) as emu:
        emu.store.add_messages("thread_l", 1)
        async with om.Client(api_key=API_KEY, base_url=emu.url) as client:
            message_id = emu.store.messages("thread_l")[0]["id"]
            await client.retrieve("thread_l", message_id)
            emu.log.clear()
            before = _held()
            for _ in range(requests):
                await client.retrieve("thread_l", message_id)
            per_entry = (_held() - before) / requests
        assert len(emu.log) == requests
    assert per_entry < 700, per_entry  # 1049 B with a copy of the headers per entry
