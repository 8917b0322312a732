"""Every endpoint of the client, declared once (pure data), and the one request builder.

An :class:`Operation` says how a call goes on the wire (method, path template, the
:class:`Query` parameters it takes, each with its check and default), what its reply is
(the response model), and what an ambiguous failure means, that is a failure after which
the server may or may not have applied the request (a 5xx, a read timeout, a connection
dropped after sending):

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
server to honour it.

:meth:`Operation.request` is the one request builder: the path ids and the query values
checked as declared, the body (of a create or a modify, from
:mod:`openai_messages._core.bodies`) encoded. Adding an endpoint is one declaration here
and one method in :mod:`openai_messages.client` (with a ``_value_of`` line in ``Client``,
or, for a listing, its ``Client`` method beside the ``WithResponse`` one, both handing
the declaration to the one walk), a body function for a create or a modify, its model,
its emulator route, its docs and tests. A listing declares ``query=PAGE_QUERIES``.
"""

from __future__ import annotations

import enum
import functools
import string
import types
from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, Literal, TypeVar

import attrs
import orjson

from .. import errors
from .._codec import models
from . import checks as validation
from .defaults import PAGE_SIZE

__all__ = [
    "Ambiguity",
    "Family",
    "Operation",
    "PAGE_QUERIES",
    "Query",
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
    """The query as sent (percent-quoted when the request is placed under its URL)."""
    body: bytes | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    target: str = ""
    """The path id the operation names as its target (what a delete deletes)."""

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


@attrs.frozen
class Query:
    """One query parameter of an operation: sent as ``name=<value>`` once checked, its
    ``default`` when the call gives none, left out when the value is None."""

    name: str
    check: Callable[[Any], object]
    """The caller's value checked: the value to send (None: left out), or
    :class:`~openai_messages.errors.InvalidArgumentError` naming ``name``."""
    default: object = None


def _cursor(name: str) -> Query:
    """An optional id in the query (``after``, ``before``, ``run_id``)."""
    return Query(name, functools.partial(validation.check_cursor, name))


def _limit(value: object) -> int:
    return validation.check_page_size(value, "limit")


PAGE_QUERIES: Final = (
    Query("limit", _limit, PAGE_SIZE),
    Query("order", validation.check_order, "desc"),
    _cursor("after"),
    _cursor("before"),
)
"""The query of every listing: a page's size, its order and its cursor."""


def _server_value(name: str, value: object) -> str | None:
    """A query value taken from the server's own replies (the next cursor of a walk): any
    non-empty str, sent percent-quoted whatever it holds, never refused as the caller's
    mistake; anything else is the server's fault."""
    if value is None:
        return None
    if isinstance(value, str) and value:
        return value
    raise errors.APIResponseValidationError(
        f"the server sent an item id that cannot be a cursor ({name}=): {value!r}"[:200]
    )


_JSON_HEADERS: Final[Mapping[str, str]] = {"Content-Type": "application/json"}
_NOTHING: Final[Mapping[str, Any]] = types.MappingProxyType({})


@attrs.frozen
class Operation(Generic[T]):
    """One endpoint: ``method path?query`` answering ``response``; see the module docstring."""

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
    (see :func:`openai_messages._core.endpoint.prepare`)."""
    query: tuple[Query, ...] = ()
    """The query parameters it takes, in the order they are sent."""
    fields: tuple[str, ...] = attrs.field(init=False)
    """The ids of the path, in its order."""
    target: str = attrs.field(kw_only=True)
    """The path id a request's ``target`` is (default: the last one, what a delete deletes)."""
    _ids: frozenset[str] = attrs.field(init=False, repr=False, eq=False)
    _names: frozenset[str] = attrs.field(init=False, repr=False, eq=False)

    @fields.default
    def _fields(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.path) if name)

    @target.default
    def _target(self) -> str:
        return self.fields[-1] if self.fields else ""

    @_ids.default
    def _id_names(self) -> frozenset[str]:
        return frozenset(self.fields)

    @_names.default
    def _query_names(self) -> frozenset[str]:
        return frozenset(entry.name for entry in self.query)

    def __attrs_post_init__(self) -> None:
        if len(self._names) != len(self.query) or self._names & set(self.fields):
            raise ValueError(f"{self.name}: each query parameter and path id is named once")
        if self.target and self.target not in self.fields:
            raise ValueError(f"{self.name}: the target {self.target!r} is not a path id")

    @property
    def creates(self) -> bool:
        """Whether a blind re-send may store a second copy."""
        return self.ambiguity in (Ambiguity.RECONCILE, Ambiguity.REPORT)

    def request(
        self,
        ids: Mapping[str, object] = _NOTHING,
        query: Mapping[str, object] = _NOTHING,
        *,
        server: Mapping[str, object] = _NOTHING,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Request[T]:
        """The request of this operation: each of ``ids`` (one per path field) checked and
        percent-quoted, each declared query parameter checked (its default when ``query``
        has none), ``body`` encoded as JSON.

        ``server`` holds query values taken from the server's own replies (a walk's next
        cursor): sent whatever they hold, never refused as the caller's mistake, but a
        value that is not a non-empty str raises
        :class:`~openai_messages.errors.APIResponseValidationError`.
        """
        if ids.keys() != self._ids:
            raise TypeError(f"{self.name} takes the ids {self.fields}, got {sorted(ids)}")
        if not self._names.issuperset(query) or not self._names.issuperset(server):
            unknown = sorted((query.keys() | server.keys()) - self._names)
            raise TypeError(f"{self.name} has no query parameter {unknown}")
        path = self.path
        if ids:
            path = path.format_map(
                {name: validation.quote_id(name, ids[name]) for name in self.fields}
            )
        sent: list[tuple[str, str]] = []
        for entry in self.query:
            name = entry.name
            value: object
            if name in server:
                value = _server_value(name, server[name])
            else:
                value = entry.check(query.get(name, entry.default))
            if value is not None:
                sent.append((name, str(value)))
        headers: dict[str, str] = {}
        encoded = None
        if body is not None:
            encoded = orjson.dumps(body)
            headers.update(_JSON_HEADERS)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = validation.check_header_value(
                "idempotency_key", idempotency_key
            )
        return Request(
            self,
            path,
            query=tuple(sent),
            body=encoded,
            headers=headers,
            target=str(ids[self.target]) if self.target else "",
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
LIST_MESSAGES: Final = Operation(
    "list", "GET", _MESSAGES, models.MessagePage, query=(*PAGE_QUERIES, _cursor("run_id"))
)
LIST_FILES: Final = Operation(
    "list_files", "GET", f"{_MESSAGE}/files", models.MessageFilePage, query=PAGE_QUERIES
)
RETRIEVE_FILE: Final = Operation(
    "retrieve_file", "GET", f"{_MESSAGE}/files/{{file_id}}", models.MessageFile
)

LIST_THREADS: Final = Operation(
    "list_threads",
    "GET",
    "threads",
    models.ThreadPage,
    unserved=errors.ThreadListingUnsupportedError.of,
    query=PAGE_QUERIES,
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
