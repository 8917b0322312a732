"""The aiohttp transport: one session, auth, redirects, body caps, retries, rate limits.

:class:`Transport` sends :class:`~openai_messages.protocol.Request` objects and hands
the reply to a decoder inside the retry loop, so an unreadable body (a truncated
page) is retried like any other transient failure of a safe request.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Final, Generic, TypeVar

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt
from yarl import URL

from . import errors, protocol
from .ratelimit import RateLimiter
from .retry import RetryBudget, RetryPolicy, is_retryable_status

__all__ = ["CallOptions", "Reply", "Timeout", "Transport", "Response"]

T = TypeVar("T")
logger = logging.getLogger("openai_messages")

MAX_REDIRECTS: Final = 5
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
DEFAULT_MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024


@attrs.frozen
class Timeout:
    """Seconds allowed to connect and for the whole request (None: no limit)."""

    total: float | None = 60.0
    connect: float | None = 10.0

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self.total, connect=self.connect)

    @classmethod
    def of(cls, value: float | Timeout | None) -> Timeout:
        """A Timeout from a number of seconds (total), a Timeout, or None (no limit)."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(total=None, connect=None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise errors.InvalidArgumentError(f"timeout must be a positive number, got {value!r}")
        return cls(total=float(value), connect=min(float(value), 10.0))


@attrs.frozen
class Reply:
    """What the server answered: status, headers and the whole body."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: str

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


@attrs.frozen
class Response(Generic[T]):
    """A call's result with its raw reply: ``value``, status, headers, request id, attempts."""

    value: T
    status_code: int
    headers: Mapping[str, str]
    request_id: str | None
    attempts: int
    elapsed: float


@attrs.frozen
class CallOptions:
    """Per-call overrides; None means the client's default."""

    timeout: float | Timeout | None = None
    max_retries: int | None = None
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, str] | None = None


