"""The I/O-free protocol core: bodies and their checks, where a request goes, reply
parsing. No server. (The request builder itself: ``test_operations.py``.)"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openai_messages import errors
from openai_messages._codec.models import DeletedMessage, Message, MessagePage, TextPart
from openai_messages._core import bodies, replies
from openai_messages._core import checks as validation
from openai_messages._core import endpoint as ep
from openai_messages._core import operations as ops
from openai_messages._core.exchange import HttpReply, same_origin
from openai_messages._core.retry import RetryBudget, RetryPolicy, is_retryable_status
from openai_messages._core.scrubbing import Scrubber
from openai_messages.auth import StaticToken

T = TypeVar("T")
ENDPOINT = ep.Endpoint(base_url="https://api.example.test/v1")


def _body(request: ops.Request[Any]) -> Any:
    assert request.body is not None
    return orjson.loads(request.body)


def _ids(thread_id: object = "t", message_id: object = "m") -> dict[str, object]:
    return {"thread_id": thread_id, "message_id": message_id}


def test_create_request_shape() -> None:
    request = ops.CREATE_MESSAGE.request(
        {"thread_id": "thread_1"},
        body=bodies.message("user", "Hi", metadata={"a": "b"}),
        idempotency_key="k1",
    )
    assert (request.method, request.path, request.operation) == (
        "POST",
        "threads/thread_1/messages",
        "create",
    )
    assert _body(request) == {"role": "user", "content": "Hi", "metadata": {"a": "b"}}
    assert request.headers["Idempotency-Key"] == "k1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.idempotent is False
    assert request.target == "thread_1"


def test_the_marker_goes_into_the_metadata_when_it_has_room() -> None:
    marked = bodies.message("user", "x", metadata={"a": "b"}, marker="k1")
    assert marked["metadata"] == {"a": "b", bodies.IDEMPOTENCY_MARKER: "k1"}
    full = {f"k{i}": "v" for i in range(16)}
    assert bodies.message("user", "x", metadata=full, marker="k1")["metadata"] == full
    assert bodies.message("user", "x", marker="k" * 513).get("metadata") is None


def test_create_with_parts_and_attachments() -> None:
    body = bodies.message(
        "assistant",
        [TextPart(text="x"), {"type": "image_url", "image_url": {"url": "https://i"}}],
        attachments=[{"file_id": "file-1", "tools": [{"type": "file_search"}]}],
    )
    assert body["content"] == [
        {"type": "text", "text": "x"},
        {"type": "image_url", "image_url": {"url": "https://i"}},
    ]
    assert body["attachments"][0]["file_id"] == "file-1"


def test_v1_and_v2_fields_are_not_mixed() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="file_ids is a v1 field"):
        bodies.message("user", "x", file_ids=["file-1"])
    with pytest.raises(errors.InvalidArgumentError, match="attachments are a v2 field"):
        bodies.message("user", "x", attachments=[{"file_id": "f"}], api_version="v1")
    v1 = bodies.message("user", "x", file_ids=["f1"], api_version="v1")
    assert v1["file_ids"] == ["f1"]


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({f"k{i}": "v" for i in range(17)}, "at most 16"),
        ({"k" * 65: "v"}, "longer than 64"),
        ({"k": "v" * 513}, "longer than 512"),
        ({"k": 1}, "must be a str"),
        ({1: "v"}, "must be a str"),
        (["k"], "must be a mapping"),
    ],
)
def test_metadata_limits(metadata: Any, match: str) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=match):
        bodies.update(metadata)


def test_metadata_at_the_limits_is_accepted() -> None:
    metadata = {f"{i:064d}": "v" * 512 for i in range(16)}
    request = ops.MODIFY_MESSAGE.request(_ids(), body=bodies.update(metadata))
    assert _body(request) == {"metadata": metadata}
    assert bodies.update(None) == {"metadata": None}  # sent as null, as before


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"role": "system", "content": "x"}, "role"),
        ({"role": "user", "content": ""}, "must not be empty"),
        ({"role": "user", "content": []}, "at least one part"),
        ({"role": "user", "content": 5}, "content must be"),
        ({"role": "user", "content": [{"text": "no type"}]}, "needs a 'type'"),
        ({"role": "user", "content": [object()]}, "content part"),
    ],
)
def test_create_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=match):
        bodies.message(**kwargs)


def test_a_new_thread_s_messages_are_checked_as_a_create_s() -> None:
    body = bodies.thread(
        messages=[
            {"role": "user", "content": "Hi", "metadata": {"a": "b"}},
            {"role": "assistant", "content": [TextPart(text="Yes")]},
        ],
        tool_resources={"code_interpreter": {"file_ids": []}},
    )
    assert body == {
        "messages": [
            bodies.message("user", "Hi", metadata={"a": "b"}),
            {"role": "assistant", "content": [{"type": "text", "text": "Yes"}]},
        ],
        "tool_resources": {"code_interpreter": {"file_ids": []}},
    }
    assert bodies.thread() == {}
    v1 = bodies.thread(
        messages=[{"role": "user", "content": "x", "file_ids": ["f"]}], api_version="v1"
    )
    assert v1["messages"][0]["file_ids"] == ["f"]


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ("Hi", "messages must be a list"),
        ({"role": "user", "content": "x"}, "messages must be a list"),
        (["Hi"], r"messages\[0\] must be a dict"),
        (
            [{"role": "user", "content": "x", "extra": 1}],
            r"messages\[0\] has unknown keys \['extra'\]",
        ),
        ([{"role": "user", "content": "x"}, {"content": "x"}], r"messages\[1\]: role must be"),
        ([{"role": "user", "content": ""}], r"messages\[0\]: content must not be empty"),
        ([{"role": "user", "content": "x", "file_ids": ["f"]}], r"messages\[0\]: file_ids is a v1"),
    ],
)
def test_a_new_thread_s_bad_message_is_named(messages: object, match: str) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=match):
        bodies.thread(messages=messages)


def test_tool_resources_are_a_mapping() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="tool_resources must be a mapping"):
        bodies.update({}, tool_resources=["x"])
    assert bodies.update({"a": "b"}, tool_resources={"t": {}}) == {
        "metadata": {"a": "b"},
        "tool_resources": {"t": {}},
    }


def test_prepare_openai_and_compatible() -> None:
    url = ep.prepare(
        ENDPOINT, ops.LIST_MESSAGES.request({"thread_id": "t"}, {"limit": 5, "after": "msg_1"})
    )
    assert url == "https://api.example.test/v1/threads/t/messages?limit=5&order=desc&after=msg_1"
    plain = ep.Endpoint(base_url="http://127.0.0.1:8000/", default_query={"x": "a b"})
    assert ep.prepare(plain, ops.RETRIEVE_MESSAGE.request(_ids())) == (
        "http://127.0.0.1:8000/threads/t/messages/m?x=a%20b"
    )


_QUERY_TEXT = (
    st.text(st.sampled_from("aZ09._~-_ /?&=%+#é\x00\u2028\U0001f600"), max_size=8) | st.text()
)


@given(st.lists(st.tuples(_QUERY_TEXT, _QUERY_TEXT), max_size=5))
def test_the_query_is_encoded_as_urlencode_quotes_it(pairs: list[tuple[str, str]]) -> None:
    """The query writer skips quoting what needs none, and writes what urlencode writes;
    an id in a path is quoted as ``quote`` quotes it."""
    assert ep.encode_query(pairs) == urlencode(pairs, quote_via=quote, safe="")
    for key, value in pairs:
        assert validation.quote_component(value) == quote(value, safe="")
        assert validation.quote_component(key) == quote(key, safe="")


def test_prepare_azure() -> None:
    azure = ep.Endpoint(
        base_url="https://name.openai.azure.com",
        azure=ep.AzureSettings(api_version="2024-05-01-preview"),
    )
    url = ep.prepare(azure, ops.RETRIEVE_MESSAGE.request(_ids()))
    assert (
        url
        == "https://name.openai.azure.com/openai/threads/t/messages/m?api-version=2024-05-01-preview"
    )
    assert ep.auth_header(azure, "azkey") == ("api-key", "azkey")
    token = ep.Endpoint(base_url="https://n.test", azure=ep.AzureSettings(ad_token=True))
    assert ep.auth_header(token, "tok") == ("Authorization", "Bearer tok")


def test_endpoint_headers() -> None:
    endpoint = ep.Endpoint(
        base_url="https://x.test/v1", api_version="v1", organization="org", project="proj"
    )
    headers = ep.endpoint_headers(endpoint)
    assert "Authorization" not in headers
    assert ep.auth_header(endpoint, "sk-1") == (
        "Authorization",
        "Bearer sk-1",
    )
    assert headers["OpenAI-Beta"] == "assistants=v1"
    assert headers["OpenAI-Organization"] == "org"
    assert headers["OpenAI-Project"] == "proj"
    assert headers["User-Agent"].startswith("openai_messages/")


@pytest.mark.parametrize("url", ["ftp://x", "api.openai.com", "", "http://"])
def test_bad_base_url(url: str) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="base_url"):
        ep.Endpoint(base_url=url)


def test_secret_never_shows() -> None:
    secret = StaticToken("sk-very-secret")
    assert "sk-very-secret" not in repr(secret)
    assert "sk-very-secret" not in str(secret)
    assert "sk-very-secret" not in f"{secret}"
    assert secret.reveal() == "sk-very-secret"


def test_same_origin() -> None:
    assert same_origin("https://a.test/x", "https://A.test:443/y")
    assert not same_origin("https://a.test/x", "http://a.test/x")
    assert not same_origin("https://a.test/x", "https://b.test/x")
    assert not same_origin("http://a.test:80/", "http://a.test:8080/")


def parse_reply(status: int, headers: dict[str, str], body: bytes, cls: type[T]) -> T:
    """A reply's result as the transport reads it (no secret to scrub)."""
    return replies.decode_reply(HttpReply(status, headers, body, ""), cls, Scrubber())


