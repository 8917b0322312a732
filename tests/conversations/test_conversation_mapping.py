"""The mapping from thread messages to conversation items (issue 23 item 2), and the
conversation models read losslessly: unit and property tests, and a loopback test where
mapped messages go into the emulator's conversations."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import openai_messages as om
from openai_messages._codec import converter
from openai_messages._codec.models import Message
from openai_messages._core.bodies import check_items as client_check
from openai_messages.emulator import Emulator
from openai_messages.emulator.conversations import check_items as server_check

from ..payload_strategies import (
    FEWER,
    SETTINGS,
    both_paths,
    details,
    json_values,
    messages,
    nullable,
    obj,
    text,
    unknown_of,
)


def message(role: str | None = "user", *content: dict[str, Any], **fields: Any) -> Message:
    payload: dict[str, Any] = {"id": "msg_1", "thread_id": "thread_1", "content": list(content)}
    if role is not None:
        payload["role"] = role
    return converter.structure({**payload, **fields}, Message)


def text_block(value: str, *annotations: dict[str, Any]) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": list(annotations)}}


CITATION = {
    "type": "file_citation",
    "text": "[1]",
    "file_citation": {"file_id": "file_c", "quote": "q"},
    "start_index": 3,
    "end_index": 6,
}
FILE_PATH = {
    "type": "file_path",
    "text": "[f]",
    "file_path": {"file_id": "file_p"},
    "start_index": 0,
    "end_index": 3,
}
IMAGE = {"type": "image_file", "image_file": {"file_id": "file_i", "detail": "high"}}
IMAGE_URL = {"type": "image_url", "image_url": {"url": "https://x/i.png"}}


# ----------------------------------------------------------------------------- the table


def test_user_text_images_and_files() -> None:
    msg = message(
        "user",
        text_block("hello"),
        IMAGE,
        IMAGE_URL,
        attachments=[{"file_id": "file_a", "tools": [{"type": "file_search"}]}],
    )
    assert om.conversation_items(msg) == [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "hello"},
                {"type": "input_image", "file_id": "file_i", "detail": "high"},
                {"type": "input_image", "image_url": "https://x/i.png", "detail": "auto"},
                {"type": "input_file", "file_id": "file_a"},
            ],
        }
    ]


def test_v1_file_ids_become_input_files_once_each() -> None:
    msg = message("user", text_block("see"), file_ids=["file_1", "file_2", "file_1"])
    assert om.conversation_items(msg)[0]["content"][1:] == [
        {"type": "input_file", "file_id": "file_1"},
        {"type": "input_file", "file_id": "file_2"},
    ]


def test_assistant_text_with_annotations_and_a_refusal() -> None:
    msg = message(
        "assistant",
        text_block("see [1] [f]", CITATION, FILE_PATH),
        {"type": "refusal", "refusal": "no"},
    )
    assert om.conversation_items(msg) == [
        {
            "type": "message",
            "role": "assistant",
            "content": [
                {
                    "type": "output_text",
                    "text": "see [1] [f]",
                    "annotations": [
                        {
                            "type": "file_citation",
                            "file_id": "file_c",
                            "filename": "file_c",
                            "index": 3,
                        },
                        {"type": "file_path", "file_id": "file_p", "index": 0},
                    ],
                },
                {"type": "refusal", "refusal": "no"},
            ],
        }
    ]
    dropped = om.conversation_items(msg, drop_annotations=True)
    assert dropped[0]["content"][0]["annotations"] == []


def test_assistant_media_is_refused_or_follows_as_a_user_item() -> None:
    msg = message("assistant", text_block("a chart"), IMAGE, file_ids=["file_out"])
    with pytest.raises(om.MessageNotMappableError, match="assistant_media='user_item'") as caught:
        om.conversation_items(msg)
    assert caught.value.message_id == "msg_1"
    assert caught.value.thread_id == "thread_1"
    items = om.conversation_items(msg, assistant_media="user_item")
    assert [(i["role"], [p["type"] for p in i["content"]]) for i in items] == [
        ("assistant", ["output_text"]),
        ("user", ["input_image", "input_file"]),
    ]


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (message("system", text_block("x")), "role 'system'"),
        (message(None, text_block("x")), "role None"),
        (message("user", {"type": "video", "url": "v"}), "content[0] is of unknown type 'video'"),
        (message("user", {"type": "refusal", "refusal": "no"}), "refusal in a user's message"),
        (message("user", text_block("x", CITATION)), "user's text with annotations"),
        (
            message("assistant", text_block("x", {"type": "sticker", "id": 1})),
            "annotations[0] is an annotation of unknown type 'sticker'",
        ),
        (message("assistant"), "no content"),
    ],
)
def test_what_cannot_be_mapped_is_a_named_error(msg: Message, reason: str) -> None:
    with pytest.raises(om.MessageNotMappableError) as caught:
        om.conversation_items(msg)
    assert reason in caught.value.reason
    assert "msg_1" in str(caught.value)
    assert isinstance(caught.value, ValueError)


# ----------------------------------------------------------------------------- properties


def _texts(msg: Message) -> list[str]:
    return [b.text.value for b in msg.content if isinstance(b, om.TextContent)]


@SETTINGS
@given(messages, st.booleans(), st.sampled_from(["error", "user_item"]))
def test_every_message_maps_or_raises_the_named_error(
    payload: dict[str, Any], drop: bool, media: om.AssistantMedia
) -> None:
    msg = converter.structure(payload, Message)
    failure: om.MessageNotMappableError | None = None
    try:
        items = om.conversation_items(msg, drop_annotations=drop, assistant_media=media)
    except om.MessageNotMappableError as exc:
        failure = exc
    if failure is not None:
        assert (failure.message_id, bool(failure.reason)) == (msg.id, True)
        return
    parts = [p for item in items for p in item["content"]]
    assert [p["text"] for p in parts if "text" in p] == _texts(msg)  # every text, in order
    images = [b for b in msg.content if isinstance(b, (om.ImageFileContent, om.ImageUrlContent))]
    assert len([p for p in parts if p["type"] == "input_image"]) == len(images)
    files = {a.file_id for a in msg.attachments or ()} | set(msg.file_ids or ())
    assert {p["file_id"] for p in parts if p["type"] == "input_file"} == files
    assert items[0]["role"] == msg.role or (msg.role == "assistant" and len(items) == 1)
    assert client_check(items) == items  # the client sends them as they are
    stored = server_check(orjson.loads(orjson.dumps(items)))  # and the spec's checks pass
    assert [i["role"] for i in stored] == [i["role"] for i in items]


# conversation items, as a server sends them
part_strategies = (
    obj({"type": st.just("input_text"), "text": text})
    | obj(
        {"type": st.just("output_text"), "text": text},
        {
            "annotations": st.lists(
                obj(
                    {"type": st.just("file_citation"), "file_id": text},
                    {"filename": text, "index": st.integers(0, 99)},
                )
                | obj(
                    {"type": st.just("url_citation"), "url": text},
                    {
                        "title": text,
                        "start_index": st.integers(0, 9),
                        "end_index": st.integers(0, 9),
                    },
                )
                | obj(
                    {
                        "type": st.just("container_file_citation"),
                        "container_id": text,
                        "file_id": text,
                    }
                )
                | obj({"type": st.just("file_path"), "file_id": text}, {"index": st.integers(0, 9)})
                | unknown_of(
                    {"file_citation", "url_citation", "container_file_citation", "file_path"}
                ),
                max_size=3,
            ),
            "logprobs": nullable(
                st.lists(st.dictionaries(text, json_values, max_size=2), max_size=2)
            ),
        },
    )
    | obj(
        {"type": st.just("input_image")},
        {"image_url": nullable(text), "file_id": nullable(text), "detail": details},
    )
    | obj(
        {"type": st.just("input_file")},
        {"file_id": nullable(text), "filename": nullable(text), "file_url": nullable(text)},
    )
    | obj({"type": st.just("refusal"), "refusal": text})
    | unknown_of({"input_text", "output_text", "input_image", "input_file", "refusal"})
)
item_strategies = obj(
    {"type": st.just("message"), "id": text},
    {
        "status": st.sampled_from(["completed", "in_progress", "incomplete"]),
        "role": st.sampled_from(["user", "assistant", "system", "developer"]),
        "content": st.lists(part_strategies, max_size=4),
    },
) | unknown_of({"message"})
item_pages = obj(
    {"data": st.lists(item_strategies, max_size=4)},
    {
        "object": st.just("list"),
        "first_id": nullable(text),
        "last_id": nullable(text),
        "has_more": st.booleans(),
    },
)


@SETTINGS
@given(item_pages)
def test_conversation_item_pages_round_trip_exactly(payload: dict[str, Any]) -> None:
    page = converter.decode(orjson.dumps(payload), om.ConversationItemPage)
    assert converter.unstructure(page) == payload
    both_paths(payload, om.ConversationItemPage)


@FEWER
@given(
    obj(
        {"id": text},
        {
            "object": st.just("conversation"),
            "created_at": st.integers(0, 2**40),
            "metadata": nullable(st.dictionaries(text, text, max_size=3)),
        },
    )
)
def test_conversations_round_trip_exactly(payload: dict[str, Any]) -> None:
    assert converter.unstructure(converter.structure(payload, om.Conversation)) == payload
    both_paths(payload, om.Conversation)


# ----------------------------------------------------------------------------- over loopback


async def test_mapped_messages_go_into_a_conversation_in_order(
    client: om.Client, emu: Emulator
) -> None:
    thread = await client.create_thread()
    await client.create(
        thread.id, role="user", content="question", attachments=[{"file_id": "file_a"}]
    )
    await client.create(thread.id, role="assistant", content="answer")
    await client.create(
        thread.id,
        role="user",
        content=[
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        ],
    )
    source = await client.list(thread.id, order="asc").collect()
    conv = await client.conversations.create(metadata={"source_thread_id": thread.id})
    batch = [item for m in source for item in om.conversation_items(m)]
    made = await client.conversations.items.create(conv.id, batch)
    assert [(i.role, i.text) for i in made if isinstance(i, om.MessageItem)] == [
        ("user", "question"),
        ("assistant", "answer"),
        ("user", "look"),
    ]
    walked = await client.conversations.items.list(conv.id, order="asc").collect()
    assert [i.id for i in walked] == [i.id for i in made]
    first = walked[0]
    assert isinstance(first, om.MessageItem)
    assert isinstance(first.content[1], om.InputFilePart)
    assert first.content[1].file_id == "file_a"
