"""The closed sets of string values of the API, as ``Literal`` types, defined once
(:mod:`openai_messages.types` says how each is used)."""

from __future__ import annotations

from typing import Literal, TypeAlias, TypeVar

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

Order = Literal["asc", "desc"]
"""The order of a list by creation time: ``"asc"`` (oldest first) or ``"desc"``."""

Role = Literal["user", "assistant"]
"""Who wrote a message."""

ApiVersion = Literal["v1", "v2"]
"""The Assistants API version: ``"v2"`` (current) or ``"v1"`` (legacy ``file_ids``)."""

ImageDetail = Literal["auto", "low", "high"]
"""The detail level of an image."""

MessageStatus = Literal["in_progress", "incomplete", "completed"]
"""The status of a message."""

IncompleteReason = Literal[
    "content_filter", "max_tokens", "run_cancelled", "run_expired", "run_failed"
]
"""Why a message is incomplete."""

_Known = TypeVar("_Known", bound=str)

Open: TypeAlias = _Known | str
"""``Open[L]``: one of the values of the ``Literal`` ``L``, or any other string."""

UnknownType: TypeAlias = Literal["<unknown>"]
"""The ``type`` of the ``Unknown*`` classes for a type checker: a sentinel no tag equals."""
