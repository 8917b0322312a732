"""``openai-messages import``: what it creates, its bad-input cases and its resume window,
in-process (click's CliRunner) against the emulator over loopback."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from openai_messages.cli.importer import (
    IDEMPOTENCY_METADATA_KEY,
    STATE_SUFFIX,
    ImportInputError,
    ImportJournal,
    read_export,
)
from openai_messages.emulator import Fault

from ..cli_support import ServedEmulator, invoke
from ..import_support import (
    assert_imported,
    creates,
    exported_message,
    import_args,
    map_lines,
    seed_targets,
    source_of,
    target_view,
    write_export,
)
from ..support import read_state, write_state

# -- what is created -------------------------------------------------------------------------


def test_import_copies_each_thread_in_order(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 40, "thread_b": 25, "thread_c": 1})
    targets = seed_targets(served, list(sources))
    map_path = tmp_path / "map.jsonl"

    result = invoke(*import_args(served, export, targets, "--map", str(map_path)))
    assert result.exit_code == 0, result.stderr
    assert "imported 3 threads" in result.stderr
    assert "import: 3/3 threads, 66 msgs" in result.stderr  # the export's log progress
    assert_imported(served, sources, targets, map_path)
    assert creates(served) == 66

    served.call(served.emu.log.clear)
    again = invoke(*import_args(served, export, targets, "--map", str(map_path)))
    assert again.exit_code == 0, again.stderr
    assert "resuming" in again.stderr
    assert len(served.call(lambda: list(served.emu.log))) == 0  # complete: nothing is sent
    assert_imported(served, sources, targets, map_path)


def test_content_is_sent_in_the_create_shape(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    parts = [
        {"type": "text", "text": {"value": "see", "annotations": [{"type": "file_citation"}]}},
        {"type": "image_file", "image_file": {"file_id": "file_img", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "refusal", "refusal": "no"},
    ]
    attachments = [{"file_id": "file_doc", "tools": [{"type": "file_search"}]}]
    line = exported_message(
        "thread_a", 0, 1_700_000_000, content=parts, attachments=attachments,
        run_id="run_1", assistant_id="asst_1", metadata={"k": "v"},
    )  # fmt: skip
    export.write_bytes(orjson.dumps(line) + b"\n")
    targets = seed_targets(served, ["thread_a"])
    result = invoke(*import_args(served, export, targets))
    assert result.exit_code == 0, result.stderr
    (stored,) = served.call(lambda: served.emu.store.messages("thread_dst_0"))
    assert stored["content"] == [
        {"type": "text", "text": {"value": "see", "annotations": []}},
        {"type": "image_file", "image_file": {"file_id": "file_img", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "text", "text": {"value": "no", "annotations": []}},
    ]
    assert stored["attachments"] == attachments
    assert stored["run_id"] is None
    assert stored["assistant_id"] is None
    assert stored["metadata"]["k"] == "v"
    assert stored["metadata"][IDEMPOTENCY_METADATA_KEY].startswith("om-import-")


def test_v1_export_into_v1_target_keeps_file_ids(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    line = exported_message("thread_a", 0, 1_700_000_000, file_ids=["file_1"])
    del line["attachments"]
    export.write_bytes(orjson.dumps(line) + b"\n")
    targets = seed_targets(served, ["thread_a"])
    refused = invoke(*import_args(served, export, targets))
    assert refused.exit_code == 2
    assert "line 1" in refused.stderr
    assert "--api-version v1" in refused.stderr
    result = invoke(*import_args(served, export, targets, "--api-version", "v1"))
    assert result.exit_code == 0, result.stderr
    (stored,) = served.call(lambda: served.emu.store.messages("thread_dst_0"))
    (record,) = served.call(lambda: served.emu.store.thread("thread_dst_0").records)  # type: ignore[union-attr]
    assert record.file_ids == ["file_1"]
    assert stored["content"][0]["text"]["value"] == "thread_a message 0"


def test_import_creates_the_target_threads(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 5, "thread_b": 3})
    map_path = tmp_path / "map.jsonl"
    result = invoke(*import_args(served, export, {}, "--map", str(map_path)))
    assert result.exit_code == 0, result.stderr
    lines = map_lines(map_path)
    targets = {line["source_thread_id"]: line["thread_id"] for line in lines}
    assert set(targets) == set(sources)
    assert len(set(targets.values())) == 2
    assert_imported(served, sources, targets, map_path)


def test_an_interrupted_thread_create_is_not_created_twice(
    served: ServedEmulator, tmp_path: Path
) -> None:
    # the first thread create is stored, then its reply is lost: the run cannot tell, stops
    # that thread; the next run sends the same key, and the server returns the same thread
    served.call(
        lambda: served.emu.faults.add(Fault.commit_then_drop(), route="create_thread", nth=1)
    )
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 3})
    before = set(served.call(served.emu.store.thread_ids))
    map_path = tmp_path / "map.jsonl"
    first = invoke(*import_args(served, export, {}, "--map", str(map_path)))
    assert first.exit_code == 1, first.stderr
    second = invoke(*import_args(served, export, {}, "--map", str(map_path)))
    assert second.exit_code == 0, second.stderr
    created = set(served.call(served.emu.store.thread_ids)) - before
    assert len(created) == 1
    targets = {line["source_thread_id"]: line["thread_id"] for line in map_lines(map_path)}
    assert set(targets.values()) == created
    assert_imported(served, sources, targets, map_path)


# -- the window between a create and the commit ------------------------------------------------


def rewind(tmp_path: Path, export: Path, map_path: Path, keep: int) -> None:
    """Make the committed state claim only the first ``keep`` messages of each thread, as
    after a kill between creates and their commit (the messages exist on the target)."""
    state_path = Path(str(export) + STATE_SUFFIX)
    state = read_state(state_path)
    kept: list[bytes] = []
    for src, entry in state["threads"].items():
        lines = [line for line in map_lines(map_path) if line["source_thread_id"] == src][:keep]
        last = lines[-1] if lines else {"id": None, "source_id": None}
        entry.update(count=len(lines), last_id=last["id"], source_id=last["source_id"], done=False)
        kept.extend(orjson.dumps(line) + b"\n" for line in lines)
    map_path.write_bytes(b"".join(kept) + b'{"partial": ')
    state["map_size"] = len(b"".join(kept))
    write_state(state_path, state)


@pytest.mark.parametrize("keep", [0, 7])
def test_messages_created_after_the_last_commit_are_found_not_sent_again(
    served: ServedEmulator, tmp_path: Path, keep: int
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 20, "thread_b": 12})
    targets = seed_targets(served, list(sources))
    map_path = tmp_path / "map.jsonl"
    assert invoke(*import_args(served, export, targets, "--map", str(map_path))).exit_code == 0
    rewind(tmp_path, export, map_path, keep)
    served.call(served.emu.log.clear)

    result = invoke(*import_args(served, export, targets, "--map", str(map_path)))
    assert result.exit_code == 0, result.stderr
    assert creates(served) == 0  # found by their key in metadata, not re-sent
    assert f"({32 - 2 * keep} found already created)" in result.stderr
    assert_imported(served, sources, targets, map_path)


def test_a_message_without_room_for_the_key_is_found_by_its_content(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    full = {f"k{i}": str(i) for i in range(16)}
    lines = [
        exported_message("thread_a", n, 1_700_000_000 + n, metadata={**full, "k0": str(n)})
        for n in range(6)
    ]
    export.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    targets = seed_targets(served, ["thread_a"])
    map_path = tmp_path / "map.jsonl"
    assert invoke(*import_args(served, export, targets, "--map", str(map_path))).exit_code == 0
    stored = served.call(lambda: served.emu.store.messages("thread_dst_0"))
    assert all(IDEMPOTENCY_METADATA_KEY not in m["metadata"] for m in stored)
    rewind(tmp_path, export, map_path, 2)
    served.call(served.emu.log.clear)
    result = invoke(*import_args(served, export, targets, "--map", str(map_path)))
    assert result.exit_code == 0, result.stderr
    assert creates(served) == 0
    assert_imported(served, {"thread_a": lines}, targets, map_path)


def test_a_foreign_message_in_a_mapped_thread_is_left_alone(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 10})
    targets = seed_targets(served, ["thread_a"])
    map_path = tmp_path / "map.jsonl"
    assert invoke(*import_args(served, export, targets, "--map", str(map_path))).exit_code == 0
    rewind(tmp_path, export, map_path, 4)
    served.call(lambda: served.emu.store.add_message("thread_dst_0", "user", "someone else"))
    result = invoke(*import_args(served, export, targets, "--map", str(map_path)))
    assert result.exit_code == 0, result.stderr
    view = target_view(served, "thread_dst_0")
    assert view[-1][1] == ("someone else",)
    assert view[:-1] == [source_of(m) for m in sources["thread_a"]]
    assert len(map_lines(map_path)) == 10


# -- bad input ------------------------------------------------------------------------------


def bad_line(**changes: Any) -> bytes:
    line = exported_message("thread_a", 1, 1_700_000_001)
    for key, value in changes.items():
        if value is KeyError:
            del line[key]
        else:
            line[key] = value
    return orjson.dumps(line)


GOOD = orjson.dumps(exported_message("thread_a", 0, 1_700_000_000))
V1 = orjson.dumps(
    {k: v for k, v in exported_message("thread_b", 0, 1).items() if k != "attachments"}
    | {"file_ids": []}
)

M1 = "line 2 (message msg_thread_a_00001)"
BAD_SECOND_LINES = {
    "not json": (b"{not json", "line 2: not JSON"),
    "not an object": (b"[1, 2]", "line 2: not a JSON object"),
    "no thread_id": (bad_line(thread_id=KeyError), "line 2: the message has no thread_id"),
    "no role": (bad_line(role=KeyError), "line 2: the message has no role"),
    "no content": (bad_line(content=KeyError), "line 2: the message has no content"),
    "no id": (bad_line(id=KeyError), "line 2: the message has no id"),
    "bad role": (bad_line(role="system"), f"{M1}: role"),
    "empty content": (bad_line(content=[]), f"{M1}: content"),
    "unknown part": (
        bad_line(content=[{"type": "hologram"}]),
        f"{M1}, content[0]: content of type 'hologram'",
    ),
    "mixed versions": (V1, "line 2: an API v1 message in a file whose line 1 is API v2"),
    "twice": (GOOD, "line 2: message msg_thread_a_00000 appears twice (line 1 too)"),
    "bad metadata": (bad_line(metadata={"k": 1}), f"{M1}: metadata"),
}


@pytest.mark.parametrize("case", sorted(BAD_SECOND_LINES))
def test_bad_input_names_the_line_and_nothing_is_created(
    served: ServedEmulator, tmp_path: Path, case: str
) -> None:
    second, expected = BAD_SECOND_LINES[case]
    export = tmp_path / "export.jsonl"
    export.write_bytes(GOOD + b"\n" + second + b"\n")
    with pytest.raises(ImportInputError, match=None) as raised:
        read_export(str(export))
    assert expected in str(raised.value)
    targets = {"thread_a": "thread_dst_0"}
    result = invoke(*import_args(served, export, targets))
    assert result.exit_code == 2, result.stderr
    assert expected in " ".join(result.stderr.split())
    assert len(served.call(lambda: list(served.emu.log))) == 0


def test_usage_errors(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    write_export(export, {"thread_a": 2})
    url = ["--base-url", served.emu.url]
    assert invoke("import", str(tmp_path / "missing.jsonl"), *url).exit_code == 2
    assert invoke("import", str(export), "--thread-map", "thread_a", *url).exit_code == 2
    assert invoke("import", str(export), "--thread-map", "thread_a=a/b", *url).exit_code == 2
    unknown = invoke("import", str(export), "--thread-map", "thread_zz=thread_x", *url)
    assert unknown.exit_code == 2
    assert "thread_zz" in unknown.stderr
    no_key = invoke("import", str(export), *url, env={"OPENAI_API_KEY": ""})
    assert no_key.exit_code == 2
    assert len(served.call(lambda: list(served.emu.log))) == 0


def test_resume_into_another_target_or_map_is_refused(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    write_export(export, {"thread_a": 3})
    targets = seed_targets(served, ["thread_a"])
    map_path = tmp_path / "map.jsonl"
    assert invoke(*import_args(served, export, targets, "--map", str(map_path))).exit_code == 0
    other = invoke(
        *import_args(served, export, {"thread_a": "thread_other"}, "--map", str(map_path))
    )
    assert other.exit_code == 2
    assert "thread_dst_0" in other.stderr
    no_map = invoke(*import_args(served, export, targets))
    assert no_map.exit_code == 2
    assert "--map" in no_map.stderr
    shutil.copy(map_path, tmp_path / "copy.jsonl")
    stray = invoke(
        *import_args(served, export, targets, "--map", str(tmp_path / "copy.jsonl")),
        "--state", str(tmp_path / "new-state.json"),
    )  # fmt: skip
    # a map without its state: the state is rebuilt from it, nothing is created again
    served.call(served.emu.log.clear)
    assert stray.exit_code == 0, stray.stderr
    assert "rebuilt" in stray.stderr
    assert creates(served) == 0


# -- server refusals ---------------------------------------------------------------------------


def test_a_refused_message_stops_its_thread_and_exits_1(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 10, "thread_b": 10})
    targets = seed_targets(served, list(sources))
    map_path = tmp_path / "map.jsonl"
    served.call(
        lambda: served.emu.faults.add(Fault.error(400, message="nope"), route="create", nth=5)
    )
    args = import_args(served, export, targets, "--map", str(map_path), "--concurrency", "1")
    result = invoke(*args)
    assert result.exit_code == 1, result.stderr
    first, second = (t.thread_id for t in read_export(str(export)))
    failed = sources[first][4]["id"]
    assert f"message {failed} (line " in " ".join(result.stderr.split())
    assert "BadRequestError" in result.stderr
    assert len(target_view(served, targets[first])) == 4
    assert len(target_view(served, targets[second])) == 10  # the other thread went on

    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert_imported(served, sources, targets, map_path)


def test_a_refused_key_ends_the_import_at_once(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {f"thread_{i}": 3 for i in range(5)})
    targets = seed_targets(served, list(sources))
    result = invoke(*import_args(served, export, targets), env={"OPENAI_API_KEY": "sk-wrong"})
    assert result.exit_code == 1
    assert "refused the API key" in result.stderr
    assert "sk-wrong" not in result.stderr
    assert len(served.call(lambda: served.emu.log.filter("create"))) <= 8  # one per worker


def test_resume_from_a_changed_export_is_refused(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 6})
    targets = seed_targets(served, list(sources))
    assert invoke(*import_args(served, export, targets)).exit_code == 0
    with export.open("ab") as fh:  # one more message at the end of a thread done: imported on
        fh.write(orjson.dumps(exported_message("thread_a", 99, 1_800_000_000)) + b"\n")
    served.call(served.emu.log.clear)
    grown = invoke(*import_args(served, export, targets))
    assert grown.exit_code == 0, grown.stderr
    assert creates(served) == 1
    with export.open("ab") as fh:  # one in the middle of what was imported: refused
        fh.write(orjson.dumps(exported_message("thread_a", 98, 1_700_000_000)) + b"\n")
    served.call(served.emu.log.clear)
    result = invoke(*import_args(served, export, targets))
    assert result.exit_code == 2
    assert "source thread thread_a is not what the interrupted import read" in " ".join(
        result.stderr.split()
    )
    assert creates(served) == 0


def test_two_imports_cannot_share_a_state_file(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 2})
    targets = seed_targets(served, list(sources))
    state = str(export) + STATE_SUFFIX
    journal = ImportJournal.open(state, None, served.emu.url)
    try:
        result = invoke(*import_args(served, export, targets))
    finally:
        journal.close()
    assert result.exit_code == 2
    assert "in use by another import" in result.stderr
    assert creates(served) == 0


def test_messages_are_ordered_by_created_at_then_file_order(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    stamps = {0: 30, 1: 10, 2: 20, 3: 10, 4: 20}  # file order 0..4; ties at 10 and 20
    lines = [exported_message("thread_a", n, stamps[n]) for n in range(5)]
    lines.insert(2, exported_message("thread_b", 9, 5))
    export.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    first, second = read_export(str(export))
    assert first.thread_id == "thread_a"
    assert [m.id.rsplit("_", 1)[1] for m in first.messages] == [
        "00001", "00003", "00002", "00004", "00000",
    ]  # fmt: skip
    assert [m.line for m in first.messages] == [2, 5, 4, 6, 1]
    assert [m.id for m in second.messages] == ["msg_thread_b_00009"]


def test_content_the_target_refuses_is_named_and_never_sent_twice(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    lines = [exported_message("thread_a", n, 1_700_000_000 + n) for n in range(6)]
    lines[3]["content"] = [{"type": "image_file", "image_file": {"file_id": "f", "detail": "x"}}]
    lines.append(exported_message("thread_b", 0, 1_700_000_000))
    export.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    targets = seed_targets(served, ["thread_a", "thread_b"])
    map_path = tmp_path / "map.jsonl"
    args = import_args(served, export, targets, "--map", str(map_path))
    for _ in range(2):
        result = invoke(*args)
        assert result.exit_code == 1, result.stderr
        assert "message msg_thread_a_00003 (line 4) was not created: BadRequestError" in (
            " ".join(result.stderr.split())
        )
        assert len(target_view(served, "thread_dst_0")) == 3
        assert len(target_view(served, "thread_dst_1")) == 1
        assert len(map_lines(map_path)) == 4
