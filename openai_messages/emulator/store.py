"""In-memory threads and messages, with cursor paging in O(log n + limit).

Every thread keeps an append-only sequence of message records ordered by creation
(``created_at`` never decreases along the sequence, ties are broken by position).
Deleting a message turns its record into a tombstone that keeps its position, so a
cursor naming a deleted message keeps working.  A ``run_id`` filter pages over a
per-run list of positions, so it is as cheap as an unfiltered page.
"""

from __future__ import annotations

import gc
import random
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import attrs
import orjson

__all__ = [
    "IdFactory",
    "MessageRecord",
    "Store",
    "Thread",
    "live_page",
    "select_page",
    "text_content",
]

JSON = dict[str, Any]

_MASK96 = (1 << 96) - 1
_MULT = 0x9E3779B97F4A7C15F39CC061  # odd, so n -> n * _MULT mod 2**96 is a bijection


class IdFactory:
    """Unique, random-looking ids: ``prefix`` + 24 hex chars from a mixed counter."""

    __slots__ = ("_counter", "_salt")

    def __init__(self, seed: int | None = None) -> None:
        rng = random.Random(seed)
        self._salt = rng.getrandbits(96)
        self._counter = rng.getrandbits(20)

    def new(self, prefix: str) -> str:
        """Return a fresh id such as ``msg_3f0c...`` (never repeats for this factory)."""
        n = self._counter
        self._counter = n + 1
        return f"{prefix}{((n * _MULT) ^ self._salt) & _MASK96:024x}"


def _compact(data: bytes) -> bytes:
    """A copy of ``data`` in a block of its own size (see :meth:`MessageRecord.json`)."""
    return memoryview(data).tobytes()


def text_content(value: str) -> list[JSON]:
    """The stored form of a plain text message body."""
    return [{"type": "text", "text": {"value": value, "annotations": []}}]


@attrs.define(eq=False, weakref_slot=False)
class MessageRecord:
    """One stored message (or, once ``deleted`` is set, its tombstone)."""

    id: str
    pos: int
    thread_id: str
    created_at: int
    role: str
    content: list[JSON] | None
    attachments: list[JSON]
    file_ids: list[str]
    metadata: dict[str, str]
    assistant_id: str | None
    run_id: str | None
    text: str = ""
    """The body of a plain text message when ``content`` is None."""
    deleted: bool = attrs.field(default=False, kw_only=True)
    _v1: bytes | None = attrs.field(default=None, kw_only=True, repr=False)
    _v2: bytes | None = attrs.field(default=None, kw_only=True, repr=False)

    def blocks(self) -> list[JSON]:
        """The stored content blocks (built on demand for bulk-seeded text messages,
        and not kept: long-lived containers would only slow the garbage collector)."""
        if self.content is None:
            return text_content(self.text)
        return self.content

    def v2(self) -> JSON:
        """The message in the Assistants v2 shape (every field the spec requires)."""
        return {
            "id": self.id,
            "object": "thread.message",
            "created_at": self.created_at,
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "status": "completed",
            "incomplete_details": None,
            "completed_at": self.created_at,
            "incomplete_at": None,
            "role": self.role,
            "content": self.blocks(),
            "attachments": self.attachments,
            "metadata": self.metadata,
        }

    def v1(self) -> JSON:
        """The message in the legacy v1 shape (``file_ids``, no status/attachments)."""
        return {
            "id": self.id,
            "object": "thread.message",
            "created_at": self.created_at,
            "thread_id": self.thread_id,
            "role": self.role,
            "content": self.blocks(),
            "file_ids": self.all_file_ids(),
            "assistant_id": self.assistant_id,
            "run_id": self.run_id,
            "metadata": self.metadata,
        }

    def json(self, version: int) -> bytes:
        """Serialised form for ``version`` (1 or 2), cached until the record changes.

        The cached copy is exactly its length: the bytes ``orjson.dumps`` returns sit in
        a block of at least 4 KiB, which kept for every message read made the emulator
        grow by ~40 KB per 5-message thread served.
        """
        if version == 1:
            if self._v1 is None:
                self._v1 = _compact(orjson.dumps(self.v1()))
            return self._v1
        if self._v2 is None:
            self._v2 = _compact(orjson.dumps(self.v2()))
        return self._v2

    def set_metadata(self, metadata: dict[str, str]) -> None:
        """Replace the metadata (and drop the cached serialisations)."""
        self.metadata = metadata
        self._v1 = self._v2 = None

    def all_file_ids(self) -> list[str]:
        """v1 file ids: the explicit ones, then those of attachments, without repeats."""
        if not self.attachments:
            return self.file_ids
        seen = dict.fromkeys(self.file_ids)
        for att in self.attachments:
            fid = att.get("file_id")
            if isinstance(fid, str):
                seen.setdefault(fid)
        return list(seen)

    def file_object(self, file_id: str) -> JSON:
        """A v1 ``thread.message.file`` object of this message."""
        return {
            "id": file_id,
            "object": "thread.message.file",
            "created_at": self.created_at,
            "message_id": self.id,
        }


