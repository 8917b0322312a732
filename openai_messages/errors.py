"""The typed errors raised by openai_messages.

Every error derives from :class:`OpenAIMessagesError`. None of them ever holds
the API key: they are built from the server's reply and the request's method,
path and query, never from its headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._codec.conversation_models import ConversationItem

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "CreateOutcomeUnknownError",
    "CredentialError",
    "InternalServerError",
    "InvalidArgumentError",
    "ItemsPartiallyStoredError",
    "MessageNotMappableError",
    "NotFoundError",
    "OpenAIMessagesError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "ResponseTooLargeError",
    "StoredButUnreadableError",
    "ThreadListingUnsupportedError",
    "UnprocessableEntityError",
]

_SNIPPET_LIMIT = 200


def snippet(body: bytes | str | None, limit: int = _SNIPPET_LIMIT) -> str:
    """A short, printable excerpt of a response body, for error messages."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class OpenAIMessagesError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidArgumentError(OpenAIMessagesError, ValueError):
    """A call argument was refused before anything was sent."""


class MessageNotMappableError(OpenAIMessagesError, ValueError):
    """A thread message that cannot become conversation items (see
    :func:`~openai_messages.conversation_items`): ``reason`` says what in it, by index."""

    message_id: str
    thread_id: str | None
    reason: str

    def __init__(
        self, message: str, *, message_id: str, thread_id: str | None, reason: str
    ) -> None:
        super().__init__(message)
        self.message_id = message_id
        self.thread_id = thread_id
        self.reason = reason


class CredentialError(OpenAIMessagesError):
    """No usable token could be had: the provider, credential or command failed, or
    gave something that cannot be a token. Never holds the token itself; not retried."""


class ClientClosedError(OpenAIMessagesError, RuntimeError):
    """The client was used after :meth:`Client.close`."""


class APIError(OpenAIMessagesError):
    """An error that came out of talking to the server."""

    message: str
    request_id: str | None

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request id: {self.request_id})"
        return self.message


class APIConnectionError(APIError):
    """The server could not be reached, or the connection broke mid-reply.

    ``maybe_delivered`` is False when the request surely never reached the server
    (the connection could not be opened), True when it may have been applied.
    """

    maybe_delivered: bool

    def __init__(
        self, message: str, *, request_id: str | None = None, maybe_delivered: bool = True
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.maybe_delivered = maybe_delivered


class RedirectError(APIConnectionError):
    """The server redirected somewhere the client will not follow (never retried)."""


class APITimeoutError(APIConnectionError):
    """The request timed out (connecting, or waiting for the reply)."""


class APIResponseValidationError(APIError):
    """The server's reply could not be read: not JSON, truncated, or not the expected shape."""

    detail: str
    status_code: int | None
    body_snippet: str

    def __init__(
        self,
        message: str,
        *,
        body: bytes | str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.detail = message
        self.status_code = status_code
        self.body_snippet = snippet(body)
        full = message
        if status_code is not None:
            full = f"{full} (HTTP {status_code})"
        if self.body_snippet:
            full = f"{full}; body starts: {self.body_snippet!r}"
        super().__init__(full, request_id=request_id)


class ResponseTooLargeError(APIResponseValidationError):
    """The reply body was larger than the client's cap and was not read (counted decompressed)."""

    head: bytes
    """The first bytes of the body, as far as they were read (never shown)."""

    def __init__(self, message: str, *, head: bytes = b"", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.head = head


class StoredButUnreadableError(APIResponseValidationError):
    """A create's 2xx reply could not be read: the object IS stored; do not create it again.

    A message create raises it only after looking the message up by its key and not
    finding it. ``object_id`` is its id when it could be read from the start of the body.
    """

    object_id: str | None

    def __init__(self, message: str, *, object_id: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.object_id = object_id


class APIStatusError(APIError):
    """The server answered with an error status. Subclasses name the status."""

    status_code: int
    error_type: str | None
    code: str | None
    param: str | None
    headers: Mapping[str, str]

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status_code}: {message}", request_id=request_id)
        self.status_code = status_code
        self.error_type = error_type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404: no such thread, message or file."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429. ``retry_after`` is the wait the server asked for, in seconds, if any."""

    retry_after: float | None

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        if retry_after is not None:
            message = f"{message} (server asked to wait {retry_after:g} s)"
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """HTTP 500 or above."""


class ThreadListingUnsupportedError(APIStatusError):
    """The service does not list threads: ``GET /threads`` answered 404 or 405.

    So do OpenAI's retired API, Azure OpenAI's Assistants and most compatible servers;
    Foundry's classic agents list them. Take the thread ids from your own records
    instead. Raised by :meth:`Client.list_threads` in place of the status error (on a
    404 it is also a :class:`NotFoundError`); never an empty list.
    """

    @classmethod
    def of(cls, error: APIStatusError) -> ThreadListingUnsupportedError:
        """The error of a listing refused with ``error`` (a 404 or a 405)."""
        told = error.message.removeprefix(f"HTTP {error.status_code}: ")
        kind = _ListingNotFound if error.status_code == 404 else cls
        return kind(
            f"this service cannot list threads (GET /threads: {told}); "
            "take the thread ids from your own records",
            status_code=error.status_code,
            request_id=error.request_id,
            error_type=error.error_type,
            code=error.code,
            param=error.param,
            headers=error.headers,
        )


class _ListingNotFound(ThreadListingUnsupportedError, NotFoundError):
    """A :class:`ThreadListingUnsupportedError` of a 404: a :class:`NotFoundError` too."""


_ListingNotFound.__name__ = _ListingNotFound.__qualname__ = "ThreadListingUnsupportedError"


class PaginationError(OpenAIMessagesError):
    """The server's pages cannot be walked safely (a loop, a repeat, or order going backwards)."""

    cursor: str | None

    def __init__(self, message: str, *, cursor: str | None) -> None:
        super().__init__(f"{message} (cursor: {cursor!r})")
        self.cursor = cursor


class CreateOutcomeUnknownError(APIError):
    """A create may or may not have stored the message, and the client could not find out.

    ``idempotency_key`` is the key sent with every attempt (a message create also puts it
    in the message's metadata when there is room). Settle a message create later with
    ``await client.find_created(err.thread_id, err.idempotency_key)``: the stored message,
    or None if it was not stored (see :meth:`Client.find_created`).
    """

    thread_id: str | None
    """The thread of a message create; None for a thread or conversation create."""
    idempotency_key: str
    conversation_id: str | None
    """The conversation of an items create; None otherwise."""

    def __init__(
        self,
        message: str,
        *,
        thread_id: str | None,
        idempotency_key: str,
        request_id: str | None = None,
        conversation_id: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.thread_id = thread_id
        self.idempotency_key = idempotency_key
        self.conversation_id = conversation_id


class ItemsPartiallyStoredError(APIError):
    """An items create failed after the server stored only the first items of the batch.

    ``stored`` are the items it stored (the first ``len(stored)`` of what was sent, in
    order); the other ``sent - len(stored)`` were not stored: send those, not the batch.
    """

    conversation_id: str
    stored: tuple[ConversationItem, ...]
    """The stored items (:class:`~openai_messages.MessageItem` or ``UnknownItem``)."""
    sent: int

    def __init__(
        self,
        message: str,
        *,
        conversation_id: str,
        stored: tuple[ConversationItem, ...],
        sent: int,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.conversation_id = conversation_id
        self.stored = stored
        self.sent = sent
