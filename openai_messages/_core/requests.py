"""The I/O-free protocol core: the arguments of each call, checked, made into a request.

Nothing here touches the network. Each :func:`build_*` function validates a call's
arguments and returns the typed :class:`Request` of its declaration in
:mod:`openai_messages._core.operations`; :class:`Endpoint` is where a client talks (its
``base_url`` checked at construction); :func:`prepare` places a request under it.
:func:`parse_reply` and :func:`error_from_reply` are kept here for callers of the
earlier layout; the one place a reply becomes a result is :mod:`openai_messages._core.replies`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeVar, get_args
from urllib.parse import quote, urlencode, urlsplit

import attrs
import orjson

from .. import errors
from .._codec import converter, models
from .._codec.literals import ApiVersion as ApiVersion  # also protocol.ApiVersion, as before
from .._codec.literals import Order, Role
from .._version import __version__
from . import checks as validation
from . import operations as ops
from . import replies
from .exchange import HttpReply, same_origin
from .headers import parse_request_id
from .operations import Request

__all__ = [
    "RETIRED_HOSTS",
    "AzureRoute",
    "AzureSettings",
    "Endpoint",
    "Request",
    "Secret",
    "build_create",
    "build_create_thread",
    "build_delete",
    "build_delete_thread",
    "build_list",
    "build_list_files",
    "build_list_threads",
    "build_modify",
    "build_modify_thread",
    "build_retrieve",
    "build_retrieve_file",
    "build_retrieve_thread",
    "auth_header",
    "endpoint_headers",
    "error_from_reply",
    "parse_reply",
    "prepare",
    "same_origin",
]

T = TypeVar("T")

USER_AGENT: Final = (
    f"openai_messages/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"
)
IDEMPOTENCY_MARKER: Final = "om_idempotency_key"
"""The metadata key under which a message create stores its idempotency key (see README)."""


class Secret:
    """Holds the API key or token; its repr and str never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one header that carries it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


AzureRoute = Literal["classic", "v1", "foundry"]

RETIRED_HOSTS: Final = frozenset({"api.openai.com"})
"""Hosts whose Assistants API (threads and messages) is retired: their 404 and 410
replies say so (see :data:`openai_messages._core.replies.SUNSET_NOTE`)."""


@attrs.frozen
class AzureSettings:
    """Microsoft's routes: ``route`` says where paths go and whether ``api-version`` is sent.

    ``classic``: ``{endpoint}/openai/threads/...?api-version=2024-...`` (Azure OpenAI);
    ``v1``: ``{endpoint}/openai/v1/threads/...`` with no ``api-version`` (Azure OpenAI v1
    GA); ``foundry``: ``{project endpoint}/threads/...?api-version=v1`` (Foundry Agent
    Service). The secret goes in the ``api-key`` header unless ``ad_token`` (an Entra ID
    token, sent as a Bearer token; always so on Foundry).
    """

    api_version: str | None = "2024-05-01-preview"
    ad_token: bool = False
    """True when the secret is an Entra ID (AD) token sent as a Bearer token."""
    route: AzureRoute = "classic"


@attrs.frozen
class Endpoint:
    """Where and how a client talks: base URL, API flavour and fixed headers."""

    base_url: str
    api_version: ApiVersion = "v2"
    azure: AzureSettings | None = None
    organization: str | None = None
    project: str | None = None
    default_headers: Mapping[str, str] = attrs.field(factory=dict)
    default_query: Mapping[str, str] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        check_base_url(self.base_url)
        validation.check_headers("default_headers", self.default_headers)
        validation.check_query("default_query", self.default_query)
        for name in ("organization", "project"):
            value = getattr(self, name)
            if value is not None:
                validation.check_header_value(name, value)
        if self.api_version not in get_args(ApiVersion):
            raise errors.InvalidArgumentError(
                f"api_version must be 'v1' or 'v2', got {self.api_version!r}"
            )

    @property
    def retired(self) -> bool:
        """Whether this endpoint's host retired the Assistants API (:data:`RETIRED_HOSTS`)."""
        return (urlsplit(self.base_url).hostname or "").lower() in RETIRED_HOSTS


