"""Property tests: spec-valid payloads round-trip exactly; anything else raises one error type."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openai_messages._codec import converter
from openai_messages._codec.models import (
    Message,
    MessagePage,
)
from openai_messages.errors import APIResponseValidationError

from ..payload_strategies import (
    ALL_PAYLOADS,
    CASES,
    FEWER,
    SETTINGS,
    Json,
    annotation_objs,
    both_paths,
    ints,
    json_values,
    messages,
    obj,
    text,
)

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


@SETTINGS
@given(ALL_PAYLOADS, st.data())
def test_the_fast_path_and_cattrs_agree(
    case: tuple[type[Any], dict[str, Any]], data: st.DataObject
) -> None:
    cls, payload = case
    both_paths(payload, cls)
    path = data.draw(st.sampled_from(_paths(payload)))
    both_paths(_replace(copy.deepcopy(payload), path, data.draw(json_values)), cls)


@SETTINGS
@given(json_values, st.sampled_from([c for c, _ in CASES]))
def test_the_fast_path_and_cattrs_agree_on_any_json(value: Json, cls: type[Any]) -> None:
    both_paths(value, cls)
