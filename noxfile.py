"""Developer sessions: tests, tests_lowest, lint, typecheck, docs, build, bench, demo, chaos.

``nox`` alone runs the default sessions: lint, typecheck, tests, tests_lowest and docs.
Typecheck and tests run once for each supported Python found on the machine,
tests_lowest for each of the oldest two (a missing one is skipped, never downloaded).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nox

#: The supported Pythons; pyproject's classifiers name the same ones (tests check it).
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

#: The Pythons every dependency floor has wheels for (orjson 3.9, multidict 6.0.4: none for 3.12).
LOWEST_PYTHONS = PYTHONS[:2]

nox.options.sessions = ["lint", "typecheck", "tests", "tests_lowest", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False
nox.options.download_python = "never"

TEST_DEPS = [
    "pytest>=8",
    "pytest-asyncio>=0.24",
    "hypothesis>=6.100",
    "pyyaml>=6",
    "openai[aiohttp]>=1.40",  # the benchmark harness walks with its aiohttp client too
    "hatchling>=1.27",
    "psutil>=5.9",
    "azure-ai-agents>=1.1",
    "tomli>=2; python_version < '3.11'",
]
PACKAGES = ["openai_messages", "tests", "benchmarks", "noxfile.py", "docs/conf.py"]
# Pinned so that a new release cannot turn the warnings-as-errors build red by itself.
DOCS_DEPS = [
    "sphinx==9.0.4; python_version >= '3.11'",
    "sphinx==8.1.3; python_version < '3.11'",
    "furo==2025.12.19",
]
BUILD_DEPS = ["build==1.6.1", "twine==7.0.0"]
DOCS_OUT = "docs/_build/html"


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite (a bounded chaos run included)."""
    session.install("-e", ".[cli]", *TEST_DEPS)
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=LOWEST_PYTHONS)
def tests_lowest(session: nox.Session) -> None:
    """The whole test suite with the lowest version pyproject allows of each direct
    dependency (``uv pip compile --resolution lowest-direct``), the extras included: the
    floors are checked, not guessed. Transitive dependencies resolve as usual, and the test
    tools must fit the pinned floors (the resolution fails if one needs more).
    """
    session.install("uv")
    python = str(Path(session.bin, "python"))
    with tempfile.TemporaryDirectory(prefix="om-lowest-") as folder:
        pins = str(Path(folder, "lowest.txt"))
        session.run(
            "uv", "pip", "compile", "-q", "--python", python, "--resolution", "lowest-direct",
            "--extra", "cli", "--extra", "azure", "pyproject.toml", "-o", pins,
        )  # fmt: skip
        # exact pins: a virtualenv reused from an earlier run is moved to them too
        session.run("uv", "pip", "install", "-q", "--python", python, "-r", pins)
        session.run(
            "uv", "pip", "install", "-q", "--python", python, "-c", pins,
            "-e", ".[cli,azure]", *TEST_DEPS,
        )  # fmt: skip
    session.run("uv", "pip", "list", "--python", python)
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def chaos(session: nox.Session) -> None:
    """Longer fault-injection runs: bigger threads, more faults, more seeds."""
    session.install("-e", ".[cli]", *TEST_DEPS)
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/http/test_chaos.py",
        "-s",
        env={"OM_CHAOS_SCALE": "full"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", *PACKAGES)
    session.run("ruff", "format", "--check", *PACKAGES)


@nox.session(python=PYTHONS)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the benchmarks, with this Python's deps;
    then the typing test: the samples of ``tests/typing_samples`` (``assert_type``
    expectations, and mistakes mypy must refuse).

    The target stays pyproject's oldest supported Python, where most mistakes show.
    """
    session.install("-e", ".[cli]", "mypy>=1.11", "nox", *TEST_DEPS, "types-PyYAML")
    session.run("mypy", "--strict", *PACKAGES)
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/project/test_typing.py")


@nox.session
def docs(session: nox.Session) -> None:
    """The API reference and the guide (Sphinx) into docs/_build/html; warnings are errors."""
    session.install("-e", ".[cli]", *DOCS_DEPS)
    shutil.rmtree(DOCS_OUT, ignore_errors=True)
    session.run("sphinx-build", "-W", "--keep-going", "-n", "-q", "-b", "html", "docs", DOCS_OUT)
    session.log(f"open {Path(DOCS_OUT, 'index.html').resolve().as_uri()}")


@nox.session
def build(session: nox.Session) -> None:
    """The wheel and the sdist (``python -m build``), checked by ``twine check --strict``."""
    session.install(*BUILD_DEPS)
    with tempfile.TemporaryDirectory(prefix="om-dist-") as out:
        session.run("python", "-m", "build", "--outdir", out)
        dists = sorted(str(p) for p in Path(out).iterdir())
        session.run("twine", "check", "--strict", *dists)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks side by side with the official openai package (``-- --quick`` for short)."""
    session.install("-e", ".[cli]", "openai[aiohttp]>=1.40", "psutil>=5.9", "matplotlib>=3.7")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The demo: export 200 threads from the embedded emulator, with faults and a rate limit."""
    session.install("-e", ".[cli]")
    session.run("openai-messages", "demo", *session.posargs)
