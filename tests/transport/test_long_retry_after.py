"""A 429 with a very long ``Retry-After`` fails only its own call, over real HTTP (issue 14.1).

The limiter pauses every caller only for a wait the client honours (at most
``RetryPolicy.retry_after_cap``), and waiting for it counts in each call's timeout.
``asyncio.wait_for`` is only a hang detector here, never a timed assertion.
"""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import Awaitable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import TypeVar

import orjson
import pytest

import openai_messages as om
from openai_messages.cli.export import ExportStats, JsonlSink, export_threads
from openai_messages.emulator import Emulator, Fault

from ..support import API_KEY

T = TypeVar("T")
HANG_GUARD = 20.0  # seconds; far above any expected run, only there to catch a hang


async def guarded(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, HANG_GUARD)


def a_week_away() -> str:
    return format_datetime(datetime.now(timezone.utc) + timedelta(days=7), usegmt=True)


@pytest.mark.parametrize("when", ["86400", "a week away"])
async def test_later_calls_are_not_held_by_a_wait_the_client_does_not_honour(
    emu: Emulator, when: str
) -> None:
    emu.store.add_messages("thread_r", 2)
    retry_after = a_week_away() if when == "a week away" else when
    emu.faults.add(Fault.error(429, headers={"Retry-After": retry_after}), route="list", nth=1)
    async with om.Client(api_key=API_KEY, base_url=emu.url) as client:
        with pytest.raises(om.RateLimitError) as first:
            await guarded(client.list("thread_r").collect())
        assert (first.value.retry_after or 0) > 86_000  # failed at once, not retried
        # not paused for a wait nobody honours: the next call goes, within its timeout
        assert len(await guarded(client.list("thread_r", timeout=1).collect())) == 2
        assert client.limiter.stats.pauses == 0


async def test_the_wait_for_the_limiter_counts_in_the_call_timeout(emu: Emulator) -> None:
    emu.store.add_messages("thread_r", 2)
    emu.faults.add(Fault.rate_limited(retry_after=30), route="list", nth=1)
    async with om.Client(api_key=API_KEY, base_url=emu.url) as client:
        with pytest.raises(om.RateLimitError):
            await guarded(client.list("thread_r", max_retries=0).collect())
        assert client.limiter.stats.pauses >= 1  # 30 s is honoured: every caller waits
        with pytest.raises(om.APITimeoutError, match="rate limiter") as info:
            await guarded(client.list("thread_r", timeout=1, max_retries=0).collect())
        assert "Retry-After" in str(info.value)
        assert client.limiter.stats.timeouts == 1
        assert client.limiter.in_flight == 0
    assert len(emu.log.filter("list")) == 1  # the second call sent nothing


async def test_a_short_retry_after_still_holds_every_caller(emu: Emulator) -> None:
    emu.store.add_messages("thread_r", 2)
    emu.faults.add(Fault.rate_limited(None, retry_after_ms=200), route="list", nth=1)
    async with om.Client(api_key=API_KEY, base_url=emu.url) as client:
        with pytest.raises(om.RateLimitError):
            await guarded(client.list("thread_r", max_retries=0).collect())
        delayed = client.limiter.stats.delayed
        assert len(await guarded(client.list("thread_r", timeout=5).collect())) == 2
        assert client.limiter.stats.pauses >= 1
        assert client.limiter.stats.delayed == delayed + 1  # it waited for the pause


async def test_an_export_of_four_threads_goes_on_after_one_long_retry_after(
    emu: Emulator,
) -> None:
    thread_ids = emu.store.seed(4, 30)
    emu.faults.add(Fault.rate_limited(retry_after=86400), route="list", nth=1)
    out = io.BytesIO()
    sink = JsonlSink(out)
    stats = ExportStats()
    # as the CLI builds it: default limits and timeout, four re-sends
    policy = om.RetryPolicy(max_retries=4)
    async with om.Client(api_key=API_KEY, base_url=emu.url, retry_policy=policy) as client:
        failures = await guarded(export_threads(client, thread_ids, sink, stats, concurrency=4))
    assert [type(f.error) for f in failures] == [om.RateLimitError]
    failed = failures[0].thread_id
    written = Counter(orjson.loads(line)["thread_id"] for line in out.getvalue().splitlines())
    assert written == {tid: 30 for tid in thread_ids if tid != failed}
    assert stats.threads_done == 3
