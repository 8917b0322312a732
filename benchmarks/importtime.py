"""Import time of a package in a fresh interpreter, from ``python -X importtime``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["import_ms"]

ROOT = Path(__file__).resolve().parent.parent


def _cumulative_us(stderr: str, names: Sequence[str]) -> float:
    """Sum of the cumulative microseconds of the top-level imports of ``names``."""
    found: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3:
            continue
        name = parts[2].rstrip()
        top_level = name.startswith(" ") and not name.startswith("  ")
        if top_level and name.strip() in names:
            try:
                found[name.strip()] = float(parts[1])
            except ValueError:
                continue
    missing = [n for n in names if n not in found]
    if missing:
        raise RuntimeError(f"no importtime line for {', '.join(missing)}")
    return sum(found.values())


def import_ms(modules: Sequence[str]) -> float:
    """Milliseconds to import ``modules`` (top-level cumulative) in a fresh interpreter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    code = "import " + ", ".join(modules)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{code!r} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return _cumulative_us(proc.stderr, modules) / 1000.0
