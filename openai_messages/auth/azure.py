"""Entra ID tokens from an azure-identity credential (duck-typed: never imported here).

Anything with ``get_token(*scopes)`` returning an object with ``.token`` (str) and
``.expires_on`` (epoch seconds) works, sync or async (``get_token`` a coroutine
function). A sync ``get_token`` runs in a daemon worker thread of the source (see
:mod:`.worker`): it may do network I/O.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from typing import Any, Protocol, TypeAlias, Union

from ..errors import InvalidArgumentError
from .cached import DEFAULT_REFRESH_MARGIN, CachedToken, Clock, Lease
from .failure import call_provider
from .invoke import provider_name
from .source import CredentialError, token_problem
from .worker import Worker

__all__ = [
    "AZURE_AI_SCOPE",
    "AccessTokenLike",
    "AsyncTokenCredential",
    "CredentialToken",
    "DefaultCredentialToken",
    "SyncTokenCredential",
    "TokenCredential",
    "default_azure_credential",
]

AZURE_AI_SCOPE = "https://ai.azure.com/.default"
"""The scope of Foundry (and Azure OpenAI) data-plane tokens."""
_NO_EXTRA = 'azure-identity is not installed: pip install "openai_messages[azure]"'


class AccessTokenLike(Protocol):
    """What ``get_token`` returns (azure-identity's ``AccessToken``)."""

    @property
    def token(self) -> str: ...

    @property
    def expires_on(self) -> int | float: ...


class SyncTokenCredential(Protocol):
    """azure-identity's sync ``TokenCredential`` shape."""

    def get_token(self, *scopes: str) -> AccessTokenLike: ...


class AsyncTokenCredential(Protocol):
    """azure-identity's ``azure.identity.aio`` credential shape."""

    async def get_token(self, *scopes: str) -> AccessTokenLike: ...


TokenCredential: TypeAlias = Union[SyncTokenCredential, AsyncTokenCredential]  # noqa: UP007


def is_credential(value: object) -> bool:
    """True when ``value`` looks like an azure-identity credential."""
    return callable(getattr(value, "get_token", None))


class CredentialToken(CachedToken):
    """Tokens for ``scope`` from ``credential``, cached until shortly before ``expires_on``.

    ``close_credential=True`` makes :meth:`aclose` close the credential too (for one this
    package created, such as :func:`default_azure_credential`'s).
    """

    def __init__(
        self,
        credential: TokenCredential,
        scope: str = AZURE_AI_SCOPE,
        *,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        close_credential: bool = False,
        clock: Clock = time.time,
    ) -> None:
        if not is_credential(credential):
            raise InvalidArgumentError(
                f"a credential needs a get_token method; {type(credential).__name__} has none"
            )
        if not isinstance(scope, str) or not scope or token_problem(scope) is not None:
            raise InvalidArgumentError("scope must be a non-empty printable str")
        super().__init__(refresh_margin=refresh_margin, clock=clock)
        self._credential = credential
        self.scope = scope
        self._close_credential = close_credential
        self._name = f"{provider_name(credential)}.get_token({scope!r})"
        self._worker = Worker(f"openai_messages credential {self._name}")

    async def _fetch(self) -> Lease:
        what = f"the credential {self._name}"
        result = await call_provider(
            what, self._credential.get_token, self.scope, worker=self._worker
        )
        value = getattr(result, "token", None)
        problem = token_problem(value)
        if problem is not None:
            raise CredentialError(f"{what} gave a .token that {problem}")
        assert isinstance(value, str)
        expires_on = getattr(result, "expires_on", None)
        if isinstance(expires_on, bool) or not isinstance(expires_on, (int, float)):
            raise CredentialError(
                f"{what} gave an .expires_on that is a {type(expires_on).__name__}, "
                "not epoch seconds"
            )
        return self.lease(value, float(expires_on), what=what)

    async def aclose(self) -> None:
        """Close the credential if this source owns it (``close_credential=True``)."""
        if not self._close_credential:
            return
        close = getattr(self._credential, "close", None)
        if close is not None:
            await call_provider(
                f"closing {provider_name(self._credential)}", close, worker=self._worker
            )

    def __repr__(self) -> str:
        return f"CredentialToken({self._name})"


def default_azure_credential(**kwargs: Any) -> AsyncTokenCredential:
    """A new ``azure.identity.aio.DefaultAzureCredential(**kwargs)``; azure-identity is an
    optional extra, imported only here. The caller closes it (``await cred.close()``)."""
    try:
        module = importlib.import_module("azure.identity.aio")
    except ImportError:
        raise CredentialError(_NO_EXTRA) from None
    credential: AsyncTokenCredential = module.DefaultAzureCredential(**kwargs)
    return credential


def _azure_identity_installed() -> bool:
    try:
        return importlib.util.find_spec("azure.identity") is not None
    except ImportError:  # no "azure" package at all
        return False


class DefaultCredentialToken(CachedToken):
    """Tokens of ``DefaultAzureCredential`` (the ``azure`` extra) for ``scope``.

    The credential is created on the first token asked for (inside the running loop)
    and closed by :meth:`aclose`. Raises :class:`CredentialError` at once, naming the
    extra to install, when azure-identity is missing.
    """

    def __init__(self, scope: str = AZURE_AI_SCOPE, **kwargs: Any) -> None:
        if not _azure_identity_installed():
            raise CredentialError(_NO_EXTRA)
        super().__init__(refresh_margin=DEFAULT_REFRESH_MARGIN, clock=time.time)
        self.scope = scope
        self._kwargs = kwargs
        self._inner: CredentialToken | None = None

    async def _fetch(self) -> Lease:
        if self._inner is None:
            credential = default_azure_credential(**self._kwargs)
            self._inner = CredentialToken(credential, self.scope, close_credential=True)
        return await self._inner._fetch()

    async def aclose(self) -> None:
        """Close the credential, if one was created."""
        if self._inner is not None:
            await self._inner.aclose()

    def __repr__(self) -> str:
        return f"DefaultCredentialToken({self.scope!r})"
