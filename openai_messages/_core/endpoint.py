"""Where a client talks: the endpoint (OpenAI, compatible, Azure, Foundry), its fixed
headers, the credential's header, and a request's full URL under it. Pure."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Final, Literal, get_args
from urllib.parse import quote, urlencode, urlsplit

import attrs

from .. import errors
from .._codec.literals import ApiVersion
from .._version import __version__
from . import checks as validation
from . import operations as ops
from .defaults import AZURE_API_VERSION
from .operations import Request

__all__ = [
    "RETIRED_HOSTS",
    "AzureRoute",
    "AzureSettings",
    "Endpoint",
    "auth_header",
    "check_base_url",
    "endpoint_headers",
    "prepare",
]

USER_AGENT: Final = (
    f"openai_messages/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"
)


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

    api_version: str | None = AZURE_API_VERSION
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


def auth_header(endpoint: Endpoint, secret: str) -> tuple[str, str]:
    """The credential's header: ``api-key`` for Azure keys, else a Bearer ``Authorization``."""
    if endpoint.azure is not None and not endpoint.azure.ad_token:
        return "api-key", secret
    return "Authorization", f"Bearer {secret}"


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
        url = f"{url}?{encode_query(query)}"
    return url


def encode_query(pairs: list[tuple[str, str]]) -> str:
    """``urlencode(pairs, quote_via=quote, safe="")``, without quoting what needs none
    (the page query of every request of a walk: ``limit``, ``order``, a cursor id)."""
    parts = []
    for key, value in pairs:
        if type(key) is not str or type(value) is not str:
            return urlencode(pairs, quote_via=quote, safe="")
        parts.append(f"{validation.quote_component(key)}={validation.quote_component(value)}")
    return "&".join(parts)
