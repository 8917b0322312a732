"""The converter on the documents the project was made from, and on bodies it must refuse."""

from __future__ import annotations

import ast
import contextlib
import copy
import sys
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from aiohttp import web

import openai_messages as om
from openai_messages._codec import converter
from openai_messages._codec.models import (
    Attachment,
    CodeInterpreterTool,
    DeletedMessage,
    FileCitation,
    FileCitationAnnotation,
    FilePathAnnotation,
    FileSearchTool,
    ImageFileContent,
    ImageFilePart,
    ImageUrlContent,
    ImageUrlPart,
    IncompleteDetails,
    Message,
    MessageFile,
    MessageFilePage,
    MessagePage,
    RefusalContent,
    Text,
    TextContent,
    TextPart,
    UnknownAnnotation,
    UnknownContent,
    UnknownTool,
)
from openai_messages.errors import APIResponseValidationError

# ----------------------------------------------------------------------------- the seeds

# 000 / 001 (Perl client), and the spec's MessageObject example: a v2 message without
# status, completed_at, incomplete_at, incomplete_details.
SEED_MESSAGE = """{
  "assistant_id": "asst_abc123", "attachments": [],
  "content": [{"text": {"annotations": [], "value": "Hi! How can I help you today?"},
               "type": "text"}],
  "created_at": 1698983503, "id": "msg_abc123", "metadata": {}, "object": "thread.message",
  "role": "assistant", "run_id": "run_abc123", "thread_id": "thread_abc123"
}"""
# 001
SEED_DELETED = '{"deleted": false, "id": "string", "object": "thread.message.deleted"}'
# 002: the full v2 list example
SEED_LIST_V2 = """{
  "object": "list",
  "data": [{
      "id": "string", "object": "thread.message", "created_at": 42, "thread_id": "string",
      "status": "in_progress", "incomplete_details": {"reason": "content_filter"},
      "completed_at": 42, "incomplete_at": 42, "role": "user",
      "content": [{"type": "image_file", "image_file": {"file_id": "string", "detail": "auto"}}],
      "assistant_id": "string", "run_id": "string",
      "attachments": [{"file_id": "string", "tools": [{"type": "code_interpreter"}]}],
      "metadata": {"additionalProperty1": "string", "additionalProperty2": "string"}
  }],
  "first_id": "msg_abc123", "last_id": "msg_abc123", "has_more": false
}"""
# 003: the v1 shapes
SEED_V1_MESSAGE = """{
  "id": "msg_abc123", "object": "thread.message", "created_at": 1699017614,
  "thread_id": "thread_abc123", "role": "user",
  "content": [{"type": "text", "text": {
      "value": "How does AI work? Explain it in simple terms.", "annotations": []}}],
  "file_ids": [], "assistant_id": null, "run_id": null, "metadata": {}
}"""
SEED_V1_LIST = """{
  "object": "list",
  "data": [
    {"id": "msg_abc123", "object": "thread.message", "created_at": 1699016383,
     "thread_id": "thread_abc123", "role": "user",
     "content": [{"type": "text", "text": {
        "value": "How does AI work? Explain it in simple terms.", "annotations": []}}],
     "file_ids": [], "assistant_id": null, "run_id": null, "metadata": {}},
    {"id": "msg_abc456", "object": "thread.message", "created_at": 1699016383,
     "thread_id": "thread_abc123", "role": "user",
     "content": [{"type": "text", "text": {"value": "Hello, what is AI?", "annotations": []}}],
     "file_ids": ["file-abc123"], "assistant_id": null, "run_id": null, "metadata": {}}
  ],
  "first_id": "msg_abc123", "last_id": "msg_abc456", "has_more": false
}"""
SEED_V1_MODIFIED = """{
  "id": "msg_abc123", "object": "thread.message", "created_at": 1699017614,
  "thread_id": "thread_abc123", "role": "user",
  "content": [{"type": "text", "text": {
      "value": "How does AI work? Explain it in simple terms.", "annotations": []}}],
  "file_ids": [], "assistant_id": null, "run_id": null,
  "metadata": {"modified": "true", "user": "abc123"}
}"""
SEED_V1_FILES = """{
  "object": "list",
  "data": [
    {"id": "file-abc123", "object": "thread.message.file", "created_at": 1699061776,
     "message_id": "msg_abc123"},
    {"id": "file-abc123", "object": "thread.message.file", "created_at": 1699061776,
     "message_id": "msg_abc123"}
  ],
  "first_id": "file-abc123", "last_id": "file-abc123", "has_more": false
}"""
SEED_V1_FILE = """{"id": "file-abc123", "object": "thread.message.file",
  "created_at": 1699061776, "message_id": "msg_abc123"}"""
SEED_V1_FILE_OBJECT = """{"id": "file-abc123", "object": "thread.message.file",
  "created_at": 1698107661, "message_id": "message_QLoItBbqwyAJEzlTy4y9kOMM",
  "file_id": "file-abc123"}"""

