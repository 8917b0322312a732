"""Mistakes that ``mypy --strict`` must refuse: each line marked ``# expect: <code>``.

``tests/project/test_typing.py`` checks that mypy reports exactly these lines, with these error
codes, and nothing else. The file is left out of the ``mypy`` run over ``tests``
(``[tool.mypy] exclude`` in ``pyproject.toml``), which would otherwise fail on it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from typing_extensions import assert_type

import openai_messages as om


async def arguments(client: om.Client) -> None:
    client.list("thread_1", order="sideways")  # expect: arg-type
    client.list_files("thread_1", "msg_1", order="up")  # expect: arg-type
    client.list_threads(order="oldest")  # expect: arg-type
    await client.create("thread_1", role="robot", content="hi")  # expect: arg-type
    client.fetch_many(["thread_1"], order="newest")  # expect: arg-type
    client.stream_many(["thread_1"], order="oldest")  # expect: arg-type
    om.Client("sk-test", api_version="v3")  # expect: arg-type
    om.ImageFilePart("file_1", detail="ultra")  # expect: arg-type
    om.ImageUrlPart("https://x.test/a.png", detail="medium")  # expect: arg-type
    await client.create_thread(messages=[{"role": "bot", "content": "x"}])  # expect: typeddict-item
    await client.create_thread(messages=[{"content": "x"}])  # expect: typeddict-item
    await client.conversations.items.create("conv_1", [1])  # expect: list-item


def pager(fetch: Callable[[int, str | None, str | None], Awaitable[om.MessagePage]]) -> None:
    om.Pager(fetch, order="ascending")  # expect: arg-type


def blocks(message: om.Message) -> None:
    block = message.content[0]
    print(block.text)  # expect: union-attr
    if block.type == "text":
        print(block.refusal)  # expect: attr-defined
        assert_type(block, om.TextContent | om.UnknownContent)  # expect: assert-type
    # The documented cost of the sentinel: a tag this package does not know yet must be
    # read as a str first (``kind: str = block.type``).
    if block.type == "video":  # expect: comparison-overlap
        pass  # expect: unreachable


def results(result: om.ThreadResult) -> None:
    error: om.APIStatusError | None = result.error  # expect: assignment
    print(error)
