"""The I/O-free protocol core: requests out of call arguments, models or errors out of replies.

Nothing here touches the network. :func:`build_*` functions validate arguments and
return a :class:`Request`; :func:`prepare` places it under a client's base URL with its
headers; :func:`parse_reply` turns a status, headers and body into a model or a typed
error.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import attrs
import orjson

from . import converter, errors, validation
from ._version import __version__

__all__ = [
    "AzureSettings",
    "Endpoint",
    "Request",
    "Secret",
    "build_create",
    "build_delete",
    "build_list",
    "build_list_files",
    "build_modify",
    "build_retrieve",
    "build_retrieve_file",
    "auth_header",
    "endpoint_headers",
    "error_from_reply",
    "parse_reply",
    "prepare",
    "same_origin",
]

T = TypeVar("T")
ApiVersion = Literal["v1", "v2"]
Operation = Literal["create", "retrieve", "modify", "delete", "list", "list_files", "retrieve_file"]

USER_AGENT: Final = (
    f"openai_messages/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"
)


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


@attrs.frozen
class Request:
    """One API call, before it is placed under a base URL."""

    operation: Operation
    method: str
    path: str
    """Relative path, ids already percent-quoted, e.g. ``threads/thread_1/messages``."""
    query: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    idempotent: bool = True
    """Whether a blind re-send can never change the outcome."""


@attrs.frozen
class AzureSettings:
    """Azure OpenAI: ``/openai/...`` paths, the ``api-version`` query, the ``api-key`` header."""

    api_version: str = "2024-05-01-preview"
    ad_token: bool = False
    """True when the secret is an Entra ID (AD) token sent as a Bearer token."""


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
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise errors.InvalidArgumentError(
                f"base_url must be an absolute http(s) URL, got {self.base_url!r}"
            )
        if self.api_version not in ("v1", "v2"):
            raise errors.InvalidArgumentError(
                f"api_version must be 'v1' or 'v2', got {self.api_version!r}"
            )


def _messages_path(thread_id: str) -> str:
    return f"threads/{validation.quote_id('thread_id', thread_id)}/messages"


def _message_path(thread_id: str, message_id: str) -> str:
    return f"{_messages_path(thread_id)}/{validation.quote_id('message_id', message_id)}"


def _json(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body)


_JSON_HEADERS: Final[Mapping[str, str]] = {"Content-Type": "application/json"}


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
    role: str,
    content: object,
    attachments: object = None,
    metadata: object = None,
    file_ids: object = None,
    api_version: ApiVersion = "v2",
    idempotency_key: str | None = None,
) -> Request:
    """``POST threads/{thread_id}/messages``. Not idempotent unless the server honours the key."""
    path = _messages_path(thread_id)
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
    if meta is not None:
        body["metadata"] = meta
    headers = dict(_JSON_HEADERS)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return Request("create", "POST", path, body=_json(body), headers=headers, idempotent=False)


def build_retrieve(thread_id: str, message_id: str) -> Request:
    """``GET threads/{thread_id}/messages/{message_id}``."""
    return Request("retrieve", "GET", _message_path(thread_id, message_id))


def build_modify(thread_id: str, message_id: str, *, metadata: object) -> Request:
    """``POST threads/{thread_id}/messages/{message_id}``: same metadata twice, same result."""
    path = _message_path(thread_id, message_id)
    body = {"metadata": validation.check_metadata(metadata)}
    return Request("modify", "POST", path, body=_json(body), headers=dict(_JSON_HEADERS))


def build_delete(thread_id: str, message_id: str) -> Request:
    """``DELETE threads/{thread_id}/messages/{message_id}``."""
    return Request("delete", "DELETE", _message_path(thread_id, message_id))


def _page_query(
    limit: int, order: str, after: str | None, before: str | None, run_id: str | None = None
) -> tuple[tuple[str, str], ...]:
    query = [
        ("limit", str(validation.check_page_size(limit, "limit"))),
        ("order", validation.check_order(order)),
    ]
    for name, value in (("after", after), ("before", before), ("run_id", run_id)):
        if validation.check_cursor(name, value) is not None:
            query.append((name, value))  # type: ignore[arg-type]  # checked just above
    return tuple(query)


def build_list(
    thread_id: str,
    *,
    limit: int = 100,
    order: str = "desc",
    after: str | None = None,
    before: str | None = None,
    run_id: str | None = None,
) -> Request:
    """``GET threads/{thread_id}/messages`` for one page."""
    query = _page_query(limit, order, after, before, run_id)
    return Request("list", "GET", _messages_path(thread_id), query=query)


def build_list_files(
    thread_id: str,
    message_id: str,
    *,
    limit: int = 100,
    order: str = "desc",
    after: str | None = None,
    before: str | None = None,
) -> Request:
    """v1 ``GET threads/{thread_id}/messages/{message_id}/files`` for one page."""
    path = f"{_message_path(thread_id, message_id)}/files"
    return Request("list_files", "GET", path, query=_page_query(limit, order, after, before))


def build_retrieve_file(thread_id: str, message_id: str, file_id: str) -> Request:
    """v1 ``GET threads/{thread_id}/messages/{message_id}/files/{file_id}``."""
    path = f"{_message_path(thread_id, message_id)}/files/{validation.quote_id('file_id', file_id)}"
    return Request("retrieve_file", "GET", path)


def endpoint_headers(endpoint: Endpoint) -> dict[str, str]:
    """The headers sent with every request of a client, but for the credential."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    headers["OpenAI-Beta"] = f"assistants={endpoint.api_version}"
    if endpoint.organization:
        headers["OpenAI-Organization"] = endpoint.organization
    if endpoint.project:
        headers["OpenAI-Project"] = endpoint.project
    headers.update(endpoint.default_headers)
    return headers


