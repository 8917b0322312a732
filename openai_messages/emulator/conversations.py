"""The Conversations routes: ``/conversations[/{id}[/items[/{item_id}]]]``, checked as the
OpenAI specification says (at most 20 items a call, roles and part types, metadata limits,
unknown ids 404, ``limit`` 1-100 default 20, ``order`` default desc).

Served on the OpenAI (``/v1``), Azure OpenAI v1 (``/openai/v1``) and Foundry
(``/api/projects/{project}/openai/v1``, which also lists conversations) prefixes. The
fault kinds apply as on every route; ``partial_commit`` stores only the first
``count`` items of a batch before failing.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from aiohttp import web

from .access import Flavour
from .conversation_store import ConversationRecord, ConversationStore
from .errors import ApiError
from .routes import Ctx, PageQuery, Reply, Route, list_reply, paged
from .store import JSON
from .validation import (
    _missing,
    _string,
    bad_type,
    bad_value,
    check_id,
    check_metadata,
    only_keys,
    parse_body,
)

__all__ = ["CONVERSATIONS", "CONVERSATION_PREFIXES", "CONVERSATION_ROUTES", "MAX_ITEMS"]

CONVERSATIONS: Final = web.AppKey("openai_messages_emulator_conversations", ConversationStore)

#: (path prefix, flavour) of the conversation routes.
CONVERSATION_PREFIXES: Final[tuple[tuple[str, Flavour], ...]] = (
    ("/v1", "openai"),
    ("", "openai"),
    ("/openai/v1", "azure_v1"),
    ("/api/projects/{project}/openai/v1", "foundry_v1"),
)

MAX_ITEMS: Final = 20
_ROLES: Final = ("user", "assistant", "system", "developer")
_INPUT_PARTS: Final = ("input_text", "input_image", "input_file")
_OUTPUT_PARTS: Final = ("output_text", "refusal")
_ITEM_TYPES: Final = frozenset(
    {"message", "function_call", "function_call_output", "reasoning", "item_reference"}
)
_DETAILS: Final = ("auto", "low", "high")
_CREATE_KEYS: Final = frozenset({"items", "metadata"})
_UPDATE_KEYS: Final = frozenset({"metadata"})
_ITEMS_KEYS: Final = frozenset({"items"})


# -- checks --------------------------------------------------------------------------


def _one_of(param: str, value: object, allowed: tuple[str, ...]) -> str:
    text = _string(param, value)
    if text not in allowed:
        supported = ", ".join(f"'{a}'" for a in allowed[:-1]) + f" and '{allowed[-1]}'"
        bad_value(param, f"'{text[:64]}'. Supported values are: {supported}.")
    return text


def _part(param: str, value: object, allowed: tuple[str, ...]) -> JSON:
    if not isinstance(value, dict):
        bad_type(param, "an object", value)
    kind = _one_of(f"{param}.type", value.get("type"), allowed)
    if kind in ("input_text", "output_text"):
        keys = {"type", "text"} | ({"annotations", "logprobs"} if kind == "output_text" else set())
        only_keys(param, value, frozenset(keys))
        part: JSON = {"type": kind, "text": _string(f"{param}.text", value.get("text"))}
        if kind == "output_text":
            annotations = value.get("annotations", [])
            if not isinstance(annotations, list):
                bad_type(f"{param}.annotations", "an array", annotations)
            part["annotations"] = annotations
            if "logprobs" in value:
                part["logprobs"] = value["logprobs"]
        return part
    if kind == "refusal":
        only_keys(param, value, frozenset({"type", "refusal"}))
        return {"type": kind, "refusal": _string(f"{param}.refusal", value.get("refusal"))}
    if kind == "input_image":
        only_keys(param, value, frozenset({"type", "image_url", "file_id", "detail"}))
        if value.get("image_url") is None and value.get("file_id") is None:
            bad_value(param, "an input_image needs 'file_id' or 'image_url'.")
        image: JSON = {"type": kind, "detail": "auto", "file_id": None, "image_url": None}
        for key in ("file_id", "image_url"):
            if value.get(key) is not None:
                image[key] = _string(f"{param}.{key}", value[key], non_empty=True)
        if "detail" in value:
            image["detail"] = _one_of(f"{param}.detail", value["detail"], _DETAILS)
        return image
    only_keys(param, value, frozenset({"type", "file_id", "filename", "file_url", "file_data"}))
    if all(value.get(k) is None for k in ("file_id", "file_url", "file_data")):
        bad_value(param, "an input_file needs 'file_id', 'file_url' or 'file_data'.")
    out: JSON = {"type": kind}
    for key in ("file_id", "filename", "file_url", "file_data"):
        if value.get(key) is not None:
            out[key] = _string(f"{param}.{key}", value[key])
    return out


def _message(param: str, item: JSON) -> JSON:
    only_keys(param, item, frozenset({"type", "role", "content", "id", "status"}))
    role = _one_of(f"{param}.role", item.get("role"), _ROLES)
    allowed = _OUTPUT_PARTS if role == "assistant" else _INPUT_PARTS
    content = item.get("content")
    if isinstance(content, str):
        text_kind = "output_text" if role == "assistant" else "input_text"
        parts: list[JSON] = [{"type": text_kind, "text": content}]
        if role == "assistant":
            parts[0]["annotations"] = []
    elif isinstance(content, list):
        parts = [_part(f"{param}.content[{i}]", p, allowed) for i, p in enumerate(content)]
    else:
        bad_type(f"{param}.content", "a string or an array", content)
    return {"type": "message", "status": "completed", "role": role, "content": parts}


def check_items(value: object, param: str = "items") -> list[JSON]:
    """Validate the items of a create and return them as stored (without ids)."""
    if not isinstance(value, list):
        bad_type(param, "an array", value)
    if len(value) > MAX_ITEMS:
        bad_value(
            param,
            f"array too long. Expected an array with maximum length {MAX_ITEMS}, "
            f"but got an array with length {len(value)} instead.",
            "array_above_max_length",
        )
    out = []
    for i, item in enumerate(value):
        where = f"{param}[{i}]"
        if not isinstance(item, dict):
            bad_type(where, "an object", item)
        kind = _string(f"{where}.type", item.get("type", "message"))
        if kind not in _ITEM_TYPES:
            bad_value(f"{where}.type", f"'{kind[:64]}' is not a supported item type.")
        if kind == "message":
            out.append(_message(where, item))
        else:
            stored = {k: v for k, v in item.items() if k != "id"}
            stored.setdefault("status", "completed")
            out.append(stored)
    return out


# -- routes --------------------------------------------------------------------------


def _store(ctx: Ctx) -> ConversationStore:
    return ctx.request.app[CONVERSATIONS]


def _conversation(ctx: Ctx) -> ConversationRecord:
    conversation_id = check_id("conversation_id", ctx.request.match_info["conversation_id"])
    record = _store(ctx).get(conversation_id)
    if record is None:
        raise ApiError(404, f"Conversation with id '{conversation_id}' not found.")
    return record


def _stored_count(ctx: Ctx, wanted: int) -> int:
    """How many of a batch to store: all, or a ``partial_commit`` fault's ``count``."""
    fault = ctx.fault
    if fault is not None and fault.kind == "partial_commit":
        return min(wanted, fault.count)
    return wanted


