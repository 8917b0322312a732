"""Retry rules: what is retried, how long to wait, and the per-client retry budget.

The rules are pure (:func:`judge` decides about one failure); the one tenacity loop of
:mod:`openai_messages._transport.retry_loop` applies them.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final

import attrs

from .. import errors
from .headers import parse_retry_after, parse_should_retry

__all__ = [
    "RetryBudget",
    "RetryPolicy",
    "Verdict",
    "is_ambiguous",
    "is_retryable_status",
    "judge",
    "should_retry_header",
]

RETRYABLE_STATUSES: Final = frozenset({408, 409, 429})


should_retry_header = parse_should_retry


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

    max_retries: int = attrs.field(default=2)
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    retry_after_cap: float = 60.0

    def __attrs_post_init__(self) -> None:
        check_max_retries(self.max_retries)

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


def check_max_retries(value: object) -> int:
    """``max_retries``: an int of 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.InvalidArgumentError(f"max_retries must be an int >= 0, got {value!r}")
    return value


def is_ambiguous(failure: BaseException) -> bool:
    """Whether the request may have been applied despite ``failure`` (5xx, dropped, timed out)."""
    if isinstance(failure, errors.APIStatusError):
        return failure.status_code >= 500
    if isinstance(failure, errors.APIConnectionError):
        return failure.maybe_delivered and not isinstance(failure, errors.RedirectError)
    if isinstance(failure, errors.StoredButUnreadableError):
        return False  # certainly applied
    return isinstance(failure, errors.APIResponseValidationError)


@attrs.frozen
class Verdict:
    """What to do after a failed attempt: re-send after ``wait`` seconds, or stop."""

    retry: bool
    wait: float = 0.0
    reason: str = ""
    """Why, in a few words (the retry's log line, or why not)."""


def _reason(failure: BaseException) -> str:
    if isinstance(failure, errors.APIStatusError):
        return f"HTTP {failure.status_code}"
    return type(failure).__name__


def judge(
    failure: BaseException,
    *,
    policy: RetryPolicy,
    retry_number: int,
    max_retries: int,
    remaining: float | None,
    rng: Callable[[], float] = random.random,
) -> Verdict:
    """Whether to make re-send number ``retry_number`` (from 1) after ``failure``, and when.

    Retried: connection failures and timeouts, unreadable 2xx bodies, and the statuses
    of :func:`is_retryable_status`, waiting what the server asked (``retry-after-ms``,
    ``Retry-After``) or else the policy's backoff. Not retried: other errors, replies
    over the body cap, a server wait beyond ``policy.retry_after_cap``, and a wait
    longer than the ``remaining`` seconds of the call's timeout.
    """
    reason = _reason(failure)
    if retry_number > max_retries:
        return Verdict(False, reason=f"{reason}; no retries left")
    server_wait: float | None = None
    if isinstance(failure, errors.APIStatusError):
        if not is_retryable_status(failure.status_code, failure.headers):
            return Verdict(False, reason=f"{reason} is not retried")
        server_wait = policy.server_wait(failure.headers)
        if server_wait is not None and server_wait > policy.retry_after_cap:
            return Verdict(False, reason=f"{reason}: the server asks to wait {server_wait:g} s")
    elif isinstance(
        failure,
        (errors.ResponseTooLargeError, errors.StoredButUnreadableError, errors.RedirectError),
    ) or not isinstance(failure, (errors.APIConnectionError, errors.APIResponseValidationError)):
        return Verdict(False, reason=f"{reason} is not retried")
    wait = server_wait if server_wait is not None else policy.backoff(retry_number, rng)
    if remaining is not None and wait >= remaining:
        return Verdict(False, reason=f"{reason}; the call's timeout leaves no time to retry")
    return Verdict(True, wait, reason)
