"""Bad use of the connection options (issue 15, item 5): conflicting targets or
credentials, malformed ``--header``/``--query``, options that apply elsewhere. Each exits
2 with one line naming the problem, never repeating a secret, before any file is opened
or anything is sent. ``--credential azure-identity`` with azure-identity present (a
stand-in package on ``sys.path`` whose credential fetches the emulator's tokens) and
missing."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from openai_messages.cli.connection import connection
from openai_messages.emulator import AI_AZURE_SCOPE, COGNITIVE_SERVICES_SCOPE

from ..cli_support import (
    API_KEY,
    ServedEmulator,
    assert_exact_export,
    calls,
    error_lines,
    export,
    invoke,
    seed,
    token_command,
)

FOUNDRY = "https://res.services.ai.azure.com/api/projects/proj"
AZURE = "https://name.openai.azure.com"
TOKEN = ["--token-command", "echo not-run"]


@pytest.fixture
def served() -> Iterator[ServedEmulator]:
    server = ServedEmulator(entra=True).start()
    try:
        yield server
    finally:
        server.stop()


def assert_one_line_usage(result: Result, *expected: str) -> str:
    assert result.exit_code == 2, result.stderr
    (line,) = error_lines(result)
    for text in expected:
        assert text in line
    return line


BAD: list[tuple[list[str], tuple[str, ...]]] = [
    (["--foundry-endpoint", FOUNDRY, "--azure-endpoint", AZURE, *TOKEN],
     ("--foundry-endpoint and --azure-endpoint cannot be combined",)),
    (["--foundry-endpoint", FOUNDRY, "--base-url", "http://127.0.0.1:9/v1", *TOKEN],
     ("--base-url and --foundry-endpoint cannot be combined",)),
    (["--azure-endpoint", AZURE, "--base-url", "http://127.0.0.1:9/v1"],
     ("--base-url and --azure-endpoint",)),
    (["--foundry-endpoint", FOUNDRY, *TOKEN, "--credential", "azure-identity"],
     ("--token-command and --credential cannot be combined",)),
    (["--token-command", "echo x", "--api-key-env", "OPENAI_API_KEY"],
     ("--api-key-env and --token-command",)),
    (["--foundry-endpoint", FOUNDRY], ("--token-command CMD", "--credential azure-identity")),
    (["--azure-api-version", "v1"], ("--azure-api-version applies to --azure-endpoint",)),
    (["--foundry-endpoint", FOUNDRY, *TOKEN, "--api-version", "v1"], ("--api-version",)),
    (["--foundry-endpoint", "https://res.services.ai.azure.com/other", *TOKEN],
     ("/api/projects/",)),
    (["--azure-endpoint", "ftp://name.openai.azure.com"], ("http(s)",)),
    (["--token-command", "   "], ("--token-command", "empty")),
    (["--header", "X-No-Colon"], ("--header #1", "'Name: value'")),
    (["--header", ": value"], ("--header #1",)),
    (["--header", "X-Ok: 1", "--header", "Bad Name: 2"], ("--header #2", "not a valid")),
    (["--header", "X-A: one", "--header", "x-a: two"], ("--header x-a", "twice")),
    (["--query", "novalue"], ("--query #1", "name=value")),
    (["--query", "=v"], ("--query #1",)),
    (["--query", "a=1\n"], ("--query a", "control character")),
    (["--query", "a=1", "--query", "a=2"], ("--query a", "twice")),
    (["--azure-endpoint", AZURE, "--query", "api-version=2099"], ("--query api-version",)),
]  # fmt: skip


@pytest.mark.parametrize(("options", "expected"), BAD, ids=[" ".join(o) for o, _ in BAD])
@pytest.mark.parametrize("command", ["export", "import"])
def test_bad_connection_options_exit_2_with_one_line(
    served: ServedEmulator, tmp_path: Path, command: str, options: list[str],
    expected: tuple[str, ...],
) -> None:  # fmt: skip
    out = tmp_path / "out.jsonl"
    source = tmp_path / "export.jsonl"
    source.write_text("")
    env: dict[str, str | None] = {"AZURE_OPENAI_API_KEY": API_KEY}
    if command == "export":
        result = export(out, ["thread_a"], *options, env=env)
    else:
        result = invoke("import", str(source), "--progress", "none", *options, env=env)
    assert_one_line_usage(result, *expected)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.jsonl"]  # no state file
    assert len(served.emu.log) == 0


@pytest.mark.parametrize(
    "header",
    [
        "X-Api-Token: sk-hidden-0123\r\nX-Injected: 1",
        "X-Api-Token: sk-hidden-0123\nX-Injected: 1",
        "X-Api-Token: sk-hidden-0123\x00",
        "Authorization: Bearer sk-hidden-0123",
        "api-key: sk-hidden-0123",
    ],
)
def test_a_bad_header_value_is_never_repeated(tmp_path: Path, header: str) -> None:
    result = export(tmp_path / "out.jsonl", ["thread_a"], "--header", header)
    line = assert_one_line_usage(result, "--header")
    assert "sk-hidden" not in result.stderr + result.stdout
    if header.lower().startswith(("authorization", "api-key")):
        assert "give the credential with --api-key-env" in line
    else:
        assert "the value holds CR, LF or NUL" in line


def test_the_connection_repr_shows_no_secret() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OM_TEST_KEY", "sk-repr-secret-0123")
        checked = connection(
            base_url=None, foundry_endpoint=None, azure_endpoint=AZURE,
            azure_api_version=None, api_key_env="OM_TEST_KEY", token_command=None,
            credential=None, headers=[], query=[], api_version="v2", max_retries=1,
        )  # fmt: skip
    assert "sk-repr-secret" not in repr(checked)
    assert checked.credential == "the API key in $OM_TEST_KEY"
    assert checked.azure_api_version == "2024-05-01-preview"


# -- --credential azure-identity -----------------------------------------------------------------

FAKE_IDENTITY = '''
"""A stand-in for azure-identity's aio DefaultAzureCredential: tokens from the emulator."""
import os
import time
import urllib.parse
import urllib.request
import json

