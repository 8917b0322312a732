"""``openai-messages import`` under faults beyond a kill: failed fsyncs and writes, an export
still being written, a lost or damaged state, orphan target threads, huge states.

In-process against the emulator over loopback; faults by wrapping ``os.write`` /
``os.fsync`` for one file (tests/fault_files.py).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from openai_messages.cli import import_journal as journal_module
from openai_messages.cli import importer
from openai_messages.cli.export import ResumableFile
from openai_messages.cli.importer import STATE_SUFFIX, ImportJournal, SourceMessage

from ..cli_support import ServedEmulator, invoke
from ..fault_files import fail, fsynced_paths, is_file, written_bytes
from ..import_support import (
    assert_imported,
    creates,
    import_args,
    map_lines,
    seed_targets,
    target_view,
    write_export,
)
from ..support import message, read_state

# -- item 1: nothing claimed after a failed fsync ----------------------------------------------


def test_no_checkpoint_after_a_failed_map_fsync(
    served: ServedEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 30, "thread_b": 30})
    targets = seed_targets(served, list(sources))
    map_path = tmp_path / "map.jsonl"
    args = import_args(served, export, targets, "--map", str(map_path), "--concurrency", "1")
    monkeypatch.setattr(journal_module, "CHECKPOINT_INTERVAL", 0.0)
    synced: list[int] = []
    real_fsync = os.fsync

    def recording(fd: int) -> None:
        real_fsync(fd)
        if os.readlink(f"/proc/self/fd/{fd}") == str(map_path) and not raised:
            synced.append(os.fstat(fd).st_size)

    def lose_unsynced(fd: int) -> None:
        kept = synced[-1] if synced else 0
        os.ftruncate(fd, kept)  # what was not synced is gone

    monkeypatch.setattr(os, "fsync", recording)
    raised = fail(monkeypatch, "fsync", is_file(map_path), skip=10, before=lose_unsynced)
    result = invoke(*args)
    monkeypatch.undo()
    assert raised, "the fault never fired"
    state = read_state(str(export) + STATE_SUFFIX)
    assert state["map_size"] <= synced[-1]
    assert result.exit_code == 74, result.stderr
    assert str(map_path) in result.stderr
    resumed = invoke(*args)
    assert resumed.exit_code == 0, resumed.stderr
    assert_imported(served, sources, targets, map_path)


def test_resume_checks_the_map_the_state_claims(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 10, "thread_b": 10})
    targets = seed_targets(served, list(sources))
    map_path = tmp_path / "map.jsonl"
    args = import_args(served, export, targets, "--map", str(map_path))
    assert invoke(*args).exit_code == 0
    lines = map_path.read_bytes().split(b"\n")
    lines[4] = b"\0" * len(lines[4])  # a block of the map lost
    map_path.write_bytes(b"\n".join(lines))
    before = map_path.read_bytes()
    result = invoke(*args)
    assert map_path.read_bytes() == before
    assert result.exit_code == 2, result.stderr
    assert f"{map_path}:5" in result.stderr


# -- item 3: an export still being written, or unfinished -------------------------------------


def test_an_export_being_written_or_unfinished_is_refused(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sink = ResumableFile.open(str(export), "asc")
    sink.write_page("thread_a", [message(n, "thread_a") for n in range(5)])
    sink.finish("thread_a")
    sink.write_page("thread_b", [message(n, "thread_b") for n in range(10, 14)])
    sink.checkpoint()
    try:
        running = invoke(*import_args(served, export, {}))
    finally:
        sink.close()
    assert creates(served) == 0
    assert running.exit_code == 2, running.stderr
    assert "still running" in running.stderr
    unfinished = invoke(*import_args(served, export, {}))
    assert creates(served) == 0
    assert unfinished.exit_code == 2, unfinished.stderr
    assert "1 of 2 threads complete" in " ".join(unfinished.stderr.split())
    sink = ResumableFile.open(str(export), "asc")  # the export is run to its end
    sink.write_page("thread_b", [message(n, "thread_b") for n in range(14, 16)])
    sink.finish("thread_b")
    sink.close()
    done = invoke(*import_args(served, export, {}))
    assert done.exit_code == 0, done.stderr
    assert creates(served) == 11


def test_an_unfinished_export_imports_what_is_complete_with_complete_only(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sink = ResumableFile.open(str(export), "asc")
    sink.write_page("thread_a", [message(n, "thread_a") for n in range(5)])
    sink.finish("thread_a")
    sink.write_page("thread_b", [message(n, "thread_b") for n in range(10, 14)])
    sink.close()
    with export.open("ab") as fh:
        fh.write(b'{"id": "msg_torn", "thr')  # a killed export's last line
    refused = invoke(*import_args(served, export, {}))
    assert refused.exit_code == 2
    assert "--complete-only" in refused.stderr
    partial = invoke(*import_args(served, export, {}), "--complete-only")
    assert partial.exit_code == 0, partial.stderr
    assert "importing the 1 of 2 threads" in " ".join(partial.stderr.split())
    assert creates(served) == 5
    sink = ResumableFile.open(str(export), "asc")  # the export finishes
    sink.write_page("thread_b", [message(n, "thread_b") for n in range(14, 16)])
    sink.finish("thread_b")
    sink.close()
    served.call(served.emu.log.clear)
    rest = invoke(*import_args(served, export, {}))
    assert rest.exit_code == 0, rest.stderr
    assert creates(served) == 6  # thread_b alone, thread_a is not created again


# -- item 4: a lost or damaged state -----------------------------------------------------------


def test_a_lost_state_with_a_thread_map_duplicates_nothing(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 40})
    targets = seed_targets(served, list(sources))
    assert invoke(*import_args(served, export, targets)).exit_code == 0
    os.remove(str(export) + STATE_SUFFIX)
    served.call(served.emu.log.clear)
    result = invoke(*import_args(served, export, targets))
    assert creates(served) == 0
    assert len(target_view(served, targets["thread_a"])) == 40
    assert result.exit_code == 0, result.stderr
    assert "rebuilt" in result.stderr
    assert_imported(served, sources, targets)


def test_a_lost_state_with_a_map_duplicates_nothing(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 12, "thread_b": 7})
    map_path = tmp_path / "map.jsonl"
    assert invoke(*import_args(served, export, {}, "--map", str(map_path))).exit_code == 0
    threads_before = set(served.call(served.emu.store.thread_ids))
    os.remove(str(export) + STATE_SUFFIX)
    served.call(served.emu.log.clear)
    result = invoke(*import_args(served, export, {}, "--map", str(map_path)))
    assert result.exit_code == 0, result.stderr
    assert creates(served) == 0
    assert set(served.call(served.emu.store.thread_ids)) == threads_before
    targets = {line["source_thread_id"]: line["thread_id"] for line in map_lines(map_path)}
    assert_imported(served, sources, targets, map_path)


def test_a_lost_state_with_nothing_to_rebuild_from_is_refused(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    write_export(export, {"thread_a": 5})
    assert invoke(*import_args(served, export, {})).exit_code == 0
    threads_before = set(served.call(served.emu.store.thread_ids))
    os.remove(str(export) + STATE_SUFFIX)
    served.call(served.emu.log.clear)
    result = invoke(*import_args(served, export, {}))
    assert set(served.call(served.emu.store.thread_ids)) == threads_before  # no second copy
    assert creates(served) == 0
    assert result.exit_code == 2, result.stderr
    assert "--map" in result.stderr
    assert ".lock" in result.stderr


def test_an_unwritable_state_folder_fails_at_once_naming_it(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    write_export(export, {"thread_a": 4})
    state = tmp_path / "missing" / "state.json"
    result = invoke(*import_args(served, export, {}), "--state", str(state))
    assert result.exit_code == 74, result.stderr
    assert f"cannot write {state}" in " ".join(result.stderr.split())
    assert "Usage" not in result.stderr
    assert len(served.call(lambda: served.emu.log.filter("create_thread"))) == 0


def test_a_run_that_never_wrote_its_state_leaves_no_trace(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 4})
    failed = invoke(*import_args(served, export, {}, "--map", str(tmp_path / "no" / "map")))
    assert failed.exit_code == 74, failed.stderr
    assert not Path(str(export) + STATE_SUFFIX + ".lock").exists()
    map_path = tmp_path / "map.jsonl"
    result = invoke(*import_args(served, export, {}, "--map", str(map_path)))
    assert result.exit_code == 0, result.stderr
    targets = {line["source_thread_id"]: line["thread_id"] for line in map_lines(map_path)}
    assert_imported(served, sources, targets, map_path)


def test_a_damaged_state_says_what_to_do(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 5})
    targets = seed_targets(served, list(sources))
    map_path = tmp_path / "map.jsonl"
    args = import_args(served, export, targets, "--map", str(map_path))
    assert invoke(*args).exit_code == 0
    state = Path(str(export) + STATE_SUFFIX)
    lines = state.read_bytes().split(b"\n")
    state.write_bytes(b"\n".join([lines[0], b"garbage", *lines[1:]]))
    result = invoke(*args)
    assert result.exit_code == 2, result.stderr
    said = " ".join(result.stderr.split())
    assert "Do not delete it" in said
    assert "move it aside and re-run with the same --map" in said
    state.rename(tmp_path / "damaged.json")  # as the error says
    served.call(served.emu.log.clear)
    again = invoke(*args)
    assert again.exit_code == 0, again.stderr
    assert creates(served) == 0
    assert_imported(served, sources, targets, map_path)


# -- item 6: a checkpoint costs what changed --------------------------------------------------


def test_an_import_checkpoint_writes_what_changed(tmp_path: Path) -> None:
    journal = ImportJournal.open(str(tmp_path / "state"), None, "http://target")
    try:
        for n in range(10_000):
            journal.state(f"thread_{n:05d}").target = f"thread_dst_{n}"
            journal.finish(f"thread_{n:05d}")
        journal.checkpoint()
        before = written_bytes()
        journal.set_target("thread_new", "thread_dst_new")  # committed at once
        source = SourceMessage(1, "msg_1", "thread_new", 1, "user", [], None, None, {})
        journal.record(source, "thread_dst_new", "msg_dst_1")
        journal.checkpoint()
        cost = written_bytes() - before
    finally:
        journal.close()
    assert 0 < cost < 2_000, cost


# -- item 8: I/O errors exit 74 and name the path ------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_failed_map_write_exits_74_naming_the_map(
    served: ServedEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 20, "thread_b": 20})
    targets = seed_targets(served, list(sources))
    map_path = tmp_path / "map.jsonl"
    args = import_args(served, export, targets, "--map", str(map_path))
    raised = fail(monkeypatch, "write", is_file(map_path), code, skip=5, times=None)
    result = invoke(*args)
    monkeypatch.undo()
    assert raised
    assert result.exit_code == 74, result.stderr
    assert f"cannot write {map_path}: {os.strerror(code)}" in " ".join(result.stderr.split())
    assert "None" not in result.stderr
    assert "Usage" not in result.stderr
    resumed = invoke(*args)
    assert resumed.exit_code == 0, resumed.stderr
    assert_imported(served, sources, targets, map_path)


# -- item 9: orphan target threads, stale temporaries, the map's directory ---------------------


def test_a_target_thread_never_recorded_is_reported(
    served: ServedEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "export.jsonl"
    write_export(export, {"thread_a": 3})
    real = importer.create_target_thread

    async def created_then_killed(*args: object, **kwargs: object) -> str:
        await real(*args, **kwargs)  # type: ignore[arg-type]
        raise KeyboardInterrupt  # the run ends before the thread's id is recorded

    monkeypatch.setattr(importer, "create_target_thread", created_then_killed)
    first = invoke(*import_args(served, export, {}))
    monkeypatch.undo()
    assert first.exit_code == 130, first.stderr
    second = invoke(*import_args(served, export, {}))
    assert second.exit_code == 0, second.stderr
    said = " ".join(second.stderr.split())
    assert "source thread thread_a" in said
    assert "may be an orphan" in said


def test_stale_state_temporaries_are_swept(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 3})
    targets = seed_targets(served, list(sources))
    stale = Path(f"{export}{STATE_SUFFIX}.tmp4242")
    stale.write_bytes(b"{")
    assert invoke(*import_args(served, export, targets)).exit_code == 0
    assert not stale.exists()


def test_the_directory_of_a_new_map_elsewhere_is_synced(
    served: ServedEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 3})
    targets = seed_targets(served, list(sources))
    maps = tmp_path / "maps"
    maps.mkdir()
    synced = fsynced_paths(monkeypatch)
    result = invoke(*import_args(served, export, targets, "--map", str(maps / "map.jsonl")))
    monkeypatch.undo()
    assert result.exit_code == 0, result.stderr
    assert str(maps) in synced
