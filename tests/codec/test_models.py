"""The model classes themselves: conveniences, equality, immutability, reprs."""

from __future__ import annotations

import attrs
import pytest

from openai_messages._codec import converter
from openai_messages._codec.models import (
    NO_EXTRA,
    Attachment,
    CodeInterpreterTool,
    FileCitation,
    FileCitationAnnotation,
    ImageFile,
    ImageFileContent,
    Message,
    MessageFile,
    MessageFilePage,
    MessagePage,
    RefusalContent,
    Text,
    TextContent,
    UnknownContent,
)


def _text(value: str) -> TextContent:
    return TextContent(Text(value))


def test_message_text_joins_the_text_blocks_only() -> None:
    msg = Message(
        id="m",
        content=(
            _text("first"),
            ImageFileContent(ImageFile("file-1")),
            RefusalContent("no"),
            UnknownContent("text_like", {"type": "text_like", "text": {"value": "x"}}),
            _text("second"),
        ),
    )
    assert msg.text == "first\nsecond"
    assert Message(id="m").text == ""
    assert Message(id="m", content=(_text("only"),)).text == "only"


def test_is_v1() -> None:
    assert Message(id="m", file_ids=()).is_v1
    assert not Message(id="m").is_v1
    v1 = converter.structure({"id": "m", "file_ids": ["f"]}, Message)
    v2 = converter.structure({"id": "m", "attachments": []}, Message)
    assert v1.is_v1
    assert not v2.is_v1


def test_pages_are_sequences_of_their_data() -> None:
    msgs = (Message(id="a"), Message(id="b"), Message(id="c"))
    page = MessagePage(data=msgs, first_id="a", last_id="c", has_more=True)
    assert len(page) == 3
    assert [m.id for m in page] == ["a", "b", "c"]
    assert page[0].id == "a"
    assert page[-1].id == "c"
    assert page[1:] == msgs[1:]
    files = MessageFilePage(data=(MessageFile(id="f"),))
    assert len(files) == 1
    assert next(iter(files)).id == "f"
    assert len(MessagePage()) == 0


def test_models_are_frozen_and_slotted() -> None:
    msg = Message(id="m")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        msg.id = "other"  # type: ignore[misc]
    assert not hasattr(msg, "__dict__")
    assert not hasattr(TextContent(Text("x")), "__dict__")


def test_models_are_hashable_and_compare_by_value() -> None:
    a = Message(id="m", metadata={"k": "v"}, content=(_text("x"),))
    b = Message(id="m", metadata={"k": "v"}, content=(_text("x"),))
    assert a == b
    assert hash(a) == hash(b)
    assert a != Message(id="m", metadata={"k": "w"}, content=(_text("x"),))
    assert len({a, b}) == 1


def test_equality_follows_the_json_the_models_stand_for() -> None:
    absent = converter.structure({"id": "m"}, Message)
    assert absent != Message(id="m")  # the latter unstructures with every field
    assert absent == Message(id="m").omit(*absent.absent_fields)
    with_extra = converter.structure({"id": "m", "x": 1}, Message)
    assert with_extra != absent
    assert with_extra.extra == {"x": 1}


def test_omit_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="no field 'nope'"):
        Message(id="m").omit("nope")
    with pytest.raises(ValueError, match="no field 'extra'"):
        Message(id="m").omit("extra")
    assert Message(id="m").omit("status").absent_fields == {"status"}


def test_defaults() -> None:
    msg = Message(id="m")
    assert msg.object == "thread.message"
    assert msg.content == ()
    assert msg.metadata is None
    assert msg.extra is NO_EXTRA
    assert msg.absent_fields == frozenset()
    page = MessagePage()
    assert (page.object, page.data, page.first_id, page.last_id, page.has_more) == (
        "list",
        (),
        None,
        None,
        False,
    )


def test_file_citation_quote_from_v1_extra() -> None:
    assert FileCitation("f", extra={"quote": "q"}).quote == "q"
    assert FileCitation("f").quote is None
    assert FileCitation("f", extra={"quote": 3}).quote is None


def test_type_tags_are_class_constants() -> None:
    assert TextContent.type == "text"
    assert _text("x").type == "text"
    assert FileCitationAnnotation.type == "file_citation"
    assert CodeInterpreterTool().type == "code_interpreter"
    kind: str = UnknownContent("new", {}).type  # statically the sentinel, at runtime the tag
    assert kind == "new"
    assert "type" not in attrs.fields_dict(TextContent)


def test_repr_leaves_out_absent_fields_and_empty_extra() -> None:
    msg = converter.structure({"id": "m", "role": "user", "x": 1}, Message)
    assert repr(msg) == "Message(id='m', role='user', extra={'x': 1})"
    assert repr(Text("v")) == "Text(value='v', annotations=())"
    assert "_absent" not in repr(Message(id="m"))


def test_an_attachment_takes_a_list_of_tools() -> None:
    attachment = Attachment("f", [CodeInterpreterTool()])
    assert attachment == Attachment("f", (CodeInterpreterTool(),))
    hash(attachment)
