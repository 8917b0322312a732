"""Retry rules: what is retried, how long to wait, and the per-client retry budget.

The rules are pure; :mod:`openai_messages.transport` applies them with tenacity.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final

import attrs

from .ratelimit import parse_retry_after

__all__ = ["RetryBudget", "RetryPolicy", "is_retryable_status", "should_retry_header"]

RETRYABLE_STATUSES: Final = frozenset({408, 409, 429})


def should_retry_header(headers: Mapping[str, str]) -> bool | None:
    """The server's ``x-should-retry`` verdict: True, False, or None when it gave none."""
    value = headers.get("x-should-retry")
    if value is None:
        return None
    value = value.strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def is_retryable_status(status: int, headers: Mapping[str, str]) -> bool:
    """408, 409, 429 and 5xx are retried, unless ``x-should-retry`` says otherwise."""
    verdict = should_retry_header(headers)
    if verdict is not None:
        return verdict
    return status in RETRYABLE_STATUSES or status >= 500


@attrs.frozen
class RetryPolicy:
    """How often and how long to retry.

    ``max_retries`` is the number of re-sends after the first attempt (0 disables).
    A server-sent ``retry-after-ms`` or ``Retry-After`` is honoured when it is at most
    ``retry_after_cap`` seconds; a longer one is not retried. Otherwise the wait is
    exponential backoff with full jitter: uniform in ``[0, min(backoff_max, base * 2**n)]``.
    """

    max_retries: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    retry_after_cap: float = 60.0

    def backoff(self, retry_number: int, rng: Callable[[], float] = random.random) -> float:
        """Full-jitter exponential backoff before re-send number ``retry_number`` (from 1)."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (retry_number - 1))
        return rng() * ceiling

    def server_wait(self, headers: Mapping[str, str]) -> float | None:
        """The wait the server asked for, if any (uncapped)."""
        return parse_retry_after(headers)


@attrs.define
class RetryBudget:
    """Retries allowed as a share of recent requests, so a failing server is not hammered.

    Over a sliding ``window`` of seconds, retries may be at most ``ratio`` times the
    first attempts plus ``min_per_second * window`` (a reserve for quiet clients).
    One budget is shared by every call of a client.
    """

    ratio: float = 0.2
    min_per_second: float = 5.0
    window: float = 10.0
    clock: Callable[[], float] = time.monotonic
    _requests: deque[float] = attrs.field(factory=deque, init=False, repr=False)
    _retries: deque[float] = attrs.field(factory=deque, init=False, repr=False)
    denied: int = attrs.field(default=0, init=False)

    def _trim(self, now: float) -> None:
        horizon = now - self.window
        for stamps in (self._requests, self._retries):
            while stamps and stamps[0] < horizon:
                stamps.popleft()

    def record_request(self) -> None:
        """Count a first attempt."""
        now = self.clock()
        self._requests.append(now)
        if len(self._requests) > 4096:
            self._trim(now)

    def try_spend(self) -> bool:
        """Take one retry from the budget; False (and counted as denied) when it is spent."""
        now = self.clock()
        self._trim(now)
        allowed = self.ratio * len(self._requests) + self.min_per_second * self.window
        if len(self._retries) + 1 > allowed:
            self.denied += 1
            return False
        self._retries.append(now)
        return True
