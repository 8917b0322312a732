"""CommandToken over real processes: a token printed, a failure, a hang, a process tree."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
import time
from pathlib import Path

import psutil
import pytest

from openai_messages.auth import CommandToken, CredentialError
from openai_messages.errors import InvalidArgumentError

from ..support import until

PY = sys.executable
TOKEN = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwczovL2FpLmF6dXJlLmNvbSJ9.c2lnbmF0dXJl"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell and process groups")


def python(code: str) -> list[str]:
    return [PY, "-c", code]


def counting_script(tmp_path: Path, body: str) -> list[str]:
    """A command that counts its runs in a file and prints ``body`` formatted with ``n``."""
    counter = tmp_path / "runs"
    code = (
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        f"sys.stdout.write({body!r}.format(n=n))\n"
    )
    return python(code)


def runs(tmp_path: Path) -> int:
    counter = tmp_path / "runs"
    return int(counter.read_text()) if counter.exists() else 0


async def test_a_printed_token_is_read_cached_and_refetched_after_a_401(tmp_path: Path) -> None:
    source = CommandToken(counting_script(tmp_path, "tok-{n}\n"))
    assert await source.get() == "tok-1"
    assert await source.get() == "tok-1"
    assert runs(tmp_path) == 1
    assert source.invalidate("tok-1") is True
    assert await source.get() == "tok-2"
    assert runs(tmp_path) == 2


async def test_a_windows_line_ending_is_stripped_too(tmp_path: Path) -> None:
    assert await CommandToken(counting_script(tmp_path, "tok-{n}\r\n")).get() == "tok-1"


async def test_lifetime_bounds_the_cache(tmp_path: Path) -> None:
    clock = [1_800_000_000.0]
    source = CommandToken(counting_script(tmp_path, "tok-{n}"), lifetime=60, clock=lambda: clock[0])
    assert await source.get() == "tok-1"
    clock[0] += 29
    assert await source.get() == "tok-1"
    clock[0] += 2
    assert await source.get() == "tok-2"


@pytest.mark.parametrize(
    "fields",
    [
        {"expires_on": 1_800_003_600},
        {"expires_on": "1800003600"},
        {"expires_on": "1800003600.0"},
        {"expiresOn": "2027-01-15 10:00:00.000000", "expires_on": 1_800_003_600},
        {"expiresOn": "2027-01-15T09:00:00Z"},
        {"expiresOn": "2027-01-15T10:00:00+01:00", "expires_on": "soon"},
    ],
)
async def test_az_json_output_gives_the_token_and_its_expiry(
    tmp_path: Path, fields: dict[str, object]
) -> None:
    clock = [1_800_000_000.0]
    body = json.dumps({"accessToken": "tok-{n}", "tokenType": "Bearer", **fields}, indent=2)
    body = body.replace("{", "{{").replace("}", "}}").replace("{{n}}", "{n}")
    source = CommandToken(counting_script(tmp_path, body), clock=lambda: clock[0])
    assert await source.get() == "tok-1"
    clock[0] += 3600 - 301
    assert await source.get() == "tok-1"
    clock[0] += 2
    assert await source.get() == "tok-2"


async def test_az_local_expires_on_is_read_as_local_time(tmp_path: Path) -> None:
    expiry = time.localtime(1_800_003_600)
    local = time.strftime("%Y-%m-%d %H:%M:%S.000000", expiry)
    body = json.dumps({"accessToken": "tok-{n}", "expiresOn": local})
    body = body.replace("{", "{{").replace("}", "}}").replace("{{n}}", "{n}")
    clock = [1_800_003_600.0 - 200]
    source = CommandToken(counting_script(tmp_path, body), clock=lambda: clock[0])
    assert await source.get() == "tok-1"
    clock[0] += 150
    assert await source.get() == "tok-2"


@pytest.mark.parametrize(
    ("printed", "problem"),
    [
        ("", "printed a token that is empty"),
        ("\n", "printed a token that is empty"),
        (f"{TOKEN}\n{TOKEN}\n", "printed several lines"),
        (f"{TOKEN}\n\n", "printed several lines"),
        (f" {TOKEN}\n", "leading or trailing whitespace"),
        ('{"token": "x"}', "JSON without an accessToken"),
        ('{"accessToken": ', "not JSON"),
        ('{"accessToken": "x", "expires_on": 1}', "expired"),
    ],
)
async def test_unusable_output_gives_a_credential_error(printed: str, problem: str) -> None:
    source = CommandToken(python(f"import sys; sys.stdout.write({printed!r})"))
    with pytest.raises(CredentialError, match=problem) as caught:
        await source.get()
    assert TOKEN not in str(caught.value)


async def test_a_failing_command_quotes_its_stderr_without_secrets() -> None:
    code = (
        "import sys\n"
        f"print({TOKEN!r})\n"
        "sys.stderr.write('ERROR: Please run az login to setup account.\\n')\n"
        "sys.stderr.write('sent Authorization: Bearer abc.def.ghi\\n')\n"
        f"sys.stderr.write('echo {TOKEN}\\n')\n"
        "sys.exit(3)\n"
    )
    source = CommandToken(python(code))
    with pytest.raises(CredentialError) as caught:
        await source.get()
    message = str(caught.value)
    assert "exited with status 3" in message
    assert "Please run az login" in message
    assert TOKEN not in message
    assert "abc.def.ghi" not in message
    assert caught.value.__cause__ is None


async def test_a_short_token_printed_before_failing_is_blanked_from_stderr() -> None:
    short = "tok-Short-4711"
    code = (
        "import json, sys\n"
        f"print(json.dumps({{'accessToken': {short!r}}}))\n"
        f"sys.stderr.write('could not verify {short}: expired\\n')\n"
        "sys.exit(1)\n"
    )
    with pytest.raises(CredentialError, match="could not verify") as caught:
        await CommandToken(python(code)).get()
    assert short not in str(caught.value)


async def test_a_hanging_command_is_killed_at_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    source = CommandToken(python(code), timeout=1.0)
    with pytest.raises(CredentialError, match="did not finish within 1 s"):
        await source.get()
    assert_gone(int(pid_file.read_text()))


def written(path: Path) -> bool:
    return path.exists() and bool(path.read_text())


def assert_gone(pid: int) -> None:
    """The process ``pid`` has exited (a zombie awaiting its reaper counts as gone)."""
    try:
        proc = psutil.Process(pid)
        proc.wait(timeout=10)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        assert proc.status() == psutil.STATUS_ZOMBIE, f"process {pid} still runs"


@posix_only
async def test_a_shell_command_string_runs_with_pipes() -> None:
    command = f"{shlex.quote(PY)} -c 'print(\"tok-from-pipe\")' | tr a-z A-Z"
    assert await CommandToken(command).get() == "TOK-FROM-PIPE"


@posix_only
async def test_the_whole_process_tree_dies_with_a_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    child = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    # The shell stays the parent (a second command follows), its child holds the pipes.
    command = f"{shlex.quote(PY)} -c {shlex.quote(child)}; echo done"
    source = CommandToken(command, timeout=1.0)
    with pytest.raises(CredentialError, match="did not finish"):
        await source.get()
    assert_gone(int(pid_file.read_text()))


async def test_cancelling_a_running_command_kills_it_and_leaves_the_source_usable(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "pid"
    marker = tmp_path / "slow"
    code = (
        "import os, pathlib, time\n"
        f"m = pathlib.Path({str(marker)!r})\n"
        "if not m.exists():\n"
        "    m.write_text('1')\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
        "print('tok-fast')\n"
    )
    source = CommandToken(python(code))
    pending = asyncio.create_task(source.get())
    await until(lambda: written(pid_file), 30, f"{pid_file} written by the child")
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert_gone(int(pid_file.read_text()))
    assert await source.get() == "tok-fast"


async def test_a_missing_program_gives_a_credential_error() -> None:
    source = CommandToken(["/nonexistent/az-token-helper", "--secret-flag"])
    with pytest.raises(CredentialError, match="could not start") as caught:
        await source.get()
    assert "--secret-flag" not in str(caught.value)


def test_repr_names_the_program_not_its_arguments() -> None:
    source = CommandToken(["/usr/bin/get-token", "--password", "hunter2-hunter2"])
    assert repr(source) == "CommandToken('get-token')"
    assert "hunter2" not in repr(CommandToken("get-token --password hunter2 | cat"))


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"command": ""}, "empty"),
        ({"command": []}, "non-empty list"),
        ({"command": ["az", 3]}, "non-empty list"),
        ({"command": "az", "timeout": 0}, "timeout"),
        ({"command": "az", "lifetime": -5}, "lifetime"),
    ],
)
def test_command_token_checks_its_arguments(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidArgumentError, match=problem):
        CommandToken(**kwargs)  # type: ignore[arg-type]


def test_no_child_is_left_behind() -> None:
    assert not [p for p in psutil.Process(os.getpid()).children() if p.is_running()]
