"""Code that must type-check under ``mypy --strict``, with the types mypy must infer.

Checked by ``tests/project/test_typing.py`` (and by the ``typecheck`` session's mypy run over
``tests``). The functions are never called: only their types matter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from typing_extensions import assert_type

import openai_messages as om


def content_blocks_narrow_on_type(message: om.Message) -> list[str]:
    seen: list[str] = []
    for block in message.content:
        if block.type == "text":
            assert_type(block, om.TextContent)
            seen.append(block.text.value)
        elif block.type == "image_file":
            assert_type(block, om.ImageFileContent)
            seen.append(block.image_file.file_id)
        elif block.type == "image_url":
            assert_type(block, om.ImageUrlContent)
            seen.append(block.image_url.url)
        elif block.type == "refusal":
            assert_type(block, om.RefusalContent)
            seen.append(block.refusal)
        else:
            assert_type(block, om.UnknownContent)
            kind: str = block.type  # the server's tag, read as a str to compare it freely
            if kind == "video":
                seen.append(str(block.raw.get("video")))
    return seen


def match_narrows_too(block: om.MessageContent) -> str:
    match block.type:
        case "text":
            assert_type(block, om.TextContent)
            return block.text.value
        case "refusal":
            assert_type(block, om.RefusalContent)
            return block.refusal
    assert_type(block, om.ImageFileContent | om.ImageUrlContent | om.UnknownContent)
    return ""


def annotations_and_tools_narrow(text: om.Text, attachment: om.Attachment) -> list[str]:
    ids: list[str] = []
    for annotation in text.annotations:
        if annotation.type == "file_citation":
            assert_type(annotation, om.FileCitationAnnotation)
            ids.append(annotation.file_citation.file_id)
        elif annotation.type == "file_path":
            assert_type(annotation, om.FilePathAnnotation)
            ids.append(annotation.file_path.file_id)
        else:
            assert_type(annotation, om.UnknownAnnotation)
    for tool in attachment.tools:
        if tool.type == "code_interpreter":
            assert_type(tool, om.CodeInterpreterTool)
        elif tool.type == "file_search":
            assert_type(tool, om.FileSearchTool)
        else:
            assert_type(tool, om.UnknownTool)
    return ids


def fields_read_from_a_server_are_open(message: om.Message) -> None:
    # Open[MessageStatus] is "a known value or any other str": for mypy, a str.
    assert_type(message.status, str | None)
    assert_type(message.role, str | None)
    if message.incomplete_details is not None:
        assert_type(message.incomplete_details.reason, str)
    if message.status == "cancelled":  # a value the API may add later: no error
        pass


def unknown_objects_are_built_from_any_tag() -> None:
    om.UnknownContent("video", {"type": "video"})
    om.UnknownAnnotation("url_citation")
    om.UnknownTool("web_browser")


async def calls_take_the_literals(client: om.Client, order: om.Order, role: om.Role) -> None:
    message = await client.create("thread_1", role=role, content="hi")
    assert_type(message, om.Message)
    await client.create("thread_1", role="assistant", content=[om.TextPart("hi")])
    assert_type(client.list("thread_1", order=order), om.Pager[om.Message, om.MessagePage])
    client.list("thread_1", order="asc", page_size=10)
    client.list_files("thread_1", "msg_1", order="desc")
    assert_type(client.list_threads(order=order), om.Pager[om.Thread, om.ThreadPage])
    async for response in client.with_response.list_threads(order="asc", page_size=50):
        assert_type(response.value, om.ThreadPage)
    om.ImageFilePart("file_1", detail="low")
    async for result in client.fetch_many(["thread_1"], order="desc"):
        assert_type(result.error, om.OpenAIMessagesError | None)
    async for chunk in client.stream_many(["thread_1"], order=order):
        assert_type(chunk.error, om.OpenAIMessagesError | None)


def clients_take_the_api_version(version: om.ApiVersion) -> list[om.Client]:
    return [om.Client("sk-test", api_version="v1"), om.Client("sk-test", api_version=version)]


def pagers_take_the_order(
    fetch: Callable[[int, str | None, str | None], Awaitable[om.MessagePage]],
) -> None:
    pager: om.Pager[om.Message, om.MessagePage] = om.Pager(fetch, order="asc")
    assert_type(pager.order, om.Order)


async def initial_messages_and_items_are_typed(client: om.Client, part: om.TextPart) -> None:
    first: om.InitialMessage = {"role": "user", "content": [part, {"type": "text", "text": "x"}]}
    await client.create_thread(messages=[first, {"role": "assistant", "content": "Hello"}])
    item = om.MessageItem(id="item_1", role="user", content=(om.InputTextPart(text="hi"),))
    await client.conversations.items.create("conv_1", [item, {"role": "user", "content": "x"}])
