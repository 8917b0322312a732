"""The client's thread calls against the emulator's thread routes (issue 16), over loopback,
on each prefix the emulator serves: the real API's answers, errors and ambiguous creates."""

from __future__ import annotations

import pytest

import openai_messages as om
from openai_messages.emulator import Emulator, Fault

from .support import API_KEY, FAST_RETRIES


def client_of(emu: Emulator, **options: bool) -> om.Client:
    return om.Client(
        api_key=API_KEY,
        base_url=emu.url,
        retry_policy=FAST_RETRIES,
        retry_budget=None,
        **options,  # type: ignore[arg-type]
    )


async def test_thread_life_cycle_with_its_first_messages(client: om.Client, emu: Emulator) -> None:
    thread = await client.create_thread(
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "text", "text": "second"}]},
        ],
        metadata={"project": "p1"},
    )
    assert thread.id.startswith("thread")
    assert thread.metadata == {"project": "p1"}
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
    with pytest.raises(om.InvalidArgumentError):
        await client.create_thread(messages=[{"role": "robot", "content": "x"}])
    assert len(emu.log) == 0


async def test_an_ambiguous_thread_create_is_reported_not_repeated(emu: Emulator) -> None:
    emu.faults.add(Fault.commit_then_drop(), route="create_thread", nth=1)
    before = set(emu.store.thread_ids())
    async with client_of(emu) as client:
        with pytest.raises(om.CreateOutcomeUnknownError):
            await client.create_thread(metadata={"k": "v"})
    assert len(set(emu.store.thread_ids()) - before) == 1  # stored once, never sent again
    assert len([r for r in emu.log if r.route == "create_thread"]) == 1


async def test_a_trusted_key_resends_and_gets_the_same_thread(emu: Emulator) -> None:
    emu.faults.add(Fault.commit_then_drop(), route="create_thread", nth=1)
    before = set(emu.store.thread_ids())
    async with client_of(emu, trust_idempotency_key=True) as client:
        thread = await client.create_thread(metadata={"k": "v"})
    assert set(emu.store.thread_ids()) - before == {thread.id}
    assert len([r for r in emu.log if r.route == "create_thread"]) == 2


@pytest.mark.parametrize("flavour", ["azure", "azure_v1", "foundry"])
async def test_thread_calls_on_every_prefix(emu: Emulator, flavour: str) -> None:
    if flavour == "foundry":
        make = om.Client.foundry(
            emu.url_for("foundry"), token_provider=lambda: emu.issue_token(60.0).token
        )
    else:
        version = "v1" if flavour == "azure_v1" else "2024-05-01-preview"
        make = om.Client.azure(endpoint=emu.url_for("azure"), api_version=version, api_key=API_KEY)
    async with make as client:
        thread = await client.create_thread(metadata={"where": flavour})
        await client.create(thread.id, role="user", content="hello")
        assert [m.text for m in await client.list(thread.id).collect()] == ["hello"]
        assert (await client.delete_thread(thread.id)).deleted
    assert emu.store.thread(thread.id) is None
