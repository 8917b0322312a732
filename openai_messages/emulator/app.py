"""The aiohttp application: routes, auth, validation, rendering and fault application."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any, NoReturn

import attrs
import orjson
from aiohttp import web
from multidict import CIMultiDict

from .access import PREFIXES, Flavour, check_access
from .entra import TokenIssuer
from .errors import ApiError, status_error
from .faults import PAGE_KINDS, POST_KINDS, Fault, Faults
from .log import LoggedRequest, RequestLog
from .ratelimit import RateLimit
from .store import JSON, MessageRecord, Store, Thread, select_page, text_content

__all__ = ["STATE", "ApiError", "EmulatorState", "make_app"]

logger = logging.getLogger(__name__)

_ID = re.compile(r"[A-Za-z0-9_\-]+")
_MAX_ID = 64
_JSON_CT = "application/json"


@attrs.define
class EmulatorState:
    """Everything the handlers read, shared with (and mutated through) the Emulator."""

    store: Store
    faults: Faults
    log: RequestLog
    api_key: str | None = None
    rate_limit: RateLimit | None = None
    latency: float = 0.0
    strict_ids: bool = True
    implicit_threads: bool = False
    entra: bool = False
    tokens: TokenIssuer = attrs.field(factory=TokenIssuer)
    in_flight: int = 0
    max_in_flight: int = 0

    def enter(self) -> None:
        """Count a request in flight."""
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight

    def leave(self) -> None:
        """Count a request done."""
        self.in_flight -= 1


STATE = web.AppKey("openai_messages_emulator_state", EmulatorState)


# -- validation helpers ------------------------------------------------------------


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _bad_type(param: str, expected: str, value: object) -> NoReturn:
    raise ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_describe(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _bad_value(param: str, message: str, code: str = "invalid_value") -> NoReturn:
    raise ApiError(400, f"Invalid '{param}': {message}", param=param, code=code)


def _unknown(param: str) -> NoReturn:
    raise ApiError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def _missing(param: str) -> NoReturn:
    raise ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def check_id(param: str, value: str) -> str:
    """Validate an id taken from the path or the query."""
    if len(value) > _MAX_ID:
        _bad_value(
            param,
            f"string too long. Expected a string with maximum length {_MAX_ID}, "
            f"but got a string with length {len(value)} instead.",
            "string_above_max_length",
        )
    if not _ID.fullmatch(value):
        _bad_value(param, "expected an ID made of letters, digits, underscores or dashes.")
    return value


def _string(param: str, value: object, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        _bad_type(param, "a string", value)
    if non_empty and not value:
        _bad_value(
            param,
            "empty string. Expected a string with minimum length 1, but got an empty string.",
            "empty_string",
        )
    return value


def _object(param: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        _bad_type(param, "an object", value)
    return value


def _only(param: str, obj: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in obj:
        if key not in allowed:
            _unknown(f"{param}.{key}" if param else key)


def check_metadata(value: object, param: str = "metadata") -> dict[str, str]:
    """Validate metadata: at most 16 string keys <= 64 chars, string values <= 512."""
    if value is None:
        return {}
    meta = _object(param, value)
    if len(meta) > 16:
        _bad_value(
            param,
            "too many properties. Expected an object with at most 16 properties, "
            f"but got an object with {len(meta)} properties instead.",
            "object_above_max_properties",
        )
    for key, val in meta.items():
        if len(key) > 64:
            _bad_value(
                param,
                f"key too long. Expected keys of at most 64 characters, but got {len(key)}.",
                "string_above_max_length",
            )
        _string(f"{param}.{key}", val)
        if len(val) > 512:
            _bad_value(
                f"{param}.{key}",
                "string too long. Expected a string with maximum length 512, "
                f"but got a string with length {len(val)} instead.",
                "string_above_max_length",
            )
    return dict(meta)


_DETAILS = frozenset({"auto", "low", "high"})


def _image(param: str, value: object, key: str) -> dict[str, Any]:
    obj = _object(param, value)
    _only(param, obj, frozenset({key, "detail"}))
    if key not in obj:
        _missing(f"{param}.{key}")
    out = {key: _string(f"{param}.{key}", obj[key], non_empty=True)}
    if "detail" in obj:
        detail = _string(f"{param}.detail", obj["detail"])
        if detail not in _DETAILS:
            _bad_value(f"{param}.detail", "expected one of 'auto', 'low' or 'high'.")
        out["detail"] = detail
    return out


def check_content(value: object, param: str = "content") -> list[JSON]:
    """Validate request content and return it in its stored form."""
    if isinstance(value, str):
        _string(param, value, non_empty=True)
        return text_content(value)
    if not isinstance(value, list):
        _bad_type(param, "a string or an array of content parts", value)
    if not value:
        _bad_value(
            param,
            "empty array. Expected an array with minimum length 1.",
            "empty_array",
        )
    out: list[JSON] = []
    for i, raw in enumerate(value):
        where = f"{param}[{i}]"
        part = _object(where, raw)
        kind = part.get("type")
        if kind == "text":
            _only(where, part, frozenset({"type", "text"}))
            if "text" not in part:
                _missing(f"{where}.text")
            out.extend(text_content(_string(f"{where}.text", part["text"])))
        elif kind == "image_file":
            _only(where, part, frozenset({"type", "image_file"}))
            if "image_file" not in part:
                _missing(f"{where}.image_file")
            image = _image(f"{where}.image_file", part["image_file"], "file_id")
            out.append({"type": "image_file", "image_file": image})
        elif kind == "image_url":
            _only(where, part, frozenset({"type", "image_url"}))
            if "image_url" not in part:
                _missing(f"{where}.image_url")
            image = _image(f"{where}.image_url", part["image_url"], "url")
            out.append({"type": "image_url", "image_url": image})
        elif kind is None:
            _missing(f"{where}.type")
        else:
            _bad_value(
                f"{where}.type",
                f"{kind!r}. Expected one of 'text', 'image_file' or 'image_url'.",
            )
    return out


_TOOLS = frozenset({"code_interpreter", "file_search"})


def check_attachments(value: object, name: str = "attachments") -> list[JSON]:
    """Validate ``attachments`` (a list of ``{file_id, tools}`` or null)."""
    if value is None:
        return []
    if not isinstance(value, list):
        _bad_type(name, "an array", value)
    out: list[JSON] = []
    for i, raw in enumerate(value):
        param = f"{name}[{i}]"
        att = _object(param, raw)
        _only(param, att, frozenset({"file_id", "tools"}))
        if "file_id" not in att:
            _missing(f"{param}.file_id")
        file_id = check_id(f"{param}.file_id", _string(f"{param}.file_id", att["file_id"]))
        tools_raw = att.get("tools", [])
        if not isinstance(tools_raw, list):
            _bad_type(f"{param}.tools", "an array", tools_raw)
        tools: list[JSON] = []
        for j, tool_raw in enumerate(tools_raw):
            tparam = f"{param}.tools[{j}]"
            tool = _object(tparam, tool_raw)
            _only(tparam, tool, frozenset({"type"}))
            if tool.get("type") not in _TOOLS:
                _bad_value(f"{tparam}.type", "expected 'code_interpreter' or 'file_search'.")
            tools.append({"type": tool["type"]})
        out.append({"file_id": file_id, "tools": tools})
    return out


def check_file_ids(value: object, name: str = "file_ids") -> list[str]:
    """Validate v1 ``file_ids`` (at most 10 file ids)."""
    if value is None:
        return []
    if not isinstance(value, list):
        _bad_type(name, "an array", value)
    if len(value) > 10:
        _bad_value(
            name,
            "array too long. Expected an array with maximum length 10, "
            f"but got an array with length {len(value)} instead.",
            "array_above_max_length",
        )
    return [check_id(f"{name}[{i}]", _string(f"{name}[{i}]", v)) for i, v in enumerate(value)]


def parse_body(raw: bytes) -> dict[str, Any]:
    """Decode a JSON object body (an empty body counts as ``{}``)."""
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
        ) from None
    if not isinstance(value, dict):
        raise ApiError(400, f"Invalid body: expected a JSON object, got {_describe(value)}.")
    return value


def parse_limit(raw: str | None) -> int:
    """Validate the ``limit`` query parameter (1..100, default 20)."""
    if raw is None or raw == "":
        return 20
    try:
        limit = int(raw)
    except ValueError:
        _bad_value("limit", f"expected an integer, but got {raw[:32]!r} instead.", "invalid_type")
    if limit < 1:
        _bad_value(
            "limit",
            f"integer below minimum value. Expected a value >= 1, but got {limit} instead.",
            "integer_below_min_value",
        )
    if limit > 100:
        _bad_value(
            "limit",
            f"integer above maximum value. Expected a value <= 100, but got {limit} instead.",
            "integer_above_max_value",
        )
    return limit


def parse_order(raw: str | None) -> bool:
    """Validate ``order``; True for ascending (default descending)."""
    if raw is None or raw == "" or raw == "desc":
        return False
    if raw == "asc":
        return True
    _bad_value("order", f"{raw[:32]!r}. Expected one of 'asc' or 'desc'.")


# -- request context and replies ---------------------------------------------------


_ID_PREFIXES = {"thread_id": "thread", "message_id": "msg"}


def check_id_prefix(param: str, value: str) -> str:
    """The real API's check that a path id names the right kind of object.

    The wording is the API's own ("Invalid 'thread_id': 'undefined'. Expected an ID that
    begins with 'thread'."); the code is the one it sends with the same message elsewhere.
    """
    prefix = _ID_PREFIXES.get(param)
    if prefix is not None and not value.startswith(prefix):
        raise ApiError(
            400,
            f"Invalid '{param}': '{value}'. Expected an ID that begins with '{prefix}'.",
            param=param,
            code="invalid_id_prefix",
        )
    return value


@attrs.define
class Ctx:
    """What a route implementation needs."""

    request: web.Request
    store: Store
    version: int
    body: bytes
    fault: Fault | None
    flavour: Flavour = "openai"
    strict_ids: bool = True
    implicit_threads: bool = False

    def path_id(self, name: str) -> str:
        value = check_id(name, self.request.match_info[name])
        return check_id_prefix(name, value) if self.strict_ids else value

    def query_id(self, name: str) -> str | None:
        value = self.request.query.get(name)
        return None if not value else check_id(name, value)

    def thread(self) -> Thread:
        thread_id = self.path_id("thread_id")
        thread = self.store.thread(thread_id)
        if thread is None:
            raise ApiError(404, f"No thread found with id '{thread_id}'.")
        return thread

    def message(self, thread: Thread) -> MessageRecord:
        message_id = self.path_id("message_id")
        record = thread.find(message_id)
        if record is None or record.deleted:
            raise ApiError(404, f"No message found with id '{message_id}'.")
        return record

    def page_fault(self) -> str | None:
        fault = self.fault
        return fault.kind if fault is not None and fault.kind in PAGE_KINDS else None

    def list_body(
        self, items: list[bytes], first: str | None, last: str | None, has_more: bool
    ) -> bytes:
        """A list reply; Foundry's omits ``first_id`` (its schema has ``last_id`` only)."""
        return list_body(items, first, last, has_more, with_first_id=self.flavour != "foundry")


