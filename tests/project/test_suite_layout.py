"""Rules of the test suite itself: shared helpers live in support modules (``support.py``,
``cli_support.py``, ``import_support.py``, ``fake_seam.py``, ``hostile.py``) or in
``conftest.py``, never in a test module that another one imports."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_test_modules(source: str) -> set[str]:
    """The ``test_*`` modules of this folder that ``source`` imports (relatively or not)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] if module else [alias.name for alias in node.names]
            if node.level == 0 and not module.startswith("tests."):
                continue
            found.update(n.rsplit(".", 1)[-1] for n in names if n.rsplit(".", 1)[-1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".", 1)[1] for a in node.names if a.name.startswith("tests."))
    return {name.split(".")[0] for name in found if name.split(".")[0].startswith("test_")}


def test_the_scan_finds_every_form() -> None:
    source = (
        "from .test_a import x\nfrom . import test_b\nfrom tests.test_c import y\n"
        "import tests.test_d\nfrom .support import z\nfrom testing import w\n"
        "def f():\n    from .test_e import v\n"
    )
    assert imported_test_modules(source) == {"test_a", "test_b", "test_c", "test_d", "test_e"}


def test_no_module_of_the_suite_imports_a_test_module() -> None:
    offenders = {
        str(path.relative_to(TESTS)): sorted(found)
        for path in sorted(TESTS.rglob("*.py"))
        if (found := imported_test_modules(path.read_text("utf-8")))
    }
    assert offenders == {}


def test_the_tests_are_laid_out_by_layer() -> None:
    """Test modules live in a folder per layer (each a package); only support modules and
    ``conftest.py`` stay at the root."""
    assert sorted(p.name for p in TESTS.glob("test_*.py")) == []
    folders = [p.parent for p in TESTS.rglob("test_*.py")]
    assert {"core", "codec", "transport", "walk", "http", "cli", "emulator"} <= {
        f.name for f in folders
    }
    assert all((folder / "__init__.py").exists() for folder in folders)