def _shown(url: str) -> str:
    """``url`` without what may be credentials (for error messages)."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "<unparsable>"
    return f"{parts.scheme}://{host}{parts.path}"


def check_base_url(url: object) -> str:
    """An absolute http(s) URL without credentials, query or fragment, with a valid host."""
    if not isinstance(url, str):
        raise errors.InvalidArgumentError(f"base_url must be a str, not {type(url).__name__}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port out of range
    except ValueError as exc:
        reason = "port out of range" if "port" in str(exc).lower() else "malformed host"
        raise errors.InvalidArgumentError(
            f"base_url {_shown(url)!r} is not a valid URL ({reason})"
        ) from None
    if "@" in parts.netloc:
        raise errors.InvalidArgumentError(
            f"base_url {_shown(url)!r} holds credentials (user:password@); pass the key as "
            "api_key= instead (the credentials are not repeated here)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.InvalidArgumentError(
            f"base_url must be an absolute http(s) URL, got {_shown(url)!r}"
        )
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        raise errors.InvalidArgumentError(
            f"base_url {_shown(url)!r} must not hold a ?query or #fragment; "
            "pass query parameters as default_query="
        )
    if any(c in url for c in "\r\n\t \x00"):
        raise errors.InvalidArgumentError("base_url must not hold whitespace or control characters")
    return url


def _json(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body)


def _content_part(part: object, index: int) -> Any:
    if isinstance(part, Mapping):
        if not isinstance(part.get("type"), str):
            raise errors.InvalidArgumentError(f"content[{index}] needs a 'type'")
        return dict(part)
    if attrs.has(type(part)):
        return converter.unstructure(part)
    raise errors.InvalidArgumentError(
        f"content[{index}] must be a content part or a dict, not {type(part).__name__}"
    )


def _attachments(value: object) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise errors.InvalidArgumentError("attachments must be a list")
    out: list[Any] = []
    for index, item in enumerate(value):
        if attrs.has(type(item)):
            out.append(converter.unstructure(item))
        elif isinstance(item, Mapping) and isinstance(item.get("file_id"), str):
            out.append(dict(item))
        else:
            raise errors.InvalidArgumentError(
                f"attachments[{index}] must be an Attachment or a dict with a file_id"
            )
    return out


def build_create(
    thread_id: str,
    *,
    role: Role,
    content: object,
    attachments: object = None,
    metadata: object = None,
    file_ids: object = None,
    api_version: ApiVersion = "v2",
    idempotency_key: str | None = None,
    marker: bool = False,
) -> Request[models.Message]:
    """``POST threads/{thread_id}/messages``. Not idempotent unless the server honours the key.

    With ``marker=True`` the idempotency key also goes into the metadata (see
    :func:`with_marker`), so that a reconcile can recognise exactly this create.
    """
    body: dict[str, Any] = {"role": validation.check_role(role)}
    checked = validation.check_content(content)
    body["content"] = (
        checked
        if isinstance(checked, str)
        else [_content_part(p, i) for i, p in enumerate(checked)]
    )
    parts = _attachments(attachments)
    ids = validation.check_file_ids(file_ids)
    if api_version == "v1":
        if parts is not None:
            raise errors.InvalidArgumentError("attachments are a v2 field; use file_ids with v1")
        if ids is not None:
            body["file_ids"] = ids
    else:
        if ids is not None:
            raise errors.InvalidArgumentError(
                "file_ids is a v1 field; use attachments with v2 (or api_version='v1')"
            )
        if parts is not None:
            body["attachments"] = parts
    meta = validation.check_metadata(metadata)
    if idempotency_key is not None and marker:
        meta = with_marker(meta, idempotency_key)
    if meta is not None:
        body["metadata"] = meta
    return ops.CREATE_MESSAGE.request(
        {"thread_id": thread_id}, body=_json(body), idempotency_key=idempotency_key
    )


def with_marker(metadata: dict[str, str] | None, key: str) -> dict[str, str] | None:
    """``metadata`` with the idempotency key added as a marker, when it has room for it."""
    meta = dict(metadata or {})
    if IDEMPOTENCY_MARKER in meta or len(meta) >= validation.MAX_METADATA_KEYS:
        return metadata
    if len(key) > validation.MAX_METADATA_VALUE_LENGTH:
        return metadata
    meta[IDEMPOTENCY_MARKER] = key
    return meta


def build_retrieve(thread_id: str, message_id: str) -> Request[models.Message]:
    """``GET threads/{thread_id}/messages/{message_id}``."""
    return ops.RETRIEVE_MESSAGE.request({"thread_id": thread_id, "message_id": message_id})


def build_modify(thread_id: str, message_id: str, *, metadata: object) -> Request[models.Message]:
    """``POST threads/{thread_id}/messages/{message_id}``: same metadata twice, same result."""
    body = {"metadata": validation.check_metadata(metadata)}
    return ops.MODIFY_MESSAGE.request(
        {"thread_id": thread_id, "message_id": message_id}, body=_json(body)
    )


def build_delete(thread_id: str, message_id: str) -> Request[models.DeletedMessage]:
    """``DELETE threads/{thread_id}/messages/{message_id}``."""
    return ops.DELETE_MESSAGE.request({"thread_id": thread_id, "message_id": message_id})


def _page_query(
    limit: int,
    order: Order,
    after: str | None,
    before: str | None,
    run_id: str | None = None,
    *,
    check_cursors: bool = True,
) -> tuple[tuple[str, str], ...]:
    query = [
        ("limit", str(validation.check_page_size(limit, "limit"))),
        ("order", validation.check_order(order)),
    ]
    for name, value in (("after", after), ("before", before)):
        if value is None:
            continue
        if check_cursors:
            validation.check_cursor(name, value)
        elif not isinstance(value, str) or not value:
            # a cursor taken from the server's own ids: any non-empty str, sent quoted
            raise errors.APIResponseValidationError(
                f"the server sent an item id that cannot be a cursor: {value!r}"[:200]
            )
        query.append((name, value))
    if validation.check_cursor("run_id", run_id) is not None:
        query.append(("run_id", run_id))  # type: ignore[arg-type]  # checked just above
    return tuple(query)


def build_list(
    thread_id: str,
    *,
    limit: int = 100,
    order: Order = "desc",
    after: str | None = None,
    before: str | None = None,
    run_id: str | None = None,
    check_cursors: bool = True,
) -> Request[models.MessagePage]:
    """``GET threads/{thread_id}/messages`` for one page.

    ``check_cursors=False`` is for cursors taken from the server's own ids: they are
    sent percent-quoted whatever they hold, never refused as the caller's mistake.
    """
    query = _page_query(limit, order, after, before, run_id, check_cursors=check_cursors)
    return ops.LIST_MESSAGES.request({"thread_id": thread_id}, query=query)


def build_list_files(
    thread_id: str,
    message_id: str,
    *,
    limit: int = 100,
    order: Order = "desc",
    after: str | None = None,
    before: str | None = None,
    check_cursors: bool = True,
) -> Request[models.MessageFilePage]:
    """v1 ``GET threads/{thread_id}/messages/{message_id}/files`` for one page."""
    query = _page_query(limit, order, after, before, check_cursors=check_cursors)
    return ops.LIST_FILES.request({"thread_id": thread_id, "message_id": message_id}, query=query)


def build_retrieve_file(
    thread_id: str, message_id: str, file_id: str
) -> Request[models.MessageFile]:
    """v1 ``GET threads/{thread_id}/messages/{message_id}/files/{file_id}``."""
    return ops.RETRIEVE_FILE.request(
        {"thread_id": thread_id, "message_id": message_id, "file_id": file_id}
    )


def build_list_threads(
    *,
    limit: int = 100,
    order: Order = "desc",
    after: str | None = None,
    before: str | None = None,
    check_cursors: bool = True,
) -> Request[models.ThreadPage]:
    """``GET threads`` for one page (where the service lists threads: Foundry's classic
    agents; elsewhere a 404 or 405 becomes ``ThreadListingUnsupportedError``)."""
    query = _page_query(limit, order, after, before, check_cursors=check_cursors)
    return ops.LIST_THREADS.request({}, query=query)


def _tool_resources(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise errors.InvalidArgumentError(
            f"tool_resources must be a mapping, not {type(value).__name__}"
        )
    return dict(value)


def build_create_thread(
    *,
    messages: object = None,
    metadata: object = None,
    tool_resources: object = None,
    api_version: ApiVersion = "v2",
    idempotency_key: str | None = None,
) -> Request[models.Thread]:
    """``POST threads``: a new thread, optionally with its first messages."""
    body: dict[str, Any] = {}
    if messages is not None:
        if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Iterable):
            raise errors.InvalidArgumentError("messages must be a list of message dicts")
        body["messages"] = [_initial_message(m, i, api_version) for i, m in enumerate(messages)]
    meta = validation.check_metadata(metadata)
    if meta is not None:
        body["metadata"] = meta
    resources = _tool_resources(tool_resources)
    if resources is not None:
        body["tool_resources"] = resources
    return ops.CREATE_THREAD.request({}, body=_json(body), idempotency_key=idempotency_key)


def _initial_message(item: object, index: int, api_version: ApiVersion) -> Any:
    """One of create_thread's ``messages``, checked as :func:`build_create` checks its body."""
    if not isinstance(item, Mapping):
        raise errors.InvalidArgumentError(f"messages[{index}] must be a dict")
    unknown = set(item) - {"role", "content", "attachments", "metadata", "file_ids"}
    if unknown:
        raise errors.InvalidArgumentError(f"messages[{index}] has unknown keys {sorted(unknown)}")
    try:
        request = build_create(
            "thread_new",
            role=item.get("role"),  # type: ignore[arg-type]  # checked by build_create
            content=item.get("content"),
            attachments=item.get("attachments"),
            metadata=item.get("metadata"),
            file_ids=item.get("file_ids"),
            api_version=api_version,
        )
    except errors.InvalidArgumentError as exc:
        raise errors.InvalidArgumentError(f"messages[{index}]: {exc}") from None
    return orjson.loads(request.body or b"{}")


