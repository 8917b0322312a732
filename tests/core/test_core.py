"""The I/O-free core: no asyncio nor aiohttp in it, header parsers, the retry judge, and
the transport's loop, redirects and body cap against an in-memory seam."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict

import openai_messages as om
from openai_messages._core import bodies, headers
from openai_messages._core import operations as ops
from openai_messages._core.exchange import PreparedRequest
from openai_messages._core.retry import RetryPolicy, Verdict, is_ambiguous, judge

from ..fake_seam import fake_transport, script
from ..support import API_KEY

PACKAGE = Path(om.__file__).parent
CORE = sorted(p.stem for p in (PACKAGE / "_core").glob("*.py") if p.stem != "__init__")
MESSAGE = {"id": "msg_1", "object": "thread.message", "role": "user", "content": []}
IDS = {"thread_id": "thread_1", "message_id": "msg_1"}
RETRIEVE = ops.RETRIEVE_MESSAGE.request(IDS)
DELETE = ops.DELETE_MESSAGE.request(IDS)
CREATE = ops.CREATE_MESSAGE.request(
    {"thread_id": "thread_1"}, body=bodies.message("user", "x"), idempotency_key="k"
)
NEW_THREAD = ops.CREATE_THREAD.request(body=bodies.thread(), idempotency_key="k")


def _imports(module: str) -> set[str]:
    """The top-level names of what ``openai_messages.<module>`` imports (a dotted path
    under the package), the package's own modules followed through."""
    seen: set[str] = set()
    todo = [module]
    found: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = PACKAGE.joinpath(*name.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                found.add((node.module or "").split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module or "").split(".")] if node.module else base
                for alias in node.names:
                    for candidate in ([*target, alias.name], target):
                        where = PACKAGE.joinpath(*candidate)
                        if candidate and (where.with_suffix(".py").exists() or where.is_dir()):
                            todo.append(".".join(candidate))
                            break
    return found


def test_the_core_is_a_folder() -> None:
    assert {"operations", "bodies", "replies", "retry", "headers", "exchange"} <= set(CORE)


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_neither_asyncio_nor_aiohttp(module: str) -> None:
    imported = _imports(f"_core.{module}")
    assert "asyncio" not in imported
    assert "aiohttp" not in imported
    assert "tenacity" not in imported
    assert importlib.util.find_spec(f"openai_messages._core.{module}") is not None


def test_the_import_check_sees_imports() -> None:
    assert "aiohttp" in _imports("_transport.aiohttp_seam")
    assert "asyncio" in _imports("_transport.reconcile")
    assert "cattrs" in _imports("_core.bodies")  # through the codec


# -- header parsers --------------------------------------------------------------------


