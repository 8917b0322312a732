"""The API key never leaks, and hostile ids never reach the server.

Every error class is provoked over real HTTP with logging at DEBUG; the key must appear
in no log record, exception text, repr, ``__cause__``/``__context__`` chain or formatted
traceback. A redirect to another origin must not receive it. Ids that would change the
URL's shape are refused before anything is sent.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import openai_messages as om
from openai_messages.emulator import Emulator, Fault

from ..support import API_KEY, FAST_RETRIES, exception_texts, settle

WRONG_KEY = "sk-wrong-9876543210-SECRET"
SECRETS = (API_KEY, WRONG_KEY, "0123456789-SECRET", "9876543210-SECRET")
BEARER = f"Bearer {API_KEY}"


def record_texts(records: list[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    out = []
    for record in records:
        out += [record.getMessage(), repr(record.args), formatter.format(record)]
        if record.exc_info and record.exc_info[1] is not None:
            out += exception_texts(record.exc_info[1])
    return out


def assert_no_secret(texts: list[str], where: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"the API key leaked into {where}: {text[:300]!r}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Scenario = Callable[[Emulator], Awaitable[None]]


def make_client(emu: Emulator | str, **options: Any) -> om.Client:
    base = emu if isinstance(emu, str) else emu.url
    options.setdefault("api_key", API_KEY)
    options.setdefault("retry_policy", FAST_RETRIES)
    options.setdefault("retry_budget", None)
    return om.Client(base_url=base, **options)


def listing(
    fault: Callable[[Emulator], Fault] | None = None, *, messages: int = 1, **client_options: Any
) -> Scenario:
    """A walk of a thread of ``messages`` messages, with ``fault(emu)`` on the list route."""

    async def scenario(emu: Emulator) -> None:
        emu.store.add_messages("thread_t", messages)
        if fault is not None:
            emu.faults.add(fault(emu), route="list")
        async with make_client(emu, **client_options) as client:
            await client.list("thread_t").collect()

    return scenario


def retrieving(message_id: str | None, fault: Fault | None = None) -> Scenario:
    """A retrieve of ``message_id`` (None: the thread's message), with ``fault`` on it."""

    async def scenario(emu: Emulator) -> None:
        emu.store.add_messages("thread_t", 1)
        if fault is not None:
            emu.faults.add(fault, route="retrieve")
        async with make_client(emu) as client:
            await client.retrieve("thread_t", message_id or emu.store.messages("thread_t")[0]["id"])

    return scenario


async def connection_refused(emu: Emulator) -> None:
    async with make_client(f"http://127.0.0.1:{free_port()}/v1") as client:
        await client.list("thread_t").collect()


async def outcome_unknown(emu: Emulator) -> None:
    emu.store.create_thread("thread_t")
    emu.faults.add(Fault.commit_then_error(500), route="create")
    async with make_client(emu) as client:
        await client.create("thread_t", role="user", content="hi", max_retries=0)


async def bad_argument(emu: Emulator) -> None:
    async with make_client(emu) as client:
        await client.retrieve("thread_t", "../etc/passwd")


async def closed_client(emu: Emulator) -> None:
    client = make_client(emu)
    await client.close()
    await client.retrieve("thread_t", "msg_m")


SCENARIOS: dict[str, tuple[Scenario, type[BaseException]]] = {
    "401": (listing(api_key=WRONG_KEY), om.AuthenticationError),
    "404": (retrieving("msg_missing"), om.NotFoundError),
    "429": (listing(lambda emu: Fault.rate_limited(0)), om.RateLimitError),
    "500": (listing(lambda emu: Fault.error(500)), om.InternalServerError),
    # a (misbehaving) server that quotes the credential back in its error message
    "echo": (
        listing(lambda emu: Fault.error(400, message=f"bad header: Authorization: {BEARER}")),
        om.BadRequestError,
    ),
    # a proxy's HTML page, sent with 200, that quotes the credential it received
    "body_echo": (
        retrieving(None, Fault.html(200, body=f"<pre>Authorization: {BEARER}</pre>")),
        om.APIResponseValidationError,
    ),
    "timeout": (
        listing(lambda emu: Fault.latency(1.0), timeout=0.2, max_retries=1),
        om.APITimeoutError,
    ),
    "refused": (connection_refused, om.APIConnectionError),
    "dropped": (listing(lambda emu: Fault.drop()), om.APIConnectionError),
    "dropped_mid_body": (
        listing(lambda emu: Fault.drop_mid_body(0.5), messages=5),
        om.APIConnectionError,
    ),
    "truncated": (
        listing(lambda emu: Fault.truncate(0.5), messages=5),
        om.APIResponseValidationError,
    ),
    "html": (retrieving(None, Fault.html(200)), om.APIResponseValidationError),
    "too_large": (listing(messages=50, max_response_bytes=256), om.ResponseTooLargeError),
    "outcome_unknown": (outcome_unknown, om.CreateOutcomeUnknownError),
    "pagination": (listing(lambda emu: Fault.empty_has_more(), messages=5), om.PaginationError),
    "redirects": (
        listing(lambda emu: Fault.redirect(emu.root_url + "{path_qs}")),
        om.APIConnectionError,
    ),
    "bad_argument": (bad_argument, om.InvalidArgumentError),
    "closed": (closed_client, om.ClientClosedError),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_the_key_leaks_nowhere(
    emu: Emulator, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    scenario, expected = SCENARIOS[name]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(expected) as info:
        await scenario(emu)
    assert isinstance(info.value, om.OpenAIMessagesError)
    assert_no_secret(exception_texts(info.value), f"the {type(info.value).__name__}")
    assert_no_secret(record_texts(caplog.records), "a log record")
    await settle(emu)
    assert_no_secret(record_texts(caplog.records), "a log record")


async def test_the_key_leaks_nowhere_on_success_either(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.store.add_messages("thread_t", 150)
    emu.faults.add(Fault.error(503), route="list", nth=2)
    async with make_client(emu) as client:
        assert len(await client.list("thread_t").collect()) == 150
        message = await client.create("thread_t", role="user", content="hello")
        texts = [repr(client), str(client), repr(client.endpoint), repr(message)]
        texts += [repr(client.list("thread_t")), repr(client.stats)]
    assert_no_secret(texts, "a repr")
    assert_no_secret(record_texts(caplog.records), "a log record")
    assert any("retrying" in r.getMessage() for r in caplog.records)


async def test_secret_holder_does_not_reveal_itself() -> None:
    secret = om.StaticToken(API_KEY)  # the one holder of a fixed key
    assert_no_secret([repr(secret), str(secret), f"{secret}", f"{secret!r}"], "a StaticToken")
    with pytest.raises(TypeError):
        __import__("pickle").dumps(secret)


# ----------------------------------------------------------------------------- redirects


@pytest.fixture
async def other_origin() -> AsyncIterator[Emulator]:
    """A second server that accepts any credential (or none) and records what it got."""
    async with Emulator(api_key=None) as other:
        yield other


def auth_headers(emu: Emulator) -> list[str]:
    return [
        f"{name}: {value}"
        for record in emu.log
        for name, value in record.headers.items()
        if name.lower() in ("authorization", "api-key")
    ]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_to_another_origin_drops_the_key(
    emu: Emulator, other_origin: Emulator, status: int
) -> None:
    other_origin.store.add_messages("thread_t", 3)
    emu.faults.add(Fault.redirect(other_origin.root_url + "{path_qs}", status=status))
    async with make_client(emu) as client:
        messages = await client.list("thread_t", order="asc").collect()
    assert [m.id for m in messages] == [m["id"] for m in other_origin.store.messages("thread_t")]
    assert len(other_origin.log) == 1
    assert auth_headers(other_origin) == []
    # The first hop did carry it: the check above is not vacuous.
    assert auth_headers(emu) == [f"Authorization: Bearer {API_KEY}"]


async def test_redirected_create_to_another_origin_drops_the_key(
    emu: Emulator, other_origin: Emulator
) -> None:
    other_origin.store.create_thread("thread_t")
    emu.faults.add(Fault.redirect(other_origin.root_url + "{path_qs}", status=307), route="create")
    async with make_client(emu) as client:
        message = await client.create("thread_t", role="user", content="hi")
    assert other_origin.store.get("thread_t", message.id) is not None
    assert auth_headers(other_origin) == []


async def test_azure_key_header_is_dropped_too(emu: Emulator, other_origin: Emulator) -> None:
    other_origin.store.add_messages("thread_t", 2)
    emu.faults.add(Fault.redirect(other_origin.root_url + "{path_qs}", status=307))
    async with om.Client.azure(
        endpoint=emu.root_url, api_key=API_KEY, retry_policy=FAST_RETRIES
    ) as client:
        assert len(await client.list("thread_t").collect()) == 2
    assert auth_headers(emu) == [f"api-key: {API_KEY}"]
    assert auth_headers(other_origin) == []


async def test_same_origin_redirect_keeps_the_key(emu: Emulator) -> None:
    emu.store.add_messages("thread_t", 2)
    emu.faults.add(Fault.redirect(emu.root_url + "/threads/thread_t/messages"), route="list", nth=1)
    async with make_client(emu) as client:
        assert len(await client.list("thread_t").collect()) == 2
    assert auth_headers(emu) == [f"Authorization: Bearer {API_KEY}"] * 2


async def test_redirect_to_another_port_is_another_origin(emu: Emulator) -> None:
    async with Emulator(api_key=API_KEY) as same_host:
        same_host.store.add_messages("thread_t", 1)
        emu.faults.add(Fault.redirect(same_host.root_url + "{path_qs}"), route="list")
        async with make_client(emu) as client:
            with pytest.raises(om.AuthenticationError):
                await client.list("thread_t").collect()
        assert auth_headers(same_host) == []


# ----------------------------------------------------------------------------- hostile ids


BAD_IDS = [
    "a/b",
    "/",
    "..",
    ".",
    "a..b",
    "../x",
    "a?b",
    "a#b",
    "a b",
    " a",
    "a\tb",
    "a\nb",
    "a\rb",
    "a\x00b",
    "a\x1bb",
    "a\x7fb",
    "a\x85b",
    "a\u00a0b",
    "a\u2028b",
    "a\u3000b",
    "a%2Fb",
    "a\\b",
    "",
]


def calls(bad: str) -> list[Callable[[om.Client], Awaitable[object]]]:
    """Every call shape with ``bad`` in each id position."""
    ok = "msg_ok"
    return [
        lambda c: c.create(bad, role="user", content="x"),
        lambda c: c.retrieve(bad, ok),
        lambda c: c.retrieve("thread_t", bad),
        lambda c: c.modify("thread_t", bad, metadata={"k": "v"}),
        lambda c: c.delete("thread_t", bad),
        lambda c: c.delete(bad, ok),
        lambda c: c.list(bad).collect(),
        lambda c: c.list("thread_t", after=bad).collect(),
        lambda c: c.list("thread_t", before=bad).collect(),
        lambda c: c.list("thread_t", run_id=bad).collect(),
        lambda c: c.list_files("thread_t", bad).collect(),
        lambda c: c.retrieve_file("thread_t", ok, bad),
        lambda c: c.with_response.retrieve("thread_t", bad),
        lambda c: c.create("thread_t", role="user", content="x", file_ids=[bad]),
    ]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
async def test_hostile_ids_never_reach_the_server(emu: Emulator, bad: str) -> None:
    async with make_client(emu, api_version="v1") as client:
        for call in calls(bad):
            with pytest.raises(om.InvalidArgumentError):
                await call(client)
        results = [r async for r in client.fetch_many([bad])]
        assert len(results) == 1
        assert isinstance(results[0].error, om.InvalidArgumentError)
    assert len(emu.log) == 0
    await settle(emu)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(thread_id=st.text(max_size=12))
async def test_any_id_is_refused_or_reaches_the_server_unchanged(
    client: om.Client, emu: Emulator, thread_id: str
) -> None:
    """An id is either refused before sending, or arrives as exactly one path segment."""
    emu.log.clear()
    try:
        await client.retrieve(thread_id, "msg_1")
    except om.InvalidArgumentError:
        assert len(emu.log) == 0
        return
    except (om.NotFoundError, om.BadRequestError):
        pass
    [record] = list(emu.log)
    assert record.path == f"/v1/threads/{thread_id}/messages/msg_1"
    # aiohttp's router never matches a segment holding a brace; any other id is routed.
    assert record.route == (None if set(thread_id) & set("{}") else "retrieve")
