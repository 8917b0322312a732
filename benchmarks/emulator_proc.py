"""The emulator in its own process, so that its CPU time is not the client's.

:func:`running` starts ``python -m openai_messages.emulator`` on a loopback port,
reads the base URL and key it prints, and terminates it on the way out, whatever
happens (errors, Ctrl-C, SIGTERM turned into SystemExit by the runner).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

__all__ = ["EmulatorSpec", "RunningEmulator", "running", "stop_all"]

ROOT = Path(__file__).resolve().parent.parent
MODULE = os.environ.get("OM_BENCH_EMULATOR_MODULE", "openai_messages.emulator")
START_TIMEOUT = 120.0
_LIVE: set[subprocess.Popen[str]] = set()


@dataclass(frozen=True)
class EmulatorSpec:
    """What one emulator process serves."""

    threads: int
    messages: int
    latency: float | None = None
    rate_limit: float | None = None
    burst: int | None = None
    chaos: int | None = None
    """Seed of the emulator's chaos faults (None: no faults)."""

    def argv(self, api_key: str) -> list[str]:
        args = [
            sys.executable,
            "-m",
            MODULE,
            "--port",
            "0",
            "--seed-threads",
            str(self.threads),
            "--seed-messages",
            str(self.messages),
            "--api-key",
            api_key,
        ]
        if self.latency:
            args += ["--latency", str(self.latency)]
        if self.rate_limit:
            args += ["--rate-limit", str(self.rate_limit)]
            if self.burst:
                args += ["--burst", str(self.burst)]
        if self.chaos is not None:
            args += ["--chaos", str(self.chaos)]
        return args


@dataclass
class RunningEmulator:
    """A started emulator: where it listens, its key, and its seeded thread ids."""

    spec: EmulatorSpec
    process: subprocess.Popen[str]
    stderr: IO[str]
    base_url: str = ""
    api_key: str = ""
    thread_ids: list[str] = field(default_factory=list)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Read the ``OPENAI_BASE_URL=`` and ``OPENAI_API_KEY=`` lines (and thread ids)."""
        lines = _read_lines(self.process, timeout)
        values: dict[str, str] = {}
        for line in lines:
            name, sep, value = line.strip().partition("=")
            if sep:
                values[name] = value
        base_url = values.get("OPENAI_BASE_URL", "")
        if not base_url:
            raise RuntimeError(f"the emulator printed no OPENAI_BASE_URL line:\n{self.tail()}")
        host = urlsplit(base_url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise RuntimeError(f"the emulator listens on {host!r}, not on loopback")
        self.base_url = base_url
        self.api_key = values.get("OPENAI_API_KEY", self.api_key)
        ids = values.get("OPENAI_THREAD_IDS", "")
        self.thread_ids = [t for t in ids.split(",") if t]
        if len(self.thread_ids) < self.spec.threads:
            raise RuntimeError(
                f"the emulator listed {len(self.thread_ids)} thread ids, "
                f"{self.spec.threads} expected"
            )

    def tail(self) -> str:
        """The end of the emulator's stderr, for error messages."""
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()[-2000:]

    def stop(self) -> None:
        _stop(self.process)
        self.stderr.close()


def _read_lines(process: subprocess.Popen[str], timeout: float) -> list[str]:
    """The emulator's first stdout lines (up to a blank line or 3 lines), then drain the rest."""
    assert process.stdout is not None
    stdout = process.stdout
    lines: list[str] = []
    done = threading.Event()

    def reader() -> None:
        for line in stdout:
            if not done.is_set():
                lines.append(line.rstrip("\n"))
                if len(lines) >= 3 or not line.strip():
                    done.set()
        done.set()

    threading.Thread(target=reader, name="emulator-stdout", daemon=True).start()
    deadline = time.monotonic() + timeout
    while not done.wait(0.05):
        if len(lines) >= 2 and _has_all(lines):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the emulator did not start within {timeout:.0f} s")
        if process.poll() is not None and not done.is_set():
            done.wait(1.0)
            break
    return list(lines)


def _has_all(lines: Sequence[str]) -> bool:
    names = {line.partition("=")[0] for line in lines}
    return {"OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_THREAD_IDS"} <= names


def _stop(process: subprocess.Popen[str]) -> None:
    _LIVE.discard(process)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    if process.stdout is not None:
        process.stdout.close()


def stop_all() -> None:
    """Stop every emulator this process started and has not stopped yet."""
    for process in list(_LIVE):
        _stop(process)


def start(spec: EmulatorSpec) -> RunningEmulator:
    """Start an emulator process (call :meth:`RunningEmulator.wait_ready` next)."""
    api_key = f"sk-bench-{secrets.token_hex(12)}"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in stop()
    process = subprocess.Popen(
        spec.argv(api_key),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    _LIVE.add(process)
    return RunningEmulator(spec, process, stderr, api_key=api_key)


@contextlib.contextmanager
def running(*specs: EmulatorSpec) -> Iterator[list[RunningEmulator]]:
    """Start emulators side by side (they seed in parallel); stop them all on the way out."""
    started: list[RunningEmulator] = []
    try:
        for spec in specs:
            started.append(start(spec))
        for emulator in started:
            try:
                emulator.wait_ready()
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}\n--- emulator stderr ---\n{emulator.tail()}") from None
        yield started
    finally:
        for emulator in started:
            emulator.stop()
