"""Where and how the commands connect: the options every command that talks to a server
shares, checked once into a :class:`Connection` that builds the command's client.

One of three targets: ``--base-url`` (OpenAI or a compatible server; the default),
``--foundry-endpoint`` (:meth:`Client.foundry`) or ``--azure-endpoint``
(:meth:`Client.azure`). One credential: the key in ``--api-key-env``, the tokens of
``--token-command`` (:class:`~openai_messages.auth.CommandToken`) or those of
azure-identity's ``DefaultAzureCredential`` (``--credential azure-identity``). Bad or
conflicting options are a :class:`click.UsageError` (exit 2) naming them, never
repeating a secret or a header's value.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, TypeVar

import attrs
import click

from .. import auth
from .._codec.literals import ApiVersion
from .._core import checks as validation
from .._core.defaults import AZURE_API_VERSION
from .._core.retry import RetryPolicy
from ..client import DEFAULT_BASE_URL, Client
from ..errors import CredentialError, InvalidArgumentError

__all__ = [
    "AZURE_DEFAULT_API_VERSION",
    "AZURE_OPENAI_SCOPE",
    "Connection",
    "connection",
    "connection_options",
    "parse_headers",
    "parse_query",
]

F = TypeVar("F", bound=Callable[..., Any])
Target = Literal["openai", "foundry", "azure"]

AZURE_DEFAULT_API_VERSION: Final = AZURE_API_VERSION
"""``--azure-api-version`` when none is given (:meth:`Client.azure`'s default)."""
AZURE_OPENAI_SCOPE: Final = "https://cognitiveservices.azure.com/.default"
"""The scope ``--credential azure-identity`` asks for with ``--azure-endpoint``."""
CREDENTIAL_HEADERS: Final = frozenset({"authorization", "api-key"})
"""Headers ``--header`` refuses: the credential has options of its own."""
_PARAMS: Final = (
    "base_url",
    "foundry_endpoint",
    "azure_endpoint",
    "azure_api_version",
    "api_key_env",
    "token_command",
    "credential",
    "headers",
    "query",
    "api_version",
    "max_retries",
)


@attrs.frozen
class Connection:
    """The checked connection options: :meth:`client` builds the command's client.

    ``target`` is the URL the run talks to (an import's state records it), ``credential``
    names where the secret comes from, for messages (never the secret itself).
    """

    kind: Target
    target: str
    credential: str
    api_version: ApiVersion
    max_retries: int
    secret: auth.KeyLike = attrs.field(repr=False)
    azure_api_version: str | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    query: dict[str, str] = attrs.field(factory=dict)

    @property
    def token(self) -> bool:
        """Whether the secret is a bearer token that refreshes (not a fixed key)."""
        return isinstance(self.secret, auth.TokenSource)

    def client(self, **options: Any) -> Client:
        """A new client for this connection; ``options`` are more :class:`Client` options.

        Raises :class:`InvalidArgumentError` for what only the client checks (a Foundry
        endpoint without ``/api/projects/``, a malformed URL).
        """
        common: dict[str, Any] = {
            "retry_policy": RetryPolicy(max_retries=self.max_retries),
            "default_headers": self.headers,
            "default_query": self.query,
            **options,
        }
        if self.kind == "foundry":
            return Client.foundry(self.target, token_provider=self.secret, **common)
        if self.kind == "azure":
            assert self.azure_api_version is not None
            if self.token:
                return Client.azure(
                    endpoint=self.target,
                    azure_api_version=self.azure_api_version,
                    azure_ad_token_provider=self.secret,
                    **common,
                )
            return Client.azure(
                endpoint=self.target,
                azure_api_version=self.azure_api_version,
                api_key=self.secret,
                **common,
            )
        return Client(self.secret, base_url=self.target, api_version=self.api_version, **common)


def _line(what: str, problem: Exception | str) -> click.UsageError:
    return click.UsageError(f"{what}: {problem}")


def parse_headers(values: Sequence[str]) -> dict[str, str]:
    """``Name: value`` pairs as a dict; a malformed one is a usage error naming it by its
    name and position (its value may be a secret: never repeated)."""
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for position, text in enumerate(values, 1):
        name, sep, value = text.partition(":")
        name = name.strip()
        what = f"--header #{position}"
        if not sep or not name:
            raise _line(what, "expected 'Name: value'")
        try:
            validation.check_header_name(name)
        except InvalidArgumentError:
            raise _line(what, "the name is not a valid HTTP header name") from None
        what = f"--header {name}"
        try:
            value = validation.check_header_value(what, value.strip(), secret=True)
        except InvalidArgumentError:
            raise _line(what, "the value holds CR, LF or NUL") from None
        if name.lower() in CREDENTIAL_HEADERS:
            raise _line(
                what,
                "give the credential with --api-key-env, --token-command or --credential "
                "(a command line is visible to the machine's other users)",
            )
        if name.lower() in seen:
            raise _line(what, "given twice")
        seen.add(name.lower())
        headers[name] = value
    return headers


def parse_query(values: Sequence[str]) -> dict[str, str]:
    """``name=value`` pairs as a dict; a malformed one is a usage error naming it."""
    query: dict[str, str] = {}
    for position, text in enumerate(values, 1):
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise _line(f"--query #{position}", "expected name=value")
        name = name.strip()
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name + value):
            raise _line(f"--query {name}", "holds a control character (CR, LF, ...)")
        if name in query:
            raise _line(f"--query {name}", "given twice")
        query[name] = value
    return query


