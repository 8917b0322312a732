"""An in-memory seam for tests: a function answers each request, no HTTP at all."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs
import orjson

from .._core.defaults import MAX_RESPONSE_BYTES
from .._core.exchange import BodyLimit, HttpReply, PreparedRequest
from .seam import Seam

__all__ = ["MockHandler", "MockReply", "MockSeam"]


@attrs.frozen
class MockReply:
    """What a :class:`MockSeam` handler answers: a status, headers, and the body (bytes,
    or a sequence of chunks). ``MockReply.json(data)`` sends ``data`` as JSON."""

    status: int = 200
    body: bytes | Sequence[bytes] = b"{}"
    headers: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def json(
        cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> MockReply:
        """A reply whose body is ``data`` as JSON (``Content-Type: application/json``)."""
        return cls(
            status, orjson.dumps(data), {"Content-Type": "application/json", **(headers or {})}
        )


MockHandler = Callable[[PreparedRequest], "MockReply | Awaitable[MockReply]"]
"""``handler(request)`` returns (or, when async, awaits to) a :class:`MockReply`; it may
raise an :class:`~openai_messages.APIConnectionError` to act a failed exchange."""


class MockSeam(Seam):
    """A seam that answers each request with ``handler(request)``, for your unit tests.

    Hand it to a client (``Client(api_key="k", base_url=..., seam=MockSeam(handler))``):
    everything but the network runs as it does over HTTP (retries, redirects, the body
    cap, error mapping, pagination guards). ``sent`` lists every request it was given.
    """

    def __init__(
        self, handler: MockHandler, *, max_response_bytes: int = MAX_RESPONSE_BYTES
    ) -> None:
        super().__init__(max_response_bytes)
        self.handler = handler
        self.sent: list[PreparedRequest] = []

    async def exchange(self, request: PreparedRequest) -> HttpReply:
        self.sent.append(request)
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        limit = BodyLimit(self.max_response_bytes, answer.status, answer.headers)
        chunks = [answer.body] if isinstance(answer.body, bytes) else list(answer.body)
        for chunk in chunks:
            limit.add(chunk)
        return HttpReply(answer.status, answer.headers, limit.body(), request.url)
