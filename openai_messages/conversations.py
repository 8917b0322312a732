"""``client.conversations``: the Conversations API, in the style of the rest of the client.

Every call is written once, in :class:`ConversationsWithResponse` or
:class:`ItemsWithResponse` (returning a :class:`~openai_messages.Response`);
:class:`Conversations` and :class:`ConversationItems` offer each returning the value
alone. Same per-call options, retries, budget, limiter and typed errors as every other
call; the walks are the same :class:`~openai_messages.Pager` as ``client.list``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import orjson

from . import errors
from ._codec.conversation_models import (
    Conversation,
    ConversationItem,
    ConversationItemPage,
    ConversationPage,
    DeletedConversation,
)
from ._core import bodies
from ._core import checks as validation
from ._core import conversation_operations as cops
from ._core.defaults import PAGE_SIZE
from ._core.operations import Operation
from ._transport.item_reconcile import ItemsReconcile
from ._transport.retry_loop import CallOptions, Response, Timeout, Transport
from ._walk.feed import FeedRegistry
from ._walk.pagination import Pager
from ._walk.walking import ResponsePager, WalkOptions, make_pager, responses
from .calls import value_of

if sys.version_info >= (3, 11):  # at runtime too: typing.get_type_hints reads it
    from typing import Unpack
else:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["ConversationItems", "Conversations", "ConversationsWithResponse", "ItemsWithResponse"]


@attrs.frozen
class _Host:
    """What the namespaces need of their client."""

    transport: Transport
    registry: FeedRegistry
    foundry: bool
    """Whether the endpoint is a Foundry project (it lists conversations, has ``before``)."""

    def walk(
        self, op: Operation[Any], ids: Mapping[str, object], options: WalkOptions, keep: bool
    ) -> Pager[Any, Any]:
        """The walk of listing ``op`` (``ids`` checked now); ``before=`` on Foundry only."""
        if options.get("before") is not None and not self.foundry:
            raise errors.InvalidArgumentError(
                "before= is a Foundry parameter: OpenAI and Azure OpenAI list items with "
                "after= only (walk with order= instead)"
            )
        return make_pager(
            self.transport.call, op, ids, {}, options, keep=keep, registry=self.registry
        )


class ItemsWithResponse:
    """``client.conversations.items.with_response``: the item calls, returning a Response."""

    def __init__(self, host: _Host) -> None:
        self._host = host
        self._transport = host.transport

    async def create(
        self,
        conversation_id: str,
        items: Sequence[ConversationItem | Mapping[str, Any]],
        *,
        follows: str | None = None,
        **options: Unpack[CallOptions],
    ) -> Response[ConversationItemPage]:
        """Add 1 to 20 items to a conversation; the page of the created items, in order.

        Not idempotent: after a failure that may have stored them (a 5xx, a dropped
        connection, a read timeout) the client lists the conversation's newest items and
        matches what it sent before re-sending; a partial store raises
        :class:`ItemsPartiallyStoredError`, an unclear one :class:`CreateOutcomeUnknownError`.
        ``follows`` is the id of the conversation's newest item before this call (``""``:
        it has none); with it the match is exact, without it the batch is looked for at the
        tail (see the README, "Moving to Conversations").
        """
        request = cops.CREATE_ITEMS.request(
            {"conversation_id": conversation_id}, body=bodies.items(items)
        )
        _check_follows(follows)
        body = request.body or b'{"items": []}'

        async def settle(
            cause: errors.APIError, deadline: float | None
        ) -> ConversationItemPage | None:
            return await self._reconcile(conversation_id, body, follows, cause).run(deadline)

        response = await self._transport.call(request, options, settle)
        sent = len(orjson.loads(body)["items"])
        if len(response.value.data) == sent:
            return response
        return await self._short_reply(response, conversation_id, body, follows, sent, options)

    async def _short_reply(
        self,
        response: Response[ConversationItemPage],
        conversation_id: str,
        body: bytes,
        follows: str | None,
        sent: int,
        options: CallOptions,
    ) -> Response[ConversationItemPage]:
        """A 2xx reply that lists another number of items than were sent: what is stored
        is looked up, as after an ambiguous failure (never taken as all or none)."""
        cause = errors.APIResponseValidationError(
            f"the server answered {len(response.value.data)} created items for {sent} sent",
            status_code=response.status_code,
            request_id=response.request_id,
        )
        reconcile = self._reconcile(conversation_id, body, follows, cause)
        total = Timeout.of(options.get("timeout", self._transport.timeout)).total
        found = await reconcile.find(None if total is None else time.monotonic() + total)
        if len(found) == sent:
            page = ConversationItemPage(
                data=tuple(found), first_id=found[0].id, last_id=found[-1].id, has_more=False
            )
            return attrs.evolve(response, value=page)
        if found:
            raise reconcile.partial(found)
        raise reconcile.unknown("none of them is found among its newest items")

    def _reconcile(
        self, conversation_id: str, body: bytes, follows: str | None, cause: errors.APIError | None
    ) -> ItemsReconcile:
        page_size = len(orjson.loads(body)["items"]) if follows is None else PAGE_SIZE

        def pages(timeout: float | None) -> ResponsePager[ConversationItemPage]:
            walk: WalkOptions = {"order": "desc", "prefetch": 0, "page_size": page_size}
            if timeout is not None:
                walk["timeout"] = timeout
            return self.list(conversation_id, **walk)

        return ItemsReconcile(
            pages,
            conversation_id=conversation_id,
            body=body,
            follows=follows,
            cause=cause,
            recheck_delay=self._transport.policy.backoff_max,
        )

    def list(
        self, conversation_id: str, **options: Unpack[WalkOptions]
    ) -> ResponsePager[ConversationItemPage]:
        """Every page of a conversation's items, each as a :class:`Response`."""
        ids = {"conversation_id": conversation_id}
        return responses(self._host.walk(cops.LIST_ITEMS, ids, options, True))

    async def retrieve(
        self, conversation_id: str, item_id: str, **options: Unpack[CallOptions]
    ) -> Response[ConversationItem]:
        """One item."""
        ids = {"conversation_id": conversation_id, "item_id": item_id}
        return await self._transport.call(cops.RETRIEVE_ITEM.request(ids), options)

    async def delete(
        self, conversation_id: str, item_id: str, **options: Unpack[CallOptions]
    ) -> Response[Conversation]:
        """Delete an item; the answer is the conversation. A 404 on a re-send after a
        failed attempt means it is deleted (the conversation is then given by id only)."""
        ids = {"conversation_id": conversation_id, "item_id": item_id}
        return await self._transport.call(cops.DELETE_ITEM.request(ids), options)


