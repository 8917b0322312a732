"""The append-only journal (openai_messages.cli.journal), on real files with injected faults."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from openai_messages.cli import journal as journal_module
from openai_messages.cli.journal import (
    Journal,
    JournalDamagedError,
    ResumeError,
    load,
    lock,
    sweep_temporaries,
)


def failing(
    real: Callable[..., Any], errno_: int = errno.EIO, times: int = 1
) -> Callable[..., Any]:
    """``real``, raising OSError(errno_) on its first ``times`` calls."""
    left = [times]

    def call(*args: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise OSError(errno_, os.strerror(errno_))
        return real(*args)

    return call


def test_create_writes_the_header_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "state")
    journal = Journal.create(path, {"format": "test/1", "order": "asc"})
    loaded = load(path)  # before any commit: the header is there, durably
    assert loaded is not None
    assert loaded.header == {"format": "test/1", "order": "asc", "journal": 1}
    assert loaded.records == []
    journal.close()


def test_an_unwritable_folder_fails_at_create_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    for folder in (tmp_path / "missing", tmp_path / "file"):
        with pytest.raises(OSError) as caught:
            Journal.create(str(folder / "state"), {"format": "test/1"})
        assert str(caught.value.filename).startswith(str(folder))
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_records_are_committed_in_order_and_read_back(tmp_path: Path) -> None:
    path = str(tmp_path / "state")
    journal = Journal.create(path, {"format": "test/1"})
    journal.add({"n": 1})
    journal.add({"n": 2})
    assert load(path).records == []  # type: ignore[union-attr]  # queued, not committed
    journal.commit()
    journal.add({"n": 3})
    journal.commit()
    journal.close()
    loaded = load(path)
    assert loaded is not None
    assert [r["n"] for r in loaded.records] == [1, 2, 3]
    assert loaded.size == os.path.getsize(path)


@pytest.mark.parametrize("tail", [b'{"n": 4', b"\x00" * 512, b"\x00" * 100 + b"\n"])
def test_a_torn_last_record_is_dropped_and_cut_on_resume(tmp_path: Path, tail: bytes) -> None:
    path = str(tmp_path / "state")
    journal = Journal.create(path, {"format": "test/1"})
    journal.add({"n": 1})
    journal.commit()
    journal.close()
    whole = os.path.getsize(path)
    with open(path, "ab") as fh:
        fh.write(tail)
    loaded = load(path)
    assert loaded is not None
    assert [r["n"] for r in loaded.records] == [1]
    assert (loaded.size, loaded.torn) == (whole, len(tail))
    resumed = Journal.resume(path, loaded)
    assert os.path.getsize(path) == whole
    resumed.add({"n": 2})
    resumed.commit()
    resumed.close()
    assert [r["n"] for r in load(path).records] == [1, 2]  # type: ignore[union-attr]


def test_a_damaged_record_before_the_last_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_bytes(b'{"journal": 1}\n{"n": 1}\nnot json\n{"n": 3}\n')
    with pytest.raises(JournalDamagedError, match=r"state:3 is not a JSON record"):
        load(str(path))
    path.write_bytes(b'{"format": "x"}\n')
    with pytest.raises(JournalDamagedError, match="is not a journal"):
        load(str(path))
    path.write_bytes(b"")
    with pytest.raises(JournalDamagedError, match="has no header"):
        load(str(path))


def test_a_single_json_object_is_read_as_a_legacy_state(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_bytes(orjson.dumps({"format": "old/1", "size": 3}, option=orjson.OPT_INDENT_2))
    loaded = load(str(path))
    assert loaded is not None
    assert loaded.legacy
    assert loaded.header == {"format": "old/1", "size": 3}
    journal = Journal.resume(str(path), loaded)  # rewritten as a journal of its header
    journal.compact([{"size": 3}])
    journal.close()
    again = load(str(path))
    assert again is not None
    assert not again.legacy
    assert again.records == [{"size": 3}]


@pytest.mark.parametrize("fault", ["write", "fsync"])
def test_a_failed_write_or_fsync_poisons_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    path = str(tmp_path / "state")
    journal = Journal.create(path, {"format": "test/1"})
    journal.add({"n": 1})
    journal.commit()
    committed = os.path.getsize(path)
    monkeypatch.setattr(os, fault, failing(getattr(os, fault)))
    journal.add({"n": 2})
    with pytest.raises(OSError) as first:
        journal.commit()
    assert first.value.filename == path
    # the next fsync would succeed (Linux reports a writeback error once): never again
    journal.add({"n": 3})
    with pytest.raises(OSError) as again:
        journal.commit()
    assert again.value is first.value
    with pytest.raises(OSError):
        journal.compact([{"n": 9}])
    journal.close()
    monkeypatch.undo()
    loaded = load(path)
    assert loaded is not None
    if fault == "write":
        assert os.path.getsize(path) == committed
    assert 3 not in [r["n"] for r in loaded.records]
    assert 9 not in [r["n"] for r in loaded.records]


def test_compaction_replaces_the_records_by_a_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "COMPACT_AFTER", 200)
    path = str(tmp_path / "state")
    journal = Journal.create(path, {"format": "test/1"})
    total = 0
    for n in range(100):
        journal.add({"n": n})
        journal.commit()
        total += n
        if journal.wants_compaction:
            journal.compact([{"total": total, "upto": n}])
    journal.close()
    loaded = load(path)
    assert loaded is not None
    assert loaded.header["format"] == "test/1"
    first = loaded.records[0]
    assert "total" in first  # compacted at least once, then appended
    rest = loaded.records[1:]
    assert first["total"] + sum(r["n"] for r in rest) == total
    assert os.path.getsize(path) < 700  # bounded by the snapshot, not by 100 records
    assert [p for p in os.listdir(tmp_path) if ".tmp" in p] == []


def test_a_failed_compaction_poisons_and_leaves_the_journal_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "state")
    journal = Journal.create(path, {"format": "test/1"})
    journal.add({"n": 1})
    journal.commit()
    monkeypatch.setattr(os, "replace", failing(os.replace, errno.ENOSPC))
    with pytest.raises(OSError, match="No space"):
        journal.compact([{"n": 1}])
    assert journal.poisoned is not None
    journal.close()
    assert [r["n"] for r in load(path).records] == [1]  # type: ignore[union-attr]
    assert [p for p in os.listdir(tmp_path) if ".tmp" in p] == []


def test_stale_temporary_files_are_swept(tmp_path: Path) -> None:
    path = str(tmp_path / "state")
    for name in ("state.tmp123", "state.tmp99999999", "state.tmpx", "other.tmp1"):
        (tmp_path / name).write_bytes(b"{")
    journal = Journal.create(path, {"format": "test/1"})
    journal.close()
    assert sorted(os.listdir(tmp_path)) == ["other.tmp1", "state", "state.tmpx"]
    assert sweep_temporaries(path) == []


def test_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    path = str(tmp_path / "state.lock")
    first = os.open(path, os.O_RDWR | os.O_CREAT)
    second = os.open(path, os.O_RDWR)
    try:
        lock(first, path)
        with pytest.raises(ResumeError, match="in use by another import"):
            lock(second, path, "another import")
    finally:
        os.close(first)
        os.close(second)
