"""What a user installs: the wheel and the sdist, their metadata, and the Quickstart's commands.

The distributions are built by hatchling (the build backend) into a temporary folder, as
``python -m build`` would, so that what is checked is what would be published.
"""

from __future__ import annotations

import ast
import email.parser
import inspect
import re
import shlex
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

import pytest

import openai_messages

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = (ROOT / "pyproject.toml").read_text("utf-8")


def _nox_pythons() -> list[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PYTHONS" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, list)
            return [str(v) for v in value]
    raise AssertionError("noxfile.py has no PYTHONS list")


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def metadata(dists: dict[str, Path]) -> Message:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(wheel.read(name).decode("utf-8"))


def sdist_names(sdist: Path) -> set[str]:
    with tarfile.open(sdist) as tar:
        return {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}


def test_the_license_is_mit_and_names_its_holders() -> None:
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 openai_messages developers" in text
    assert re.search(r'^license = "MIT"$', PYPROJECT, re.MULTILINE)


def test_the_wheel_carries_the_license(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        licenses = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert len(licenses) == 1
        assert wheel.read(licenses[0]) == (ROOT / "LICENSE").read_bytes()


def test_the_sdist_carries_license_changelog_and_docs(dists: dict[str, Path]) -> None:
    names = sdist_names(dists["sdist"])
    assert {"LICENSE", "CHANGELOG.rst", "README.rst", "pyproject.toml", "noxfile.py"} <= names
    docs = {str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*") if p.is_file()}
    docs = {d for d in docs if not d.startswith("docs/_build")}
    assert {"docs/DESIGN.rst", "docs/conf.py", "docs/index.rst"} <= docs
    assert docs <= names, sorted(docs - names)
    assert not any(n.startswith("docs/_build") for n in names)


def test_the_version_is_written_once() -> None:
    assert not re.search(r"^version\s*=", PYPROJECT, re.MULTILINE)
    assert re.search(r'^dynamic = \["version"\]$', PYPROJECT, re.MULTILINE)
    assert 'path = "openai_messages/_version.py"' in PYPROJECT


def test_the_wheel_has_the_package_version(metadata: Message) -> None:
    assert metadata["Version"] == openai_messages.__version__
    assert metadata["License-Expression"] == "MIT"


def test_the_classifiers_name_each_python_that_nox_runs(metadata: Message) -> None:
    pythons = _nox_pythons()
    prefix = "Programming Language :: Python :: "
    classified = [
        c.removeprefix(prefix)
        for c in metadata.get_all("Classifier", [])
        if re.fullmatch(re.escape(prefix) + r"3\.\d+", c)
    ]
    assert classified == pythons
    assert metadata["Requires-Python"] == f">={pythons[0]}"
    assert metadata.get_all("Keywords") or metadata["Keywords"]


def test_the_changelog_has_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.rst").read_text("utf-8")
    version = re.escape(openai_messages.__version__)
    assert re.search(rf"^{version} \(\d{{4}}-\d\d-\d\d\)\n=+$", changelog, re.MULTILINE)


def test_the_long_description_has_no_relative_image(metadata: Message) -> None:
    # A relative image path is broken on a package index page: the README links none.
    description = metadata.get_payload()
    assert isinstance(description, str)
    assert "Quickstart" in description
    assert not re.search(r"^\.\. (image|figure)::", description, re.MULTILINE)


def _quickstart_commands() -> list[str]:
    readme = (ROOT / "README.rst").read_text("utf-8")
    section = readme.split("\nQuickstart\n==========\n", 1)[1].split("\n=", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ")]


def test_the_quickstart_is_two_lines_in_a_virtual_environment() -> None:
    commands = _quickstart_commands()
    assert len(commands) == 2
    for command in commands:
        steps = [shlex.split(step) for step in command.split("&&")]
        assert steps[0] == ["python3", "-m", "venv", ".venv"]
        # Everything after the first step runs from the virtual environment.
        assert all(step[0].startswith(".venv/bin/") for step in steps[1:]), command


def test_ci_runs_exactly_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    commands = [
        line
        for line in script
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    (test_command,) = [c for c in _quickstart_commands() if "nox" in c]
    assert commands == [test_command]


# -- the dependencies: what is imported is declared, and nothing else ---------------------

PACKAGE = ROOT / "openai_messages"
#: Distributions whose import name is not their own name.
IMPORT_NAMES = {"azure-identity": "azure.identity"}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.Module) -> set[str]:
    """Absolute module names imported at run time: imports under ``if TYPE_CHECKING:``
    are left out, and ``importlib.import_module("x")`` / ``find_spec("x")`` count."""
    found: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"import_module", "find_spec"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
        pending.extend(ast.iter_child_nodes(node))
    return found


def third_party_imports() -> set[str]:
    """Every module of another distribution that the package imports at run time."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        names |= _runtime_imports(ast.parse(path.read_text("utf-8")))
    stdlib = sys.stdlib_module_names | {"openai_messages"}
    return {name for name in names if name.split(".")[0] not in stdlib}


def declared_imports(metadata: Message) -> dict[str, str]:
    """The import name of each distribution the wheel requires (extras included)."""
    declared = {}
    for requirement in metadata.get_all("Requires-Dist", []):
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, requirement
        name = match.group(0).lower().replace("_", "-")
        declared[name] = IMPORT_NAMES.get(name, name.replace("-", "_"))
    return declared


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_import_scan_sees_runtime_imports_only() -> None:
    tree = ast.parse(
        "import a.b\nfrom c import d\nfrom . import e\nif TYPE_CHECKING:\n    import f\n"
        "else:\n    import g\ndef h():\n    importlib.import_module('i.j')\n"
    )
    assert _runtime_imports(tree) == {"a.b", "c", "g", "i.j"}


def test_every_third_party_import_is_declared(metadata: Message) -> None:
    packages = declared_imports(metadata).values()
    undeclared = {m for m in third_party_imports() if not any(_within(m, p) for p in packages)}
    assert not undeclared, sorted(undeclared)


def test_every_declared_dependency_is_imported(metadata: Message) -> None:
    imported = third_party_imports()
    unused = {
        name
        for name, package in declared_imports(metadata).items()
        if not any(_within(m, package) for m in imported)
    }
    assert not unused, sorted(unused)


async def test_the_azure_extra_has_what_the_code_calls() -> None:
    """The ``azure`` extra's floor (installed by ``nox -s tests_lowest``) has the aio
    ``DefaultAzureCredential`` the client creates, with an async ``get_token`` and
    ``close``. Nothing is fetched: the tests never reach Azure."""
    pytest.importorskip("azure.identity.aio")
    from openai_messages.auth import default_azure_credential

    credential = default_azure_credential()
    close = getattr(credential, "close", None)  # the client closes it through getattr too
    try:
        assert inspect.iscoroutinefunction(credential.get_token)
    finally:
        assert close is not None
        await close()