def _check_follows(follows: object) -> None:
    if follows is not None and follows != "":
        validation.quote_id("follows", follows)


class ConversationsWithResponse:
    """``client.conversations.with_response`` (also ``client.with_response.conversations``):
    the conversation calls, returning a Response."""

    def __init__(self, host: _Host) -> None:
        self._host = host
        self._transport = host.transport
        self.items = ItemsWithResponse(host)
        """The item calls, returning a Response."""

    async def create(
        self,
        *,
        items: Sequence[ConversationItem | Mapping[str, Any]] | None = None,
        metadata: Mapping[str, str] | None = None,
        **options: Unpack[CallOptions],
    ) -> Response[Conversation]:
        """A new conversation, with up to 20 first ``items``.

        Conversations cannot be listed on OpenAI, so a failure after which it may exist
        raises :class:`CreateOutcomeUnknownError` (never a blind re-send). To move a
        history exactly once, create it without items and add them with
        ``items.create``, which can be settled.
        """
        body = bodies.conversation(items=items, metadata=metadata)
        return await self._transport.call(cops.CREATE_CONVERSATION.request(body=body), options)

    async def retrieve(
        self, conversation_id: str, **options: Unpack[CallOptions]
    ) -> Response[Conversation]:
        """One conversation."""
        ids = {"conversation_id": conversation_id}
        return await self._transport.call(cops.RETRIEVE_CONVERSATION.request(ids), options)

    async def update(
        self,
        conversation_id: str,
        *,
        metadata: Mapping[str, str] | None,
        **options: Unpack[CallOptions],
    ) -> Response[Conversation]:
        """Replace a conversation's metadata (safe to retry)."""
        ids = {"conversation_id": conversation_id}
        request = cops.UPDATE_CONVERSATION.request(ids, body=bodies.update(metadata))
        return await self._transport.call(request, options)

    async def delete(
        self, conversation_id: str, **options: Unpack[CallOptions]
    ) -> Response[DeletedConversation]:
        """Delete a conversation. A 404 on a re-send after a failed attempt means it is
        deleted."""
        ids = {"conversation_id": conversation_id}
        return await self._transport.call(cops.DELETE_CONVERSATION.request(ids), options)

    def list(self, **options: Unpack[WalkOptions]) -> ResponsePager[ConversationPage]:
        """Every page of the project's conversations (Foundry), each as a Response."""
        return responses(self._host.walk(cops.LIST_CONVERSATIONS, {}, options, True))