def test_header_parsers() -> None:
    assert headers.parse_retry_after({"Retry-After": "3"}) == 3.0
    assert headers.parse_retry_after({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    assert headers.parse_retry_after({"Retry-After": "-1"}) is None
    assert headers.parse_retry_after({"Retry-After": "soon"}) is None
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert headers.parse_retry_after({"Retry-After": date}, now=1445412470.0) == 10.0
    assert headers.parse_date({"Date": date}) == 1445412480.0
    assert headers.parse_date({"Date": "yesterday"}) is None
    assert headers.parse_should_retry({"X-Should-Retry": "TRUE"}) is True
    assert headers.parse_should_retry({"x-should-retry": "false"}) is False
    assert headers.parse_should_retry({"x-should-retry": "maybe"}) is None
    assert headers.parse_request_id({"X-Request-Id": "req_1"}) == "req_1"
    assert headers.parse_request_id({}) is None
    limits = headers.parse_ratelimit(
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-reset-requests": "1m0.5s",
        }
    )
    assert limits == headers.RequestLimits(limit=60.0, remaining=59.0, reset=60.5)
    assert headers.parse_reset_duration("120ms") == 0.12
    assert headers.parse_reset_duration("1 fortnight") is None


def test_header_readers_match_names_in_any_mapping() -> None:
    """A case-sensitive ``MultiDict`` is not a case-insensitive one (it has ``getall`` too)."""
    sensitive = MultiDict({"Retry-After": "3", "X-Request-Id": "req_2", "X-Should-Retry": "true"})
    assert headers.parse_retry_after(sensitive) == 3.0
    assert headers.parse_request_id(sensitive) == "req_2"
    assert headers.parse_should_retry(sensitive) is True
    insensitive = CIMultiDictProxy(CIMultiDict({"X-RateLimit-Limit-Requests": "10"}))
    assert headers.parse_ratelimit(insensitive) == headers.RequestLimits(limit=10.0)


def test_header_readers_take_a_value_that_is_not_text_as_absent() -> None:
    odd: Any = {"x-should-retry": 1, "retry-after": 5, "x-request-id": b"req", "date": 0}
    assert headers.parse_should_retry(odd) is None
    assert headers.parse_retry_after(odd) is None
    assert headers.parse_request_id(odd) is None
    assert headers.parse_date(odd) is None


# -- the retry judge (pure) ------------------------------------------------------------

POLICY = RetryPolicy(max_retries=3, backoff_base=1.0, backoff_max=8.0, retry_after_cap=60.0)


def _status(code: int, **hdrs: str) -> om.APIStatusError:
    return om.APIStatusError("x", status_code=code, headers=hdrs)


def _judge(failure: BaseException, retry: int = 1, remaining: float | None = None) -> Verdict:
    return judge(
        failure,
        policy=POLICY,
        retry_number=retry,
        max_retries=3,
        remaining=remaining,
        rng=lambda: 0.5,
    )


@pytest.mark.parametrize("code", [408, 409, 429, 500, 503])
def test_judge_retries_transient_statuses(code: int) -> None:
    assert _judge(_status(code), retry=2) == Verdict(True, 1.0, f"HTTP {code}")


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_judge_does_not_retry_caller_errors(code: int) -> None:
    assert not _judge(_status(code)).retry


def test_judge_follows_the_server() -> None:
    assert not _judge(_status(503, **{"x-should-retry": "false"})).retry
    assert _judge(_status(400, **{"x-should-retry": "true"})).retry
    assert _judge(_status(429, **{"retry-after": "7"})).wait == 7.0
    too_long = _judge(_status(429, **{"retry-after": "86400"}))
    assert not too_long.retry
    assert "86400" in too_long.reason


def test_judge_stops_at_max_retries_and_at_the_deadline() -> None:
    assert _judge(om.APIConnectionError("x"), retry=3).retry
    assert not _judge(om.APIConnectionError("x"), retry=4).retry
    assert not _judge(_status(429, **{"retry-after": "5"}), remaining=4.0).retry
    assert _judge(_status(429, **{"retry-after": "5"}), remaining=6.0).retry


def test_judge_never_retries_what_a_retry_cannot_mend() -> None:
    for failure in (
        om.ResponseTooLargeError("big"),
        om.StoredButUnreadableError("stored"),
        om.RedirectError("loop"),
        om.CreateOutcomeUnknownError("?", thread_id="t", idempotency_key="k"),
        ValueError("a bug"),
    ):
        assert not _judge(failure).retry, failure
    assert _judge(om.APIResponseValidationError("truncated")).retry


def test_ambiguity() -> None:
    assert is_ambiguous(_status(502))
    assert not is_ambiguous(_status(429))
    assert is_ambiguous(om.APITimeoutError("read"))
    assert not is_ambiguous(om.APIConnectionError("refused", maybe_delivered=False))
    assert not is_ambiguous(om.StoredButUnreadableError("stored"))


# -- the transport over the in-memory seam ---------------------------------------------


def _ok(body: object = MESSAGE, **hdrs: str) -> om.MockReply:
    return om.MockReply(200, orjson.dumps(body), hdrs)


async def test_one_loop_retries_counts_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    seam = om.MockSeam(script(om.MockReply(500, b"{}"), om.MockReply(503, b"{}"), _ok()))
    transport = fake_transport(seam)
    caplog.set_level("INFO", "openai_messages")
    response = await transport.call(RETRIEVE, {})
    assert response.value.id == "msg_1"
    assert (response.attempts, len(seam.sent), transport.retries) == (3, 3, 2)
    assert len([r for r in caplog.records if r.message.startswith("retrying")]) == 2


@pytest.mark.parametrize(
    ("headers", "wait"), [({"retry-after-ms": "300"}, 0.3), ({"retry-after": "1"}, 1.0)]
)
async def test_the_retry_sleeps_what_the_server_asked(headers: dict[str, str], wait: float) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    seam = om.MockSeam(script(om.MockReply(429, b"{}", headers), _ok()))
    transport = fake_transport(seam, sleep=sleep)
    response = await transport.call(RETRIEVE, {})
    assert (response.attempts, slept) == (2, [wait])


async def test_max_retries_is_resolved_once_and_checked_before_sending() -> None:
    seam = om.MockSeam(script(om.MockReply(500, b"{}")))
    transport = fake_transport(seam)
    with pytest.raises(om.InternalServerError):
        await transport.call(RETRIEVE, {"max_retries": 1})
    assert len(seam.sent) == 2
    for bad in (-1, True, 1.5):
        with pytest.raises(om.InvalidArgumentError):
            await transport.call(RETRIEVE, {"max_retries": bad})  # type: ignore[typeddict-item]
    create = CREATE
    with pytest.raises(om.InvalidArgumentError):
        await transport.call(create, {"max_retries": -1})
    assert len(seam.sent) == 2  # nothing more was sent


async def test_the_budget_is_spent_by_every_retry() -> None:
    budget = om.RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0)  # one retry in all
    seam = om.MockSeam(script(om.MockReply(500, b"{}")))
    transport = fake_transport(seam, budget=budget, max_retries=5)
    with pytest.raises(om.InternalServerError):
        await transport.call(RETRIEVE, {})
    assert len(seam.sent) == 2
    assert budget.denied == 1


