"""``client.conversations`` against the emulator over loopback (issue 23 item 1): the calls
on every kind of endpoint, the walk, typed errors, and ambiguous creates settled by
looking, never by a blind re-send."""

from __future__ import annotations

from typing import Any

import pytest

import openai_messages as om
from openai_messages._core import endpoint as ep
from openai_messages.emulator import Emulator, Fault

from ..hostile import Received, response, serve
from ..support import API_KEY, FAST_RETRIES


def client_of(emu: Emulator, flavour: str = "openai", **options: Any) -> om.Client:
    common: dict[str, Any] = {"retry_policy": FAST_RETRIES, "retry_budget": None, **options}
    if flavour == "foundry":
        return om.Client.foundry(
            emu.url_for("foundry"), token_provider=lambda: emu.issue_token(60.0).token, **common
        )
    if flavour in ("azure", "azure_v1"):
        version = "v1" if flavour == "azure_v1" else "2024-05-01-preview"
        return om.Client.azure(
            endpoint=emu.url_for("azure"), azure_api_version=version, api_key=API_KEY, **common
        )
    return om.Client(api_key=API_KEY, base_url=emu.url, **common)


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def texts(emu: Emulator, conversation_id: str) -> list[str]:
    return [i["content"][0]["text"] for i in emu.conversations.items(conversation_id)]


PREFIX = {
    "openai": "/v1/conversations",
    "azure": "/openai/v1/conversations",
    "azure_v1": "/openai/v1/conversations",
    "foundry": "/api/projects/emulator/openai/v1/conversations",
}


@pytest.mark.parametrize("flavour", ["openai", "azure", "azure_v1", "foundry"])
async def test_every_call_on_every_kind_of_endpoint(emu: Emulator, flavour: str) -> None:
    async with client_of(emu, flavour) as client:
        conv = await client.conversations.create(metadata={"source_thread_id": "thread_1"})
        assert conv.metadata == {"source_thread_id": "thread_1"}
        made = await client.conversations.items.create(
            conv.id,
            [
                user("hello"),
                {"role": "assistant", "content": "hi there"},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            ],
        )
        assert [type(i) for i in made] == [om.MessageItem, om.MessageItem, om.UnknownItem]
        assert isinstance(made[1], om.MessageItem)
        assert isinstance(made[2], om.UnknownItem)
        reply = made[1].content[0]
        assert isinstance(reply, om.OutputTextPart)
        assert (reply.text, reply.annotations) == ("hi there", ())
        assert made[2].raw["call_id"] == "c1"  # an item of another type, kept whole
        walked = await client.conversations.items.list(conv.id, order="asc").collect()
        assert [i.id for i in walked] == [i.id for i in made]
        assert await client.conversations.items.retrieve(conv.id, made[0].id) == made[0]
        after_delete = await client.conversations.items.delete(conv.id, made[0].id)
        assert after_delete.id == conv.id
        assert [i.id for i in await client.conversations.items.list(conv.id).collect()] == [
            made[2].id,
            made[1].id,
        ]  # newest first, the API's default order
        updated = await client.conversations.update(conv.id, metadata={"k": "v"})
        assert updated.metadata == {"k": "v"}
        assert (await client.conversations.retrieve(conv.id)).metadata == {"k": "v"}
        gone = await client.conversations.delete(conv.id)
        assert gone == om.DeletedConversation(
            id=conv.id, object="conversation.deleted", deleted=True
        )
        with pytest.raises(om.NotFoundError):
            await client.conversations.retrieve(conv.id)
    requests = [r for r in emu.log if r.route is not None]
    assert {r.path.split("/conv_")[0].rstrip("/") for r in requests} == {PREFIX[flavour]}
    assert all("api-version" not in r.query for r in requests)
    assert all("OpenAI-Beta" not in r.headers for r in requests)


async def test_one_foundry_client_reaches_threads_and_conversations(emu: Emulator) -> None:
    async with client_of(emu, "foundry") as client:
        thread = await client.create_thread(messages=[{"role": "user", "content": "old"}])
        conv = await client.conversations.create(metadata={"source_thread_id": thread.id})
        source = await client.list(thread.id, order="asc").collect()
        await client.conversations.items.create(conv.id, [user(m.text) for m in source])
        assert texts(emu, conv.id) == ["old"]
        assert [c.id async for c in client.conversations.list()] == [conv.id]
    paths = [r.path for r in emu.log]
    assert paths[0] == "/api/projects/emulator/threads"
    assert paths[1] == "/api/projects/emulator/openai/v1/conversations"


