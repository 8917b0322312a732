"""The routes: each turns a request context into ``(status, JSON body)``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import attrs
import orjson
from aiohttp import web

from .access import Flavour
from .errors import ApiError
from .faults import PAGE_KINDS, Fault
from .store import MessageRecord, Store, Thread, select_page
from .validation import (
    NewMessage,
    bad_value,
    check_id,
    check_id_prefix,
    check_metadata,
    check_new_message,
    check_thread_messages,
    check_tool_resources,
    only_keys,
    parse_body,
    parse_limit,
    parse_order,
)

__all__ = ["ROUTE_TABLE", "Ctx", "PageQuery", "Reply", "Route", "list_body", "list_reply", "paged"]

T = TypeVar("T")
PageQuery = tuple[int, bool, "str | None", "str | None"]
"""``limit``, ascending?, ``after`` and ``before`` of a list request."""

_MODIFY = frozenset({"metadata"})
_MODIFY_THREAD = frozenset({"metadata", "tool_resources"})


@attrs.define
class Ctx:
    """What a route implementation needs."""

    request: web.Request
    store: Store
    version: int
    body: bytes
    fault: Fault | None
    flavour: Flavour = "openai"
    strict_ids: bool = True
    implicit_threads: bool = False
    list_threads: bool = False
    """Whether ``GET /threads`` is served on this prefix (always on Foundry's)."""

    def path_id(self, name: str) -> str:
        value = check_id(name, self.request.match_info[name])
        return check_id_prefix(name, value) if self.strict_ids else value

    def query_id(self, name: str) -> str | None:
        value = self.request.query.get(name)
        return None if not value else check_id(name, value)

    def page_query(self) -> PageQuery:
        """``limit``, ascending?, ``after`` and ``before`` of a list request."""
        query = self.request.query
        limit = parse_limit(query.get("limit"))
        ascending = parse_order(query.get("order"))
        return limit, ascending, self.query_id("after"), self.query_id("before")

    def thread(self) -> Thread:
        thread_id = self.path_id("thread_id")
        thread = self.store.thread(thread_id)
        if thread is None:
            raise ApiError(404, f"No thread found with id '{thread_id}'.")
        return thread

    def message(self, thread: Thread) -> MessageRecord:
        message_id = self.path_id("message_id")
        record = thread.find(message_id)
        if record is None or record.deleted:
            raise ApiError(404, f"No message found with id '{message_id}'.")
        return record

    def page_fault(self) -> str | None:
        fault = self.fault
        return fault.kind if fault is not None and fault.kind in PAGE_KINDS else None

    def list_reply(self, items: list[bytes], ids: Sequence[str], has_more: bool) -> Reply:
        """A list reply in this prefix's shape (see :func:`list_body`)."""
        return list_reply(items, ids, has_more, foundry=self.flavour == "foundry")


Reply = tuple[int, bytes]


def list_body(
    items: list[bytes],
    first: str | None,
    last: str | None,
    has_more: bool,
    *,
    foundry: bool = False,
) -> bytes:
    """A list reply built from pre-serialised items.

    OpenAI's: ``{object: "list", data, first_id, last_id, has_more}``.  Foundry's is its
    schema's ``AgentsPagedResult`` (Azure.AI.Agents TypeSpec): ``{data, last_id,
    has_more}``, with neither ``object`` nor ``first_id``.
    """
    head = b'{"data":[' if foundry else b'{"object":"list","data":['
    first_id = b"" if foundry else b',"first_id":' + orjson.dumps(first)
    return b"".join(
        (
            head,
            b",".join(items),
            b"]",
            first_id,
            b',"last_id":',
            orjson.dumps(last),
            b',"has_more":',
            b"true" if has_more else b"false",
            b"}",
        )
    )


def list_reply(
    items: list[bytes], ids: Sequence[str], has_more: bool, *, foundry: bool = False
) -> Reply:
    """``200`` and the list of ``items`` (whose ids are ``ids``; see :func:`list_body`)."""
    first, last = (ids[0], ids[-1]) if ids else (None, None)
    return 200, list_body(items, first, last, has_more, foundry=foundry)


def paged(
    ctx: Ctx,
    query: PageQuery,
    position: Callable[[str], int | None],
    fetch: Callable[[int, bool, int | None, int | None], tuple[list[T], bool]],
    missing: str,
) -> tuple[list[T], bool]:
    """One page of a listing and whether more follow, with the page faults injected.

    ``position`` places a cursor id (None: no such item, a 400 saying ``missing``, a
    template for the id);
    ``fetch(limit, ascending, after, before)`` reads the page between two positions.
    The faults: an empty page that says ``has_more``, the first page again (saying
    ``has_more``), a page in reverse order.
    """
    limit, ascending, after, before = query
    anomaly = ctx.page_fault()
    if anomaly == "empty_has_more":
        return [], True
    if anomaly == "repeat_page":
        after = before = None
    cursors: dict[str, int | None] = {}
    for name, value in (("after", after), ("before", before)):
        cursors[name] = None if value is None else position(value)
        if value is not None and cursors[name] is None:
            bad_value(name, missing.format(value))
    page, more = fetch(limit, ascending, cursors["after"], cursors["before"])
    if anomaly == "repeat_page":
        more = True
    elif anomaly == "reverse_page":
        page.reverse()
    return page, more


def _store_message(store: Store, thread: Thread, new: NewMessage) -> MessageRecord:
    return store.new_record(
        thread,
        new.role,
        new.content,
        metadata=new.metadata,
        file_ids=new.file_ids,
        attachments=new.attachments,
    )


def route_create(ctx: Ctx) -> Reply:
    """POST /threads/{thread_id}/messages"""
    thread_id = ctx.path_id("thread_id")
    new = check_new_message(parse_body(ctx.body), ctx.version)
    thread = ctx.store.thread(thread_id)
    if thread is None and ctx.implicit_threads:
        thread = ctx.store.thread(ctx.store.create_thread(thread_id))
    if thread is None:
        raise ApiError(404, f"No thread found with id '{thread_id}'.")
    key = ctx.request.headers.get("Idempotency-Key")
    if key:
        known = thread.idempotency.get(key)
        if known is not None:
            record = thread.find(known)
            assert record is not None
            return 200, record.json(ctx.version)
    record = _store_message(ctx.store, thread, new)
    if key:
        thread.idempotency[key] = record.id
    return 200, record.json(ctx.version)


def route_list(ctx: Ctx) -> Reply:
    """GET /threads/{thread_id}/messages"""
    query = ctx.page_query()
    run_id = ctx.request.query.get("run_id") or None
    thread = ctx.thread()
    records, has_more = paged(
        ctx,
        query,
        thread.positions.get,
        lambda limit, ascending, after, before: ctx.store.page(
            thread, limit=limit, ascending=ascending, after=after, before=before, run_id=run_id
        ),
        "no message with id '{}' in this thread.",
    )
    version = ctx.version
    return ctx.list_reply([r.json(version) for r in records], [r.id for r in records], has_more)


def route_retrieve(ctx: Ctx) -> Reply:
    """GET /threads/{thread_id}/messages/{message_id}"""
    return 200, ctx.message(ctx.thread()).json(ctx.version)


def route_modify(ctx: Ctx) -> Reply:
    """POST /threads/{thread_id}/messages/{message_id} (metadata only)"""
    thread = ctx.thread()
    record = ctx.message(thread)
    body = parse_body(ctx.body)
    only_keys("", body, _MODIFY)
    if "metadata" in body and body["metadata"] is not None:
        record.set_metadata(check_metadata(body["metadata"]))
    return 200, record.json(ctx.version)


def route_delete(ctx: Ctx) -> Reply:
    """DELETE /threads/{thread_id}/messages/{message_id}"""
    thread = ctx.thread()
    record = ctx.message(thread)
    ctx.store.delete(thread.id, record.id)
    return 200, orjson.dumps({"id": record.id, "object": "thread.message.deleted", "deleted": True})


def route_list_files(ctx: Ctx) -> Reply:
    """GET /threads/{thread_id}/messages/{message_id}/files (v1)"""
    query = ctx.page_query()
    record = ctx.message(ctx.thread())
    file_ids = record.all_file_ids()
    index = {fid: i for i, fid in enumerate(file_ids)}
    positions, has_more = paged(
        ctx,
        query,
        index.get,
        lambda limit, ascending, after, before: select_page(
            range(len(file_ids)),
            lambda _: True,
            limit=limit,
            ascending=ascending,
            after=after,
            before=before,
        ),
        "no file with id '{}' on this message.",
    )
    ids = [file_ids[p] for p in positions]
    return ctx.list_reply([orjson.dumps(record.file_object(fid)) for fid in ids], ids, has_more)


def route_retrieve_file(ctx: Ctx) -> Reply:
    """GET /threads/{thread_id}/messages/{message_id}/files/{file_id} (v1)"""
    record = ctx.message(ctx.thread())
    file_id = ctx.path_id("file_id")
    if file_id not in record.all_file_ids():
        raise ApiError(404, f"No file found with id '{file_id}'.")
    return 200, orjson.dumps(record.file_object(file_id))


# -- threads -----------------------------------------------------------------------

_THREAD_V2 = frozenset({"messages", "metadata", "tool_resources"})
_THREAD_V1 = frozenset({"messages", "metadata"})


def _thread_reply(thread: Thread, version: int) -> Reply:
    return 200, orjson.dumps(thread.v1() if version == 1 else thread.v2())


def route_create_thread(ctx: Ctx) -> Reply:
    """POST /threads (optional initial ``messages``, ``metadata``, ``tool_resources``)"""
    body = parse_body(ctx.body)
    only_keys("", body, _THREAD_V1 if ctx.version == 1 else _THREAD_V2)
    new = check_thread_messages(body.get("messages"), ctx.version)
    metadata = check_metadata(body.get("metadata"))
    store = ctx.store
    tool_resources = check_tool_resources(body.get("tool_resources"), store.ids.new)
    key = ctx.request.headers.get("Idempotency-Key")
    if key:
        known = store.thread(store.thread_idempotency.get(key, ""))
        if known is not None:
            return _thread_reply(known, ctx.version)
    thread = store.thread(store.create_thread(None, metadata, tool_resources))
    assert thread is not None
    for message in new:
        _store_message(store, thread, message)
    if key:
        store.thread_idempotency[key] = thread.id
    return _thread_reply(thread, ctx.version)


def route_list_threads(ctx: Ctx) -> Reply:
    """GET /threads: Foundry's classic agents list threads; OpenAI and Azure OpenAI do not
    (404, as for any URL they do not serve) unless the emulator is told to.

    The reply has OpenAI's list shape on every prefix, ``first_id`` included (Foundry's
    ``OpenAIPageableListOf`` of threads, unlike its message lists)."""
    if not (ctx.list_threads or ctx.flavour == "foundry"):
        raise ApiError(404, f"Invalid URL (GET {ctx.request.path})")
    store = ctx.store
    threads, has_more = paged(
        ctx,
        ctx.page_query(),
        store.thread_position,
        lambda limit, ascending, after, before: store.thread_page(
            limit=limit, ascending=ascending, after=after, before=before
        ),
        "no thread with id '{}'.",
    )
    items = [orjson.dumps(t.v1() if ctx.version == 1 else t.v2()) for t in threads]
    return list_reply(items, [t.id for t in threads], has_more)


def route_retrieve_thread(ctx: Ctx) -> Reply:
    """GET /threads/{thread_id}"""
    return _thread_reply(ctx.thread(), ctx.version)


def route_modify_thread(ctx: Ctx) -> Reply:
    """POST /threads/{thread_id} (``metadata``, ``tool_resources``)"""
    thread = ctx.thread()
    body = parse_body(ctx.body)
    only_keys("", body, _MODIFY if ctx.version == 1 else _MODIFY_THREAD)
    if body.get("metadata") is not None:
        thread.metadata = check_metadata(body["metadata"])
    if body.get("tool_resources") is not None:
        thread.tool_resources = check_tool_resources(body["tool_resources"], ctx.store.ids.new)
    return _thread_reply(thread, ctx.version)


def route_delete_thread(ctx: Ctx) -> Reply:
    """DELETE /threads/{thread_id} (its messages go with it)"""
    thread = ctx.thread()
    ctx.store.delete_thread(thread.id)
    return 200, orjson.dumps({"id": thread.id, "object": "thread.deleted", "deleted": True})


Route = Callable[[Ctx], Reply]
_M = "/threads/{thread_id}/messages"
ROUTE_TABLE: list[tuple[str, str, str, Route]] = [
    ("POST", "/threads", "create_thread", route_create_thread),
    ("GET", "/threads", "list_threads", route_list_threads),
    ("GET", "/threads/{thread_id}", "retrieve_thread", route_retrieve_thread),
    ("POST", "/threads/{thread_id}", "modify_thread", route_modify_thread),
    ("DELETE", "/threads/{thread_id}", "delete_thread", route_delete_thread),
    ("POST", _M, "create", route_create),
    ("GET", _M, "list", route_list),
    ("GET", _M + "/{message_id}", "retrieve", route_retrieve),
    ("POST", _M + "/{message_id}", "modify", route_modify),
    ("DELETE", _M + "/{message_id}", "delete", route_delete),
    ("GET", _M + "/{message_id}/files", "list_files", route_list_files),
    ("GET", _M + "/{message_id}/files/{file_id}", "retrieve_file", route_retrieve_file),
]