class Thread:
    """A thread: its append-only message sequence and the indexes over it."""

    __slots__ = (
        "created_at",
        "id",
        "idempotency",
        "last_created_at",
        "live",
        "metadata",
        "positions",
        "records",
        "runs",
        "tool_resources",
    )

    def __init__(
        self,
        thread_id: str,
        metadata: dict[str, str] | None = None,
        tool_resources: JSON | None = None,
    ) -> None:
        self.id = thread_id
        self.created_at = int(time.time())
        self.metadata = dict(metadata or {})
        self.tool_resources: JSON = dict(tool_resources or {})
        self.records: list[MessageRecord] = []
        self.positions: dict[str, int] = {}
        self.runs: dict[str, list[int]] = {}
        self.idempotency: dict[str, str] = {}
        self.live = 0
        self.last_created_at = 0

    def v2(self) -> JSON:
        """The thread object in the Assistants v2 shape."""
        return {
            "id": self.id,
            "object": "thread",
            "created_at": self.created_at,
            "metadata": self.metadata,
            "tool_resources": self.tool_resources,
        }

    def v1(self) -> JSON:
        """The thread object in the legacy v1 shape (no ``tool_resources``)."""
        return {
            "id": self.id,
            "object": "thread",
            "created_at": self.created_at,
            "metadata": self.metadata,
        }

    def append(self, record: MessageRecord) -> None:
        """Add ``record`` at the end of the sequence (its ``pos`` must be ``len(records)``)."""
        self.records.append(record)
        self.positions[record.id] = record.pos
        if record.run_id is not None:
            self.runs.setdefault(record.run_id, []).append(record.pos)
        self.live += 1

    def find(self, message_id: str) -> MessageRecord | None:
        """The record of ``message_id`` (a tombstone if deleted) or None."""
        pos = self.positions.get(message_id)
        return None if pos is None else self.records[pos]

    def next_created_at(self) -> int:
        """A creation time that keeps ``created_at`` non-decreasing along the sequence."""
        now = int(time.time())
        if now < self.last_created_at:
            now = self.last_created_at
        self.last_created_at = now
        return now


class _Deletable(Protocol):
    deleted: bool


DeletableT = TypeVar("DeletableT", bound=_Deletable)


def live_page(
    records: Sequence[DeletableT],
    *,
    limit: int,
    ascending: bool,
    after: int | None,
    before: int | None,
    keys: Sequence[int] | None = None,
) -> tuple[list[DeletableT], bool]:
    """One page of the ``records`` not deleted and ``has_more`` (:func:`select_page`);
    ``keys`` are the positions to choose from (all of them by default)."""
    positions, more = select_page(
        range(len(records)) if keys is None else keys,
        lambda p: not records[p].deleted,
        limit=limit,
        ascending=ascending,
        after=after,
        before=before,
    )
    return [records[p] for p in positions], more


