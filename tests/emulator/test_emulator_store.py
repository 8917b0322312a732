"""The emulator's store: ids, bulk seeding, tombstones and cursor paging (no HTTP)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_messages.emulator import Store
from openai_messages.emulator.store import IdFactory, select_page


def _ids(store: Store, thread_id: str) -> list[str]:
    return [m["id"] for m in store.messages(thread_id)]


def test_ids_are_unique_and_well_formed() -> None:
    factory = IdFactory(seed=7)
    ids = [factory.new("msg_") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"msg_[0-9a-f]{24}", i) for i in ids)
    assert IdFactory(seed=7).new("msg_") == ids[0]  # seeded: reproducible
    assert IdFactory(seed=8).new("msg_") != ids[0]


def test_add_message_shapes_and_reads_back() -> None:
    store = Store(seed=1)
    tid = store.create_thread(metadata={"a": "b"})
    assert tid.startswith("thread_")
    msg = store.add_message(tid, "assistant", "hello", metadata={"k": "v"}, run_id="run_1")
    assert msg["content"] == [{"type": "text", "text": {"value": "hello", "annotations": []}}]
    assert msg["status"] == "completed"
    assert msg["completed_at"] == msg["created_at"]
    assert msg["run_id"] == "run_1"
    assert msg["attachments"] == []
    assert store.get(tid, msg["id"]) == msg
    assert store.count(tid) == 1
    assert store.thread_ids() == [tid]
    assert store.create_thread(tid) == tid  # existing thread: unchanged
    assert store.thread_ids() == [tid]


def test_add_message_creates_the_thread_and_keeps_custom_blocks() -> None:
    store = Store()
    blocks = [{"type": "fancy_new_block", "x": 1}]
    msg = store.add_message("thread_new", content=blocks)
    assert msg["content"] == blocks
    assert store.thread_ids() == ["thread_new"]


def test_delete_leaves_a_tombstone() -> None:
    store = Store()
    ids = store.add_messages("t", 5)
    assert store.delete("t", ids[2])
    assert not store.delete("t", ids[2])
    assert not store.delete("t", "msg_unknown")
    assert not store.delete("nope", ids[0])
    assert store.get("t", ids[2]) is None
    assert _ids(store, "t") == ids[:2] + ids[3:]
    assert store.count("t") == 4
    thread = store.thread("t")
    assert thread is not None
    assert thread.find(ids[2]) is not None  # the position is kept


def test_unknown_thread_raises_for_reads() -> None:
    store = Store()
    with pytest.raises(KeyError):
        store.messages("nope")
    with pytest.raises(KeyError):
        store.count("nope")
    assert store.get("nope", "msg_x") is None


def test_bulk_seeding_is_ordered() -> None:
    # (its speed, ~0.3 s for these 100,000, is the benchmarks' business, not a test's)
    store = Store(seed=3)
    ids = store.add_messages("big", 100_000, text="m{i}")
    assert len(set(ids)) == 100_000
    messages = store.messages("big")
    assert [m["id"] for m in messages[:3]] == ids[:3]
    assert messages[5]["content"][0]["text"]["value"] == "m5"
    assert [m["role"] for m in messages[:2]] == ["user", "assistant"]
    created = [m["created_at"] for m in messages]
    assert created == sorted(created)


def test_seed_creates_threads() -> None:
    store = Store()
    tids = store.seed(3, 4)
    assert len(tids) == 3
    assert all(store.count(t) == 4 for t in tids)


# -- select_page ---------------------------------------------------------------------

KEYS = range(10)


def _page(**kw: object) -> tuple[list[int], bool]:
    return select_page(KEYS, lambda _: True, **kw)  # type: ignore[arg-type]


def test_select_page_without_cursors() -> None:
    assert _page(limit=3, ascending=True) == ([0, 1, 2], True)
    assert _page(limit=3, ascending=False) == ([9, 8, 7], True)
    assert _page(limit=10, ascending=True) == (list(range(10)), False)


def test_select_page_after() -> None:
    assert _page(limit=3, ascending=True, after=4) == ([5, 6, 7], True)
    assert _page(limit=3, ascending=True, after=6) == ([7, 8, 9], False)
    assert _page(limit=3, ascending=False, after=4) == ([3, 2, 1], True)
    assert _page(limit=3, ascending=False, after=2) == ([1, 0], False)


def test_select_page_before_returns_the_items_just_before_in_requested_order() -> None:
    assert _page(limit=3, ascending=True, before=6) == ([3, 4, 5], True)
    assert _page(limit=3, ascending=True, before=2) == ([0, 1], False)
    assert _page(limit=3, ascending=False, before=4) == ([7, 6, 5], True)
    assert _page(limit=3, ascending=False, before=6) == ([9, 8, 7], False)


def test_select_page_between_after_and_before() -> None:
    assert _page(limit=10, ascending=True, after=2, before=6) == ([3, 4, 5], False)
    assert _page(limit=2, ascending=True, after=2, before=6) == ([3, 4], True)
    assert _page(limit=10, ascending=False, after=6, before=2) == ([5, 4, 3], False)


def test_select_page_skips_tombstones_and_filtered_keys() -> None:
    dead = {1, 2, 5}
    page, more = select_page(range(8), lambda p: p not in dead, limit=2, ascending=True, after=0)
    assert (page, more) == ([3, 4], True)
    page, more = select_page(range(8), lambda p: p not in dead, limit=2, ascending=True, after=4)
    assert (page, more) == ([6, 7], False)
    # keys that skip positions (a run_id filter), cursor outside the keys
    page, more = select_page([1, 4, 9], lambda _: True, limit=5, ascending=True, after=2)
    assert (page, more) == ([4, 9], False)


def test_store_page_by_run_id() -> None:
    store = Store()
    tid = store.create_thread()
    for i in range(6):
        store.add_message(tid, content=str(i), run_id="run_a" if i % 2 else None)
    thread = store.thread(tid)
    assert thread is not None
    records, more = store.page(thread, limit=2, ascending=True, run_id="run_a")
    assert [r.text or r.blocks()[0]["text"]["value"] for r in records] == ["1", "3"]
    assert more
    records, more = store.page(thread, limit=2, ascending=True, run_id="run_a", after=3)
    assert [r.blocks()[0]["text"]["value"] for r in records] == ["5"]
    assert not more
    assert store.page(thread, limit=2, ascending=True, run_id="run_zzz") == ([], False)


# -- walks with concurrent inserts and deletes (property) ---------------------------

ops = st.lists(st.tuples(st.sampled_from(["insert", "delete"]), st.integers(0, 10_000)), max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    initial=st.integers(0, 40),
    limit=st.integers(1, 7),
    ascending=st.booleans(),
    backwards=st.booleans(),
    steps=st.lists(ops, max_size=15),
)
def test_walk_sees_every_surviving_message_exactly_once(
    initial: int, limit: int, ascending: bool, backwards: bool, steps: list[list[tuple[str, int]]]
) -> None:
    """Walk by last_id (after) or by first_id (before) while messages come and go."""
    store = Store(seed=0)
    tid = store.create_thread()
    original = store.add_messages(tid, initial)
    thread = store.thread(tid)
    assert thread is not None
    expected = list(original)
    cursor: str | None = None
    if backwards:  # start from an anchor at the far end of the requested order
        if not original:
            return
        cursor = original[-1] if ascending else original[0]
        expected.remove(cursor)
    deleted: set[str] = set()
    pages: list[list[str]] = []
    for step in range(10_000):
        pos = None if cursor is None else thread.positions[cursor]
        if backwards:
            records, more = store.page(thread, limit=limit, ascending=ascending, before=pos)
        else:
            records, more = store.page(thread, limit=limit, ascending=ascending, after=pos)
        ids = [r.id for r in records]
        pages.append(ids)
        if not more or not ids:
            break
        cursor = ids[0] if backwards else ids[-1]
        for kind, n in steps[step] if step < len(steps) else []:
            live = _ids(store, tid)
            if kind == "insert":
                store.add_message(tid, content="new")
            elif live:
                victim = live[n % len(live)]
                store.delete(tid, victim)
                deleted.add(victim)
    seen = [i for page in pages for i in page]
    assert len(seen) == len(set(seen))  # never twice
    assert {i for i in expected if i not in deleted} <= set(seen)  # none missed
    sign = 1 if ascending else -1
    for page in pages:  # every page in the requested order
        positions = [sign * thread.positions[i] for i in page]
        assert positions == sorted(positions)
    firsts = [sign * thread.positions[p[0]] for p in pages if p]
    assert firsts == sorted(firsts, reverse=backwards)  # pages move in the walk direction
