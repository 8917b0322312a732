"""The value classes of the Messages API: frozen, slotted attrs classes.

Response models are lenient and lossless. Only ``Message.id`` (and the ``id`` of the other
top-level objects) is required in a payload; a field the payload left out gets a default and
is remembered as *absent*, so that converting the model back gives the payload again. Keys
the models do not know are kept in ``extra``; content blocks, annotations and tools of an
unknown ``type`` become ``UnknownContent``, ``UnknownAnnotation`` or ``UnknownTool`` holding
their raw dict.

The string fields with a documented set of values are typed with the ``Literal`` types of
:mod:`openai_messages.types`: a field read from a server as ``Open[...]`` (any string
arrives at runtime), the ``type`` of an ``Unknown*`` class as the sentinel
:data:`~openai_messages.types.UnknownType`, so that ``block.type == "text"`` narrows a
block to ``TextContent``; that module's docstring says why.

Two models compare equal exactly when they convert back to the same JSON object.
Conversion (JSON bytes or dicts to models and back) lives in :mod:`openai_messages.converter`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, Union, cast, overload

import attrs

from .literals import ImageDetail, IncompleteReason, MessageStatus, Role

if TYPE_CHECKING:
    from typing_extensions import Self

    from .literals import Open, UnknownType
else:
    # The converter reads these annotations: at runtime a field read from a server is a
    # str whatever it holds (see openai_messages.types for the static types).
    class _AnyString:
        def __getitem__(self, known: object) -> type[str]:
            return str

    Open = _AnyString()  # Open[MessageStatus] -> str
    UnknownType = str

__all__ = [
    "Annotation",
    "Attachment",
    "CodeInterpreterTool",
    "ContentPart",
    "DeletedMessage",
    "DeletedThread",
    "FileCitation",
    "FileCitationAnnotation",
    "FilePath",
    "FilePathAnnotation",
    "FileSearchTool",
    "ImageFile",
    "ImageFileContent",
    "ImageFilePart",
    "ImageUrl",
    "ImageUrlContent",
    "ImageUrlPart",
    "IncompleteDetails",
    "Message",
    "MessageContent",
    "MessageFile",
    "MessageFilePage",
    "MessagePage",
    "RefusalContent",
    "Text",
    "TextContent",
    "TextPart",
    "Thread",
    "ThreadPage",
    "Tool",
    "UnknownAnnotation",
    "UnknownContent",
    "UnknownTool",
]

_T = TypeVar("_T")

#: The shared, read-only ``extra`` of every object that had no unknown keys.
NO_EXTRA: Mapping[str, Any] = MappingProxyType({})
#: The shared ``absent`` set of every object that had all its known keys.
NOTHING_ABSENT: frozenset[str] = frozenset()


def _extra() -> Any:
    return attrs.field(default=NO_EXTRA, kw_only=True, hash=False)


def _absent() -> Any:
    return attrs.field(default=NOTHING_ABSENT, kw_only=True, repr=False)


def _server_type(value: str) -> UnknownType:
    """The ``type`` of an ``Unknown*`` object: any string at runtime (see the module docstring)."""
    return value  # type: ignore[return-value]


def _json_map(*, default: Any = None) -> Any:
    """A JSON object field (metadata, raw dicts): compared, never hashed."""
    return attrs.field(default=default, hash=False)


@attrs.frozen(repr=False)
class _Model:
    """The base of the response models: ``extra`` and the absent fields (keyword-only, so
    they come first in ``attrs.fields`` and nobody may rely on their place), ``omit``, a
    compact repr. It holds the ``__weakref__`` slot, so its subclasses add only their fields.
    """

    # spelled out (not ``_extra()``/``_absent()``) so that type checkers see kw_only
    extra: Mapping[str, Any] = attrs.field(default=NO_EXTRA, kw_only=True, hash=False)
    _absent: frozenset[str] = attrs.field(default=NOTHING_ABSENT, kw_only=True, repr=False)

    @property
    def absent_fields(self) -> frozenset[str]:
        """The known fields the payload did not contain (they are left out when unstructured)."""
        return self._absent

    def omit(self, *names: str) -> Self:
        """A copy that leaves the named fields out when unstructured (as if never sent)."""
        known = {a.name for a in attrs.fields(cast(Any, type(self)))}
        unknown = [n for n in names if n not in known or n in ("extra", "_absent")]
        if unknown:
            raise ValueError(f"{type(self).__name__} has no field {unknown[0]!r}")
        return attrs.evolve(cast(Any, self), absent=self._absent | frozenset(names))  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        absent = self._absent
        parts = []
        for a in attrs.fields(cast(Any, type(self))):
            name = a.name
            if name in _BOOKKEEPING or name in absent:
                continue
            parts.append(f"{name}={getattr(self, name)!r}")
        if self.extra:
            parts.append(f"extra={self.extra!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


_BOOKKEEPING = ("extra", "_absent")


# --------------------------------------------------------------------------- annotations


@attrs.frozen(repr=False)
class FileCitation(_Model):
    """The file a citation points to. v1 servers add a ``quote`` (kept in ``extra``)."""

    file_id: str

    @property
    def quote(self) -> str | None:
        """The quoted text, sent by v1 servers only."""
        quote = self.extra.get("quote")
        return quote if isinstance(quote, str) else None


@attrs.frozen(repr=False)
class FilePath(_Model):
    """The file a ``file_path`` annotation points to."""

    file_id: str


@attrs.frozen(repr=False)
class FileCitationAnnotation(_Model):
    """A citation of a file (``file_search``) in a text block."""

    type: ClassVar[Literal["file_citation"]] = "file_citation"

    text: str
    file_citation: FileCitation
    start_index: int
    end_index: int


@attrs.frozen(repr=False)
class FilePathAnnotation(_Model):
    """A link to a file made by ``code_interpreter``, in a text block."""

    type: ClassVar[Literal["file_path"]] = "file_path"

    text: str
    file_path: FilePath
    start_index: int
    end_index: int


@attrs.frozen
class UnknownAnnotation:
    """An annotation of a type this package does not know; ``raw`` is the whole object."""

    type: UnknownType = attrs.field(converter=_server_type)
    raw: Mapping[str, Any] = _json_map(default=NO_EXTRA)


Annotation = Union[FileCitationAnnotation, FilePathAnnotation, UnknownAnnotation]  # noqa: UP007

# --------------------------------------------------------------------------- content blocks


@attrs.frozen(repr=False)
class Text(_Model):
    """The text of a text block, with its annotations."""

    value: str
    annotations: tuple[Annotation, ...] = ()


@attrs.frozen(repr=False)
class TextContent(_Model):
    """A text content block."""

    type: ClassVar[Literal["text"]] = "text"

    text: Text


@attrs.frozen(repr=False)
class ImageFile(_Model):
    """An image stored as a file."""

    file_id: str
    detail: Open[ImageDetail] | None = None


@attrs.frozen(repr=False)
class ImageFileContent(_Model):
    """An ``image_file`` content block."""

    type: ClassVar[Literal["image_file"]] = "image_file"

    image_file: ImageFile


@attrs.frozen(repr=False)
class ImageUrl(_Model):
    """An image given by URL."""

    url: str
    detail: Open[ImageDetail] | None = None


@attrs.frozen(repr=False)
class ImageUrlContent(_Model):
    """An ``image_url`` content block."""

    type: ClassVar[Literal["image_url"]] = "image_url"

    image_url: ImageUrl


@attrs.frozen(repr=False)
class RefusalContent(_Model):
    """A refusal by the assistant."""

    type: ClassVar[Literal["refusal"]] = "refusal"

    refusal: str


@attrs.frozen
class UnknownContent:
    """A content block of a type this package does not know; ``raw`` is the whole object."""

    type: UnknownType = attrs.field(converter=_server_type)
    raw: Mapping[str, Any] = _json_map(default=NO_EXTRA)


MessageContent = Union[  # noqa: UP007 (a runtime alias, usable on Python 3.10 too)
    TextContent, ImageFileContent, ImageUrlContent, RefusalContent, UnknownContent
]

# --------------------------------------------------------------------------- attachments


@attrs.frozen(repr=False)
class CodeInterpreterTool(_Model):
    """The ``code_interpreter`` tool."""

    type: ClassVar[Literal["code_interpreter"]] = "code_interpreter"


@attrs.frozen(repr=False)
class FileSearchTool(_Model):
    """The ``file_search`` tool."""

    type: ClassVar[Literal["file_search"]] = "file_search"


@attrs.frozen
class UnknownTool:
    """A tool of a type this package does not know; ``raw`` is the whole object."""

    type: UnknownType = attrs.field(converter=_server_type)
    raw: Mapping[str, Any] = _json_map(default=NO_EXTRA)


Tool = Union[CodeInterpreterTool, FileSearchTool, UnknownTool]  # noqa: UP007


def _tools(value: Iterable[Tool]) -> tuple[Tool, ...]:
    return value if type(value) is tuple else tuple(value)


@attrs.frozen(repr=False)
class Attachment(_Model):
    """A file attached to a message, and the tools it was added to."""

    file_id: str
    tools: tuple[Tool, ...] = attrs.field(default=(), converter=_tools)


@attrs.frozen(repr=False)
class IncompleteDetails(_Model):
    """Why a message is incomplete."""

    reason: Open[IncompleteReason]


# --------------------------------------------------------------------------- messages


@attrs.frozen(repr=False)
class Message(_Model):
    """A message of a thread (v2 shape, with the v1 ``file_ids``).

    Every field but ``id`` may be missing from a server's payload (v1 messages have no
    ``status`` nor ``attachments``, v2 ones no ``file_ids``); such fields hold their default
    here and are listed in :attr:`absent_fields`.
    """

    id: str
    object: str = "thread.message"
    created_at: int | None = None
    thread_id: str | None = None
    status: Open[MessageStatus] | None = None
    incomplete_details: IncompleteDetails | None = None
    completed_at: int | None = None
    incomplete_at: int | None = None
    role: Open[Role] | None = None
    content: tuple[MessageContent, ...] = ()
    assistant_id: str | None = None
    run_id: str | None = None
    attachments: tuple[Attachment, ...] | None = None
    metadata: Mapping[str, Any] | None = _json_map()
    file_ids: tuple[str, ...] | None = None

    @property
    def text(self) -> str:
        """The values of the text blocks, joined with newlines."""
        return "\n".join([b.text.value for b in self.content if type(b) is TextContent])

    @property
    def is_v1(self) -> bool:
        """Whether this is a v1 (``assistants=v1``) message: it carries ``file_ids``."""
        return self.file_ids is not None


class _PageMixin(Generic[_T]):
    """Sequence behaviour of the list pages: ``len``, iteration and indexing over ``data``."""

    __slots__ = ()

    data: tuple[_T, ...]

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[_T]:
        return iter(self.data)

    @overload
    def __getitem__(self, index: int) -> _T: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[_T, ...]: ...
    def __getitem__(self, index: int | slice) -> _T | tuple[_T, ...]:
        return self.data[index]


@attrs.frozen(repr=False)
class MessagePage(_Model, _PageMixin[Message]):
    """One page of a message list. ``first_id``/``last_id`` are None on an empty page."""

    object: str = "list"
    data: tuple[Message, ...] = ()
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


@attrs.frozen(repr=False)
class DeletedMessage(_Model):
    """The answer to a delete."""

    id: str
    object: str = "thread.message.deleted"
    deleted: bool = False


@attrs.frozen(repr=False)
class MessageFile(_Model):
    """A file of a v1 message (``OpenAI-Beta: assistants=v1``)."""

    id: str
    object: str = "thread.message.file"
    created_at: int | None = None
    message_id: str | None = None


@attrs.frozen(repr=False)
class MessageFilePage(_Model, _PageMixin[MessageFile]):
    """One page of a v1 message's files."""

    object: str = "list"
    data: tuple[MessageFile, ...] = ()
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


