"""Calls over the seam: limiter, deadline, the one retry loop, the budget and decoding.

:meth:`Transport.call` sends one :class:`~openai_messages._core.operations.Request` (a call of
one :class:`~openai_messages._core.operations.Operation`) and returns its decoded result. Every
re-send of every call goes through one tenacity loop whose decisions are
:func:`openai_messages._core.retry.judge`'s; an ambiguous failure is settled as the operation
declares (re-send, reconcile a create, read a 404 after a delete as done). The call's
``timeout`` is one deadline covering limiter waits, retry waits, reconcile work and
every attempt. The credential comes from a :class:`~openai_messages.auth.TokenSource`,
asked before every attempt within that deadline (a fixed key is put in the base headers
once); a 401 to a token the source can renew is re-sent once with a fresh one, which is
neither a retry nor spent from the budget. HTTP itself is the seam's
(:mod:`openai_messages._transport.seam`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypedDict, TypeVar

import attrs
from multidict import CIMultiDict

from .. import errors
from .._core import checks as validation
from .._core import endpoint as ep
from .._core.exchange import HttpReply, PreparedRequest
from .._core.headers import parse_retry_after
from .._core.operations import Ambiguity, Operation, Request
from .._core.replies import decode_reply, error_from_reply, stored_but_unreadable
from .._core.retry import RetryBudget, RetryPolicy, Verdict, check_max_retries, is_ambiguous, judge
from .._core.scrubbing import Scrubber
from ..auth import StaticToken, TokenSource
from ..ratelimit import RateLimiter, Ticket
from .seam import Seam

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["CallOptions", "HttpReply", "Pages", "Response", "Settle", "Timeout", "Transport"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Pages(Protocol[T_co]):
    """A walk of pages that can be stopped: what a reconcile reads (``ResponsePager``)."""

    def __aiter__(self) -> AsyncIterator[T_co]: ...

    async def aclose(self) -> None: ...


logger = logging.getLogger("openai_messages")


@attrs.frozen
class Timeout:
    """Seconds allowed (None: no limit).

    ``total`` is the whole call: waiting for the rate limiter, every attempt, the waits
    between retries and a create's reconcile. ``connect`` bounds opening a connection,
    ``read`` the wait for the server's next bytes within one attempt.
    """

    total: float | None = 60.0
    connect: float | None = 10.0
    read: float | None = None

    @classmethod
    def of(cls, value: float | Timeout | None) -> Timeout:
        """A Timeout from a number of seconds (total), a Timeout, or None (no limit)."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(total=None, connect=None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise errors.InvalidArgumentError(f"timeout must be a positive number, got {value!r}")
        return cls(total=float(value), connect=min(float(value), 10.0))


class CallOptions(TypedDict, total=False):
    """The per-call options every call takes; absent means the client's default."""

    timeout: float | Timeout | None
    """Seconds for the whole call, retries, waits and reconcile included."""
    max_retries: int
    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, str]


CALL_OPTION_NAMES: Final = frozenset(CallOptions.__annotations__)


def unknown_options(
    given: Mapping[str, object], known: frozenset[str]
) -> errors.InvalidArgumentError:
    """The error for keyword arguments that are none of the ``known`` options (a typo)."""
    unknown = ", ".join(sorted(set(given) - known))
    return errors.InvalidArgumentError(
        f"unknown option {unknown}; the options are {', '.join(sorted(known))}"
    )


@attrs.frozen
class Response(Generic[T]):
    """A call's result with its raw reply: ``value``, status, headers, request id, attempts."""

    value: T
    status_code: int
    headers: Mapping[str, str]
    request_id: str | None
    attempts: int
    elapsed: float


Settle = Callable[[errors.APIError, "float | None"], Awaitable["T | None"]]
"""``settle(cause, deadline)``: what an ambiguous create stored (None: none; raises if unsure)."""


_NO_TICKET: Final = Ticket(None, 0, 0)  # no limiter: nothing to observe or release


