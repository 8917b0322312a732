"""Settling an ambiguous items create: which of the batch did the failed attempt store?

An items create is not idempotent (no key is documented) and items have neither
``created_at`` nor metadata, so the only evidence is the conversation's newest items.
After a failure that may have applied the request, the client lists them (newest
first) and matches exactly what it sent (:func:`item_matches`):

* the whole batch, in order, where it should be: those are the created items;
* none of it: nothing was stored, re-send;
* its first ``j`` items only: :class:`~openai_messages.errors.ItemsPartiallyStoredError`
  naming them (send the rest, not the batch);
* anything else: :class:`~openai_messages.errors.CreateOutcomeUnknownError`.

"Where it should be" is right after ``follows`` (the id of the newest item before the
call, ``""`` for an empty conversation) when the caller knows it; otherwise at the tail,
which cannot tell the batch from identical items that ended the conversation before the
call (see the README, "Moving to Conversations").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson

from .. import errors
from .._codec.conversation_models import (
    ConversationItem,
    ConversationItemPage,
    InputFilePart,
    InputImagePart,
    InputTextPart,
    MessageItem,
    OutputTextPart,
    RefusalPart,
)
from .lookback import RECONCILE_MAX_ITEMS, read_newest
from .retry_loop import Pages, Response

__all__ = ["ItemsReconcile", "item_matches", "sent_signature", "stored_signature"]

ListPages = Callable[[float | None], Pages[Response[ConversationItemPage]]]
"""``pages(timeout)``: the conversation's pages, newest first, each within ``timeout``
(a page of the batch's size is enough without ``follows``)."""

_TEXT: Final = frozenset({"input_text", "output_text", "text"})


def _part_signature(part: Mapping[str, Any]) -> tuple[Any, ...]:
    kind = part.get("type")
    if kind in _TEXT:
        return ("text", part.get("text"))
    if kind == "input_image":
        return ("image", part.get("file_id"), part.get("image_url"))
    if kind == "input_file":
        return ("file", part.get("file_id"), part.get("file_url"), part.get("filename"))
    if kind == "refusal":
        return ("refusal", part.get("refusal"))
    return (kind,)


def sent_signature(item: Mapping[str, Any]) -> tuple[Any, ...]:
    """What the server stores for a sent message item, in a comparable form."""
    content = item.get("content")
    parts: tuple[Any, ...]
    if isinstance(content, str):
        parts = (("text", content),)
    else:
        parts = tuple(_part_signature(p) for p in content or () if isinstance(p, Mapping))
    return (item.get("role"), parts)


def stored_signature(item: MessageItem) -> tuple[Any, ...]:
    """A stored message item in the form of :func:`sent_signature`."""
    parts: list[Any] = []
    for part in item.content:
        if isinstance(part, (InputTextPart, OutputTextPart)):
            parts.append(("text", part.text))
        elif isinstance(part, InputImagePart):
            parts.append(("image", part.file_id, part.image_url))
        elif isinstance(part, InputFilePart):
            parts.append(("file", part.file_id, part.file_url, part.filename))
        elif isinstance(part, RefusalPart):
            parts.append(("refusal", part.refusal))
        else:
            parts.append((part.type,))
    return (item.role, tuple(parts))


def item_matches(sent: Mapping[str, Any], stored: ConversationItem) -> bool:
    """Whether ``stored`` is what sending ``sent`` stores (same kind, role and content;
    for another type of item, every key sent but ``id`` and ``status`` the same). An id
    sent with the item is not compared: a server may keep it or give its own."""
    kind = sent.get("type", "message")
    if isinstance(stored, MessageItem):
        return kind == "message" and sent_signature(sent) == stored_signature(stored)
    if stored.type != kind:
        return False
    raw = stored.raw
    return all(raw.get(k) == v for k, v in sent.items() if k not in ("id", "status", "type"))


def _prefix(sent: Sequence[Mapping[str, Any]], stored: Sequence[ConversationItem]) -> int:
    """How many of ``stored`` (from its start) match ``sent`` one for one."""
    n = 0
    for want, got in zip(sent, stored, strict=False):
        if not item_matches(want, got):
            break
        n += 1
    return n


class ItemsReconcile:
    """One settling of an ambiguous create of ``sent`` in ``conversation_id``."""

    def __init__(
        self,
        pages: ListPages,
        *,
        conversation_id: str,
        body: bytes,
        follows: str | None,
        cause: errors.APIError | None,
        recheck_delay: float,
    ) -> None:
        self._pages = pages
        self.conversation_id = conversation_id
        self.sent: list[Mapping[str, Any]] = orjson.loads(body)["items"]
        self.follows = follows
        self.cause = cause
        self.recheck_delay = recheck_delay

    @property
    def _why(self) -> str:
        return "" if self.cause is None else f" ({self.cause})"

    def unknown(self, reason: str) -> errors.CreateOutcomeUnknownError:
        return errors.CreateOutcomeUnknownError(
            f"the items create in conversation {self.conversation_id!r} may have stored some "
            f"of its {len(self.sent)} items{self._why}, and {reason}; list the "
            "conversation's newest items before sending them again",
            thread_id=None,
            idempotency_key="",
            request_id=None if self.cause is None else self.cause.request_id,
            conversation_id=self.conversation_id,
        )

    def partial(self, stored: Sequence[ConversationItem]) -> errors.ItemsPartiallyStoredError:
        ids = ", ".join(item.id for item in stored)
        return errors.ItemsPartiallyStoredError(
            f"the items create in conversation {self.conversation_id!r} failed{self._why} "
            f"after storing the first {len(stored)} of its {len(self.sent)} items ({ids}); "
            f"send the other {len(self.sent) - len(stored)}, not the whole batch",
            conversation_id=self.conversation_id,
            stored=tuple(stored),
            sent=len(self.sent),
            request_id=None if self.cause is None else self.cause.request_id,
        )

    async def run(self, deadline: float | None) -> ConversationItemPage | None:
        """The created items, None if none was stored; raises if partial or unsure.

        After a read timeout the server may still be storing: unless the whole batch is
        found, look again after ``recheck_delay`` seconds.
        """
        found = await self._look(deadline)
        if len(found) == len(self.sent) or not isinstance(self.cause, errors.APITimeoutError):
            return self._result(found)
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= self.recheck_delay:
            raise self.unknown("the call's timeout leaves no time to check again")
        await asyncio.sleep(self.recheck_delay)
        return self._result(await self._look(deadline))

    async def find(self, deadline: float | None) -> list[ConversationItem]:
        """The items of the batch the conversation holds: a prefix of it, in order (empty:
        none); raises :class:`~openai_messages.errors.CreateOutcomeUnknownError` if what
        is there is not a prefix of the batch."""
        return await self._look(deadline)

    def _result(self, found: list[ConversationItem]) -> ConversationItemPage | None:
        if not found:
            return None
        if len(found) < len(self.sent):
            raise self.partial(found)
        return ConversationItemPage(
            data=tuple(found), first_id=found[0].id, last_id=found[-1].id, has_more=False
        )

    async def _look(self, deadline: float | None) -> list[ConversationItem]:
        """The items of the batch the server holds (a prefix of it, in order)."""
        newest = await self._newest(deadline)  # newest first
        if self.follows is None:
            tail = newest[: len(self.sent)][::-1]
            for j in range(len(tail), 0, -1):
                if _prefix(self.sent[:j], tail[-j:]) == j:
                    return tail[-j:]
            return []
        after = newest[::-1]  # everything after ``follows``, oldest first
        matched = _prefix(self.sent, after)
        if matched == len(after) or matched == len(self.sent):
            return after[:matched]
        raise self.unknown(
            f"the {len(after)} items after {self.follows or 'its start'!r} are not the ones "
            "sent (another writer?)"
        )

    async def _newest(self, deadline: float | None) -> list[ConversationItem]:
        """The newest items, newest first: the batch's length of them, or (``follows``
        given) every item after ``follows``."""
        wanted = len(self.sent) if self.follows is None else RECONCILE_MAX_ITEMS
        out: list[ConversationItem] = []
        complete = reached = False

        def take(response: Response[ConversationItemPage]) -> bool:
            nonlocal complete, reached
            for item in response.value.data:
                if self.follows and item.id == self.follows:
                    reached = True
                    return True
                out.append(item)
            if len(out) >= wanted or not response.value.has_more:
                complete = not response.value.has_more
                return True
            return False

        exhausted = await read_newest(self._pages, deadline, self.unknown, take)
        if exhausted is None:
            return []  # no such conversation: nothing was stored in it
        if reached:
            return out
        complete = complete or exhausted
        if self.follows is None:
            return out[: len(self.sent)]
        if self.follows and not complete:
            raise self.unknown(f"{self.follows!r} is not among its newest {wanted} items")
        if self.follows and complete:
            raise self.unknown(f"{self.follows!r} is not in the conversation")
        if not complete:
            raise self.unknown(f"it holds more than {wanted} items")
        return out
