"""The JSON bodies of the creates and modifies, their arguments checked (pure).

Each function returns the body as a JSON-ready dict, for
:meth:`~openai_messages._core.operations.Operation.request` to encode, or raises
:class:`~openai_messages.errors.InvalidArgumentError` naming the argument. Every body is
built by :func:`_object`; the other arguments of a call (ids, query) are checked by the
request builder, as its declaration says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, cast

import attrs
import orjson

from .. import errors
from .._codec import converter
from .._codec.literals import ApiVersion
from . import checks as validation

__all__ = [
    "IDEMPOTENCY_MARKER",
    "MAX_ITEMS_PER_CALL",
    "check_items",
    "conversation",
    "items",
    "message",
    "thread",
    "update",
    "with_marker",
]

IDEMPOTENCY_MARKER: Final = "om_idempotency_key"
"""The metadata key under which a message create stores its idempotency key (see README)."""
MAX_ITEMS_PER_CALL: Final = 20
"""The most items one ``POST /conversations`` or ``POST .../items`` may carry."""


def _object(required: Mapping[str, Any], **optional: Any) -> dict[str, Any]:
    """A body: ``required`` as given (a None too), then each of ``optional`` not None."""
    body = dict(required)
    body.update((name, value) for name, value in optional.items() if value is not None)
    return body


# -- messages and threads --------------------------------------------------------------


def _content_part(part: object, index: int) -> Any:
    if isinstance(part, Mapping):
        if not isinstance(part.get("type"), str):
            raise errors.InvalidArgumentError(f"content[{index}] needs a 'type'")
        return dict(part)
    if attrs.has(type(part)):
        return converter.unstructure(part)
    raise errors.InvalidArgumentError(
        f"content[{index}] must be a content part or a dict, not {type(part).__name__}"
    )


def _attachments(value: object) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise errors.InvalidArgumentError("attachments must be a list")
    out: list[Any] = []
    for index, item in enumerate(value):
        if attrs.has(type(item)):
            out.append(converter.unstructure(item))
        elif isinstance(item, Mapping) and isinstance(item.get("file_id"), str):
            out.append(dict(item))
        else:
            raise errors.InvalidArgumentError(
                f"attachments[{index}] must be an Attachment or a dict with a file_id"
            )
    return out


def message(
    role: object,
    content: object,
    *,
    attachments: object = None,
    metadata: object = None,
    file_ids: object = None,
    api_version: ApiVersion = "v2",
    marker: str | None = None,
) -> dict[str, Any]:
    """A message as a create sends it, and as each of a new thread's ``messages``.

    ``marker`` (the create's idempotency key) also goes into the metadata when it has
    room for it (see :func:`with_marker`), so that a reconcile can recognise exactly
    this create.
    """
    role = validation.check_role(role)
    checked = validation.check_content(content)
    if not isinstance(checked, str):
        checked = [_content_part(p, i) for i, p in enumerate(checked)]
    parts = _attachments(attachments)
    ids = validation.check_file_ids(file_ids)
    if api_version == "v1" and parts is not None:
        raise errors.InvalidArgumentError("attachments are a v2 field; use file_ids with v1")
    if api_version != "v1" and ids is not None:
        raise errors.InvalidArgumentError(
            "file_ids is a v1 field; use attachments with v2 (or api_version='v1')"
        )
    meta = validation.check_metadata(metadata)
    if marker is not None:
        meta = with_marker(meta, marker)
    return _object(
        {"role": role, "content": checked},
        file_ids=ids,
        attachments=parts,
        metadata=meta,
    )


def with_marker(metadata: dict[str, str] | None, key: str) -> dict[str, str] | None:
    """``metadata`` with the idempotency key added as a marker, when it has room for it."""
    meta = dict(metadata or {})
    if IDEMPOTENCY_MARKER in meta or len(meta) >= validation.MAX_METADATA_KEYS:
        return metadata
    if len(key) > validation.MAX_METADATA_VALUE_LENGTH:
        return metadata
    meta[IDEMPOTENCY_MARKER] = key
    return meta


_INITIAL_KEYS: Final = frozenset({"role", "content", "attachments", "metadata", "file_ids"})


def _initial_message(item: object, index: int, api_version: ApiVersion) -> dict[str, Any]:
    """One of a new thread's ``messages``, checked as a create's message is."""
    if not isinstance(item, Mapping):
        raise errors.InvalidArgumentError(f"messages[{index}] must be a dict")
    unknown = set(item) - _INITIAL_KEYS
    if unknown:
        raise errors.InvalidArgumentError(f"messages[{index}] has unknown keys {sorted(unknown)}")
    try:
        return message(
            item.get("role"),
            item.get("content"),
            attachments=item.get("attachments"),
            metadata=item.get("metadata"),
            file_ids=item.get("file_ids"),
            api_version=api_version,
        )
    except errors.InvalidArgumentError as exc:
        raise errors.InvalidArgumentError(f"messages[{index}]: {exc}") from None


def _tool_resources(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise errors.InvalidArgumentError(
            f"tool_resources must be a mapping, not {type(value).__name__}"
        )
    return dict(value)


def thread(
    *,
    messages: object = None,
    metadata: object = None,
    tool_resources: object = None,
    api_version: ApiVersion = "v2",
) -> dict[str, Any]:
    """A new thread, optionally with its first messages (dicts of create's arguments)."""
    initial = None
    if messages is not None:
        if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Iterable):
            raise errors.InvalidArgumentError("messages must be a list of message dicts")
        initial = [_initial_message(m, i, api_version) for i, m in enumerate(messages)]
    return _object(
        {},
        messages=initial,
        metadata=validation.check_metadata(metadata),
        tool_resources=_tool_resources(tool_resources),
    )


def update(metadata: object, *, tool_resources: object = None) -> dict[str, Any]:
    """A modify (message, thread) or a conversation update: its metadata replaced (None
    sent as is), and a thread's tool resources when given. The same body twice is one
    result."""
    return _object(
        {"metadata": validation.check_metadata(metadata)},
        tool_resources=_tool_resources(tool_resources),
    )


# -- conversations ---------------------------------------------------------------------


def _item(item: object, index: int) -> dict[str, Any]:
    if attrs.has(type(item)):
        item = converter.unstructure(item)
    if not isinstance(item, Mapping):
        raise errors.InvalidArgumentError(
            f"items[{index}] must be an item dict or model, not {type(item).__name__}"
        )
    kind = item.get("type", "message")
    if not isinstance(kind, str) or not kind:
        raise errors.InvalidArgumentError(f"items[{index}].type must be a non-empty str")
    if kind == "message":
        if not isinstance(item.get("role"), str):
            raise errors.InvalidArgumentError(f"items[{index}] is a message and needs a role")
        content = item.get("content")
        if not isinstance(content, (str, list, tuple)):
            raise errors.InvalidArgumentError(
                f"items[{index}].content must be a str or a list of content parts"
            )
    try:
        return cast("dict[str, Any]", orjson.loads(orjson.dumps(item)))
    except TypeError:
        raise errors.InvalidArgumentError(f"items[{index}] is not JSON") from None


def check_items(value: object, *, allow_empty: bool = False) -> list[dict[str, Any]]:
    """The items of a create as JSON objects: 1 to 20 (0 too with ``allow_empty``)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise errors.InvalidArgumentError("items must be a list of items")
    out = [_item(item, i) for i, item in enumerate(value)]
    if not out and not allow_empty:
        raise errors.InvalidArgumentError("items must hold at least one item")
    if len(out) > MAX_ITEMS_PER_CALL:
        raise errors.InvalidArgumentError(
            f"at most {MAX_ITEMS_PER_CALL} items a call, got {len(out)}; send them in batches"
        )
    return out


def conversation(*, items: object = None, metadata: object = None) -> dict[str, Any]:
    """A new conversation, with up to 20 first items."""
    return _object(
        {},
        items=None if items is None else check_items(items, allow_empty=True),
        metadata=validation.check_metadata(metadata),
    )


def items(value: object) -> dict[str, Any]:
    """An items create: 1 to 20 items. Not idempotent."""
    return _object({"items": check_items(value)})