created = []


class AccessToken:
    def __init__(self, token, expires_on):
        self.token = token
        self.expires_on = expires_on


class DefaultAzureCredential:
    def __init__(self, **kwargs):
        self.scopes = []
        self.closed = False
        created.append(self)

    async def get_token(self, *scopes, **kwargs):
        self.scopes.append(scopes)
        query = urllib.parse.urlencode([("lifetime", "600")] + [("scope", s) for s in scopes])
        with urllib.request.urlopen(os.environ["OM_TEST_TOKEN_URL"] + "?" + query) as reply:
            body = json.loads(reply.read())
        return AccessToken(body["access_token"], body["expires_on"])

    async def close(self):
        self.closed = True
'''


def stand_in(root: Path, *, identity: bool) -> None:
    """An ``azure`` package on ``sys.path``; with ``identity`` its ``identity.aio``."""
    (root / "azure").mkdir()
    (root / "azure" / "__init__.py").write_text("")
    if identity:
        (root / "azure" / "identity" / "aio").mkdir(parents=True)
        (root / "azure" / "identity" / "__init__.py").write_text("")
        (root / "azure" / "identity" / "aio" / "__init__.py").write_text(
            textwrap.dedent(FAKE_IDENTITY)
        )


@pytest.fixture
def fresh_azure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A directory first on ``sys.path``, and no ``azure`` module imported yet."""
    root = tmp_path / "site"
    root.mkdir()
    for name in [n for n in sys.modules if n == "azure" or n.startswith("azure.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(root))
    return root


@pytest.mark.parametrize(
    ("option", "flavour", "scope"),
    [
        ("--foundry-endpoint", "foundry", AI_AZURE_SCOPE),
        ("--azure-endpoint", "azure_v1", COGNITIVE_SERVICES_SCOPE),
    ],
)
def test_credential_azure_identity_exports(
    served: ServedEmulator, tmp_path: Path, fresh_azure: Path, option: str, flavour: str,
    scope: str,
) -> None:  # fmt: skip
    stand_in(fresh_azure, identity=True)
    ids = seed(served, 2, 120)
    out = tmp_path / "out.jsonl"
    result = export(
        out, ids, option, served.emu.url_for(flavour),  # type: ignore[arg-type]
        "--credential", "azure-identity", env={"OM_TEST_TOKEN_URL": served.emu.token_url},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, served, ids)
    (credential,) = sys.modules["azure.identity.aio"].created
    assert credential.scopes == [(scope,)]  # one token, cached for the export
    assert credential.closed  # closed with the client
    assert {r.status for r in calls(served)} == {200}


def test_credential_azure_identity_without_the_extra(
    served: ServedEmulator, tmp_path: Path, fresh_azure: Path
) -> None:
    stand_in(fresh_azure, identity=False)  # an "azure" package, but no azure.identity
    out = tmp_path / "out.jsonl"
    result = export(
        out, ["thread_a"], "--foundry-endpoint", served.emu.url_for("foundry"),
        "--credential", "azure-identity",
    )  # fmt: skip
    assert_one_line_usage(result, "azure-identity is not installed", "openai_messages[azure]")
    assert not out.exists()
    assert len(served.emu.log) == 0


def test_a_token_command_also_serves_a_base_url(served: ServedEmulator, tmp_path: Path) -> None:
    ids = seed(served, 1, 30)
    out = tmp_path / "out.jsonl"
    result = export(out, ids, "--base-url", served.emu.url, "--token-command",
                    token_command(served, lifetime=600))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, served, ids)
    assert all(r.headers["Authorization"] != f"Bearer {API_KEY}" for r in calls(served))
