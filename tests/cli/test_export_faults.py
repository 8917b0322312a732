"""``openai-messages export`` under faults beyond a kill: failed fsyncs and writes, a full
disk, a mistaken ``-o``, a lost or stale state, lines edited by hand, huge states.

The command runs in-process against the emulator (over loopback); faults are injected by
wrapping ``os.write`` / ``os.fsync`` for the output's file (tests/fault_files.py), or by a
file-size limit in a subprocess.
"""

from __future__ import annotations

import errno
import functools
import os
import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from openai_messages.cli import export as export_module
from openai_messages.cli.export import STATE_SUFFIX, ResumableFile, encode_page

from ..cli_support import (
    ServedEmulator,
    assert_exact_export,
    env_for_subprocess,
    export_args,
    exported,
    invoke,
)
from ..fault_files import fail, is_file, written_bytes
from ..support import message, read_state


def seeded(served: ServedEmulator, threads: int, messages: int) -> list[str]:
    return served.call(lambda: served.emu.store.seed(threads, messages))


def small_pages(served: ServedEmulator, out: Path, ids: list[str]) -> list[str]:
    return [*export_args(served, out, *ids), "--page-size", "10", "--concurrency", "1"]


# -- item 1: nothing claimed after a failed fsync; resume checks what the state claims ------


