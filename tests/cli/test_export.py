"""The resumable JSON Lines writer and the export loop (openai_messages.cli.export)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

import openai_messages as om
from openai_messages._codec import converter
from openai_messages.cli.export import (
    STATE_SUFFIX,
    ExportStats,
    ResumableFile,
    ResumeError,
    encode_page,
    export_threads,
)
from openai_messages.emulator import Emulator

from ..support import message, payload, read_state


def lines_of(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the file ends with a partial line"
    return [orjson.loads(line) for line in data.splitlines()]


def state_of(path: Path) -> dict[str, Any]:
    return read_state(str(path) + STATE_SUFFIX)


# -- the writer ------------------------------------------------------------------------------


def test_encode_page_is_lossless() -> None:
    odd = [
        payload(1, future_field={"nested": [1, 2]}),
        payload(2, content=[{"type": "hologram", "hologram": {"x": 1}}]),
        {"id": "msg_v1", "object": "thread.message", "file_ids": ["file_1"]},
    ]
    messages = [converter.structure(p, om.Message) for p in odd]
    data = encode_page(messages)
    assert data.endswith(b"\n")
    assert [orjson.loads(line) for line in data.splitlines()] == odd


def test_pages_are_committed_on_close(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = ResumableFile.open(str(path), "asc")
    sink.write_page("thread_a", [message(1), message(2)])
    sink.finish("thread_a")
    sink.write_page("thread_b", [message(3, "thread_b")])
    sink.close()
    assert [m["id"] for m in lines_of(path)] == ["msg_0001", "msg_0002", "msg_0003"]
    state = state_of(path)
    assert state["size"] == path.stat().st_size
    assert state["order"] == "asc"
    assert state["threads"]["thread_a"] == {"last_id": "msg_0002", "count": 2, "done": True}
    assert state["threads"]["thread_b"] == {"last_id": "msg_0003", "count": 1, "done": False}


def test_resume_cuts_what_was_not_committed(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = ResumableFile.open(str(path), "asc")
    sink.write_page("thread_a", [message(1), message(2)])
    sink.close()
    committed = path.read_bytes()
    with open(path, "ab") as fh:  # a page written after the last checkpoint, then a crash
        fh.write(encode_page([message(3), message(4)]) + b'{"id": "msg_0005", "obj')
    resumed = ResumableFile.open(str(path), "asc")
    try:
        assert path.read_bytes() == committed
        assert resumed.state("thread_a").last_id == "msg_0002"
        assert not resumed.state("thread_a").done
        resumed.write_page("thread_a", [message(3)])
    finally:
        resumed.close()
    assert [m["id"] for m in lines_of(path)] == ["msg_0001", "msg_0002", "msg_0003"]


def test_resume_without_state_reads_the_lines(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    page = encode_page([message(1), message(2, "thread_b"), message(3)])
    path.write_bytes(page + b'{"id": "msg_0004", "thread_')
    sink = ResumableFile.open(str(path), "desc")
    try:
        assert path.read_bytes() == page
        # no state: each thread is walked again from its start, writing only what is missing
        assert sink.state("thread_a").rewalk
        assert sink.state("thread_a").count == 2
        assert sink.state("thread_a").skip == {"msg_0001", "msg_0003"}
        assert sink.state("thread_b").skip == {"msg_0002"}
        assert not sink.state("thread_b").done
        sink.write_page("thread_a", [message(1), message(3), message(5)])
    finally:
        sink.close()
    assert [m["id"] for m in lines_of(path)] == ["msg_0001", "msg_0002", "msg_0003", "msg_0005"]
    assert state_of(path)["threads"]["thread_a"]["count"] == 3


def test_state_claiming_more_than_the_file_falls_back_to_the_lines(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = ResumableFile.open(str(path), "asc")
    sink.write_page("thread_a", [message(1), message(2)])
    sink.finish("thread_a")
    sink.close()
    path.write_bytes(encode_page([message(1)]))  # the file was cut behind our back
    resumed = ResumableFile.open(str(path), "asc")
    try:
        assert resumed.state("thread_a").skip == {"msg_0001"}
        assert not resumed.state("thread_a").done
        assert "holds 1 of the 2 lines" in " ".join(resumed.notes)
    finally:
        resumed.close()


def test_lines_without_thread_id_cannot_be_resumed(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id": "msg_1"}\n')
    with pytest.raises(ResumeError, match="thread_id"):
        ResumableFile.open(str(path), "asc")
    path.write_bytes(b"not json\n")
    with pytest.raises(ResumeError, match="not JSON"):
        ResumableFile.open(str(path), "asc")


def test_resuming_with_another_order_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = ResumableFile.open(str(path), "asc")
    sink.write_page("thread_a", [message(1)])
    sink.close()
    with pytest.raises(ResumeError, match="--order asc"):
        ResumableFile.open(str(path), "desc")


def test_two_writers_cannot_share_a_file(tmp_path: Path) -> None:
    path = str(tmp_path / "out.jsonl")
    first = ResumableFile.open(path, "asc")
    try:
        with pytest.raises(ResumeError, match="another export"):
            ResumableFile.open(path, "asc")
    finally:
        first.close()
    ResumableFile.open(path, "asc").close()  # free again


# -- the export loop against the emulator ----------------------------------------------------


def _structured(emu: Emulator, thread_id: str) -> list[om.Message]:
    return [converter.structure(m, om.Message) for m in emu.store.messages(thread_id)]


async def test_export_resumes_partial_threads_and_skips_done_ones(
    emu: Emulator, client: om.Client, tmp_path: Path
) -> None:
    done, partial, fresh = emu.store.seed(3, 250)
    path = tmp_path / "out.jsonl"
    sink = ResumableFile.open(str(path), "asc")
    sink.write_page(done, _structured(emu, done))
    sink.finish(done)
    sink.write_page(partial, _structured(emu, partial)[:120])
    sink.close()  # an earlier run stopped here

    sink = ResumableFile.open(str(path), "asc")
    stats = ExportStats()
    try:
        failures = await export_threads(
            client, [done, partial, fresh], sink, stats, concurrency=2, page_size=100
        )
    finally:
        sink.close()

    assert failures == []
    exported = lines_of(path)
    for thread_id in (done, partial, fresh):
        assert [m for m in exported if m["thread_id"] == thread_id] == emu.store.messages(thread_id)
    requests = emu.log.filter("list")
    assert not [r for r in requests if done in r.path]
    resumed = [r for r in requests if partial in r.path]
    assert resumed[0].query.get("after") == emu.store.messages(partial)[119]["id"]
    assert (stats.threads_skipped, stats.threads_done, stats.messages) == (1, 2, 130 + 250)
    assert all(entry["done"] for entry in state_of(path)["threads"].values())


async def test_a_failing_thread_is_reported_and_left_open(
    emu: Emulator, client: om.Client, tmp_path: Path
) -> None:
    (good,) = emu.store.seed(1, 30)
    path = tmp_path / "out.jsonl"
    sink = ResumableFile.open(str(path), "asc")
    try:
        failures = await export_threads(client, ["thread_nope", good], sink, ExportStats())
    finally:
        sink.close()
    assert [f.thread_id for f in failures] == ["thread_nope"]
    error = failures[0].error
    assert isinstance(error, om.NotFoundError)
    assert error.request_id is not None
    assert error.request_id == emu.log.filter("list", status=404)[0].request_id
    assert len(lines_of(path)) == 30
    threads = state_of(path)["threads"]
    assert threads[good]["done"]
    assert "thread_nope" not in threads or not threads["thread_nope"]["done"]


def test_an_empty_export_still_leaves_a_state(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    ResumableFile.open(str(path), "asc").close()
    assert path.read_bytes() == b""
    assert os.path.exists(str(path) + STATE_SUFFIX)
    assert state_of(path)["size"] == 0