SEEDS: list[tuple[str, str, type[Any]]] = [
    ("message", SEED_MESSAGE, Message),
    ("deleted", SEED_DELETED, DeletedMessage),
    ("list-v2", SEED_LIST_V2, MessagePage),
    ("v1-message", SEED_V1_MESSAGE, Message),
    ("v1-list", SEED_V1_LIST, MessagePage),
    ("v1-modified", SEED_V1_MODIFIED, Message),
    ("v1-files", SEED_V1_FILES, MessageFilePage),
    ("v1-file", SEED_V1_FILE, MessageFile),
    ("v1-file-object", SEED_V1_FILE_OBJECT, MessageFile),
]


@pytest.mark.parametrize(("body", "cls"), [(b, c) for _, b, c in SEEDS], ids=[s[0] for s in SEEDS])
def test_seed_examples_round_trip_exactly(body: str, cls: type[Any]) -> None:
    payload = orjson.loads(body)
    model = converter.decode(body.encode(), cls)
    assert type(model) is cls
    assert converter.unstructure(model) == payload
    assert orjson.loads(converter.encode(model)) == payload
    assert converter.structure(payload, cls) == model


def test_the_perl_list_example_has_a_string_in_data_and_is_refused() -> None:
    # 000: the generated Perl doc shows each message JSON-encoded inside a string.
    body = orjson.dumps(
        {
            "data": [SEED_MESSAGE],
            "first_id": "msg_abc123",
            "has_more": False,
            "last_id": "msg_abc123",
            "object": "list",
        }
    )
    with pytest.raises(APIResponseValidationError, match=r"data\[0\]: expected object, got string"):
        converter.decode(body, MessagePage)


def test_v2_seed_message_values() -> None:
    msg = converter.decode(SEED_MESSAGE.encode(), Message)
    assert msg.id == "msg_abc123"
    assert msg.role == "assistant"
    assert msg.text == "Hi! How can I help you today?"
    assert msg.status is None
    assert msg.absent_fields == {
        "status",
        "incomplete_details",
        "completed_at",
        "incomplete_at",
        "file_ids",
    }
    assert msg.attachments == ()
    assert msg.metadata == {}
    assert not msg.is_v1


def test_v2_list_seed_values() -> None:
    page = converter.decode(SEED_LIST_V2.encode(), MessagePage)
    (msg,) = page.data
    assert msg.incomplete_details == IncompleteDetails("content_filter")
    (block,) = msg.content
    assert isinstance(block, ImageFileContent)
    assert block.image_file.file_id == "string"
    assert block.image_file.detail == "auto"
    assert msg.attachments is not None
    assert msg.attachments[0].tools == (CodeInterpreterTool(),)
    assert page.first_id == "msg_abc123"
    assert page.has_more is False
    assert not page.absent_fields


def test_v1_seed_values() -> None:
    page = converter.decode(SEED_V1_LIST.encode(), MessagePage)
    assert [m.file_ids for m in page] == [(), ("file-abc123",)]
    assert all(m.is_v1 for m in page)
    assert page.data[0].assistant_id is None
    assert "assistant_id" not in page.data[0].absent_fields
    assert {"status", "attachments"} <= page.data[0].absent_fields
    files = converter.decode(SEED_V1_FILES.encode(), MessageFilePage)
    assert [f.message_id for f in files] == ["msg_abc123", "msg_abc123"]
    obj = converter.decode(SEED_V1_FILE_OBJECT.encode(), MessageFile)
    assert obj.extra == {"file_id": "file-abc123"}


def test_deleted_seed_values() -> None:
    gone = converter.decode(SEED_DELETED.encode(), DeletedMessage)
    assert gone == DeletedMessage(id="string", deleted=False)


# ----------------------------------------------------------------------------- the spec

SPEC = Path(__file__).resolve().parents[1] / "data" / "openapi-messages.yaml"


def _spec_examples() -> list[tuple[str, str, str]]:
    if not SPEC.exists():  # pragma: no cover - the spec lives beside the repository
        return []
    import yaml

    spec = yaml.safe_load(SPEC.read_text())
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            response = op["x-oaiMeta"]["examples"]["response"]
            schema = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            out.append((f"{method} {path}", response, schema.rsplit("/", 1)[1]))
    message_object = spec["components"]["schemas"]["MessageObject"]
    out.append(("MessageObject", message_object["x-oaiMeta"]["example"], "MessageObject"))
    return out


SCHEMA_CLASSES: dict[str, type[Any]] = {
    "ListMessagesResponse": MessagePage,
    "MessageObject": Message,
    "DeleteMessageResponse": DeletedMessage,
}
SPEC_EXAMPLES = _spec_examples()


def test_the_spec_has_examples() -> None:
    assert SPEC.exists(), f"spec not found at {SPEC}"
    assert len(SPEC_EXAMPLES) == 6


@pytest.mark.parametrize(
    ("body", "schema"), [(b, s) for _, b, s in SPEC_EXAMPLES], ids=[e[0] for e in SPEC_EXAMPLES]
)
def test_spec_examples_round_trip_exactly(body: str, schema: str) -> None:
    cls = SCHEMA_CLASSES[schema]
    payload = orjson.loads(body)
    model = converter.decode(body.encode(), cls)
    assert type(model) is cls
    assert converter.unstructure(model) == payload


# ----------------------------------------------------------------------------- full v2 message

