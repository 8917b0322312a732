"""The one place a reply becomes a result: a model, or a typed error with the secret scrubbed.

Pure: no I/O. The secret is blanked out of everything an error carries, both as the
server sent it (raw bytes, or escaped in JSON: ``\\uXXXX``, ``\\/``, ``\\"``) and once
decoded (message, type, code, param, headers, body excerpt).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import orjson

from .. import errors
from .._codec import converter
from .exchange import HttpReply
from .headers import parse_request_id, parse_retry_after
from .scrubbing import Scrubber
from .unchained import raise_alone

__all__ = [
    "SUNSET_NOTE",
    "decode_reply",
    "error_from_reply",
    "stored_but_unreadable",
]

T = TypeVar("T")
SUNSET_NOTE: Final = (
    "OpenAI retired the Assistants API (threads and messages) on 2026-08-26, so "
    "api.openai.com no longer serves it. Point the client at a service that does: "
    "Client.foundry(project_endpoint, credential=...) for the Foundry Agent Service, "
    "Client.azure(endpoint=..., ...) for Azure OpenAI, or Client(base_url=...) for a "
    "compatible server (LiteLLM's proxy, a self-hosted one)."
)
"""Added to a 404 or 410 from a retired host
(:data:`~openai_messages._core.endpoint.RETIRED_HOSTS`)."""

_STATUS_ERRORS: Final[Mapping[int, type[errors.APIStatusError]]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.UnprocessableEntityError,
    429: errors.RateLimitError,
}
_ID_AT_START: Final = re.compile(rb'"id"\s*:\s*"([A-Za-z0-9_\-.:]{1,256})"')


def _clean_body(body: bytes, scrub: Scrubber) -> tuple[Any, bytes]:
    """The decoded payload (None if not JSON) and a body safe to excerpt, both scrubbed."""
    try:
        payload = scrub.json(orjson.loads(body)) if body else None
    except orjson.JSONDecodeError:
        return None, scrub.bytes(body)
    return payload, orjson.dumps(payload)


def error_from_reply(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    scrub: Scrubber | None = None,
    *,
    retired: bool = False,
) -> errors.APIStatusError:
    """The typed error of a non-2xx reply, with the server's message, type, code and param.

    ``retired``: the reply came from a host that retired this API; a 404 or 410 then
    carries :data:`SUNSET_NOTE` after the server's message.
    """
    scrub = scrub or Scrubber()
    payload, clean = _clean_body(body, scrub)
    message, error_type, code, param = None, None, None, None
    detail = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(detail, dict):
        message = detail.get("message") if isinstance(detail.get("message"), str) else None
        error_type = detail.get("type") if isinstance(detail.get("type"), str) else None
        code = scrub.text(str(detail["code"])) if detail.get("code") is not None else None
        param = detail.get("param") if isinstance(detail.get("param"), str) else None
    if message is None:
        message = errors.snippet(clean if payload is not None else scrub.bytes(body)) or (
            "no error message in the reply"
        )
    if retired and status in (404, 410):
        message = f"{message} ({SUNSET_NOTE})"
    safe_headers = scrub.headers(headers)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request_id": parse_request_id(safe_headers),
        "error_type": error_type,
        "code": code,
        "param": param,
        "headers": safe_headers,
    }
    if status == 429:
        return errors.RateLimitError(message, retry_after=parse_retry_after(headers), **kwargs)
    cls = _STATUS_ERRORS.get(status)
    if cls is None:
        cls = errors.InternalServerError if status >= 500 else errors.APIStatusError
    return cls(message, **kwargs)


def decode_reply(reply: HttpReply, cls: type[T], scrub: Scrubber) -> T:
    """A 2xx reply's body as ``cls``; any other status as its typed error.

    A 2xx body that is not the expected shape is an ``APIResponseValidationError``
    with the status, the request id, and the problem and body excerpt scrubbed.
    """
    if not 200 <= reply.status < 300:
        raise error_from_reply(reply.status, reply.headers, reply.body, scrub)
    try:
        return converter.read_body(reply.body, cls)
    except converter.Unreadable as exc:
        failure = exc
    # outside the handler, so that the unscrubbed original is not kept as __context__
    _, clean = _clean_body(reply.body, scrub)
    raise_alone(
        failure.error(
            clean, status_code=reply.status, request_id=reply.request_id, scrub=scrub.text
        )
    )


def stored_but_unreadable(
    status: int | None,
    request_id: str | None,
    head: bytes,
    why: str,
    what: str = "message",
) -> errors.StoredButUnreadableError:
    """The error of a create whose 2xx reply could not be read: it IS stored."""
    found = _ID_AT_START.search(head[:4096])
    object_id = found.group(1).decode() if found else None
    known = f" as {object_id}" if object_id else ""
    return errors.StoredButUnreadableError(
        f"the server stored the {what}{known} (HTTP {status}) but its reply could not be "
        f"read ({why}); do not create it again",
        object_id=object_id,
        status_code=status,
        request_id=request_id,
    )
