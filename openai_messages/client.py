"""The public client: the calls of :mod:`openai_messages._core.operations` over a transport.

Every call is written once, in :class:`WithResponse` (returning a :class:`Response`);
:class:`Client` exposes each of them returning the value alone.
"""

from __future__ import annotations

import logging
import os
import ssl as _ssl
import sys
import time
import uuid
import warnings
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Final,
    ParamSpec,
    TypedDict,
    TypeVar,
)

import aiohttp
import attrs

from . import auth, errors
from ._codec.literals import ApiVersion, Order, Role
from ._codec.models import (
    Attachment,
    ContentPart,
    DeletedMessage,
    DeletedThread,
    Message,
    MessageFile,
    MessageFilePage,
    MessagePage,
    Thread,
    ThreadPage,
)
from ._core import bodies
from ._core import checks as validation
from ._core import endpoint as ep
from ._core import operations as ops
from ._core.defaults import AZURE_API_VERSION, CONNECTION_LIMIT, MAX_RESPONSE_BYTES, PAGE_SIZE
from ._core.idempotency import find_marked
from ._core.retry import RetryBudget, RetryPolicy
from ._transport.aiohttp_seam import AiohttpSeam
from ._transport.lookback import RECONCILE_MAX_ITEMS
from ._transport.reconcile import Reconcile
from ._transport.retry_loop import CallOptions, Response, Timeout, Transport, unknown_options
from ._transport.seam import Seam
from ._walk.bulk import FetchProgress, ThreadResults, ThreadStream
from ._walk.feed import FeedRegistry
from ._walk.pagination import Pager
from ._walk.walking import ResponsePager, WalkOptions, make_pager, responses
from .calls import value_of
from .ratelimit import RateLimiter, RateLimits

if TYPE_CHECKING:
    from .conversations import Conversations, ConversationsWithResponse

if sys.version_info >= (3, 11):  # at runtime too: typing.get_type_hints reads it
    from typing import Required, Unpack
else:  # pragma: no cover
    from typing_extensions import Required, Unpack

__all__ = [
    "DEFAULT_BASE_URL",
    "Client",
    "ClientOptions",
    "InitialMessage",
    "ManyOptions",
    "WalkOptions",
    "WithResponse",
]

T = TypeVar("T")
P = ParamSpec("P")

