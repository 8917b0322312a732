"""The openai-messages command, over real HTTP against the emulator.

The command runs ``asyncio.run`` itself, so the emulator serves from a thread of its own
(its own event loop); the command runs in-process (click's CliRunner) or as a subprocess.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from openai_messages.cli.demo import verify_export
from openai_messages.cli.export import STATE_SUFFIX, ExportStats
from openai_messages.cli.progress import LogDisplay, RichDisplay, make_display

from ..cli_support import (
    ServedEmulator,
    assert_exact_export,
    by_thread,
    env_for_subprocess,
    export_args,
    exported,
    invoke,
)
from ..support import read_state

# -- export ----------------------------------------------------------------------------------


def test_export_equals_the_store(served: ServedEmulator, tmp_path: Path) -> None:
    store = served.emu.store
    thread_ids = store.seed(4, 230)
    odd = store.add_message(
        thread_ids[0],
        "assistant",
        [
            {"type": "hologram", "hologram": {"frames": 3}},
            {
                "type": "text",
                "text": {
                    "value": "see [1]",
                    "annotations": [{"type": "footnote", "text": "[1]", "extra": True}],
                },
            },
        ],
        metadata={"k": "v"},
    )
    out = tmp_path / "out.jsonl"
    result = invoke(*export_args(served, out, *thread_ids), "--concurrency", "3")
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, served, thread_ids)
    assert odd in exported(out)  # unknown content and annotation types kept as sent
    assert "export: 4/4 threads" in result.stderr


def test_export_desc_and_page_size(served: ServedEmulator, tmp_path: Path) -> None:
    thread_ids = served.emu.store.seed(2, 45)
    out = tmp_path / "out.jsonl"
    args = [*export_args(served, out, *thread_ids), "--order", "desc", "--page-size", "10"]
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    items = exported(out)
    for thread_id in thread_ids:
        assert by_thread(items, thread_id) == served.emu.store.messages(thread_id)[::-1]
    lists = served.emu.log.filter("list")
    assert len(lists) == 2 * 5
    assert {r.query.get("order") for r in lists} == {"desc"}


def test_export_ids_from_a_file_and_to_stdout(served: ServedEmulator, tmp_path: Path) -> None:
    first, second, third = served.emu.store.seed(3, 7)
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# threads to export\n{second}\n\n{third}  # the last one\n{second}\n")
    result = invoke(
        "export", first, "--ids-from", str(ids), "--base-url", served.emu.url, "--progress", "none"
    )
    assert result.exit_code == 0, result.stderr
    items = [orjson.loads(line) for line in result.stdout_bytes.splitlines()]
    assert len(items) == 21  # the repeated id is exported once
    for thread_id in (first, second, third):
        assert by_thread(items, thread_id) == served.emu.store.messages(thread_id)


def test_invalid_thread_ids_are_named_and_nothing_is_sent(
    served: ServedEmulator, tmp_path: Path
) -> None:
    (good,) = served.emu.store.seed(1, 3)
    out = tmp_path / "out.jsonl"
    result = invoke(*export_args(served, out, good, "thread/../etc", "bad id"))
    assert result.exit_code == 2
    assert "'thread/../etc'" in result.stderr
    assert "'bad id'" in result.stderr
    assert len(served.emu.log) == 0
    assert not out.exists()


def test_no_ids_or_no_key_is_a_usage_error(served: ServedEmulator, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert invoke(*export_args(served, out)).exit_code == 2
    result = invoke(*export_args(served, out, "thread_x"), "--api-key-env", "OM_TEST_NO_SUCH_KEY")
    assert result.exit_code == 2
    assert "OM_TEST_NO_SUCH_KEY" in result.stderr
    assert len(served.emu.log) == 0


def test_api_error_exits_1_with_the_request_id(served: ServedEmulator, tmp_path: Path) -> None:
    thread_ids = served.emu.store.seed(2, 20)
    out = tmp_path / "out.jsonl"
    result = invoke(*export_args(served, out, thread_ids[0], "thread_nope", thread_ids[1]))
    assert result.exit_code == 1
    (failed,) = served.emu.log.filter("list", status=404)
    assert "thread_nope" in result.stderr
    assert failed.request_id in result.stderr
    assert "NotFoundError" in result.stderr
    assert_exact_export(out, served, thread_ids)  # the other threads were still exported


def slow_export(
    served: ServedEmulator, out: Path, threads: int, messages: int
) -> tuple[list[str], list[str], subprocess.Popen[bytes]]:
    """Seed, slow the server down, and start an export in a subprocess of the CLI."""
    thread_ids = served.emu.store.seed(threads, messages)
    served.emu.latency = 0.02
    args = [*export_args(served, out, *thread_ids), "--page-size", "20", "--concurrency", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "openai_messages", *args],
        env=env_for_subprocess(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return thread_ids, args, proc


def test_export_resumes_after_a_kill(served: ServedEmulator, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    thread_ids, args, proc = slow_export(served, out, 6, 600)
    try:
        deadline = time.monotonic() + 30
        state = Path(str(out) + STATE_SUFFIX)
        while not (state.exists() and read_state(state)["size"] > 100_000):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the export did not get going"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
    before = out.stat().st_size
    total = sum(len(served.emu.store.messages(t)) for t in thread_ids)
    assert 0 < len(out.read_bytes().splitlines()) < total  # it stopped part-way
    served.emu.latency = 0.0
    served.call(served.emu.log.clear)

    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert "resuming" in result.stderr
    assert_exact_export(out, served, thread_ids)
    assert len(served.emu.log.filter("list")) < total / 20  # not everything was fetched again
    assert out.stat().st_size > before


def test_ctrl_c_stops_cleanly_and_resumes(served: ServedEmulator, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    thread_ids, args, proc = slow_export(served, out, 4, 500)
    deadline = time.monotonic() + 30
    while not (out.exists() and out.stat().st_size > 20_000):
        assert proc.poll() is None
        assert time.monotonic() < deadline, "the export did not get going"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130, stderr
    assert b"resume" in stderr
    state = read_state(str(out) + STATE_SUFFIX)
    assert state["size"] == out.stat().st_size  # everything written was committed
    served.emu.latency = 0.0

    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, served, thread_ids)


def test_resuming_a_complete_export_sends_nothing(served: ServedEmulator, tmp_path: Path) -> None:
    thread_ids = served.emu.store.seed(2, 15)
    out = tmp_path / "out.jsonl"
    assert invoke(*export_args(served, out, *thread_ids)).exit_code == 0
    served.call(served.emu.log.clear)
    result = invoke(*export_args(served, out, *thread_ids))
    assert result.exit_code == 0, result.stderr
    assert len(served.emu.log) == 0
    assert_exact_export(out, served, thread_ids)


def test_resume_with_another_order_is_refused(served: ServedEmulator, tmp_path: Path) -> None:
    thread_ids = served.emu.store.seed(1, 5)
    out = tmp_path / "out.jsonl"
    assert invoke(*export_args(served, out, *thread_ids)).exit_code == 0
    result = invoke(*export_args(served, out, *thread_ids), "--order", "desc")
    assert result.exit_code == 2
    assert "--order asc" in result.stderr


# -- demo, serve, help -----------------------------------------------------------------------


def test_demo_small_passes(tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    result = invoke(
        "demo", "--threads", "5", "--messages", "300", "-o", str(out), "--progress", "none"
    )
    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout
    assert "1,500" in result.stdout
    assert len(exported(out)) == 1500


def test_the_demo_check_catches_duplicates_and_losses(tmp_path: Path) -> None:
    store = [
        {"id": f"msg_{i}", "thread_id": "thread_a", "object": "thread.message"} for i in range(3)
    ]
    out = tmp_path / "out.jsonl"

    def check(lines: list[dict[str, Any]]) -> bool:
        out.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in lines))
        return verify_export(str(out), ["thread_a"], lambda _: store).ok

    assert check(store)
    assert not check([*store, store[0]])
    assert not check(store[:2])
    assert not check([store[0], {**store[1], "role": "user"}, store[2]])
    assert not check([*store, {"id": "msg_x", "thread_id": "thread_b"}])


def test_serve_prints_the_url_and_key() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "openai_messages", "serve", "--port", "0", "--seed-threads", "2"],
        env=env_for_subprocess(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url_line = proc.stdout.readline()
        key_line = proc.stdout.readline()
        assert url_line.startswith("OPENAI_BASE_URL=http://127.0.0.1:")
        assert key_line.strip() == "OPENAI_API_KEY=sk-emu-test"
        assert len(proc.stdout.readline().split("=", 1)[1].split(",")) == 2  # the thread ids
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err


def test_progress_display_choice() -> None:
    stats = ExportStats()
    counters: Callable[[], dict[str, int]] = dict
    assert isinstance(
        make_display("auto", stats, counters, Console(force_terminal=True), 1), RichDisplay
    )
    assert isinstance(
        make_display("auto", stats, counters, Console(force_terminal=False), 1), LogDisplay
    )


def test_python_m_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "openai_messages", "--help"],
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for command in ("export", "serve", "demo"):
        assert command in done.stdout
