"""``openai-messages export --all-threads`` (issue 22 item 2): every thread the service lists,
resumable (the listing by its cursor in the state, the messages as before), with threads
being created while it runs; ``--threads-out``; the error where threads cannot be listed."""

from __future__ import annotations

import io
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from openai_messages.cli.export import STATE_SUFFIX, ExportStats, ResumableFile, unfinished
from openai_messages.cli.progress import LogDisplay
from openai_messages.emulator import Fault

from ..cli_support import (
    ServedEmulator,
    assert_exact_export,
    export_args,
    exported,
    invoke,
    token_command,
)
from ..process_support import created_so_far, finish, start
from ..support import message, read_state


@pytest.fixture
def listing(served: ServedEmulator) -> ServedEmulator:
    """The served emulator, listing threads on its OpenAI prefix too (as Foundry does)."""
    served.emu.list_threads = True
    return served


def all_threads_args(served: ServedEmulator, out: Path, *more: str) -> list[str]:
    return [*export_args(served, out), "--all-threads", *more]


def state_of(out: Path) -> dict[str, Any]:
    return read_state(Path(str(out) + STATE_SUFFIX))


def test_all_threads_exports_every_listed_thread(listing: ServedEmulator, tmp_path: Path) -> None:
    store = listing.emu.store
    thread_ids = [*store.seed(7, 30), store.create_thread()]  # an empty one too
    out, ids_out = tmp_path / "out.jsonl", tmp_path / "ids.txt"
    args = all_threads_args(listing, out, "--threads-out", str(ids_out), "--page-size", "20")
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, listing, thread_ids)
    assert ids_out.read_text().splitlines() == thread_ids
    assert state_of(out)["listing_cursor"] == thread_ids[-1]
    assert "8/8 threads" in result.stderr  # counted as they were found
    assert "exported 8 threads" in result.stderr

    # a re-run lists on after the cursor and exports only the threads created since
    newer = store.seed(2, 5)
    listing.call(listing.emu.log.clear)
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, listing, thread_ids + newer)
    assert ids_out.read_text().splitlines() == thread_ids + newer
    walked = {r.path.split("/")[3] for r in listing.emu.log.filter("list")}
    assert walked == set(newer)
    (first, *_) = listing.emu.log.filter("list_threads")
    assert first.query["after"] == thread_ids[-1]


