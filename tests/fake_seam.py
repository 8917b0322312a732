"""The project's own use of the public in-memory seam (:class:`openai_messages.MockSeam`):
scripted answers, and a transport over it with instant retries, for unit tests of the
retry loop, redirects and the body cap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import openai_messages as om
from openai_messages._core import endpoint as ep
from openai_messages._core.retry import RetryBudget, RetryPolicy
from openai_messages._transport.retry_loop import Timeout, Transport
from openai_messages.auth import StaticToken

from .support import API_KEY

Answer = om.MockReply | om.APIError


def script(*answers: Answer) -> om.MockHandler:
    """A handler giving ``answers`` in turn (the last one again once they run out); an
    error among them is raised, as a failed exchange."""
    queue = list(answers)

    def handler(_: om.PreparedRequest) -> om.MockReply:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, om.APIError):
            raise answer
        return answer

    return handler


def fake_transport(
    seam: om.MockSeam,
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
