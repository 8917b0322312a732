"""Credentials: where the secret of each request comes from.

The transport asks a :class:`TokenSource` for the secret before every attempt and tells
it when the server refused one. :func:`token_source` turns what users pass as
``api_key=`` into one: a fixed key (:class:`StaticToken`), a sync or async provider
called every time (:class:`CallableToken`), an azure-identity credential cached until
shortly before expiry (:class:`CredentialToken`), or a command that prints a token
(:class:`CommandToken`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .azure import (
    AZURE_AI_SCOPE,
    AccessTokenLike,
    AsyncTokenCredential,
    CredentialToken,
    DefaultCredentialToken,
    SyncTokenCredential,
    TokenCredential,
    default_azure_credential,
)
from .cached import DEFAULT_REFRESH_MARGIN
from .factory import KeyLike, token_source
from .provider import CallableToken, TokenProvider
from .source import CredentialError, TokenSource, token_problem
from .static import StaticToken

__all__ = [
    "AZURE_AI_SCOPE",
    "DEFAULT_COMMAND_TIMEOUT",
    "DEFAULT_REFRESH_MARGIN",
    "AccessTokenLike",
    "AsyncTokenCredential",
    "CallableToken",
    "CommandToken",
    "CredentialError",
    "CredentialToken",
    "DefaultCredentialToken",
    "KeyLike",
    "StaticToken",
    "SyncTokenCredential",
    "TokenCredential",
    "TokenProvider",
    "TokenSource",
    "default_azure_credential",
    "token_problem",
    "token_source",
]

if TYPE_CHECKING:
    from .command import DEFAULT_COMMAND_TIMEOUT, CommandToken
else:

    def __getattr__(name: str) -> Any:
        """The command source's names: its module (subprocess, signals) loads on first use."""
        if name not in ("CommandToken", "DEFAULT_COMMAND_TIMEOUT"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from . import command

        value = getattr(command, name)
        globals()[name] = value
        return value