def select_page(
    keys: Sequence[int],
    is_live: Callable[[int], bool],
    *,
    limit: int,
    ascending: bool,
    after: int | None = None,
    before: int | None = None,
) -> tuple[list[int], bool]:
    """Pick one page of positions from ``keys`` (sorted ascending positions).

    ``after``/``before`` are cursor positions (they need not be in ``keys``).  In the
    requested order, ``after`` keeps the items following the cursor and ``before`` the
    items preceding it; with only ``before`` the page is the ``limit`` items right
    before the cursor.  Returns the positions in the requested order and ``has_more``:
    whether more live items lie beyond the page in the walking direction.
    """
    lo, hi = 0, len(keys)
    if ascending:
        if after is not None:
            lo = bisect_right(keys, after)
        if before is not None:
            hi = bisect_left(keys, before)
    else:
        if after is not None:
            hi = bisect_left(keys, after)
        if before is not None:
            lo = bisect_right(keys, before)
    upward = ascending if (after is not None or before is None) else not ascending
    out: list[int] = []
    has_more = False
    if upward:
        i = lo
        while i < hi:
            pos = keys[i]
            i += 1
            if is_live(pos):
                if len(out) == limit:
                    has_more = True
                    break
                out.append(pos)
    else:
        i = hi - 1
        while i >= lo:
            pos = keys[i]
            i -= 1
            if is_live(pos):
                if len(out) == limit:
                    has_more = True
                    break
                out.append(pos)
    if upward != ascending:
        out.reverse()
    return out, has_more


