"""Retry rules, the retry budget, ambiguous creates and redirects, over real HTTP."""

from __future__ import annotations

import logging

import pytest

import openai_messages as om
from openai_messages.emulator import Emulator, Fault

from ..support import API_KEY, FAST_RETRIES


def _count(emu: Emulator, route: str) -> int:
    return sum(1 for record in emu.log if record.route == route)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_retryable_statuses_are_retried(
    client: om.Client, emu: Emulator, status: int
) -> None:
    emu.store.add_messages("thread_r", 3)
    emu.faults.add(Fault.error(status), route="list", nth=1)
    assert len(await client.list("thread_r").collect()) == 3
    assert _count(emu, "list") == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_statuses_are_not_retried(
    client: om.Client, emu: Emulator, status: int
) -> None:
    emu.store.add_messages("thread_r", 3)
    emu.faults.add(Fault.error(status), route="list", nth=1)
    with pytest.raises(om.APIStatusError) as info:
        await client.list("thread_r").collect()
    assert info.value.status_code == status
    assert _count(emu, "list") == 1


async def test_should_retry_header_overrides_the_status(client: om.Client, emu: Emulator) -> None:
    emu.store.add_messages("thread_r", 3)
    emu.faults.add(Fault.error(503, should_retry=False), route="list", nth=1)
    with pytest.raises(om.InternalServerError):
        await client.list("thread_r").collect()
    assert _count(emu, "list") == 1
    emu.faults.clear()
    emu.faults.add(Fault.error(400, should_retry=True), route="list", nth=1)
    assert len(await client.list("thread_r").collect()) == 3


async def test_gives_up_after_max_retries(client: om.Client, emu: Emulator) -> None:
    emu.store.add_messages("thread_r", 3)
    emu.faults.add(Fault.error(500), route="retrieve")
    message_id = emu.store.messages("thread_r")[0]["id"]
    with pytest.raises(om.InternalServerError) as info:
        await client.retrieve("thread_r", message_id, max_retries=2)
    assert _count(emu, "retrieve") == 3
    assert info.value.request_id
    emu.log.clear()
    with pytest.raises(om.InternalServerError):
        await client.retrieve("thread_r", message_id, max_retries=0)
    assert _count(emu, "retrieve") == 1


@pytest.mark.parametrize(
    ("fault", "wait"),
    [
        (Fault.rate_limited(retry_after=None, retry_after_ms=300), "0.30"),
        (Fault.rate_limited(retry_after=1), "1.00"),
    ],
)
async def test_retry_after_is_honoured(
    client: om.Client, emu: Emulator, caplog: pytest.LogCaptureFixture, fault: Fault, wait: str
) -> None:
    # The wait itself is the transport's sleep (tests/core/test_core.py checks what it sleeps);
    # here: the header as sent over HTTP sets it.
    emu.store.add_messages("thread_r", 1)
    emu.faults.add(fault, route="list", nth=1)
    caplog.set_level("INFO", "openai_messages")
    await client.list("thread_r").collect()
    (retry,) = [r.message for r in caplog.records if r.message.startswith("retrying")]
    assert f"after HTTP 429 in {wait} s" in retry
    assert _count(emu, "list") == 2


async def test_a_long_retry_after_is_not_waited_for(emu: Emulator) -> None:
    emu.store.add_messages("thread_r", 1)
    emu.faults.add(Fault.rate_limited(retry_after=3600), route="list")
    async with om.Client(api_key=API_KEY, base_url=emu.url) as client:
        with pytest.raises(om.RateLimitError) as info:
            await client.list("thread_r").collect()
    assert info.value.retry_after == 3600
    assert "3600" in str(info.value)
    assert _count(emu, "list") == 1


@pytest.mark.parametrize(
    "fault",
    [Fault.drop(), Fault.drop_mid_body(), Fault.truncate(), Fault.html(502), Fault.html(200)],
    ids=["drop", "drop_mid_body", "truncate", "html502", "html200"],
)
async def test_broken_replies_to_reads_are_retried(
    client: om.Client, emu: Emulator, fault: Fault
) -> None:
    emu.store.add_messages("thread_r", 150)
    emu.faults.add(fault, route="list", nth=2)
    messages = await client.list("thread_r", order="asc").collect()
    assert [m.id for m in messages] == [m["id"] for m in emu.store.messages("thread_r")]
    assert _count(emu, "list") == 3


