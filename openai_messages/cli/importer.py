"""Exactly-once, resumable import of an export's threads into a target server.

The export (one message JSON per line, with its ``thread_id``) is read and checked whole
before anything is sent: a bad line is an :class:`ImportInputError` naming it. Each source
thread gets a target thread (created, or given by ``--thread-map``), then its messages are
created one after the other in the source's order (``created_at``, then file order), in the
create API's shape: text, ``image_file`` and ``image_url`` parts (a ``refusal`` part becomes
text), role, attachments (v2) or ``file_ids`` (v1) and metadata; annotations and the other
output-only fields are dropped.

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
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import attrs
import orjson

from .. import protocol
from ..bulk import RUN_ENDING
from ..client import Client
from ..errors import (
    CreateOutcomeUnknownError,
    InvalidArgumentError,
    OpenAIMessagesError,
)
from ..idempotency import find_created
from ..models import Message
from ..validation import MAX_METADATA_KEYS
from .export import (
    CHECKPOINT_INTERVAL,
    ExportStats,
    ResumeError,
    ThreadFailure,
    _bounded,
    _last_line_end,
    _lock,
    _read_json,
    _replace_atomically,
)

__all__ = [
    "IDEMPOTENCY_METADATA_KEY",
    "SOURCE_THREAD_METADATA_KEY",
    "STATE_SUFFIX",
    "ImportInputError",
    "ImportJournal",
    "ImportMessageError",
    "SourceMessage",
    "SourceThread",
    "ThreadCreationUnavailableError",
    "create_target_thread",
    "idempotency_key",
    "import_threads",
    "read_export",
]

IDEMPOTENCY_METADATA_KEY: Final = "om_idempotency_key"
"""The metadata key holding a created message's idempotency key (the lead may point it at
the client core's own marker)."""
SOURCE_THREAD_METADATA_KEY: Final = "om_source_thread_id"
"""The metadata key of a created target thread that names its source thread."""
STATE_SUFFIX: Final = ".import-state.json"
STATE_FORMAT: Final = "openai-messages-import/1"


class ImportInputError(OpenAIMessagesError):
    """The export file cannot be imported as it is (bad input: exit code 2)."""


class ImportMessageError(OpenAIMessagesError):
    """A source message could not be created; names it, its line and the cause."""

    def __init__(self, message: SourceMessage, cause: BaseException) -> None:
        super().__init__(
            f"message {message.id} (line {message.line}) was not created: "
            f"{type(cause).__name__}: {cause}"
        )
        self.source = message
        self.cause = cause


class ThreadCreationUnavailableError(OpenAIMessagesError):
    """This client has no ``create_thread``: target threads must be given with --thread-map."""


# -- reading the export ----------------------------------------------------------------------


@attrs.frozen
class SourceMessage:
    """One exported message, in the create API's shape (see :func:`create_arguments`)."""

    line: int
    id: str
    thread_id: str
    created_at: int | None
    role: str
    content: list[dict[str, Any]]
    attachments: list[dict[str, Any]] | None
    file_ids: list[str] | None
    metadata: dict[str, str]

    @property
    def has_marker_room(self) -> bool:
        """Whether the metadata can take the idempotency key too."""
        return IDEMPOTENCY_METADATA_KEY in self.metadata or len(self.metadata) < MAX_METADATA_KEYS

    def metadata_with(self, key: str) -> dict[str, str]:
        """The metadata to send: the source's, plus the idempotency key if there is room."""
        if not self.has_marker_room:
            return dict(self.metadata)
        return {**self.metadata, IDEMPOTENCY_METADATA_KEY: key}


@attrs.frozen
class SourceThread:
    """A source thread's messages, in the order they are to be created."""

    thread_id: str
    messages: tuple[SourceMessage, ...]


