"""The public types catch mistakes: mypy on the samples of ``tests/typing_samples``.

``sample_usage.py`` must type-check (its ``assert_type`` calls are the expectations);
every line of ``mistakes.py`` marked ``# expect: <code>`` must be refused with that error
code, and nothing else in it. mypy runs in a subprocess, with the project's
configuration (``--strict``, the oldest supported Python). Skipped where mypy is not
installed (the ``tests`` session); the ``typecheck`` session runs it.

Runtime checks stay for callers that are not type-checked: the last tests send the same
mistakes through ``Any`` and get :class:`InvalidArgumentError` before any request.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import openai_messages as om
from openai_messages.emulator import Emulator

from ..support import API_KEY

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).resolve().parents[1] / "typing_samples"
SAMPLE = SAMPLES / "sample_usage.py"
MISTAKES = SAMPLES / "mistakes.py"

_REPORT = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[\w-]+)\]$")
_EXPECT = re.compile(r"# expect: (?P<code>[\w-]+)\s*$")


def expected_errors(path: Path) -> set[tuple[int, str]]:
    """The ``(line, code)`` pairs marked ``# expect: code`` in ``path``."""
    found = set()
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        match = _EXPECT.search(line)
        if match:
            found.add((number, match["code"]))
    return found


def reported_errors(output: str, path: Path) -> set[tuple[int, str]]:
    """The ``(line, code)`` pairs of mypy's errors in ``path``."""
    name = path.relative_to(ROOT).as_posix()
    found = set()
    for line in output.splitlines():
        match = _REPORT.match(line.strip())
        if match and Path(match["path"]).as_posix() == name:
            found.add((int(match["line"]), match["code"]))
    return found


def test_the_parsers_read_marks_and_reports(tmp_path: Path) -> None:
    sample = ROOT / "tests" / "x.py"
    assert reported_errors(
        "tests/x.py:3: error: Argument 1 has incompatible type  [arg-type]\n"
        "tests/y.py:4: error: Other file  [misc]\n"
        "tests/x.py:5: note: Revealed type is 'int'\n",
        sample,
    ) == {(3, "arg-type")}
    marked = tmp_path / "marked.py"
    marked.write_text("a = 1\nb: str = a  # expect: assignment\n", "utf-8")
    assert expected_errors(marked) == {(2, "assignment")}


@pytest.fixture(scope="module")
def mypy_output() -> str:
    pytest.importorskip("mypy", reason="mypy is installed by the typecheck session")
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--no-pretty",
        "--no-error-summary",
        "--show-error-codes",
        str(SAMPLE.relative_to(ROOT)),
        str(MISTAKES.relative_to(ROOT)),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr  # 1: errors found (the mistakes')
    assert "error: " in done.stdout or not expected_errors(MISTAKES), done.stdout
    return done.stdout


def test_the_sample_usage_type_checks(mypy_output: str) -> None:
    assert reported_errors(mypy_output, SAMPLE) == set(), mypy_output


def test_every_mistake_is_refused_and_nothing_else(mypy_output: str) -> None:
    expected = expected_errors(MISTAKES)
    assert len(expected) >= 15
    reported = reported_errors(mypy_output, MISTAKES)
    assert sorted(expected - reported) == [], f"not refused:\n{mypy_output}"
    assert sorted(reported - expected) == [], f"refused but not expected:\n{mypy_output}"


# ----------------------------------------------------------------------------- at runtime


async def test_untyped_mistakes_are_refused_before_sending(
    client: om.Client, emu: Emulator
) -> None:
    untyped: Any = client
    with pytest.raises(om.InvalidArgumentError, match="order"):
        untyped.list("thread_1", order="sideways")
    with pytest.raises(om.InvalidArgumentError, match="role"):
        await untyped.create("thread_1", role="robot", content="hi")
    with pytest.raises(om.InvalidArgumentError, match="order"):
        untyped.fetch_many(["thread_1"], order="sideways")
    with pytest.raises(om.InvalidArgumentError, match="order"):
        untyped.stream_many(["thread_1"], order="sideways")
    with pytest.raises(om.InvalidArgumentError, match="api_version"):
        om.Client(API_KEY, base_url=emu.url, api_version="v3")  # type: ignore[arg-type]
    assert len(emu.log) == 0


async def test_unknown_tags_arrive_as_sent(client: om.Client, emu: Emulator) -> None:
    """The sentinel is static only: an unknown block holds the server's own tag."""
    video = {"type": "video", "video": {"url": "u"}}
    message = emu.store.add_message("thread_1", "assistant", [video])
    got = await client.retrieve("thread_1", message["id"])
    block = got.content[0]
    assert isinstance(block, om.UnknownContent)
    kind: str = block.type
    assert kind == "video"
    assert block.raw == video


def test_get_type_hints_reads_the_with_response_calls() -> None:
    """``Unpack`` exists at runtime, so that ``typing.get_type_hints`` reads every call
    written with ``**options: Unpack[...]`` (it raised ``NameError`` before)."""
    import typing

    import openai_messages as om

    for cls in (om.WithResponse, om.ConversationsWithResponse, om.ItemsWithResponse):
        for name, call in vars(cls).items():
            if callable(call) and not name.startswith("_"):
                assert "options" in typing.get_type_hints(call), f"{cls.__name__}.{name}"
