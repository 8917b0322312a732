"""``openai-messages import --to conversations``: what it creates, exactly once under the
emulator's store-then-fail faults, its resume, ``--verify`` and its bad-input cases,
in-process (click's CliRunner) against the emulator over loopback."""

from __future__ import annotations

import functools
from pathlib import Path

import orjson

from openai_messages.cli.conversation_import import (
    IMPORT_KEY,
    SETTLE_ATTEMPTS,
    SOURCE_THREAD_KEY,
    STATE_SUFFIX,
)
from openai_messages.emulator import COGNITIVE_SERVICES_SCOPE, Fault

from ..cli_support import ServedEmulator, invoke, token_command
from ..cli_support import invoke as invoke_unsetting
from ..conversation_support import (
    assert_in_conversations,
    conversation_args,
    conversations_of,
)
from ..import_support import exported_message, map_lines, write_export
from ..support import read_state


def item_creates(served: ServedEmulator) -> int:
    return len(served.call(lambda: served.emu.log.filter("create_items")))


def test_each_thread_becomes_one_conversation_in_batches_of_20(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 45, "thread_b": 20, "thread_c": 1})
    map_path = tmp_path / "map.jsonl"
    result = invoke(*conversation_args(served, export, "--map", str(map_path)))
    assert result.exit_code == 0, result.stderr
    chosen = assert_in_conversations(served, sources, map_path)
    assert item_creates(served) == 3 + 1 + 1  # 45 = 20 + 20 + 5
    for src, conversation_id in chosen.items():
        record = served.call(functools.partial(served.emu.conversations.get, conversation_id))
        assert record is not None
        assert record.metadata[SOURCE_THREAD_KEY] == src
        assert record.metadata[IMPORT_KEY].startswith("om-")
    assert "imported 3 threads" in result.stderr

    again = invoke(*conversation_args(served, export, "--map", str(map_path)))
    assert again.exit_code == 0, again.stderr
    assert item_creates(served) == 5  # nothing sent again
    assert "3 of 3 threads already complete" in again.stderr
    assert_in_conversations(served, sources, map_path)


def test_store_then_fail_and_partial_store_are_settled_exactly_once(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 70, "thread_b": 33})
    served.emu.faults.add(Fault.commit_then_error(500), route="create_items", nth={1, 4})
    served.emu.faults.add(Fault.partial_commit(stored=7), route="create_items", nth=2)
    served.emu.faults.add(Fault.commit_then_drop(), route="create_items", nth=5)
    served.emu.faults.add(Fault.truncate(0.5), route="create_items", nth=6)  # stored, unread
    map_path = tmp_path / "map.jsonl"
    result = invoke(
        *conversation_args(served, export, "--map", str(map_path), "--concurrency", "1")
    )
    assert result.exit_code == 0, result.stderr
    assert_in_conversations(served, sources, map_path)
    fired = served.call(lambda: [r.fault_kind for r in served.emu.log if r.fault_kind])
    assert fired.count("commit_then_error") == 2
    assert {"partial_commit", "commit_then_drop", "truncate"} <= set(fired)


def test_a_batch_left_pending_is_settled_on_resume_not_sent_again(
    served: ServedEmulator, tmp_path: Path
) -> None:
    """A store-then-fail whose checks fail too (no retry left) stops the thread with its
    batch pending; the next run finds the batch stored by matching the conversation's
    newest items."""
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 50})
    served.emu.faults.add(Fault.commit_then_drop(), route="create_items", nth=2)
    served.emu.faults.add(Fault.error(500), route="list_items", times=SETTLE_ATTEMPTS)
    map_path = tmp_path / "map.jsonl"
    args = conversation_args(served, export, "--map", str(map_path))
    first = invoke(*args, "--max-retries", "0")
    assert first.exit_code == 1, first.stderr
    assert "thread_a" in first.stderr
    assert "was not imported" in first.stderr
    state = read_state(str(export) + STATE_SUFFIX)
    pending = state["threads"]["thread_a"]["batch"]
    assert pending["start"] == 20
    assert pending["size"] == 20
    assert not pending.get("settled")
    assert pending["first"] == sources["thread_a"][20]["id"]
    assert len(map_lines(map_path)) == 20
    sent = item_creates(served)

    second = invoke(*args)
    assert second.exit_code == 0, second.stderr
    assert "(20 found already created)" in second.stderr
    assert item_creates(served) == sent + 1  # the last 10 only
    assert_in_conversations(served, sources, map_path)