def _part(part: object, where: str) -> dict[str, Any]:
    """One output content part as a create part (annotations dropped)."""
    if not isinstance(part, dict):
        raise ImportInputError(f"{where}: a content part must be an object")
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        value = text.get("value") if isinstance(text, dict) else text
        if not isinstance(value, str):
            raise ImportInputError(f"{where}: a text part without its text value")
        return {"type": "text", "text": value}
    if kind == "refusal" and isinstance(part.get("refusal"), str):
        return {"type": "text", "text": part["refusal"]}
    if kind in ("image_file", "image_url"):
        body = part.get(kind)
        needed = "file_id" if kind == "image_file" else "url"
        if not isinstance(body, dict) or not isinstance(body.get(needed), str):
            raise ImportInputError(f"{where}: an {kind} part without its {needed}")
        kept = {k: body[k] for k in (needed, "detail") if body.get(k) is not None}
        return {"type": kind, kind: kept}
    raise ImportInputError(f"{where}: content of type {kind!r} cannot be created through the API")


def _version(item: Mapping[str, Any]) -> str | None:
    """'v1' for a message with ``file_ids`` only, 'v2' with ``attachments`` only, else None."""
    has_v1, has_v2 = "file_ids" in item, "attachments" in item
    if has_v1 and not has_v2:
        return "v1"
    if has_v2 and not has_v1:
        return "v2"
    return None


def _message(item: object, line: int, api_version: protocol.ApiVersion) -> SourceMessage:
    where = f"line {line}"
    if not isinstance(item, dict):
        raise ImportInputError(f"{where}: not a JSON object")
    for field in ("thread_id", "role", "content"):
        if item.get(field) is None:
            raise ImportInputError(f"{where}: the message has no {field}")
    message_id, thread_id, role = item.get("id"), item["thread_id"], item["role"]
    if not isinstance(message_id, str) or not message_id:
        raise ImportInputError(f"{where}: the message has no id")
    where = f"line {line} (message {message_id})"
    if not isinstance(thread_id, str) or not thread_id:
        raise ImportInputError(f"{where}: thread_id must be a non-empty string")
    content = item["content"]
    if isinstance(content, str):
        content = [{"type": "text", "text": {"value": content}}]
    if not isinstance(content, list):
        raise ImportInputError(f"{where}: content must be a list of parts")
    parts = [_part(p, f"{where}, content[{i}]") for i, p in enumerate(content)]
    attachments = item.get("attachments") or None
    file_ids = item.get("file_ids") or None
    if attachments is not None and api_version == "v1":
        raise ImportInputError(f"{where}: attachments are API v2; import with --api-version v2")
    if file_ids is not None and api_version == "v2":
        raise ImportInputError(f"{where}: file_ids are API v1; import with --api-version v1")
    created_at = item.get("created_at")
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ImportInputError(f"{where}: metadata must be an object")
    if not isinstance(attachments, (list, type(None))) or not isinstance(
        file_ids, (list, type(None))
    ):
        raise ImportInputError(f"{where}: attachments and file_ids must be lists")
    source = SourceMessage(
        line=line,
        id=message_id,
        thread_id=thread_id,
        created_at=created_at if isinstance(created_at, int) else None,
        role=role,
        content=parts,
        attachments=[_attachment(a) for a in attachments] if attachments else None,
        file_ids=file_ids,
        metadata=metadata,
    )
    try:  # the client's own checks, now, with the key it will carry
        protocol.build_create(
            "thread_check", api_version=api_version, **create_arguments(source, "k" * 40)
        )
    except InvalidArgumentError as exc:
        raise ImportInputError(f"{where}: {exc}") from None
    return source


def _attachment(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k in ("file_id", "tools")}
    return {"file_id": value}  # refused by the client's check, which names it


