"""The importer's thread create where the target lists threads (issue 22 item 3): after a
create whose reply is lost (stored, then the connection dropped) and after a kill between
a create and its commit, the thread is found by its marker instead of created again.
The target ignores ``Idempotency-Key`` (the proxy drops it), so only the marker counts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from openai_messages.cli.importer import IDEMPOTENCY_METADATA_KEY, SOURCE_THREAD_METADATA_KEY
from openai_messages.emulator import Fault

from ..cli_support import ServedEmulator, invoke
from ..import_support import KeylessProxy, import_args, source_of, target_view, write_export
from ..process_support import finish, start


def created_threads(served: ServedEmulator) -> dict[str, list[str]]:
    """Source thread -> the target threads made for it (by the importer's metadata)."""
    out: dict[str, list[str]] = {}
    store = served.emu.store

    def scan() -> None:
        for thread_id in store.thread_ids():
            thread = store.thread(thread_id)
            assert thread is not None
            source = thread.metadata.get(SOURCE_THREAD_METADATA_KEY)
            if source is not None:
                assert thread.metadata[IDEMPOTENCY_METADATA_KEY].startswith("om-import-")
                out.setdefault(source, []).append(thread_id)

    served.call(scan)
    return out


def assert_each_source_once(served: ServedEmulator, sources: dict[str, list[Any]]) -> None:
    made = created_threads(served)
    assert sorted(made) == sorted(sources)
    for src, messages in sources.items():
        (target,) = made[src]  # one target thread per source thread
        assert target_view(served, target) == [source_of(m) for m in messages]


def test_a_lost_thread_create_reply_is_found_by_its_marker(
    served: ServedEmulator, keyless: KeylessProxy, tmp_path: Path
) -> None:
    served.emu.list_threads = True
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {f"thread_src_{i}": 3 for i in range(3)})
    served.emu.faults.add(Fault.commit_then_drop(), route="create_thread", nth=2, times=1)
    result = invoke(*import_args(served, export, {}, url=keyless.url))
    assert result.exit_code == 0, result.stderr
    assert served.emu.log.count(fault="commit_then_drop") == 1
    assert_each_source_once(served, sources)


def test_without_a_thread_list_the_outcome_stays_unknown(
    served: ServedEmulator, keyless: KeylessProxy, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    write_export(export, {"thread_src_0": 2})
    served.emu.faults.add(Fault.commit_then_drop(), route="create_thread", times=1)
    result = invoke(*import_args(served, export, {}, url=keyless.url))
    assert result.exit_code == 1
    assert "CreateOutcomeUnknownError" in result.stderr
    assert len(created_threads(served)["thread_src_0"]) == 1  # stored, unknown to the import


def test_a_kill_between_a_thread_create_and_its_commit_creates_no_second_thread(
    served: ServedEmulator, keyless: KeylessProxy, tmp_path: Path
) -> None:
    served.emu.list_threads = True
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {f"thread_src_{i}": 4 for i in range(2)})
    args = import_args(served, export, {}, "--concurrency", "1", url=keyless.url)
    # the first thread create is stored, then its reply held back while the run is killed
    served.emu.faults.add(Fault.commit_then_delay(60), route="create_thread", times=1)
    proc = start(args)
    try:
        deadline = time.monotonic() + 60
        while not created_threads(served):
            assert proc.poll() is None, finish(proc)
            assert time.monotonic() < deadline, "the import created no thread"
            time.sleep(0.01)
    finally:
        proc.kill()
        finish(proc, 30)
    served.emu.faults.clear()
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert_each_source_once(served, sources)