# --------------------------------------------------------------------------- threads


@attrs.frozen(repr=False)
class Thread(_Model):
    """A thread: its id, creation time, metadata and tool resources (kept as raw JSON)."""

    id: str
    object: str = "thread"
    created_at: int | None = None
    metadata: Mapping[str, Any] | None = _json_map()
    tool_resources: Mapping[str, Any] | None = _json_map()


@attrs.frozen(repr=False)
class ThreadPage(_Model, _PageMixin[Thread]):
    """One page of a thread list (``GET /threads``, where the service lists threads)."""

    object: str = "list"
    data: tuple[Thread, ...] = ()
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


@attrs.frozen(repr=False)
class DeletedThread(_Model):
    """The answer to a thread delete."""

    id: str
    object: str = "thread.deleted"
    deleted: bool = False


# --------------------------------------------------------------------------- request bodies


@attrs.frozen
class TextPart:
    """A text part of a create request: ``{"type": "text", "text": ...}``."""

    text: str


@attrs.frozen
class ImageFilePart:
    """An image-file part of a create request (``detail``: "auto", "low" or "high")."""

    file_id: str
    detail: ImageDetail | None = None


@attrs.frozen
class ImageUrlPart:
    """An image-URL part of a create request (``detail``: "auto", "low" or "high")."""

    url: str
    detail: ImageDetail | None = None


ContentPart = Union[TextPart, ImageFilePart, ImageUrlPart]  # noqa: UP007
