"""An in-memory seam: scripted replies instead of HTTP, for unit tests of the transport.

It is a real :class:`~openai_messages._transport.seam.Seam`: redirects and the body cap run as they
do over aiohttp; only the exchange itself is scripted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

import attrs

import openai_messages as om
from openai_messages._core import endpoint as ep
from openai_messages._core.exchange import BodyLimit, HttpReply, PreparedRequest
from openai_messages._core.retry import RetryBudget, RetryPolicy
from openai_messages._transport.retry_loop import Timeout, Transport
from openai_messages._transport.seam import Seam
from openai_messages.auth import StaticToken

from .support import API_KEY


@attrs.frozen
class Scripted:
    """One scripted answer: a status, headers, and the body in chunks."""

    status: int = 200
    body: bytes | Sequence[bytes] = b"{}"
    headers: Mapping[str, str] = attrs.field(factory=dict)


Answer = Scripted | om.APIError
Handler = Callable[[PreparedRequest], Answer]


class FakeSeam(Seam):
    """Answers each exchange with ``handler(request)`` (raised when it is an error)."""

    def __init__(self, handler: Handler, max_response_bytes: int = 1 << 20) -> None:
        super().__init__(max_response_bytes)
        self.handler = handler
        self.sent: list[PreparedRequest] = []

    async def exchange(self, request: PreparedRequest) -> HttpReply:
        self.sent.append(request)
        answer = self.handler(request)
        if isinstance(answer, om.APIError):
            raise answer
        limit = BodyLimit(self.max_response_bytes, answer.status, answer.headers)
        chunks = [answer.body] if isinstance(answer.body, bytes) else list(answer.body)
        for chunk in chunks:
            limit.add(chunk)
        return HttpReply(answer.status, answer.headers, limit.body(), request.url)


def script(*answers: Answer) -> Handler:
    """A handler giving ``answers`` in turn (the last one again once they run out)."""
    queue = list(answers)

    def handler(_: PreparedRequest) -> Answer:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


def fake_transport(
    seam: FakeSeam,
    *,
    max_retries: int = 2,
    budget: RetryBudget | None = None,
    trust_idempotency_key: bool = False,
    base_url: str = "https://api.example.test/v1",
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> Transport:
    """A transport over ``seam`` with instant retries and no rate limiter; ``sleep``
    (default: none at all) is awaited with each wait between attempts."""
    return Transport(
        ep.Endpoint(base_url=base_url),
        StaticToken(API_KEY),
        seam=seam,
        timeout=Timeout(total=30.0),
        policy=RetryPolicy(max_retries=max_retries, backoff_base=0.0, backoff_max=0.0),
        budget=budget,
        limiter=None,
        trust_idempotency_key=trust_idempotency_key,
        rng=lambda: 0.0,
        sleep=sleep or _no_wait,
    )


async def _no_wait(seconds: float) -> None:
    pass
