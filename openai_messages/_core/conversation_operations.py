"""The Conversations endpoints, declared once.

The same :class:`~openai_messages._core.operations.Operation` declarations as the thread and
message calls (pure data, no I/O), in the ``conversations`` family: their paths go under
``{endpoint}/openai/v1`` on Microsoft's endpoints and they send no ``OpenAI-Beta``
header (see :func:`openai_messages._core.endpoint.prepare`). Their bodies are
:mod:`openai_messages._core.bodies`'. What an ambiguous failure means:

* a conversation create cannot be checked (OpenAI cannot list conversations):
  ``REPORT``, :class:`~openai_messages.errors.CreateOutcomeUnknownError`;
* an items create is settled by looking at the conversation's newest items
  (``RECONCILE``, :mod:`openai_messages._transport.item_reconcile`);
* retrieve, update and list are re-sent; deletes read a 404 after an ambiguous attempt
  as done (an item delete answers its conversation, so its target is the conversation).
"""

from __future__ import annotations

from typing import Final, cast

from .._codec.conversation_models import (
    Conversation,
    ConversationItem,
    ConversationItemPage,
    ConversationPage,
    DeletedConversation,
)
from .operations import PAGE_QUERIES, Ambiguity, Operation

__all__ = [
    "CREATE_CONVERSATION",
    "CREATE_ITEMS",
    "DELETE_CONVERSATION",
    "DELETE_ITEM",
    "LIST_CONVERSATIONS",
    "LIST_ITEMS",
    "RETRIEVE_CONVERSATION",
    "RETRIEVE_ITEM",
    "UPDATE_CONVERSATION",
]


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
    "list_conversations", "GET", _C, ConversationPage, family=_FAMILY, query=PAGE_QUERIES
)
"""Foundry lists conversations; OpenAI does not."""
CREATE_ITEMS: Final = Operation(
    "create_items", "POST", _ITEMS, ConversationItemPage, Ambiguity.RECONCILE, family=_FAMILY
)
LIST_ITEMS: Final = Operation(
    "list_items", "GET", _ITEMS, ConversationItemPage, family=_FAMILY, query=PAGE_QUERIES
)
"""``before`` is Foundry's: the client refuses it elsewhere."""
RETRIEVE_ITEM: Final[Operation[ConversationItem]] = Operation(
    "retrieve_item", "GET", _ITEM, cast("type[ConversationItem]", ConversationItem), family=_FAMILY
)
DELETE_ITEM: Final = Operation(
    "delete_item",
    "DELETE",
    _ITEM,
    Conversation,
    Ambiguity.DELETE,
    _parent_gone,
    family=_FAMILY,
    target="conversation_id",
)