def test_no_checkpoint_after_a_failed_fsync(
    served: ServedEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seeded(served, 3, 50)
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(export_module, "CHECKPOINT_INTERVAL", 0.0)  # one per page
    synced: list[int] = []
    real_fsync = os.fsync

    def lose_unsynced(fd: int) -> None:  # Linux drops the dirty pages, reports EIO once
        kept = synced[-1] if synced else 0
        size = os.fstat(fd).st_size
        os.pwrite(fd, b"\0" * (size - kept), kept)

    def recording(fd: int) -> None:
        real_fsync(fd)
        if os.readlink(f"/proc/self/fd/{fd}") == str(out) and not raised:
            synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", recording)
    raised = fail(monkeypatch, "fsync", is_file(out), errno.EIO, skip=4, before=lose_unsynced)
    result = invoke(*small_pages(served, out, ids))
    monkeypatch.undo()
    assert raised, "the fault never fired"
    state = read_state(str(out) + STATE_SUFFIX)
    assert state["size"] <= synced[-1]  # never a claim on bytes that may be lost
    assert result.exit_code == 74, result.stderr
    assert str(out) in result.stderr
    assert "Usage" not in result.stderr
    resumed = invoke(*small_pages(served, out, ids))
    assert resumed.exit_code == 0, resumed.stderr
    assert_exact_export(out, served, ids)


def test_resume_checks_every_line_the_state_claims(served: ServedEmulator, tmp_path: Path) -> None:
    ids = seeded(served, 2, 20)
    out = tmp_path / "out.jsonl"
    assert invoke(*export_args(served, out, *ids)).exit_code == 0
    lines = out.read_bytes().split(b"\n")
    lines[3] = b"\0" * len(lines[3])  # a block lost inside the committed part
    out.write_bytes(b"\n".join(lines))
    before = out.read_bytes()
    result = invoke(*export_args(served, out, *ids))
    assert result.exit_code == 2, result.stderr
    assert f"{out}:4" in result.stderr
    assert out.read_bytes() == before


# -- item 2: a mistaken -o is never changed ----------------------------------------------------


def not_exports(tmp_path: Path) -> dict[str, bytes]:
    legacy_import_state = orjson.dumps(
        {"format": "openai-messages-import/1", "nonce": "n", "threads": {}},
        option=orjson.OPT_INDENT_2,
    )
    return {
        "notes.txt": b"first line\nsecond line\nno newline at the end",
        "bin.dat": random.Random(1).randbytes(17_584),
        "x.jsonl.import-state.json": legacy_import_state,
        "y.jsonl.state.json": b'{"journal":1,"format":"openai-messages-export/2"}\n{"size":0}\n',
        "ids.txt": b"thread_a\nthread_b\n",
    }


@pytest.mark.parametrize("name", sorted(not_exports(Path())))
def test_a_mistaken_output_is_not_changed(
    served: ServedEmulator, tmp_path: Path, name: str
) -> None:
    ids = seeded(served, 1, 5)
    path = tmp_path / name
    content = not_exports(tmp_path)[name]
    path.write_bytes(content)
    result = invoke(*export_args(served, path, *ids))
    assert path.read_bytes() == content
    assert result.exit_code == 2, result.stderr
    assert "nothing was changed" in " ".join(result.stderr.split())
    assert not Path(str(path) + STATE_SUFFIX).exists()
    assert len(served.emu.log.filter("list")) == 0


# -- item 4: a lost state, another order -------------------------------------------------------


def test_a_lost_state_and_another_order_repeat_nothing(
    served: ServedEmulator, tmp_path: Path
) -> None:
    ids = seeded(served, 2, 50)
    out = tmp_path / "out.jsonl"
    partial = [
        orjson.dumps(m)
        for t in ids
        for m in served.call(functools.partial(served.emu.store.messages, t))[:30]
    ]
    out.write_bytes(b"".join(line + b"\n" for line in partial))  # an asc export, its state lost
    result = invoke(*export_args(served, out, *ids), "--order", "desc")
    items = exported(out)
    assert len(items) == 100
    assert result.exit_code == 0, result.stderr
    assert "missing" in result.stderr
    served.call(served.emu.log.clear)
    again = invoke(*export_args(served, out, *ids), "--order", "desc")
    assert again.exit_code == 0, again.stderr
    assert len(served.emu.log) == 0  # done now: nothing is walked a third time
    for thread_id in ids:
        stored = served.call(functools.partial(served.emu.store.messages, thread_id))
        assert sorted(m["id"] for m in items if m["thread_id"] == thread_id) == sorted(
            m["id"] for m in stored
        )


def test_a_damaged_state_is_refused_with_advice_and_nothing_changed(
    served: ServedEmulator, tmp_path: Path
) -> None:
    ids = seeded(served, 2, 20)
    out = tmp_path / "out.jsonl"
    assert invoke(*export_args(served, out, *ids)).exit_code == 0
    with out.open("ab") as fh:
        fh.write(b'{"id": "msg_torn"')  # an uncommitted tail: not cut while refused
    state = Path(str(out) + STATE_SUFFIX)
    lines = state.read_bytes().split(b"\n")
    state.write_bytes(b"\n".join([lines[0], b"garbage", *lines[1:]]))
    before = out.read_bytes(), state.read_bytes()
    result = invoke(*export_args(served, out, *ids))
    assert (out.read_bytes(), state.read_bytes()) == before
    assert result.exit_code == 2, result.stderr
    assert "move it aside" in " ".join(result.stderr.split())
    state.rename(tmp_path / "damaged")  # as the error says
    served.call(served.emu.log.clear)
    resumed = invoke(*export_args(served, out, *ids))
    assert resumed.exit_code == 0, resumed.stderr
    assert_exact_export(out, served, ids)


# -- item 5: a line deleted by hand -------------------------------------------------------------


def test_a_line_deleted_by_hand_is_walked_again(served: ServedEmulator, tmp_path: Path) -> None:
    ids = seeded(served, 3, 40)
    out = tmp_path / "out.jsonl"
    assert invoke(*export_args(served, out, *ids)).exit_code == 0
    lines = out.read_bytes().splitlines(keepends=True)
    gone = orjson.loads(lines.pop(57))
    out.write_bytes(b"".join(lines))
    served.call(served.emu.log.clear)
    result = invoke(*export_args(served, out, *ids))
    items = exported(out)
    assert len(items) == 120
    assert sum(1 for m in items if m["id"] == gone["id"]) == 1
    assert result.exit_code == 0, result.stderr
    assert f"thread {gone['thread_id']}" in result.stderr
    walked = {r.path.split("/")[-2] for r in served.emu.log.filter("list")}
    assert walked == {gone["thread_id"]}  # only that thread is read again


# -- item 6: a checkpoint costs what changed --------------------------------------------------


def test_a_checkpoint_writes_what_changed_not_the_whole_state(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = ResumableFile.open(str(path), "asc")
    try:
        for n in range(10_000):
            sink.write_page(f"thread_{n:05d}", [message(n, f"thread_{n:05d}")])
            sink.finish(f"thread_{n:05d}")
        sink.checkpoint()
        page = encode_page([message(1, "thread_more")])
        before = written_bytes()
        sink.write_page("thread_more", [message(1, "thread_more")])
        sink.checkpoint()
        cost = written_bytes() - before - len(page)
    finally:
        sink.close()
    assert 0 < cost < 1_000, cost  # one record, not 10,000 threads' worth


# -- item 7: the state is written at open --------------------------------------------------------


def test_the_state_is_written_at_open(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = ResumableFile.open(str(path), "asc")
    try:
        assert read_state(str(path) + STATE_SUFFIX)["size"] == 0
    finally:
        sink.close()


def test_an_unwritable_state_fails_before_any_request(
    served: ServedEmulator, tmp_path: Path
) -> None:
    ids = seeded(served, 2, 30)
    out = tmp_path / "out.jsonl"
    state = Path(str(out) + STATE_SUFFIX)
    state.mkdir()  # the state cannot be written there (as in a folder one cannot write)
    result = invoke(*export_args(served, out, *ids))
    assert result.exit_code == 74, result.stderr
    assert str(state) in result.stderr
    assert "Usage" not in result.stderr
    assert len(served.emu.log.filter("list")) == 0


# -- item 8: I/O errors exit 74 and name the path; non-regular outputs ------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO, errno.EROFS])
def test_a_failed_write_exits_74_and_resumes(
    served: ServedEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    ids = seeded(served, 3, 50)
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(export_module, "CHECKPOINT_INTERVAL", 0.0)
    raised = fail(monkeypatch, "write", is_file(out), code, skip=6, times=None)
    result = invoke(*small_pages(served, out, ids))
    monkeypatch.undo()
    assert raised
    assert result.exit_code == 74, result.stderr
    assert f"cannot write {out}: {os.strerror(code)}" in " ".join(result.stderr.split())
    assert "Usage" not in result.stderr
    resumed = invoke(*small_pages(served, out, ids))
    assert resumed.exit_code == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    assert_exact_export(out, served, ids)


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE")
def test_a_file_size_limit_exits_74_and_resumes(served: ServedEmulator, tmp_path: Path) -> None:
    ids = seeded(served, 3, 200)
    out = tmp_path / "out.jsonl"
    args = small_pages(served, out, ids)

    limited = (  # the command under a file-size limit (writes past it fail with EFBIG)
        "import resource, runpy, sys; "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000)); "
        "sys.argv[0] = 'openai-messages'; "
        "runpy.run_module('openai_messages', run_name='__main__')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", limited, *args],
        env=env_for_subprocess(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 74, stderr
    assert f"cannot write {out}" in stderr
    assert "Traceback" not in stderr
    resumed = invoke(*args)
    assert resumed.exit_code == 0, resumed.stderr
    assert_exact_export(out, served, ids)


def test_dev_null_is_written_as_a_stream(served: ServedEmulator) -> None:
    ids = seeded(served, 2, 30)
    result = invoke(*export_args(served, "/dev/null", *ids))
    assert result.exit_code == 0, result.stderr
    assert "not resumable" in result.stderr
    assert len(served.emu.log.filter("list")) == 2


def test_dev_stdout_as_a_pipe_is_written_as_a_stream(served: ServedEmulator) -> None:
    ids = seeded(served, 2, 30)
    proc = subprocess.run(
        [sys.executable, "-m", "openai_messages", *export_args(served, "/dev/stdout", *ids)],
        env=env_for_subprocess(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(proc.stdout.splitlines()) == 60
    assert b"not resumable" in proc.stderr


# -- item 9: stale temporary files of the state are swept ------------------------------------


def test_stale_state_temporaries_are_swept(served: ServedEmulator, tmp_path: Path) -> None:
    ids = seeded(served, 1, 5)
    out = tmp_path / "out.jsonl"
    stale = Path(f"{out}{STATE_SUFFIX}.tmp4242")
    stale.write_bytes(b'{"format": ')
    result = invoke(*export_args(served, out, *ids))
    assert result.exit_code == 0, result.stderr
    assert not stale.exists()
