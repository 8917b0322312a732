"""One HTTP exchange as values: the prepared request, the reply, the body cap, and the
redirect rules (credentials never go to another origin). Pure: the seam
(:mod:`openai_messages._transport.seam`) does the exchanges."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final
from urllib.parse import urljoin, urlsplit

import attrs

from .. import errors
from .._core.headers import parse_request_id

__all__ = [
    "MAX_REDIRECTS",
    "REDIRECT_STATUSES",
    "BodyLimit",
    "HttpReply",
    "PreparedRequest",
    "redirect_target",
    "same_origin",
]

logger = logging.getLogger("openai_messages")

MAX_REDIRECTS: Final = 5
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
AUTH_HEADERS: Final = frozenset({"authorization", "api-key"})


@attrs.frozen
class PreparedRequest:
    """Everything one HTTP exchange needs: absolute URL, final headers, body, time allowed."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None
    timeout: float | None = None
    """Seconds for the whole exchange (None: no limit)."""
    connect_timeout: float | None = None
    read_timeout: float | None = None
    """Seconds to wait for the server's next bytes (None: no limit)."""


@attrs.frozen
class HttpReply:
    """What the server answered: status, headers and the whole (decompressed) body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    @property
    def request_id(self) -> str | None:
        return parse_request_id(self.headers)


class BodyLimit:
    """Counts a body's decompressed bytes as they arrive; raises past ``cap``."""

    __slots__ = ("_chunks", "_headers", "_status", "cap", "size")

    def __init__(self, cap: int, status: int, headers: Mapping[str, str]) -> None:
        self.cap = cap
        self.size = 0
        self._chunks: list[bytes] = []
        self._status = status
        self._headers = headers

    def check_declared(self, declared: int | None) -> None:
        """Refuse at once a body whose (identity) ``Content-Length`` exceeds the cap."""
        if declared is not None and declared > self.cap:
            raise self._too_large(f"the reply declares {declared} bytes, more than the cap")

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._chunks.append(chunk)
        if self.size > self.cap:
            raise self._too_large("the reply is larger than the cap")

    def body(self) -> bytes:
        return self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)

    def _too_large(self, what: str) -> errors.ResponseTooLargeError:
        head = b"".join(self._chunks)[:4096]
        return errors.ResponseTooLargeError(
            f"{what} of {self.cap} bytes (decompressed)",
            head=head,
            status_code=self._status,
            request_id=parse_request_id(self._headers),
        )


def same_origin(first: str, second: str) -> bool:
    """Whether two absolute URLs share scheme, host and port."""
    a, b = urlsplit(first), urlsplit(second)
    default = {"http": 80, "https": 443}
    return (
        a.scheme.lower() == b.scheme.lower()
        and (a.hostname or "").lower() == (b.hostname or "").lower()
        and (a.port or default.get(a.scheme.lower())) == (b.port or default.get(b.scheme.lower()))
    )


def redirect_target(request: PreparedRequest, reply: HttpReply) -> PreparedRequest | None:
    """The request to send after ``reply``, or None when it is not a redirect.

    Raises :class:`RedirectError` for a ``Location`` that cannot be followed: not
    http(s), holding credentials, or malformed (host, port). The credential headers
    are dropped when the target is another origin; 303 (and 301/302 after a POST)
    become a GET without a body.
    """
    location = reply.headers.get("Location") or reply.headers.get("location")
    if reply.status not in REDIRECT_STATUSES or location is None:
        return None
    try:
        target = urljoin(request.url, location.strip())
        parts = urlsplit(target)
        parts.port  # noqa: B018  # raises ValueError for a port out of range
    except ValueError:
        raise errors.RedirectError(
            f"HTTP {reply.status}: the server redirected to a malformed location",
            request_id=reply.request_id,
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.RedirectError(
            f"HTTP {reply.status}: the server redirected to a location that is not an "
            "absolute http(s) URL",
            request_id=reply.request_id,
        )
    if parts.username is not None or parts.password is not None:
        raise errors.RedirectError(
            f"HTTP {reply.status}: the server redirected to a URL holding credentials; "
            "not followed",
            request_id=reply.request_id,
        )
    headers = request.headers
    if not same_origin(request.url, target):
        headers = {k: v for k, v in headers.items() if k.lower() not in AUTH_HEADERS}
        logger.info("redirected to another origin; credentials are not forwarded")
    method, body = request.method, request.body
    if reply.status == 303 or (reply.status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return attrs.evolve(request, method=method, url=target, headers=headers, body=body)