MESSAGE = {
    "id": "msg_1",
    "object": "thread.message",
    "created_at": 1,
    "thread_id": "t",
    "role": "user",
    "content": [{"type": "text", "text": {"value": "hi", "annotations": []}}],
    "metadata": {},
}


def test_parse_reply_ok() -> None:
    message = parse_reply(200, {}, orjson.dumps(MESSAGE), Message)
    assert message.id == "msg_1"
    page = parse_reply(
        200,
        {},
        orjson.dumps(
            {
                "object": "list",
                "data": [MESSAGE],
                "first_id": "msg_1",
                "last_id": "msg_1",
                "has_more": False,
            }
        ),
        MessagePage,
    )
    assert [m.id for m in page.data] == ["msg_1"]
    deleted = parse_reply(
        200, {}, b'{"id":"msg_1","object":"thread.message.deleted","deleted":true}', DeletedMessage
    )
    assert deleted.deleted is True


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (422, errors.UnprocessableEntityError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
        (503, errors.InternalServerError),
        (418, errors.APIStatusError),
    ],
)
def test_errors_by_status(status: int, cls: type[errors.APIStatusError]) -> None:
    body = orjson.dumps(
        {
            "error": {
                "message": "nope",
                "type": "invalid_request_error",
                "param": "limit",
                "code": "c",
            }
        }
    )
    with pytest.raises(cls) as info:
        parse_reply(status, {"x-request-id": "req_9"}, body, Message)
    err = info.value
    assert type(err) is cls
    assert (err.status_code, err.message.endswith("nope"), err.error_type, err.param, err.code) == (
        status,
        True,
        "invalid_request_error",
        "limit",
        "c",
    )
    assert err.request_id == "req_9"
    assert "req_9" in str(err)


