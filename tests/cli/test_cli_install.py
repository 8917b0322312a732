"""The command line without the ``[cli]`` extra, and ``serve`` sharing the emulator's one
parser (issue 17 item 4)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from openai_messages.cli import INSTALL_HINT
from openai_messages.cli.commands import cli
from openai_messages.emulator.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[2]

BLOCKER = '''
import importlib.abc
import sys


class _NoExtras(importlib.abc.MetaPathFinder):
    """Acts as if click and rich were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("click", "rich"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoExtras())
'''


def run_without_extras(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_blocker_really_hides_click(tmp_path: Path) -> None:
    done = run_without_extras(tmp_path, "-c", "import click")
    assert done.returncode == 1
    assert "ModuleNotFoundError" in done.stderr


@pytest.mark.parametrize(
    "entry",
    [
        ["-c", "from openai_messages.cli import main; main()"],  # the console script
        ["-m", "openai_messages"],
    ],
    ids=["console-script", "python-m"],
)
@pytest.mark.parametrize("args", [[], ["export", "thread_a"], ["--help"]])
def test_without_the_cli_extra_one_line_says_how_to_install_it(
    tmp_path: Path, entry: list[str], args: list[str]
) -> None:
    done = run_without_extras(tmp_path, *entry, *args)
    assert done.returncode == 2
    assert done.stderr.strip() == INSTALL_HINT
    assert 'pip install "openai_messages[cli]"' in done.stderr
    assert done.stdout == ""


def test_the_library_and_the_emulator_need_no_cli_extra(tmp_path: Path) -> None:
    code = "import openai_messages, openai_messages.emulator.__main__; print('ok')"
    done = run_without_extras(tmp_path, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def option_strings(text: str) -> set[str]:
    return {word.strip("[],") for word in text.split() if word.strip("[],").startswith("--")}


def test_serve_takes_exactly_the_emulators_options() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    expected = {flag for action in build_parser()._actions for flag in action.option_strings}
    expected = {flag for flag in expected if flag.startswith("--")}
    assert option_strings(result.output) == expected
    assert "openai-messages serve" in result.output


def test_serve_refuses_what_the_emulator_refuses() -> None:
    result = CliRunner().invoke(cli, ["serve", "--no-such-option"])
    assert result.exit_code == 2
    assert "unrecognized arguments: --no-such-option" in result.output


def test_serve_on_a_busy_port_is_one_usage_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert "cannot serve" in result.output
    assert "Traceback" not in result.output
