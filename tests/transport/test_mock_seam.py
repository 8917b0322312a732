"""The public in-memory seam (issue 20 item 4): a client handed ``seam=MockSeam(handler)``
runs everything but the network: retries, redirects, typed errors, pagination guards."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

import openai_messages as om

from ..support import API_KEY

BASE = "https://api.example.test/v1"
MESSAGE = {"id": "msg_1", "object": "thread.message", "role": "user", "content": []}
NO_WAIT = om.RetryPolicy(max_retries=2, backoff_base=0.0, backoff_max=0.0)


def _client(seam: om.MockSeam) -> om.Client:
    return om.Client(api_key=API_KEY, base_url=BASE, seam=seam, retry_policy=NO_WAIT)


async def test_a_client_over_a_mock_seam_sends_nothing_over_http() -> None:
    seam = om.MockSeam(lambda request: om.MockReply.json(MESSAGE))
    async with _client(seam) as client:
        message = await client.retrieve("thread_1", "msg_1")
    assert message.id == "msg_1"
    [sent] = seam.sent
    assert (sent.method, sent.url) == ("GET", f"{BASE}/threads/thread_1/messages/msg_1")
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert seam.closed
    assert client.closed


async def test_an_async_handler_and_a_retry_after_a_failed_exchange() -> None:
    answers: list[om.MockReply | om.APIError] = [
        om.APIConnectionError("reset"),
        om.MockReply(500, b"{}"),
        om.MockReply.json(MESSAGE),
    ]

    async def handler(request: om.PreparedRequest) -> om.MockReply:
        answer = answers.pop(0)
        if isinstance(answer, om.APIError):
            raise answer
        return answer

    seam = om.MockSeam(handler)
    async with _client(seam) as client:
        response = await client.with_response.retrieve("thread_1", "msg_1")
    assert response.value.id == "msg_1"
    assert len(seam.sent) == 3
    assert response.attempts == 3


async def test_a_status_becomes_its_typed_error() -> None:
    seam = om.MockSeam(lambda r: om.MockReply.json({"error": {"message": "gone"}}, status=404))
    async with _client(seam) as client:
        with pytest.raises(om.NotFoundError) as found:
            await client.retrieve("thread_1", "msg_1")
    assert found.value.status_code == 404
    assert len(seam.sent) == 1


async def test_a_redirect_elsewhere_drops_the_credential() -> None:
    def handler(request: om.PreparedRequest) -> om.MockReply:
        if request.url.startswith(BASE):
            return om.MockReply(302, b"", {"Location": "https://other.test/m"})
        return om.MockReply.json(MESSAGE)

    seam = om.MockSeam(handler)
    async with _client(seam) as client:
        await client.retrieve("thread_1", "msg_1")
    first, second = seam.sent
    assert "Authorization" in first.headers
    assert second.url == "https://other.test/m"
    assert "Authorization" not in second.headers


async def test_the_pagination_guards_hold_over_a_mock_seam() -> None:
    page = {"object": "list", "data": [], "has_more": True}
    seam = om.MockSeam(lambda r: om.MockReply(200, orjson.dumps(page)))
    async with _client(seam) as client:
        with pytest.raises(om.PaginationError, match="empty page"):
            await client.list("thread_1").collect()


async def test_the_body_cap_counts_the_chunks() -> None:
    body = orjson.dumps({**MESSAGE, "pad": "x" * 5000})
    seam = om.MockSeam(lambda r: om.MockReply(200, [body[:10], body[10:]]), max_response_bytes=1000)
    async with _client(seam) as client:
        with pytest.raises(om.ResponseTooLargeError):
            await client.retrieve("thread_1", "msg_1")


async def test_seam_and_session_are_exclusive() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(om.InvalidArgumentError, match="seam"):
            om.Client(
                api_key=API_KEY,
                base_url=BASE,
                seam=om.MockSeam(lambda r: om.MockReply()),
                session=session,
            )
