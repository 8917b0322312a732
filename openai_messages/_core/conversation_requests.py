"""The Conversations endpoints, declared once, and the checked requests of their calls.

The same :class:`~openai_messages._core.operations.Operation` declarations as the thread and
message calls (pure data, no I/O), in the ``conversations`` family: their paths go under
``{endpoint}/openai/v1`` on Microsoft's endpoints and they send no ``OpenAI-Beta``
header (see :func:`openai_messages._core.requests.prepare`). What an ambiguous failure means:

* a conversation create cannot be checked (OpenAI cannot list conversations):
  ``REPORT``, :class:`~openai_messages.errors.CreateOutcomeUnknownError`;
* an items create is settled by looking at the conversation's newest items
  (``RECONCILE``, :mod:`openai_messages._transport.item_reconcile`);
* retrieve, update and list are re-sent; deletes read a 404 after an ambiguous attempt
  as done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, cast

import attrs
import orjson

from .. import errors
from .._codec import converter
from .._codec.conversation_models import (
    Conversation,
    ConversationItem,
    ConversationItemPage,
    ConversationPage,
    DeletedConversation,
)
from .._codec.literals import Order
from . import checks as validation
from .defaults import PAGE_SIZE
from .operations import Ambiguity, Operation, Request
from .requests import _page_query

__all__ = [
    "CREATE_CONVERSATION",
    "CREATE_ITEMS",
    "DELETE_CONVERSATION",
    "DELETE_ITEM",
    "LIST_CONVERSATIONS",
    "LIST_ITEMS",
    "MAX_ITEMS_PER_CALL",
    "RETRIEVE_CONVERSATION",
    "RETRIEVE_ITEM",
    "UPDATE_CONVERSATION",
    "build_create_conversation",
    "build_create_items",
    "build_delete_conversation",
    "build_delete_item",
    "build_list_conversations",
    "build_list_items",
    "build_retrieve_conversation",
    "build_retrieve_item",
    "build_update_conversation",
    "check_items",
]

MAX_ITEMS_PER_CALL: Final = 20
"""The most items one ``POST /conversations`` or ``POST .../items`` may carry."""


def _conversation_gone(conversation_id: str) -> DeletedConversation:
    return DeletedConversation(id=conversation_id, object="conversation.deleted", deleted=True)


def _parent_gone(conversation_id: str) -> Conversation:
    """An item delete answers the conversation; after an ambiguous attempt and a 404, only
    its id is known (the other fields are absent)."""
    return Conversation(id=conversation_id).omit("object", "created_at", "metadata")


_C: Final = "conversations"
_ONE: Final = "conversations/{conversation_id}"
_ITEMS: Final = "conversations/{conversation_id}/items"
_ITEM: Final = "conversations/{conversation_id}/items/{item_id}"
_FAMILY: Final = "conversations"

CREATE_CONVERSATION: Final = Operation(
    "create_conversation", "POST", _C, Conversation, Ambiguity.REPORT, family=_FAMILY
)
RETRIEVE_CONVERSATION: Final = Operation(
    "retrieve_conversation", "GET", _ONE, Conversation, family=_FAMILY
)
UPDATE_CONVERSATION: Final = Operation(
    "update_conversation", "POST", _ONE, Conversation, family=_FAMILY
)
DELETE_CONVERSATION: Final = Operation(
    "delete_conversation",
    "DELETE",
    _ONE,
    DeletedConversation,
    Ambiguity.DELETE,
    _conversation_gone,
    family=_FAMILY,
)
LIST_CONVERSATIONS: Final = Operation(
    "list_conversations", "GET", _C, ConversationPage, family=_FAMILY
)
CREATE_ITEMS: Final = Operation(
    "create_items", "POST", _ITEMS, ConversationItemPage, Ambiguity.RECONCILE, family=_FAMILY
)
LIST_ITEMS: Final = Operation("list_items", "GET", _ITEMS, ConversationItemPage, family=_FAMILY)
RETRIEVE_ITEM: Final[Operation[ConversationItem]] = Operation(
    "retrieve_item", "GET", _ITEM, cast("type[ConversationItem]", ConversationItem), family=_FAMILY
)
DELETE_ITEM: Final = Operation(
    "delete_item", "DELETE", _ITEM, Conversation, Ambiguity.DELETE, _parent_gone, family=_FAMILY
)


def _json(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body)


def _item(item: object, index: int) -> dict[str, Any]:
    if attrs.has(type(item)):
        item = converter.unstructure(item)
    if not isinstance(item, Mapping):
        raise errors.InvalidArgumentError(
            f"items[{index}] must be an item dict or model, not {type(item).__name__}"
        )
    kind = item.get("type", "message")
    if not isinstance(kind, str) or not kind:
        raise errors.InvalidArgumentError(f"items[{index}].type must be a non-empty str")
    if kind == "message":
        if not isinstance(item.get("role"), str):
            raise errors.InvalidArgumentError(f"items[{index}] is a message and needs a role")
        content = item.get("content")
        if not isinstance(content, (str, list, tuple)):
            raise errors.InvalidArgumentError(
                f"items[{index}].content must be a str or a list of content parts"
            )
    try:
        return cast("dict[str, Any]", orjson.loads(orjson.dumps(item)))
    except TypeError:
        raise errors.InvalidArgumentError(f"items[{index}] is not JSON") from None


def check_items(items: object, *, allow_empty: bool = False) -> list[dict[str, Any]]:
    """The items of a create as JSON objects: 1 to 20 (0 too with ``allow_empty``)."""
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise errors.InvalidArgumentError("items must be a list of items")
    out = [_item(item, i) for i, item in enumerate(items)]
    if not out and not allow_empty:
        raise errors.InvalidArgumentError("items must hold at least one item")
    if len(out) > MAX_ITEMS_PER_CALL:
        raise errors.InvalidArgumentError(
            f"at most {MAX_ITEMS_PER_CALL} items a call, got {len(out)}; send them in batches"
        )
    return out


def build_create_conversation(
    *, items: object = None, metadata: object = None
) -> Request[Conversation]:
    """``POST conversations``: a new conversation, with up to 20 first items."""
    body: dict[str, Any] = {}
    if items is not None:
        body["items"] = check_items(items, allow_empty=True)
    meta = validation.check_metadata(metadata)
    if meta is not None:
        body["metadata"] = meta
    return CREATE_CONVERSATION.request({}, body=_json(body))


def build_retrieve_conversation(conversation_id: str) -> Request[Conversation]:
    """``GET conversations/{conversation_id}``."""
    return RETRIEVE_CONVERSATION.request({"conversation_id": conversation_id})


def build_update_conversation(conversation_id: str, *, metadata: object) -> Request[Conversation]:
    """``POST conversations/{conversation_id}``: replace its metadata."""
    body = {"metadata": validation.check_metadata(metadata)}
    return UPDATE_CONVERSATION.request({"conversation_id": conversation_id}, body=_json(body))


def build_delete_conversation(conversation_id: str) -> Request[DeletedConversation]:
    """``DELETE conversations/{conversation_id}``."""
    return DELETE_CONVERSATION.request({"conversation_id": conversation_id})


def build_create_items(conversation_id: str, items: object) -> Request[ConversationItemPage]:
    """``POST conversations/{conversation_id}/items``: 1 to 20 items. Not idempotent."""
    body = {"items": check_items(items)}
    return CREATE_ITEMS.request({"conversation_id": conversation_id}, body=_json(body))


def build_list_items(
    conversation_id: str,
    *,
    limit: int = PAGE_SIZE,
    order: Order = "desc",
    after: str | None = None,
    before: str | None = None,
    check_cursors: bool = True,
) -> Request[ConversationItemPage]:
    """``GET conversations/{conversation_id}/items`` for one page (``before``: Foundry)."""
    query = _page_query(limit, order, after, before, check_cursors=check_cursors)
    return LIST_ITEMS.request({"conversation_id": conversation_id}, query=query)


def build_list_conversations(
    *,
    limit: int = PAGE_SIZE,
    order: Order = "desc",
    after: str | None = None,
    before: str | None = None,
    check_cursors: bool = True,
) -> Request[ConversationPage]:
    """``GET conversations`` for one page (Foundry lists conversations; OpenAI does not)."""
    return LIST_CONVERSATIONS.request(
        {}, query=_page_query(limit, order, after, before, check_cursors=check_cursors)
    )


def build_retrieve_item(conversation_id: str, item_id: str) -> Request[ConversationItem]:
    """``GET conversations/{conversation_id}/items/{item_id}``."""
    return RETRIEVE_ITEM.request({"conversation_id": conversation_id, "item_id": item_id})


def build_delete_item(conversation_id: str, item_id: str) -> Request[Conversation]:
    """``DELETE conversations/{conversation_id}/items/{item_id}``; answers the conversation.

    The request's ``target`` is the conversation (what a 404 after an ambiguous attempt
    gives back, by id), not the item.
    """
    request = DELETE_ITEM.request({"conversation_id": conversation_id, "item_id": item_id})
    return attrs.evolve(request, target=conversation_id)