Reply = tuple[int, bytes]


def list_body(
    items: list[bytes],
    first: str | None,
    last: str | None,
    has_more: bool,
    *,
    with_first_id: bool = True,
) -> bytes:
    """A ``list`` object built from pre-serialised items."""
    return b"".join(
        (
            b'{"object":"list","data":[',
            b",".join(items),
            b'],"first_id":' + orjson.dumps(first) if with_first_id else b"]",
            b',"last_id":',
            orjson.dumps(last),
            b',"has_more":',
            b"true" if has_more else b"false",
            b"}",
        )
    )


_CREATE_V2 = frozenset({"role", "content", "attachments", "metadata"})
_CREATE_V1 = frozenset({"role", "content", "file_ids", "metadata"})
_MODIFY = frozenset({"metadata"})


@attrs.frozen
class NewMessage:
    """A validated create-message body."""

    role: str
    content: list[JSON]
    metadata: dict[str, str]
    attachments: list[JSON]
    file_ids: list[str]


def check_new_message(raw: object, version: int, where: str = "") -> NewMessage:
    """Validate a create-message body (``where`` prefixes parameter names, e.g.
    ``messages[0]``)."""
    body = _object(where or "body", raw) if where else raw
    assert isinstance(body, dict)
    _only(where, body, _CREATE_V1 if version == 1 else _CREATE_V2)
    dot = f"{where}." if where else ""
    if "role" not in body:
        _missing(dot + "role")
    if "content" not in body:
        _missing(dot + "content")
    role = _string(dot + "role", body["role"])
    if role not in ("user", "assistant"):
        _bad_value(dot + "role", f"{role[:32]!r}. Expected one of 'user' or 'assistant'.")
    return NewMessage(
        role=role,
        content=check_content(body["content"], dot + "content"),
        metadata=check_metadata(body.get("metadata"), dot + "metadata"),
        attachments=check_attachments(body.get("attachments"), dot + "attachments"),
        file_ids=check_file_ids(body.get("file_ids"), dot + "file_ids"),
    )