class AmbiguousOutcome(Exception):
    """Internal: a non-idempotent request failed after it may have been applied."""

    def __init__(self, cause: errors.APIError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Unsafe(Exception):
    """Internal marker wrapping an error that a retry must not repeat blindly."""


class Transport:
    """Sends requests for one client over one aiohttp session."""

    def __init__(
        self,
        endpoint: protocol.Endpoint,
        secret: protocol.Secret,
        *,
        session: aiohttp.ClientSession | None,
        timeout: Timeout,
        policy: RetryPolicy,
        budget: RetryBudget | None,
        limiter: RateLimiter | None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        connection_limit: int = 100,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.endpoint = endpoint
        self._secret = secret
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self.timeout = timeout
        self.policy = policy
        self.budget = budget
        self.limiter = limiter
        self.max_response_bytes = max_response_bytes
        self._connection_limit = connection_limit
        self._rng = rng
        self._base_headers = protocol.endpoint_headers(endpoint)
        self.requests_sent = 0
        self.retries = 0
        self.throttled = 0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def session(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running loop."""
        if self._closed:
            raise errors.ClientClosedError("this client is closed; create a new one")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connection_limit, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout.to_aiohttp()
            )
            # aiohttp silently re-sends an idempotent request once when a kept-alive
            # connection breaks. Retries are this client's job: it counts them, spends the
            # retry budget on them, and must see a failed DELETE to report it right.
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False
        return self._session

    async def close(self) -> None:
        """Close the owned session (a caller's own session is left open)."""
        if self._closed:
            return
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()

    @property
    def owns_open_session(self) -> bool:
        return self._owns_session and self._session is not None and not self._closed

    def scrub_bytes(self, body: bytes) -> bytes:
        """``body`` with the secret blanked out."""
        secret = self._secret.reveal().encode()
        return body.replace(secret, b"***") if secret and secret in body else body

    def scrub(self, text: str) -> str:
        """``text`` with the secret blanked out, for messages and logs."""
        secret = self._secret.reveal()
        return text.replace(secret, "***") if secret else text

    # -- one attempt -----------------------------------------------------------------------

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        cap = self.max_response_bytes
        declared = resp.content_length
        if declared is not None and declared > cap:
            raise errors.ResponseTooLargeError(
                f"the reply declares {declared} bytes, more than the cap of {cap}",
                status_code=resp.status,
                request_id=resp.headers.get("x-request-id"),
            )
        if declared is not None:
            return await resp.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > cap:
                raise errors.ResponseTooLargeError(
                    f"the reply is larger than the cap of {cap} bytes",
                    status_code=resp.status,
                    request_id=resp.headers.get("x-request-id"),
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def _attempt(
        self, request: protocol.Request, url: str, headers: CIMultiDict[str], timeout: Timeout
    ) -> Reply:
        session = self.session()
        method, body = request.method, request.body
        for _ in range(MAX_REDIRECTS + 1):
            self.requests_sent += 1
            async with session.request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=timeout.to_aiohttp(),
            ) as resp:
                location = resp.headers.get("Location")
                if resp.status not in _REDIRECT_STATUSES or location is None:
                    return Reply(resp.status, resp.headers, await self._read_body(resp), url)
                target = str(resp.url.join(URL(location)))
            if not protocol.same_origin(url, target):
                headers = CIMultiDict(
                    (k, v) for k, v in headers.items() if k.lower() not in protocol.AUTH_HEADERS
                )
                logger.info("redirected to another origin; credentials are not forwarded")
            if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                method, body = "GET", None
            url = target
        raise errors.APIConnectionError(f"more than {MAX_REDIRECTS} redirects")

    async def _attempt_mapped(
        self, request: protocol.Request, url: str, headers: CIMultiDict[str], timeout: Timeout
    ) -> Reply:
        """One attempt, with aiohttp and asyncio failures turned into typed errors.

        Errors after which the request may have reached the server are raised wrapped
        in :class:`_Unsafe` for requests that are not idempotent.
        """
        unsafe = not request.idempotent
        try:
            return await self._attempt(request, url, headers, timeout)
        except aiohttp.ConnectionTimeoutError as exc:
            raise errors.APITimeoutError(self._describe("timed out connecting", exc)) from None
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            err: errors.APIError = errors.APITimeoutError(self._describe("timed out", exc))
        except aiohttp.ClientConnectorError as exc:
            raise errors.APIConnectionError(self._describe("could not connect", exc)) from None
        except (aiohttp.ClientError, OSError) as exc:
            err = errors.APIConnectionError(self._describe("the connection failed", exc))
        if unsafe:
            raise _Unsafe(err)
        raise err

    def _describe(self, what: str, exc: BaseException) -> str:
        detail = str(exc) or type(exc).__name__
        return self.scrub(f"{what}: {type(exc).__name__}: {detail}")

    # -- the retry loop --------------------------------------------------------------------

    async def send(
        self,
        request: protocol.Request,
        decode: Callable[[Reply], T],
        options: CallOptions | None = None,
        recover: Callable[[errors.APIStatusError, bool], T | None] | None = None,
    ) -> Response[T]:
        """Send ``request`` with retries; return ``decode(reply)`` of the first good reply.

        For a request that is not idempotent, a failure after which the server may have
        applied it is raised as :class:`AmbiguousOutcome` instead of being retried.
        ``recover(error, after_ambiguous)`` may turn a status error into a result; its
        second argument tells whether an earlier attempt failed in a way that may have
        applied the request (5xx, timeout, broken connection).
        """
        options = options or CallOptions()
        timeout = self.timeout if options.timeout is None else Timeout.of(options.timeout)
        max_retries = (
            self.policy.max_retries if options.max_retries is None else options.max_retries
        )
        if max_retries < 0:
            raise errors.InvalidArgumentError("max_retries must be 0 or more")
        url = protocol.prepare(self.endpoint, request, extra_query=options.extra_query)
        headers: CIMultiDict[str] = CIMultiDict(self._base_headers)
        headers.update(request.headers)
        if options.extra_headers:
            headers.update(options.extra_headers)
        name, credential = protocol.auth_header(self.endpoint, self._secret)
        headers[name] = credential
        started = time.monotonic()
        deadline = None if timeout.total is None else started + timeout.total
        attempts = 0
        after_ambiguous = False
        if self.budget is not None:
            self.budget.record_request()

        async def once() -> tuple[T, Reply]:
            nonlocal attempts
            attempts += 1
            ticket = None if self.limiter is None else await self.limiter.acquire(deadline)
            try:
                reply = await self._attempt_mapped(request, url, headers, timeout)
                if ticket is not None:
                    ticket.observe(reply.status, reply.headers)
            finally:
                if ticket is not None:
                    ticket.release()
            if not 200 <= reply.status < 300:
                error = self._status_error(request, reply)
                if recover is not None and isinstance(error, errors.APIStatusError):
                    value = recover(error, after_ambiguous)
                    if value is not None:
                        return value, reply
                raise error
            try:
                return decode(reply), reply
            except errors.APIResponseValidationError as exc:
                problem = exc.detail
            # The body excerpt may echo the key: the error is rebuilt from a scrubbed body,
            # outside the handler so that the original is not kept as its __context__.
            clean = errors.APIResponseValidationError(
                self.scrub(problem),
                body=self.scrub_bytes(reply.body),
                status_code=reply.status,
                request_id=reply.request_id,
            )
            if not request.idempotent:
                raise _Unsafe(clean)
            raise clean

        async def attempt() -> tuple[T, Reply]:
            nonlocal after_ambiguous
            try:
                return await once()
            except errors.APIStatusError as exc:
                after_ambiguous = after_ambiguous or exc.status_code >= 500
                raise
            except (errors.APIConnectionError, errors.APIResponseValidationError):
                after_ambiguous = True
                raise

        # The first attempt runs on its own: most calls succeed at once, and setting up
        # tenacity costs more than a small request. A failure is handed to tenacity as
        # the outcome of its attempt 1 (``replay`` raises it again), so retry decisions,
        # waits and logging are tenacity's, from the first failure on.
        first_failure: Exception | None = None
        value: T
        reply: Reply
        try:
            value, reply = await attempt()
        except Exception as exc:  # judged by tenacity below, re-raised if final
            first_failure = exc
        if first_failure is not None:

            async def replay() -> tuple[T, Reply]:
                nonlocal first_failure
                if first_failure is not None:
                    failure, first_failure = first_failure, None
                    raise failure
                return await attempt()

            retrying = AsyncRetrying(
                stop=stop_after_attempt(max_retries + 1),
                wait=self._wait,
                retry=lambda state: self._retry_decision(request, state, max_retries),
                before_sleep=lambda state: self._before_sleep(request, state),
                reraise=True,
            )
            try:
                value, reply = await retrying(replay)
            except _Unsafe as unsafe:
                cause = unsafe.args[0]
                raise AmbiguousOutcome(cause) from None
        return Response(
            value=value,
            status_code=reply.status,
            headers=reply.headers,
            request_id=reply.request_id,
            attempts=attempts,
            elapsed=time.monotonic() - started,
        )

    def _status_error(self, request: protocol.Request, reply: Reply) -> Exception:
        wait = self.policy.server_wait(reply.headers)
        if reply.status == 429:
            self.throttled += 1
            if (
                wait is not None
                and wait <= self.policy.retry_after_cap
                and self.limiter is not None
            ):
                self.limiter.pause(wait)  # a longer wait is not honoured: not retried either
        headers = CIMultiDict((k, self.scrub(v)) for k, v in reply.headers.items())
        body = self.scrub_bytes(reply.body)
        err = protocol.error_from_reply(reply.status, headers, body, retry_after=wait)
        if not request.idempotent and reply.status >= 500:
            return _Unsafe(err)
        return err

    def _retry_decision(
        self, request: protocol.Request, state: RetryCallState, max_retries: int
    ) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed or state.attempt_number > max_retries:
            return False
        return self._should_retry(request, outcome.exception())

    def _should_retry(self, request: protocol.Request, exc: BaseException | None) -> bool:
        if isinstance(exc, _Unsafe):
            return False
        if isinstance(exc, errors.APIStatusError):
            if not is_retryable_status(exc.status_code, exc.headers):
                return False
            wait = self.policy.server_wait(exc.headers)
            if wait is not None and wait > self.policy.retry_after_cap:
                return False
        elif isinstance(exc, errors.ResponseTooLargeError) or not isinstance(
            exc, (errors.APIConnectionError, errors.APIResponseValidationError)
        ):
            return False
        if self.budget is not None and not self.budget.try_spend():
            logger.warning(
                "not retrying %s %s: the client's retry budget is spent",
                request.method,
                self.scrub(request.path),
            )
            return False
        return True

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, errors.APIStatusError):
            server = self.policy.server_wait(exc.headers)
            if server is not None:
                return server
        return self.policy.backoff(state.attempt_number, self._rng)

    def _before_sleep(self, request: protocol.Request, state: RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        if isinstance(exc, errors.APIStatusError):
            reason = f"HTTP {exc.status_code}"
        else:
            reason = type(exc).__name__
        request_id = exc.request_id if isinstance(exc, errors.APIError) else None
        logger.info(
            "retrying %s %s after %s in %.2f s (retry %d, request id %s)",
            request.method,
            self.scrub(request.path),
            reason,
            wait,
            state.attempt_number,
            request_id or "-",
        )
