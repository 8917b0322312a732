"""Every endpoint of the client, declared once (pure data).

An :class:`Operation` says how a call goes on the wire (method, path template), what
its reply is (the response model), and what an ambiguous failure means, that is a
failure after which the server may or may not have applied the request (a 5xx, a read
timeout, a connection dropped after sending):

``RESEND``
    Applying it twice is applying it once (retrieve, list, modify): re-send.
``DELETE``
    Re-send; a 404 after an ambiguous attempt means that attempt deleted it.
``RECONCILE``
    A create: find what the attempt stored before re-sending (messages can be listed).
``REPORT``
    A create that cannot be checked (most services cannot list threads): raise
    :class:`~openai_messages.errors.CreateOutcomeUnknownError`.

Creates re-send with the same ``Idempotency-Key`` instead when the client trusts the
server to honour it. Adding an endpoint is one declaration here, one builder in
:mod:`openai_messages._core.requests` (its argument checks and body), one call in
:mod:`openai_messages.client`.
"""

from __future__ import annotations

import enum
import string
from collections.abc import Callable, Mapping
from typing import Final, Generic, Literal, TypeVar

import attrs

from .. import errors
from .._codec import models
from . import checks as validation

__all__ = [
    "Ambiguity",
    "Family",
    "Operation",
    "Request",
    "CREATE_MESSAGE",
    "CREATE_THREAD",
    "DELETE_MESSAGE",
    "DELETE_THREAD",
    "LIST_FILES",
    "LIST_MESSAGES",
    "LIST_THREADS",
    "MODIFY_MESSAGE",
    "MODIFY_THREAD",
    "RETRIEVE_FILE",
    "RETRIEVE_MESSAGE",
    "RETRIEVE_THREAD",
]

T = TypeVar("T")

Family = Literal["assistants", "conversations"]
"""The API of an operation: the Assistants API (threads, messages) or Conversations."""


class Ambiguity(enum.Enum):
    """What a failure that may have applied the request means (see the module docstring)."""

    RESEND = "resend"
    DELETE = "delete"
    RECONCILE = "reconcile"
    REPORT = "report"


@attrs.frozen
class Request(Generic[T]):
    """One call of operation ``op``, before it is placed under a base URL."""

    op: Operation[T]
    path: str
    """Relative path, ids already percent-quoted, e.g. ``threads/thread_1/messages``."""
    query: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    target: str = ""
    """The last id of the path (what a delete deletes)."""

    @property
    def operation(self) -> str:
        return self.op.name

    @property
    def method(self) -> str:
        return self.op.method

    @property
    def idempotent(self) -> bool:
        """Whether a blind re-send can never change the outcome."""
        return not self.op.creates


_JSON_HEADERS: Final[Mapping[str, str]] = {"Content-Type": "application/json"}


@attrs.frozen
class Operation(Generic[T]):
    """One endpoint: ``method path`` answering ``response``; see the module docstring."""

    name: str
    method: str
    path: str
    """Template with ``{name}`` fields, each an id checked and percent-quoted."""
    response: type[T]
    ambiguity: Ambiguity = Ambiguity.RESEND
    gone: Callable[[str], T] | None = None
    """For ``DELETE``: the result when the target is gone after an ambiguous attempt."""
    unserved: Callable[[errors.APIStatusError], errors.APIStatusError] | None = None
    """For an endpoint some services do not serve: the error of its 404 or 405."""
    family: Family = "assistants"
    """Which API it belongs to: where its paths go under an endpoint, which headers it sends
    (see :func:`openai_messages._core.requests.prepare`)."""
    fields: tuple[str, ...] = attrs.field(init=False)

    @fields.default
    def _fields(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.path) if name)

    @property
    def creates(self) -> bool:
        """Whether a blind re-send may store a second copy."""
        return self.ambiguity in (Ambiguity.RECONCILE, Ambiguity.REPORT)

    def request(
        self,
        ids: Mapping[str, object],
        *,
        query: tuple[tuple[str, str], ...] = (),
        body: bytes | None = None,
        idempotency_key: str | None = None,
    ) -> Request[T]:
        """The request of this operation for ``ids`` (each checked, then quoted)."""
        quoted = {name: validation.quote_id(name, ids[name]) for name in self.fields}
        headers: dict[str, str] = {}
        if body is not None:
            headers.update(_JSON_HEADERS)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = validation.check_header_value(
                "idempotency_key", idempotency_key
            )
        return Request(
            self,
            self.path.format_map(quoted),
            query=query,
            body=body,
            headers=headers,
            target=str(ids[self.fields[-1]]) if self.fields else "",
        )


def _message_gone(message_id: str) -> models.DeletedMessage:
    return models.DeletedMessage(id=message_id, object="thread.message.deleted", deleted=True)


def _thread_gone(thread_id: str) -> models.DeletedThread:
    return models.DeletedThread(id=thread_id, object="thread.deleted", deleted=True)


_MESSAGES: Final = "threads/{thread_id}/messages"
_MESSAGE: Final = "threads/{thread_id}/messages/{message_id}"

CREATE_MESSAGE: Final = Operation("create", "POST", _MESSAGES, models.Message, Ambiguity.RECONCILE)
RETRIEVE_MESSAGE: Final = Operation("retrieve", "GET", _MESSAGE, models.Message)
MODIFY_MESSAGE: Final = Operation("modify", "POST", _MESSAGE, models.Message)
DELETE_MESSAGE: Final = Operation(
    "delete", "DELETE", _MESSAGE, models.DeletedMessage, Ambiguity.DELETE, _message_gone
)
LIST_MESSAGES: Final = Operation("list", "GET", _MESSAGES, models.MessagePage)
LIST_FILES: Final = Operation("list_files", "GET", f"{_MESSAGE}/files", models.MessageFilePage)
RETRIEVE_FILE: Final = Operation(
    "retrieve_file", "GET", f"{_MESSAGE}/files/{{file_id}}", models.MessageFile
)

LIST_THREADS: Final = Operation(
    "list_threads",
    "GET",
    "threads",
    models.ThreadPage,
    unserved=errors.ThreadListingUnsupportedError.of,
)
"""Foundry's classic agents list threads; OpenAI's retired API and Azure OpenAI do not."""
CREATE_THREAD: Final = Operation(
    "create_thread", "POST", "threads", models.Thread, Ambiguity.REPORT
)
RETRIEVE_THREAD: Final = Operation("retrieve_thread", "GET", "threads/{thread_id}", models.Thread)
MODIFY_THREAD: Final = Operation("modify_thread", "POST", "threads/{thread_id}", models.Thread)
DELETE_THREAD: Final = Operation(
    "delete_thread",
    "DELETE",
    "threads/{thread_id}",
    models.DeletedThread,
    Ambiguity.DELETE,
    _thread_gone,
)
