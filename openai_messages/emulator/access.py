"""Who may call, on which prefix: API keys, Entra tokens and ``api-version`` rules.

The emulator serves one API under several prefixes, each a *flavour*:

``openai``    ``/v1/...`` (and the bare ``/...``): ``Authorization: Bearer KEY``.
``azure``     ``/openai/...?api-version=...`` (Azure OpenAI classic): ``api-key`` or Bearer.
``azure_v1``  ``/openai/v1/...`` (Azure OpenAI v1 GA, no ``api-version``): ``api-key`` or Bearer.
``foundry``   ``/api/projects/{project}/...?api-version=v1`` (Foundry Agent Service):
              Bearer only; ``api-version`` required, errors in Azure's ``{code, message}`` shape.
``foundry_v1`` ``/api/projects/{project}/openai/v1/...`` (Foundry's conversations, new
              agents): Bearer only, no ``api-version``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Final, Literal

from aiohttp import web

from .entra import TokenIssuer
from .errors import ApiError, azure_error

__all__ = [
    "FLAVOURS",
    "FOUNDRY_API_VERSIONS",
    "PREFIXES",
    "Flavour",
    "bearer",
    "check_access",
]

Flavour = Literal["openai", "azure", "azure_v1", "foundry", "foundry_v1"]
FLAVOURS: Final[tuple[Flavour, ...]] = ("openai", "azure", "azure_v1", "foundry", "foundry_v1")

#: (path prefix, flavour), in the order the routes are registered.
PREFIXES: Final[tuple[tuple[str, Flavour], ...]] = (
    ("/v1", "openai"),
    ("", "openai"),
    ("/openai/v1", "azure_v1"),
    ("/openai", "azure"),
    ("/api/projects/{project}", "foundry"),
)

#: The versions Foundry's agents data plane accepts (from its own error message).
FOUNDRY_API_VERSIONS: Final = ("v1", "2025-05-01", "2025-05-15-preview")

_AUDIENCES: Final[dict[Flavour, frozenset[str] | None]] = {
    "openai": None,
    "azure": frozenset({"https://cognitiveservices.azure.com", "https://ai.azure.com"}),
    "azure_v1": frozenset({"https://cognitiveservices.azure.com", "https://ai.azure.com"}),
    "foundry": frozenset({"https://ai.azure.com"}),
    "foundry_v1": frozenset({"https://ai.azure.com"}),
}

_EXPIRED = 'Bearer error="invalid_token", error_description="The token is expired"'
_INVALID = 'Bearer error="invalid_token", error_description="The token is invalid"'
_AUDIENCE = 'Bearer error="invalid_token", error_description="The audience is invalid"'


def bearer(headers: Mapping[str, str]) -> str | None:
    """The credential of an ``Authorization: Bearer ...`` header, or None."""
    value = headers.get("Authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _same(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(
        presented.encode("utf-8", "surrogateescape"), expected.encode()
    )


def _token_error(message: str, challenge: str) -> ApiError:
    return azure_error(401, "401", message, {"WWW-Authenticate": challenge})


def _judge_token(token: str, tokens: TokenIssuer, flavour: Flavour) -> ApiError | None:
    verdict = tokens.judge(token, _AUDIENCES[flavour])
    if verdict == "valid":
        return None
    if verdict == "expired":
        return _token_error("Unauthorized. Access token has expired.", _EXPIRED)
    if verdict == "wrong_audience":
        return _token_error("Unauthorized. Access token audience is incorrect.", _AUDIENCE)
    return _token_error("Unauthorized. Access token is missing or invalid.", _INVALID)


def _key_error(token: str | None, header_allowed: bool) -> ApiError:
    if token is None:
        return ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)"
            + (" or in an api-key header." if header_allowed else "."),
            code="invalid_api_key",
        )
    return ApiError(401, "Incorrect API key provided.", code="invalid_api_key")


def _authenticate(
    headers: Mapping[str, str],
    flavour: Flavour,
    api_key: str | None,
    tokens: TokenIssuer,
    entra: bool,
) -> ApiError | None:
    token = bearer(headers)
    if token is not None and tokens.known(token):
        return _judge_token(token, tokens, flavour)
    if flavour in ("foundry", "foundry_v1") and entra:
        if token is None:
            return _token_error("Unauthorized. Access token is missing or invalid.", "Bearer")
        return _judge_token(token, tokens, flavour)
    header_allowed = flavour in ("azure", "azure_v1")
    key_header = headers.get("api-key") if header_allowed else None
    if api_key is None:
        accepted = not (entra and token is not None)
    else:
        accepted = _same(token, api_key) or _same(key_header, api_key)
    if accepted:
        return None
    if entra and token is not None:  # neither the key nor a token this emulator issued
        return _judge_token(token, tokens, flavour)
    return _key_error(key_header or token, header_allowed)


def _check_version(query: Mapping[str, str], flavour: Flavour) -> ApiError | None:
    version = query.get("api-version")
    if flavour == "azure" and not version:
        return ApiError(
            400,
            "Missing required query parameter: 'api-version'.",
            param="api-version",
            code="missing_required_parameter",
        )
    if flavour == "foundry":
        if not version:
            return azure_error(400, "BadRequest", "Missing required query parameter: api-version")
        if version not in FOUNDRY_API_VERSIONS:
            supported = ", ".join(f"'{v}'" for v in FOUNDRY_API_VERSIONS)
            return azure_error(
                400,
                "UnsupportedApiVersionValue",
                f"Unsupported api version '{version[:64]}'. The supported versions are {supported}",
            )
    return None


def check_access(
    request: web.Request,
    flavour: Flavour,
    *,
    api_key: str | None,
    tokens: TokenIssuer,
    entra: bool = False,
) -> ApiError | None:
    """The error to answer instead of serving ``request``, or None.

    Auth comes first, then the ``api-version`` rule of the flavour.  A Bearer value the
    token issuer knows is always judged as a token (expired: 401 with
    ``WWW-Authenticate``).  With ``entra`` the Foundry prefix accepts tokens only, and a
    Bearer value elsewhere must be the API key or a valid token.
    """
    denied = _authenticate(request.headers, flavour, api_key, tokens, entra)
    if denied is not None:
        return denied
    return _check_version(request.query, flavour)