def _store_message(store: Store, thread: Thread, new: NewMessage) -> MessageRecord:
    return store.new_record(
        thread,
        new.role,
        new.content,
        metadata=new.metadata,
        file_ids=new.file_ids,
        attachments=new.attachments,
    )


def route_create(ctx: Ctx) -> Reply:
    """POST /threads/{thread_id}/messages"""
    thread_id = ctx.path_id("thread_id")
    new = check_new_message(parse_body(ctx.body), ctx.version)
    thread = ctx.store.thread(thread_id)
    if thread is None and ctx.implicit_threads:
        thread = ctx.store.thread(ctx.store.create_thread(thread_id))
    if thread is None:
        raise ApiError(404, f"No thread found with id '{thread_id}'.")
    key = ctx.request.headers.get("Idempotency-Key")
    if key:
        known = thread.idempotency.get(key)
        if known is not None:
            record = thread.find(known)
            assert record is not None
            return 200, record.json(ctx.version)
    record = _store_message(ctx.store, thread, new)
    if key:
        thread.idempotency[key] = record.id
    return 200, record.json(ctx.version)


def route_list(ctx: Ctx) -> Reply:
    """GET /threads/{thread_id}/messages"""
    query = ctx.request.query
    limit = parse_limit(query.get("limit"))
    ascending = parse_order(query.get("order"))
    after = ctx.query_id("after")
    before = ctx.query_id("before")
    run_id = query.get("run_id") or None
    thread = ctx.thread()
    anomaly = ctx.page_fault()
    if anomaly == "empty_has_more":
        return 200, ctx.list_body([], None, None, True)
    if anomaly == "repeat_page":
        after = before = None
    after_pos = before_pos = None
    if after is not None:
        after_pos = thread.positions.get(after)
        if after_pos is None:
            _bad_value("after", f"no message with id '{after}' in this thread.")
    if before is not None:
        before_pos = thread.positions.get(before)
        if before_pos is None:
            _bad_value("before", f"no message with id '{before}' in this thread.")
    records, has_more = ctx.store.page(
        thread,
        limit=limit,
        ascending=ascending,
        after=after_pos,
        before=before_pos,
        run_id=run_id,
    )
    if anomaly == "repeat_page":
        has_more = True
    elif anomaly == "reverse_page":
        records.reverse()
    version = ctx.version
    items = [r.json(version) for r in records]
    if not records:
        return 200, ctx.list_body(items, None, None, has_more)
    return 200, ctx.list_body(items, records[0].id, records[-1].id, has_more)


