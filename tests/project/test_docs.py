"""The documentation covers every public name, and its examples run (no Sphinx needed)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import openai_messages
import openai_messages.emulator

DOCS = Path(__file__).resolve().parents[2] / "docs"
API_PAGES = sorted((DOCS / "api").glob("*.rst"))
DOC_PAGES = sorted(DOCS.rglob("*.rst"))
PUBLIC_PACKAGES = [openai_messages, openai_messages.emulator]

_DIRECTIVE = re.compile(r"^\.\. (currentmodule|module|auto\w+):: *(\S+)", re.MULTILINE)
_BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", re.MULTILINE)


def documented_names(page_text: str) -> set[str]:
    """The dotted names an API page documents with an ``auto...`` directive."""
    names: set[str] = set()
    module = ""
    for directive, argument in _DIRECTIVE.findall(page_text):
        if directive in ("currentmodule", "module", "automodule"):
            module = argument
        else:
            names.add(
                argument if argument.startswith("openai_messages") else f"{module}.{argument}"
            )
    return names


def public_names() -> list[str]:
    return [f"{p.__name__}.{name}" for p in PUBLIC_PACKAGES for name in p.__all__]


def test_the_parser_reads_both_directive_forms() -> None:
    page = ".. currentmodule:: pkg\n\n.. autoclass:: A\n\n.. autofunction:: other.b\n"
    assert documented_names(page) == {"pkg.A", "pkg.other.b"}


def test_every_public_name_has_its_api_entry() -> None:
    documented = set().union(*(documented_names(p.read_text("utf-8")) for p in API_PAGES))
    missing = [name for name in public_names() if name not in documented]
    assert not missing, f"add these to a page under docs/api/: {missing}"


def test_every_api_entry_names_a_public_object() -> None:
    documented = set().union(*(documented_names(p.read_text("utf-8")) for p in API_PAGES))
    assert documented <= set(public_names()), sorted(documented - set(public_names()))


def test_every_api_page_is_in_the_toctree() -> None:
    index = (DOCS / "api" / "index.rst").read_text("utf-8")
    listed = set(re.findall(r"^   (\w+)$", index, re.MULTILINE))
    assert {p.stem for p in API_PAGES if p.stem != "index"} == listed


def _examples() -> list[tuple[str, str]]:
    found = []
    for page in DOC_PAGES:
        for match in _BLOCK.finditer(page.read_text("utf-8")):
            code = "\n".join(line[4:] for line in match.group(1).splitlines())
            if "asyncio.run(main())" in code:
                found.append((str(page.relative_to(DOCS)), code))
    return found


EXAMPLES = _examples()


def test_the_docs_have_runnable_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize(
    ("page", "source"), EXAMPLES, ids=[f"{p}-{i}" for i, (p, _) in enumerate(EXAMPLES)]
)
def test_docs_example_runs(page: str, source: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Each example calls asyncio.run itself, so run it outside the test's event loop.
    namespace: dict[str, object] = {"__name__": "docs_example"}
    exec(compile(source, str(DOCS / page), "exec"), namespace)  # raises if a check fails
    assert callable(namespace["main"])
    capsys.readouterr()


def _modules() -> list[ModuleType]:
    names = ["openai_messages"] + [
        info.name
        for info in pkgutil.walk_packages(openai_messages.__path__, "openai_messages.")
        if not info.name.endswith("__main__")
    ]
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as error:  # the CLI without its extra
            if error.name not in ("click", "rich"):
                raise
    return modules


DOCTESTS = [t for m in _modules() for t in doctest.DocTestFinder().find(m) if t.examples]


def test_the_docstrings_have_examples() -> None:
    assert DOCTESTS


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_example_runs(test: doctest.DocTest) -> None:
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=report.append)
    assert result.attempted > 0
    assert result.failed == 0, "".join(report)
