"""The arguments of each call, checked, made into the typed request of its declaration
(:mod:`openai_messages._core.operations`). Where a request goes is
:mod:`openai_messages._core.endpoint`'s."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeVar

import attrs
import orjson

from .. import errors
from .._codec import converter, models
from .._codec.literals import ApiVersion as ApiVersion  # also protocol.ApiVersion, as before
from .._codec.literals import Order, Role
from . import checks as validation
from . import operations as ops
from .defaults import PAGE_SIZE
from .operations import Request

__all__ = [
    "IDEMPOTENCY_MARKER",
    "Request",
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
    "with_marker",
]

T = TypeVar("T")

IDEMPOTENCY_MARKER: Final = "om_idempotency_key"
"""The metadata key under which a message create stores its idempotency key (see README)."""


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
    limit: int = PAGE_SIZE,
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
    limit: int = PAGE_SIZE,
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
    limit: int = PAGE_SIZE,
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