async def test_with_response_variants(client: om.Client, emu: Emulator) -> None:
    response = await client.with_response.conversations.create()
    assert response.status_code == 200
    assert response.request_id == emu.log[-1].request_id
    conv = response.value
    items = client.conversations.items.with_response
    created = await items.create(conv.id, [user("a"), user("b")])
    assert [i.text for i in created.value] == ["a", "b"]
    pages = [r async for r in items.list(conv.id, page_size=1, order="asc")]
    assert [len(r.value) for r in pages] == [1, 1]
    assert all(r.request_id for r in pages)
    assert client.conversations.with_response is client.with_response.conversations


async def test_the_walk_is_the_pager_of_list(client: om.Client, emu: Emulator) -> None:
    conv = await client.conversations.create()
    for start in range(0, 45, 15):
        await client.conversations.items.create(
            conv.id, [user(str(n)) for n in range(start, start + 15)]
        )
    pager = client.conversations.items.list(conv.id, order="asc", page_size=10, max_items=25)
    first = [i.text async for i in pager]
    assert first == [str(n) for n in range(25)]
    rest = client.conversations.items.list(conv.id, order="asc", after=pager.cursor)
    assert [i.text for i in await rest.collect()] == [str(n) for n in range(25, 45)]
    pages = [p async for p in client.conversations.items.list(conv.id, page_size=20).pages()]
    assert [len(p) for p in pages] == [20, 20, 5]
    assert isinstance(pages[0], om.ConversationItemPage)
    limits = [r.query["limit"] for r in emu.log if r.route == "list_items"]
    assert limits[:3] == ["10", "10", "5"]


async def test_before_walks_backward_on_foundry_and_is_refused_elsewhere(emu: Emulator) -> None:
    async with client_of(emu, "foundry") as client:
        conv = await client.conversations.create()
        made = await client.conversations.items.create(conv.id, [user(str(n)) for n in range(5)])
        back = client.conversations.items.list(conv.id, order="asc", before=made[4].id, page_size=2)
        assert [i.text for i in await back.collect()] == ["3", "2", "1", "0"]
    async with client_of(emu) as client:
        with pytest.raises(om.InvalidArgumentError, match="before= is a Foundry parameter"):
            client.conversations.items.list(conv.id, before=made[4].id)


async def test_the_pager_guards_apply_to_items(client: om.Client, emu: Emulator) -> None:
    conv = await client.conversations.create()
    await client.conversations.items.create(conv.id, [user(str(n)) for n in range(4)])
    emu.faults.add(Fault.repeat_page(), route="list_items", nth=2)
    with pytest.raises(om.PaginationError, match="repeated"):
        await client.conversations.items.list(conv.id, page_size=2).collect()


async def test_bad_arguments_never_reach_the_server(client: om.Client, emu: Emulator) -> None:
    conv = await client.conversations.create()
    sent = len(emu.log)
    with pytest.raises(om.InvalidArgumentError, match="at most 20 items"):
        await client.conversations.items.create(conv.id, [user(str(n)) for n in range(21)])
    with pytest.raises(om.InvalidArgumentError, match="at least one item"):
        await client.conversations.items.create(conv.id, [])
    with pytest.raises(om.InvalidArgumentError, match="needs a role"):
        await client.conversations.items.create(conv.id, [{"content": "x"}])
    with pytest.raises(om.InvalidArgumentError, match="metadata"):
        await client.conversations.create(metadata={str(n): "v" for n in range(17)})
    with pytest.raises(om.InvalidArgumentError):
        await client.conversations.retrieve("conv/../x")
    with pytest.raises(om.InvalidArgumentError, match="unknown option"):
        await client.conversations.retrieve(conv.id, timeot=3)  # type: ignore[call-arg]
    assert len(emu.log) == sent


async def test_per_call_options_and_retries_apply(client: om.Client, emu: Emulator) -> None:
    emu.faults.add(Fault.error(503), route="retrieve_conversation", nth=1)
    conv = await client.conversations.create()
    response = await client.conversations.with_response.retrieve(
        conv.id, extra_headers={"X-Trace": "t1"}, extra_query={"q": "1"}
    )
    assert response.attempts == 2
    last = emu.log[-1]
    assert last.headers["X-Trace"] == "t1"
    assert last.query["q"] == "1"
    emu.faults.add(Fault.error(503), route="retrieve_conversation")
    with pytest.raises(om.InternalServerError):
        await client.conversations.retrieve(conv.id, max_retries=0)


