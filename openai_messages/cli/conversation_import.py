"""Exactly-once, resumable import of an export's threads into conversations.

Each source thread becomes one conversation (its metadata names the source thread and
this import: :data:`SOURCE_THREAD_KEY`, :data:`IMPORT_KEY`), its messages the items
:func:`~openai_messages.conversation_items` gives, in the order the thread import
creates them, :data:`BATCH` to a call. The export is read and mapped whole before
anything is sent (:func:`read_for_conversations`); the state is the thread import's
:class:`~openai_messages.cli.import_journal.ImportJournal` (map lines ``source_thread_id,
source_id, conversation_id, item_id``).

Exactly once, with no idempotency key: before a conversation create the journal records
"create pending", before each batch "batch pending" (its index, start, first source id
and size), each committed at once with all that precedes it, so at most one batch per
conversation is ever unsettled. A batch whose call fails ambiguously is settled by the
client (``items.create`` with ``follows``: the conversation's newest items matched
exactly); on resume, or when that settling could not decide, a pending batch is
settled by the same matching (``items.find_stored``), then only what is missing is
sent. A pending create is found again by its marker where the target lists
conversations (Foundry); elsewhere it is reported as a possible empty orphan (no item is
ever added to a conversation whose id the state does not hold).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from .. import errors
from .._codec.conversation_models import ConversationItem, MessageItem
from .._codec.converter import structure
from .._codec.models import Message
from .._core.bodies import MAX_ITEMS_PER_CALL
from .._transport.item_reconcile import item_matches
from ..client import Client
from ..conversation_mapping import conversation_items
from ..conversations import Conversations
from .export import RUN_ENDING, ThreadFailure, _bounded
from .import_journal import CONVERSATIONS, ImportJournal, ImportThreadState
from .import_source import ImportInputError, identify, read_threads
from .importer import ImportStats, run_per_thread, start_run

__all__ = [
    "BATCH",
    "IMPORT_KEY",
    "SETTLE_ATTEMPTS",
    "SOURCE_THREAD_KEY",
    "STATE_SUFFIX",
    "ConversationImportError",
    "ConversationSource",
    "SourceItem",
    "import_conversations",
    "import_marker",
    "read_for_conversations",
    "verify_conversations",
]

BATCH: Final = MAX_ITEMS_PER_CALL
"""Items sent per call (the API's most)."""
SOURCE_THREAD_KEY: Final = "source_thread_id"
"""The metadata key of a created conversation that names its source thread."""
IMPORT_KEY: Final = "om_import"
"""The metadata key of a created conversation that names the import that made it."""
STATE_SUFFIX: Final = ".conversations-state.json"
CREATE_ATTEMPTS: Final = 3
"""Conversation creates tried per run when their outcome stays unknown."""
SETTLE_ATTEMPTS: Final = 3
"""Checks of a pending batch per run before its thread is stopped."""
SETTLE_WAIT: Final = 0.5
"""Seconds before the second check (doubling after)."""


class ConversationImportError(errors.OpenAIMessagesError):
    """A source thread's import stopped: names the message, its line and the cause."""


@attrs.frozen
class SourceItem:
    """One exported message as the conversation item it becomes, with its line."""

    line: int
    id: str
    thread_id: str
    created_at: int | None
    item: dict[str, Any]


@attrs.frozen
class ConversationSource:
    """A source thread's messages as items, in the order they are to be created."""

    thread_id: str
    messages: tuple[SourceItem, ...]


def _source_item(raw: Any, line: int) -> SourceItem:
    message_id, thread_id, where = identify(raw, line)
    try:
        message = structure(raw, Message)
    except errors.APIResponseValidationError as exc:
        raise ImportInputError(f"{where}: not a message ({exc})") from None
    try:
        items = conversation_items(message)
    except errors.MessageNotMappableError as exc:
        raise ImportInputError(
            f"{where}: cannot become a conversation item: {exc.reason}"
        ) from None
    if len(items) != 1:  # pragma: no cover - the default mapping gives one item
        raise ImportInputError(f"{where}: maps to {len(items)} items, not one")
    created_at = raw.get("created_at")
    return SourceItem(
        line, message_id, thread_id, created_at if isinstance(created_at, int) else None, items[0]
    )


def read_for_conversations(path: str, size: int | None = None) -> list[ConversationSource]:
    """Every thread of the export (of its first ``size`` bytes, if given), each message
    mapped to its item; the thread import's reading and order. Raises
    :class:`ImportInputError` naming the line of the first problem (a malformed line, a
    message that cannot be mapped)."""
    return [ConversationSource(t, ms) for t, ms in read_threads(path, _source_item, size)]


def import_marker(journal: ImportJournal) -> str:
    """The value of :data:`IMPORT_KEY` in the conversations this import creates."""
    return "om-" + hashlib.sha256(journal.nonce.encode()).hexdigest()[:16]


def _metadata(journal: ImportJournal, source_thread: str) -> dict[str, str]:
    return {SOURCE_THREAD_KEY: source_thread[:512], IMPORT_KEY: import_marker(journal)}


@attrs.define
class _Run:
    client: Client
    journal: ImportJournal
    stats: ImportStats
    lists_conversations: bool
    orphans: list[str]

    @property
    def conversations(self) -> Conversations:
        return self.client.conversations

    async def thread(self, thread: ConversationSource) -> None:
        state = self.journal.state(thread.thread_id)
        if state.target is None:
            await self._create(thread.thread_id, state)
        elif (state.batch is not None and not state.batch.get("settled")) or self.journal.rebuilt:
            await self._settle(thread, state, resumed=True)
        target = state.target
        assert target is not None
        index = int((state.batch or {}).get("index", -1))
        unsure = 0  # batches in a row whose outcome stayed unknown and stored nothing
        while state.count < len(thread.messages):
            index += 1
            batch = thread.messages[state.count : state.count + BATCH]
            self.journal.batch_pending(thread.thread_id, index, batch[0].id, len(batch))
            try:
                page = await self.conversations.items.create(
                    target, [m.item for m in batch], follows=state.last_id or ""
                )
                stored: Sequence[object] = page.data
            except errors.ItemsPartiallyStoredError as exc:
                stored = exc.stored
            except RUN_ENDING:
                raise
            except errors.APIError as exc:
                if not _in_doubt(exc):
                    raise _stopped(_named(batch, exc), exc, "nothing of it was stored") from None
                before = state.count
                await self._settle(thread, state, resumed=False)  # the resume's matching
                unsure = unsure + 1 if state.count == before else 0
                if unsure == SETTLE_ATTEMPTS:
                    raise _stopped(batch[0], exc, "run the same import again") from None
                continue
            self._record(thread, batch, stored, target)

    def _record(
        self,
        thread: ConversationSource,
        batch: Sequence[SourceItem],
        stored: Sequence[object],
        target: str,
    ) -> None:
        if len(stored) > len(batch):
            raise _stopped(
                batch[0], None, f"the target answered {len(stored)} items for {len(batch)}"
            )
        for source, item in zip(batch, stored, strict=False):
            self.journal.record(source, target, str(getattr(item, "id", "")))
            self.stats.messages += 1
        self.journal.batch_settled(thread.thread_id)

    async def _settle(
        self, thread: ConversationSource, state: ImportThreadState, *, resumed: bool
    ) -> None:
        """What the pending batch stored (sent by an interrupted run, or by a call whose
        outcome stayed unknown): recorded, not sent again. Checked up to
        :data:`SETTLE_ATTEMPTS` times, then the thread is stopped."""
        target = state.target
        assert target is not None
        batch = state.batch or {}
        end = int(batch.get("start", state.count)) + int(batch.get("size", BATCH))
        if self.journal.rebuilt:  # the pending batch was lost with the state
            end = state.count + BATCH
        sent = thread.messages[state.count : end]
        if not sent:
            self.journal.batch_settled(thread.thread_id)
            return
        items = [m.item for m in sent]
        stored: Sequence[object] = ()
        for attempt in range(SETTLE_ATTEMPTS):
            try:
                stored = await self.conversations.items.find_stored(
                    target, items, follows=state.last_id or ""
                )
                break
            except RUN_ENDING:
                raise
            except errors.CreateOutcomeUnknownError as exc:
                if attempt + 1 == SETTLE_ATTEMPTS:
                    advice = "run the same import again to check and go on"
                    raise _stopped(sent[0], exc, advice) from None
                await asyncio.sleep(SETTLE_WAIT * 2**attempt)
        before = self.stats.messages
        self._record(thread, sent, stored, target)
        if resumed:
            self.stats.recovered += self.stats.messages - before

    async def _create(self, source_thread: str, state: ImportThreadState) -> None:
        """The thread's conversation: found again (a pending create, where conversations
        can be listed), else created; a create whose outcome stays unknown is an orphan."""
        metadata = _metadata(self.journal, source_thread)
        unknown: errors.APIError | None = None
        for _ in range(CREATE_ATTEMPTS):
            if state.pending:
                found = await self._find(metadata) if self.lists_conversations else None
                if found is not None:
                    self.journal.set_target(source_thread, found)
                    return
                if not self.lists_conversations:
                    self.orphans.append(source_thread)
            self.journal.create_pending(source_thread)
            try:
                conversation = await self.conversations.create(metadata=metadata)
            except (errors.CreateOutcomeUnknownError, errors.StoredButUnreadableError) as exc:
                unknown = exc
                continue
            self.journal.set_target(source_thread, conversation.id)
            return
        raise ConversationImportError(
            f"the conversation of source thread {source_thread} could not be created "
            f"({unknown}); run the same import again"
        )

    async def _find(self, metadata: dict[str, str]) -> str | None:
        async for conversation in self.conversations.list(order="desc"):
            found = conversation.metadata or {}
            if all(found.get(k) == v for k, v in metadata.items()):
                return str(conversation.id)
        return None


def _in_doubt(error: errors.APIError) -> bool:
    """Whether a failed items create may have stored some of its batch (the client turns
    an ambiguous failure it could not settle into :class:`CreateOutcomeUnknownError`)."""
    return isinstance(error, (errors.CreateOutcomeUnknownError, errors.StoredButUnreadableError))


def _named(batch: Sequence[SourceItem], error: errors.APIError) -> SourceItem:
    """The message a refusal names (its ``param`` ``items[N]...``), else the batch's first."""
    param = getattr(error, "param", None) or ""
    if param.startswith("items["):
        position = param[6:].split("]", 1)[0]
        if position.isdigit() and int(position) < len(batch):
            return batch[int(position)]
    return batch[0]


def _stopped(
    source: SourceItem, cause: BaseException | None, advice: str
) -> ConversationImportError:
    why = f"{type(cause).__name__}: {cause}" if cause is not None else "a reply that cannot be"
    return ConversationImportError(
        f"message {source.id} (line {source.line}) was not imported ({why}); this thread "
        f"is stopped: {advice}"
    )


async def import_conversations(
    client: Client,
    threads: Sequence[ConversationSource],
    journal: ImportJournal,
    stats: ImportStats,
    *,
    lists_conversations: bool,
    concurrency: int = 8,
) -> tuple[list[ThreadFailure], list[str]]:
    """Import every thread not yet complete in ``journal`` into its conversation; the
    threads that failed and those that may have left an empty orphan conversation.

    ``lists_conversations``: the target lists conversations (Foundry), so a conversation
    whose create was left pending is found again by its marker.
    """
    assert journal.destination is CONVERSATIONS
    run = _Run(client, journal, stats, lists_conversations, [])
    todo = start_run(threads, journal, stats)
    jobs = [(t.thread_id, functools.partial(run.thread, t)) for t in todo]
    failures = await run_per_thread(jobs, journal, stats, concurrency)
    return failures, sorted(set(run.orphans))


# -- verify ----------------------------------------------------------------------------------


def _describe(item: ConversationItem | dict[str, Any]) -> str:
    if isinstance(item, dict):
        texts = [p.get("text") or p.get("refusal") or p.get("type") for p in item["content"]]
        role = item.get("role")
    elif isinstance(item, MessageItem):
        texts, role = [item.text], item.role
    else:
        return f"an item of type {item.type!r}"
    text = " ".join(str(t) for t in texts)
    return f"{role} {text[:60]!r}" + ("..." if len(text) > 60 else "")


async def verify_conversations(
    client: Client,
    threads: Sequence[ConversationSource],
    journal: ImportJournal,
    *,
    concurrency: int = 8,
    report: Callable[[str], None],
) -> int:
    """Walk each thread's conversation and compare it with the export (count, order, role
    and content of every item); ``report`` each mismatch; how many there were."""
    mismatches = 0

    def say(line: str) -> None:
        nonlocal mismatches
        mismatches += 1
        report(line)

    def job(thread: ConversationSource) -> Callable[[], Any]:
        async def run() -> None:
            target = journal.state(thread.thread_id).target
            if target is None:
                say(f"source thread {thread.thread_id}: no conversation recorded")
                return
            where = f"conversation {target} (source thread {thread.thread_id})"
            try:
                found = await client.conversations.items.list(target, order="asc").collect()
            except RUN_ENDING:
                raise
            except errors.OpenAIMessagesError as exc:
                say(f"{where}: cannot be read ({type(exc).__name__}: {exc})")
                return
            if len(found) != len(thread.messages):
                say(f"{where}: {len(found)} items, the export has {len(thread.messages)}")
            for n, (want, got) in enumerate(zip(thread.messages, found, strict=False)):
                if not item_matches(want.item, got):
                    say(
                        f"{where} item {n} ({got.id}): expected message {want.id} "
                        f"(line {want.line}) {_describe(want.item)}, found {_describe(got)}"
                    )

        return run

    await _bounded([job(t) for t in threads], concurrency)
    return mismatches
