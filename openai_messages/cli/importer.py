"""Exactly-once, resumable import of an export's threads into a target server.

The export is read and checked whole before anything is sent
(:mod:`~openai_messages.cli.import_source`), progress is kept in an
:class:`~openai_messages.cli.import_journal.ImportJournal`; this module holds the import
loop. Each source thread gets a target thread (created, or given by ``--thread-map``), then
its messages are created one after the other in the source's order (``created_at``, then
file order), in the create API's shape.

Exactly once: every source message has a deterministic idempotency key (from a random
nonce kept in the state file, the source thread and message ids, and the target thread id).
The key is sent as ``Idempotency-Key`` and, when the metadata has room, kept in the created
message's metadata under :data:`IDEMPOTENCY_METADATA_KEY`. :class:`ImportJournal` records,
per source thread, the target thread and how many of its messages are created; it is
committed like the export's state file (the map synced first, then the state replaced
atomically), at most a second apart, and at once after a target thread is created. A run
killed between a create and the next commit resumes by listing the target thread after the
last committed message and matching the keys found in metadata (or, for a message with no
room for the key, its role, content and metadata), so nothing is created twice; with
``trust_idempotency_key`` it re-sends with the same keys instead, for servers that honour
them. A create whose outcome stays unknown stops its thread (re-run to check and continue).

A target thread is created with its key in its metadata too. Where the target lists
threads (``GET /threads``: Foundry's classic agents), a thread create that may or may not
have been stored is looked for by that marker before another is created, and a resumed
import first looks, once, for the threads a killed run created but did not commit
(:func:`find_marked_threads`); elsewhere the outcome stays unknown.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Final, Protocol, TypeVar

import attrs

from .._codec.models import Message
from .._core.bodies import IDEMPOTENCY_MARKER
from .._core.checks import MAX_METADATA_KEYS
from .._core.idempotency import find_created
from ..client import Client
from ..errors import (
    CreateOutcomeUnknownError,
    OpenAIMessagesError,
    ThreadListingUnsupportedError,
)
from .export import RUN_ENDING, ExportStats, ResumeError, ThreadFailure, _bounded
from .import_journal import ImportJournal, ImportThreadState
from .import_source import Exported, ImportInputError, SourceMessage, SourceThread, read_export

__all__ = [
    "IDEMPOTENCY_METADATA_KEY",
    "SOURCE_THREAD_METADATA_KEY",
    "STATE_SUFFIX",
    "ImportInputError",
    "ImportJournal",
    "ImportMessageError",
    "ImportStats",
    "SourceMessage",
    "SourceThread",
    "create_arguments",
    "create_target_thread",
    "find_marked_threads",
    "has_marker_room",
    "idempotency_key",
    "import_threads",
    "read_export",
    "run_per_thread",
    "start_run",
]

IDEMPOTENCY_METADATA_KEY: Final = IDEMPOTENCY_MARKER
"""The metadata key holding a created message's idempotency key (the lead may point it at
the client core's own marker)."""
SOURCE_THREAD_METADATA_KEY: Final = "om_source_thread_id"
"""The metadata key of a created target thread that names its source thread."""
STATE_SUFFIX: Final = ".import-state.json"
_KEY_PREFIX: Final = "om-import-"
THREAD_CREATE_ATTEMPTS: Final = 3
"""Thread creates tried, each looked for after an ambiguous failure, before giving up."""
CLOCK_SKEW: Final = 600.0
"""Seconds the target's clock may be behind ours (how far back a look for a thread goes)."""


class ImportMessageError(OpenAIMessagesError):
    """A source message could not be created; names it, its line and the cause."""

    def __init__(self, message: SourceMessage, cause: BaseException) -> None:
        super().__init__(
            f"message {message.id} (line {message.line}) was not created: "
            f"{type(cause).__name__}: {cause}"
        )
        self.source = message
        self.cause = cause


def has_marker_room(message: SourceMessage) -> bool:
    """Whether the message's metadata can take the idempotency key too."""
    metadata = message.metadata
    return IDEMPOTENCY_METADATA_KEY in metadata or len(metadata) < MAX_METADATA_KEYS