FULL_MESSAGE: dict[str, Any] = {
    "id": "msg_full",
    "object": "thread.message",
    "created_at": 1714000000,
    "thread_id": "thread_1",
    "status": "incomplete",
    "incomplete_details": {"reason": "max_tokens"},
    "completed_at": None,
    "incomplete_at": 1714000009,
    "role": "assistant",
    "content": [
        {
            "type": "text",
            "text": {
                "value": "See the report【4:0†source】 and sandbox:/mnt/data/out.csv",
                "annotations": [
                    {
                        "type": "file_citation",
                        "text": "【4:0†source】",
                        "file_citation": {"file_id": "file-c", "quote": "revenue grew"},
                        "start_index": 14,
                        "end_index": 27,
                    },
                    {
                        "type": "file_path",
                        "text": "sandbox:/mnt/data/out.csv",
                        "file_path": {"file_id": "file-p"},
                        "start_index": 32,
                        "end_index": 57,
                    },
                    {"type": "url_citation", "url": "https://example.com", "start_index": 0},
                ],
            },
        },
        {"type": "image_file", "image_file": {"file_id": "file-i", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "refusal", "refusal": "I cannot help with that."},
        {"type": "audio", "audio": {"id": "aud_1"}, "transcript": None},
    ],
    "assistant_id": "asst_1",
    "run_id": "run_1",
    "attachments": [
        {"file_id": "file-a", "tools": [{"type": "code_interpreter"}, {"type": "file_search"}]},
        {"file_id": "file-b", "tools": [{"type": "web_browser", "mode": "fast"}]},
    ],
    "metadata": {"k": "v"},
    "priority": 3,
}


def test_full_message_structure() -> None:
    msg = converter.structure(copy.deepcopy(FULL_MESSAGE), Message)
    text, image_file, image_url, refusal, audio = msg.content
    assert isinstance(text, TextContent)
    cite, path, url = text.text.annotations
    assert cite == FileCitationAnnotation(
        text="【4:0†source】",
        file_citation=FileCitation("file-c", extra={"quote": "revenue grew"}),
        start_index=14,
        end_index=27,
    )
    assert cite.file_citation.quote == "revenue grew"
    assert isinstance(path, FilePathAnnotation)
    assert path.file_path.file_id == "file-p"
    assert url == UnknownAnnotation(
        "url_citation", FULL_MESSAGE["content"][0]["text"]["annotations"][2]
    )
    assert isinstance(image_file, ImageFileContent)
    assert isinstance(image_url, ImageUrlContent)
    assert image_url.image_url.detail is None
    assert "detail" in image_url.image_url.absent_fields
    assert refusal == RefusalContent("I cannot help with that.")
    assert isinstance(audio, UnknownContent)
    kind: str = audio.type  # statically the sentinel UnknownType, at runtime the server's tag
    assert kind == "audio"
    assert audio.raw == FULL_MESSAGE["content"][4]
    assert msg.attachments is not None
    assert msg.attachments[0].tools == (CodeInterpreterTool(), FileSearchTool())
    assert msg.attachments[1].tools == (
        UnknownTool("web_browser", {"type": "web_browser", "mode": "fast"}),
    )
    assert msg.incomplete_details == IncompleteDetails("max_tokens")
    assert msg.completed_at is None
    assert msg.extra == {"priority": 3}
    assert msg.absent_fields == {"file_ids"}
    assert converter.unstructure(msg) == FULL_MESSAGE


def test_unknown_types_keep_their_whole_dict_on_output() -> None:
    msg = converter.structure(copy.deepcopy(FULL_MESSAGE), Message)
    out = converter.unstructure(msg)
    assert out["content"][4] == {"type": "audio", "audio": {"id": "aud_1"}, "transcript": None}
    assert out["attachments"][1]["tools"] == [{"type": "web_browser", "mode": "fast"}]
    assert out["content"][0]["text"]["annotations"][2]["url"] == "https://example.com"


def test_unknown_fields_are_kept_at_every_level() -> None:
    payload = {
        "id": "m",
        "new_top": {"a": [1, 2]},
        "content": [
            {
                "type": "text",
                "new_block_key": 1,
                "text": {
                    "value": "v",
                    "annotations": [
                        {
                            "type": "file_path",
                            "text": "t",
                            "file_path": {"file_id": "f", "new_fp": True},
                            "start_index": 0,
                            "end_index": 1,
                            "new_ann": "x",
                        }
                    ],
                    "new_text": None,
                },
            }
        ],
        "attachments": [{"file_id": "f", "tools": [{"type": "file_search", "cfg": 1}], "n": 0}],
        "incomplete_details": {"reason": "run_failed", "why": "boom"},
    }
    msg = converter.structure(copy.deepcopy(payload), Message)
    assert msg.extra == {"new_top": {"a": [1, 2]}}
    block = msg.content[0]
    assert isinstance(block, TextContent)
    assert block.extra == {"new_block_key": 1}
    assert block.text.extra == {"new_text": None}
    ann = block.text.annotations[0]
    assert isinstance(ann, FilePathAnnotation)
    assert ann.extra == {"new_ann": "x"}
    assert ann.file_path.extra == {"new_fp": True}
    assert msg.attachments is not None
    assert msg.attachments[0].extra == {"n": 0}
    assert msg.attachments[0].tools[0].extra == {"cfg": 1}  # type: ignore[union-attr]
    assert msg.incomplete_details is not None
    assert msg.incomplete_details.extra == {"why": "boom"}
    assert converter.unstructure(msg) == payload


# ----------------------------------------------------------------------------- absent vs null


def test_absent_stays_absent_and_null_stays_null() -> None:
    absent = converter.structure({"id": "m"}, Message)
    null = converter.structure(
        {"id": "m", "metadata": None, "attachments": None, "status": None}, Message
    )
    assert absent.metadata is None
    assert null.metadata is None
    assert converter.unstructure(absent) == {"id": "m"}
    assert converter.unstructure(null) == {
        "id": "m",
        "metadata": None,
        "attachments": None,
        "status": None,
    }
    assert absent != null


def test_empty_page_with_null_cursors() -> None:
    payload: dict[str, Any] = {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    page = converter.decode(orjson.dumps(payload), MessagePage)
    assert len(page) == 0
    assert page.first_id is None
    assert page.last_id is None
    assert converter.unstructure(page) == payload


def test_lenient_page_and_message_with_only_ids() -> None:
    page = converter.decode(b'{"data": [{"id": "a"}, {"id": "b"}]}', MessagePage)
    assert [m.id for m in page] == ["a", "b"]
    assert page.has_more is False
    assert page.object == "list"
    assert page.absent_fields == {"object", "first_id", "last_id", "has_more"}
    assert converter.unstructure(page) == {"data": [{"id": "a"}, {"id": "b"}]}
    msg = page[0]
    assert msg.content == ()
    assert msg.object == "thread.message"
    assert msg.text == ""


def test_nested_fields_may_be_absent_too() -> None:
    payload = {
        "id": "m",
        "content": [
            {"type": "text", "text": {}},
            {"type": "image_file", "image_file": {}},
            {"type": "refusal"},
        ],
        "attachments": [{}],
        "incomplete_details": {},
    }
    msg = converter.structure(copy.deepcopy(payload), Message)
    text = msg.content[0]
    assert isinstance(text, TextContent)
    assert text.text == Text("", (), absent=frozenset({"value", "annotations"}))
    assert msg.attachments == (Attachment("", (), absent=frozenset({"file_id", "tools"})),)
    assert converter.unstructure(msg) == payload


def test_code_created_models_unstructure_to_the_full_dict() -> None:
    msg = Message(
        id="msg_1",
        created_at=1,
        role="user",
        content=(TextContent(Text("hi")),),
        attachments=(Attachment("f", (FileSearchTool(),)),),
        metadata={"a": "b"},
    )
    assert converter.unstructure(msg) == {
        "id": "msg_1",
        "object": "thread.message",
        "created_at": 1,
        "thread_id": None,
        "status": None,
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "role": "user",
        "content": [{"type": "text", "text": {"value": "hi", "annotations": []}}],
        "assistant_id": None,
        "run_id": None,
        "attachments": [{"file_id": "f", "tools": [{"type": "file_search"}]}],
        "metadata": {"a": "b"},
        "file_ids": None,
    }
    assert converter.unstructure(msg.omit("file_ids", "status")).keys() == (
        converter.unstructure(msg).keys() - {"file_ids", "status"}
    )


def test_structure_of_a_code_created_model_output_is_equal() -> None:
    msg = Message(id="m", content=(RefusalContent("no"),), file_ids=("f",))
    assert converter.structure(converter.unstructure(msg), Message) == msg


def test_unstructured_dicts_do_not_share_the_models_dicts() -> None:
    msg = converter.structure({"id": "m", "metadata": {"a": "b"}}, Message)
    out = converter.unstructure(msg)
    out["metadata"]["a"] = "changed"
    assert msg.metadata == {"a": "b"}


def test_cattrs_converter_uses_the_same_hooks() -> None:
    payload = copy.deepcopy(FULL_MESSAGE)
    msg = converter.converter.structure(payload, Message)
    assert converter.converter.unstructure(msg) == FULL_MESSAGE
    with pytest.raises(APIResponseValidationError, match=r"content: expected array"):
        converter.converter.structure({"id": "m", "content": {}}, Message)


def test_structure_of_other_types_goes_through_cattrs() -> None:
    msgs = converter.structure([{"id": "a"}, {"id": "b"}], list[Message])
    assert [m.id for m in msgs] == ["a", "b"]
    with pytest.raises(APIResponseValidationError):
        converter.structure([{"id": 1}], list[Message])
    assert converter.unstructure(msgs) == [{"id": "a"}, {"id": "b"}]


# ----------------------------------------------------------------------------- refused bodies

BAD_BODIES: list[tuple[bytes, type[Any], str]] = [
    (b"", MessagePage, "not valid JSON"),
    (b"<html>502 Bad Gateway</html>", MessagePage, "not valid JSON"),
    (b'{"data": [', MessagePage, "not valid JSON"),
    (b"[]", MessagePage, r"body: expected object, got array"),
    (b"null", Message, r"body: expected object, got null"),
    (b'{"data": {}}', MessagePage, r"data: expected array, got object"),
    (b'{"data": [[]]}', MessagePage, r"data\[0\]: expected object, got array"),
    (b'{"data": [{"id": "a"}, {}]}', MessagePage, r"data\[1\]\.id: missing required field"),
    (b'{"id": 7}', Message, r"id: expected string, got integer"),
    (b'{"id": "m", "created_at": "1699"}', Message, r"created_at: expected integer, got string"),
    (b'{"id": "m", "created_at": 1.5}', Message, r"created_at: expected integer, got number"),
    (b'{"id": "m", "created_at": true}', Message, r"created_at: expected integer, got boolean"),
    (b'{"id": "m", "content": "hi"}', Message, r"content: expected array, got string"),
    (b'{"id": "m", "content": null}', Message, r"content: expected array, got null"),
    (b'{"id": "m", "object": null}', Message, r"object: expected string, got null"),
    (b'{"id": "m", "metadata": []}', Message, r"metadata: expected object, got array"),
    (b'{"id": "m", "file_ids": [1]}', Message, r"file_ids\[0\]: expected string, got integer"),
    (b'{"id": "m", "content": [1]}', Message, r"content\[0\]: expected object, got integer"),
    (b'{"id": "m", "content": [{}]}', Message, r"content\[0\]\.type: missing required field"),
    (b'{"id": "m", "content": [{"type": 3}]}', Message, r"content\[0\]\.type: expected string"),
    (b'{"id": "m", "content": [{"type": "text"}]}', Message, r"content\[0\]\.text: missing"),
    (
        b'{"id": "m", "content": [{"type": "text", "text": "hi"}]}',
        Message,
        r"content\[0\]\.text: expected object, got string",
    ),
    (
        b'{"id": "m", "incomplete_details": {"reason": 1}}',
        Message,
        r"incomplete_details\.reason: expected string",
    ),
    (
        b'{"id": "m", "attachments": [{"file_id": "f", "tools": [{"type": []}]}]}',
        Message,
        r"attachments\[0\]\.tools\[0\]\.type: expected string, got array",
    ),
    (b'{"id": "m", "deleted": "yes"}', DeletedMessage, r"deleted: expected boolean, got string"),
    (b'{"data": [], "has_more": null}', MessagePage, r"has_more: expected boolean, got null"),
    (b'{"data": [{"id": "f", "created_at": []}]}', MessageFilePage, r"data\[0\]\.created_at"),
]


@pytest.mark.parametrize(
    ("body", "cls", "message"), BAD_BODIES, ids=[b[0].decode() for b in BAD_BODIES]
)
def test_bad_bodies_raise_a_validation_error_naming_the_path(
    body: bytes, cls: type[Any], message: str
) -> None:
    with pytest.raises(APIResponseValidationError, match=message) as info:
        converter.decode(body, cls)
    assert info.value.body_snippet == " ".join(body.decode().split())[:200]
    # no internal exception (KeyError, cattrs...) shows in the traceback
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


@pytest.mark.parametrize("bad_at", [0, 2, 3])
@pytest.mark.parametrize("read", ["structure", "decode"])
def test_a_deep_error_names_the_full_path(read: str, bad_at: int) -> None:
    page = orjson.loads(SEED_LIST_V2)
    good = orjson.loads(SEED_MESSAGE)
    bad = copy.deepcopy(good)
    bad["content"][0]["text"]["value"] = 42
    page["data"] = [good, good, good, good]
    page["data"][bad_at] = bad
    with pytest.raises(APIResponseValidationError) as info:
        if read == "structure":
            converter.structure(page, MessagePage)
        else:  # decode reads the page it parsed destructively, item by item
            converter.decode(orjson.dumps(page), MessagePage)
    expected = f"data[{bad_at}].content[0].text.value: expected string, got integer"
    assert expected in str(info.value)


def test_deep_annotation_error_path() -> None:
    payload = copy.deepcopy(FULL_MESSAGE)
    payload["content"][0]["text"]["annotations"][1]["file_path"]["file_id"] = None
    with pytest.raises(
        APIResponseValidationError,
        match=r"content\[0\]\.text\.annotations\[1\]\.file_path\.file_id: "
        r"expected string, got null",
    ):
        converter.structure(payload, Message)


# ----------------------------------------------------------------------------- request bodies


def test_content_parts_serialise_to_the_spec_shapes() -> None:
    assert converter.unstructure(TextPart("hi")) == {"type": "text", "text": "hi"}
    assert converter.unstructure(ImageFilePart("file-1")) == {
        "type": "image_file",
        "image_file": {"file_id": "file-1"},
    }
    assert converter.unstructure(ImageFilePart("file-1", detail="low")) == {
        "type": "image_file",
        "image_file": {"file_id": "file-1", "detail": "low"},
    }
    assert converter.unstructure(ImageUrlPart("https://x/y.png", "high")) == {
        "type": "image_url",
        "image_url": {"url": "https://x/y.png", "detail": "high"},
    }
    assert converter.unstructure(ImageUrlPart("https://x/y.png")) == {
        "type": "image_url",
        "image_url": {"url": "https://x/y.png"},
    }


def test_the_parts_of_a_create_unstructure_to_the_api_shapes() -> None:
    parts = [TextPart("look"), ImageFilePart("file-i"), ImageUrlPart("https://x/y.png", "auto")]
    attachment = Attachment("file-a", [CodeInterpreterTool(), FileSearchTool()])
    assert [converter.unstructure(part) for part in parts] == [
        {"type": "text", "text": "look"},
        {"type": "image_file", "image_file": {"file_id": "file-i"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "auto"}},
    ]
    assert converter.unstructure(ImageUrlPart("https://x/y.png")) == {
        "type": "image_url",
        "image_url": {"url": "https://x/y.png"},
    }
    assert orjson.loads(converter.encode(attachment)) == {
        "file_id": "file-a",
        "tools": [{"type": "code_interpreter"}, {"type": "file_search"}],
    }


def test_encode_accepts_read_only_mappings() -> None:
    from types import MappingProxyType

    msg = Message(id="m", metadata=MappingProxyType({"a": "b"})).omit(
        "object",
        "created_at",
        "thread_id",
        "status",
        "incomplete_details",
        "completed_at",
        "incomplete_at",
        "role",
        "content",
        "assistant_id",
        "run_id",
        "attachments",
        "file_ids",
    )
    assert converter.encode(msg) == b'{"id":"m","metadata":{"a":"b"}}'


def test_the_module_examples_run() -> None:
    import doctest

    result = doctest.testmod(converter)
    assert result.attempted > 0
    assert result.failed == 0


# ----------------------------------------------------------------------------- fast paths


def _shapes() -> dict[int, Any]:
    """The fast paths learned so far for Message, by number of keys."""
    reader = converter.converter.readers.plain[Message]
    shapes: dict[int, Any] = reader.__globals__["_shapes_Message"]
    return shapes


SHAPE_VARIANTS: list[dict[str, Any]] = [
    orjson.loads(SEED_MESSAGE),
    orjson.loads(SEED_LIST_V2)["data"][0],
    {"id": "m1", "created_at": 5, "metadata": None, "role": "user"},
    {"id": "m2", "created_at": None, "thread_id": None, "status": None, "content": []},
    {"id": "m3", "file_ids": ["f1", "f2"], "assistant_id": None, "run_id": "r", "object": "o"},
    {"id": "m4", "incomplete_details": {"reason": "x"}, "completed_at": 1, "incomplete_at": 2},
]


@pytest.mark.parametrize("payload", SHAPE_VARIANTS, ids=lambda p: p["id"])
def test_a_learned_shape_reads_exactly_like_the_general_path(payload: dict[str, Any]) -> None:
    first = converter.structure(payload, Message)  # general path, learns the shape
    assert len(payload) in _shapes()
    again = converter.structure(copy.deepcopy(payload), Message)  # the fast path
    assert again == first
    assert again.absent_fields == first.absent_fields
    assert again.extra == first.extra == {}
    assert converter.unstructure(again) == payload


def test_a_dict_of_a_learned_length_with_other_keys_is_read_correctly() -> None:
    converter.structure({"id": "a", "role": "user", "status": "completed"}, Message)
    assert 3 in _shapes()
    other = converter.structure({"id": "b", "thread_id": "t", "zzz": 1}, Message)
    assert other.thread_id == "t"
    assert other.extra == {"zzz": 1}
    assert other.role is None
    assert "role" in other.absent_fields
    assert "thread_id" not in other.absent_fields
    assert converter.unstructure(other) == {"id": "b", "thread_id": "t", "zzz": 1}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("created_at", "soon", r"^unexpected response shape: created_at: expected integer"),
        ("role", 3, r"role: expected string, got integer"),
        ("content", [{"type": "text", "text": {"value": 1}}], r"content\[0\]\.text\.value"),
        ("metadata", [], r"metadata: expected object, got array"),
        ("id", None, r"id: expected string, got null"),
    ],
)
def test_the_fast_path_reports_errors_like_the_general_path(
    field: str, value: Any, message: str
) -> None:
    good = orjson.loads(SEED_MESSAGE)
    converter.structure(good, Message)
    assert len(good) in _shapes()
    with pytest.raises(APIResponseValidationError, match=message):
        converter.structure({**good, field: value}, Message)


