"""``openai-messages import --to conversations`` run as a subprocess, SIGKILLed at random
points, under the emulator's chaos faults and partial stores, then resumed until done:
every message once, in order, in exactly one conversation per source thread."""

from __future__ import annotations

import random
from pathlib import Path

from openai_messages.emulator import Fault, Faults

from ..cli_support import ServedEmulator
from ..conversation_support import assert_in_conversations, conversation_args
from ..import_support import map_lines, write_export
from ..process_support import kill_at_random_points, run_until_done

STOPS = ("was not imported", "could not be created")


def test_sigkill_at_random_points_under_faults_then_resume(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {f"thread_src_{i}": 60 + 45 * i for i in range(6)})
    total = sum(len(m) for m in sources.values())
    map_path = tmp_path / "map.jsonl"
    more = ["--map", str(map_path), "--concurrency", "3", "--max-retries", "8"]
    args = conversation_args(served, export, *more, "--progress", "none")
    faults = Faults.chaos(seed=3, error_rate=0.1, drop_rate=0.04, truncate_rate=0.04)
    faults.add(Fault.partial_commit(stored=5), route="create_items", probability=0.1)
    faults.add(Fault.commit_then_error(503), route="create_items", probability=0.1)
    served.emu.faults = faults
    served.emu.latency = 0.002  # a batch takes long enough for kills to land mid-call

    landed = kill_at_random_points(args, map_path, total, 6, random.Random(23))
    assert landed >= 3
    assert 0 < len(map_lines(map_path)) < total
    run_until_done(args, STOPS)
    served.emu.faults = None
    served.emu.latency = 0.0
    assert_in_conversations(served, sources, map_path)  # zero duplicates, zero losses
    fired = served.call(lambda: {r.fault_kind for r in served.emu.log if r.fault_kind})
    assert {"partial_commit", "commit_then_error", "drop_mid_body"} <= fired