def metadata_for(message: SourceMessage, key: str) -> dict[str, str]:
    """The metadata to send: the source's, plus the idempotency key if there is room."""
    if not has_marker_room(message):
        return dict(message.metadata)
    return {**message.metadata, IDEMPOTENCY_METADATA_KEY: key}


def create_arguments(message: SourceMessage, key: str) -> dict[str, Any]:
    """The keyword arguments of ``client.create`` for ``message`` sent with ``key``."""
    return {
        "role": message.role,
        "content": message.content,
        "attachments": message.attachments,
        "file_ids": message.file_ids,
        "metadata": metadata_for(message, key),
        "idempotency_key": key,
    }


def idempotency_key(nonce: str, source_thread: str, source_id: str, target_thread: str) -> str:
    """The key a source message is always created with in one import (same on resume)."""
    digest = hashlib.sha256(
        "\x00".join((nonce, source_thread, source_id, target_thread)).encode()
    ).hexdigest()
    return f"{_KEY_PREFIX}{digest[:40]}"


# -- the import loop ---------------------------------------------------------------------------


async def create_target_thread(
    client: Client, *, metadata: Mapping[str, str], idempotency_key: str
) -> str:
    """Create a thread on the target and return its id.

    ``idempotency_key`` is the same on every run of one import, so that a server that
    honours ``Idempotency-Key`` returns the thread an interrupted run created; it is kept
    in the thread's metadata too, so that where the target lists threads, a create whose
    outcome is unknown is looked for before another is sent. Elsewhere (or after
    :data:`THREAD_CREATE_ATTEMPTS` such creates) :class:`CreateOutcomeUnknownError`.
    """
    marked = {**metadata, IDEMPOTENCY_METADATA_KEY: idempotency_key}
    for attempt in range(1, THREAD_CREATE_ATTEMPTS + 1):
        started = time.time()
        try:
            thread = await client.create_thread(metadata=marked, idempotency_key=idempotency_key)
        except CreateOutcomeUnknownError as unknown:
            try:
                found = await find_marked_threads(
                    client, {idempotency_key}, not_before=started - CLOCK_SKEW
                )
            except ThreadListingUnsupportedError:
                raise unknown from None  # no way to check: the outcome stays unknown
            if idempotency_key in found:
                return found[idempotency_key]
            if attempt == THREAD_CREATE_ATTEMPTS:
                raise
            continue  # it was not stored: create it (again)
        return thread.id
    raise AssertionError("unreachable")  # pragma: no cover


async def find_marked_threads(
    client: Client, keys: Collection[str], *, not_before: float | None = None
) -> dict[str, str]:
    """The target threads holding one of ``keys`` as their marker: key -> thread id.

    Walks the target's threads newest first, until every key is found or the threads are
    older than ``not_before`` (a Unix time; None: the whole list). Raises
    :class:`ThreadListingUnsupportedError` where the target does not list threads.
    """
    wanted = set(keys)
    found: dict[str, str] = {}
    async for thread in client.list_threads(order="desc"):
        stamp = thread.created_at
        if not_before is not None and stamp is not None and stamp < not_before:
            break
        marker = (thread.metadata or {}).get(IDEMPOTENCY_METADATA_KEY)
        if isinstance(marker, str) and marker in wanted and marker not in found:
            found[marker] = thread.id
            if len(found) == len(wanted):
                break
    return found


@attrs.define
class ImportStats(ExportStats):
    """The export's totals (read by the same progress display), plus what resume found."""

    recovered: int = 0
    """Messages found already created on the target (committed by no earlier run)."""


