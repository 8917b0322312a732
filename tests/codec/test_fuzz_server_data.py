"""Server data fuzzing, from the OpenAPI spec: at the converter and over real HTTP.

Strategies are compiled from ``tests/data/openapi-messages.yaml`` (the official spec):
spec-valid messages and pages (every field, every content and annotation type, nulls
where allowed) must
round-trip losslessly; invalid ones (wrong types, missing required fields, random JSON,
non-JSON, huge bodies) must raise ``APIResponseValidationError`` (or its subclass
``ResponseTooLargeError``) and nothing else. The end-to-end tests serve the generated
body from a tiny aiohttp.web server, so the client's whole path (transport + decode) runs.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
import yaml
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import openai_messages as om
from openai_messages._codec import converter
from openai_messages._codec.models import DeletedMessage, Message, MessagePage

from ..support import API_KEY

Json = Any
SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "openapi-messages.yaml"
SCHEMAS: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())["components"]["schemas"]

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
E2E = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# ----------------------------------------------------------------------------- spec -> strategies


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def json_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema allows ("null" included when it does)."""
    schema = resolve(schema)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return set().union(*(json_types(b) for b in branches))
    kind = schema.get("type")
    if kind is None:
        return {"object"} if "properties" in schema or "additionalProperties" in schema else set()
    return {kind}


def strategy(schema: dict[str, Any], *, all_fields: bool = False) -> st.SearchStrategy[Json]:
    """Spec-valid values of ``schema``; ``all_fields`` sends optional properties too."""
    schema = resolve(schema)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return st.one_of([strategy(b, all_fields=all_fields) for b in branches])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "string":
        return st.text(max_size=16)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum", -(2**53)), max_value=2**53)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(strategy(schema["items"], all_fields=all_fields), max_size=3)
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        values = schema.get("additionalProperties", {"type": "string"})
        return st.dictionaries(st.text(max_size=8), strategy(values), max_size=4)
    required = set(schema.get("required", ()))
    fields = {k: strategy(v, all_fields=all_fields) for k, v in properties.items()}
    if all_fields:
        return st.fixed_dictionaries(fields)
    return st.fixed_dictionaries(
        {k: s for k, s in fields.items() if k in required},
        optional={k: s for k, s in fields.items() if k not in required},
    )


def message_with_content(block: st.SearchStrategy[Json]) -> st.SearchStrategy[Json]:
    return st.tuples(strategy({"$ref": "MessageObject"}), st.lists(block, max_size=3)).map(
        lambda pair: {**pair[0], "content": pair[1]}
    )


def text_block_with(annotation: str) -> st.SearchStrategy[Json]:
    return st.tuples(
        strategy({"$ref": "MessageContentTextObject"}),
        st.lists(strategy({"$ref": annotation}, all_fields=True), min_size=1, max_size=3),
    ).map(lambda pair: {**pair[0], "text": {**pair[0]["text"], "annotations": pair[1]}})


CONTENT_TYPES = [
    "MessageContentImageFileObject",
    "MessageContentImageUrlObject",
    "MessageContentTextObject",
    "MessageContentRefusalObject",
]
ANNOTATION_TYPES = [
    "MessageContentTextAnnotationsFileCitationObject",
    "MessageContentTextAnnotationsFilePathObject",
]

#: (name, strategy, model): every top-level object, every content and annotation type.
VALID: list[tuple[str, st.SearchStrategy[Json], type[Any]]] = [
    ("message", strategy({"$ref": "MessageObject"}), Message),
    ("message-every-field", strategy({"$ref": "MessageObject"}, all_fields=True), Message),
    ("page", strategy({"$ref": "ListMessagesResponse"}), MessagePage),
    ("page-every-field", strategy({"$ref": "ListMessagesResponse"}, all_fields=True), MessagePage),
    ("deleted", strategy({"$ref": "DeleteMessageResponse"}), DeletedMessage),
    *[
        (name, message_with_content(strategy({"$ref": name}, all_fields=True)), Message)
        for name in CONTENT_TYPES
    ],
    *[(name, message_with_content(text_block_with(name)), Message) for name in ANNOTATION_TYPES],
]
ALL_VALID = st.one_of([s for _, s, _ in VALID])
SCHEMA_OF = {
    Message: "MessageObject",
    MessagePage: "ListMessagesResponse",
    DeletedMessage: "DeleteMessageResponse",
}