async def test_an_ambiguous_create_is_settled_before_it_is_sent_again() -> None:
    seam = om.MockSeam(script(om.MockReply(500, b"{}"), _ok()))
    transport = fake_transport(seam)
    create = CREATE
    causes: list[str] = []

    async def settle(cause: om.APIError, deadline: float | None) -> om.Message | None:
        causes.append(type(cause).__name__)
        return None  # not stored: send again

    response = await transport.call(create, {}, settle)
    assert causes == ["InternalServerError"]
    assert len(seam.sent) == 2
    assert transport.retries == 1

    async def found(cause: om.APIError, deadline: float | None) -> om.Message | None:
        return om.Message(id="msg_found")

    seam.handler = script(om.APITimeoutError("read timeout"))
    response = await transport.call(create, {}, found)
    assert response.value.id == "msg_found"


async def test_a_thread_create_that_may_have_happened_is_reported() -> None:
    seam = om.MockSeam(script(om.APIConnectionError("reset"), _ok({"id": "thread_1"})))
    with pytest.raises(om.CreateOutcomeUnknownError) as info:
        await fake_transport(seam).call(NEW_THREAD, {})
    assert (info.value.thread_id, info.value.idempotency_key) == (None, "k")
    assert len(seam.sent) == 1
    trusting = om.MockSeam(script(om.APIConnectionError("reset"), _ok({"id": "thread_1"})))
    transport = fake_transport(trusting, trust_idempotency_key=True)
    thread = await transport.call(NEW_THREAD, {})
    assert thread.value.id == "thread_1"
    assert [r.headers["Idempotency-Key"] for r in trusting.sent] == ["k", "k"]