async def _recover(
    client: Client,
    thread: SourceThread,
    state: ImportThreadState,
    journal: ImportJournal,
    stats: ImportStats,
) -> None:
    """Record the messages an interrupted run created after its last commit.

    Walks the target thread after the last committed message, matching the next expected
    source message by its key in metadata (or, with no room for one, by its role, content,
    metadata and files); messages that match nothing were written by someone else.
    """
    target = state.target
    assert target is not None
    pending = thread.messages[state.count :]
    position = 0
    async for found in client.list(target, order="asc", after=state.last_id, prefetch=0):
        if position >= len(pending):
            break
        source = pending[position]
        key = (
            None  # a rebuilt state: the keys of the lost nonce are unknown, match the content
            if journal.rebuilt
            else idempotency_key(journal.nonce, thread.thread_id, source.id, target)
        )
        if not _is_created(found, source, key):
            continue
        journal.record(source, target, found.id)
        stats.recovered += 1
        stats.messages += 1
        position += 1


def _is_created(found: Message, source: SourceMessage, key: str | None) -> bool:
    """Whether ``found`` is ``source`` created with ``key`` (by its marker, else its body).

    With ``key`` None (the state was rebuilt), whether ``found`` is ``source`` created by
    any import: an importer's marker (or none, if there was no room) and the same body.
    """
    marker = (found.metadata or {}).get(IDEMPOTENCY_METADATA_KEY)
    if key is None:
        if not has_marker_room(source):
            key = ""
        elif not (isinstance(marker, str) and marker.startswith(_KEY_PREFIX)):
            return False
        else:
            key = marker
    elif has_marker_room(source):
        return bool(marker == key)
    if marker is not None and not has_marker_room(source):
        return False
    return bool(find_created([found], _body(source, key), not_before=0.0))


def _body(source: SourceMessage, key: str) -> dict[str, Any]:
    """The create body of ``source``, in the form :func:`find_created` compares."""
    return {
        "role": source.role,
        "content": source.content,
        "metadata": metadata_for(source, key),
        "attachments": source.attachments or [],
        "file_ids": source.file_ids or [],
    }


async def import_threads(
    client: Client,
    threads: Sequence[SourceThread],
    journal: ImportJournal,
    stats: ImportStats,
    *,
    thread_map: Mapping[str, str] | None = None,
    concurrency: int = 8,
    trust_idempotency_key: bool = False,
) -> list[ThreadFailure]:
    """Import every thread not yet complete in ``journal``; return the threads that failed.

    Threads run ``concurrency`` at a time, the messages of one thread one after the other.
    A failing thread does not stop the others and is never marked done; a refused key
    (401/403) ends the import at once, raised from here.
    """
    thread_map = dict(thread_map or {})
    for source_thread, target in thread_map.items():
        known = journal.state(source_thread).target
        if known is not None and known != target:
            raise ResumeError(
                f"source thread {source_thread} was imported into {known}, "
                f"not {target}; resume with the same --thread-map"
            )
    todo = start_run(threads, journal, stats)
    if journal.resumed:
        await _adopt_uncommitted(client, journal, [t.thread_id for t in todo], thread_map)
    jobs = [
        (t.thread_id, functools.partial(
            _import_one, client, t, journal, stats, thread_map.get(t.thread_id),
            trust_idempotency_key,
        ))
        for t in todo
    ]  # fmt: skip
    return await run_per_thread(jobs, journal, stats, concurrency)


class ExportedThread(Protocol):
    """A source thread as any import reads it: its id and its messages in order."""

    @property
    def thread_id(self) -> str: ...
    @property
    def messages(self) -> Sequence[Exported]: ...


T = TypeVar("T", bound=ExportedThread)


def start_run(threads: Sequence[T], journal: ImportJournal, stats: ImportStats) -> list[T]:
    """Check each thread against what ``journal`` committed of it and count the totals;
    the threads not yet done (:class:`ResumeError` for an export that changed)."""
    for thread in threads:
        _check_unchanged(thread, journal)
    stats.threads_total = len(threads)
    todo = [t for t in threads if not journal.state(t.thread_id).done]
    stats.threads_skipped = len(threads) - len(todo)
    return todo


