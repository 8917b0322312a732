"""Helpers of the tests of ``import --to conversations``: the command's arguments and
what the emulator's conversations hold, checked against the export."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from openai_messages.cli.conversation_import import SOURCE_THREAD_KEY

from .cli_support import ServedEmulator
from .import_support import map_lines

__all__ = ["assert_in_conversations", "conversation_args", "conversations_of", "item_view"]


def conversation_args(
    served: ServedEmulator, export: Path, *more: str, url: str | None = None
) -> list[str]:
    base = url or served.emu.url
    return ["import", str(export), "--to", "conversations", "--base-url", base, *more]


def conversations_of(served: ServedEmulator) -> dict[str, list[str]]:
    """Each source thread's conversations on the emulator (by their metadata), in order."""
    store = served.emu.conversations

    def read() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for conversation_id in store.ids_of():
            record = store.get(conversation_id)
            assert record is not None
            out.setdefault(record.metadata.get(SOURCE_THREAD_KEY, ""), []).append(conversation_id)
        return out

    return served.call(read)


def item_view(served: ServedEmulator, conversation_id: str) -> list[tuple[Any, ...]]:
    """A conversation's items as (role, texts), oldest first."""
    items = served.call(lambda: served.emu.conversations.items(conversation_id))
    return [(i["role"], tuple(p["text"] for p in i["content"])) for i in items]


def _expected(message: dict[str, Any]) -> tuple[Any, ...]:
    return (message["role"], tuple(p["text"]["value"] for p in message["content"]))


def assert_in_conversations(
    served: ServedEmulator,
    sources: dict[str, list[dict[str, Any]]],
    map_path: Path | None = None,
) -> dict[str, str]:
    """Each source thread in exactly one conversation holding its messages once each, in
    order (any other conversation of it is empty); the map names each message once. The
    conversation of each source thread."""
    found = conversations_of(served)
    chosen: dict[str, str] = {}
    for src, messages in sources.items():
        holding = [c for c in found.get(src, []) if item_view(served, c)]
        assert len(holding) == 1, (src, found.get(src))
        chosen[src] = holding[0]
        assert item_view(served, holding[0]) == [_expected(m) for m in messages]
    if map_path is not None:
        lines = map_lines(map_path)
        assert len(lines) == sum(len(m) for m in sources.values())
        for src, messages in sources.items():
            items = served.call(functools.partial(served.emu.conversations.items, chosen[src]))
            expected = [
                {
                    "source_thread_id": src,
                    "source_id": m["id"],
                    "conversation_id": chosen[src],
                    "item_id": item["id"],
                }
                for m, item in zip(messages, items, strict=True)
            ]
            assert [line for line in lines if line["source_thread_id"] == src] == expected
    return chosen