async def test_unreadable_reply_after_retries_is_typed(client: om.Client, emu: Emulator) -> None:
    emu.store.add_messages("thread_r", 1)
    emu.faults.add(Fault.html(200), route="list")
    with pytest.raises(om.APIResponseValidationError) as info:
        await client.list("thread_r").collect()
    assert "<html" in info.value.body_snippet.lower()


async def test_each_retry_logs_one_info_line(
    client: om.Client, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="openai_messages")
    emu.store.add_messages("thread_r", 1)
    emu.faults.add(Fault.error(503), route="list", nth=(1, 2))
    await client.list("thread_r").collect()
    lines = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(lines) == 2
    assert "HTTP 503" in lines[0].getMessage()
    assert "req_" in lines[0].getMessage()
    assert API_KEY not in caplog.text


async def test_retry_budget_stops_a_retry_storm(emu: Emulator) -> None:
    emu.store.add_messages("thread_r", 1)
    emu.faults.add(Fault.error(503), route="list")
    budget = om.RetryBudget(ratio=0.2, min_per_second=0.0, window=60.0)
    async with om.Client(
        api_key=API_KEY,
        base_url=emu.url,
        retry_policy=FAST_RETRIES,
        max_retries=5,
        retry_budget=budget,
    ) as client:
        for _ in range(20):
            with pytest.raises(om.InternalServerError):
                await client.list("thread_r").collect()
    # 20 first attempts; retries at most 20% of them, not 5 each.
    assert _count(emu, "list") <= 20 + 4
    assert budget.denied > 0


# -- create: never twice, never lost ---------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [Fault.commit_then_error(500), Fault.commit_then_drop(), Fault.commit_then_error(503)],
    ids=["500", "drop", "503"],
)
async def test_ambiguous_create_is_reconciled(
    client: om.Client, emu: Emulator, fault: Fault
) -> None:
    emu.store.create_thread("thread_c")
    emu.faults.add(fault, route="create", nth=1)
    message = await client.create("thread_c", role="user", content="exactly once")
    stored = emu.store.messages("thread_c")
    assert [m["id"] for m in stored] == [message.id]
    assert message.text == "exactly once"
    assert _count(emu, "create") == 1  # found by the check, not sent again


async def test_ambiguous_create_read_timeout_is_reconciled(emu: Emulator) -> None:
    emu.store.create_thread("thread_c")
    emu.faults.add(Fault.commit_then_delay(1.0), route="create", nth=1)
    timeout = om.Timeout(total=30.0, read=0.3)  # the attempt times out, the call goes on
    async with om.Client(
        api_key=API_KEY, base_url=emu.url, retry_policy=FAST_RETRIES, timeout=timeout
    ) as client:
        message = await client.create("thread_c", role="user", content="slow")
    assert [m["id"] for m in emu.store.messages("thread_c")] == [message.id]


