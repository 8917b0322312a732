"""The public client: a thin composition of the protocol core, the transport and the pager."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import aiohttp
import attrs
import orjson

from . import errors, protocol
from .background import FeedRegistry
from .bulk import FetchProgress, ThreadResults, ThreadStream
from .idempotency import find_created
from .models import DeletedMessage, Message, MessageFile, MessageFilePage, MessagePage
from .pagination import Pager
from .ratelimit import RateLimiter, RateLimits
from .retry import RetryBudget, RetryPolicy
from .transport import AmbiguousOutcome, CallOptions, Reply, Response, Timeout, Transport

__all__ = ["DEFAULT_BASE_URL", "Client"]

T = TypeVar("T")
PageT = TypeVar("PageT", MessagePage, MessageFilePage)
logger = logging.getLogger("openai_messages")

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
DEFAULT_TIMEOUT: Final = Timeout(total=60.0, connect=10.0)
RECONCILE_MAX_ITEMS: Final = 1000
CLOCK_SKEW_ALLOWANCE: Final = 300.0

_DEFAULT_BUDGET: Final = object()


def _decoder(cls: type[T]) -> Callable[[Reply], T]:
    def decode(reply: Reply) -> T:
        return protocol.parse_reply(reply.status, reply.headers, reply.body, cls)

    return decode


class Client:
    """An async client of the Messages API (OpenAI, Azure OpenAI, or a compatible server).

    Use it as ``async with Client(...) as client:``, or call :meth:`close` yourself.
    ``api_key`` defaults to ``OPENAI_API_KEY``; ``base_url`` to ``OPENAI_BASE_URL``, then
    ``https://api.openai.com/v1``. ``api_version`` is ``"v2"`` (current) or ``"v1"``
    (legacy ``file_ids`` and message files). ``max_retries`` is the number of re-sends
    after a transient failure (default 2; ``retry_policy`` sets the backoff too);
    ``retry_budget`` caps retries to a share of recent requests (None: no cap);
    ``rate_limits`` paces every call of this client (default: adaptive, learning from
    429s and the ``x-ratelimit-*`` headers). Pass ``session`` to use your own aiohttp
    session, which the client then never closes.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        api_version: protocol.ApiVersion = "v2",
        organization: str | None = None,
        project: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, str] | None = None,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        retry_budget: RetryBudget | object | None = _DEFAULT_BUDGET,
        rate_limits: RateLimits | None = None,
        session: aiohttp.ClientSession | None = None,
        connection_limit: int = 100,
        max_response_bytes: int = 32 * 1024 * 1024,
        trust_idempotency_key: bool = False,
        _azure: protocol.AzureSettings | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not key:
            raise errors.InvalidArgumentError(
                "no API key: pass api_key= or set the OPENAI_API_KEY environment variable"
            )
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.endpoint = protocol.Endpoint(
            base_url=url,
            api_version=api_version,
            azure=_azure,
            organization=organization,
            project=project,
            default_headers=dict(default_headers or {}),
            default_query=dict(default_query or {}),
        )
        policy = retry_policy or RetryPolicy()
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=max_retries)
        budget = RetryBudget() if retry_budget is _DEFAULT_BUDGET else retry_budget
        if budget is not None and not isinstance(budget, RetryBudget):
            raise errors.InvalidArgumentError("retry_budget must be a RetryBudget or None")
        self.limiter = RateLimiter(rate_limits or RateLimits())
        self.trust_idempotency_key = trust_idempotency_key
        self._transport = Transport(
            self.endpoint,
            protocol.Secret(key),
            session=session,
            timeout=Timeout.of(timeout),
            policy=policy,
            budget=budget,
            limiter=self.limiter,
            max_response_bytes=max_response_bytes,
            connection_limit=connection_limit,
        )
        self._feeds: FeedRegistry = FeedRegistry()
        self.with_response = _WithResponse(self)
        """The same calls, returning :class:`Response` (value, status, headers, request id)."""

    @classmethod
    def azure(
        cls,
        *,
        endpoint: str,
        api_version: str = "2024-05-01-preview",
        api_key: str | None = None,
        azure_ad_token: str | None = None,
        **options: Any,
    ) -> Client:
        """A client of Azure OpenAI: ``{endpoint}/openai/threads/...?api-version=...``.

        Authenticates with ``api_key`` (default ``AZURE_OPENAI_API_KEY``) sent as the
        ``api-key`` header, or with an Entra ID ``azure_ad_token`` sent as a Bearer token.
        """
        if api_key is not None and azure_ad_token is not None:
            raise errors.InvalidArgumentError("pass api_key= or azure_ad_token=, not both")
        secret = azure_ad_token or api_key or os.environ.get("AZURE_OPENAI_API_KEY")
        if not secret:
            raise errors.InvalidArgumentError(
                "no Azure credential: pass api_key=, azure_ad_token=, or set AZURE_OPENAI_API_KEY"
            )
        settings = protocol.AzureSettings(
            api_version=api_version, ad_token=azure_ad_token is not None
        )
        return cls(secret, base_url=endpoint, _azure=settings, **options)

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        self._transport.session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop every walk in progress and close the session this client opened."""
        for feed in list(self._feeds):
            await feed.aclose(errors.ClientClosedError("the client was closed during this walk"))
        await self._transport.close()

    @property
    def closed(self) -> bool:
        return self._transport.closed

    def __del__(self) -> None:
        transport = getattr(self, "_transport", None)
        if transport is not None and transport.owns_open_session:
            warnings.warn(
                f"unclosed {type(self).__name__}; use 'async with' or await close()",
                ResourceWarning,
                stacklevel=1,
            )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} base_url={self.endpoint.base_url!r} "
            f"api_version={self.endpoint.api_version!r}"
            f"{' azure' if self.endpoint.azure else ''}>"
        )

    @property
    def stats(self) -> dict[str, int]:
        """Counters of this client: HTTP requests sent, retries, 429 replies."""
        return {
            "requests": self._transport.requests_sent,
            "retries": self._transport.retries,
            "throttled": self._transport.throttled,
        }

    # -- calls -----------------------------------------------------------------------------

    async def _send(
        self, request: protocol.Request, cls: type[T], options: CallOptions
    ) -> Response[T]:
        return await self._transport.send(request, _decoder(cls), options)

    async def create(
        self,
        thread_id: str,
        *,
        role: str,
        content: str | Sequence[Any],
        attachments: Sequence[Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        file_ids: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> Message:
        """Add a message to a thread. Never stores it twice; see :meth:`_create`."""
        response = await self._create(
            thread_id,
            role=role,
            content=content,
            attachments=attachments,
            metadata=metadata,
            file_ids=file_ids,
            idempotency_key=idempotency_key,
            options=CallOptions(timeout, max_retries, extra_headers, extra_query),
        )
        return response.value

    async def _create(
        self,
        thread_id: str,
        *,
        role: str,
        content: str | Sequence[Any],
        attachments: Sequence[Any] | None,
        metadata: Mapping[str, str] | None,
        file_ids: Sequence[str] | None,
        idempotency_key: str | None,
        options: CallOptions,
    ) -> Response[Message]:
        """Create with an ``Idempotency-Key``; an ambiguous failure is reconciled, not re-sent.

        When an attempt fails after the server may have stored the message, the client
        lists the thread's newest messages: if it finds the message it returns it; if it
        finds none it re-sends (same key); if it cannot tell, it raises
        :class:`CreateOutcomeUnknownError`. With ``trust_idempotency_key=True`` (servers
        that honour the header) it re-sends with the same key instead of reconciling.
        """
        key = idempotency_key or f"om-{uuid.uuid4().hex}"
        request = protocol.build_create(
            thread_id,
            role=role,
            content=content,
            attachments=attachments,
            metadata=metadata,
            file_ids=file_ids,
            api_version=self.endpoint.api_version,
            idempotency_key=key,
        )
        max_retries = (
            self._transport.policy.max_retries
            if options.max_retries is None
            else options.max_retries
        )
        not_before = time.time() - CLOCK_SKEW_ALLOWANCE
        last: errors.APIError | None = None
        for attempt in range(max_retries + 1):
            try:
                return await self._send(request, Message, options)
            except AmbiguousOutcome as ambiguous:
                last = ambiguous.cause
                logger.info(
                    "create in %s may or may not have been stored (%s); checking",
                    thread_id,
                    type(last).__name__,
                )
            if attempt == max_retries:
                break
            await asyncio.sleep(self._transport.policy.backoff(attempt + 1))
            if self.trust_idempotency_key:
                continue
            # the body as sent, read back only on this rare path, to match stored messages
            body = orjson.loads(request.body or b"{}")
            found = await self._reconcile(thread_id, body, not_before, key, last)
            if found is not None:
                return Response(found, 200, {}, last.request_id, attempt + 1, 0.0)
        raise errors.CreateOutcomeUnknownError(
            f"the create in thread {thread_id!r} failed in a way that may have stored the "
            f"message ({last}); list the thread's newest messages before creating it again",
            thread_id=thread_id,
            idempotency_key=key,
            request_id=last.request_id if last else None,
        )

    async def _reconcile(
        self,
        thread_id: str,
        body: Mapping[str, Any],
        not_before: float,
        key: str,
        cause: errors.APIError,
    ) -> Message | None:
        """The message an ambiguous create stored, None if it stored none; raises if unsure.

        Walks the thread from the newest message back to the first one created before the
        attempt (less the clock-skew allowance), at most ``RECONCILE_MAX_ITEMS`` messages.
        """

        def unknown(reason: str) -> errors.CreateOutcomeUnknownError:
            return errors.CreateOutcomeUnknownError(
                f"the create in thread {thread_id!r} may have been stored ({cause}), and "
                f"{reason}; list the thread's newest messages before creating it again",
                thread_id=thread_id,
                idempotency_key=key,
                request_id=cause.request_id,
            )

        recent: list[Message] = []
        complete = False
        try:
            async for message in self.list(thread_id, order="desc", prefetch=0):
                if message.created_at is not None and message.created_at < not_before:
                    complete = True
                    break
                recent.append(message)
                if len(recent) >= RECONCILE_MAX_ITEMS:
                    break
            else:
                complete = True
        except errors.NotFoundError:
            return None  # no such thread: nothing was stored in it
        except errors.OpenAIMessagesError as exc:
            raise unknown(f"checking failed too ({type(exc).__name__})") from None
        found = find_created(recent, body, not_before=not_before)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise unknown(f"{len(found)} identical recent messages exist; check which is yours")
        if not complete:
            raise unknown(f"it is not among the newest {RECONCILE_MAX_ITEMS} messages")
        return None

    async def retrieve(
        self,
        thread_id: str,
        message_id: str,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> Message:
        """One message."""
        options = CallOptions(timeout, max_retries, extra_headers, extra_query)
        request = protocol.build_retrieve(thread_id, message_id)
        return (await self._send(request, Message, options)).value

    async def modify(
        self,
        thread_id: str,
        message_id: str,
        *,
        metadata: Mapping[str, str] | None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> Message:
        """Replace a message's metadata (safe to retry: the same metadata twice is one result)."""
        options = CallOptions(timeout, max_retries, extra_headers, extra_query)
        request = protocol.build_modify(thread_id, message_id, metadata=metadata)
        return (await self._send(request, Message, options)).value

    async def delete(
        self,
        thread_id: str,
        message_id: str,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> DeletedMessage:
        """Delete a message. A 404 on a re-send after a failed attempt means it is deleted."""
        options = CallOptions(timeout, max_retries, extra_headers, extra_query)
        return (await self._delete(thread_id, message_id, options)).value

    async def _delete(
        self, thread_id: str, message_id: str, options: CallOptions
    ) -> Response[DeletedMessage]:
        request = protocol.build_delete(thread_id, message_id)

        def recover(error: errors.APIStatusError, after_ambiguous: bool) -> DeletedMessage | None:
            # An earlier attempt failed in flight, then the message was gone: that earlier
            # attempt deleted it.
            if error.status_code == 404 and after_ambiguous:
                return DeletedMessage(id=message_id, object="thread.message.deleted", deleted=True)
            return None

        return await self._transport.send(request, _decoder(DeletedMessage), options, recover)

    def list(
        self,
        thread_id: str,
        *,
        order: str = "desc",
        after: str | None = None,
        before: str | None = None,
        run_id: str | None = None,
        page_size: int = 100,
        max_items: int | None = None,
        prefetch: int = 1,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> Pager[Message, MessagePage]:
        """Every message of a thread, page after page, as you iterate.

        ``page_size`` is the API's ``limit``: how many messages one request asks for
        (1-100, default the maximum 100). ``max_items`` is how many messages the whole
        walk yields at most. ``prefetch`` pages are fetched ahead while you work (0: none).
        With ``before=`` the walk goes backward; see :class:`Pager`.
        """
        protocol.build_list(thread_id, run_id=run_id)  # validates the ids now

        def build(limit: int, after: str | None, before: str | None) -> protocol.Request:
            return protocol.build_list(
                thread_id, limit=limit, order=order, after=after, before=before, run_id=run_id
            )

        walk = _Walk(order, after, before, page_size, max_items, prefetch)
        return self._pager(build, MessagePage, CallOptions(timeout, max_retries), walk)

    def _pager(
        self,
        build: Callable[[int, str | None, str | None], protocol.Request],
        cls: type[PageT],
        options: CallOptions,
        walk: _Walk,
    ) -> Pager[Any, PageT]:
        async def fetch(limit: int, after: str | None, before: str | None) -> PageT:
            return (await self._send(build(limit, after, before), cls, options)).value

        return Pager(
            fetch,
            order=walk.order,
            after=walk.after,
            before=walk.before,
            page_size=walk.page_size,
            max_items=walk.max_items,
            prefetch=walk.prefetch,
            registry=self._feeds,
        )

    def list_files(
        self,
        thread_id: str,
        message_id: str,
        *,
        order: str = "desc",
        after: str | None = None,
        before: str | None = None,
        page_size: int = 100,
        max_items: int | None = None,
        prefetch: int = 1,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> Pager[MessageFile, MessageFilePage]:
        """v1: every file of a message, walked like :meth:`list`."""
        protocol.build_list_files(thread_id, message_id)

        def build(limit: int, after: str | None, before: str | None) -> protocol.Request:
            return protocol.build_list_files(
                thread_id, message_id, limit=limit, order=order, after=after, before=before
            )

        walk = _Walk(order, after, before, page_size, max_items, prefetch)
        return self._pager(build, MessageFilePage, CallOptions(timeout, max_retries), walk)

    async def retrieve_file(
        self,
        thread_id: str,
        message_id: str,
        file_id: str,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> MessageFile:
        """v1: one file of a message."""
        options = CallOptions(timeout, max_retries, extra_headers, extra_query)
        request = protocol.build_retrieve_file(thread_id, message_id, file_id)
        return (await self._send(request, MessageFile, options)).value

    # -- many threads ----------------------------------------------------------------------

    def fetch_many(
        self,
        thread_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 8,
        order: str = "asc",
        max_items_per_thread: int | None = None,
        ordered: bool = False,
        raise_on_error: bool = False,
        on_progress: Callable[[FetchProgress], None] | None = None,
        page_size: int = 100,
        prefetch: int = 1,
    ) -> ThreadResults:
        """Every message of many threads, ``concurrency`` threads at a time.

        Yields one :class:`ThreadResult` per thread (its messages, or the error that
        ended it) as threads finish, or in input order with ``ordered=True``.
        """

        def walk(thread_id: str) -> AsyncIterator[MessagePage]:
            pager = self.list(
                thread_id,
                order=order,
                page_size=page_size,
                max_items=max_items_per_thread,
                prefetch=prefetch,
            )
            return pager.pages()

        stream = ThreadStream(
            walk,
            thread_ids,
            concurrency=concurrency,
            on_progress=on_progress,
            stats=lambda: self.stats,
            registry=self._feeds,
        )
        return ThreadResults(stream, ordered=ordered, raise_on_error=raise_on_error)

    def stream_many(
        self,
        thread_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 8,
        order: str = "asc",
        max_items_per_thread: int | None = None,
        on_progress: Callable[[FetchProgress], None] | None = None,
        page_size: int = 100,
    ) -> ThreadStream:
        """Like :meth:`fetch_many`, page by page, for threads too long to hold in memory.

        Yields :class:`ThreadChunk` objects: a thread's messages one page at a time,
        then a last chunk with ``done=True`` (and ``error`` if the thread failed).
        """
        return self.fetch_many(
            thread_ids,
            concurrency=concurrency,
            order=order,
            max_items_per_thread=max_items_per_thread,
            on_progress=on_progress,
            page_size=page_size,
            prefetch=0,
        ).stream


@attrs.frozen
class _Walk:
    """The walk arguments of :meth:`Client.list` and :meth:`Client.list_files`."""

    order: str
    after: str | None
    before: str | None
    page_size: int
    max_items: int | None
    prefetch: int


class _WithResponse:
    """``client.with_response.X(...)``: the call X, returning a :class:`Response`."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def create(self, thread_id: str, **kwargs: Any) -> Response[Message]:
        options = CallOptions(
            kwargs.pop("timeout", None),
            kwargs.pop("max_retries", None),
            kwargs.pop("extra_headers", None),
            kwargs.pop("extra_query", None),
        )
        kwargs.setdefault("attachments", None)
        kwargs.setdefault("metadata", None)
        kwargs.setdefault("file_ids", None)
        kwargs.setdefault("idempotency_key", None)
        return await self._client._create(thread_id, options=options, **kwargs)

    async def retrieve(self, thread_id: str, message_id: str, **kw: Any) -> Response[Message]:
        request = protocol.build_retrieve(thread_id, message_id)
        return await self._client._send(request, Message, CallOptions(**kw))

    async def modify(
        self, thread_id: str, message_id: str, *, metadata: Mapping[str, str] | None, **kw: Any
    ) -> Response[Message]:
        request = protocol.build_modify(thread_id, message_id, metadata=metadata)
        return await self._client._send(request, Message, CallOptions(**kw))

    async def delete(self, thread_id: str, message_id: str, **kw: Any) -> Response[DeletedMessage]:
        return await self._client._delete(thread_id, message_id, CallOptions(**kw))

    async def retrieve_file(
        self, thread_id: str, message_id: str, file_id: str, **kw: Any
    ) -> Response[MessageFile]:
        request = protocol.build_retrieve_file(thread_id, message_id, file_id)
        return await self._client._send(request, MessageFile, CallOptions(**kw))
