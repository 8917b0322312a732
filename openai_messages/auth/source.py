"""The contract between a credential and the transport: :class:`TokenSource`.

The transport calls :meth:`TokenSource.get` before every attempt (inside the call's
deadline) and :meth:`TokenSource.invalidate` once when the server answers 401 to the
value it sent. This module also holds the check every secret passes before it can
become a header value, and re-exports :class:`~openai_messages.errors.CredentialError`.
"""

from __future__ import annotations

import re
from typing import Final, Protocol, runtime_checkable

from ..errors import CredentialError

__all__ = ["CredentialError", "TokenSource", "token_problem"]

# Anything but printable ASCII: control characters (CR/LF included), DEL and non-ASCII
# text, none of which can be carried by an HTTP header value as the key's owner meant it.
_NOT_PRINTABLE_ASCII: Final = re.compile(r"[^\x20-\x7e]")


@runtime_checkable
class TokenSource(Protocol):
    """Where the transport gets the secret it puts in the auth header."""

    async def get(self) -> str:
        """The current secret (may refresh it first). Cancellable at any await."""
        ...

    def invalidate(self, rejected: str) -> bool:
        """The server refused ``rejected``: forget it if it is still the cached value.

        True when asking :meth:`get` again can give a different, fresh value (the
        transport then re-sends once); False when the source cannot do better.
        """
        ...


def token_problem(value: object) -> str | None:
    """What makes ``value`` unusable as a key or token, or None when it is fine.

    The description never quotes the value: it names the problem and where it is.
    """
    if not isinstance(value, str):
        return f"is a {type(value).__name__}, not a str"
    if not value:
        return "is empty"
    if value != value.strip():
        return "has leading or trailing whitespace (a trailing newline?)"
    bad = _NOT_PRINTABLE_ASCII.search(value)
    if bad is not None:
        return (
            f"holds a character that cannot go in an HTTP header "
            f"(U+{ord(bad.group()):04X} at position {bad.start()} of {len(value)})"
        )
    return None
