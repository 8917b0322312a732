"""``with_response`` and the per-call options of the message calls, and the limiter's
wait within a call's timeout, over loopback against the emulator (the thread calls are
in tests/http/test_threads_emulator.py)."""

from __future__ import annotations

import asyncio

import pytest

import openai_messages as om
from openai_messages.emulator import Emulator

from ..support import API_KEY, until


async def test_with_response_for_every_message_call(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_w")
    emu.store.add_messages("thread_w", 5)
    wr = client.with_response
    created = await wr.create("thread_w", role="user", content="x")
    assert created.status_code == 200
    assert created.request_id
    message_id = created.value.id
    assert (await wr.retrieve("thread_w", message_id)).value == created.value
    assert (await wr.modify("thread_w", message_id, metadata={"k": "v"})).value.metadata == {
        "k": "v"
    }
    pages = [page async for page in wr.list("thread_w", page_size=2, max_items=5)]
    assert [len(p.value.data) for p in pages] == [2, 2, 1]
    assert all(isinstance(p, om.Response) and p.status_code == 200 for p in pages)
    assert pages[0].request_id
    assert (await wr.delete("thread_w", message_id)).value.deleted


async def test_with_response_for_message_files(emu: Emulator) -> None:
    emu.store.create_thread("thread_f")
    message = emu.store.add_message("thread_f", file_ids=["file_a", "file_b"])
    async with om.Client(api_key=API_KEY, base_url=emu.url, api_version="v1") as client:
        pages = [p async for p in client.with_response.list_files("thread_f", message["id"])]
        assert [f.id for p in pages for f in p.value.data] == ["file_b", "file_a"]
        one = await client.with_response.retrieve_file("thread_f", message["id"], "file_a")
        assert one.value.id == "file_a"


async def test_list_takes_every_per_call_option(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_o")
    emu.store.add_messages("thread_o", 3)
    pager = client.list(
        "thread_o",
        page_size=2,
        timeout=5.0,
        max_retries=0,
        extra_headers={"X-Trace": "t1"},
        extra_query={"probe": "1"},
    )
    assert len(await pager.collect()) == 3
    lists = [r for r in emu.log if r.route == "list"]
    assert len(lists) == 2
    assert all(r.headers.get("X-Trace") == "t1" for r in lists)
    assert all(r.query.get("probe") == "1" for r in lists)
    with pytest.raises(om.InvalidArgumentError):
        await client.list("thread_o", max_retries=-1).collect()


# -- issue 14 item 1 (the client's part): limiter waits count in the call's timeout ------


async def test_waiting_for_the_limiter_counts_in_the_timeout(emu: Emulator) -> None:
    emu.store.create_thread("thread_l")
    emu.store.add_messages("thread_l", 1)
    message_id = emu.store.messages("thread_l")[0]["id"]
    emu.latency = 3.0
    limits = om.RateLimits(max_concurrency=1, adaptive=False)
    async with om.Client(
        api_key=API_KEY, base_url=emu.url, rate_limits=limits, max_retries=0
    ) as client:
        hog = asyncio.ensure_future(client.retrieve("thread_l", message_id, timeout=30.0))
        await until(lambda: client.limiter.in_flight == 1, what="the hog's slot")
        with pytest.raises(om.APITimeoutError, match="rate limiter"):
            # a hang guard, not a timing assertion
            await asyncio.wait_for(client.retrieve("thread_l", message_id, timeout=0.5), 20)
        hog.cancel()
        await asyncio.gather(hog, return_exceptions=True)


async def test_with_response_list_is_a_pager_of_responses(client: om.Client, emu: Emulator) -> None:
    """Issue 20 item 2: ``with_response.list`` gives the pager's ``cursor``, ``collect``
    and ``first_page``, each page a ``Response``."""
    emu.store.create_thread("thread_r")
    ids = emu.store.add_messages("thread_r", 5)
    first = await client.with_response.list("thread_r", order="asc", page_size=2).first_page()
    assert [m.id for m in first.value.data] == ids[:2]
    assert first.request_id is not None
    walk = client.with_response.list("thread_r", order="asc", page_size=2, max_items=3)
    pages = await walk.collect()
    assert [[m.id for m in r.value.data] for r in pages] == [ids[:2], ids[2:3]]
    assert walk.cursor == ids[2]
    rest = client.with_response.list("thread_r", order="asc", page_size=2, after=walk.cursor)
    async with rest:
        async for response in rest:
            assert [m.id for m in response.value.data] == ids[3:5]
            break
    assert rest.cursor == ids[4]