def test_the_readme_foundry_recipe_exports_everything(tmp_path: Path) -> None:
    """``export --all-threads --foundry-endpoint ... --token-command ...``: no thread ids."""
    foundry = ServedEmulator(entra=True).start()  # Foundry's prefix lists threads by itself
    try:
        thread_ids = foundry.call(lambda: foundry.emu.store.seed(130, 2))
        out, ids_out = tmp_path / "foundry-threads.jsonl", tmp_path / "foundry-thread-ids.txt"
        result = invoke(
            "export", "--all-threads", "--threads-out", str(ids_out),
            "--foundry-endpoint", foundry.emu.url_for("foundry"),
            "--token-command", token_command(foundry, lifetime=600), "-o", str(out),
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert_exact_export(out, foundry, thread_ids)
        assert ids_out.read_text().splitlines() == thread_ids
        listed = foundry.emu.log.filter("list_threads")
        assert [r.query.get("after") for r in listed] == [None, thread_ids[99]]
        assert all(r.path == "/api/projects/emulator/threads" for r in listed)
    finally:
        foundry.stop()


def test_a_thread_deleted_after_it_was_listed_is_said_and_done(
    listing: ServedEmulator, tmp_path: Path
) -> None:
    thread_ids = listing.emu.store.seed(4, 3)
    out = tmp_path / "out.jsonl"
    args = all_threads_args(listing, out, "--concurrency", "1")
    # the second thread's messages answer 404, as once it is deleted
    listing.emu.faults.add(Fault.error(404), route="list", nth=2, times=1)
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert f"thread {thread_ids[1]} was deleted after it was listed" in result.stderr
    assert "exported 4 threads" in result.stderr
    items = exported(out)
    assert {m["thread_id"] for m in items} == {thread_ids[0], *thread_ids[2:]}
    assert state_of(out)["threads"][thread_ids[1]]["done"] is True
    listing.call(listing.emu.log.clear)
    assert invoke(*args).exit_code == 0
    assert listing.emu.log.filter("list") == []  # nothing is walked again


def test_a_listing_that_fails_part_way_exits_1_and_resumes(
    listing: ServedEmulator, tmp_path: Path
) -> None:
    thread_ids = listing.emu.store.seed(230, 1)  # three listing pages of 100
    listing.emu.faults.add(Fault.error(500), route="list_threads", nth=2)
    out = tmp_path / "out.jsonl"
    args = all_threads_args(listing, out, "--max-retries", "0")
    result = invoke(*args)
    assert result.exit_code == 1
    assert "listing the threads failed (InternalServerError" in result.stderr
    assert "run the same command again" in result.stderr
    assert state_of(out)["listing_cursor"] == thread_ids[99]
    # the listing did not reach its end: import refuses the export
    refused = invoke("import", str(out), "--base-url", listing.emu.url)
    assert refused.exit_code == 2, refused.stderr
    assert "listing did not reach the end" in " ".join(refused.stderr.split())
    listing.emu.faults.clear()
    listing.call(listing.emu.log.clear)
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert_exact_export(out, listing, thread_ids)
    (first, *_) = listing.emu.log.filter("list_threads")
    assert first.query["after"] == thread_ids[99]


def test_an_export_whose_listing_did_not_finish_is_unfinished(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = ResumableFile.open(str(out), "asc")
    sink.discover(["thread_a"], "thread_a")
    sink.write_page("thread_a", [message(1, "thread_a")])
    sink.finish("thread_a")  # every thread found is complete, but more may be listed
    sink.close()
    found = unfinished(str(out))
    assert found is not None
    assert "listing did not reach the end" in found.reason
    sink = ResumableFile.open(str(out), "asc")
    sink.listing_done()
    sink.close()
    assert unfinished(str(out)) is None


def test_the_listing_cursor_is_kept_only_with_the_threads_before_it(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = ResumableFile.open(str(out), "asc")
    assert sink.discover(["thread_a", "thread_b"], "thread_b") == ["thread_a", "thread_b"]
    sink.write_page("thread_a", [message(1, "thread_a")])
    sink.close()
    sink = ResumableFile.open(str(out), "asc")
    assert (sink.listing_cursor, list(sink.threads)) == ("thread_b", ["thread_a", "thread_b"])
    assert sink.discover(["thread_b", "thread_c"], "thread_c") == ["thread_c"]
    sink.close()
    Path(str(out) + STATE_SUFFIX).unlink()  # no state: the lines are read, the list restarts
    sink = ResumableFile.open(str(out), "asc")
    assert (sink.listing_cursor, list(sink.threads)) == (None, ["thread_a"])
    sink.close()


def test_the_log_line_says_while_threads_are_still_being_found() -> None:
    stream = io.StringIO()
    stats = ExportStats(threads_done=2, threads_total=5, listing=True)
    display = LogDisplay(stats, dict, stream, 1.0)
    display.refresh()
    stats.listing = False
    display.refresh()
    first, second = stream.getvalue().splitlines()
    assert first.startswith("export: 2/5+ threads")
    assert second.startswith("export: 2/5 threads")


def test_a_service_that_cannot_list_threads_says_so(served: ServedEmulator, tmp_path: Path) -> None:
    served.emu.store.seed(2, 3)
    out = tmp_path / "out.jsonl"
    result = invoke(*all_threads_args(served, out))
    assert result.exit_code == 1
    assert "cannot list threads" in result.stderr
    assert "--ids-from" in result.stderr
    assert exported(out) == []


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["thread_a"], "not both"),
        (["--ids-from", "-"], "not both"),
        (["--no-all", "--threads-out", "x.txt"], "--threads-out goes with --all-threads"),
    ],
)
def test_all_threads_usage_errors(
    served: ServedEmulator, tmp_path: Path, extra: list[str], problem: str
) -> None:
    args = all_threads_args(served, tmp_path / "out.jsonl", *extra)
    if "--no-all" in extra:
        args = [a for a in args if a not in ("--all-threads", "--no-all")]
    result = invoke(*args)
    assert result.exit_code == 2
    assert problem in result.stderr
    assert len(served.emu.log) == 0