def route_retrieve(ctx: Ctx) -> Reply:
    """GET /threads/{thread_id}/messages/{message_id}"""
    return 200, ctx.message(ctx.thread()).json(ctx.version)


def route_modify(ctx: Ctx) -> Reply:
    """POST /threads/{thread_id}/messages/{message_id} (metadata only)"""
    thread = ctx.thread()
    record = ctx.message(thread)
    body = parse_body(ctx.body)
    _only("", body, _MODIFY)
    if "metadata" in body and body["metadata"] is not None:
        record.set_metadata(check_metadata(body["metadata"]))
    return 200, record.json(ctx.version)


def route_delete(ctx: Ctx) -> Reply:
    """DELETE /threads/{thread_id}/messages/{message_id}"""
    thread = ctx.thread()
    record = ctx.message(thread)
    ctx.store.delete(thread.id, record.id)
    return 200, orjson.dumps({"id": record.id, "object": "thread.message.deleted", "deleted": True})


def route_list_files(ctx: Ctx) -> Reply:
    """GET /threads/{thread_id}/messages/{message_id}/files (v1)"""
    query = ctx.request.query
    limit = parse_limit(query.get("limit"))
    ascending = parse_order(query.get("order"))
    after = ctx.query_id("after")
    before = ctx.query_id("before")
    record = ctx.message(ctx.thread())
    anomaly = ctx.page_fault()
    if anomaly == "empty_has_more":
        return 200, ctx.list_body([], None, None, True)
    if anomaly == "repeat_page":
        after = before = None
    file_ids = record.all_file_ids()
    index = {fid: i for i, fid in enumerate(file_ids)}
    cursors: dict[str, int | None] = {}
    for name, value in (("after", after), ("before", before)):
        cursors[name] = None
        if value is not None:
            if value not in index:
                _bad_value(name, f"no file with id '{value}' on this message.")
            cursors[name] = index[value]
    positions, has_more = select_page(
        range(len(file_ids)),
        lambda _: True,
        limit=limit,
        ascending=ascending,
        after=cursors["after"],
        before=cursors["before"],
    )
    if anomaly == "repeat_page":
        has_more = True
    elif anomaly == "reverse_page":
        positions.reverse()
    ids = [file_ids[p] for p in positions]
    items = [orjson.dumps(record.file_object(fid)) for fid in ids]
    return 200, ctx.list_body(items, ids[0] if ids else None, ids[-1] if ids else None, has_more)