class _SealedHeaders(CIMultiDict[str]):
    """The base headers, credential included: never shown in a repr."""

    def __repr__(self) -> str:
        return f"<{len(self)} headers, credential hidden>"


class _Call(Generic[T]):
    """One call's resolved plan and its state across attempts."""

    __slots__ = (
        "ambiguous",
        "attempts",
        "deadline",
        "headers",
        "max_retries",
        "op",
        "refreshed",
        "request",
        "settle",
        "started",
        "timeout",
        "unsettled",
        "url",
        "verdict",
    )

    def __init__(
        self,
        op: Operation[T],
        request: Request[T],
        url: str,
        headers: Mapping[str, str],
        timeout: Timeout,
        max_retries: int,
        settle: Settle[T] | None,
    ) -> None:
        self.op = op
        self.request = request
        self.url = url
        self.headers = headers
        self.timeout = timeout
        self.started = time.monotonic()
        self.deadline = None if timeout.total is None else self.started + timeout.total
        self.max_retries = max_retries
        self.settle = settle
        self.attempts = 0
        self.ambiguous = False
        """Whether an attempt failed in a way that may have applied the request."""
        self.unsettled: errors.APIError | None = None
        """An ambiguous failure of a create, to reconcile before the next attempt."""
        self.verdict = Verdict(False)
        self.refreshed = False
        """Whether a refused token was already renewed and the request re-sent."""

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def prepared(self, headers: Mapping[str, str] | None = None) -> PreparedRequest:
        total, connect = self.timeout.total, self.timeout.connect
        remaining = self.remaining()
        if remaining is not None:
            if remaining <= 0:
                raise errors.APITimeoutError(
                    f"the call's timeout of {self.timeout.total:g} s ran out",
                    maybe_delivered=False,
                )
            total = remaining
            connect = remaining if connect is None else min(connect, remaining)
        return PreparedRequest(
            self.request.method,
            self.url,
            self.headers if headers is None else headers,
            self.request.body,
            total,
            connect,
            self.timeout.read,
        )

    def response(self, value: T, reply: HttpReply) -> Response[T]:
        return Response(
            value=value,
            status_code=reply.status,
            headers=reply.headers,
            request_id=reply.request_id,
            attempts=self.attempts,
            elapsed=time.monotonic() - self.started,
        )