class ConversationItems:
    """``client.conversations.items``: a conversation's items."""

    def __init__(self, host: _Host, with_response: ItemsWithResponse) -> None:
        self._host = host
        self.with_response = with_response
        """The same calls, returning a Response."""

    create = value_of(ItemsWithResponse.create)
    retrieve = value_of(ItemsWithResponse.retrieve)
    delete = value_of(ItemsWithResponse.delete)

    async def find_stored(
        self,
        conversation_id: str,
        items: Sequence[ConversationItem | Mapping[str, Any]],
        *,
        follows: str | None,
        timeout: float | None = 60.0,
    ) -> list[ConversationItem]:
        """Which of ``items`` (a batch as given to :meth:`create`) the conversation holds:
        the stored prefix of the batch, in order (``[]``: none of it).

        The settling :meth:`create` does after an ambiguous failure, for a caller that
        lost track of a batch (a process killed mid-call): with ``follows`` (the id of
        the newest item before the batch, ``""`` for none) the match is exact. Raises
        :class:`CreateOutcomeUnknownError` when what follows is not a prefix of the batch.
        """
        request = cops.CREATE_ITEMS.request(
            {"conversation_id": conversation_id}, body=bodies.items(items)
        )
        _check_follows(follows)
        reconcile = self.with_response._reconcile(
            conversation_id, request.body or b'{"items": []}', follows, None
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        return await reconcile.find(deadline)

    def list(
        self, conversation_id: str, **options: Unpack[WalkOptions]
    ) -> Pager[ConversationItem, ConversationItemPage]:
        """Every item of a conversation, page after page, as you iterate: the same
        :class:`Pager` as ``client.list`` (``order`` "desc" by default, as the API;
        ``page_size`` 1-100, default 100; ``after=``; ``before=`` on Foundry only)."""
        return self._host.walk(
            cops.LIST_ITEMS, {"conversation_id": conversation_id}, options, False
        )


class Conversations:
    """``client.conversations``: conversations (OpenAI, Foundry new agents, Azure OpenAI v1)."""

    def __init__(self, host: _Host) -> None:
        self._host = host
        self.with_response = ConversationsWithResponse(host)
        """The same calls, returning a Response."""
        self.items = ConversationItems(host, self.with_response.items)
        """A conversation's items."""

    create = value_of(ConversationsWithResponse.create)
    retrieve = value_of(ConversationsWithResponse.retrieve)
    update = value_of(ConversationsWithResponse.update)
    delete = value_of(ConversationsWithResponse.delete)

    def list(self, **options: Unpack[WalkOptions]) -> Pager[Conversation, ConversationPage]:
        """Every conversation of the project (Foundry lists them; OpenAI does not)."""
        return self._host.walk(cops.LIST_CONVERSATIONS, {}, options, False)


def make_conversations(
    transport: Transport, registry: FeedRegistry, foundry: bool
) -> Conversations:
    """The ``conversations`` namespace of a client."""
    return Conversations(_Host(transport, registry, foundry))