def route_retrieve_file(ctx: Ctx) -> Reply:
    """GET /threads/{thread_id}/messages/{message_id}/files/{file_id} (v1)"""
    record = ctx.message(ctx.thread())
    file_id = ctx.path_id("file_id")
    if file_id not in record.all_file_ids():
        raise ApiError(404, f"No file found with id '{file_id}'.")
    return 200, orjson.dumps(record.file_object(file_id))


# -- threads -----------------------------------------------------------------------

_THREAD_V2 = frozenset({"messages", "metadata", "tool_resources"})
_THREAD_V1 = frozenset({"messages", "metadata"})
_MAX_THREAD_MESSAGES = 32


def _id_list(param: str, value: object, maximum: int) -> list[str]:
    if not isinstance(value, list):
        _bad_type(param, "an array", value)
    if len(value) > maximum:
        _bad_value(
            param,
            f"array too long. Expected an array with maximum length {maximum}, "
            f"but got an array with length {len(value)} instead.",
            "array_above_max_length",
        )
    return [check_id(f"{param}[{i}]", _string(f"{param}[{i}]", v)) for i, v in enumerate(value)]


def check_tool_resources(value: object, store: Store) -> JSON:
    """Validate ``tool_resources``; inline ``vector_stores`` become new vector store ids."""
    if value is None:
        return {}
    obj = _object("tool_resources", value)
    _only("tool_resources", obj, frozenset({"code_interpreter", "file_search"}))
    out: JSON = {}
    ci = obj.get("code_interpreter")
    if ci is not None:
        param = "tool_resources.code_interpreter"
        _only(param, _object(param, ci), frozenset({"file_ids"}))
        file_ids = _id_list(f"{param}.file_ids", ci.get("file_ids", []), 20)
        out["code_interpreter"] = {"file_ids": file_ids}
    fs = obj.get("file_search")
    if fs is not None:
        param = "tool_resources.file_search"
        _only(param, _object(param, fs), frozenset({"vector_store_ids", "vector_stores"}))
        ids = _id_list(f"{param}.vector_store_ids", fs.get("vector_store_ids", []), 1)
        stores = fs.get("vector_stores", [])
        if not isinstance(stores, list) or len(stores) > 1:
            _bad_value(f"{param}.vector_stores", "expected an array of at most 1 vector store.")
        if ids and stores:
            _bad_value(param, "give 'vector_store_ids' or 'vector_stores', not both.")
        for i, raw in enumerate(stores):
            _object(f"{param}.vector_stores[{i}]", raw)
            ids.append(store.ids.new("vs_"))
        out["file_search"] = {"vector_store_ids": ids}
    return out