def auth_header(endpoint: Endpoint, secret: Secret) -> tuple[str, str]:
    """The credential's header: ``api-key`` for Azure keys, else a Bearer ``Authorization``."""
    if endpoint.azure is not None and not endpoint.azure.ad_token:
        return "api-key", secret.reveal()
    return "Authorization", f"Bearer {secret.reveal()}"


AUTH_HEADERS: Final = frozenset({"authorization", "api-key"})


def prepare(
    endpoint: Endpoint,
    request: Request,
    *,
    extra_query: Mapping[str, str] | None = None,
) -> str:
    """The full URL of ``request`` under ``endpoint`` (path and query percent-encoded)."""
    base = endpoint.base_url.rstrip("/")
    if endpoint.azure is not None:
        base = f"{base}/openai"
    query: list[tuple[str, str]] = list(endpoint.default_query.items())
    if endpoint.azure is not None:
        query.append(("api-version", endpoint.azure.api_version))
    query.extend(request.query)
    if extra_query:
        query.extend(extra_query.items())
    url = f"{base}/{request.path}"
    if query:
        url = f"{url}?{urlencode(query, quote_via=quote, safe='')}"
    return url


def same_origin(first: str, second: str) -> bool:
    """Whether two absolute URLs share scheme, host and port."""
    a, b = urlsplit(first), urlsplit(second)
    default = {"http": 80, "https": 443}
    return (
        a.scheme.lower() == b.scheme.lower()
        and (a.hostname or "").lower() == (b.hostname or "").lower()
        and (a.port or default.get(a.scheme.lower())) == (b.port or default.get(b.scheme.lower()))
    )


_STATUS_ERRORS: Final[Mapping[int, type[errors.APIStatusError]]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.UnprocessableEntityError,
    429: errors.RateLimitError,
}


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's ``x-request-id``, if it sent one."""
    return headers.get("x-request-id") or headers.get("X-Request-Id")


def error_from_reply(
    status: int, headers: Mapping[str, str], body: bytes, *, retry_after: float | None = None
) -> errors.APIStatusError:
    """The typed error for a non-2xx reply, with the server's message, type, code and param."""
    request_id = request_id_of(headers)
    message, error_type, code, param = None, None, None, None
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    detail = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(detail, dict):
        message = detail.get("message") if isinstance(detail.get("message"), str) else None
        error_type = detail.get("type") if isinstance(detail.get("type"), str) else None
        code = str(detail["code"]) if detail.get("code") is not None else None
        param = detail.get("param") if isinstance(detail.get("param"), str) else None
    if message is None:
        message = errors.snippet(body) or "no error message in the reply"
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request_id": request_id,
        "error_type": error_type,
        "code": code,
        "param": param,
        "headers": headers,
    }
    if status == 429:
        return errors.RateLimitError(message, retry_after=retry_after, **kwargs)
    cls = _STATUS_ERRORS.get(status)
    if cls is None:
        cls = errors.InternalServerError if status >= 500 else errors.APIStatusError
    return cls(message, **kwargs)


def parse_reply(status: int, headers: Mapping[str, str], body: bytes, cls: type[T]) -> T:
    """A 2xx reply's body as ``cls``; any other status as its typed error."""
    if not 200 <= status < 300:
        raise error_from_reply(status, headers, body)
    try:
        return converter.decode(body, cls)
    except errors.APIResponseValidationError as exc:
        raise errors.APIResponseValidationError(
            exc.detail, body=body, status_code=status, request_id=request_id_of(headers)
        ) from None
