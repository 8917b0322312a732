"""Client-side checks of call arguments, run before anything is sent.

Each check raises :class:`~openai_messages.errors.InvalidArgumentError` (a ``ValueError``)
whose message names the argument and what is wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast, get_args
from urllib.parse import quote

from .._codec.literals import Order, Role
from ..errors import InvalidArgumentError
from .defaults import PAGE_SIZE

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_PAGE_SIZE",
    "check_content",
    "check_file_ids",
    "check_header_name",
    "check_header_value",
    "check_metadata",
    "check_order",
    "check_page_size",
    "check_role",
    "quote_component",
    "quote_id",
]

MAX_PAGE_SIZE: Final = PAGE_SIZE
MAX_ID_LENGTH: Final = 256
MAX_METADATA_KEYS: Final = 16
MAX_METADATA_KEY_LENGTH: Final = 64
MAX_METADATA_VALUE_LENGTH: Final = 512
MAX_FILE_IDS: Final = 10

_ORDERS: Final = get_args(Order)
_ROLES: Final = get_args(Role)

# Whitespace, C0/C1 control characters and the characters that would change the URL's shape.
_FORBIDDEN_IN_ID = re.compile(r"[\s\x00-\x1f\x7f-\x9f/?#%\\]")


_UNRESERVED: Final = re.compile(r"[A-Za-z0-9._~-]*")
"""What ``quote(text, safe="")`` leaves as it is (RFC 3986's unreserved characters)."""


def quote_component(text: str) -> str:
    """``quote(text, safe="")``, without its work for text that needs no quoting (an id,
    a page size, an order: most of what goes into a URL)."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


def quote_id(name: str, value: object) -> str:
    """Check an id that goes into a URL path and return it percent-quoted."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, not {type(value).__name__}")
    if not value:
        raise InvalidArgumentError(f"{name} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidArgumentError(f"{name} is longer than {MAX_ID_LENGTH} characters")
    bad = _FORBIDDEN_IN_ID.search(value)
    if bad is not None:
        raise InvalidArgumentError(
            f"{name} {value!r} holds a character that is not allowed in an id: {bad.group()!r}"
        )
    if value in (".", "..") or ".." in value:
        raise InvalidArgumentError(f"{name} {value!r} must not hold '..'")
    return quote_component(value)


def check_cursor(name: str, value: object) -> str | None:
    """Check an optional cursor (``after``/``before``/``run_id``): an id or None."""
    if value is None:
        return None
    quote_id(name, value)
    return value  # type: ignore[return-value]  # quote_id proved it is a str


def check_page_size(value: object, name: str = "page_size") -> int:
    """The API's ``limit``: an int from 1 to 100."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, not {type(value).__name__}")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(f"{name} must be between 1 and {MAX_PAGE_SIZE}, got {value}")
    return value


def check_order(value: object) -> Order:
    """``order`` is ``"asc"`` or ``"desc"`` (:data:`~openai_messages._codec.literals.Order`)."""
    if value not in _ORDERS:
        raise InvalidArgumentError(f"order must be 'asc' or 'desc', got {value!r}")
    return cast(Order, value)


def check_role(value: object) -> Role:
    """``role`` is ``"user"`` or ``"assistant"`` (:data:`~openai_messages._codec.literals.Role`)."""
    if value not in _ROLES:
        raise InvalidArgumentError(f"role must be 'user' or 'assistant', got {value!r}")
    return cast(Role, value)


def check_metadata(value: object) -> dict[str, str] | None:
    """At most 16 keys of at most 64 characters, values strings of at most 512."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"metadata must be a mapping, not {type(value).__name__}")
    if len(value) > MAX_METADATA_KEYS:
        raise InvalidArgumentError(
            f"metadata holds {len(value)} keys; at most {MAX_METADATA_KEYS} are allowed"
        )
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidArgumentError(f"metadata key {key!r} must be a str")
        if len(key) > MAX_METADATA_KEY_LENGTH:
            raise InvalidArgumentError(
                f"metadata key {key[:20]!r}... is longer than {MAX_METADATA_KEY_LENGTH} characters"
            )
        if not isinstance(item, str):
            raise InvalidArgumentError(
                f"metadata[{key!r}] must be a str, not {type(item).__name__}"
            )
        if len(item) > MAX_METADATA_VALUE_LENGTH:
            raise InvalidArgumentError(
                f"metadata[{key!r}] is longer than {MAX_METADATA_VALUE_LENGTH} characters"
            )
    return dict(value)


def check_content(value: object) -> str | list[Any]:
    """A non-empty string, or a non-empty sequence of content parts."""
    if isinstance(value, str):
        if not value:
            raise InvalidArgumentError("content must not be empty")
        return value
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        if not value:
            raise InvalidArgumentError("content must hold at least one part")
        return list(value)
    raise InvalidArgumentError(
        f"content must be a str or a list of content parts, not {type(value).__name__}"
    )


def check_file_ids(value: object) -> list[str] | None:
    """v1 ``file_ids``: at most 10 file ids."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidArgumentError("file_ids must be a list of str")
    if len(value) > MAX_FILE_IDS:
        raise InvalidArgumentError(f"file_ids holds {len(value)} ids; at most {MAX_FILE_IDS}")
    for item in value:
        quote_id("file_ids[]", item)
    return list(value)


# RFC 9110 token characters: what a header name may hold.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_IN_HEADER_VALUE = re.compile(r"[\r\n\x00]")


def check_header_name(value: object) -> str:
    """A header name: a non-empty RFC 9110 token (no spaces, no CR/LF)."""
    if not isinstance(value, str) or not _HEADER_NAME.fullmatch(value):
        raise InvalidArgumentError(f"{value!r} is not a valid HTTP header name")
    return value


def check_header_value(name: str, value: object, *, secret: bool = False) -> str:
    """A header value: a str without CR, LF or NUL (a secret is never repeated)."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, not {type(value).__name__}")
    bad = _BAD_IN_HEADER_VALUE.search(value)
    if bad is not None:
        shown = "" if secret else f" {value!r}"
        raise InvalidArgumentError(
            f"{name}{shown} holds a character not allowed in an HTTP header: {bad.group()!r}"
        )
    return value


def check_headers(name: str, value: object) -> dict[str, str]:
    """A mapping of header names to values (``extra_headers``, ``default_headers``)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{name} must be a mapping, not {type(value).__name__}")
    return {
        check_header_name(key): check_header_value(f"{name}[{key!r}]", item)
        for key, item in value.items()
    }


def check_query(name: str, value: object) -> tuple[tuple[str, str], ...]:
    """A mapping of query parameters to str values (``extra_query``, ``default_query``)."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{name} must be a mapping, not {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidArgumentError(f"{name} must map str to str, got {key!r}: {item!r}")
    return tuple(value.items())
