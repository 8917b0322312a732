"""Property tests: spec-valid payloads round-trip exactly; anything else raises one error type."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import cattrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openai_messages import converter, fastpath
from openai_messages.errors import APIResponseValidationError
from openai_messages.models import (
    DeletedMessage,
    Message,
    MessageFile,
    MessageFilePage,
    MessagePage,
)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(SETTINGS, max_examples=50)

Json = Any

# ----------------------------------------------------------------------------- strategies

text = st.text(max_size=12)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
timestamps = st.integers(min_value=0, max_value=2**40)
json_scalars = (
    st.none() | st.booleans() | ints | st.floats(allow_nan=False, allow_infinity=False) | text
)
json_values: st.SearchStrategy[Json] = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
#: Keys no model knows (all known keys are plain lowercase words without this prefix).
extra_keys = text.map(lambda s: "x-" + s)
extras = st.dictionaries(extra_keys, json_values, max_size=2)


def nullable(strategy: st.SearchStrategy[Json]) -> st.SearchStrategy[Json]:
    return st.none() | strategy


def obj(
    required: dict[str, st.SearchStrategy[Json]],
    optional: dict[str, st.SearchStrategy[Json]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the required keys, any of the optional ones, and maybe unknown keys."""
    base = st.fixed_dictionaries(required, optional=optional or {})
    return st.tuples(base, extras).map(lambda pair: {**pair[1], **pair[0]})