logger = logging.getLogger("openai_messages")

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
DEFAULT_TIMEOUT: Final = Timeout(total=60.0, connect=10.0)
_DEFAULT_BUDGET: Final[Any] = object()  # a fresh RetryBudget per client


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of :class:`Client` that :meth:`Client.azure` passes on."""

    organization: str | None
    project: str | None
    default_headers: Mapping[str, str] | None
    default_query: Mapping[str, str] | None
    timeout: float | Timeout | None
    max_retries: int | None
    retry_policy: RetryPolicy | None
    retry_budget: RetryBudget | None
    rate_limits: RateLimits | None
    session: aiohttp.ClientSession | None
    seam: Seam | None
    connection_limit: int
    max_response_bytes: int
    trust_idempotency_key: bool
    trust_env: bool
    ssl: _ssl.SSLContext | bool | None
    ca_bundle: str | os.PathLike[str] | None


class ManyOptions(TypedDict, total=False):
    """The options of a walk of many threads (:meth:`Client.fetch_many`, ``stream_many``).

    ``concurrency`` (threads walked at once, default 8), ``order`` (of each thread's
    messages, default "asc"), ``max_items_per_thread`` (default: all), ``page_size``
    (the API's ``limit``, 1-100, default 100) and ``on_progress`` (called with running
    totals, :class:`FetchProgress`).
    """

    concurrency: int
    order: Order
    max_items_per_thread: int | None
    page_size: int
    on_progress: Callable[[FetchProgress], None] | None


_MANY_KEYS: Final = frozenset(ManyOptions.__annotations__)


class InitialMessage(TypedDict, total=False):
    """One of :meth:`Client.create_thread`'s ``messages``: :meth:`Client.create`'s
    arguments, as a dict (checked as create checks them)."""

    role: Required[Role]
    content: Required[str | Sequence[ContentPart | Mapping[str, Any]]]
    attachments: Sequence[Attachment | Mapping[str, Any]] | None
    metadata: Mapping[str, str] | None
    file_ids: Sequence[str] | None


class WithResponse:
    """``client.with_response.X(...)``: the call X, returning a :class:`Response`.

    For the walks, ``with_response.list`` (and every listing) is a :class:`ResponsePager`:
    one :class:`Response` per page (its ``value`` the page, trimmed to ``max_items``).
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._transport = client._transport

    @property
    def conversations(self) -> ConversationsWithResponse:
        """The conversation calls, returning a :class:`Response`."""
        return self._client.conversations.with_response

    # -- messages --------------------------------------------------------------------------

    async def create(
        self,
        thread_id: str,
        *,
        role: Role,
        content: str | Sequence[ContentPart | Mapping[str, Any]],
        attachments: Sequence[Attachment | Mapping[str, Any]] | None = None,
        metadata: Mapping[str, str] | None = None,
        file_ids: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[CallOptions],
    ) -> Response[Message]:
        """Add a message to a thread, sent with an ``Idempotency-Key``.

        When an attempt fails after the server may have stored the message, the client
        looks for it among the thread's newest messages (by the key it put in the
        metadata, else by content) before re-sending; if it cannot tell it raises
        :class:`CreateOutcomeUnknownError`. With ``trust_idempotency_key=True`` it
        re-sends with the same key instead. See the README, "Errors and retries".
        """
        key = idempotency_key or f"om-{uuid.uuid4().hex}"
        reconcile = not self._transport.trust_idempotency_key
        body = bodies.message(
            role,
            content,
            attachments=attachments,
            metadata=metadata,
            file_ids=file_ids,
            api_version=self._client.endpoint.api_version,
            marker=key if reconcile else None,
        )
        request = ops.CREATE_MESSAGE.request(
            {"thread_id": thread_id}, body=body, idempotency_key=key
        )
        started = time.time()

        def pages(timeout: float | None) -> ResponsePager[MessagePage]:
            if timeout is None:
                return self.list(thread_id, order="desc", prefetch=0)
            return self.list(thread_id, order="desc", prefetch=0, timeout=timeout)

        async def settle(cause: errors.APIError, deadline: float | None) -> Message | None:
            reconcile = Reconcile(
                pages,
                thread_id=thread_id,
                body=request.body or b"{}",
                key=key,
                started=started,
                cause=cause,
                recheck_delay=self._transport.policy.backoff_max,
            )
            if isinstance(cause, errors.StoredButUnreadableError):
                return await reconcile.find_stored(deadline)  # stored: find it by its key
            return await reconcile.run(deadline)

        return await self._transport.call(request, options, settle)

    async def retrieve(
        self, thread_id: str, message_id: str, **options: Unpack[CallOptions]
    ) -> Response[Message]:
        """One message."""
        ids = {"thread_id": thread_id, "message_id": message_id}
        return await self._transport.call(ops.RETRIEVE_MESSAGE.request(ids), options)

    async def modify(
        self,
        thread_id: str,
        message_id: str,
        *,
        metadata: Mapping[str, str] | None,
        **options: Unpack[CallOptions],
    ) -> Response[Message]:
        """Replace a message's metadata (safe to retry: the same metadata twice is one result)."""
        ids = {"thread_id": thread_id, "message_id": message_id}
        request = ops.MODIFY_MESSAGE.request(ids, body=bodies.update(metadata))
        return await self._transport.call(request, options)

    async def delete(
        self, thread_id: str, message_id: str, **options: Unpack[CallOptions]
    ) -> Response[DeletedMessage]:
        """Delete a message. A 404 on a re-send after a failed attempt means it is deleted."""
        ids = {"thread_id": thread_id, "message_id": message_id}
        return await self._transport.call(ops.DELETE_MESSAGE.request(ids), options)

    async def retrieve_file(
        self, thread_id: str, message_id: str, file_id: str, **options: Unpack[CallOptions]
    ) -> Response[MessageFile]:
        """v1: one file of a message."""
        ids = {"thread_id": thread_id, "message_id": message_id, "file_id": file_id}
        return await self._transport.call(ops.RETRIEVE_FILE.request(ids), options)

    def list(
        self, thread_id: str, *, run_id: str | None = None, **options: Unpack[WalkOptions]
    ) -> ResponsePager[MessagePage]:
        """Every page of a thread's messages, each as a :class:`Response`."""
        ids, query = {"thread_id": thread_id}, {"run_id": run_id}
        return responses(self._client._walk(ops.LIST_MESSAGES, ids, query, options, keep=True))

    def list_files(
        self, thread_id: str, message_id: str, **options: Unpack[WalkOptions]
    ) -> ResponsePager[MessageFilePage]:
        """v1: every page of a message's files, each as a :class:`Response`."""
        ids = {"thread_id": thread_id, "message_id": message_id}
        return responses(self._client._walk(ops.LIST_FILES, ids, {}, options, keep=True))

    # -- threads ---------------------------------------------------------------------------

    def list_threads(self, **options: Unpack[WalkOptions]) -> ResponsePager[ThreadPage]:
        """Every page of the project's threads, each as a :class:`Response`."""
        return responses(self._client._walk(ops.LIST_THREADS, {}, {}, options, keep=True))

    async def create_thread(
        self,
        *,
        messages: Sequence[InitialMessage] | None = None,
        metadata: Mapping[str, str] | None = None,
        tool_resources: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[CallOptions],
    ) -> Response[Thread]:
        """A new thread, with its first ``messages`` (dicts of create's arguments,
        :class:`InitialMessage`) if any.

        Sent with an ``Idempotency-Key``. A failure after which the thread may exist
        raises :class:`CreateOutcomeUnknownError` (most services cannot list threads to
        check), unless the client has ``trust_idempotency_key=True`` (it then re-sends
        with the same key).
        """
        body = bodies.thread(
            messages=messages,
            metadata=metadata,
            tool_resources=tool_resources,
            api_version=self._client.endpoint.api_version,
        )
        key = idempotency_key or f"om-{uuid.uuid4().hex}"
        request = ops.CREATE_THREAD.request(body=body, idempotency_key=key)
        return await self._transport.call(request, options)

    async def retrieve_thread(
        self, thread_id: str, **options: Unpack[CallOptions]
    ) -> Response[Thread]:
        """One thread."""
        return await self._transport.call(
            ops.RETRIEVE_THREAD.request({"thread_id": thread_id}), options
        )

    async def modify_thread(
        self,
        thread_id: str,
        *,
        metadata: Mapping[str, str] | None,
        tool_resources: Mapping[str, Any] | None = None,
        **options: Unpack[CallOptions],
    ) -> Response[Thread]:
        """Replace a thread's metadata (and its tool resources, when given)."""
        body = bodies.update(metadata, tool_resources=tool_resources)
        request = ops.MODIFY_THREAD.request({"thread_id": thread_id}, body=body)
        return await self._transport.call(request, options)

    async def delete_thread(
        self, thread_id: str, **options: Unpack[CallOptions]
    ) -> Response[DeletedThread]:
        """Delete a thread. A 404 on a re-send after a failed attempt means it is deleted."""
        return await self._transport.call(
            ops.DELETE_THREAD.request({"thread_id": thread_id}), options
        )