class Transport:
    """Sends the calls of one client over one seam.

    ``rng`` (the backoff jitter) and ``sleep`` (the wait between attempts) are injected
    for tests; the defaults are ``random.random`` and ``asyncio.sleep``.
    """

    def __init__(
        self,
        endpoint: ep.Endpoint,
        credential: TokenSource,
        *,
        seam: Seam,
        timeout: Timeout,
        policy: RetryPolicy,
        budget: RetryBudget | None,
        limiter: RateLimiter | None,
        trust_idempotency_key: bool = False,
        rng: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.endpoint = endpoint
        self.source: TokenSource = credential
        """Where the credential of each attempt comes from."""
        self._fixed = credential if isinstance(credential, StaticToken) else None
        fixed = None if self._fixed is None else self._fixed.reveal()
        self.seam = seam
        self.scrubber = Scrubber(fixed or "")
        """Blanks out the credential of the latest attempt."""
        self.timeout = timeout
        self.policy = policy
        self.budget = budget
        self.limiter = limiter
        self.trust_idempotency_key = trust_idempotency_key
        self._rng = rng
        self._sleep = sleep
        self._base_headers = _SealedHeaders(ep.endpoint_headers(endpoint))
        self._conversation_headers = _SealedHeaders(ep.endpoint_headers(endpoint, "conversations"))
        if fixed is not None:
            name, value = ep.auth_header(endpoint, fixed)
            self._base_headers[name] = value
            self._conversation_headers[name] = value
        self._retired = endpoint.retired
        self.retries = 0
        self.throttled = 0

    @property
    def requests_sent(self) -> int:
        return self.seam.requests_sent

    def scrub(self, text: str) -> str:
        """``text`` with the secret blanked out, for messages and logs."""
        return self.scrubber.text(text)

    def __repr__(self) -> str:
        return f"<Transport {self.endpoint.base_url!r} credential from {self.source!r}>"

    # -- the credential --------------------------------------------------------------------

    async def _token(self, call: _Call[Any]) -> str:
        """The source's token for this attempt, waited for no later than the deadline."""
        remaining = call.remaining()
        if remaining is None:
            return await self.source.get()
        if remaining <= 0:
            raise self._out_of_time(call)
        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout(remaining):
                    return await self.source.get()
            return await asyncio.wait_for(self.source.get(), remaining)
        except asyncio.TimeoutError:
            pass
        raise self._out_of_time(call)

    @staticmethod
    def _out_of_time(call: _Call[Any]) -> errors.APITimeoutError:
        return errors.APITimeoutError(
            f"the call's timeout of {call.timeout.total:g} s ran out while getting the credential",
            maybe_delivered=False,
        )

    def _scrubber_for(self, token: str) -> Scrubber:
        """The scrubber of ``token`` (made once per token, kept as the latest)."""
        scrubber = self.scrubber
        if not scrubber.covers(token):
            scrubber = self.scrubber = Scrubber(token)
        return scrubber

    def _with_token(self, call: _Call[Any], token: str) -> Mapping[str, str]:
        """The call's headers with ``token`` in the auth header."""
        headers = _SealedHeaders(call.headers)
        name, value = ep.auth_header(self.endpoint, token)
        headers[name] = value
        return headers

    # -- planning --------------------------------------------------------------------------

    def _plan(
        self, request: Request[T], options: CallOptions, settle: Settle[T] | None
    ) -> _Call[T]:
        """Resolve the call's options once (all checked before anything is sent)."""
        if options and not CALL_OPTION_NAMES.issuperset(options):
            raise unknown_options(options, CALL_OPTION_NAMES)
        timeout = options.get("timeout", self.timeout)
        max_retries = options.get("max_retries")
        extra_headers = options.get("extra_headers")
        extra_query = options.get("extra_query")
        url = ep.prepare(
            self.endpoint,
            request,
            extra_query=dict(validation.check_query("extra_query", extra_query)) or None,
        )
        headers = (
            self._base_headers if request.op.family == "assistants" else self._conversation_headers
        )
        if request.headers or extra_headers:
            headers = headers.copy()
            headers.update(request.headers)
            if extra_headers:
                headers.update(validation.check_headers("extra_headers", extra_headers))
        return _Call(
            request.op,
            request,
            url,
            headers,
            timeout if type(timeout) is Timeout else Timeout.of(timeout),
            self.policy.max_retries if max_retries is None else check_max_retries(max_retries),
            settle,
        )

    # -- the limiter (its one use) ---------------------------------------------------------

    async def _acquire(self, deadline: float | None) -> Ticket:
        """A limiter ticket for one attempt, waited for no later than ``deadline``.

        The limiter raises :class:`~openai_messages.errors.APITimeoutError` (nothing
        sent) when no slot can be had before the deadline.
        """
        limiter = self.limiter
        if limiter is None:
            return _NO_TICKET
        return await limiter.acquire(deadline)

    def _observe(self, ticket: Ticket, reply: HttpReply) -> None:
        """Feed the reply to the limiter; a 429's Retry-After pauses every caller.

        A wait longer than ``retry_after_cap`` pauses nobody: that call is not retried
        either, and holding every other call for hours would freeze the client.
        """
        ticket.observe(reply.status, reply.headers)
        if reply.status == 429 and self.limiter is not None:
            wait = parse_retry_after(reply.headers)
            if wait is not None and wait <= self.policy.retry_after_cap:
                self.limiter.pause(wait)

    # -- one attempt -----------------------------------------------------------------------

    async def _send(self, call: _Call[T], token: str | None) -> HttpReply:
        """Slot and exchange, with ``token`` (None: the fixed key already in the headers)."""
        prepared = call.prepared(None if token is None else self._with_token(call, token))
        ticket = await self._acquire(call.deadline)
        try:
            reply = await self.seam.send(prepared)
            self._observe(ticket, reply)
        except errors.ResponseTooLargeError as exc:
            raise self._failed(call, self._too_large(call, exc)) from None
        except errors.APIConnectionError as exc:
            raise self._failed(call, exc) from None
        finally:
            ticket.release()
        return reply

    async def _once(self, call: _Call[T]) -> Response[T]:
        """One attempt; a create stored but unreadable is looked up by its key (``settle``).

        Its 2xx reply could not be read (empty, not JSON, over ``max_response_bytes``),
        but the message is stored: ``settle`` finds it by the key in its metadata, within
        the call's deadline, and :class:`StoredButUnreadableError` is raised only when it
        cannot be found.
        """
        try:
            return await self._attempt(call)
        except errors.StoredButUnreadableError as exc:
            if call.settle is None:
                raise
            stored = exc
        found = await call.settle(stored, call.deadline)
        if found is None:
            raise stored
        elapsed = time.monotonic() - call.started
        return Response(
            found, stored.status_code or 200, {}, stored.request_id, call.attempts, elapsed
        )

    async def _attempt(self, call: _Call[T]) -> Response[T]:
        """One attempt: token, slot, exchange, result; failures typed and noted on ``call``.

        A 401 makes the source drop the refused token; when it can give another, the
        request is re-sent once with it, within this attempt (not a retry).
        """
        call.attempts += 1
        if self._fixed is not None:
            reply = await self._send(call, None)
            scrubber = self.scrubber
        else:
            token = await self._token(call)
            reply = await self._send(call, token)
            if reply.status == 401 and self.source.invalidate(token) and not call.refreshed:
                call.refreshed = True
                logger.info(
                    "the server refused the credential of %s %s; re-sending once with a new one",
                    call.request.method,
                    self.scrub(call.request.path),
                )
                token = await self._token(call)
                reply = await self._send(call, token)
            scrubber = self._scrubber_for(token)  # this attempt's own token
        if 200 <= reply.status < 300:
            try:
                return call.response(decode_reply(reply, call.op.response, scrubber), reply)
            except errors.APIResponseValidationError as exc:
                failure: errors.APIError = exc
            if call.op.creates:
                failure = stored_but_unreadable(
                    reply.status,
                    reply.request_id,
                    reply.body,
                    "not the expected shape",
                    _what(call.op),
                )
            raise self._failed(call, failure) from None
        status_error = self._status_error(reply, scrubber, call.op.family == "assistants")
        if reply.status in (404, 405) and call.op.unserved is not None:
            status_error = call.op.unserved(status_error)
        if reply.status == 404 and call.op.gone is not None and call.ambiguous:
            # an earlier attempt failed in flight, then the target was gone: it was done
            return call.response(call.op.gone(call.request.target), reply)
        raise self._failed(call, status_error) from None

    def _too_large(self, call: _Call[T], exc: errors.ResponseTooLargeError) -> errors.APIError:
        status = exc.status_code
        if call.op.creates and status is not None and 200 <= status < 300:
            return stored_but_unreadable(
                status, exc.request_id, exc.head, "over max_response_bytes", _what(call.op)
            )
        return exc

    def _status_error(
        self, reply: HttpReply, scrubber: Scrubber, assistants: bool = True
    ) -> errors.APIStatusError:
        if reply.status == 429:
            self.throttled += 1
        return error_from_reply(
            reply.status, reply.headers, reply.body, scrubber, retired=self._retired and assistants
        )

    def _failed(self, call: _Call[T], failure: errors.APIError) -> errors.APIError:
        """Note an attempt's failure on ``call``; the error to raise for it."""
        if not is_ambiguous(failure):
            return failure
        call.ambiguous = True
        op = call.op
        if not op.creates:
            return failure
        if self.trust_idempotency_key and "Idempotency-Key" in call.request.headers:
            return failure  # the server is trusted to store it once
        if op.ambiguity is Ambiguity.REPORT or call.settle is None:
            return self._unknown(call, failure)
        call.unsettled = failure
        return failure

    def _unknown(self, call: _Call[T], cause: errors.APIError) -> errors.CreateOutcomeUnknownError:
        parent_id = call.request.target or None
        threads = call.op.family == "assistants"
        where = f"in {'thread' if threads else 'conversation'} {parent_id!r} " if parent_id else ""
        key = call.request.headers.get("Idempotency-Key", "")
        return errors.CreateOutcomeUnknownError(
            f"the {call.op.name} {where}failed in a way that may have stored the "
            f"{_what(call.op)} ({cause}); check before creating it again"
            + _how_to_check(threads, parent_id),
            thread_id=parent_id if threads else None,
            idempotency_key=key,
            request_id=cause.request_id,
            conversation_id=None if threads else parent_id,
        )

    # -- the retry loop --------------------------------------------------------------------

    async def call(
        self, request: Request[T], options: CallOptions, settle: Settle[T] | None = None
    ) -> Response[T]:
        """The result of ``request``, retried as :func:`~openai_messages._core.retry.judge` says.

        The first attempt runs before tenacity is set up (most calls need no retry, and
        setting tenacity up costs more than a small request); its failure is handed to
        the loop as attempt 1, so every retry decision, wait and log line is the loop's.
        """
        call = self._plan(request, options, settle)
        if self.budget is not None:
            self.budget.record_request()
        try:
            return await self._once(call)
        except errors.APIError as exc:
            first: errors.APIError = exc
        return await self._retry(call, first)

    async def _retry(self, call: _Call[T], first: errors.APIError) -> Response[T]:
        pending: errors.APIError | None = first

        async def attempt() -> Response[T]:
            nonlocal pending
            if pending is not None:
                failure, pending = pending, None
                raise failure
            cause = call.unsettled
            if cause is not None and call.settle is not None:
                call.unsettled = None
                found = await call.settle(cause, call.deadline)
                if found is not None:
                    elapsed = time.monotonic() - call.started
                    return Response(found, 200, {}, cause.request_id, call.attempts, elapsed)
            return await self._once(call)

        from tenacity import AsyncRetrying  # on the first retry only: most calls need none

        retrying = AsyncRetrying(
            retry=lambda state: self._decide(call, state),
            wait=lambda state: call.verdict.wait,
            before_sleep=lambda state: self._before_sleep(call, state),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return await retrying(attempt)
        except errors.APIError as exc:
            final = exc
        if call.op.creates and is_ambiguous(final):  # no retry left to settle it
            raise self._unknown(call, final) from None
        raise final

    def _decide(self, call: _Call[T], state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return False
        verdict = judge(
            outcome.exception() or Exception(),
            policy=self.policy,
            retry_number=state.attempt_number,
            max_retries=call.max_retries,
            remaining=call.remaining(),
            rng=self._rng,
        )
        if verdict.retry and self.budget is not None and not self.budget.try_spend():
            logger.warning(
                "not retrying %s %s: the client's retry budget is spent",
                call.request.method,
                self.scrub(call.request.path),
            )
            verdict = Verdict(False, reason="the retry budget is spent")
        call.verdict = verdict
        return verdict.retry

    def _before_sleep(self, call: _Call[T], state: RetryCallState) -> None:
        self.retries += 1
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        request_id = exc.request_id if isinstance(exc, errors.APIError) else None
        logger.info(
            "retrying %s %s after %s in %.2f s (retry %d, request id %s)",
            call.request.method,
            self.scrub(call.request.path),
            call.verdict.reason,
            call.verdict.wait,
            state.attempt_number,
            request_id or "-",
        )


def _how_to_check(threads: bool, parent_id: str | None) -> str:
    """The call that settles an unknown create later, for the error's message."""
    if parent_id is None:
        return ""
    if threads:
        return " (client.find_created(thread_id, idempotency_key))"
    return " (client.conversations.items.find_stored(conversation_id, items, follows=...))"


def _what(op: Operation[Any]) -> str:
    """What ``op`` creates, in a word ("message", "thread")."""
    return op.response.__name__.lower()