def build_retrieve_thread(thread_id: str) -> Request[models.Thread]:
    """``GET threads/{thread_id}``."""
    return ops.RETRIEVE_THREAD.request({"thread_id": thread_id})


def build_modify_thread(
    thread_id: str, *, metadata: object, tool_resources: object = None
) -> Request[models.Thread]:
    """``POST threads/{thread_id}``: replace its metadata (and tool resources)."""
    body: dict[str, Any] = {"metadata": validation.check_metadata(metadata)}
    resources = _tool_resources(tool_resources)
    if resources is not None:
        body["tool_resources"] = resources
    return ops.MODIFY_THREAD.request({"thread_id": thread_id}, body=_json(body))


def build_delete_thread(thread_id: str) -> Request[models.DeletedThread]:
    """``DELETE threads/{thread_id}``."""
    return ops.DELETE_THREAD.request({"thread_id": thread_id})


def endpoint_headers(endpoint: Endpoint, family: ops.Family = "assistants") -> dict[str, str]:
    """The headers sent with every request of a client, but for the credential.

    Requests of the Assistants API say its version in ``OpenAI-Beta``; those of the
    Conversations API (``family="conversations"``) send no such header.
    """
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if family == "assistants":
        headers["OpenAI-Beta"] = f"assistants={endpoint.api_version}"
    if endpoint.organization:
        headers["OpenAI-Organization"] = endpoint.organization
    if endpoint.project:
        headers["OpenAI-Project"] = endpoint.project
    headers.update(endpoint.default_headers)
    return headers


