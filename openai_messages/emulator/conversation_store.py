"""In-memory conversations and their items, with cursor paging as for threads.

Each conversation keeps an append-only sequence of item records (a deleted item stays
as a tombstone, so a cursor naming it keeps working) and its items' serialised form.
Conversations themselves are kept in creation order, for Foundry's list.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Protocol

import attrs
import orjson

from .store import JSON, live_page

__all__ = ["ConversationRecord", "ConversationStore", "ItemRecord"]


class _Ids(Protocol):
    def new(self, prefix: str) -> str: ...


_ID_PREFIXES = {
    "message": "msg_",
    "function_call": "fc_",
    "function_call_output": "fco_",
    "reasoning": "rs_",
}


@attrs.define(eq=False)
class ItemRecord:
    """One stored item (or, once ``deleted`` is set, its tombstone)."""

    id: str
    pos: int
    data: JSON
    json: bytes
    deleted: bool = False


@attrs.define(eq=False)
class ConversationRecord:
    """A conversation: its metadata and its item sequence."""

    id: str
    pos: int
    created_at: int
    metadata: dict[str, str]
    items: list[ItemRecord] = attrs.field(factory=list)
    positions: dict[str, int] = attrs.field(factory=dict)
    deleted: bool = False

    def json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "object": "conversation",
                "created_at": self.created_at,
                "metadata": self.metadata,
            }
        )

    def find(self, item_id: str) -> ItemRecord | None:
        """The live item ``item_id``, or None."""
        pos = self.positions.get(item_id)
        if pos is None or self.items[pos].deleted:
            return None
        return self.items[pos]

    def live_items(self) -> list[ItemRecord]:
        """Every item not deleted, oldest first."""
        return [r for r in self.items if not r.deleted]


class ConversationStore:
    """Every conversation of an emulator."""

    def __init__(self, ids: _Ids) -> None:
        self.ids = ids
        self._by_id: dict[str, ConversationRecord] = {}
        self._order: list[ConversationRecord] = []
        self._positions: dict[str, int] = {}

    def create(
        self, metadata: dict[str, str] | None = None, items: Iterable[JSON] = ()
    ) -> ConversationRecord:
        """A new conversation holding ``items`` (already checked and normalised)."""
        record = ConversationRecord(
            self.ids.new("conv_"), len(self._order), int(time.time()), dict(metadata or {})
        )
        self._by_id[record.id] = record
        self._positions[record.id] = record.pos
        self._order.append(record)
        self.add_items(record, items)
        return record

    def get(self, conversation_id: str) -> ConversationRecord | None:
        """The live conversation, or None."""
        record = self._by_id.get(conversation_id)
        return None if record is None or record.deleted else record

    def delete(self, conversation_id: str) -> bool:
        """Delete a conversation and its items; False if it was not there."""
        record = self.get(conversation_id)
        if record is None:
            return False
        record.deleted = True
        record.items.clear()
        record.positions.clear()
        return True

    def ids_of(self) -> list[str]:
        """The ids of the live conversations, oldest first."""
        return [r.id for r in self._order if not r.deleted]

    def add_items(self, record: ConversationRecord, items: Iterable[JSON]) -> list[ItemRecord]:
        """Append ``items`` (normalised, without ids) in order; their records."""
        out = []
        for item in items:
            kind = item.get("type", "message")
            item_id = self.ids.new(_ID_PREFIXES.get(kind, "item_"))
            data: dict[str, Any] = {"id": item_id, **item}
            data = {"type": kind, **data}
            stored = ItemRecord(item_id, len(record.items), data, orjson.dumps(data))
            record.items.append(stored)
            record.positions[item_id] = stored.pos
            out.append(stored)
        return out

    def items(self, conversation_id: str) -> list[JSON]:
        """The live items of a conversation, oldest first (for tests)."""
        record = self.get(conversation_id)
        if record is None:
            raise KeyError(conversation_id)
        return [r.data for r in record.live_items()]

    def page(
        self,
        record: ConversationRecord,
        *,
        limit: int,
        ascending: bool,
        after: int | None,
        before: int | None,
    ) -> tuple[list[ItemRecord], bool]:
        """One page of items, in the requested order, and ``has_more``."""
        return live_page(record.items, limit=limit, ascending=ascending, after=after, before=before)

    def conversation_position(self, conversation_id: str) -> int | None:
        """Where a conversation stands in the list (a cursor), or None: no such id."""
        return self._positions.get(conversation_id)

    def conversation_page(
        self, *, limit: int, ascending: bool, after: int | None, before: int | None
    ) -> tuple[list[ConversationRecord], bool]:
        """One page of conversations (Foundry's list), between two positions."""
        return live_page(self._order, limit=limit, ascending=ascending, after=after, before=before)