def read_export(path: str, api_version: protocol.ApiVersion = "v2") -> list[SourceThread]:
    """Every thread of the export, in first-seen order, each in creation order.

    Raises :class:`ImportInputError` naming the line of the first problem: not JSON, no
    ``thread_id``/``role``/``content``/``id``, content that cannot be created, lines of
    both API versions, the same message twice, a field the other API version needs.
    """
    threads: dict[str, list[SourceMessage]] = {}
    seen: dict[tuple[str, str], int] = {}
    first_version: tuple[str, int] | None = None
    try:
        with open(path, "rb") as fh:
            for line, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    item = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise ImportInputError(f"line {line}: not JSON ({exc})") from None
                message = _message(item, line, api_version)
                version = _version(item)
                if version is not None:
                    if first_version is None:
                        first_version = (version, line)
                    elif first_version[0] != version:
                        raise ImportInputError(
                            f"line {line}: an API {version} message in a file whose line "
                            f"{first_version[1]} is API {first_version[0]}; import them apart"
                        )
                known = seen.setdefault((message.thread_id, message.id), line)
                if known != line:
                    raise ImportInputError(
                        f"line {line}: message {message.id} appears twice (line {known} too)"
                    )
                threads.setdefault(message.thread_id, []).append(message)
    except OSError as exc:
        raise ImportInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return [SourceThread(tid, _chronological(ms)) for tid, ms in threads.items()]


def _chronological(messages: list[SourceMessage]) -> tuple[SourceMessage, ...]:
    """By ``created_at`` then file order; a message without one stays after its predecessor."""
    keys: list[tuple[int, int]] = []
    last = 0
    for position, message in enumerate(messages):
        if message.created_at is not None:
            last = message.created_at
        keys.append((last, position))
    order = sorted(range(len(messages)), key=keys.__getitem__)
    return tuple(messages[i] for i in order)


def create_arguments(message: SourceMessage, key: str) -> dict[str, Any]:
    """The keyword arguments of ``client.create`` for ``message`` sent with ``key``."""
    return {
        "role": message.role,
        "content": message.content,
        "attachments": message.attachments,
        "file_ids": message.file_ids,
        "metadata": message.metadata_with(key),
        "idempotency_key": key,
    }


def idempotency_key(nonce: str, source_thread: str, source_id: str, target_thread: str) -> str:
    """The key a source message is always created with in one import (same on resume)."""
    digest = hashlib.sha256(
        "\x00".join((nonce, source_thread, source_id, target_thread)).encode()
    ).hexdigest()
    return f"om-import-{digest[:40]}"


# -- the journal: state file and map -----------------------------------------------------------


@attrs.define
class ImportThreadState:
    """What is committed of one source thread's import."""

    target: str | None = None
    count: int = 0
    last_id: str | None = None
    source_id: str | None = None
    """The id of the last source message committed (checks the export did not change)."""
    done: bool = False