async def run_per_thread(
    jobs: Sequence[tuple[str, Callable[[], Awaitable[None]]]],
    journal: ImportJournal,
    stats: ImportStats,
    concurrency: int,
) -> list[ThreadFailure]:
    """Run each source thread's job, ``concurrency`` at a time; the threads that failed.

    A failing thread (an :class:`OpenAIMessagesError`) does not stop the others and is
    never marked done; what ends the run (:data:`RUN_ENDING`) is raised from here.
    """
    failures: list[ThreadFailure] = []

    def job(thread_id: str, work: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await work()
            except RUN_ENDING:
                raise
            except OpenAIMessagesError as exc:
                failures.append(ThreadFailure(thread_id, exc))
                stats.threads_failed += 1
            else:
                journal.finish(thread_id)
                stats.threads_done += 1

        return run

    await _bounded([job(t, w) for t, w in jobs], concurrency)
    return failures


def _thread_key(journal: ImportJournal, source_thread: str) -> str:
    """The idempotency key (and marker) of the target thread of ``source_thread``."""
    return idempotency_key(journal.nonce, source_thread, "", "")


async def _adopt_uncommitted(
    client: Client, journal: ImportJournal, todo: Sequence[str], thread_map: Mapping[str, str]
) -> None:
    """Record the target threads a killed run created but did not commit (found by their
    marker, where the target lists threads), so that none is created twice."""
    keys = {
        _thread_key(journal, src): src
        for src in todo
        if journal.state(src).target is None and src not in thread_map
    }
    if not keys:
        return
    try:
        found = await find_marked_threads(client, keys)
    except RUN_ENDING:
        raise
    except OpenAIMessagesError:  # cannot list (or look): as before, create them anew
        return
    for key, target in found.items():
        journal.set_target(keys[key], target)
        if keys[key] in journal.orphans:
            journal.orphans.remove(keys[key])  # found: not an orphan


def _check_unchanged(thread: ExportedThread, journal: ImportJournal) -> None:
    """Refuse to resume from an export whose committed part is not what it was; a thread
    done whose export has grown since (a resumed export) is imported on."""
    state = journal.state(thread.thread_id)
    count = len(thread.messages)
    changed = state.count > count
    if not changed and state.count > 0:
        changed = thread.messages[state.count - 1].id != state.source_id
    if changed:
        raise ResumeError(
            f"source thread {thread.thread_id} is not what the interrupted import read "
            f"({state.count} messages committed, up to {state.source_id}); resume with the "
            f"same export, or give another --state"
        )
    if state.done and state.count < count:
        journal.reopen(thread.thread_id)


async def _import_one(
    client: Client,
    thread: SourceThread,
    journal: ImportJournal,
    stats: ImportStats,
    mapped: str | None,
    trust: bool,
) -> None:
    state = journal.state(thread.thread_id)
    if state.target is None:
        if mapped is None:
            journal.create_pending(thread.thread_id)  # reported on resume if it is lost
            new_thread = await create_target_thread(
                client,
                metadata={SOURCE_THREAD_METADATA_KEY: thread.thread_id[:512]},
                idempotency_key=_thread_key(journal, thread.thread_id),
            )
            journal.set_target(thread.thread_id, new_thread)
        else:
            journal.set_target(thread.thread_id, mapped)
            if journal.rebuilt:  # a lost state: what an earlier run created is found
                await _recover(client, thread, state, journal, stats)
    elif not trust or journal.rebuilt:
        await _recover(client, thread, state, journal, stats)
    target = state.target
    assert target is not None
    for source in thread.messages[state.count :]:
        key = idempotency_key(journal.nonce, thread.thread_id, source.id, target)
        try:
            created = await client.create(target, **create_arguments(source, key))
        except RUN_ENDING:
            raise
        except CreateOutcomeUnknownError as exc:
            raise ImportMessageError(
                source,
                OpenAIMessagesError(
                    f"{exc}; this thread is stopped: run the same import again to check "
                    f"the target and continue"
                ),
            ) from None
        except OpenAIMessagesError as exc:
            raise ImportMessageError(source, exc) from None
        journal.record(source, target, created.id)
        stats.messages += 1
