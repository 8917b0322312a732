"""``openai-messages import`` run as a subprocess, killed (SIGKILL, SIGINT) at random points
and under the emulator's chaos faults, then resumed until done: every message once, in
order, and the map holding each once."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from openai_messages.cli.importer import STATE_SUFFIX
from openai_messages.emulator import Faults

from ..cli_support import ServedEmulator
from ..import_support import (
    KeylessProxy,
    assert_imported,
    import_args,
    map_lines,
    seed_targets,
    write_export,
)
from ..process_support import (
    created_so_far,
    finish,
    kill_at_random_points,
    run_until_done,
    start,
)
from ..support import read_state


def test_sigkill_at_random_points_then_resume(
    served: ServedEmulator, keyless: KeylessProxy, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {f"thread_src_{i}": 300 + 150 * i for i in range(6)})
    total = sum(len(m) for m in sources.values())
    assert total == 4050
    targets = seed_targets(served, list(sources))
    map_path = tmp_path / "map.jsonl"
    args = import_args(
        served, export, targets, "--map", str(map_path), "--progress", "none", url=keyless.url
    )

    landed = kill_at_random_points(args, map_path, total, 6, random.Random(16))
    assert landed >= 3
    assert 0 < len(map_lines(map_path)) < total
    assert run_until_done(args) == [0]
    assert_imported(served, sources, targets, map_path)
    assert len(map_lines(map_path)) == total


def test_sigint_exits_130_commits_and_resumes(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {f"thread_src_{i}": 200 for i in range(4)})
    targets = seed_targets(served, list(sources))
    map_path = tmp_path / "map.jsonl"
    args = import_args(served, export, targets, "--map", str(map_path))
    served.emu.latency = 0.005
    proc = start(args)
    deadline = time.monotonic() + 60
    while created_so_far(map_path) < 50:
        assert proc.poll() is None, finish(proc)
        assert time.monotonic() < deadline, "the import did not get going"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    code, stderr = finish(proc, 30)
    assert code == 130, stderr
    assert "run the same command again to resume" in stderr
    state = read_state(str(export) + STATE_SUFFIX)
    assert state["map_size"] == map_path.stat().st_size  # all that was written is committed
    assert sum(t["count"] for t in state["threads"].values()) == len(map_lines(map_path))
    assert len(map_lines(map_path)) < 800
    served.emu.latency = 0.0

    assert run_until_done(args) == [0]
    assert_imported(served, sources, targets, map_path)


@pytest.mark.parametrize("trust", [False, True], ids=["reconcile", "trust-key"])
def test_chaos_and_kills_then_resume(
    served: ServedEmulator, keyless: KeylessProxy, tmp_path: Path, trust: bool
) -> None:
    """Without trust, the target ignores the key (only the importer's checks count)."""
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {f"thread_src_{i}": 10 + i for i in range(16)})
    total = sum(len(m) for m in sources.values())
    targets = seed_targets(served, list(sources))
    map_path = tmp_path / "map.jsonl"
    more = ["--map", str(map_path), "--concurrency", "16", "--max-retries", "8"]
    if trust:
        more.append("--trust-idempotency-key")
    url = None if trust else keyless.url
    args = import_args(served, export, targets, *more, "--progress", "none", url=url)
    served.emu.faults = Faults.chaos(seed=5, error_rate=0.1, drop_rate=0.04, truncate_rate=0.04)

    kill_at_random_points(args, map_path, total, 3, random.Random(7))
    run_until_done(args)
    served.emu.faults = None
    assert_imported(served, sources, targets, map_path)
    assert len(map_lines(map_path)) == total
    fired = served.call(lambda: [r.fault_kind for r in served.emu.log if r.fault_kind])
    assert "drop_mid_body" in fired  # faults after the message was stored did happen