# ---------------------------------------------------------------- ambiguous item creates


@pytest.mark.parametrize(
    "fault", [Fault.commit_then_drop(), Fault.commit_then_error(500)], ids=["drop", "500"]
)
async def test_a_stored_batch_is_found_not_sent_again(
    client: om.Client, emu: Emulator, fault: Fault
) -> None:
    conv = await client.conversations.create()
    await client.conversations.items.create(conv.id, [user("before")])
    emu.faults.add(fault, route="create_items", nth=2)
    made = await client.conversations.items.create(conv.id, [user("a"), user("b"), user("c")])
    assert [i.text for i in made] == ["a", "b", "c"]
    assert texts(emu, conv.id) == ["before", "a", "b", "c"]  # stored once
    assert [i.id for i in made] == [i["id"] for i in emu.conversations.items(conv.id)[1:]]
    assert len([r for r in emu.log if r.route == "create_items"]) == 2  # never re-sent


async def test_a_batch_not_stored_is_sent_again(client: om.Client, emu: Emulator) -> None:
    conv = await client.conversations.create()
    emu.faults.add(Fault.error(502), route="create_items", nth=1)
    made = await client.conversations.items.create(conv.id, [user("a"), user("b")])
    assert texts(emu, conv.id) == ["a", "b"]
    assert [i.text for i in made] == ["a", "b"]
    assert len([r for r in emu.log if r.route == "list_items"]) == 1  # looked first
    assert len([r for r in emu.log if r.route == "create_items"]) == 2


async def test_a_partial_store_names_what_was_stored(client: om.Client, emu: Emulator) -> None:
    conv = await client.conversations.create()
    emu.faults.add(Fault.partial_commit(stored=2), route="create_items", nth=1)
    with pytest.raises(om.ItemsPartiallyStoredError) as caught:
        await client.conversations.items.create(conv.id, [user(s) for s in "abcd"])
    error = caught.value
    assert texts(emu, conv.id) == ["a", "b"]
    assert [i.text for i in error.stored] == ["a", "b"]
    assert error.sent == 4
    assert error.conversation_id == conv.id
    assert "first 2 of its 4 items" in str(error)
    assert len([r for r in emu.log if r.route == "create_items"]) == 1


async def test_follows_tells_the_batch_from_identical_items_before_it(
    client: om.Client, emu: Emulator
) -> None:
    conv = await client.conversations.create()
    first = await client.conversations.items.create(conv.id, [user("ok")])
    emu.faults.add(Fault.error(500), route="create_items", nth=1)  # nothing stored
    made = await client.conversations.items.create(conv.id, [user("ok")], follows=first[0].id)
    assert texts(emu, conv.id) == ["ok", "ok"]
    assert made[0].id != first[0].id
    emu.faults.add(Fault.commit_then_drop(), route="create_items", nth=1)
    again = await client.conversations.items.create(conv.id, [user("ok")], follows=made[0].id)
    assert texts(emu, conv.id) == ["ok", "ok", "ok"]
    assert again[0].id == emu.conversations.items(conv.id)[-1]["id"]


async def test_follows_empty_means_the_conversation_had_no_items(
    client: om.Client, emu: Emulator
) -> None:
    conv = await client.conversations.create()
    emu.faults.add(Fault.commit_then_drop(), route="create_items", nth=1)
    made = await client.conversations.items.create(conv.id, [user("a")], follows="")
    assert texts(emu, conv.id) == ["a"]
    assert made[0].text == "a"


async def test_another_writer_after_follows_is_reported(client: om.Client, emu: Emulator) -> None:
    conv = await client.conversations.create()
    emu.conversations.add_items(emu.conversations.get(conv.id), [user("someone else")])  # type: ignore[arg-type]
    emu.faults.add(Fault.error(500), route="create_items", nth=1)
    with pytest.raises(om.CreateOutcomeUnknownError, match="another writer") as caught:
        await client.conversations.items.create(conv.id, [user("mine")], follows="")
    assert caught.value.conversation_id == conv.id
    assert texts(emu, conv.id) == ["someone else"]


async def test_an_ambiguous_conversation_create_is_reported(
    client: om.Client, emu: Emulator
) -> None:
    emu.faults.add(Fault.commit_then_drop(), route="create_conversation", nth=1)
    with pytest.raises(om.CreateOutcomeUnknownError, match="conversation"):
        await client.conversations.create(items=[user("a")], metadata={"k": "v"})
    assert len(emu.conversations.ids_of()) == 1  # stored once, never sent again
    assert len([r for r in emu.log if r.route == "create_conversation"]) == 1


