"""Finding out whether an ambiguous create stored its message (pure helpers).

A create that failed after the server may have applied it (a 5xx, a read timeout, a
connection dropped after sending) is never re-sent blindly. The client first lists the
thread's newest messages and looks for the one it sent: the one whose metadata holds
its idempotency key (:func:`find_marked`), or, when the metadata had no room for the
key, the one with the same role, content, attachments or file ids and metadata,
created no earlier than the first attempt by the server's clock (:func:`find_created`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._codec.models import Message

__all__ = [
    "content_signature",
    "find_created",
    "find_marked",
    "message_signature",
    "without_marker",
]


def content_signature(content: str | Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
    """What the server stores for create's ``content``, in a comparable form."""
    if isinstance(content, str):
        return (("text", content),)
    parts: list[Any] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.append(("text", part.get("text")))
        elif kind == "image_file":
            parts.append(("image_file", (part.get("image_file") or {}).get("file_id")))
        elif kind == "image_url":
            parts.append(("image_url", (part.get("image_url") or {}).get("url")))
        else:
            parts.append((kind, None))
    return tuple(parts)


def message_signature(message: Message) -> tuple[Any, ...]:
    """A stored message's content in the form of :func:`content_signature`."""
    parts: list[Any] = []
    for block in message.content:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(("text", block.text.value))  # type: ignore[union-attr]
        elif kind == "image_file":
            parts.append(("image_file", block.image_file.file_id))  # type: ignore[union-attr]
        elif kind == "image_url":
            parts.append(("image_url", block.image_url.url))  # type: ignore[union-attr]
        else:
            parts.append((kind, None))
    return tuple(parts)


def _file_ids(message: Message) -> list[str]:
    if message.file_ids:
        return list(message.file_ids)
    return [a.file_id for a in message.attachments or () if a.file_id is not None]


def find_created(
    candidates: Sequence[Message],
    body: Mapping[str, Any],
    *,
    not_before: float,
) -> list[Message]:
    """The messages among ``candidates`` that the create ``body`` would have stored."""
    wanted = content_signature(body["content"])
    role = body["role"]
    metadata = body.get("metadata") or {}
    files = list(body.get("file_ids") or ()) + [
        a["file_id"] for a in body.get("attachments") or () if isinstance(a, Mapping)
    ]
    found = []
    for message in candidates:
        if message.role != role or message_signature(message) != wanted:
            continue
        if dict(message.metadata or {}) != metadata:
            continue
        if sorted(_file_ids(message)) != sorted(files):
            continue
        if message.created_at is not None and message.created_at < not_before:
            continue
        found.append(message)
    return found


def find_marked(candidates: Sequence[Message], marker: str, key: str) -> list[Message]:
    """The messages among ``candidates`` whose metadata holds ``marker: key`` exactly."""
    return [m for m in candidates if m.metadata is not None and m.metadata.get(marker) == key]


def without_marker(body: Mapping[str, Any], marker: str) -> dict[str, Any]:
    """The create ``body`` as it would be without the marker in its metadata."""
    out = dict(body)
    metadata = {k: v for k, v in (body.get("metadata") or {}).items() if k != marker}
    if metadata:
        out["metadata"] = metadata
    else:
        out.pop("metadata", None)
    return out
