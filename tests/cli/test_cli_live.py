"""The CLI reaches the live services (issue 15, item 5), over real loopback HTTP against
the emulator: Foundry with a token command whose tokens expire during the export, Azure
(classic and v1) with an api key or a token, ``--header`` and ``--query`` on the wire,
``--credential azure-identity``, and the import sharing these options.

Tokens come from ``python -c`` one-liners fetching the emulator's token URL with urllib
(as ``az account get-access-token`` would print them), run through the shell as users
write ``--token-command``.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from openai_messages.emulator import COGNITIVE_SERVICES_SCOPE

from ..cli_support import (
    API_KEY,
    HostileServer,
    ServedEmulator,
    assert_exact_export,
    calls,
    error_lines,
    export,
    invoke,
    seed,
    token_command,
)
from ..import_support import write_export

THREADS = 3
MESSAGES = 1000
LATENCY = 0.3
PAGE_SIZE = 50  # 20 pages a thread at 0.3 s each: each walk outlives three 2 s tokens


# -- Foundry with a token command, across several token lifetimes ------------------------------


@pytest.mark.parametrize("printed", ["json", "text"])
def test_foundry_export_outlives_its_tokens_exactly_once(
    entra: ServedEmulator, tmp_path: Path, printed: str
) -> None:
    ids = seed(entra, THREADS, MESSAGES)
    entra.emu.latency = LATENCY
    out = tmp_path / "foundry.jsonl"
    result = export(
        out, ids, "--foundry-endpoint", entra.emu.url_for("foundry"),
        "--token-command", token_command(entra, text=printed == "text"),
        "--page-size", str(PAGE_SIZE), "--max-retries", "0",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, entra, ids)  # every message once, in order, as stored
    requests = calls(entra)
    assert all(r.path.startswith("/api/projects/") for r in requests)
    assert all(r.query.get("api-version") == "v1" for r in requests)
    tokens = {r.headers["Authorization"] for r in requests}
    assert len(tokens) >= 3  # the export outlived at least two of its tokens
    assert entra.emu.tokens.issued == len(tokens)  # the command ran only for tokens it used
    refused = [r for r in requests if r.status == 401]
    assert all(r.status in (200, 401) for r in requests)
    assert len(requests) == THREADS * MESSAGES // PAGE_SIZE + len(refused)
    if printed == "text":  # no expiry printed: renewed after a 401 only
        assert refused


def test_a_token_still_refused_after_the_refresh_ends_the_run(
    entra: ServedEmulator, tmp_path: Path
) -> None:
    ids = seed(entra, 4, 10)
    runs = tmp_path / "runs"
    code = f"open({str(runs)!r}, 'a').write('x'); print('emu-entra-not-issued-here-0123')"
    out = tmp_path / "out.jsonl"
    result = export(
        out, ids, "--foundry-endpoint", entra.emu.url_for("foundry"),
        "--token-command", shlex.join([sys.executable, "-c", code]), "--concurrency", "1",
    )  # fmt: skip
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "refused the token from --token-command" in line
    assert "AuthenticationError" in line
    assert "emu-entra-not-issued-here" not in result.stderr + result.stdout
    assert runs.read_text() == "xx"  # the token, then once more after the 401
    assert [r.status for r in calls(entra)] == [401, 401]  # then the run ended


def test_a_failing_token_command_ends_the_run_with_one_scrubbed_line(
    entra: ServedEmulator, tmp_path: Path
) -> None:
    ids = seed(entra, 20, 2)
    code = (
        "import sys; print('tok-SECRET-abcdef0123'); "
        "print('login failed for tok-SECRET-abcdef0123', file=sys.stderr); sys.exit(3)"
    )
    out = tmp_path / "out.jsonl"
    result = export(
        out, ids, "--foundry-endpoint", entra.emu.url_for("foundry"),
        "--token-command", shlex.join([sys.executable, "-c", code]),
    )  # fmt: skip
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "exited with status 3" in line
    assert "login failed" in line
    assert "SECRET" not in result.stderr + result.stdout
    assert "thread_" not in result.stderr  # one line for the run, not one a thread
    assert calls(entra) == []


def test_a_refusal_spread_over_lines_is_one_line(tmp_path: Path) -> None:
    body = b'{"error":{"message":"token refused\\nsee the logs\\r\\n  for why","code":"401"}}'
    server = HostileServer(lambda thread_id, query: (401, body))
    try:
        result = export(
            tmp_path / "out.jsonl", ["thread_a", "thread_b"], "--base-url", server.url,
            "--token-command", shlex.join([sys.executable, "-c", "print('tok-0123456789')"]),
            "--concurrency", "1",
        )  # fmt: skip
    finally:
        server.close()
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "token refused see the logs for why" in line
    assert result.stderr.count("\n") == 1  # one line, ending the output
    assert len(server.requests) == 2  # the token, then its renewal: refused both times


# -- Azure: classic and v1 routes, api key or token ---------------------------------------------


@pytest.mark.parametrize(
    ("flavour", "version", "prefix", "api_version"),
    [
        ("azure", None, "/openai/threads/", "2024-05-01-preview"),
        ("azure", "2024-07-01-preview", "/openai/threads/", "2024-07-01-preview"),
        ("azure", "v1", "/openai/v1/threads/", None),
        ("azure_v1", None, "/openai/v1/threads/", None),
    ],
)
def test_azure_export_with_an_api_key(
    served: ServedEmulator,
    tmp_path: Path,
    flavour: str,
    version: str | None,
    prefix: str,
    api_version: str | None,
) -> None:
    ids = seed(served, THREADS, MESSAGES)
    out = tmp_path / "azure.jsonl"
    options = ["--azure-endpoint", served.emu.url_for(flavour)]  # type: ignore[arg-type]
    if version is not None:
        options += ["--azure-api-version", version]
    env: dict[str, str | None] = {
        "AZURE_OPENAI_API_KEY": API_KEY,
        "OPENAI_API_KEY": "sk-not-this-one-0123",
    }
    result = export(out, ids, *options, env=env)
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, served, ids)
    requests = calls(served)
    assert len(requests) == THREADS * MESSAGES // 100
    for request in requests:
        assert request.path.startswith(prefix)
        assert request.headers["api-key"] == API_KEY
        assert "Authorization" not in request.headers
        assert request.query.get("api-version") == api_version


def test_azure_key_from_another_variable(served: ServedEmulator, tmp_path: Path) -> None:
    ids = seed(served, 1, 5)
    out = tmp_path / "azure.jsonl"
    env: dict[str, str | None] = {"MY_AZURE_KEY": API_KEY, "AZURE_OPENAI_API_KEY": None}
    options = ["--azure-endpoint", served.emu.url_for("azure_v1"), "--api-key-env", "MY_AZURE_KEY"]
    result = export(out, ids, *options, env=env)
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, served, ids)
    result = export(tmp_path / "none.jsonl", ids, *options[:2], env=env)
    assert result.exit_code == 2
    assert "AZURE_OPENAI_API_KEY" in result.stderr


def test_azure_export_with_a_token_command(entra: ServedEmulator, tmp_path: Path) -> None:
    ids = seed(entra, 2, 250)
    out = tmp_path / "azure.jsonl"
    command = token_command(entra, lifetime=600, scope=COGNITIVE_SERVICES_SCOPE)
    options = ["--azure-endpoint", entra.emu.url_for("azure_v1"), "--token-command", command]
    result = export(out, ids, *options, env={"AZURE_OPENAI_API_KEY": None})
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, entra, ids)
    requests = calls(entra)
    assert {r.status for r in requests} == {200}
    assert all(r.headers["Authorization"].startswith("Bearer emu-entra-") for r in requests)
    assert not any("api-key" in r.headers for r in requests)


# -- --header and --query on the wire ----------------------------------------------------------


def test_headers_and_query_reach_the_server(entra: ServedEmulator, tmp_path: Path) -> None:
    ids = seed(entra, 2, 150)
    out = tmp_path / "out.jsonl"
    result = export(
        out, ids, "--foundry-endpoint", entra.emu.url_for("foundry"),
        "--token-command", token_command(entra, lifetime=600),
        "--header", "X-Trace-Id: run-42", "--header", "x-tenant:   blue  ",
        "--query", "tenant=blue", "--query", "note=a b&c",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, entra, ids)
    requests = calls(entra)
    assert len(requests) == 4
    for request in requests:
        assert request.headers["X-Trace-Id"] == "run-42"
        assert request.headers["X-Tenant"] == "blue"
        assert request.query["tenant"] == "blue"
        assert request.query["note"] == "a b&c"  # encoded, not split
        assert request.query["api-version"] == "v1"


def test_import_shares_the_connection_options(entra: ServedEmulator, tmp_path: Path) -> None:
    export_file = tmp_path / "export.jsonl"
    write_export(export_file, {"thread_src1": 3, "thread_src2": 2})
    map_file = tmp_path / "map.jsonl"
    result = invoke(
        "import", str(export_file), "--map", str(map_file), "--progress", "none",
        "--foundry-endpoint", entra.emu.url_for("foundry"),
        "--token-command", token_command(entra, lifetime=600),
        "--header", "X-Trace-Id: import-7", "--query", "tenant=blue",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    requests = calls(entra)
    creates = [r for r in requests if r.method == "POST" and r.path.endswith("/messages")]
    assert len(creates) == 5
    for request in requests:
        assert request.path.startswith("/api/projects/")
        assert request.headers["X-Trace-Id"] == "import-7"
        assert request.query["tenant"] == "blue"
        assert request.headers["Authorization"].startswith("Bearer emu-entra-")
    assert len(map_file.read_text().splitlines()) == 5