class ThreadAdder:
    """Creates threads (of 0-3 messages) on the served emulator, one after the other,
    from a thread of its own, until stopped."""

    def __init__(self, served: ServedEmulator, rng: random.Random) -> None:
        self.served = served
        self.rng = rng
        self.added: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _add(self) -> str:
        store = self.served.emu.store
        thread_id = store.create_thread()
        store.add_messages(thread_id, self.rng.randint(0, 3))
        return thread_id

    def _run(self) -> None:
        while not self._stop.wait(0.02):  # pacing, not a test of timing
            self.added.append(self.served.call(self._add))

    def __enter__(self) -> ThreadAdder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(22)


def kill_after_a_checkpoint(args: list[str], out: Path, rng: random.Random) -> bool:
    """Start the export and SIGKILL it once it has committed a state of its own (so that
    the next run resumes from it, listing cursor included) and written a random number of
    lines more; whether the kill landed while it was running."""
    state = Path(str(out) + STATE_SUFFIX)

    def cursor() -> str | None:
        return read_state(state).get("listing_cursor") if state.exists() else None

    before = cursor()
    proc = start(args)
    deadline = time.monotonic() + 60
    while proc.poll() is None and cursor() in (None, before):
        assert time.monotonic() < deadline, "the export committed no listing page"
        time.sleep(0.005)
    goal = created_so_far(out) + rng.randint(1, 200)
    while proc.poll() is None and created_so_far(out) < goal:
        time.sleep(rng.uniform(0.0, 0.01))
    landed = proc.poll() is None
    if landed:
        proc.send_signal(signal.SIGKILL)
    finish(proc, 30)
    return landed


def test_sigkill_loop_over_2000_threads_while_threads_are_added(
    listing: ServedEmulator, tmp_path: Path, rng: random.Random
) -> None:
    store = listing.emu.store
    seeded = []
    for _ in range(2000):
        thread_id = store.create_thread()
        store.add_messages(thread_id, rng.randint(0, 5))
        seeded.append(thread_id)
    total = sum(store.count(t) for t in seeded)
    out, ids_out = tmp_path / "out.jsonl", tmp_path / "ids.txt"
    more = ["--threads-out", str(ids_out), "--page-size", "2", "--concurrency", "4"]
    args = all_threads_args(listing, out, *more, "--progress", "none")
    listing.emu.latency = 0.004  # so that the export outlives a few checkpoints
    cursors = []
    with ThreadAdder(listing, random.Random(23)) as adder:
        landed = 0
        for _ in range(4):
            landed += kill_after_a_checkpoint(args, out, rng)
            cursors.append(state_of(out)["listing_cursor"])
        assert landed >= 3
        assert 0 < len(exported(out)) < total + 3 * len(adder.added)  # part-way
        assert None not in cursors  # every run resumed the listing from a cursor
        assert len(set(cursors)) >= 3  # and moved it on
        code, stderr = finish(start(args))  # a run that ends while threads are still added
        assert code == 0, stderr
    assert adder.added  # threads were created during the runs
    every = listing.call(store.thread_ids)
    assert every == seeded + adder.added
    reached = ids_out.read_text().splitlines()
    assert len(reached) == len(set(reached))
    assert set(reached) == set(every[: len(reached)])  # the listing reached a prefix
    code, stderr = finish(start(args))  # the threads made after the last listing page
    assert code == 0, stderr
    assert_exact_export(out, listing, every)
    found = ids_out.read_text().splitlines()
    assert sorted(found) == sorted(every)  # once each (in the order the export met them)
    assert state_of(out)["listing_cursor"] == every[-1]