def _value_of(
    call: Callable[Concatenate[WithResponse, P], Awaitable[Response[T]]],
) -> Callable[Concatenate[Client, P], Awaitable[T]]:
    return value_of(call)


class Client:
    """An async client of the Messages API (OpenAI, Azure OpenAI, or a compatible server).

    Use it as ``async with Client(...) as client:``, or call :meth:`close` yourself.
    ``api_key`` defaults to ``OPENAI_API_KEY``; it may also be a sync or async callable
    returning the key or token (asked before every attempt, never cached by the client),
    an azure-identity credential or a :class:`~openai_messages.auth.TokenSource`.
    ``base_url`` defaults to ``OPENAI_BASE_URL``, then ``https://api.openai.com/v1``
    (where OpenAI retired this API on 2026-08-26; see :meth:`foundry` and :meth:`azure`),
    with no credentials, query or fragment in it (use ``default_query=``).
    ``api_version`` is ``"v2"`` (current) or ``"v1"`` (legacy
    ``file_ids`` and message files). ``max_retries`` is the number of re-sends after a
    transient failure (default 2; ``retry_policy`` sets the backoff too);
    ``retry_budget`` caps retries to a share of recent requests (None: no cap);
    ``rate_limits`` paces every call of this client (default: adaptive, learning from
    429s and the ``x-ratelimit-*`` headers). Pass ``session`` to use your own aiohttp
    session, which the client then never closes, or ``seam`` (a :class:`MockSeam`, for
    tests) to answer requests without HTTP. The client's own session honours
    ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` (``trust_env=False``: it does not) and
    verifies TLS with ``ssl`` (an ``ssl.SSLContext``; False: no verification, for a test
    server only) or the CA certificates of the file ``ca_bundle``. Every call takes the
    per-call options ``timeout``, ``max_retries``, ``extra_headers`` and ``extra_query``.
    """

    # Microsoft's routes: set by Client.azure / Client.foundry (_made_for) before __init__
    _azure: ep.AzureSettings | None = None
    _scope: str = auth.AZURE_AI_SCOPE

    def __init__(
        self,
        api_key: auth.KeyLike | None = None,
        *,
        base_url: str | None = None,
        api_version: ApiVersion = "v2",
        organization: str | None = None,
        project: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, str] | None = None,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = _DEFAULT_BUDGET,
        rate_limits: RateLimits | None = None,
        session: aiohttp.ClientSession | None = None,
        seam: Seam | None = None,
        connection_limit: int = CONNECTION_LIMIT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        trust_idempotency_key: bool = False,
        trust_env: bool = True,
        ssl: _ssl.SSLContext | bool | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
    ) -> None:
        azure, scope = self._azure, self._scope
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if key is None or key == "":
            raise errors.InvalidArgumentError(
                "no API key: pass api_key= or set the OPENAI_API_KEY environment variable"
            )
        source = auth.token_source(key, scope=scope)  # a str: a StaticToken, checked
        tls = _tls(ssl, ca_bundle, session, trust_env)
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.endpoint = ep.Endpoint(
            base_url=url,
            api_version=api_version,
            azure=azure,
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
        if seam is not None and session is not None:
            raise errors.InvalidArgumentError("pass seam= or session=, not both")
        self._seam: Seam = seam or AiohttpSeam(
            session=session,
            max_response_bytes=max_response_bytes,
            connection_limit=connection_limit,
            scrub=lambda text: self._transport.scrub(text),
            trust_env=trust_env,
            ssl=tls,
        )
        self._transport = Transport(
            self.endpoint,
            source,
            seam=self._seam,
            timeout=Timeout.of(timeout),
            policy=policy,
            budget=budget,
            limiter=self.limiter,
            trust_idempotency_key=trust_idempotency_key,
        )
        self._feeds: FeedRegistry = FeedRegistry()
        self._conversations: Conversations | None = None
        self.with_response = WithResponse(self)
        """The same calls, returning :class:`Response` (value, status, headers, request id)."""

    @property
    def conversations(self) -> Conversations:
        """Conversations and their items (see :class:`Conversations`).

        Made on first use: a client of threads alone never loads the conversation layer.
        """
        found = self._conversations
        if found is None:
            from .conversations import make_conversations

            azure = self.endpoint.azure
            found = self._conversations = make_conversations(
                self._transport, self._feeds, azure is not None and azure.route == "foundry"
            )
        return found

    @classmethod
    def azure(
        cls,
        *,
        endpoint: str,
        azure_api_version: str = AZURE_API_VERSION,
        assistants_version: ApiVersion = "v2",
        api_key: auth.KeyLike | None = None,
        azure_ad_token: str | None = None,
        azure_ad_token_provider: auth.KeyLike | None = None,
        api_version: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> Client:
        """A client of Azure OpenAI, on the classic or the v1 GA route.

        Classic: ``{endpoint}/openai/threads/...?api-version=2024-...``. v1 GA, chosen
        with ``azure_api_version="v1"`` or an ``endpoint`` ending in ``/openai/v1``:
        ``{endpoint}/openai/v1/threads/...`` with no ``api-version``. Authenticates with
        ``api_key`` (default ``AZURE_OPENAI_API_KEY``; a str or a callable) sent as the
        ``api-key`` header, or with an Entra ID token sent as a Bearer token: a fixed
        ``azure_ad_token``, or ``azure_ad_token_provider`` (a sync or async callable asked
        before every attempt, an azure-identity credential asked for
        ``https://cognitiveservices.azure.com/.default``, or a TokenSource).
        ``assistants_version`` is the Assistants API version (``"v2"``, or ``"v1"``: legacy
        ``file_ids``), sent as ``OpenAI-Beta``; ``api_version=`` is the former name of
        ``azure_api_version`` (deprecated). ``options`` are the keyword arguments of
        :class:`Client`.
        """
        azure_api_version = _renamed(api_version, "azure", azure_api_version, AZURE_API_VERSION)
        given = [
            name
            for name, value in (
                ("api_key", api_key),
                ("azure_ad_token", azure_ad_token),
                ("azure_ad_token_provider", azure_ad_token_provider),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise errors.InvalidArgumentError(f"pass one of {', '.join(given)}, not several")
        secret = (
            azure_ad_token
            or azure_ad_token_provider
            or api_key
            or os.environ.get("AZURE_OPENAI_API_KEY")
        )
        if not secret:
            raise errors.InvalidArgumentError(
                "no Azure credential: pass api_key=, azure_ad_token=, azure_ad_token_provider=, "
                "or set AZURE_OPENAI_API_KEY"
            )
        base = ep.check_base_url(endpoint).rstrip("/")
        v1 = azure_api_version == "v1" or base.endswith("/openai/v1")
        base = base.removesuffix("/openai/v1").removesuffix("/openai")
        settings = ep.AzureSettings(
            api_version=None if v1 else azure_api_version,
            ad_token=azure_ad_token is not None or azure_ad_token_provider is not None,
            route="v1" if v1 else "classic",
        )
        url = f"{base}/openai/v1" if v1 else base
        client = cls._made_for(settings, _COGNITIVE_SCOPE)
        client.__init__(  # type: ignore[misc]
            secret, base_url=url, api_version=assistants_version, **options
        )
        return client

    @classmethod
    def foundry(
        cls,
        endpoint: str,
        *,
        credential: auth.TokenCredential | None = None,
        token_provider: auth.KeyLike | None = None,
        azure_api_version: str = "v1",
        assistants_version: ApiVersion = "v2",
        api_version: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> Client:
        """A client of the Foundry Agent Service (classic agents' threads and messages).

        ``endpoint`` is the project endpoint,
        ``https://<resource>.services.ai.azure.com/api/projects/<project>``; requests go
        to ``{endpoint}/threads/...?api-version=v1`` with an Entra ID Bearer token from
        ``credential`` (an azure-identity credential, sync or async, asked for
        ``https://ai.azure.com/.default`` and cached until shortly before the token
        expires) or ``token_provider`` (a sync or async callable asked before every
        attempt, or a TokenSource). With neither, ``DefaultAzureCredential`` of the
        ``azure-identity`` extra (``pip install "openai_messages[azure]"``), created on
        the first call and closed with the client. A refused token is renewed once and
        the request re-sent. ``azure_api_version`` is the service's ``api-version``
        (``api_version=``, its former name, is deprecated), ``assistants_version`` the
        Assistants API version. ``options`` are the keyword arguments of :class:`Client`.
        """
        azure_api_version = _renamed(api_version, "foundry", azure_api_version, "v1")
        if credential is not None and token_provider is not None:
            raise errors.InvalidArgumentError("pass credential= or token_provider=, not both")
        base = ep.check_base_url(endpoint).rstrip("/")
        if "/api/projects/" not in base:
            raise errors.InvalidArgumentError(
                "endpoint must be a Foundry project endpoint, "
                "https://<resource>.services.ai.azure.com/api/projects/<project>"
            )
        source: auth.KeyLike
        if token_provider is not None:
            source = token_provider
        elif credential is not None:
            source = auth.CredentialToken(credential, auth.AZURE_AI_SCOPE)
        else:
            source = auth.DefaultCredentialToken()
        settings = ep.AzureSettings(api_version=azure_api_version, ad_token=True, route="foundry")
        client = cls._made_for(settings, auth.AZURE_AI_SCOPE)
        client.__init__(  # type: ignore[misc]
            source, base_url=base, api_version=assistants_version, **options
        )
        return client

    @classmethod
    def _made_for(cls, azure: ep.AzureSettings, scope: str) -> Client:
        """A client not yet initialised, for Microsoft's routes (kept out of the public
        signature of ``__init__``)."""
        client = cls.__new__(cls)
        client._azure = azure
        client._scope = scope
        return client

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        self._seam.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop every walk in progress and close the session this client opened."""
        for feed in list(self._feeds):
            await feed.aclose(errors.ClientClosedError("the client was closed during this walk"))
        await self._seam.close()
        close_source = getattr(self._transport.source, "aclose", None)
        if close_source is not None:
            await close_source()

    @property
    def closed(self) -> bool:
        return self._seam.closed

    def __del__(self) -> None:
        seam = getattr(self, "_seam", None)
        if seam is not None and seam.owns_open_session:
            warnings.warn(
                f"unclosed {type(self).__name__}; use 'async with' or await close()",
                ResourceWarning,
                stacklevel=1,
            )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} base_url={self.endpoint.base_url!r} "
            f"api_version={self.endpoint.api_version!r}"
            f"{_flavour(self.endpoint)}>"
        )

    @property
    def stats(self) -> dict[str, int]:
        """Counters of this client: HTTP requests sent, retries, 429 replies."""
        return {
            "requests": self._transport.requests_sent,
            "retries": self._transport.retries,
            "throttled": self._transport.throttled,
        }

    # -- calls (each written once, in WithResponse) ----------------------------------------

    create = _value_of(WithResponse.create)
    retrieve = _value_of(WithResponse.retrieve)
    modify = _value_of(WithResponse.modify)
    delete = _value_of(WithResponse.delete)
    retrieve_file = _value_of(WithResponse.retrieve_file)
    create_thread = _value_of(WithResponse.create_thread)
    retrieve_thread = _value_of(WithResponse.retrieve_thread)
    modify_thread = _value_of(WithResponse.modify_thread)
    delete_thread = _value_of(WithResponse.delete_thread)

    def list(
        self, thread_id: str, *, run_id: str | None = None, **options: Unpack[WalkOptions]
    ) -> Pager[Message, MessagePage]:
        """Every message of a thread, page after page, as you iterate.

        ``page_size`` is the API's ``limit``: how many messages one request asks for
        (1-100, default the maximum 100). ``max_items`` is how many messages the whole
        walk yields at most. ``prefetch`` pages are fetched ahead while you work (0: none).
        With ``before=`` the walk goes backward; see :class:`Pager` and :class:`WalkOptions`.
        """
        return self._walk(
            ops.LIST_MESSAGES, {"thread_id": thread_id}, {"run_id": run_id}, options, keep=False
        )

    def list_files(
        self, thread_id: str, message_id: str, **options: Unpack[WalkOptions]
    ) -> Pager[MessageFile, MessageFilePage]:
        """v1: every file of a message, walked like :meth:`list`."""
        ids = {"thread_id": thread_id, "message_id": message_id}
        return self._walk(ops.LIST_FILES, ids, {}, options, keep=False)

    async def find_created(
        self,
        thread_id: str,
        idempotency_key: str,
        *,
        max_items: int = RECONCILE_MAX_ITEMS,
        **options: Unpack[CallOptions],
    ) -> Message | None:
        """The message a create stored with ``idempotency_key``, or None: it did not store it.

        Settles a :class:`CreateOutcomeUnknownError` later: pass its ``thread_id`` and
        ``idempotency_key``. Looks among the thread's ``max_items`` newest messages (newest
        first) for the one whose metadata holds the key exactly (``om_idempotency_key``;
        the newest, should a reused key mark several). A create whose metadata had no
        room for the key cannot be found this way. ``options`` apply to each page's request.
        """
        if not idempotency_key:
            raise errors.InvalidArgumentError("idempotency_key must not be empty")
        pager = self.list(thread_id, order="desc", max_items=max_items, prefetch=0, **options)
        async for page in pager.pages():
            mine = find_marked(page.data, bodies.IDEMPOTENCY_MARKER, idempotency_key)
            if mine:
                return mine[0]
        return None

    def list_threads(self, **options: Unpack[WalkOptions]) -> Pager[Thread, ThreadPage]:
        """Every thread of the project, walked like :meth:`list` (``GET /threads``).

        Only some services list threads (Foundry's classic agents do; so does the
        emulator's Foundry prefix). Elsewhere the first page raises
        :class:`ThreadListingUnsupportedError` (the server answered 404 or 405), never
        an empty list. ``order="asc"`` walks from the oldest thread, so that
        ``after=pager.cursor`` later continues with the threads created since.
        """
        return self._walk(ops.LIST_THREADS, {}, {}, options, keep=False)

    def _walk(
        self,
        op: ops.Operation[Any],
        ids: Mapping[str, object],
        query: Mapping[str, object],
        options: WalkOptions,
        *,
        keep: bool,
    ) -> Pager[Any, Any]:
        """The walk of listing ``op`` (:func:`~openai_messages._walk.walking.make_pager`):
        ``ids`` and ``query`` checked now, a Pager of pages, or of pages with their
        response (``keep=True``)."""
        return make_pager(
            self._transport.call, op, ids, query, options, keep=keep, registry=self._feeds
        )

    # -- many threads ----------------------------------------------------------------------

    def fetch_many(
        self,
        thread_ids: Iterable[str] | AsyncIterable[str],
        *,
        ordered: bool = False,
        raise_on_error: bool = False,
        prefetch: int = 1,
        **options: Unpack[ManyOptions],
    ) -> ThreadResults:
        """Every message of many threads, ``concurrency`` threads at a time.

        Yields one :class:`ThreadResult` per thread (its messages, or the error that
        ended it) as threads finish, or in input order with ``ordered=True``.
        ``prefetch`` pages are fetched ahead in each thread; the other options are
        :class:`ManyOptions`.
        """
        if not _MANY_KEYS.issuperset(options):
            raise unknown_options(options, _MANY_KEYS | {"ordered", "raise_on_error", "prefetch"})
        order = validation.check_order(options.get("order", "asc"))  # the call's mistake
        page_size = validation.check_page_size(options.get("page_size", PAGE_SIZE))
        max_items = options.get("max_items_per_thread")

        def walk(thread_id: str) -> AsyncIterator[MessagePage]:
            pager = self.list(
                thread_id, order=order, page_size=page_size, max_items=max_items, prefetch=prefetch
            )
            return pager.pages()

        stream = ThreadStream(
            walk,
            thread_ids,
            concurrency=options.get("concurrency", 8),
            on_progress=options.get("on_progress"),
            stats=lambda: self.stats,
            registry=self._feeds,
        )
        return ThreadResults(stream, ordered=ordered, raise_on_error=raise_on_error)

    def stream_many(
        self, thread_ids: Iterable[str] | AsyncIterable[str], **options: Unpack[ManyOptions]
    ) -> ThreadStream:
        """Like :meth:`fetch_many`, page by page, for threads too long to hold in memory.

        Yields :class:`ThreadChunk` objects: a thread's messages one page at a time,
        then a last chunk with ``done=True`` (and ``error`` if the thread failed).
        """
        return self.fetch_many(thread_ids, prefetch=0, **options).stream


_COGNITIVE_SCOPE: Final = "https://cognitiveservices.azure.com/.default"


def _renamed(old: str | None, factory: str, new: str, default: str) -> str:
    """``azure_api_version``, or the value of its deprecated name ``api_version``."""
    if old is None:
        return new
    warnings.warn(
        f"Client.{factory}(api_version=) is now azure_api_version= "
        "(assistants_version= picks the Assistants API version)",
        DeprecationWarning,
        stacklevel=3,
    )
    if new != default:
        raise errors.InvalidArgumentError("pass azure_api_version=, not api_version= as well")
    return old


def _flavour(endpoint: ep.Endpoint) -> str:
    azure = endpoint.azure
    if azure is None:
        return ""
    return {"classic": " azure", "v1": " azure v1", "foundry": " foundry"}[azure.route]


def _tls(
    verify: _ssl.SSLContext | bool | None,
    ca_bundle: str | os.PathLike[str] | None,
    session: aiohttp.ClientSession | None,
    trust_env: bool,
) -> _ssl.SSLContext | bool:
    """The ``ssl`` of the client's own connector, from ``ssl=`` or ``ca_bundle=``."""
    if session is not None and (verify is not None or ca_bundle is not None or not trust_env):
        raise errors.InvalidArgumentError(
            "ssl=, ca_bundle= and trust_env= configure the client's own session; "
            "configure the session you pass instead"
        )
    if ca_bundle is not None:
        if verify is not None:
            raise errors.InvalidArgumentError("pass ssl= or ca_bundle=, not both")
        try:
            return _ssl.create_default_context(cafile=os.fspath(ca_bundle))
        except (OSError, _ssl.SSLError) as exc:
            raise errors.InvalidArgumentError(
                f"ca_bundle {os.fspath(ca_bundle)!r} is not a readable PEM file of CA "
                f"certificates ({type(exc).__name__})"
            ) from None
    if verify is None or verify is True:
        return True
    if verify is False or isinstance(verify, _ssl.SSLContext):
        return verify
    raise errors.InvalidArgumentError(
        f"ssl must be an ssl.SSLContext, True or False, not {type(verify).__name__}"
    )