def test_error_with_html_body_quotes_a_snippet() -> None:
    err = replies.error_from_reply(502, {}, b"<html><body>Bad Gateway</body></html>")
    assert isinstance(err, errors.InternalServerError)
    assert "Bad Gateway" in str(err)


@pytest.mark.parametrize(
    "body", [b"<html>oops</html>", b'{"id": "msg_1", "crea', b"", b"[1, 2]", b'{"id": 5}']
)
def test_unreadable_2xx_body(body: bytes) -> None:
    with pytest.raises(errors.APIResponseValidationError) as info:
        parse_reply(200, {"x-request-id": "req_1"}, body, Message)
    assert info.value.status_code == 200
    assert info.value.request_id == "req_1"


def test_retryable_statuses() -> None:
    for status in (408, 409, 429, 500, 502, 503, 504):
        assert is_retryable_status(status, {})
    for status in (400, 401, 403, 404, 422):
        assert not is_retryable_status(status, {})
    assert not is_retryable_status(503, {"x-should-retry": "false"})
    assert is_retryable_status(400, {"x-should-retry": "true"})
    assert is_retryable_status(500, {"x-should-retry": "maybe"})


def test_backoff_is_capped_full_jitter() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0)
    assert policy.backoff(1, lambda: 1.0) == 0.5
    assert policy.backoff(3, lambda: 1.0) == 2.0
    assert policy.backoff(10, lambda: 1.0) == 4.0
    assert policy.backoff(10, lambda: 0.0) == 0.0


def test_retry_budget_share_of_recent_requests() -> None:
    now = [0.0]
    budget = RetryBudget(ratio=0.2, min_per_second=0.0, window=10.0, clock=lambda: now[0])
    for _ in range(10):
        budget.record_request()
    assert budget.try_spend()
    assert budget.try_spend()
    assert not budget.try_spend()
    assert budget.denied == 1
    now[0] = 11.0  # the window slid past everything
    assert not budget.try_spend()
    for _ in range(5):
        budget.record_request()
    assert budget.try_spend()