def test_a_create_of_unknown_outcome_is_listed_as_a_possible_orphan(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 5, "thread_b": 3})
    served.emu.faults.add(Fault.commit_then_drop(), route="create_conversation", nth=1)
    result = invoke(*conversation_args(served, export, "--concurrency", "1"))
    assert result.exit_code == 0, result.stderr
    assert_in_conversations(served, sources)
    twice = [src for src, cs in conversations_of(served).items() if len(cs) > 1]
    assert len(twice) == 1  # the orphan (empty) and the one that holds the items
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1
    assert f"source thread {twice[0]}:" in warnings[0]
    assert "empty orphan conversation" in warnings[0]


def test_verify_passes_then_catches_a_deleted_and_an_altered_item(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 30, "thread_b": 4})
    args = conversation_args(served, export, "--verify")
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert "verified 2 conversations: every item matches the export" in result.stderr
    chosen = assert_in_conversations(served, sources)

    def damage() -> None:
        record = served.emu.conversations.get(chosen["thread_a"])
        assert record is not None
        record.items[3].deleted = True
        other = served.emu.conversations.get(chosen["thread_b"])
        assert other is not None
        other.items[1].data["content"][0]["text"] = "altered"
        other.items[1].json = orjson.dumps(other.items[1].data)

    served.call(damage)
    again = invoke(*args)
    assert again.exit_code == 1
    mismatches = [line for line in again.stderr.splitlines() if line.startswith("mismatch")]
    assert any("29 items, the export has 30" in line for line in mismatches)
    assert any(sources["thread_a"][3]["id"] in line for line in mismatches)
    altered = [line for line in mismatches if chosen["thread_b"] in line]
    assert len(altered) == 1
    assert sources["thread_b"][1]["id"] in altered[0]
    assert "'altered'" in altered[0]
    assert item_creates(served) == 3  # verify sends nothing