def route_create_conversation(ctx: Ctx) -> Reply:
    """POST /conversations (``items`` at most 20, ``metadata``)"""
    body = parse_body(ctx.body)
    only_keys("", body, _CREATE_KEYS)
    items = check_items(body["items"]) if body.get("items") is not None else []
    metadata = check_metadata(body.get("metadata"))
    record = _store(ctx).create(metadata, items[: _stored_count(ctx, len(items))])
    return 200, record.json()


def route_retrieve_conversation(ctx: Ctx) -> Reply:
    """GET /conversations/{conversation_id}"""
    return 200, _conversation(ctx).json()


def route_update_conversation(ctx: Ctx) -> Reply:
    """POST /conversations/{conversation_id} (``metadata``, required)"""
    record = _conversation(ctx)
    body = parse_body(ctx.body)
    only_keys("", body, _UPDATE_KEYS)
    if "metadata" not in body:
        _missing("metadata")
    record.metadata = check_metadata(body["metadata"])
    return 200, record.json()


def route_delete_conversation(ctx: Ctx) -> Reply:
    """DELETE /conversations/{conversation_id}"""
    record = _conversation(ctx)
    _store(ctx).delete(record.id)
    return 200, orjson.dumps({"id": record.id, "object": "conversation.deleted", "deleted": True})