def _only_one(given: dict[str, object]) -> None:
    named = [name for name, value in given.items() if value]
    if len(named) > 1:
        raise click.UsageError(f"{' and '.join(named)} cannot be combined: give one")


def _token_source(
    token_command: str | None, credential: str | None, scope: str
) -> auth.TokenSource | None:
    if token_command is not None:
        try:
            return auth.CommandToken(token_command)
        except InvalidArgumentError as exc:
            raise _line("--token-command", exc) from None
    if credential is not None:
        try:
            return auth.DefaultCredentialToken(scope)
        except CredentialError as exc:
            raise _line("--credential azure-identity", exc) from None
    return None


def connection(
    *,
    base_url: str | None,
    foundry_endpoint: str | None,
    azure_endpoint: str | None,
    azure_api_version: str | None,
    api_key_env: str | None,
    token_command: str | None,
    credential: str | None,
    headers: Sequence[str],
    query: Sequence[str],
    api_version: ApiVersion,
    max_retries: int,
    api_version_given: bool = False,
) -> Connection:
    """Check the connection options (conflicts, headers, query, the key) into a
    :class:`Connection`; anything wrong is a :class:`click.UsageError`."""
    _only_one(
        {"--base-url": base_url, "--foundry-endpoint": foundry_endpoint,
         "--azure-endpoint": azure_endpoint}
    )  # fmt: skip
    _only_one(
        {"--api-key-env": api_key_env, "--token-command": token_command,
         "--credential": credential}
    )  # fmt: skip
    kind: Target = "foundry" if foundry_endpoint else "azure" if azure_endpoint else "openai"
    if azure_api_version is not None and kind != "azure":
        raise click.UsageError("--azure-api-version applies to --azure-endpoint only")
    if api_version_given and kind != "openai":
        raise click.UsageError(
            "--api-version (the OpenAI-Beta header) is for --base-url: Azure and Foundry "
            "speak v2 (--azure-api-version sets Azure's api-version)"
        )
    default_query = parse_query(query)
    if kind != "openai" and "api-version" in default_query:
        raise click.UsageError(
            "--query api-version: set by the endpoint (use --azure-api-version for Azure)"
        )
    scope = AZURE_OPENAI_SCOPE if kind == "azure" else auth.AZURE_AI_SCOPE
    source = _token_source(token_command, credential, scope)
    secret: auth.KeyLike
    if source is not None:
        secret = source
        described = (
            "the token from --token-command"
            if token_command is not None
            else "the azure-identity token"
        )
    elif kind == "foundry":
        raise click.UsageError(
            "--foundry-endpoint takes Entra ID tokens: give --token-command CMD or "
            "--credential azure-identity"
        )
    else:
        env = api_key_env or ("AZURE_OPENAI_API_KEY" if kind == "azure" else "OPENAI_API_KEY")
        key = os.environ.get(env)
        if not key:
            raise click.UsageError(f"no API key: set the {env} environment variable")
        secret = key
        described = f"the API key in ${env}"
    target = (
        foundry_endpoint
        or azure_endpoint
        or base_url
        or os.environ.get("OPENAI_BASE_URL")
        or DEFAULT_BASE_URL
    )
    return Connection(
        kind=kind,
        target=target,
        credential=described,
        api_version=api_version,
        max_retries=max_retries,
        secret=secret,
        azure_api_version=(azure_api_version or AZURE_DEFAULT_API_VERSION)
        if kind == "azure"
        else None,
        headers=parse_headers(headers),
        query=default_query,
    )