class Store:
    """The emulator's data: threads and their messages, as plain dicts on the way out."""

    def __init__(self, seed: int | None = None) -> None:
        self.ids = IdFactory(seed)
        self._threads: dict[str, Thread] = {}
        self.thread_idempotency: dict[str, str] = {}
        """``Idempotency-Key`` of a thread create -> the id of the thread it created."""
        self._thread_order: list[str | None] = []
        """Every thread id ever created, in creation order (a deleted one stays a cursor)."""
        self._thread_positions: dict[str, int] = {}
        self._last_thread_at = 0

    # -- threads -------------------------------------------------------------------
    def create_thread(
        self,
        thread_id: str | None = None,
        metadata: dict[str, str] | None = None,
        tool_resources: JSON | None = None,
    ) -> str:
        """Create a thread (or return ``thread_id`` unchanged if it exists already)."""
        if thread_id is None:
            thread_id = self.ids.new("thread_")
        if thread_id not in self._threads:
            thread = self._threads[thread_id] = Thread(thread_id, metadata, tool_resources)
            # creation times never decrease along the list, as for messages
            thread.created_at = self._last_thread_at = max(thread.created_at, self._last_thread_at)
            old = self._thread_positions.get(thread_id)
            if old is not None:  # made again after a delete: it moves to the end
                self._thread_order[old] = None
            self._thread_positions[thread_id] = len(self._thread_order)
            self._thread_order.append(thread_id)
        return thread_id

    def delete_thread(self, thread_id: str) -> bool:
        """Delete a thread and every message in it; False if it was not there."""
        return self._threads.pop(thread_id, None) is not None

    def thread(self, thread_id: str) -> Thread | None:
        """The internal thread object, or None."""
        return self._threads.get(thread_id)

    def thread_ids(self) -> list[str]:
        """Every thread id, in creation order."""
        return list(self._threads)

    def thread_position(self, thread_id: str) -> int | None:
        """Where a thread (live or deleted) is in the creation order; None if never made."""
        return self._thread_positions.get(thread_id)

    def thread_page(
        self,
        *,
        limit: int,
        ascending: bool,
        after: int | None = None,
        before: int | None = None,
    ) -> tuple[list[Thread], bool]:
        """One page of live threads by creation (see :func:`select_page` for the cursors)."""
        order, threads = self._thread_order, self._threads
        positions, has_more = select_page(
            range(len(order)),
            lambda p: order[p] in threads,  # None (an id made again later) is never in
            limit=limit,
            ascending=ascending,
            after=after,
            before=before,
        )
        return [threads[tid] for p in positions if (tid := order[p]) is not None], has_more

    def _require(self, thread_id: str) -> Thread:
        try:
            return self._threads[thread_id]
        except KeyError:
            raise KeyError(f"no thread {thread_id!r}") from None

    # -- messages ------------------------------------------------------------------
    def new_record(
        self,
        thread: Thread,
        role: str,
        content: list[JSON],
        *,
        metadata: dict[str, str] | None = None,
        file_ids: list[str] | None = None,
        attachments: list[JSON] | None = None,
        run_id: str | None = None,
        assistant_id: str | None = None,
    ) -> MessageRecord:
        """Append a message to ``thread`` and return its record."""
        record = MessageRecord(
            self.ids.new("msg_"),
            len(thread.records),
            thread.id,
            thread.next_created_at(),
            role,
            content,
            attachments if attachments is not None else [],
            file_ids if file_ids is not None else [],
            metadata if metadata is not None else {},
            assistant_id,
            run_id,
        )
        thread.append(record)
        return record

    def add_message(
        self,
        thread_id: str,
        role: str = "user",
        content: str | list[JSON] = "text",
        *,
        metadata: dict[str, str] | None = None,
        file_ids: list[str] | None = None,
        attachments: list[JSON] | None = None,
        run_id: str | None = None,
        assistant_id: str | None = None,
    ) -> JSON:
        """Store one message (creating the thread if needed); return it in the v2 shape.

        ``content`` is a string or a list of content blocks in their stored form (any
        block is kept as given, so tests can seed annotations or unknown block types).
        """
        thread = self._threads.get(thread_id) or self._threads[self.create_thread(thread_id)]
        blocks = text_content(content) if isinstance(content, str) else list(content)
        record = self.new_record(
            thread,
            role,
            blocks,
            metadata=dict(metadata) if metadata else None,
            file_ids=list(file_ids) if file_ids else None,
            attachments=list(attachments) if attachments else None,
            run_id=run_id,
            assistant_id=assistant_id,
        )
        return record.v2()

    def add_messages(
        self, thread_id: str, count: int, *, text: str = "Message {i}", role: str | None = None
    ) -> list[str]:
        """Append ``count`` text messages fast; return their ids in creation order.

        ``{i}`` in ``text`` becomes the message's position in the thread.  Roles
        alternate user/assistant unless ``role`` is given.
        """
        thread = self._threads.get(thread_id) or self._threads[self.create_thread(thread_id)]
        ids: list[str] = []
        start = len(thread.records)
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of new containers would trigger useless full collections
        try:
            self._bulk(thread, start, count, text, role, ids)
        finally:
            if gc_was_enabled:
                gc.enable()
        thread.live += count
        return ids

    def _bulk(
        self, thread: Thread, start: int, count: int, text: str, role: str | None, ids: list[str]
    ) -> None:
        records = thread.records
        positions = thread.positions
        created_at = thread.next_created_at()
        new_id = self.ids.new
        templated = "{i}" in text
        thread_id = thread.id
        for pos in range(start, start + count):
            mid = new_id("msg_")
            value = text.replace("{i}", str(pos)) if templated else text
            rec = MessageRecord(
                mid,
                pos,
                thread_id,
                created_at,
                role or ("user" if pos % 2 == 0 else "assistant"),
                None,
                [],
                [],
                {},
                None,
                None,
                value,
            )
            records.append(rec)
            positions[mid] = pos
            ids.append(mid)

    def seed(
        self, threads: int, messages_per_thread: int, *, text: str = "Message {i}"
    ) -> list[str]:
        """Create ``threads`` threads of ``messages_per_thread`` messages; return their ids."""
        out: list[str] = []
        for _ in range(threads):
            tid = self.create_thread()
            self.add_messages(tid, messages_per_thread, text=text)
            out.append(tid)
        return out

    def messages(self, thread_id: str) -> list[JSON]:
        """The live messages of a thread, oldest first, in the v2 shape."""
        return [r.v2() for r in self._require(thread_id).records if not r.deleted]

    def get(self, thread_id: str, message_id: str) -> JSON | None:
        """One live message in the v2 shape, or None."""
        thread = self._threads.get(thread_id)
        record = thread.find(message_id) if thread else None
        return None if record is None or record.deleted else record.v2()

    def delete(self, thread_id: str, message_id: str) -> bool:
        """Delete a message (leaving a tombstone); False if it was not there."""
        thread = self._threads.get(thread_id)
        record = thread.find(message_id) if thread else None
        if thread is None or record is None or record.deleted:
            return False
        record.deleted = True
        thread.live -= 1
        return True

    def count(self, thread_id: str) -> int:
        """How many live messages the thread has."""
        return self._require(thread_id).live

    def page(
        self,
        thread: Thread,
        *,
        limit: int,
        ascending: bool,
        after: int | None = None,
        before: int | None = None,
        run_id: str | None = None,
    ) -> tuple[list[MessageRecord], bool]:
        """One page of live records (see :func:`select_page` for the cursor rules)."""
        keys = None if run_id is None else thread.runs.get(run_id, [])
        return live_page(
            thread.records, limit=limit, ascending=ascending, after=after, before=before, keys=keys
        )
