"""Reading an export for the import: every line checked, each thread in creation order.

The export is one message JSON per line, as the server sent it. :func:`read_export` reads
it whole, turns each message into the create API's shape (:class:`SourceMessage`: text,
``image_file`` and ``image_url`` parts, a ``refusal`` part as text; annotations and the
other output-only fields dropped) and checks it as the client will, so that bad input is
an :class:`ImportInputError` naming its line before anything is sent.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import attrs
import orjson

from .._codec.literals import ApiVersion, Role
from .._core import bodies
from .._core import checks as validation
from ..errors import InvalidArgumentError, OpenAIMessagesError

__all__ = [
    "Exported",
    "ImportInputError",
    "SourceMessage",
    "SourceThread",
    "identify",
    "read_export",
    "read_threads",
]


class ImportInputError(OpenAIMessagesError):
    """The export file cannot be imported as it is (bad input: exit code 2)."""


class Exported(Protocol):
    """What every reading of an exported message has: its line, ids and creation time."""

    @property
    def line(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def thread_id(self) -> str: ...
    @property
    def created_at(self) -> int | None: ...


M = TypeVar("M", bound=Exported)


@attrs.frozen
class SourceMessage:
    """One exported message, in the create API's shape: its content parts, attachments (v2)
    or ``file_ids`` (v1) and metadata, with the line it was read from."""

    line: int
    id: str
    thread_id: str
    created_at: int | None
    role: Role
    content: list[dict[str, Any]]
    attachments: list[dict[str, Any]] | None
    file_ids: list[str] | None
    metadata: dict[str, str]


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


def identify(item: object, line: int) -> tuple[str, str, str]:
    """The message id and thread id of an exported line, and where it is (for errors)."""
    where = f"line {line}"
    if not isinstance(item, dict):
        raise ImportInputError(f"{where}: not a JSON object")
    for field in ("thread_id", "role", "content"):
        if item.get(field) is None:
            raise ImportInputError(f"{where}: the message has no {field}")
    message_id, thread_id = item.get("id"), item["thread_id"]
    if not isinstance(message_id, str) or not message_id:
        raise ImportInputError(f"{where}: the message has no id")
    where = f"line {line} (message {message_id})"
    if not isinstance(thread_id, str) or not thread_id:
        raise ImportInputError(f"{where}: thread_id must be a non-empty string")
    return message_id, thread_id, where


def _message(item: Any, line: int, api_version: ApiVersion) -> SourceMessage:
    message_id, thread_id, where = identify(item, line)
    try:
        role = validation.check_role(item["role"])
    except InvalidArgumentError as exc:
        raise ImportInputError(f"{where}: {exc}") from None
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
    try:  # the client's own checks, now, before anything is sent
        bodies.message(
            source.role,
            source.content,
            attachments=source.attachments,
            file_ids=source.file_ids,
            metadata=source.metadata,
            api_version=api_version,
        )
    except InvalidArgumentError as exc:
        raise ImportInputError(f"{where}: {exc}") from None
    return source


def _attachment(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k in ("file_id", "tools")}
    return {"file_id": value}  # refused by the client's check, which names it


def read_export(
    path: str, api_version: ApiVersion = "v2", size: int | None = None
) -> list[SourceThread]:
    """Every thread of the export, in first-seen order, each in creation order (of the
    first ``size`` bytes alone, if given: what an unfinished export's state claims).

    Raises :class:`ImportInputError` naming the line of the first problem: not JSON, no
    ``thread_id``/``role``/``content``/``id``, content that cannot be created, lines of
    both API versions, the same message twice, a field the other API version needs.
    """
    return [
        SourceThread(tid, messages)
        for tid, messages in read_threads(
            path, lambda item, line: _message(item, line, api_version), size
        )
    ]


def read_threads(
    path: str, convert: Callable[[Any, int], M], size: int | None = None
) -> list[tuple[str, tuple[M, ...]]]:
    """Each thread of the export with its messages read by ``convert(item, line)``, in
    first-seen order, each in creation order (the reading of :func:`read_export`, whatever
    a message becomes: ``convert`` raises :class:`ImportInputError` naming its line)."""
    threads: dict[str, list[M]] = {}
    seen: dict[tuple[str, str], int] = {}
    first_version: tuple[str, int] | None = None
    try:
        with open(path, "rb") as fh:
            lines = io.BytesIO(fh.read(size)) if size is not None else fh
            for line, raw in enumerate(lines, 1):
                if not raw.strip():
                    continue
                try:
                    item = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise ImportInputError(f"line {line}: not JSON ({exc})") from None
                message = convert(item, line)
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
    return [(tid, _chronological(ms)) for tid, ms in threads.items()]


def _chronological(messages: list[M]) -> tuple[M, ...]:
    """By ``created_at`` then file order; a message without one stays after its predecessor."""
    keys: list[tuple[int, int]] = []
    last = 0
    for position, message in enumerate(messages):
        if message.created_at is not None:
            last = message.created_at
        keys.append((last, position))
    order = sorted(range(len(messages)), key=keys.__getitem__)
    return tuple(messages[i] for i in order)