async def test_create_that_was_not_stored_is_sent_again(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_c")
    emu.faults.add(Fault.error(500), route="create", nth=1)  # failed before storing
    message = await client.create("thread_c", role="user", content="second try")
    assert [m["id"] for m in emu.store.messages("thread_c")] == [message.id]
    assert _count(emu, "create") == 2
    keys = {r.headers["Idempotency-Key"] for r in emu.log if r.route == "create"}
    assert len(keys) == 1  # the same key on every attempt


async def test_create_outcome_unknown_when_checking_fails(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_c")
    emu.faults.add(Fault.commit_then_error(500), route="create", nth=1)
    emu.faults.add(Fault.error(500), route="list")
    with pytest.raises(om.CreateOutcomeUnknownError) as info:
        await client.create("thread_c", role="user", content="unknown")
    assert info.value.thread_id == "thread_c"
    assert info.value.idempotency_key.startswith("om-")
    assert len(emu.store.messages("thread_c")) == 1  # at most one copy


async def test_identical_recent_messages_are_told_apart(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_c")
    # issue 14 item 6: the marker in the metadata tells the new message from an older twin
    older = await client.create("thread_c", role="user", content="ok")
    emu.faults.add(Fault.commit_then_error(500), route="create", nth=1)
    newer = await client.create("thread_c", role="user", content="ok")
    assert newer.id != older.id
    assert [m["id"] for m in emu.store.messages("thread_c")] == [older.id, newer.id]


async def test_identical_recent_messages_are_not_guessed_without_a_marker(
    client: om.Client, emu: Emulator
) -> None:
    emu.store.create_thread("thread_c")
    full = {f"k{i}": "v" for i in range(16)}  # no room for the marker
    await client.create("thread_c", role="user", content="ok", metadata=full)
    emu.faults.add(Fault.commit_then_error(500), route="create", nth=1)
    with pytest.raises(om.CreateOutcomeUnknownError, match="identical"):
        await client.create("thread_c", role="user", content="ok", metadata=full)
    assert len(emu.store.messages("thread_c")) == 2


async def test_429_on_create_is_retried_blindly(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_c")
    emu.faults.add(Fault.rate_limited(retry_after=0), route="create", nth=1)
    message = await client.create("thread_c", role="user", content="throttled")
    assert [m["id"] for m in emu.store.messages("thread_c")] == [message.id]
    assert _count(emu, "create") == 2
    assert _count(emu, "list") == 0


async def test_trusted_idempotency_key_resends(emu: Emulator) -> None:
    emu.store.create_thread("thread_c")
    emu.faults.add(Fault.commit_then_drop(), route="create", nth=1)
    async with om.Client(
        api_key=API_KEY, base_url=emu.url, retry_policy=FAST_RETRIES, trust_idempotency_key=True
    ) as client:
        message = await client.create("thread_c", role="user", content="keyed")
    assert [m["id"] for m in emu.store.messages("thread_c")] == [message.id]
    assert _count(emu, "create") == 2
    assert _count(emu, "list") == 0


async def test_ambiguous_delete_then_404_is_deleted(client: om.Client, emu: Emulator) -> None:
    [message_id] = emu.store.add_messages("thread_d", 1)
    emu.faults.add(Fault.commit_then_drop(), route="delete", nth=1)
    gone = await client.delete("thread_d", message_id)
    assert (gone.id, gone.deleted) == (message_id, True)
    assert emu.store.messages("thread_d") == []
    assert _count(emu, "delete") == 2


async def test_plain_404_delete_is_an_error(client: om.Client, emu: Emulator) -> None:
    emu.store.create_thread("thread_d")
    with pytest.raises(om.NotFoundError):
        await client.delete("thread_d", "msg_nope")


async def test_modify_is_retried(client: om.Client, emu: Emulator) -> None:
    [message_id] = emu.store.add_messages("thread_m", 1)
    emu.faults.add(Fault.commit_then_error(502), route="modify", nth=1)
    modified = await client.modify("thread_m", message_id, metadata={"a": "1"})
    assert modified.metadata == {"a": "1"}
    assert _count(emu, "modify") == 2


# -- redirects ----------------------------------------------------------------------------


async def test_same_origin_redirect_keeps_the_key(client: om.Client, emu: Emulator) -> None:
    emu.store.add_messages("thread_x", 2)
    emu.faults.add(Fault.redirect(emu.root_url + "{path_qs}"), route="list", nth=1)
    assert len(await client.list("thread_x").collect()) == 2


async def test_cross_origin_redirect_does_not_receive_the_key(
    client: om.Client, emu: Emulator
) -> None:
    async with Emulator(api_key="sk-other") as other:
        other.store.add_messages("thread_x", 1)
        emu.faults.add(Fault.redirect(other.root_url + "{path_qs}"), route="list")
        with pytest.raises(om.AuthenticationError):
            await client.list("thread_x").collect()
        assert len(other.log) >= 1
        for record in other.log:
            assert "Authorization" not in record.headers
            assert "api-key" not in record.headers
            assert API_KEY not in str(dict(record.headers))