def _page_args(ctx: Ctx) -> PageQuery:
    limit, ascending, after, before = ctx.page_query()
    if before is not None and ctx.flavour != "foundry_v1":
        raise ApiError(
            400, "Unknown parameter: 'before'.", param="before", code="unknown_parameter"
        )
    return limit, ascending, after, before


def route_list_conversations(ctx: Ctx) -> Reply:
    """GET /conversations (Foundry only: OpenAI does not list conversations)"""
    if ctx.flavour != "foundry_v1":
        raise ApiError(404, f"Invalid URL (GET {ctx.request.path})")
    store = _store(ctx)
    records, more = paged(
        ctx,
        _page_args(ctx),
        store.conversation_position,
        lambda limit, ascending, after, before: store.conversation_page(
            limit=limit, ascending=ascending, after=after, before=before
        ),
        "no conversation with id '{}'.",
    )
    return list_reply([r.json() for r in records], [r.id for r in records], more)


def route_create_items(ctx: Ctx) -> Reply:
    """POST /conversations/{conversation_id}/items (``items``: 1 to 20)"""
    record = _conversation(ctx)
    body = parse_body(ctx.body)
    only_keys("", body, _ITEMS_KEYS)
    if "items" not in body:
        _missing("items")
    items = check_items(body["items"])
    if not items:
        bad_value(
            "items",
            "array too short. Expected an array with minimum length 1, but got an empty array.",
            "array_below_min_length",
        )
    stored = _store(ctx).add_items(record, items[: _stored_count(ctx, len(items))])
    return list_reply([r.json for r in stored], [r.id for r in stored], False)


def route_list_items(ctx: Ctx) -> Reply:
    """GET /conversations/{conversation_id}/items (``limit``, ``order``, ``after``;
    ``before`` on Foundry)"""
    query = _page_args(ctx)
    record = _conversation(ctx)
    records, more = paged(
        ctx,
        query,
        record.positions.get,
        lambda limit, ascending, after, before: _store(ctx).page(
            record, limit=limit, ascending=ascending, after=after, before=before
        ),
        "no item with id '{}' in this conversation.",
    )
    return list_reply([r.json for r in records], [r.id for r in records], more)


def _item(ctx: Ctx, record: ConversationRecord) -> Any:
    item_id = check_id("item_id", ctx.request.match_info["item_id"])
    item = record.find(item_id)
    if item is None:
        raise ApiError(404, f"Item with id '{item_id}' not found.")
    return item


def route_retrieve_item(ctx: Ctx) -> Reply:
    """GET /conversations/{conversation_id}/items/{item_id}"""
    return 200, _item(ctx, _conversation(ctx)).json


def route_delete_item(ctx: Ctx) -> Reply:
    """DELETE /conversations/{conversation_id}/items/{item_id} (answers the conversation)"""
    record = _conversation(ctx)
    _item(ctx, record).deleted = True
    return 200, record.json()


_ONE = "/conversations/{conversation_id}"
_ITEMS = _ONE + "/items"
CONVERSATION_ROUTES: Final[list[tuple[str, str, str, Route]]] = [
    ("POST", "/conversations", "create_conversation", route_create_conversation),
    ("GET", "/conversations", "list_conversations", route_list_conversations),
    ("GET", _ONE, "retrieve_conversation", route_retrieve_conversation),
    ("POST", _ONE, "update_conversation", route_update_conversation),
    ("DELETE", _ONE, "delete_conversation", route_delete_conversation),
    ("POST", _ITEMS, "create_items", route_create_items),
    ("GET", _ITEMS, "list_items", route_list_items),
    ("GET", _ITEMS + "/{item_id}", "retrieve_item", route_retrieve_item),
    ("DELETE", _ITEMS + "/{item_id}", "delete_item", route_delete_item),
]