def test_decode_and_structure_read_pages_alike_and_structure_leaves_its_input_alone() -> None:
    page = orjson.loads(SEED_LIST_V2)
    page["data"] = [{**orjson.loads(SEED_MESSAGE), "id": f"msg_{i}"} for i in range(5)]
    before = copy.deepcopy(page)
    structured = converter.structure(page, MessagePage)
    assert page == before
    decoded = converter.decode(orjson.dumps(page), MessagePage)
    assert decoded == structured
    assert [m.id for m in decoded.data] == [f"msg_{i}" for i in range(5)]
    assert converter.unstructure(decoded) == before


# ----------------------------------------------------------------------------- over HTTP


class _Replies:
    """A tiny server on loopback: each GET takes the next body of a route's list (the last
    one repeats), counting hits per route."""

    def __init__(self, routes: dict[str, list[bytes]]) -> None:
        self.routes = routes
        self.hits: dict[str, int] = dict.fromkeys(routes, 0)

    async def handle(self, request: web.Request) -> web.Response:
        key = request.match_info.route.resource.canonical  # type: ignore[union-attr]
        bodies = self.routes[key]
        body = bodies[min(self.hits[key], len(bodies) - 1)]
        self.hits[key] += 1
        return web.Response(body=body, content_type="application/json")


