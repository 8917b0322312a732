"""Developer sessions: tests, lint, typecheck, bench, demo, chaos.

``nox`` alone runs the default sessions: lint, typecheck and tests.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

TEST_DEPS = ["pytest>=8", "pytest-asyncio>=0.24", "hypothesis>=6.100", "pyyaml>=6", "openai>=1.40"]
PACKAGES = ["openai_messages", "tests", "benchmarks", "noxfile.py"]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (a bounded chaos run included)."""
    session.install("-e", ".[cli]", *TEST_DEPS)
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
        "tests/test_chaos.py",
        "-s",
        env={"OM_CHAOS_SCALE": "full"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", *PACKAGES)
    session.run("ruff", "format", "--check", *PACKAGES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the benchmarks."""
    session.install("-e", ".[cli]", "mypy>=1.11", "nox", *TEST_DEPS, "types-PyYAML")
    session.run("mypy", "--strict", *PACKAGES)


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
