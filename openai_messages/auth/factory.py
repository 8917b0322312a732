"""Turning what a user passes as ``api_key=`` into a :class:`TokenSource`."""

from __future__ import annotations

from typing import TypeAlias, Union

from ..errors import InvalidArgumentError
from .azure import AZURE_AI_SCOPE, CredentialToken, TokenCredential, is_credential
from .provider import CallableToken, TokenProvider
from .source import TokenSource
from .static import StaticToken

__all__ = ["KeyLike", "token_source"]

KeyLike: TypeAlias = Union[str, TokenProvider, TokenCredential, TokenSource]  # noqa: UP007
"""A key, a sync or async token provider, an azure-identity credential, or a TokenSource."""


def token_source(
    value: KeyLike, *, scope: str = AZURE_AI_SCOPE, what: str = "api_key"
) -> TokenSource:
    """``value`` as a TokenSource: a str becomes a :class:`StaticToken`, a credential (an
    object with ``get_token``) a :class:`CredentialToken` for ``scope``, any other callable
    a :class:`CallableToken`; a TokenSource is returned as it is."""
    if isinstance(value, TokenSource):
        return value
    if isinstance(value, str):
        return StaticToken(value, what=what)
    if is_credential(value):
        return CredentialToken(value, scope)  # type: ignore[arg-type]
    if callable(value):
        return CallableToken(value)
    raise InvalidArgumentError(
        f"{what} must be a str, a callable returning one, an azure-identity credential "
        f"or a TokenSource, not {type(value).__name__}"
    )