@contextlib.asynccontextmanager
async def _serving(routes: dict[str, list[bytes]]) -> AsyncIterator[tuple[str, _Replies]]:
    replies = _Replies(routes)
    app = web.Application()
    for route in routes:
        app.router.add_get(route, replies.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
    try:
        yield f"http://127.0.0.1:{port}/v1", replies
    finally:
        await runner.cleanup()


MESSAGE_ROUTE = "/v1/threads/{thread_id}/messages/{message_id}"
LIST_ROUTE = "/v1/threads/{thread_id}/messages"
FILES_ROUTE = "/v1/threads/{thread_id}/messages/{message_id}/files"


def _message(created_at: Any, i: int = 1) -> dict[str, Any]:
    return {**orjson.loads(SEED_MESSAGE), "id": f"msg_{i}", "created_at": created_at}


async def test_integral_float_timestamps_are_read_as_ints_over_http() -> None:
    # open-assistant-api sends "created_at": 1796155404.0; issue 14, item 17
    page = {"object": "list", "data": [_message(1796155404.0, 2)], "has_more": False}
    routes = {
        MESSAGE_ROUTE: [orjson.dumps(_message(1796155404.0))],
        LIST_ROUTE: [orjson.dumps(page)],
    }
    async with (
        _serving(routes) as (url, _),
        om.Client(api_key="sk-test", base_url=url, max_retries=0) as client,
    ):
        msg = await client.retrieve("thread_1", "msg_1")
        listed = await client.list("thread_1").collect()
    for got in (msg, listed[0]):
        assert got.created_at == 1796155404
        assert type(got.created_at) is int
        # documented: the round trip gives the int the float stood for
        assert type(converter.unstructure(got)["created_at"]) is int
    assert converter.encode(msg).count(b'"created_at":1796155404,') == 1


@pytest.mark.parametrize(
    ("value", "got"), [(1.5, "number"), (True, "boolean"), (1e300, "number"), ("1", "string")]
)
async def test_other_non_integers_stay_refused_over_http(value: Any, got: str) -> None:
    routes = {MESSAGE_ROUTE: [orjson.dumps(_message(value))]}
    async with (
        _serving(routes) as (url, _),
        om.Client(api_key="sk-test", base_url=url, max_retries=0) as client,
    ):
        with pytest.raises(APIResponseValidationError) as info:
            await client.retrieve("thread_1", "msg_1")
    assert f"created_at: expected integer, got {got}" in str(info.value)


PAGE_1 = {
    "object": "list",
    "data": [_message(1, i) for i in (1, 2)],
    "first_id": "msg_1",
    "last_id": "msg_2",
    "has_more": True,
}
NOT_PAGES = [b"{}", b'{"error": {"message": "upstream hiccup", "type": "server_error"}}']


@pytest.mark.parametrize("bad", NOT_PAGES, ids=["empty", "error"])
async def test_a_list_reply_without_data_fails_the_walk_over_http(bad: bytes) -> None:
    # issue 14, item 4: page 2 answered 200 {} (or an error object) used to end the walk
    routes = {LIST_ROUTE: [orjson.dumps(PAGE_1), bad]}
    async with (
        _serving(routes) as (url, replies),
        om.Client(api_key="sk-test", base_url=url, max_retries=1) as client,
    ):
        with pytest.raises(APIResponseValidationError, match=r"data: missing required field"):
            await client.list("thread_1").collect()
    assert replies.hits[LIST_ROUTE] == 3, "the unreadable page is retried like a truncated body"


@pytest.mark.parametrize("bad", NOT_PAGES, ids=["empty", "error"])
async def test_a_file_list_reply_without_data_is_unreadable_over_http(bad: bytes) -> None:
    async with (
        _serving({FILES_ROUTE: [bad]}) as (url, _),
        om.Client(api_key="sk-test", base_url=url, max_retries=0) as client,
    ):
        with pytest.raises(APIResponseValidationError, match=r"data: missing required field"):
            await client.list_files("thread_1", "msg_1").first_page()


async def test_a_page_without_has_more_is_read_with_has_more_absent_over_http() -> None:
    page = {"object": "list", "data": [_message(1, 1)], "first_id": "msg_1", "last_id": "msg_1"}
    async with (
        _serving({LIST_ROUTE: [orjson.dumps(page)]}) as (url, _),
        om.Client(api_key="sk-test", base_url=url, max_retries=0) as client,
    ):
        first = await client.list("thread_1").first_page()
    assert [m.id for m in first] == ["msg_1"]
    assert first.has_more is False
    assert "has_more" in first.absent_fields
    assert converter.unstructure(first) == page


@pytest.mark.parametrize("cls", [MessagePage, MessageFilePage, om.ThreadPage])
@pytest.mark.parametrize("read", ["structure", "decode"])
def test_every_page_model_needs_its_data(cls: type[Any], read: str) -> None:
    for body in NOT_PAGES:
        with pytest.raises(APIResponseValidationError, match=r"^unexpected response shape: data:"):
            if read == "decode":
                converter.decode(body, cls)
            else:
                converter.structure(orjson.loads(body), cls)
    # objects inside stay lenient: only ``data`` is required of a page
    assert len(converter.decode(b'{"data": [{"id": "x"}]}', cls)) == 1


# ----------------------------------------------------------------------------- derived models


def test_every_model_of_the_models_module_is_covered() -> None:
    from openai_messages._codec import models, structuring

    found = structuring.find_models(models)
    classes = {getattr(models, n) for n in models.__all__ if attrs.has(getattr(models, n))}
    assert classes == {*found.responses, *found.unknowns, *found.requests}
    assert set(found.unions) == {models.Annotation, models.MessageContent, models.Tool}
    assert set(found.pages) == {MessagePage, MessageFilePage, models.ThreadPage}
    assert set(converter.converter.readers.plain) >= set(found.responses)


NEW_MODELS = """
from __future__ import annotations
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Union
import attrs
from openai_messages._codec.models import _Model, _PageMixin, _extra, _absent, NO_EXTRA

@attrs.frozen(repr=False)
class Note(_Model):
    type: ClassVar[Literal["note"]] = "note"
    body: str
    extra: Mapping[str, Any] = _extra()
    _absent: frozenset[str] = _absent()

@attrs.frozen
class UnknownPart:
    type: str
    raw: Mapping[str, Any] = attrs.field(default=NO_EXTRA)

Part = Union[Note, UnknownPart]

@attrs.frozen(repr=False)
class Thread(_Model):
    id: str
    object: str = "thread"
    created_at: int | None = None
    score: float | None = None
    parts: tuple[Part, ...] = ()
    tool_resources: dict[str, Any] | None = None
    extra: Mapping[str, Any] = _extra()
    _absent: frozenset[str] = _absent()

@attrs.frozen(repr=False)
class ThreadPage(_Model, _PageMixin[Thread]):
    object: str = "list"
    data: tuple[Thread, ...] = ()
    has_more: bool = False
    extra: Mapping[str, Any] = _extra()
    _absent: frozenset[str] = _absent()
"""


def test_a_new_models_module_is_covered_without_edits(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("new_models")
    monkeypatch.setitem(sys.modules, "new_models", module)
    exec(compile(NEW_MODELS, "<new_models>", "exec"), vars(module))
    conv = converter.make_converter(module)
    payload = {
        "id": "thread_1",
        "created_at": 7.0,
        "score": 1,
        "parts": [{"type": "note", "body": "b", "x": 1}, {"type": "video", "v": 2}],
        "tool_resources": {"code_interpreter": {"file_ids": []}},
        "x_new": True,
    }
    thread_cls, page_cls = module.Thread, module.ThreadPage
    thread = conv.structure(copy.deepcopy(payload), thread_cls)
    assert thread.created_at == 7
    assert type(thread.created_at) is int
    assert thread.extra == {"x_new": True}
    assert "object" in thread.absent_fields
    assert type(thread.parts[1]) is module.UnknownPart
    assert thread.parts[0].extra == {"x": 1}
    assert conv.unstructure(thread) == payload
    page = conv.structure({"data": [payload]}, page_cls)
    assert page.data == (thread,)
    with pytest.raises(APIResponseValidationError, match=r"data: missing required field"):
        conv.structure({"has_more": True}, page_cls)
    with pytest.raises(APIResponseValidationError, match=r"parts\[0\]\.body: expected string"):
        conv.structure({"id": "t", "parts": [{"type": "note", "body": 1}]}, thread_cls)
    with pytest.raises(APIResponseValidationError, match=r"score: expected number, got string"):
        conv.structure({"id": "t", "score": "1"}, thread_cls)


def test_generated_source_is_in_linecache() -> None:
    import inspect
    import linecache

    reader = converter.converter.readers.consuming[MessagePage]
    assert "_Miss" in inspect.getsource(reader)
    converter.converter.get_structure_hook(Message)  # cattrs generates it on first use
    cattrs_made = [k for k in linecache.cache if "cattrs generated structure" in k]
    assert any(k.endswith("openai_messages._codec.models.Message>") for k in cattrs_made)


def test_one_place_builds_the_validation_error_of_a_payload() -> None:
    """Issue 13: the converter and ``replies`` build ``APIResponseValidationError`` in one
    place, ``Unreadable.error``; the converter finds the problem, its callers add the rest."""
    package = Path(converter.__file__).parent.parent
    builders = []
    for where in ("_codec/converter", "_codec/structuring", "_codec/fastpath", "_core/replies"):
        name = where.rpartition("/")[2]
        tree = ast.parse((package / f"{where}.py").read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for call in ast.walk(node):
                    if isinstance(call, ast.Call) and ast.unparse(call.func).endswith(
                        "APIResponseValidationError"
                    ):
                        builders.append(f"{name}.{node.name}")
    assert builders == ["converter.error"]
    with pytest.raises(converter.Unreadable) as found:
        converter.read_body(b'{"data": 1}', MessagePage)
    with pytest.raises(APIResponseValidationError) as public:
        converter.decode(b'{"data": 1}', MessagePage)
    assert public.value.detail == found.value.problem
    assert public.value.body_snippet == '{"data": 1}'
