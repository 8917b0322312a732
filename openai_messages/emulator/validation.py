"""Validation of what callers send, with the real API's error wording."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

import attrs
import orjson

from .errors import ApiError
from .store import JSON, text_content

__all__ = [
    "MAX_THREAD_MESSAGES",
    "NewMessage",
    "bad_type",
    "bad_value",
    "check_attachments",
    "check_content",
    "check_file_ids",
    "check_id",
    "check_id_prefix",
    "check_metadata",
    "check_new_message",
    "check_thread_messages",
    "check_tool_resources",
    "only_keys",
    "parse_body",
    "parse_limit",
    "parse_order",
]

_ID = re.compile(r"[A-Za-z0-9_\-]+")
_MAX_ID = 64


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


def bad_type(param: str, expected: str, value: object) -> NoReturn:
    raise ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_describe(value)} instead.",
        param=param,
        code="invalid_type",
    )


def bad_value(param: str, message: str, code: str = "invalid_value") -> NoReturn:
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
        bad_value(
            param,
            f"string too long. Expected a string with maximum length {_MAX_ID}, "
            f"but got a string with length {len(value)} instead.",
            "string_above_max_length",
        )
    if not _ID.fullmatch(value):
        bad_value(param, "expected an ID made of letters, digits, underscores or dashes.")
    return value


def _string(param: str, value: object, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        bad_type(param, "a string", value)
    if non_empty and not value:
        bad_value(
            param,
            "empty string. Expected a string with minimum length 1, but got an empty string.",
            "empty_string",
        )
    return value


def _object(param: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        bad_type(param, "an object", value)
    return value


def only_keys(param: str, obj: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in obj:
        if key not in allowed:
            _unknown(f"{param}.{key}" if param else key)


def check_metadata(value: object, param: str = "metadata") -> dict[str, str]:
    """Validate metadata: at most 16 string keys <= 64 chars, string values <= 512."""
    if value is None:
        return {}
    meta = _object(param, value)
    if len(meta) > 16:
        bad_value(
            param,
            "too many properties. Expected an object with at most 16 properties, "
            f"but got an object with {len(meta)} properties instead.",
            "object_above_max_properties",
        )
    for key, val in meta.items():
        if len(key) > 64:
            bad_value(
                param,
                f"key too long. Expected keys of at most 64 characters, but got {len(key)}.",
                "string_above_max_length",
            )
        _string(f"{param}.{key}", val)
        if len(val) > 512:
            bad_value(
                f"{param}.{key}",
                "string too long. Expected a string with maximum length 512, "
                f"but got a string with length {len(val)} instead.",
                "string_above_max_length",
            )
    return dict(meta)


_DETAILS = frozenset({"auto", "low", "high"})
_IMAGE_KEYS = {"image_file": "file_id", "image_url": "url"}  # part type -> its id field


def _image(param: str, value: object, key: str) -> dict[str, Any]:
    obj = _object(param, value)
    only_keys(param, obj, frozenset({key, "detail"}))
    if key not in obj:
        _missing(f"{param}.{key}")
    out = {key: _string(f"{param}.{key}", obj[key], non_empty=True)}
    if "detail" in obj:
        detail = _string(f"{param}.detail", obj["detail"])
        if detail not in _DETAILS:
            bad_value(f"{param}.detail", "expected one of 'auto', 'low' or 'high'.")
        out["detail"] = detail
    return out


def check_content(value: object, param: str = "content") -> list[JSON]:
    """Validate request content and return it in its stored form."""
    if isinstance(value, str):
        _string(param, value, non_empty=True)
        return text_content(value)
    if not isinstance(value, list):
        bad_type(param, "a string or an array of content parts", value)
    if not value:
        bad_value(
            param,
            "empty array. Expected an array with minimum length 1.",
            "empty_array",
        )
    out: list[JSON] = []
    for i, raw in enumerate(value):
        where = f"{param}[{i}]"
        part = _object(where, raw)
        kind = part.get("type")
        if kind is not None and not isinstance(kind, str):
            bad_type(f"{where}.type", "a string", kind)
        if kind == "text":
            only_keys(where, part, frozenset({"type", "text"}))
            if "text" not in part:
                _missing(f"{where}.text")
            out.extend(text_content(_string(f"{where}.text", part["text"])))
        elif kind in _IMAGE_KEYS:
            only_keys(where, part, frozenset({"type", kind}))
            if kind not in part:
                _missing(f"{where}.{kind}")
            image = _image(f"{where}.{kind}", part[kind], _IMAGE_KEYS[kind])
            out.append({"type": kind, kind: image})
        elif kind is None:
            _missing(f"{where}.type")
        else:
            bad_value(
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
        bad_type(name, "an array", value)
    out: list[JSON] = []
    for i, raw in enumerate(value):
        param = f"{name}[{i}]"
        att = _object(param, raw)
        only_keys(param, att, frozenset({"file_id", "tools"}))
        if "file_id" not in att:
            _missing(f"{param}.file_id")
        file_id = check_id(f"{param}.file_id", _string(f"{param}.file_id", att["file_id"]))
        tools_raw = att.get("tools", [])
        if not isinstance(tools_raw, list):
            bad_type(f"{param}.tools", "an array", tools_raw)
        tools: list[JSON] = []
        for j, tool_raw in enumerate(tools_raw):
            tparam = f"{param}.tools[{j}]"
            tool = _object(tparam, tool_raw)
            only_keys(tparam, tool, frozenset({"type"}))
            if not isinstance(tool.get("type"), str) or tool["type"] not in _TOOLS:
                bad_value(f"{tparam}.type", "expected 'code_interpreter' or 'file_search'.")
            tools.append({"type": tool["type"]})
        out.append({"file_id": file_id, "tools": tools})
    return out


def check_file_ids(value: object, name: str = "file_ids") -> list[str]:
    """Validate v1 ``file_ids`` (at most 10 file ids)."""
    if value is None:
        return []
    if not isinstance(value, list):
        bad_type(name, "an array", value)
    if len(value) > 10:
        bad_value(
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
        bad_value("limit", f"expected an integer, but got {raw[:32]!r} instead.", "invalid_type")
    if limit < 1:
        bad_value(
            "limit",
            f"integer below minimum value. Expected a value >= 1, but got {limit} instead.",
            "integer_below_min_value",
        )
    if limit > 100:
        bad_value(
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
    bad_value("order", f"{raw[:32]!r}. Expected one of 'asc' or 'desc'.")


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


_CREATE_V2 = frozenset({"role", "content", "attachments", "metadata"})
_CREATE_V1 = frozenset({"role", "content", "file_ids", "metadata"})


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
    body = _object(where, raw) if where else raw
    if not isinstance(body, dict):  # parse_body gives a dict; this keeps mypy informed
        bad_type("body", "an object", body)
    only_keys(where, body, _CREATE_V1 if version == 1 else _CREATE_V2)
    dot = f"{where}." if where else ""
    if "role" not in body:
        _missing(dot + "role")
    if "content" not in body:
        _missing(dot + "content")
    role = _string(dot + "role", body["role"])
    if role not in ("user", "assistant"):
        bad_value(dot + "role", f"{role[:32]!r}. Expected one of 'user' or 'assistant'.")
    return NewMessage(
        role=role,
        content=check_content(body["content"], dot + "content"),
        metadata=check_metadata(body.get("metadata"), dot + "metadata"),
        attachments=check_attachments(body.get("attachments"), dot + "attachments"),
        file_ids=check_file_ids(body.get("file_ids"), dot + "file_ids"),
    )


def _id_list(param: str, value: object, maximum: int) -> list[str]:
    if not isinstance(value, list):
        bad_type(param, "an array", value)
    if len(value) > maximum:
        bad_value(
            param,
            f"array too long. Expected an array with maximum length {maximum}, "
            f"but got an array with length {len(value)} instead.",
            "array_above_max_length",
        )
    return [check_id(f"{param}[{i}]", _string(f"{param}[{i}]", v)) for i, v in enumerate(value)]


def check_tool_resources(value: object, new_id: Callable[[str], str]) -> JSON:
    """Validate ``tool_resources``; inline ``vector_stores`` get ids from ``new_id(prefix)``."""
    if value is None:
        return {}
    obj = _object("tool_resources", value)
    only_keys("tool_resources", obj, frozenset({"code_interpreter", "file_search"}))
    out: JSON = {}
    ci = obj.get("code_interpreter")
    if ci is not None:
        param = "tool_resources.code_interpreter"
        only_keys(param, _object(param, ci), frozenset({"file_ids"}))
        file_ids = _id_list(f"{param}.file_ids", ci.get("file_ids", []), 20)
        out["code_interpreter"] = {"file_ids": file_ids}
    fs = obj.get("file_search")
    if fs is not None:
        param = "tool_resources.file_search"
        only_keys(param, _object(param, fs), frozenset({"vector_store_ids", "vector_stores"}))
        ids = _id_list(f"{param}.vector_store_ids", fs.get("vector_store_ids", []), 1)
        stores = fs.get("vector_stores", [])
        if not isinstance(stores, list) or len(stores) > 1:
            bad_value(f"{param}.vector_stores", "expected an array of at most 1 vector store.")
        if ids and stores:
            bad_value(param, "give 'vector_store_ids' or 'vector_stores', not both.")
        for i, raw in enumerate(stores):
            _object(f"{param}.vector_stores[{i}]", raw)
            ids.append(new_id("vs_"))
        out["file_search"] = {"vector_store_ids": ids}
    return out


MAX_THREAD_MESSAGES = 32


def check_thread_messages(value: object, version: int) -> list[NewMessage]:
    """Validate a thread create's initial ``messages`` (null or at most 32 messages)."""
    if value is None:
        return []
    if not isinstance(value, list):
        bad_type("messages", "an array", value)
    if len(value) > MAX_THREAD_MESSAGES:
        bad_value(
            "messages",
            f"array too long. Expected an array with maximum length {MAX_THREAD_MESSAGES}, "
            f"but got an array with length {len(value)} instead.",
            "array_above_max_length",
        )
    return [check_new_message(m, version, f"messages[{i}]") for i, m in enumerate(value)]