def real_server_extensions(payload: dict[str, Any]) -> dict[str, Any]:
    """What real servers add: unknown keys, unknown block types, null ids on empty pages."""
    out = {**payload, "x_future_field": {"nested": [1, None]}}
    if isinstance(out.get("content"), list):
        out["content"] = [*out["content"], {"type": "audio_clip", "audio_clip": {"id": "a"}}]
    if out.get("object") == "list" and not out.get("data"):
        out["first_id"] = out["last_id"] = None
    return out


# ----------------------------------------------------------------------------- invalid data


def positions(schema: dict[str, Any], value: Json, path: tuple[Any, ...] = ()) -> Iterator[Any]:
    """(path, allowed JSON types) of every value the schema describes (metadata values and
    values inside unknown blocks excluded: the models keep those as they come)."""
    schema = resolve(schema)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        for branch in branches:
            branch = resolve(branch)
            kinds = json_types(branch)
            if "object" in kinds and isinstance(value, dict):
                tag = branch.get("properties", {}).get("type", {}).get("enum")
                if tag is None or value.get("type") in tag:
                    yield from positions(branch, value, path)
                    return
            elif "array" in kinds and isinstance(value, list):
                yield from positions(branch, value, path)
                return
        return
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield (*path, index), json_types(schema["items"])
            yield from positions(schema["items"], item, (*path, index))
    elif isinstance(value, dict) and "properties" in schema:
        for key, sub in schema["properties"].items():
            if key in value:
                yield (*path, key), json_types(sub)
                yield from positions(sub, value[key], (*path, key))


# orjson writes 64-bit integers only (and so do the servers)
INT64 = st.integers(min_value=-(2**63), max_value=2**64 - 1)
WRONG: dict[str, st.SearchStrategy[Json]] = {
    "string": st.text(max_size=5),
    "integer": INT64,
    "number": st.floats(allow_nan=False, allow_infinity=False),
    "boolean": st.booleans(),
    "array": st.lists(INT64, max_size=2),
    "object": st.dictionaries(st.text(max_size=3), INT64, max_size=2),
}


def replace(payload: Json, path: tuple[Any, ...], new: Json) -> Json:
    out = copy.deepcopy(payload)
    target = out
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return out


@st.composite
def wrong_types(draw: st.DrawFn) -> tuple[bytes, type[Any]]:
    """A valid payload with one described value replaced by one of another JSON type."""
    _, valid, cls = draw(st.sampled_from(VALID))
    payload = draw(valid)
    spots = list(positions({"$ref": SCHEMA_OF[cls]}, payload))
    path, allowed = draw(st.sampled_from(spots))
    if "integer" in allowed:
        allowed = allowed | {"number"}  # 1.0 would do for an integer in some servers
    kind = draw(st.sampled_from(sorted(set(WRONG) - allowed)))
    new = draw(WRONG[kind].filter(lambda v: not (kind == "number" and float(v).is_integer())))
    return orjson.dumps(replace(payload, path, new)), cls


@st.composite
def missing_required(draw: st.DrawFn) -> tuple[bytes, type[Any]]:
    """A payload without one of the values no model can do without."""
    choice = draw(st.sampled_from(["id", "block-body", "page-item-id", "deleted-id"]))
    if choice == "id":
        payload = draw(strategy({"$ref": "MessageObject"}))
        del payload["id"]
        return orjson.dumps(payload), Message
    if choice == "deleted-id":
        payload = draw(strategy({"$ref": "DeleteMessageResponse"}))
        del payload["id"]
        return orjson.dumps(payload), DeletedMessage
    if choice == "page-item-id":
        message = draw(strategy({"$ref": "MessageObject"}))
        del message["id"]
        page = draw(strategy({"$ref": "ListMessagesResponse"}))
        page["data"] = [*page["data"], message]
        return orjson.dumps(page), MessagePage
    name = draw(st.sampled_from(["MessageContentImageFileObject", "MessageContentImageUrlObject"]))
    block = draw(strategy({"$ref": name}))
    block.pop("image_file", None)
    block.pop("image_url", None)
    message = draw(strategy({"$ref": "MessageObject"}))
    message["content"] = [block]
    return orjson.dumps(message), Message


json_values: st.SearchStrategy[Json] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


def not_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return True
    return False


