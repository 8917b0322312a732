"""The official ``openai`` package works against the emulator unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from openai_messages.emulator import Emulator, Fault

openai = pytest.importorskip("openai")

# The SDK marks the Assistants API deprecated; that is not what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "sk-emu-openai"


@pytest.fixture
async def server() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, seed=11) as emu:
        yield emu


@pytest.fixture
async def client(server: Emulator) -> AsyncIterator[Any]:
    async with openai.AsyncOpenAI(base_url=server.url, api_key=KEY, max_retries=0) as c:
        yield c


async def test_crud(server: Emulator, client: Any) -> None:
    messages = client.beta.threads.messages
    server.store.create_thread("thread_o")
    created = await messages.create("thread_o", role="user", content="Hello", metadata={"a": "1"})
    assert created.id.startswith("msg_")
    assert created.status == "completed"
    assert created.content[0].text.value == "Hello"
    got = await messages.retrieve(created.id, thread_id="thread_o")
    assert got == created
    updated = await messages.update(created.id, thread_id="thread_o", metadata={"b": "2"})
    assert updated.metadata == {"b": "2"}
    gone = await messages.delete(created.id, thread_id="thread_o")
    assert gone.deleted is True
    assert gone.id == created.id
    with pytest.raises(openai.NotFoundError):
        await messages.retrieve(created.id, thread_id="thread_o")
    assert server.log[0].headers["OpenAI-Beta"] == "assistants=v2"


async def test_auto_pagination(server: Emulator, client: Any) -> None:
    ids = server.store.add_messages("thread_p", 45)
    seen = [m.id async for m in client.beta.threads.messages.list("thread_p", limit=10)]
    assert seen == ids[::-1]
    assert server.log.count("list") == 5
    asc = [
        m.id async for m in client.beta.threads.messages.list("thread_p", order="asc", limit=100)
    ]
    assert asc == ids
    page = await client.beta.threads.messages.list("thread_p", before=ids[10], order="asc", limit=3)
    assert [m.id for m in page.data] == ids[7:10]


async def test_errors_map_to_sdk_exceptions(server: Emulator) -> None:
    async with openai.AsyncOpenAI(base_url=server.url, api_key="sk-bad", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            await bad.beta.threads.messages.list("thread_x")
    assert info.value.code == "invalid_api_key"
    assert info.value.request_id is not None
    assert info.value.request_id.startswith("req_")


async def test_sdk_retries_honour_retry_after_ms(server: Emulator) -> None:
    server.store.add_messages("thread_r", 3)
    server.faults.add(Fault.rate_limited(None, retry_after_ms=10), route="list", nth={1, 2})
    async with openai.AsyncOpenAI(base_url=server.url, api_key=KEY, max_retries=2) as c:
        page = await c.beta.threads.messages.list("thread_r")
    assert len(page.data) == 3
    assert server.log.statuses("list") == [429, 429, 200]


async def test_azure_client(server: Emulator) -> None:
    server.store.add_messages("thread_az", 2)
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=server.root_url, api_key=KEY, api_version="2024-05-01-preview"
    ) as azure:
        page = await azure.beta.threads.messages.list("thread_az")
    assert len(page.data) == 2
    last = server.log[-1]
    assert last.path == "/openai/threads/thread_az/messages"
    assert last.query["api-version"] == "2024-05-01-preview"


async def test_threads_crud(server: Emulator, client: Any) -> None:
    threads = client.beta.threads
    created = await threads.create(
        messages=[{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi"}],
        metadata={"team": "a"},
    )
    assert created.id.startswith("thread_")
    assert created.object == "thread"
    assert created.metadata == {"team": "a"}
    page = await threads.messages.list(created.id, order="asc")
    assert [m.content[0].text.value for m in page.data] == ["Hello", "Hi"]
    got = await threads.retrieve(created.id)
    assert got == created
    updated = await threads.update(created.id, metadata={"team": "b"})
    assert updated.metadata == {"team": "b"}
    gone = await threads.delete(created.id)
    assert (gone.id, gone.deleted, gone.object) == (created.id, True, "thread.deleted")
    with pytest.raises(openai.NotFoundError):
        await threads.retrieve(created.id)
    with pytest.raises(openai.NotFoundError) as info:
        await threads.messages.create(created.id, role="user", content="late")
    assert f"No thread found with id '{created.id}'" in str(info.value)
    with pytest.raises(openai.BadRequestError) as bad:
        await threads.retrieve("undefined")
    assert bad.value.param == "thread_id"
    assert server.log.count("create_thread") == 1


async def test_azure_v1_client_threads(server: Emulator) -> None:
    async with openai.AsyncOpenAI(base_url=server.url_for("azure_v1"), api_key=KEY) as azure:
        thread = await azure.beta.threads.create()
        await azure.beta.threads.messages.create(thread.id, role="user", content="x")
        page = await azure.beta.threads.messages.list(thread.id)
    assert len(page.data) == 1
    assert server.log[-1].path == f"/openai/v1/threads/{thread.id}/messages"