def unknown_of(known: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects of a ``type`` outside ``known``, with arbitrary other keys."""
    new_type = text.filter(lambda t: t not in known)
    return st.tuples(new_type, st.dictionaries(text, json_values, max_size=3)).map(
        lambda pair: {**pair[1], "type": pair[0]}
    )


details = st.sampled_from(["auto", "low", "high"])
file_citation = obj(
    {"type": st.just("file_citation")},
    {
        "text": text,
        "file_citation": obj({"file_id": text}, {"quote": text}),
        "start_index": timestamps,
        "end_index": timestamps,
    },
).filter(lambda d: "file_citation" in d)
file_path = obj(
    {"type": st.just("file_path"), "file_path": obj({"file_id": text})},
    {"text": text, "start_index": timestamps, "end_index": timestamps},
)
annotation_objs = file_citation | file_path | unknown_of({"file_citation", "file_path"})
content_blocks = (
    obj(
        {
            "type": st.just("text"),
            "text": obj({}, {"value": text, "annotations": st.lists(annotation_objs, max_size=3)}),
        }
    )
    | obj(
        {"type": st.just("image_file"), "image_file": obj({"file_id": text}, {"detail": details})}
    )
    | obj({"type": st.just("image_url"), "image_url": obj({"url": text}, {"detail": details})})
    | obj({"type": st.just("refusal")}, {"refusal": text})
    | unknown_of({"text", "image_file", "image_url", "refusal"})
)
tools = (
    obj({"type": st.just("code_interpreter")})
    | obj({"type": st.just("file_search")})
    | unknown_of({"code_interpreter", "file_search"})
)
attachments = obj({}, {"file_id": text, "tools": st.lists(tools, max_size=3)})
metadata = st.dictionaries(st.text(max_size=64), st.text(max_size=20), max_size=4)
statuses = st.sampled_from(["in_progress", "incomplete", "completed"])
reasons = st.sampled_from(["content_filter", "max_tokens", "run_cancelled", "run_expired"])

messages = obj(
    {"id": text},
    {
        "object": st.just("thread.message"),
        "created_at": timestamps,
        "thread_id": text,
        "status": statuses,
        "incomplete_details": nullable(obj({"reason": reasons})),
        "completed_at": nullable(timestamps),
        "incomplete_at": nullable(timestamps),
        "role": st.sampled_from(["user", "assistant"]),
        "content": st.lists(content_blocks, max_size=4),
        "assistant_id": nullable(text),
        "run_id": nullable(text),
        "attachments": nullable(st.lists(attachments, max_size=2)),
        "metadata": nullable(metadata),
        "file_ids": st.lists(text, max_size=3),
    },
)
# a page without ``data`` is unreadable (issue 14 item 4); everything else may be absent
pages = obj(
    {"data": st.lists(messages, max_size=4)},
    {
        "object": st.just("list"),
        "first_id": nullable(text),
        "last_id": nullable(text),
        "has_more": st.booleans(),
    },
)
message_files = obj(
    {"id": text},
    {
        "object": st.just("thread.message.file"),
        "created_at": timestamps,
        "message_id": text,
    },
)
file_pages = obj(
    {"data": st.lists(message_files, max_size=3)},
    {
        "object": st.just("list"),
        "first_id": nullable(text),
        "last_id": nullable(text),
        "has_more": st.booleans(),
    },
)
deleted = obj({"id": text}, {"object": st.just("thread.message.deleted"), "deleted": st.booleans()})

CASES: list[tuple[type[Any], st.SearchStrategy[dict[str, Any]]]] = [
    (Message, messages),
    (MessagePage, pages),
    (MessageFile, message_files),
    (MessageFilePage, file_pages),
    (DeletedMessage, deleted),
]


def _tagged(
    cls: type[Any], strategy: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[tuple[type[Any], dict[str, Any]]]:
    return strategy.map(lambda payload: (cls, payload))


ALL_PAYLOADS = st.one_of([_tagged(c, s) for c, s in CASES])

# ----------------------------------------------------------------------------- valid payloads


@SETTINGS
@given(ALL_PAYLOADS)
def test_valid_payloads_round_trip_exactly(case: tuple[type[Any], dict[str, Any]]) -> None:
    cls, payload = case
    body = orjson.dumps(payload)
    expected = orjson.loads(body)
    model = converter.decode(body, cls)
    assert type(model) is cls
    assert converter.unstructure(model) == expected
    assert converter.structure(copy.deepcopy(expected), cls) == model
    assert orjson.loads(converter.encode(model)) == expected


@SETTINGS
@given(ALL_PAYLOADS)
def test_structure_of_unstructure_is_identity(case: tuple[type[Any], dict[str, Any]]) -> None:
    cls, payload = case
    model = converter.structure(payload, cls)
    assert converter.structure(converter.unstructure(model), cls) == model


@SETTINGS
@given(messages)
def test_message_text_is_the_text_values(payload: dict[str, Any]) -> None:
    msg = converter.structure(payload, Message)
    values = [b["text"].get("value", "") for b in payload.get("content", []) if b["type"] == "text"]
    assert msg.text == "\n".join(values)


@SETTINGS
@given(messages)
def test_absent_fields_are_exactly_the_missing_known_keys(payload: dict[str, Any]) -> None:
    msg = converter.structure(payload, Message)
    known = {
        "id", "object", "created_at", "thread_id", "status", "incomplete_details",
        "completed_at", "incomplete_at", "role", "content", "assistant_id", "run_id",
        "attachments", "metadata", "file_ids",
    }  # fmt: skip
    assert msg.absent_fields == known - payload.keys()
    assert dict(msg.extra) == {k: v for k, v in payload.items() if k not in known}


# ----------------------------------------------------------------------------- invalid payloads


def _paths(value: Json, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out: list[tuple[str | int, ...]] = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _replace(value: Json, path: tuple[str | int, ...], new: Json) -> Json:
    if not path:
        return new
    parent = value
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = new
    return value


@SETTINGS
@given(ALL_PAYLOADS, st.data())
def test_mutated_payloads_parse_or_raise_only_the_validation_error(
    case: tuple[type[Any], dict[str, Any]], data: st.DataObject
) -> None:
    cls, payload = case
    path = data.draw(st.sampled_from(_paths(payload)))
    mutated = _replace(copy.deepcopy(payload), path, data.draw(json_values))
    body = orjson.dumps(mutated)
    try:
        model = converter.decode(body, cls)
    except APIResponseValidationError as exc:
        problem = str(exc)
    else:
        # whatever was accepted is still kept losslessly
        assert converter.unstructure(model) == orjson.loads(body)
        return
    assert "unexpected response shape" in problem


@SETTINGS
@given(json_values, st.sampled_from([c for c, _ in CASES]))
def test_random_json_parses_or_raises_only_the_validation_error(
    value: Json, cls: type[Any]
) -> None:
    with contextlib.suppress(APIResponseValidationError):
        converter.decode(orjson.dumps(value), cls)


@SETTINGS
@given(st.binary(max_size=64) | json_values.map(orjson.dumps).map(lambda b: b[:-1]))
def test_random_bytes_parse_or_raise_only_the_validation_error(body: bytes) -> None:
    try:
        converter.decode(body, MessagePage)
    except APIResponseValidationError as exc:
        snippet = exc.body_snippet
    else:
        return
    # the snippet drops whitespace as str.split sees it (\x1c too, which bytes.strip keeps)
    assert snippet or not body.decode("utf-8", "replace").split()


WRONG_FOR_STRING = st.none() | st.booleans() | ints | st.lists(text, max_size=1)


@FEWER
@given(st.lists(messages, min_size=1, max_size=3), st.data())
def test_a_bad_message_id_is_reported_at_its_index(
    data_: list[dict[str, Any]], data: st.DataObject
) -> None:
    page: dict[str, Any] = {"object": "list", "data": data_, "has_more": False}
    index = data.draw(st.integers(0, len(page["data"]) - 1))
    bad = data.draw(WRONG_FOR_STRING)
    page["data"][index]["id"] = bad
    with pytest.raises(APIResponseValidationError) as info:
        converter.structure(page, MessagePage)
    assert f"data[{index}].id: expected string, got " in str(info.value)


text_blocks_with_value = obj(
    {
        "type": st.just("text"),
        "text": obj({"value": text}, {"annotations": st.lists(annotation_objs)}),
    }
)


@FEWER
@given(messages, text_blocks_with_value, WRONG_FOR_STRING, st.data())
def test_a_bad_text_value_is_reported_with_its_path(
    message: dict[str, Any], block: dict[str, Any], bad: Json, data: st.DataObject
) -> None:
    content = message.setdefault("content", [])
    # the first bad block is the one reported: put ours before any other text block
    first_text = next((i for i, b in enumerate(content) if b["type"] == "text"), len(content))
    index = data.draw(st.integers(0, first_text))
    content.insert(index, block)
    block["text"]["value"] = bad
    with pytest.raises(APIResponseValidationError) as info:
        converter.structure(message, Message)
    assert f"content[{index}].text.value: expected string, got " in str(info.value)


# ----------------------------------------------------------------------------- the two paths


def _both_paths(payload: Json, cls: type[Any]) -> None:
    """The fast reader either misses or builds exactly what cattrs' hooks build."""
    conv = converter.converter
    try:
        fast = conv.readers.plain[cls](copy.deepcopy(payload))
    except fastpath.Miss:
        fast = None
    try:
        general = cattrs.Converter.structure(conv, copy.deepcopy(payload), cls)
    except Exception:
        assert fast is None, "the fast path accepted what cattrs refuses"
        return
    if fast is not None:
        assert fast == general
        assert fast.absent_fields == general.absent_fields
        assert dict(fast.extra) == dict(general.extra)
        assert converter.unstructure(fast) == converter.unstructure(general)


@SETTINGS
@given(ALL_PAYLOADS, st.data())
def test_the_fast_path_and_cattrs_agree(
    case: tuple[type[Any], dict[str, Any]], data: st.DataObject
) -> None:
    cls, payload = case
    _both_paths(payload, cls)
    path = data.draw(st.sampled_from(_paths(payload)))
    _both_paths(_replace(copy.deepcopy(payload), path, data.draw(json_values)), cls)


@SETTINGS
@given(json_values, st.sampled_from([c for c, _ in CASES]))
def test_the_fast_path_and_cattrs_agree_on_any_json(value: Json, cls: type[Any]) -> None:
    _both_paths(value, cls)