def test_a_malformed_export_is_one_line_and_nothing_is_sent(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    write_export(export, {"thread_a": 3})
    export.write_bytes(export.read_bytes() + b"{not json\n")
    result = invoke(*conversation_args(served, export))
    assert result.exit_code == 2
    assert "line 4: not JSON" in result.stderr
    assert conversations_of(served) == {}


def test_a_message_that_cannot_be_mapped_is_named_and_nothing_is_sent(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    image = {"type": "image_file", "image_file": {"file_id": "file_1"}}
    lines = [
        exported_message("thread_a", 0, 1_700_000_000),
        {**exported_message("thread_a", 1, 1_700_000_001), "content": [image]},  # assistant
    ]
    export.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    result = invoke(*conversation_args(served, export))
    assert result.exit_code == 2
    assert "line 2 (message msg_thread_a_00001): cannot become a conversation item" in (
        result.stderr
    )
    assert conversations_of(served) == {}


def test_an_item_the_target_refuses_stops_its_thread_only_and_is_not_sent_twice(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_b": 4})
    image = {"type": "image_file", "image_file": {"file_id": "file_1", "detail": "ultra"}}
    lines = [
        {**exported_message("thread_a", n, 1_700_000_000 + n), "role": "user"} for n in range(25)
    ]
    lines[22]["content"] = [image]  # a detail the target refuses
    with export.open("ab") as fh:
        fh.write(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    map_path = tmp_path / "map.jsonl"
    args = conversation_args(served, export, "--map", str(map_path))
    result = invoke(*args)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1
    assert "thread thread_a" in errors[0]
    assert "msg_thread_a_00022 (line" in errors[0]
    assert "BadRequestError" in errors[0]
    assert_in_conversations(served, sources)
    assert len(map_lines(map_path)) == 4 + 20  # thread_b, and thread_a's first batch
    refused = item_creates(served)

    again = invoke(*args)
    assert again.exit_code == 1
    assert item_creates(served) == refused + 1  # the refused batch once more, nothing else
    (conversation,) = conversations_of(served)["thread_a"]
    stored = served.call(lambda: served.emu.conversations.items(conversation))
    assert len(stored) == 20


def test_options_of_the_thread_import_are_refused(served: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    write_export(export, {"thread_a": 1})
    mapped = invoke(*conversation_args(served, export, "--thread-map", "thread_a=thread_x"))
    assert mapped.exit_code == 2
    assert "--thread-map" in mapped.stderr
    verify = invoke("import", str(export), "--base-url", served.emu.url, "--verify")
    assert verify.exit_code == 2
    assert "--verify is for --to conversations" in verify.stderr
    assert conversations_of(served) == {}


def test_on_foundry_a_create_of_unknown_outcome_is_found_by_its_marker(
    entra: ServedEmulator, tmp_path: Path
) -> None:
    """Foundry lists conversations: the one a lost reply created is found, not orphaned."""
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 25, "thread_b": 3})
    entra.emu.faults.add(Fault.commit_then_drop(), route="create_conversation", nth=1)
    result = invoke(
        "import", str(export), "--to", "conversations", "--verify",
        "--foundry-endpoint", entra.emu.url_for("foundry"),
        "--token-command", token_command(entra), "--concurrency", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    assert_in_conversations(entra, sources)
    assert {src: len(cs) for src, cs in conversations_of(entra).items()} == {
        "thread_a": 1,
        "thread_b": 1,
    }
    assert entra.call(lambda: entra.emu.log.filter("create_conversation", fault="commit_then_drop"))
    listed = entra.call(lambda: entra.emu.log.filter("list_conversations"))
    assert listed
    assert all(r.path.startswith("/api/projects/") for r in listed)


def test_azure_v1_with_a_token_command_and_progress(entra: ServedEmulator, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 41, "thread_b": 2})
    command = token_command(entra, lifetime=600, scope=COGNITIVE_SERVICES_SCOPE)
    result = invoke_unsetting(
        "import", str(export), "--to", "conversations", "--verify", "--progress", "log",
        "--azure-endpoint", entra.emu.url_for("azure_v1"), "--token-command", command,
        env={"AZURE_OPENAI_API_KEY": None},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert_in_conversations(entra, sources)
    assert "import: 2/2 threads, 43 msgs" in result.stderr
    requests = [r for r in entra.emu.log if "/conversations" in r.path]
    assert requests
    assert all(r.path.startswith("/openai/v1/conversations") for r in requests)
    assert all(r.headers["Authorization"].startswith("Bearer emu-entra-") for r in requests)


def test_a_lost_state_is_rebuilt_from_the_map_and_nothing_is_sent_twice(
    served: ServedEmulator, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    sources = write_export(export, {"thread_a": 47, "thread_b": 20})
    map_path = tmp_path / "map.jsonl"
    args = conversation_args(served, export, "--map", str(map_path))
    assert invoke(*args).exit_code == 0
    lines = map_path.read_bytes().splitlines(keepends=True)
    kept = [line for line in lines if b"thread_a" not in line] + [
        line for line in lines if b"thread_a" in line
    ][:33]  # the map's last 14 lines of thread_a lost with the state
    map_path.write_bytes(b"".join(kept))
    Path(str(export) + STATE_SUFFIX).unlink()
    sent = item_creates(served)

    again = invoke(*args)
    assert again.exit_code == 0, again.stderr
    assert "is missing: rebuilt from the --map" in again.stderr
    assert "(14 found already created)" in again.stderr
    assert item_creates(served) == sent
    assert_in_conversations(served, sources, map_path)  # each message once in the map


def test_a_batch_whose_outcome_stays_unknown_stops_its_thread_after_a_few_tries(
    served: ServedEmulator, tmp_path: Path
) -> None:
    """Every send fails ambiguously and every check finds nothing: a few tries, not a loop."""
    export = tmp_path / "export.jsonl"
    write_export(export, {"thread_a": 5})
    served.emu.faults.add(Fault.error(500), route="create_items")
    result = invoke(*conversation_args(served, export, "--max-retries", "0"))
    assert result.exit_code == 1
    assert "msg_thread_a_00000" in result.stderr
    assert "was not imported" in result.stderr
    assert item_creates(served) == SETTLE_ATTEMPTS
    (conversation,) = conversations_of(served)["thread_a"]
    assert served.call(lambda: served.emu.conversations.items(conversation)) == []