def _thread_reply(thread: Thread, version: int) -> Reply:
    return 200, orjson.dumps(thread.v1() if version == 1 else thread.v2())


def route_create_thread(ctx: Ctx) -> Reply:
    """POST /threads (optional initial ``messages``, ``metadata``, ``tool_resources``)"""
    body = parse_body(ctx.body)
    _only("", body, _THREAD_V1 if ctx.version == 1 else _THREAD_V2)
    raw_messages = body.get("messages")
    if raw_messages is None:
        raw_messages = []
    elif not isinstance(raw_messages, list):
        _bad_type("messages", "an array", raw_messages)
    if len(raw_messages) > _MAX_THREAD_MESSAGES:
        _bad_value(
            "messages",
            f"array too long. Expected an array with maximum length {_MAX_THREAD_MESSAGES}, "
            f"but got an array with length {len(raw_messages)} instead.",
            "array_above_max_length",
        )
    new = [check_new_message(m, ctx.version, f"messages[{i}]") for i, m in enumerate(raw_messages)]
    metadata = check_metadata(body.get("metadata"))
    store = ctx.store
    tool_resources = check_tool_resources(body.get("tool_resources"), store)
    key = ctx.request.headers.get("Idempotency-Key")
    if key:
        known = store.thread(store.thread_idempotency.get(key, ""))
        if known is not None:
            return _thread_reply(known, ctx.version)
    thread = store.thread(store.create_thread(None, metadata, tool_resources))
    assert thread is not None
    for message in new:
        _store_message(store, thread, message)
    if key:
        store.thread_idempotency[key] = thread.id
    return _thread_reply(thread, ctx.version)


def route_retrieve_thread(ctx: Ctx) -> Reply:
    """GET /threads/{thread_id}"""
    return _thread_reply(ctx.thread(), ctx.version)


def route_modify_thread(ctx: Ctx) -> Reply:
    """POST /threads/{thread_id} (``metadata``, ``tool_resources``)"""
    thread = ctx.thread()
    body = parse_body(ctx.body)
    _only("", body, _MODIFY if ctx.version == 1 else frozenset({"metadata", "tool_resources"}))
    if body.get("metadata") is not None:
        thread.metadata = check_metadata(body["metadata"])
    if body.get("tool_resources") is not None:
        thread.tool_resources = check_tool_resources(body["tool_resources"], ctx.store)
    return _thread_reply(thread, ctx.version)


def route_delete_thread(ctx: Ctx) -> Reply:
    """DELETE /threads/{thread_id} (its messages go with it)"""
    thread = ctx.thread()
    ctx.store.delete_thread(thread.id)
    return 200, orjson.dumps({"id": thread.id, "object": "thread.deleted", "deleted": True})


Route = Callable[[Ctx], Reply]
_M = "/threads/{thread_id}/messages"
ROUTE_TABLE: list[tuple[str, str, str, Route]] = [
    ("POST", "/threads", "create_thread", route_create_thread),
    ("GET", "/threads/{thread_id}", "retrieve_thread", route_retrieve_thread),
    ("POST", "/threads/{thread_id}", "modify_thread", route_modify_thread),
    ("DELETE", "/threads/{thread_id}", "delete_thread", route_delete_thread),
    ("POST", _M, "create", route_create),
    ("GET", _M, "list", route_list),
    ("GET", _M + "/{message_id}", "retrieve", route_retrieve),
    ("POST", _M + "/{message_id}", "modify", route_modify),
    ("DELETE", _M + "/{message_id}", "delete", route_delete),
    ("GET", _M + "/{message_id}/files", "list_files", route_list_files),
    ("GET", _M + "/{message_id}/files/{file_id}", "retrieve_file", route_retrieve_file),
]


