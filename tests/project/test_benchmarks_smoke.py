"""The benchmark harness runs end to end in its smallest mode and writes well-formed results.

No timing is asserted here: only that every scenario ran and the outputs have the
expected shape. The harness runs in a subprocess, as ``nox -s bench`` runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {
    "parsing",
    "full walk",
    "items walk",
    "latency hiding",
    "bulk",
    "rate-limited",
    "memory",
    "emulator memory",
    "import",
    "restore",
    "checkpoint",
    "conversations restore",
}


def run_harness(results_dir: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--results-dir", str(results_dir), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Targets:" in proc.stdout
    doc: dict[str, Any] = json.loads((results_dir / "latest.json").read_text(encoding="utf-8"))
    assert (results_dir / "table.rst").read_text(encoding="utf-8").startswith("+-")
    return doc


def check_document(doc: dict[str, Any]) -> None:
    assert doc["schema"] == 1
    assert doc["mode"]["name"] == "smoke"
    assert doc["errors"] == []
    assert {"cpu", "cores", "python", "packages", "date"} <= set(doc["machine"])
    assert {f["scenario"] for f in doc["figures"]} == SCENARIOS
    for figure in doc["figures"]:
        assert figure["runs"], figure
        assert figure["min"] <= figure["median"] <= figure["max"]
    for ratio in doc["ratios"]:
        assert {"label", "median", "min", "max", "runs"} <= set(ratio)
    for target in doc["targets"]:
        assert target["met"] in (True, False)


def test_harness_without_the_official_package(tmp_path: Path) -> None:
    doc = run_harness(tmp_path, "--no-official")
    check_document(doc)
    clients = {f["client"] for f in doc["figures"]}
    assert "openai_messages" in clients
    assert not any(c.startswith("openai ") or c == "openai" for c in clients)


def test_harness_with_the_official_package(tmp_path: Path) -> None:
    pytest.importorskip("openai")
    doc = run_harness(tmp_path)
    check_document(doc)
    clients = {f["client"] for f in doc["figures"]}
    assert {"openai (httpx)", "openai (aiohttp)", "aiohttp+orjson floor"} <= clients
