"""From a thread message to conversation items: the one mapping, usable on its own.

:func:`conversation_items` gives the items (JSON-ready dicts, in the order to send them)
that stand for one :class:`~openai_messages.Message` in a conversation. What maps and
what does not (the README's "Moving to Conversations" holds the same table):

=====================================  ===============================================
thread message                         conversation item
=====================================  ===============================================
``role`` user / assistant              a ``message`` item of that role
text, user                             ``input_text``
text, assistant                        ``output_text`` with its annotations:
                                       ``file_citation`` (``file_id``; ``index`` the
                                       citation's ``start_index``; ``filename`` unknown
                                       in a thread, the file id stands in) and
                                       ``file_path`` (``file_id``, ``index``); the
                                       citation's marker stays in the text, its
                                       ``end_index`` and v1 ``quote`` are not carried
``image_file`` / ``image_url``, user   ``input_image`` (``file_id`` / ``image_url``,
                                       ``detail``)
attachments / v1 ``file_ids``, user    one ``input_file`` part per file, by ``file_id``
                                       (the tools it was attached to are not carried)
refusal, assistant                     ``refusal``
images or files of an assistant        refused (an assistant item holds text and
                                       refusals only), or with ``assistant_media=
                                       "user_item"`` a ``user`` item right after it
=====================================  ===============================================

File ids are the source's: they name files of the source project, and mean the same
files only where those files are (the same OpenAI project, or files copied with the
same ids). Kept only in an import's map, as items have no place for them: the message
and thread ids, ``created_at``, ``metadata``, ``assistant_id``, ``run_id``, ``status``.

A message that cannot be mapped (an unknown role, content or annotation type, a
refusal by the user, annotations on a user's text, an empty file id, no content at
all) raises
:class:`~openai_messages.errors.MessageNotMappableError` naming it and why; nothing is
dropped silently. ``drop_annotations=True`` drops annotations on purpose.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from ._codec.models import (
    Annotation,
    FileCitationAnnotation,
    FilePathAnnotation,
    ImageFileContent,
    ImageUrlContent,
    Message,
    RefusalContent,
    TextContent,
)
from .errors import MessageNotMappableError

__all__ = ["AssistantMedia", "conversation_items"]

AssistantMedia = Literal["error", "user_item"]
"""What becomes of an assistant message's images and files (see :func:`conversation_items`)."""

_ROLES: Final = ("user", "assistant")


def _fail(message: Message, reason: str) -> MessageNotMappableError:
    return MessageNotMappableError(
        f"message {message.id!r} of thread {message.thread_id!r} cannot become a "
        f"conversation item: {reason}",
        message_id=message.id,
        thread_id=message.thread_id,
        reason=reason,
    )


def _annotation(message: Message, where: str, note: Annotation) -> dict[str, Any]:
    if isinstance(note, FileCitationAnnotation):
        file_id = note.file_citation.file_id
        return {
            "type": "file_citation",
            "file_id": file_id,
            "filename": file_id,
            "index": note.start_index,
        }
    if isinstance(note, FilePathAnnotation):
        return {"type": "file_path", "file_id": note.file_path.file_id, "index": note.start_index}
    raise _fail(message, f"{where} is an annotation of unknown type {note.type!r}")


def _text(
    message: Message, index: int, block: TextContent, drop_annotations: bool
) -> dict[str, Any]:
    notes = block.text.annotations
    if message.role == "user":
        if notes and not drop_annotations:
            raise _fail(
                message,
                f"content[{index}] is a user's text with annotations, which input_text "
                "cannot hold (drop_annotations=True drops them)",
            )
        return {"type": "input_text", "text": block.text.value}
    annotations = (
        []
        if drop_annotations
        else [
            _annotation(message, f"content[{index}].text.annotations[{n}]", note)
            for n, note in enumerate(notes)
        ]
    )
    return {"type": "output_text", "text": block.text.value, "annotations": annotations}


def _image(message: Message, index: int, block: ImageFileContent | ImageUrlContent) -> Any:
    if isinstance(block, ImageFileContent):
        part: dict[str, Any] = {"type": "input_image", "file_id": block.image_file.file_id}
        detail = block.image_file.detail
    else:
        part = {"type": "input_image", "image_url": block.image_url.url}
        detail = block.image_url.detail
    if not (part.get("file_id") or part.get("image_url")):
        raise _fail(message, f"content[{index}] is an image with an empty file id or URL")
    part["detail"] = detail if detail is not None else "auto"
    return part


def _files(message: Message) -> list[dict[str, Any]]:
    ids = [a.file_id for a in message.attachments or ()] + list(message.file_ids or ())
    if not all(ids):
        raise _fail(message, "one of its attachments or file_ids is an empty file id")
    return [{"type": "input_file", "file_id": file_id} for file_id in dict.fromkeys(ids)]


def conversation_items(
    message: Message,
    *,
    assistant_media: AssistantMedia = "error",
    drop_annotations: bool = False,
) -> list[dict[str, Any]]:
    """The conversation items of one thread message, JSON-ready, in the order to send.

    Usually one ``message`` item; with ``assistant_media="user_item"``, an assistant
    message's images and files follow it as a ``user`` item. Raises
    :class:`MessageNotMappableError` for a message that cannot be mapped (see the
    module's table).
    """
    role = message.role
    if role not in _ROLES:
        raise _fail(message, f"its role {role!r} is neither 'user' nor 'assistant'")
    parts: list[dict[str, Any]] = []
    media: list[dict[str, Any]] = []
    for index, block in enumerate(message.content):
        if isinstance(block, TextContent):
            parts.append(_text(message, index, block, drop_annotations))
        elif isinstance(block, (ImageFileContent, ImageUrlContent)):
            (parts if role == "user" else media).append(_image(message, index, block))
        elif isinstance(block, RefusalContent):
            if role == "user":
                raise _fail(message, f"content[{index}] is a refusal in a user's message")
            parts.append({"type": "refusal", "refusal": block.refusal})
        else:
            raise _fail(message, f"content[{index}] is of unknown type {block.type!r}")
    (parts if role == "user" else media).extend(_files(message))
    if media and assistant_media != "user_item":
        raise _fail(
            message,
            "an assistant's images and files cannot be in an assistant item "
            "(assistant_media='user_item' puts them in a user item after it)",
        )
    items: list[dict[str, Any]] = []
    if parts:
        items.append({"type": "message", "role": role, "content": parts})
    if media:
        items.append({"type": "message", "role": "user", "content": media})
    if not items:
        raise _fail(message, "it has no content")
    return items
