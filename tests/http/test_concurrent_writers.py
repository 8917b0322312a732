"""Walks while other writers create and delete messages, over real HTTP.

Whatever the writers do, a walk (forward with ``after=``, backward with ``before=``, with
or without prefetch, resumed from ``pager.cursor`` any number of times) must hand out
every message that existed for the whole walk exactly once, nothing twice, nothing that
was deleted before it started, and everything in walk order.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import openai_messages as om
from openai_messages.emulator import Emulator

from ..support import API_KEY, CHAOS_FULL, FAST_RETRIES, pending_tasks, settle

T = TypeVar("T")
THREAD = "thread_w"


@attrs.define
class WalkRecord:
    """One logical walk (possibly made of several pagers resumed from each other)."""

    order: om.Order
    backward: bool
    prefetch: int
    page_size: int
    anchor: str | None
    """The starting ``before=`` cursor of a backward walk."""
    live_at_start: set[str]
    deleted_before: set[str]
    deleted_during: set[str] = attrs.field(factory=set)
    seen: list[str] = attrs.field(factory=list)
    resumes: int = 0

    def pager(self, client: om.Client, cursor: str | None) -> om.Pager[Any, Any]:
        if self.backward:
            return client.list(
                THREAD,
                order=self.order,
                before=cursor,
                prefetch=self.prefetch,
                page_size=self.page_size,
            )
        return client.list(
            THREAD, order=self.order, after=cursor, prefetch=self.prefetch, page_size=self.page_size
        )


def positions(emu: Emulator) -> dict[str, int]:
    thread = emu.store.thread(THREAD)
    assert thread is not None
    return dict(thread.positions)


def check_walk(walk: WalkRecord, pos: dict[str, int], finished: bool) -> None:
    """The properties of a walk so far (all of them once ``finished``)."""
    seen = walk.seen
    assert len(seen) == len(set(seen)), "a message was handed out twice"
    assert set(seen) <= set(pos), "a message nobody created"
    assert not set(seen) & walk.deleted_before, "a message deleted before the walk began"
    increasing = (walk.order == "asc") != walk.backward
    steps = [pos[b] - pos[a] for a, b in itertools.pairwise(seen)]
    assert all((s > 0) == increasing for s in steps), "out of walk order"
    if walk.anchor is not None and seen:
        beyond = pos[seen[0]] - pos[walk.anchor]
        assert (beyond > 0) == increasing, "an item on the wrong side of before="
    if not finished:
        return
    stable = walk.live_at_start - walk.deleted_during
    if walk.anchor is not None:
        edge = pos[walk.anchor]
        stable = {m for m in stable if (pos[m] > edge) == increasing and m != walk.anchor}
    missing = stable - set(seen)
    assert not missing, f"{len(missing)} messages that existed all along were never seen"


# ----------------------------------------------------------------------------- stateful test


class WalkWhileWriting(RuleBasedStateMachine):
    """One thread, one walk at a time, writers acting between and during its steps."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.emu = Emulator(api_key=API_KEY)
        self.client: om.Client | None = None
        self.live: set[str] = set()
        self.deleted: set[str] = set()
        self.walk: WalkRecord | None = None
        self.pager: om.Pager[Any, Any] | None = None
        self.items: AsyncIterator[Any] | None = None
        self.walks_done = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def _open(self) -> om.Client:
        await self.emu.start()
        return om.Client(
            api_key=API_KEY, base_url=self.emu.url, retry_policy=FAST_RETRIES, retry_budget=None
        )

    @initialize(count=st.integers(0, 80))
    def seed(self, count: int) -> None:
        self.client = self.run(self._open())
        self.emu.store.create_thread(THREAD)
        self.live = set(self.emu.store.add_messages(THREAD, count))

    # -- writers -----------------------------------------------------------------------

    async def _create(self, count: int) -> None:
        assert self.client is not None
        made = await asyncio.gather(
            *(self.client.create(THREAD, role="user", content=f"new {i}") for i in range(count))
        )
        self.live |= {m.id for m in made}

    async def _delete(self, picks: list[int]) -> None:
        assert self.client is not None
        candidates = sorted(self.live, key=positions(self.emu).__getitem__)
        victims = {candidates[i % len(candidates)] for i in picks} if candidates else set()
        # Counted as deleted during the walk from the moment the request is made.
        self.live -= victims
        self.deleted |= victims
        if self.walk is not None:
            self.walk.deleted_during |= victims
        gone = await asyncio.gather(*(self.client.delete(THREAD, v) for v in victims))
        assert all(g.deleted for g in gone)

    @rule(count=st.integers(1, 12))
    def create(self, count: int) -> None:
        self.run(self._create(count))

    @rule(picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=8))
    def delete(self, picks: list[int]) -> None:
        self.run(self._delete(picks))

    # -- the walk ----------------------------------------------------------------------

    @precondition(lambda self: self.walk is None)
    @rule(
        order=st.sampled_from(["asc", "desc"]),
        backward=st.booleans(),
        prefetch=st.sampled_from([0, 1, 3]),
        page_size=st.integers(1, 30),
        anchor=st.integers(0, 10_000),
    )
    def start_walk(
        self, order: om.Order, backward: bool, prefetch: int, page_size: int, anchor: int
    ) -> None:
        assert self.client is not None
        everything = sorted(positions(self.emu), key=positions(self.emu).__getitem__)
        start = everything[anchor % len(everything)] if backward and everything else None
        self.walk = WalkRecord(
            order=order,
            backward=start is not None,
            prefetch=prefetch,
            page_size=page_size,
            anchor=start,
            live_at_start=set(self.live),
            deleted_before=set(self.deleted),
        )
        self.pager = self.walk.pager(self.client, start)
        self.items = aiter(self.pager)

    async def _pull(self, count: int) -> bool:
        """Take up to ``count`` items; False once the walk has ended."""
        assert self.walk is not None
        assert self.items is not None
        for _ in range(count):
            try:
                message = await anext(self.items)
            except StopAsyncIteration:
                return False
            self.walk.seen.append(message.id)
        return True

    def _finish(self) -> None:
        assert self.walk is not None
        check_walk(self.walk, positions(self.emu), finished=True)
        self.walk = self.pager = self.items = None
        self.walks_done += 1

    @precondition(lambda self: self.walk is not None)
    @rule(count=st.integers(1, 40))
    def step(self, count: int) -> None:
        if not self.run(self._pull(count)):
            self._finish()

    @precondition(lambda self: self.walk is not None)
    @rule(
        count=st.integers(1, 40),
        creates=st.integers(0, 6),
        picks=st.lists(st.integers(0, 10_000), max_size=6),
    )
    def step_while_writing(self, count: int, creates: int, picks: list[int]) -> None:
        async def both() -> bool:
            going, _, _ = await asyncio.gather(
                self._pull(count), self._create(creates), self._delete(picks)
            )
            return going

        if not self.run(both()):
            self._finish()

    @precondition(lambda self: self.walk is not None)
    @rule()
    def resume_from_cursor(self) -> None:
        assert self.walk is not None
        assert self.pager is not None
        assert self.client is not None
        if self.items is not None:
            self.run(self.items.aclose())  # type: ignore[attr-defined]
        cursor = self.pager.cursor
        if self.walk.seen:
            assert cursor == self.walk.seen[-1]
        self.walk.resumes += 1
        self.pager = self.walk.pager(self.client, cursor)
        self.items = aiter(self.pager)

    @precondition(lambda self: self.walk is not None)
    @rule()
    def walk_to_the_end(self) -> None:
        while self.run(self._pull(100)):
            pass
        self._finish()

    @invariant()
    def walk_so_far_is_consistent(self) -> None:
        if self.walk is not None:
            check_walk(self.walk, positions(self.emu), finished=False)

    def teardown(self) -> None:
        async def close() -> None:
            if self.items is not None:
                await self.items.aclose()  # type: ignore[attr-defined]
            if self.client is not None:
                await self.client.close()
            await self.emu.close()
            assert pending_tasks() == set()

        try:
            self.run(close())
            self.run(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()
        gc.collect()


def test_walks_under_concurrent_writers_stateful() -> None:
    run_state_machine_as_test(  # type: ignore[no-untyped-call,unused-ignore]
        WalkWhileWriting,
        settings=settings(
            max_examples=150 if CHAOS_FULL else 30,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# ----------------------------------------------------------------------------- at volume


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("backward", [False, True], ids=["after", "before"])
@pytest.mark.parametrize("prefetch", [0, 2])
async def test_long_walk_while_writers_run_flat_out(
    client: om.Client, emu: Emulator, order: om.Order, backward: bool, prefetch: int
) -> None:
    """Two writers create and delete without pause while a 2,000-message walk runs and is
    resumed from its cursor every 300 messages."""
    rng = random.Random(f"{order}{backward}{prefetch}")
    initial = emu.store.add_messages(THREAD, 2_000)
    live = set(initial)
    deleted_before = set(rng.sample(initial, 100))
    for message_id in deleted_before:
        emu.store.delete(THREAD, message_id)
    live -= deleted_before
    anchor = (initial[-1] if order == "asc" else initial[0]) if backward else None
    walk = WalkRecord(
        order=order,
        backward=backward,
        prefetch=prefetch,
        page_size=50,
        anchor=anchor,
        live_at_start=set(live),
        deleted_before=deleted_before,
    )
    stop = asyncio.Event()
    writes = 0

    async def writer(seed: int) -> None:
        nonlocal writes
        wrng = random.Random(seed)
        while not stop.is_set():
            if wrng.random() < 0.5:
                made = await client.create(THREAD, role="user", content="late")
                live.add(made.id)
            elif live:
                victim = wrng.choice(sorted(live))
                live.discard(victim)
                walk.deleted_during.add(victim)
                await client.delete(THREAD, victim)
            writes += 1
            await asyncio.sleep(0)

    writers = [asyncio.create_task(writer(s)) for s in (1, 2)]
    try:
        cursor = anchor
        while True:
            pager = walk.pager(client, cursor)
            got = 0
            async for message in pager:
                walk.seen.append(message.id)
                got += 1
                if got == 300:
                    break
            cursor = pager.cursor
            if got < 300:
                break
            walk.resumes += 1
    finally:
        stop.set()
        await asyncio.gather(*writers)
    check_walk(walk, positions(emu), finished=True)
    assert writes > 50, "the writers barely ran: the scenario is void"
    assert walk.resumes >= 4
    await settle(emu)