NON_JSON = (
    st.binary(max_size=64).filter(not_json)
    | st.sampled_from(
        [
            b"",
            b"<html><body>502 Bad Gateway</body></html>",
            b'{"id": "msg_1", "content": [',
            b"\xff\xfe{}",
            b"NaN",
            b'{"id": "msg_1"} trailing',
        ]
    ).filter(not_json)
    | ALL_VALID.map(orjson.dumps).map(lambda b: b[: max(1, len(b) // 2)]).filter(not_json)
)


def round_trips(body: bytes, cls: type[Any]) -> bool:
    """Decode, and check that converting back gives the payload exactly."""
    value = converter.decode(body, cls)
    assert isinstance(value, cls)
    assert converter.unstructure(value) == orjson.loads(body)
    return True


# ----------------------------------------------------------------------------- converter level


@pytest.mark.parametrize(("name", "valid", "cls"), VALID, ids=[n for n, _, _ in VALID])
@FUZZ
@given(data=st.data())
def test_spec_valid_payloads_round_trip(
    name: str, valid: st.SearchStrategy[Json], cls: type[Any], data: st.DataObject
) -> None:
    payload = data.draw(valid)
    assert round_trips(orjson.dumps(payload), cls)
    assert round_trips(orjson.dumps(real_server_extensions(payload)), cls)


def test_every_content_and_annotation_type_is_generated() -> None:
    """The strategies above really cover every oneOf branch of the spec."""
    message = SCHEMAS["MessageObject"]["properties"]["content"]["items"]["oneOf"]
    assert {b["$ref"].rsplit("/", 1)[-1] for b in message} == set(CONTENT_TYPES)
    text = SCHEMAS["MessageContentTextObject"]["properties"]["text"]["properties"]
    annotations = text["annotations"]["items"]["oneOf"]
    assert {b["$ref"].rsplit("/", 1)[-1] for b in annotations} == set(ANNOTATION_TYPES)


@FUZZ
@given(wrong_types())
def test_wrong_types_raise_the_validation_error(case: tuple[bytes, type[Any]]) -> None:
    body, cls = case
    with pytest.raises(om.APIResponseValidationError) as info:
        converter.decode(body, cls)
    assert type(info.value) is om.APIResponseValidationError
    assert ": expected " in str(info.value)


@FUZZ
@given(missing_required())
def test_missing_required_values_raise_the_validation_error(
    case: tuple[bytes, type[Any]],
) -> None:
    body, cls = case
    with pytest.raises(om.APIResponseValidationError, match="missing required field"):
        converter.decode(body, cls)


@FUZZ
@given(json_values, st.sampled_from([Message, MessagePage, DeletedMessage]))
def test_random_json_parses_losslessly_or_raises_the_validation_error(
    value: Json, cls: type[Any]
) -> None:
    body = orjson.dumps(value)
    try:
        decoded = converter.decode(body, cls)
    except om.APIResponseValidationError:
        return
    assert converter.unstructure(decoded) == value


@FUZZ
@given(NON_JSON, st.sampled_from([Message, MessagePage, DeletedMessage]))
def test_non_json_raises_the_validation_error(body: bytes, cls: type[Any]) -> None:
    with pytest.raises(om.APIResponseValidationError, match="not valid JSON"):
        converter.decode(body, cls)


def test_huge_valid_bodies_round_trip() -> None:
    message = {
        "id": "msg_huge",
        "object": "thread.message",
        "content": [{"type": "text", "text": {"value": "x" * 4_000_000, "annotations": []}}],
        "metadata": {f"k{i}": "v" * 512 for i in range(16)},
    }
    page = {"object": "list", "data": [message] * 3, "first_id": "a", "last_id": "b"}
    assert round_trips(orjson.dumps(message), Message)
    assert round_trips(orjson.dumps(page), MessagePage)


def test_deeply_nested_json_raises_the_validation_error() -> None:
    body = b'{"id": "m", "content": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(om.APIResponseValidationError):
        converter.decode(body, Message)


# ----------------------------------------------------------------------------- end to end


@attrs.define
class Served:
    """What the tiny server answers to every request."""

    body: bytes = b"{}"
    content_type: str = "application/json"
    chunked: bool = False
    hits: int = 0


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Served]]:
    served = Served()

    async def handler(request: web.Request) -> web.StreamResponse:
        served.hits += 1
        if not served.chunked:
            return web.Response(body=served.body, headers={"Content-Type": served.content_type})
        response = web.StreamResponse(headers={"Content-Type": served.content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(served.body), 65_536):
            await response.write(served.body[start : start + 65_536])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/v1/threads/{thread_id}/messages", handler)
    app.router.add_get("/v1/threads/{thread_id}/messages/{message_id}", handler)
    app.router.add_delete("/v1/threads/{thread_id}/messages/{message_id}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
    yield f"http://127.0.0.1:{port}/v1", served
    await runner.cleanup()


@pytest.fixture
async def http_client(server: tuple[str, Served]) -> AsyncIterator[om.Client]:
    async with om.Client(api_key=API_KEY, base_url=server[0], max_retries=0) as client:
        yield client


async def fetch(client: om.Client, cls: type[Any]) -> Any:
    if cls is Message:
        return await client.retrieve("thread_1", "msg_1")
    if cls is DeletedMessage:
        return await client.delete("thread_1", "msg_1")
    return await client.list("thread_1").first_page()


@E2E
@given(st.sampled_from(VALID).flatmap(lambda v: st.tuples(v[1], st.just(v[2]))), st.booleans())
async def test_end_to_end_valid_bodies_round_trip(
    server: tuple[str, Served], http_client: om.Client, case: tuple[Json, type[Any]], chunked: bool
) -> None:
    payload, cls = case
    served = server[1]
    served.body, served.chunked = orjson.dumps(payload), chunked
    value = await fetch(http_client, cls)
    assert isinstance(value, cls)
    assert converter.unstructure(value) == payload


async def expect_validation_error(client: om.Client, cls: type[Any]) -> None:
    """Only the documented error: anything else propagates and fails the test."""
    with pytest.raises(om.APIResponseValidationError) as info:
        await fetch(client, cls)
    assert info.value.status_code == 200


@E2E
@given(st.one_of(wrong_types(), missing_required()), st.booleans())
async def test_end_to_end_invalid_shapes_raise_only_the_validation_error(
    server: tuple[str, Served],
    http_client: om.Client,
    case: tuple[bytes, type[Any]],
    chunked: bool,
) -> None:
    served = server[1]
    served.body, served.chunked = case[0], chunked
    await expect_validation_error(http_client, case[1])


@E2E
@given(
    NON_JSON,
    st.sampled_from([Message, MessagePage, DeletedMessage]),
    st.sampled_from(["application/json", "text/html; charset=utf-8", "text/plain"]),
)
async def test_end_to_end_non_json_raises_only_the_validation_error(
    server: tuple[str, Served],
    http_client: om.Client,
    body: bytes,
    cls: type[Any],
    content_type: str,
) -> None:
    served = server[1]
    served.body, served.content_type = body, content_type
    await expect_validation_error(http_client, cls)


@E2E
@given(json_values, st.sampled_from([Message, MessagePage, DeletedMessage]))
async def test_end_to_end_random_json_parses_or_raises_only_the_validation_error(
    server: tuple[str, Served], http_client: om.Client, value: Json, cls: type[Any]
) -> None:
    served = server[1]
    served.body = orjson.dumps(value)
    try:
        decoded = await fetch(http_client, cls)
    except om.APIResponseValidationError:
        return
    assert converter.unstructure(decoded) == value


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("cls", [Message, MessagePage, DeletedMessage])
async def test_end_to_end_huge_bodies_raise_response_too_large(
    server: tuple[str, Served], chunked: bool, cls: type[Any]
) -> None:
    served = server[1]
    served.body = b'{"id": "msg_1", "junk": "' + b"x" * 2_000_000 + b'"}'
    served.chunked = chunked
    async with om.Client(
        api_key=API_KEY, base_url=server[0], max_retries=3, max_response_bytes=65_536
    ) as client:
        with pytest.raises(om.ResponseTooLargeError):
            await fetch(client, cls)
        assert served.hits == 1, "a reply too large is not worth retrying"
        # Under the cap the same client reads it (a page needs its ``data``).
        served.body = orjson.dumps({"id": "msg_1", "data": [], "junk": "x" * 60_000})
        value = await fetch(client, cls)
        assert value.extra["junk"] == "x" * 60_000


async def test_end_to_end_huge_valid_body_round_trips(server: tuple[str, Served]) -> None:
    served = server[1]
    payload = {
        "object": "list",
        "data": [
            {"id": f"msg_{i}", "content": [{"type": "text", "text": {"value": "y" * 100_000}}]}
            for i in range(30)
        ],
        "first_id": "msg_0",
        "last_id": "msg_29",
        "has_more": False,
    }
    served.body, served.chunked = orjson.dumps(payload), True
    async with om.Client(api_key=API_KEY, base_url=server[0], max_retries=0) as client:
        messages = await client.list("thread_1").collect()
    assert [m.id for m in messages] == [f"msg_{i}" for i in range(30)]
    assert all(len(m.text) == 100_000 for m in messages)