# -- dispatch ----------------------------------------------------------------------


def _api_version(headers: Mapping[str, str]) -> int:
    beta = headers.get("OpenAI-Beta")
    return 1 if beta and "assistants=v1" in beta.replace(" ", "") else 2


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _html_page(status: int, body: str | None) -> bytes:
    if body is not None:
        return body.encode()
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    title = f"{status} {reason}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def _drop(request: web.Request) -> web.Response:
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=500)


def _cut(length: int, fraction: float, minimum: int) -> int:
    return min(max(int(length * fraction), minimum), max(length - 1, 0))


async def _drop_mid_body(
    request: web.Request, status: int, payload: bytes, headers: dict[str, str], fraction: float
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(payload)
    await response.prepare(request)
    cut = _cut(len(payload), fraction, 0)
    if cut:
        await response.write(payload[:cut])
    _drop(request)
    return response


def _arrival(request: web.Request, route: str | None) -> LoggedRequest:
    return LoggedRequest(
        method=request.method,
        route=route,
        path=request.path,
        query=dict(request.query),
        headers=CIMultiDict(request.headers),
        time=time.monotonic(),
        request_id="req_" + secrets.token_hex(16),
    )


class Dispatcher:
    """Wraps a route implementation with auth, rate limiting, faults and logging."""

    def __init__(self, name: str, route: Route, flavour: Flavour) -> None:
        self.name = name
        self.route = route
        self.flavour = flavour

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler."""
        state = request.app[STATE]
        rec = _arrival(request, self.name)
        state.log.append(rec)
        state.enter()
        headers = {"x-request-id": rec.request_id}
        try:
            return await self._handle(request, state, rec, headers)
        except Exception:
            logger.exception("emulator: unexpected error in %s", self.name)
            return _json(rec, 500, status_error(500).body(), headers)
        finally:
            rec.done = True
            state.leave()

    async def _handle(
        self,
        request: web.Request,
        state: EmulatorState,
        rec: LoggedRequest,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        if state.latency > 0:
            await asyncio.sleep(state.latency)
        denied = check_access(
            request, self.flavour, api_key=state.api_key, tokens=state.tokens, entra=state.entra
        )
        limiter = state.rate_limit
        if denied is not None:
            if limiter is not None:
                headers.update(limiter.peek().headers())
            headers.update(denied.headers)
            return _json(rec, denied.status, denied.body(), headers)
        if limiter is not None:
            decision = limiter.acquire()
            headers.update(decision.headers())
            if not decision.allowed:
                return _json(rec, 429, status_error(429).body(), headers)
        fault = rec.fault = state.faults.pick(self.name)
        if fault is not None:
            early = await _pre_fault(request, fault, headers, rec)
            if early is not None:
                return early
        try:
            if request.can_read_body:
                rec.body = await request.read()
            ctx = Ctx(
                request,
                state.store,
                _api_version(request.headers),
                rec.body,
                fault,
                self.flavour,
                state.strict_ids,
                state.implicit_threads,
            )
            status, payload = self.route(ctx)
        except ApiError as exc:
            status, payload = exc.status, exc.body()
        except web.HTTPException as exc:  # e.g. 413 from request.read()
            err = status_error(exc.status, exc.reason)
            status, payload = err.status, err.body()
        if fault is not None and fault.kind in POST_KINDS:
            return await _post_fault(request, fault, status, payload, headers, rec)
        return _json(rec, status, payload, headers)


def _json(rec: LoggedRequest, status: int, payload: bytes, headers: dict[str, str]) -> web.Response:
    rec.status = status
    headers["Content-Type"] = _JSON_CT
    return web.Response(status=status, body=payload, headers=headers)


async def _pre_fault(
    request: web.Request, fault: Fault, headers: dict[str, str], rec: LoggedRequest
) -> web.StreamResponse | None:
    kind = fault.kind
    if kind == "latency":
        await asyncio.sleep(fault.delay)
        return None
    if kind == "drop":
        return _drop(request)
    headers.update(fault.headers)
    if kind == "error":
        if fault.retry_after is not None:
            headers["Retry-After"] = str(max(0, math.ceil(fault.retry_after)))
        if fault.retry_after_ms is not None:
            headers["retry-after-ms"] = _fmt_number(fault.retry_after_ms)
        if fault.should_retry is not None:
            headers["x-should-retry"] = "true" if fault.should_retry else "false"
        err = status_error(fault.status, fault.message)
        return _json(rec, fault.status, err.body(), headers)
    if kind == "html":
        rec.status = fault.status
        headers["Content-Type"] = "text/html; charset=utf-8"
        return web.Response(
            status=fault.status, body=_html_page(fault.status, fault.body), headers=headers
        )
    if kind == "redirect":
        assert fault.location is not None
        headers["Location"] = fault.location.replace("{path_qs}", request.path_qs)
        return _json(rec, fault.status, b"{}", headers)
    return None  # page anomalies and post faults are applied later


async def _post_fault(
    request: web.Request,
    fault: Fault,
    status: int,
    payload: bytes,
    headers: dict[str, str],
    rec: LoggedRequest,
) -> web.StreamResponse:
    kind = fault.kind
    if kind == "truncate":
        return _json(rec, status, payload[: _cut(len(payload), fault.fraction, 1)], headers)
    if kind == "drop_mid_body":
        rec.status = status
        headers["Content-Type"] = _JSON_CT
        return await _drop_mid_body(request, status, payload, headers, fault.fraction)
    if kind == "commit_then_error":
        err = status_error(fault.status, fault.message)
        return _json(rec, fault.status, err.body(), headers)
    if kind == "commit_then_drop":
        return _drop(request)
    await asyncio.sleep(fault.delay)  # commit_then_delay
    return _json(rec, status, payload, headers)


async def not_found(request: web.Request) -> web.StreamResponse:
    """Any URL the emulator does not serve: a 404 in the OpenAI shape."""
    state = request.app[STATE]
    rec = _arrival(request, None)
    state.log.append(rec)
    state.enter()
    try:
        if state.latency > 0:
            await asyncio.sleep(state.latency)
        err = ApiError(404, f"Invalid URL ({request.method} {request.path})")
        return _json(rec, 404, err.body(), {"x-request-id": rec.request_id})
    finally:
        rec.done = True
        state.leave()


TOKEN_PATH = "/_emulator/token"


async def token_endpoint(request: web.Request) -> web.StreamResponse:
    """Issue an Entra-like token on loopback (for token commands in tests).

    Query ``lifetime`` (seconds, default 3600) and ``scope`` (repeatable).
    Replies ``{"access_token", "token_type", "expires_in", "expires_on"}``, or the bare
    token with ``format=text`` (like ``az account get-access-token -o tsv``).
    """
    state = request.app[STATE]
    params = request.query
    try:
        lifetime = float(params.get("lifetime", "3600"))
    except ValueError:
        lifetime = math.nan
    if not math.isfinite(lifetime):
        err = ApiError(400, "Invalid 'lifetime': expected a number of seconds.", param="lifetime")
        return web.Response(status=400, body=err.body(), content_type=_JSON_CT)
    scopes = tuple(dict.fromkeys(s for s in params.getall("scope", []) if s))
    issued = state.tokens.issue(lifetime, scopes)
    if params.get("format") == "text":
        return web.Response(text=issued.token + "\n")
    body = {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": max(0, issued.expires_on - int(state.tokens.clock())),
        "expires_on": issued.expires_on,
    }
    return web.Response(body=orjson.dumps(body), content_type=_JSON_CT)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(state: EmulatorState, *, client_max_size: int = 4 * 1024 * 1024) -> web.Application:
    """Build the aiohttp application serving ``state``."""
    app = web.Application(client_max_size=client_max_size)
    app[STATE] = state
    app.router.add_route("*", TOKEN_PATH, token_endpoint)
    for prefix, flavour in PREFIXES:
        for method, path, name, route in ROUTE_TABLE:
            handler: Handler = Dispatcher(name, route, flavour).handle
            app.router.add_route(method, prefix + path, handler)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