_OPTIONS: Final = (
    click.option(
        "--base-url", default=None, metavar="URL",
        help="API base URL [default: $OPENAI_BASE_URL, then https://api.openai.com/v1].",
    ),
    click.option(
        "--foundry-endpoint", default=None, metavar="URL",
        help="Foundry Agent Service project endpoint, "
        "https://RESOURCE.services.ai.azure.com/api/projects/PROJECT "
        "(with --token-command or --credential).",
    ),
    click.option(
        "--azure-endpoint", default=None, metavar="URL",
        help="Azure OpenAI endpoint, https://NAME.openai.azure.com (ending in /openai/v1: "
        "the v1 route).",
    ),
    click.option(
        "--azure-api-version", default=None, metavar="V",
        help=f"api-version of --azure-endpoint; v1: the v1 GA route "
        f"[default: {AZURE_DEFAULT_API_VERSION}].",
    ),
    click.option(
        "--api-key-env", default=None, metavar="NAME",
        help="Environment variable holding the API key [default: OPENAI_API_KEY; "
        "AZURE_OPENAI_API_KEY with --azure-endpoint].",
    ),
    click.option(
        "--token-command", default=None, metavar="CMD",
        help="Shell command printing a bearer token (or az's JSON with expires_on); run "
        "again when the token is refused or about to expire.",
    ),
    click.option(
        "--credential", type=click.Choice(["azure-identity"]), default=None,
        help='Bearer tokens from DefaultAzureCredential (pip install "openai_messages[azure]").',
    ),
    click.option(
        "--header", "headers", multiple=True, metavar="'NAME: VALUE'",
        help="A header sent with every request (repeatable).",
    ),
    click.option(
        "--query", "query", multiple=True, metavar="NAME=VALUE",
        help="A query parameter sent with every request (repeatable).",
    ),
    click.option(
        "--api-version", type=click.Choice(["v1", "v2"]), default="v2", show_default=True,
        help="Assistants API version (the OpenAI-Beta header) of --base-url.",
    ),
    click.option(
        "--max-retries", type=click.IntRange(0, 20), default=4, show_default=True,
        help="Re-sends of a request after a transient failure.",
    ),
)  # fmt: skip


def connection_options(command: F) -> F:
    """Add the connection options to ``command``, which gets them checked as one
    ``connection: Connection`` argument (bad usage exits 2 before the command runs)."""

    @functools.wraps(command)
    def checked(**kwargs: Any) -> Any:
        picked = {name: kwargs.pop(name) for name in _PARAMS}
        source = click.get_current_context().get_parameter_source("api_version")
        given = source not in (None, click.core.ParameterSource.DEFAULT)
        kwargs["connection"] = connection(**picked, api_version_given=given)
        return command(**kwargs)

    wrapped: Any = checked
    for option in reversed(_OPTIONS):
        wrapped = option(wrapped)
    result: F = wrapped
    return result