async def test_a_delete_gone_after_an_ambiguous_attempt_is_done() -> None:
    seam = om.MockSeam(script(om.MockReply(502, b"{}"), om.MockReply(404, b"{}")))
    deleted = await fake_transport(seam).call(DELETE, {})
    assert (deleted.value.id, deleted.value.deleted) == ("msg_1", True)
    plain = om.MockSeam(script(om.MockReply(404, b"{}")))
    with pytest.raises(om.NotFoundError):
        await fake_transport(plain).call(DELETE, {})


def _redirect(location: str, status: int = 302) -> om.MockReply:
    return om.MockReply(status, b"", {"Location": location})


async def test_redirects_keep_credentials_at_home() -> None:
    seam = om.MockSeam(script(_redirect("/v1/elsewhere"), _redirect("https://other.test/x"), _ok()))
    await fake_transport(seam).call(RETRIEVE, {})
    _, same, other = seam.sent
    assert same.url == "https://api.example.test/v1/elsewhere"
    assert same.headers["Authorization"] == f"Bearer {API_KEY}"
    assert other.url == "https://other.test/x"
    assert "Authorization" not in other.headers


async def test_a_303_after_a_post_becomes_a_get() -> None:
    seam = om.MockSeam(script(_redirect("/v1/done", 303), _ok()))
    request = ops.MODIFY_MESSAGE.request(IDS, body=bodies.update({"a": "b"}))
    await fake_transport(seam).call(request, {})
    assert (seam.sent[1].method, seam.sent[1].body) == ("GET", None)


@pytest.mark.parametrize(
    "location",
    [
        "https://user:pw@evil.test/x",
        "http://[::1/x",
        "http://127.0.0.1:99999/x",
        "ftp://files.test/x",
    ],
)
async def test_a_redirect_that_cannot_be_followed_is_typed(location: str) -> None:
    seam = om.MockSeam(script(_redirect(location), _ok()))
    with pytest.raises(om.RedirectError) as info:
        await fake_transport(seam).call(RETRIEVE, {})
    assert "pw" not in str(info.value)
    assert len(seam.sent) == 1  # not followed, not retried


async def test_a_redirect_loop_ends() -> None:
    seam = om.MockSeam(script(_redirect("/v1/again")))
    with pytest.raises(om.RedirectError, match="redirects"):
        await fake_transport(seam).call(RETRIEVE, {})


async def test_the_body_cap_counts_every_chunk() -> None:
    chunks = [b"x" * 600, b"x" * 600]
    seam = om.MockSeam(script(om.MockReply(200, chunks)), max_response_bytes=1000)
    with pytest.raises(om.ResponseTooLargeError):
        await fake_transport(seam).call(RETRIEVE, {})
    assert len(seam.sent) == 1  # too large is not retried


async def test_a_create_reply_over_the_cap_says_it_is_stored() -> None:
    body = orjson.dumps({**MESSAGE, "id": "msg_big", "pad": "x" * 5000})
    seam = om.MockSeam(
        script(om.MockReply(200, [body[:100], body[100:]], {"x-request-id": "req_7"})),
        max_response_bytes=1000,
    )
    create = CREATE
    with pytest.raises(om.StoredButUnreadableError) as info:
        await fake_transport(seam).call(create, {})
    err = info.value
    assert (err.object_id, err.status_code, err.request_id) == ("msg_big", 200, "req_7")
    assert "stored" in str(err)
    assert len(seam.sent) == 1


def test_prepared_requests_are_plain_data() -> None:
    request = PreparedRequest("GET", "https://a.test/", {"A": "b"})
    assert request.timeout is None


async def test_a_create_out_of_retries_after_an_ambiguous_failure_is_unknown() -> None:
    for trust in (False, True):
        seam = om.MockSeam(script(om.MockReply(500, b"{}")))
        transport = fake_transport(seam, max_retries=1, trust_idempotency_key=trust)
        create = CREATE

        async def settle(cause: om.APIError, deadline: float | None) -> om.Message | None:
            return None

        with pytest.raises(om.CreateOutcomeUnknownError) as info:
            await transport.call(create, {}, settle)
        assert info.value.idempotency_key == "k"
        assert len(seam.sent) == 2
