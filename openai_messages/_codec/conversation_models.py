"""The value classes of the Conversations API (the successor of threads).

In the style of :mod:`openai_messages.models`, and read by the same converter: lenient
(only ``id`` is required of a top-level object), lossless (unknown keys in ``extra``,
absent keys remembered) and forward compatible: an item of a type this package does not
know (``function_call``, ``reasoning``...) is an :class:`UnknownItem` holding the whole
object, a content part or an annotation of an unknown type likewise. Items carry no
``created_at`` and no metadata (the API has neither).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Union

import attrs

from .models import NO_EXTRA, _json_map, _Model, _PageMixin, _server_type

if TYPE_CHECKING:
    from .literals import UnknownType
else:
    UnknownType = str  # see openai_messages.types: any string at runtime

__all__ = [
    "Conversation",
    "ConversationItem",
    "ConversationItemPage",
    "ConversationPage",
    "DeletedConversation",
    "InputFilePart",
    "InputImagePart",
    "InputTextPart",
    "ItemContent",
    "MessageItem",
    "OutputAnnotation",
    "OutputContainerFileCitation",
    "OutputFileCitation",
    "OutputFilePath",
    "OutputTextPart",
    "OutputUrlCitation",
    "RefusalPart",
    "UnknownItem",
    "UnknownOutputAnnotation",
    "UnknownPart",
]

# --------------------------------------------------------------------------- annotations


@attrs.frozen(repr=False)
class OutputFileCitation(_Model):
    """A citation of a file in an ``output_text`` part (``index``: where in the text)."""

    type: ClassVar[Literal["file_citation"]] = "file_citation"

    file_id: str
    filename: str | None = None
    index: int | None = None


@attrs.frozen(repr=False)
class OutputUrlCitation(_Model):
    """A citation of a web page in an ``output_text`` part."""

    type: ClassVar[Literal["url_citation"]] = "url_citation"

    url: str
    title: str | None = None
    start_index: int | None = None
    end_index: int | None = None


@attrs.frozen(repr=False)
class OutputContainerFileCitation(_Model):
    """A citation of a file of a container (code interpreter) in an ``output_text`` part."""

    type: ClassVar[Literal["container_file_citation"]] = "container_file_citation"

    container_id: str
    file_id: str
    filename: str | None = None
    start_index: int | None = None
    end_index: int | None = None


@attrs.frozen(repr=False)
class OutputFilePath(_Model):
    """A link to a generated file in an ``output_text`` part."""

    type: ClassVar[Literal["file_path"]] = "file_path"

    file_id: str
    index: int | None = None


@attrs.frozen
class UnknownOutputAnnotation:
    """An annotation of a type this package does not know; ``raw`` is the whole object."""

    type: UnknownType = attrs.field(converter=_server_type)
    raw: Mapping[str, Any] = _json_map(default=NO_EXTRA)


OutputAnnotation = Union[  # noqa: UP007
    OutputFileCitation,
    OutputUrlCitation,
    OutputContainerFileCitation,
    OutputFilePath,
    UnknownOutputAnnotation,
]

# --------------------------------------------------------------------------- content parts


@attrs.frozen(repr=False)
class InputTextPart(_Model):
    """Text written by the user (or the system, or a developer)."""

    type: ClassVar[Literal["input_text"]] = "input_text"

    text: str


@attrs.frozen(repr=False)
class OutputTextPart(_Model):
    """Text written by the model, with its annotations."""

    type: ClassVar[Literal["output_text"]] = "output_text"

    text: str
    annotations: tuple[OutputAnnotation, ...] = ()
    logprobs: tuple[Mapping[str, Any], ...] | None = None


@attrs.frozen(repr=False)
class InputImagePart(_Model):
    """An image, by ``file_id`` or ``image_url`` (a URL or a data URL)."""

    type: ClassVar[Literal["input_image"]] = "input_image"

    image_url: str | None = None
    file_id: str | None = None
    detail: str | None = None


@attrs.frozen(repr=False)
class InputFilePart(_Model):
    """A file, by ``file_id``, ``file_url`` or inline ``file_data`` (with its ``filename``)."""

    type: ClassVar[Literal["input_file"]] = "input_file"

    file_id: str | None = None
    filename: str | None = None
    file_url: str | None = None
    file_data: str | None = None


@attrs.frozen(repr=False)
class RefusalPart(_Model):
    """A refusal by the model."""

    type: ClassVar[Literal["refusal"]] = "refusal"

    refusal: str


@attrs.frozen
class UnknownPart:
    """A content part of a type this package does not know; ``raw`` is the whole object."""

    type: UnknownType = attrs.field(converter=_server_type)
    raw: Mapping[str, Any] = _json_map(default=NO_EXTRA)


ItemContent = Union[  # noqa: UP007
    InputTextPart, OutputTextPart, InputImagePart, InputFilePart, RefusalPart, UnknownPart
]

# --------------------------------------------------------------------------- items


@attrs.frozen(repr=False)
class MessageItem(_Model):
    """A message item of a conversation: its role and content parts."""

    type: ClassVar[Literal["message"]] = "message"

    id: str
    status: str | None = None
    role: str | None = None
    content: tuple[ItemContent, ...] = ()

    @property
    def text(self) -> str:
        """The text of its ``input_text`` and ``output_text`` parts, joined with newlines."""
        return "\n".join(
            [p.text for p in self.content if type(p) is InputTextPart or type(p) is OutputTextPart]
        )


@attrs.frozen
class UnknownItem:
    """An item of a type this package does not know (a function call, a reasoning item...);
    ``raw`` is the whole object."""

    type: UnknownType = attrs.field(converter=_server_type)
    raw: Mapping[str, Any] = _json_map(default=NO_EXTRA)

    @property
    def id(self) -> str:
        """The item's id ("" when it has none)."""
        value = self.raw.get("id")
        return value if isinstance(value, str) else ""

    @property
    def text(self) -> str:
        """An item of an unknown type has no text: ``""`` (as for any walk's ``.text``)."""
        return ""


ConversationItem = Union[MessageItem, UnknownItem]  # noqa: UP007


@attrs.frozen(repr=False)
class ConversationItemPage(_Model, _PageMixin[ConversationItem]):
    """One page of a conversation's items (also the answer to an items create)."""

    object: str = "list"
    data: tuple[ConversationItem, ...] = ()
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


# --------------------------------------------------------------------------- conversations


@attrs.frozen(repr=False)
class Conversation(_Model):
    """A conversation: its id, creation time and metadata."""

    id: str
    object: str = "conversation"
    created_at: int | None = None
    metadata: Mapping[str, Any] | None = _json_map()


@attrs.frozen(repr=False)
class DeletedConversation(_Model):
    """The answer to a conversation delete."""

    id: str
    object: str = "conversation.deleted"
    deleted: bool = False


@attrs.frozen(repr=False)
class ConversationPage(_Model, _PageMixin[Conversation]):
    """One page of a project's conversations (Foundry lists them; OpenAI does not)."""

    object: str = "list"
    data: tuple[Conversation, ...] = ()
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False
