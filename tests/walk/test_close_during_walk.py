"""Closing the client from another task while a walk is being read (issue 14 item 2):
the reader ends promptly with ClientClosedError, whatever the prefetch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

import openai_messages as om
from openai_messages.emulator import Emulator

from ..support import API_KEY, FAST_RETRIES, settle

HANG_GUARD = 20.0
"""Seconds after which a reader still waiting counts as hung (not a speed target)."""


@pytest.fixture
async def slow_emu(emu: Emulator) -> Emulator:
    emu.store.create_thread("thread_close")
    emu.store.add_messages("thread_close", 500)
    for number in range(4):
        emu.store.create_thread(f"thread_close_{number}")
        emu.store.add_messages(f"thread_close_{number}", 300)
    emu.latency = 0.05
    return emu


async def close_while_reading(client: om.Client, read: Callable[[], AsyncIterator[object]]) -> int:
    """Read until the first item, close the client from another task, then keep reading;
    returns the items read. Raises what the reader raised."""
    started = asyncio.Event()
    got = 0

    async def reader() -> None:
        nonlocal got
        async for _ in read():
            got += 1
            started.set()

    task = asyncio.create_task(reader())
    await asyncio.wait_for(started.wait(), HANG_GUARD)
    await client.close()
    await asyncio.wait_for(task, HANG_GUARD)
    return got


def new_client(emu: Emulator) -> om.Client:
    return om.Client(api_key=API_KEY, base_url=emu.url, retry_policy=FAST_RETRIES)


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_closing_the_client_ends_a_walk_reader_with_client_closed(
    slow_emu: Emulator, prefetch: int
) -> None:
    client = new_client(slow_emu)

    def read() -> AsyncIterator[object]:
        return client.list("thread_close", page_size=10, prefetch=prefetch).pages()

    with pytest.raises(om.ClientClosedError):
        await close_while_reading(client, read)
    await settle(slow_emu)


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_closing_the_client_ends_a_fetch_many_reader_with_client_closed(
    slow_emu: Emulator, prefetch: int
) -> None:
    client = new_client(slow_emu)
    ids = ["thread_close", *(f"thread_close_{n}" for n in range(4))]

    def read() -> AsyncIterator[object]:
        return aiter(client.fetch_many(ids, concurrency=2, page_size=10, prefetch=prefetch))

    # fetch_many yields whole threads; one of 300 messages in pages of 10 takes a while
    slow_emu.store.create_thread("thread_close_tiny")
    slow_emu.store.add_messages("thread_close_tiny", 1)
    ids.insert(0, "thread_close_tiny")
    with pytest.raises(om.ClientClosedError):
        await close_while_reading(client, read)
    await settle(slow_emu)


async def test_closing_the_client_ends_a_stream_many_reader_with_client_closed(
    slow_emu: Emulator,
) -> None:
    client = new_client(slow_emu)
    ids = [f"thread_close_{n}" for n in range(4)]

    def read() -> AsyncIterator[object]:
        return aiter(client.stream_many(ids, concurrency=2, page_size=10))

    with pytest.raises(om.ClientClosedError):
        await close_while_reading(client, read)
    await settle(slow_emu)


async def test_a_walk_started_after_close_raises_client_closed(slow_emu: Emulator) -> None:
    client = new_client(slow_emu)
    await client.close()
    with pytest.raises(om.ClientClosedError):
        async for _ in client.fetch_many(["thread_close"], prefetch=1):
            pass
    with pytest.raises(om.ClientClosedError):
        await client.list("thread_close", prefetch=1).collect()
