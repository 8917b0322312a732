"""The client's thread calls against the emulator's thread routes (issue 16), over loopback,
on each prefix the emulator serves: the real API's answers, errors and ambiguous creates."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import orjson
import pytest

import openai_messages as om
from openai_messages.emulator import Emulator, Fault

from ..support import API_KEY, FAST_RETRIES


def client_of(emu: Emulator, **options: bool) -> om.Client:
    return om.Client(
        api_key=API_KEY,
        base_url=emu.url,
        retry_policy=FAST_RETRIES,
        retry_budget=None,
        **options,  # type: ignore[arg-type]
    )


async def test_thread_life_cycle_with_its_first_messages(client: om.Client, emu: Emulator) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": [{"type": "text", "text": "second"}]},
    ]
    resources: dict[str, Any] = {"code_interpreter": {"file_ids": []}}
    thread = await client.create_thread(
        messages=messages, metadata={"project": "p1"}, tool_resources=resources
    )
    assert isinstance(thread, om.Thread)
    assert thread.id.startswith("thread")
    assert (thread.object, thread.metadata) == ("thread", {"project": "p1"})
    assert thread.tool_resources == resources
    (sent,) = emu.log.filter("create_thread")
    assert orjson.loads(sent.body)["messages"] == messages
    assert sent.headers["Idempotency-Key"].startswith("om-")
    assert await client.retrieve_thread(thread.id) == thread
    assert [m["content"][0]["text"]["value"] for m in emu.store.messages(thread.id)] == [
        "first",
        "second",
    ]
    listed = await client.list(thread.id, order="asc").collect()
    assert [m.text for m in listed] == ["first", "second"]

    again = await client.retrieve_thread(thread.id)
    assert (again.id, again.metadata) == (thread.id, {"project": "p1"})
    changed = await client.modify_thread(thread.id, metadata={"project": "p2"})
    assert changed.metadata == {"project": "p2"}

    reply = await client.with_response.retrieve_thread(thread.id)
    assert reply.status_code == 200
    assert reply.value.metadata == {"project": "p2"}

    gone = await client.delete_thread(thread.id)
    assert isinstance(gone, om.DeletedThread)
    assert (gone.id, gone.deleted) == (thread.id, True)
    assert emu.store.thread(thread.id) is None
    with pytest.raises(om.NotFoundError):
        await client.retrieve_thread(thread.id)
    with pytest.raises(om.NotFoundError, match="No thread found"):
        await client.create(thread.id, role="user", content="into a deleted thread")


async def test_a_thread_id_without_its_prefix_is_refused_by_the_server(client: om.Client) -> None:
    with pytest.raises(om.BadRequestError) as info:
        await client.retrieve_thread("undefined")
    assert info.value.param == "thread_id"
    assert "begins with 'thread'" in info.value.message


async def test_bad_thread_arguments_never_reach_the_server(
    client: om.Client, emu: Emulator
) -> None:
    with pytest.raises(om.InvalidArgumentError):
        await client.create_thread(metadata={f"k{i}": "v" for i in range(17)})
    with pytest.raises(om.InvalidArgumentError):
        await client.modify_thread("thread_x/../y", metadata={})
    bad: list[Any] = [[{"role": "robot", "content": "x"}], [{"content": ""}], ["hi"]]
    for messages in bad:
        with pytest.raises(om.InvalidArgumentError, match=r"messages\[0\]"):
            await client.create_thread(messages=messages)
    with pytest.raises(om.InvalidArgumentError):
        await client.retrieve_thread("thread/../x")
    assert len(emu.log) == 0


@pytest.mark.parametrize("fault", [Fault.commit_then_drop(), Fault.commit_then_error(500)])
async def test_an_ambiguous_thread_create_is_reported_not_repeated(
    emu: Emulator, fault: Fault
) -> None:
    emu.faults.add(fault, route="create_thread", nth=1)
    before = set(emu.store.thread_ids())
    async with client_of(emu) as client:
        with pytest.raises(om.CreateOutcomeUnknownError) as info:
            await client.create_thread(metadata={"k": "v"}, idempotency_key="key-1")
    assert info.value.thread_id is None
    assert info.value.idempotency_key == "key-1"
    assert len(set(emu.store.thread_ids()) - before) == 1  # stored once, never sent again
    assert len(emu.log.filter("create_thread")) == 1


@pytest.mark.parametrize("fault", [Fault.commit_then_drop(), Fault.error(500)])
async def test_a_trusted_key_resends_and_gets_one_thread(emu: Emulator, fault: Fault) -> None:
    # stored then dropped: the key finds the same thread; refused before storing: a new one
    emu.faults.add(fault, route="create_thread", nth=1)
    before = set(emu.store.thread_ids())
    async with client_of(emu, trust_idempotency_key=True) as client:
        thread = await client.create_thread(metadata={"k": "v"})
    assert set(emu.store.thread_ids()) - before == {thread.id}
    keys = [r.headers["Idempotency-Key"] for r in emu.log.filter("create_thread")]
    assert len(keys) == 2
    assert keys[0] == keys[1]


async def test_a_thread_delete_after_a_failed_attempt_is_done(emu: Emulator) -> None:
    async with client_of(emu) as client:
        thread = await client.create_thread()
        emu.faults.add(Fault.commit_then_error(500), route="delete_thread", nth=1)
        gone = await client.delete_thread(thread.id)
    assert (gone.id, gone.deleted) == (thread.id, True)
    assert emu.store.thread(thread.id) is None
    assert [r.status for r in emu.log.filter("delete_thread")] == [500, 404]


async def test_with_response_for_thread_calls(client: om.Client, emu: Emulator) -> None:
    created = await client.with_response.create_thread(metadata={"x": "y"})
    assert created.status_code == 200
    assert created.request_id == emu.log[-1].request_id
    thread_id = created.value.id
    calls: list[Awaitable[om.Response[Any]]] = [
        client.with_response.retrieve_thread(thread_id),
        client.with_response.modify_thread(thread_id, metadata={}),
        client.with_response.delete_thread(thread_id, timeout=5.0, max_retries=0),
    ]
    for call in calls:
        response = await call
        assert (response.status_code, response.attempts) == (200, 1)
        assert response.request_id == emu.log[-1].request_id


@pytest.mark.parametrize("flavour", ["azure", "azure_v1", "foundry"])
async def test_thread_calls_on_every_prefix(emu: Emulator, flavour: str) -> None:
    if flavour == "foundry":
        make = om.Client.foundry(
            emu.url_for("foundry"), token_provider=lambda: emu.issue_token(60.0).token
        )
    else:
        version = "v1" if flavour == "azure_v1" else "2024-05-01-preview"
        make = om.Client.azure(
            endpoint=emu.url_for("azure"), azure_api_version=version, api_key=API_KEY
        )
    async with make as client:
        thread = await client.create_thread(metadata={"where": flavour})
        await client.create(thread.id, role="user", content="hello")
        assert [m.text for m in await client.list(thread.id).collect()] == ["hello"]
        assert (await client.delete_thread(thread.id)).deleted
    assert emu.store.thread(thread.id) is None
