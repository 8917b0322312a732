"""The closed sets of string values of the API, as ``Literal`` types, defined once.

Three uses, three choices:

**Arguments** (what you send): ``order=`` is an :data:`~openai_messages.Order`,
``role=`` a :data:`~openai_messages.Role`, ``api_version=`` an
:data:`~openai_messages.ApiVersion`, an image part's ``detail=`` an
:data:`~openai_messages.ImageDetail`. A type checker refuses any other value
(``client.list("t", order="sideways")``); code that is not type-checked still gets
:class:`~openai_messages.InvalidArgumentError` before anything is sent.

**Fields read from a server** (``Message.status``, ``Message.role``,
``IncompleteDetails.reason``, an image's ``detail``) are typed
:data:`~openai_messages.Open`: ``Open[MessageStatus]`` is "one of
:data:`~openai_messages.MessageStatus`, or any other string". The models are lenient,
and a server may send a value the API adds later; a closed type would be a lie that
``assert_never`` turns into a crash. For mypy ``Open[L]`` is ``str`` (it folds
``Literal[...] | str`` into ``str``): it names the known values for readers and for
editors that offer them. The models' fields hold ``str`` at runtime, whatever arrives
(the models read these annotations as ``str``).

**Discriminators** (``.type`` of content blocks, annotations and tools) are closed, so
that ``if block.type == "text":`` leaves only ``TextContent``: mypy narrows a union on
``==`` only when every member's ``type`` is a ``Literal``. Each known class has its own
tag; the ``Unknown*`` classes (a type this package does not know) have
:data:`~openai_messages.UnknownType`, a sentinel that no known tag equals. Their runtime
``type`` is the string the server sent (``"video"``, say), and their constructor takes
any ``str``; the converter reads it as a ``str``. The cost: under ``--strict`` (strict
equality) ``block.type == "video"`` is refused as a comparison that cannot be true (and
its branch as unreachable); read the tag as a ``str`` first (``kind: str = block.type``)
to compare it with a type this package does not know yet. Never compare with the
sentinel's text itself: no block holds it. Tell the unknown ones apart with
``isinstance(block, UnknownContent)``.

>>> from typing import get_args
>>> get_args(Order)
('asc', 'desc')
"""

from ._codec.literals import (
    ApiVersion,
    ImageDetail,
    IncompleteReason,
    MessageStatus,
    Open,
    Order,
    Role,
    UnknownType,
)

__all__ = [
    "ApiVersion",
    "ImageDetail",
    "IncompleteReason",
    "MessageStatus",
    "Open",
    "Order",
    "Role",
    "UnknownType",
]