class ImportJournal:
    """The state file (and the optional ``--map`` file) of one import, resumable.

    The state is committed at most every ``CHECKPOINT_INTERVAL`` seconds, and at once by
    :meth:`checkpoint`: the map is synced, then the state that claims its size replaces
    the old one atomically. On open, the map is cut back to the committed size.
    """

    def __init__(self, state_path: str, map_path: str | None, target: str) -> None:
        self.state_path = state_path
        self.map_path = map_path
        self.target = target
        self.nonce = secrets.token_hex(16)
        self.threads: dict[str, ImportThreadState] = {}
        self.resumed = False
        self._map_fd = -1
        self._map_size = 0
        self._lock_fd = -1
        self._dirty = True
        self._committed_at = time.monotonic()

    @classmethod
    def open(cls, state_path: str, map_path: str | None, target: str) -> ImportJournal:
        """Open (or start) the journal; :class:`ResumeError` if it cannot be resumed safely."""
        journal = cls(state_path, map_path, target)
        try:
            journal._open()
        except BaseException:
            journal._release()
            raise
        return journal

    def _open(self) -> None:
        lock_path = self.state_path + ".lock"
        self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(self._lock_fd, lock_path)
        except ResumeError:
            raise ResumeError(f"{self.state_path} is in use by another import") from None
        state = _read_json(self.state_path)
        if state is None and os.path.exists(self.state_path):
            raise ResumeError(f"{self.state_path} is not an import state file")
        if self.map_path is not None:
            self._map_fd = os.open(self.map_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if state is None:
            if self._map_fd >= 0 and os.fstat(self._map_fd).st_size > 0:
                raise ResumeError(
                    f"{self.map_path} is not empty and {self.state_path} is missing; "
                    f"give another --map (or the --state of the import that wrote it)"
                )
            self.checkpoint()  # the nonce is durable before any key made from it is sent
            return
        self._restore(state)

    def _restore(self, state: dict[str, Any]) -> None:
        path = self.state_path
        if state.get("format") != STATE_FORMAT or not isinstance(state.get("threads"), dict):
            raise ResumeError(f"{path} is not an import state file ({STATE_FORMAT})")
        if state.get("target") != self.target:
            raise ResumeError(
                f"{path} is an import into {state.get('target')}, not {self.target}; "
                f"give another --state to import there"
            )
        if state.get("map") != (os.path.abspath(self.map_path) if self.map_path else None):
            raise ResumeError(f"{path} was written with --map {state.get('map')}; resume with it")
        size = state.get("map_size", 0)
        if self._map_fd >= 0:
            actual = os.fstat(self._map_fd).st_size
            if not isinstance(size, int) or not 0 <= size <= actual:
                raise ResumeError(f"{self.map_path} is shorter than {path} says; cannot resume")
            if _last_line_end(self._map_fd, size) != size:
                raise ResumeError(f"{self.map_path} does not end on a line at {size} bytes")
            os.ftruncate(self._map_fd, size)
            self._map_size = size
        try:
            self.nonce = str(state["nonce"])
            self.threads = {
                str(tid): ImportThreadState(
                    target=entry.get("target"),
                    count=int(entry.get("count", 0)),
                    last_id=entry.get("last_id"),
                    source_id=entry.get("source_id"),
                    done=bool(entry.get("done", False)),
                )
                for tid, entry in state["threads"].items()
            }
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ResumeError(f"{path} is damaged; cannot resume") from None
        self.resumed = True
        self._dirty = False

    def state(self, source_thread: str) -> ImportThreadState:
        """The state of a source thread (a fresh one if it was never started)."""
        found = self.threads.get(source_thread)
        if found is None:
            found = self.threads[source_thread] = ImportThreadState()
        return found

    def set_target(self, source_thread: str, target: str) -> None:
        """Record the target thread of a source thread and commit it at once."""
        self.state(source_thread).target = target
        self._dirty = True
        self.checkpoint()

    def record(self, source: SourceMessage, target_thread: str, created_id: str) -> None:
        """Record one created message (map line, count, last id); commit if it is time."""
        if self._map_fd >= 0:
            line = orjson.dumps(
                {
                    "source_thread_id": source.thread_id,
                    "source_id": source.id,
                    "thread_id": target_thread,
                    "id": created_id,
                }
            )
            view = memoryview(line + b"\n")
            while view:
                view = view[os.write(self._map_fd, view) :]
            self._map_size += len(line) + 1
        state = self.state(source.thread_id)
        state.count += 1
        state.last_id = created_id
        state.source_id = source.id
        self._dirty = True
        self.maybe_checkpoint()

    def finish(self, source_thread: str) -> None:
        """Mark a source thread as completely imported."""
        self.state(source_thread).done = True
        self._dirty = True
        self.maybe_checkpoint()

    def maybe_checkpoint(self) -> None:
        """Commit at most once every ``CHECKPOINT_INTERVAL`` seconds."""
        if time.monotonic() - self._committed_at >= CHECKPOINT_INTERVAL:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Sync the map, then atomically replace the state that claims it."""
        self._committed_at = time.monotonic()
        if not self._dirty:
            return
        if self._map_fd >= 0:
            os.fsync(self._map_fd)
        state = {
            "format": STATE_FORMAT,
            "nonce": self.nonce,
            "target": self.target,
            "map": os.path.abspath(self.map_path) if self.map_path else None,
            "map_size": self._map_size,
            "threads": {tid: attrs.asdict(st) for tid, st in self.threads.items()},
        }
        _replace_atomically(self.state_path, orjson.dumps(state, option=orjson.OPT_INDENT_2))
        self._dirty = False

    def close(self) -> None:
        """Commit and release the files."""
        try:
            if self._lock_fd >= 0:
                self.checkpoint()
        finally:
            self._release()

    def _release(self) -> None:
        for fd in (self._map_fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._map_fd = self._lock_fd = -1


# -- the import loop ---------------------------------------------------------------------------


async def create_target_thread(client: Client, *, metadata: Mapping[str, str]) -> str:
    """Create a thread on the target and return its id (``client.create_thread``)."""
    create_thread = getattr(client, "create_thread", None)
    if create_thread is None:
        raise ThreadCreationUnavailableError(
            "this version of the client cannot create threads; give every source thread "
            "a target with --thread-map SRC=DST"
        )
    thread = await create_thread(metadata=dict(metadata))
    thread_id = thread.id
    assert isinstance(thread_id, str)
    return thread_id


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
        key = idempotency_key(journal.nonce, thread.thread_id, source.id, target)
        if not _is_created(found, source, key):
            continue
        journal.record(source, target, found.id)
        stats.recovered += 1
        stats.messages += 1
        position += 1


def _is_created(found: Message, source: SourceMessage, key: str) -> bool:
    """Whether ``found`` is ``source`` created with ``key`` (by its marker, else its body)."""
    marker = (found.metadata or {}).get(IDEMPOTENCY_METADATA_KEY)
    if source.has_marker_room:
        return bool(marker == key)
    if marker is not None:
        return False
    return bool(find_created([found], _body(source, key), not_before=0.0))


def _body(source: SourceMessage, key: str) -> dict[str, Any]:
    """The create body of ``source``, in the form :func:`find_created` compares."""
    return {
        "role": source.role,
        "content": source.content,
        "metadata": source.metadata_with(key),
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
    for thread in threads:
        _check_unchanged(thread, journal.state(thread.thread_id))
    stats.threads_total = len(threads)
    todo = [t for t in threads if not journal.state(t.thread_id).done]
    stats.threads_skipped = len(threads) - len(todo)
    failures: list[ThreadFailure] = []

    def job(thread: SourceThread) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await _import_one(
                    client, thread, journal, stats, thread_map.get(thread.thread_id),
                    trust_idempotency_key,
                )  # fmt: skip
            except RUN_ENDING:
                raise
            except OpenAIMessagesError as exc:
                failures.append(ThreadFailure(thread.thread_id, exc))
                stats.threads_failed += 1
            else:
                journal.finish(thread.thread_id)
                stats.threads_done += 1

        return run

    await _bounded([job(t) for t in todo], concurrency)
    return failures


def _check_unchanged(thread: SourceThread, state: ImportThreadState) -> None:
    """Refuse to resume from an export whose committed part is not what it was."""
    count = len(thread.messages)
    changed = state.count > count or (state.done and state.count != count)
    if not changed and state.count > 0:
        changed = thread.messages[state.count - 1].id != state.source_id
    if changed:
        raise ResumeError(
            f"source thread {thread.thread_id} is not what the interrupted import read "
            f"({state.count} messages committed, up to {state.source_id}); resume with the "
            f"same export, or give another --state"
        )


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
        created_thread = mapped or await create_target_thread(
            client, metadata={SOURCE_THREAD_METADATA_KEY: thread.thread_id[:512]}
        )
        journal.set_target(thread.thread_id, created_thread)
    elif not trust:
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