async def test_a_trusted_key_does_not_make_item_creates_blind(emu: Emulator) -> None:
    async with client_of(emu, trust_idempotency_key=True) as client:
        conv = await client.conversations.create()
        emu.faults.add(Fault.commit_then_drop(), route="create_items", nth=1)
        await client.conversations.items.create(conv.id, [user("a")])
    assert texts(emu, conv.id) == ["a"]


async def test_an_ambiguous_item_delete_that_deleted_answers_the_conversation(
    client: om.Client, emu: Emulator
) -> None:
    conv = await client.conversations.create()
    made = await client.conversations.items.create(conv.id, [user("a")])
    emu.faults.add(Fault.commit_then_drop(), route="delete_item", nth=1)
    answer = await client.conversations.items.delete(conv.id, made[0].id)
    assert answer.id == conv.id
    assert emu.conversations.items(conv.id) == []


async def test_a_read_timeout_after_storing_is_settled_by_looking(emu: Emulator) -> None:
    emu.faults.add(Fault.commit_then_delay(1.0), route="create_items", nth=1)
    timeout = om.Timeout(total=30.0, connect=1.0, read=0.3)
    async with client_of(emu, timeout=timeout) as client:
        conv = await client.conversations.create()
        made = await client.conversations.items.create(conv.id, [user("a"), user("b")])
    assert [i.text for i in made] == ["a", "b"]
    assert texts(emu, conv.id) == ["a", "b"]
    assert len([r for r in emu.log if r.route == "create_items"]) == 1


async def test_no_retry_left_is_typed_and_stored_once(client: om.Client, emu: Emulator) -> None:
    conv = await client.conversations.create()
    emu.faults.add(Fault.commit_then_drop(), route="create_items", nth=1)
    with pytest.raises(om.CreateOutcomeUnknownError) as caught:
        await client.conversations.items.create(conv.id, [user("a")], max_retries=0)
    assert caught.value.conversation_id == conv.id
    assert caught.value.thread_id is None
    assert texts(emu, conv.id) == ["a"]


async def test_under_store_then_fail_faults_every_item_is_stored_once(emu: Emulator) -> None:
    """Batches sent as an importer would (each ``follows`` the last stored item, the rest
    of a partial store sent again) under faults that store and then fail, store part of
    a batch, or fail before storing: every item once, in order."""
    for fault, rate in (
        (Fault.commit_then_drop(), 0.15),
        (Fault.commit_then_error(502), 0.15),
        (Fault.partial_commit(stored=2), 0.1),
        (Fault.error(503), 0.1),
    ):
        emu.faults.add(fault, route="create_items", probability=rate)
    emu.faults.add(Fault.error(500), route="list_items", probability=0.1)
    expected: list[str] = []
    async with client_of(emu, retry_policy=om.RetryPolicy(8, 0.001, 0.005)) as client:
        conv = await client.conversations.create()
        last = ""
        for batch_number in range(60):
            pending = [user(f"{batch_number}.{n}") for n in range(4)]
            expected += [p["content"][0]["text"] for p in pending]
            while pending:
                try:
                    made = await client.conversations.items.create(conv.id, pending, follows=last)
                except om.ItemsPartiallyStoredError as partial:
                    last = partial.stored[-1].id
                    pending = pending[len(partial.stored) :]
                    continue
                last = made[-1].id
                pending = []
    assert texts(emu, conv.id) == expected
    assert all(rule.fired for rule in emu.faults.rules)  # every kind of fault did happen


