"""The command as a subprocess, for the kill-and-resume tests: start, finish, SIGKILL at
random points, re-run until done."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from .cli_support import env_for_subprocess

MAX_RUNS = 40


def start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "openai_messages", *args],
        env=env_for_subprocess(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish(proc: subprocess.Popen[bytes], timeout: float = 120) -> tuple[int, str]:
    _, stderr = proc.communicate(timeout=timeout)
    return proc.returncode, stderr.decode(errors="replace")


def created_so_far(map_path: Path) -> int:
    return len(map_path.read_bytes().splitlines()) if map_path.exists() else 0


def kill_at_random_points(
    args: list[str], map_path: Path, total: int, kills: int, rng: random.Random
) -> int:
    """Start the import and SIGKILL it ``kills`` times, each after a random number of new
    map lines; return how many kills landed while it was still running."""
    landed = 0
    for _ in range(kills):
        before = created_so_far(map_path)
        goal = min(total - 1, before + rng.randint(1, max(1, total // (kills + 2))))
        proc = start(args)
        deadline = time.monotonic() + 60
        while proc.poll() is None and created_so_far(map_path) < goal:
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(rng.uniform(0.0, 0.02))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            landed += 1
        finish(proc, 30)
    return landed


def run_until_done(
    args: list[str], stops: tuple[str, ...] = ("CreateOutcomeUnknownError", "was not created")
) -> list[int]:
    """Run the import again until it exits 0 (a thread stopped by an unknown outcome, its
    error holding one of ``stops``, exits 1 and goes on in the next run); the exit codes."""
    codes: list[int] = []
    for _ in range(MAX_RUNS):
        code, stderr = finish(start(args))
        codes.append(code)
        if code == 0:
            return codes
        assert code == 1, stderr
        assert any(stop in stderr for stop in stops), stderr
    raise AssertionError(f"not done after {MAX_RUNS} runs: {codes}")
