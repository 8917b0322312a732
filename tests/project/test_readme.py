"""The README's Python examples run as written (against the embedded emulator)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.rst"
_BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", re.MULTILINE)


def _examples() -> list[str]:
    blocks = [m.group(1) for m in _BLOCK.finditer(README.read_text(encoding="utf-8"))]
    code = ["\n".join(line[4:] for line in block.splitlines()) for block in blocks]
    return [c for c in code if "asyncio.run(main())" in c]


EXAMPLES = _examples()


def test_the_readme_has_runnable_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("source", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_example_runs(source: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Each example calls asyncio.run itself, so run it outside the test's event loop.
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(source, str(README), "exec"), namespace)  # raises if an example's check fails
    assert callable(namespace["main"])
    capsys.readouterr()