async def test_a_retired_host_says_nothing_of_the_sunset_for_conversations(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sunset note is the Assistants API's: a conversation's 404 there is only a 404."""
    monkeypatch.setattr(ep, "RETIRED_HOSTS", frozenset({"127.0.0.1"}))
    async with client_of(emu, max_retries=0) as client:
        assert client.endpoint.retired
        with pytest.raises(om.NotFoundError) as caught:
            await client.conversations.retrieve("conv_none")
        with pytest.raises(om.NotFoundError) as threads:
            await client.retrieve_thread("thread_none")
    assert "retired" not in str(caught.value)
    assert "retired the Assistants API" in str(threads.value)


async def test_find_stored_tells_what_a_lost_batch_left(client: om.Client, emu: Emulator) -> None:
    """A caller that lost track of a batch (killed mid-call) asks which of it is stored,
    right after the item it knew was last; a reply the client could not read is settled
    by the same look."""
    conv = await client.conversations.create()
    first = await client.conversations.items.create(conv.id, [user("known")])
    batch = [user("a"), user("b"), user("c")]
    find = client.conversations.items.find_stored
    assert await find(conv.id, batch, follows=first[0].id) == []
    record = emu.conversations.get(conv.id)
    assert record is not None
    emu.conversations.add_items(record, [user("a"), user("b")])  # a partial store, say
    found = await find(conv.id, batch, follows=first[0].id)
    assert [i.text for i in found] == ["a", "b"]
    emu.faults.add(Fault.truncate(0.5), route="create_items", nth=1)  # stored, unreadable
    made = await client.conversations.items.create(conv.id, batch[2:], follows=found[-1].id)
    assert [i.text for i in made] == ["c"]  # looked up, not sent again
    found = await find(conv.id, batch[2:], follows=found[-1].id)
    assert [i.id for i in found] == [i.id for i in made]
    assert texts(emu, conv.id) == ["known", "a", "b", "c"]
    emu.conversations.add_items(record, [user("someone else")])
    with pytest.raises(om.CreateOutcomeUnknownError, match="another writer"):
        await find(conv.id, [user("d")], follows=found[-1].id)
    with pytest.raises(om.CreateOutcomeUnknownError, match="not in the conversation"):
        await find(conv.id, [user("d")], follows="msg_never")


def _page(*texts: str) -> dict[str, Any]:
    data = [
        {
            "type": "message",
            "id": f"msg_{t}",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_text", "text": t}],
        }
        for t in texts
    ]
    return {"object": "list", "data": data, "first_id": None, "last_id": None, "has_more": False}


@pytest.mark.parametrize(
    ("stored", "outcome"),
    [(("b", "a"), "all"), (("a",), "partial"), (("x",), "unknown")],
)
async def test_a_reply_listing_fewer_items_than_sent_is_looked_into(
    stored: tuple[str, ...], outcome: str
) -> None:
    """A server that answers 200 with fewer created items than were sent: the client
    looks at the conversation rather than take the reply as all or as none."""

    def answer(request: Received) -> bytes:
        if request.method == "POST":
            return response(200, _page("a"))  # one of the two it was sent
        return response(200, _page(*stored))  # the newest items, newest first

    async with (
        serve(answer) as (url, seen),
        om.Client(api_key=API_KEY, base_url=url, max_retries=0) as client,
    ):
        call = client.conversations.items.create("conv_1", [user("a"), user("b")], follows="")
        if outcome == "all":
            made = await call
            assert [i.text for i in made] == ["a", "b"]
        elif outcome == "partial":
            with pytest.raises(om.ItemsPartiallyStoredError) as caught:
                await call
            assert [i.text for i in caught.value.stored] == ["a"]
        else:
            with pytest.raises(om.CreateOutcomeUnknownError):
                await call
    assert [r.method for r in seen] == ["POST", "GET"]  # never sent twice


async def test_foundry_conversations_take_entra_tokens_and_renew_a_refused_one() -> None:
    """In Entra mode the conversations of a Foundry project want a token of the same scope
    as its threads; a token the server refuses (expired) is renewed once and re-sent."""
    async with (
        Emulator(entra=True) as emu,
        om.Client.foundry(
            emu.url_for("foundry"), credential=emu.async_credential(), retry_budget=None
        ) as client,
    ):
        conv = await client.conversations.create()
        await client.conversations.items.create(conv.id, [user("a")])
        emu.tokens.expire_all()  # the cached token is refused from now on
        assert [i.text async for i in client.conversations.items.list(conv.id)] == ["a"]
    statuses = [r.status for r in emu.log if r.route == "list_items"]
    assert statuses == [401, 200]  # refused once, renewed, re-sent
    assert texts(emu, conv.id) == ["a"]


async def test_items_copied_with_their_ids_are_still_found(
    client: om.Client, emu: Emulator
) -> None:
    """Items walked out of one conversation and sent to another keep their ``id`` keys; the
    server gives new ids, and the settling still recognises them."""
    source = await client.conversations.create(items=[user("a"), user("b")])
    copied = await client.conversations.items.list(source.id, order="asc").collect()
    target = await client.conversations.create()
    emu.faults.add(Fault.commit_then_drop(), route="create_items", nth=1)
    made = await client.conversations.items.create(target.id, copied, follows="")
    assert [i.text for i in made] == ["a", "b"]
    assert {i.id for i in made}.isdisjoint(i.id for i in copied)
    assert texts(emu, target.id) == ["a", "b"]