def auth_header(endpoint: Endpoint, secret: Secret | str) -> tuple[str, str]:
    """The credential's header: ``api-key`` for Azure keys, else a Bearer ``Authorization``."""
    value = secret if isinstance(secret, str) else secret.reveal()
    if endpoint.azure is not None and not endpoint.azure.ad_token:
        return "api-key", value
    return "Authorization", f"Bearer {value}"


def check_secret(value: str, what: str = "the API key") -> str:
    """A key or token that can go in a header: no CR, LF, NUL; never repeated in the error."""
    return validation.check_header_value(what, value, secret=True)


def prepare(
    endpoint: Endpoint,
    request: Request[Any],
    *,
    extra_query: Mapping[str, str] | None = None,
) -> str:
    """The full URL of ``request`` under ``endpoint`` (path and query percent-encoded).

    Conversations live on Microsoft's v1 route whatever route the client's threads take:
    ``{endpoint}/openai/v1/conversations`` (Azure OpenAI, classic or v1; a Foundry project
    endpoint), with no ``api-version``. One client reaches both.
    """
    base = endpoint.base_url.rstrip("/")
    azure = endpoint.azure
    versioned = azure is not None and azure.api_version is not None
    if azure is not None and request.op.family == "conversations":
        versioned = False
        if azure.route != "v1":
            base = f"{base}/openai/v1"
    elif azure is not None and azure.route == "classic":
        base = f"{base}/openai"
    query: list[tuple[str, str]] = list(endpoint.default_query.items())
    if versioned and azure is not None and azure.api_version is not None:
        query.append(("api-version", azure.api_version))
    query.extend(request.query)
    if extra_query:
        query.extend(extra_query.items())
    url = f"{base}/{request.path}"
    if query:
        url = f"{url}?{urlencode(query, quote_via=quote, safe='')}"
    return url


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's ``x-request-id``, if it sent one."""
    return parse_request_id(headers)


def error_from_reply(status: int, headers: Mapping[str, str], body: bytes) -> errors.APIStatusError:
    """The typed error for a non-2xx reply (see :func:`replies.error_from_reply`)."""
    return replies.error_from_reply(status, headers, body)


def parse_reply(status: int, headers: Mapping[str, str], body: bytes, cls: type[T]) -> T:
    """A 2xx reply's body as ``cls``; any other status as its typed error."""
    return replies.decode_reply(HttpReply(status, headers, body, ""), cls, replies.Scrubber(""))
