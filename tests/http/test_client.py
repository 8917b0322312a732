"""The client over real HTTP against the emulator: operations, shapes, errors, lifecycle."""

from __future__ import annotations

import gc
import logging
from typing import Any

import aiohttp
import pytest

import openai_messages as om
from openai_messages._transport.aiohttp_seam import AiohttpSeam
from openai_messages.emulator import Emulator

from ..support import API_KEY, FAST_RETRIES


def created_key(message: om.Message) -> str:
    key = (message.metadata or {}).get("om_idempotency_key")
    assert isinstance(key, str)
    assert key.startswith("om-")
    return key


async def test_crud_round_trip(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_a")
    created = await client.create("thread_a", role="user", content="Hello", metadata={"k": "v"})
    assert created.text == "Hello"
    assert created.role == "user"
    assert created.thread_id == "thread_a"
    # issue 14 item 6: the idempotency key rides along in the metadata, as a marker
    assert created.metadata == {"k": "v", "om_idempotency_key": created_key(created)}
    assert created.status == "completed"
    fetched = await client.retrieve("thread_a", created.id)
    assert fetched == created
    modified = await client.modify("thread_a", created.id, metadata={"k": "w"})
    assert modified.metadata == {"k": "w"}
    assert emu.store.get("thread_a", created.id)["metadata"] == {"k": "w"}  # type: ignore[index]
    gone = await client.delete("thread_a", created.id)
    assert (gone.id, gone.deleted, gone.object) == (created.id, True, "thread.message.deleted")
    with pytest.raises(om.NotFoundError):
        await client.retrieve("thread_a", created.id)


async def test_create_with_parts_and_attachments(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_b")
    created = await client.create(
        "thread_b",
        role="assistant",
        content=[om.TextPart(text="one"), {"type": "text", "text": "two"}],
        attachments=[{"file_id": "file-1", "tools": [{"type": "code_interpreter"}]}],
    )
    assert created.text == "one\ntwo"
    assert created.attachments is not None
    assert created.attachments[0].file_id == "file-1"
    assert isinstance(created.attachments[0].tools[0], om.CodeInterpreterTool)


async def test_create_sends_an_idempotency_key(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_c")
    await client.create("thread_c", role="user", content="x")
    await client.create("thread_c", role="user", content="x", idempotency_key="mine-1")
    keys = [r.headers.get("Idempotency-Key") for r in emu.log if r.route == "create"]
    assert keys[0] is not None
    assert keys[0].startswith("om-")
    assert keys[1] == "mine-1"


async def test_headers_sent(emu: Emulator) -> None:
    async with om.Client(
        api_key=API_KEY,
        base_url=emu.url,
        organization="org-1",
        project="proj-1",
        default_headers={"X-Custom": "yes"},
    ) as client:
        emu.store.add_messages("thread_h", 1)
        await client.list("thread_h").collect()
        await client.list("thread_h").first_page()
    headers = emu.log[-1].headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["OpenAI-Beta"] == "assistants=v2"
    assert headers["OpenAI-Organization"] == "org-1"
    assert headers["OpenAI-Project"] == "proj-1"
    assert headers["X-Custom"] == "yes"
    assert headers["User-Agent"].startswith(f"openai_messages/{om.__version__}")


async def test_per_call_extras_and_with_response(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_r")
    created = await client.create("thread_r", role="user", content="x")
    reply = await client.with_response.retrieve(
        "thread_r", created.id, extra_headers={"X-Trace": "t1"}, extra_query={"q": "1"}
    )
    assert reply.status_code == 200
    assert reply.value == created
    assert reply.request_id is not None
    assert reply.request_id == reply.headers["x-request-id"]
    assert reply.attempts == 1
    last = emu.log[-1]
    assert last.headers["X-Trace"] == "t1"
    assert last.query["q"] == "1"


async def test_v1_shape_and_message_files(emu: Emulator) -> None:
    emu.store.create_thread("thread_v1")
    async with om.Client(api_key=API_KEY, base_url=emu.url, api_version="v1") as client:
        created = await client.create(
            "thread_v1", role="user", content="files", file_ids=["file-a", "file-b"]
        )
        assert created.is_v1
        assert created.file_ids == ("file-a", "file-b")
        assert "status" in created.absent_fields
        files = await client.list_files("thread_v1", created.id).collect()
        assert sorted(f.id for f in files) == ["file-a", "file-b"]
        assert all(f.message_id == created.id for f in files)
        one = await client.retrieve_file("thread_v1", created.id, "file-a")
        assert (one.id, one.object) == ("file-a", "thread.message.file")
        listed = await client.list("thread_v1").collect()
        assert listed == [created]
    assert emu.log[-1].headers["OpenAI-Beta"] == "assistants=v1"


async def test_azure_shape(emu: Emulator) -> None:
    emu.store.create_thread("thread_az")
    async with om.Client.azure(
        endpoint=emu.root_url, api_key=API_KEY, azure_api_version="2024-05-01-preview"
    ) as client:
        created = await client.create("thread_az", role="user", content="hi")
        assert (await client.retrieve("thread_az", created.id)).text == "hi"
    last = emu.log[-1]
    assert last.path.startswith("/openai/threads/")
    assert last.query["api-version"] == "2024-05-01-preview"
    assert last.headers["api-key"] == API_KEY
    assert "Authorization" not in last.headers


async def test_azure_ad_token(emu: Emulator) -> None:
    emu.store.create_thread("thread_ad")
    async with om.Client.azure(endpoint=emu.root_url, azure_ad_token=API_KEY) as client:
        await client.create("thread_ad", role="user", content="hi")
    assert emu.log[-1].headers["Authorization"] == f"Bearer {API_KEY}"


async def test_base_url_without_v1(emu: Emulator) -> None:
    emu.store.create_thread("thread_n")
    async with om.Client(api_key=API_KEY, base_url=emu.root_url) as client:
        created = await client.create("thread_n", role="user", content="hi")
    assert emu.log[-1].path == "/threads/thread_n/messages"
    assert created.text == "hi"


async def test_wrong_key_is_an_authentication_error(emu: Emulator) -> None:
    emu.store.create_thread("thread_x")
    async with om.Client(api_key="sk-wrong-key", base_url=emu.url) as client:
        with pytest.raises(om.AuthenticationError) as info:
            await client.create("thread_x", role="user", content="x")
    assert info.value.status_code == 401
    assert info.value.request_id
    assert "sk-wrong-key" not in str(info.value)
    assert len(emu.log) == 1  # not retried


async def test_not_found_carries_the_server_message(client: om.Client) -> None:
    with pytest.raises(om.NotFoundError) as info:
        await client.retrieve("thread_missing", "msg_missing")
    err = info.value
    assert err.status_code == 404
    assert err.request_id is not None
    assert err.request_id in str(err)
    assert err.message


async def test_env_configuration(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emu.store.create_thread("thread_env")
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", emu.url)
    async with om.Client() as client:
        created = await client.create("thread_env", role="user", content="x")
    assert created.thread_id == "thread_env"


def test_no_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(om.InvalidArgumentError, match="OPENAI_API_KEY"):
        om.Client()


async def test_repr_never_shows_the_key(client: om.Client) -> None:
    assert API_KEY not in repr(client)
    assert API_KEY not in repr(client._transport.__dict__)


async def test_closed_client_refuses_calls(emu: Emulator) -> None:
    emu.store.create_thread("thread_cl")
    client = om.Client(api_key=API_KEY, base_url=emu.url)
    await client.create("thread_cl", role="user", content="x")
    await client.close()
    await client.close()  # twice is fine
    assert client.closed
    with pytest.raises(om.ClientClosedError):
        await client.retrieve("thread_cl", "msg_1")


async def test_callers_session_is_not_closed(emu: Emulator) -> None:
    emu.store.create_thread("thread_s")
    async with aiohttp.ClientSession() as session:
        async with om.Client(api_key=API_KEY, base_url=emu.url, session=session) as client:
            await client.create("thread_s", role="user", content="x")
        assert not session.closed


async def test_unclosed_client_warns(emu: Emulator) -> None:
    emu.store.create_thread("thread_u")
    client = om.Client(api_key=API_KEY, base_url=emu.url)
    await client.create("thread_u", role="user", content="x")
    seam = client._seam
    assert isinstance(seam, AiohttpSeam)
    session = seam.session()
    del seam  # its scrub callback holds the client
    with pytest.warns(ResourceWarning, match="unclosed Client"):
        del client
        gc.collect()
    await session.close()


async def test_response_body_cap(emu: Emulator) -> None:
    emu.store.add_messages("thread_big", 100)
    async with om.Client(api_key=API_KEY, base_url=emu.url, max_response_bytes=2048) as client:
        with pytest.raises(om.ResponseTooLargeError, match="cap"):
            await client.list("thread_big").collect()


async def test_invalid_ids_never_reach_the_server(client: om.Client, emu: Emulator) -> None:
    for bad in ["a/b", "../x", "a?b", "a#b", "a b", "a\nb", "a\x00b", ""]:
        with pytest.raises(ValueError):
            await client.retrieve("thread_ok", bad)
        with pytest.raises(ValueError):
            await client.create(bad, role="user", content="x")
        with pytest.raises(ValueError):
            client.list(bad)
    assert len(emu.log) == 0


async def test_debug_logging_never_shows_the_key(
    client: om.Client, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    emu.store.create_thread("thread_log")
    caplog.set_level(logging.DEBUG)
    await client.create("thread_log", role="user", content="x")
    with pytest.raises(om.NotFoundError):
        await client.retrieve("thread_log", "msg_nope")
    assert caplog.records is not None
    assert API_KEY not in caplog.text
    assert all(API_KEY not in str(record.__dict__) for record in caplog.records)


async def test_timeout_is_typed(emu: Emulator) -> None:
    emu.store.add_messages("thread_slow", 1)
    emu.latency = 0.5
    # issue 14: ``total`` is the whole call; ``read`` bounds one attempt, which is retried
    timeout = om.Timeout(total=30.0, read=0.1)
    async with om.Client(
        api_key=API_KEY, base_url=emu.url, timeout=timeout, max_retries=1, retry_policy=FAST_RETRIES
    ) as client:
        with pytest.raises(om.APITimeoutError):
            await client.list("thread_slow").collect()
    assert len([r for r in emu.log if r.route == "list"]) == 2


async def test_total_timeout_covers_the_whole_call(emu: Emulator) -> None:
    emu.store.add_messages("thread_slow", 1)
    emu.latency = 0.5
    async with om.Client(
        api_key=API_KEY, base_url=emu.url, timeout=0.2, max_retries=3, retry_policy=FAST_RETRIES
    ) as client:
        with pytest.raises(om.APITimeoutError):
            await client.list("thread_slow").collect()
    assert len([r for r in emu.log if r.route == "list"]) == 1  # no time left for a retry


async def test_connection_refused_is_typed() -> None:
    async with om.Client(
        api_key=API_KEY, base_url="http://127.0.0.1:9/v1", max_retries=1, retry_policy=FAST_RETRIES
    ) as client:
        with pytest.raises(om.APIConnectionError) as info:
            await client.retrieve("t", "m")
    assert API_KEY not in str(info.value)
    assert info.value.__cause__ is None


async def test_a_misspelt_option_is_refused_before_sending(
    client: om.Client, emu: Emulator
) -> None:
    # what mypy refuses in typed code is refused at run time too, naming the typo
    emu.store.add_messages("thread_o", 3)
    untyped: Any = client
    with pytest.raises(om.InvalidArgumentError, match="unknown option timout"):
        await untyped.retrieve("thread_o", "msg_x", timout=3)
    with pytest.raises(om.InvalidArgumentError, match="unknown option pagesize"):
        untyped.list("thread_o", pagesize=3)
    with pytest.raises(om.InvalidArgumentError, match="unknown option concurency"):
        untyped.fetch_many(["thread_o"], concurency=2)
    with pytest.raises(om.InvalidArgumentError):
        client.stream_many(["thread_o"], page_size=0)
    assert len(emu.log) == 0
