"""The export against small hostile servers and bad input (issue 14 items 4, 5, 18, 19):
no traceback, a named error per thread, one line and the right exit code."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from openai_messages.cli.export import STATE_SUFFIX

from ..cli_support import Answer, HostileServer, invoke
from ..support import read_state


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], HostileServer]]:
    servers: list[HostileServer] = []

    def start(answer: Answer) -> HostileServer:
        servers.append(HostileServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def message_json(thread_id: str, number: int, extra: str = "") -> str:
    return (
        f'{{"id":"msg_{thread_id}_{number:04d}","object":"thread.message",'
        f'"created_at":{1_700_000_000 + number},"thread_id":"{thread_id}","role":"user",'
        f'"content":[{{"type":"text","text":{{"value":"m{number}","annotations":[]}}}}]'
        f"{extra}}}"
    )


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def page_json(items: list[str], has_more: bool = False) -> bytes:
    more = "true" if has_more else "false"
    return f'{{"object":"list","data":[{",".join(items)}],"has_more":{more}}}'.encode()


def walk(threads: dict[str, list[str]], page_size: int = 100) -> Answer:
    """A well-behaved listing of ``threads`` (message JSON texts, oldest first)."""

    def answer(thread_id: str, query: dict[str, str]) -> tuple[int, bytes]:
        items = threads.get(thread_id)
        if items is None:
            return 404, b'{"error":{"message":"No thread found","type":"invalid_request_error"}}'
        limit = int(query.get("limit", page_size))
        start = 0
        if "after" in query:
            ids = [json.loads(item)["id"] for item in items]
            start = ids.index(query["after"]) + 1
        chunk = items[start : start + limit]
        return 200, page_json(chunk, has_more=start + limit < len(items))

    return answer


def export(server: HostileServer, out: Path | str, *args: str) -> Result:
    return invoke(
        "export", "-o", str(out), "--base-url", server.url, "--progress", "none",
        "--max-retries", "0", *args,
    )  # fmt: skip


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def state(path: Path) -> dict[str, Any]:
    threads: dict[str, Any] = read_state(str(path) + STATE_SUFFIX)["threads"]
    return threads


def normal_threads() -> dict[str, list[str]]:
    return {t: [message_json(t, n) for n in range(150)] for t in ("thread_b", "thread_c")}


# -- item 5: a message nested deeper than orjson writes -----------------------------------


def test_a_message_nested_300_deep_is_exported_exactly(serve: Any, tmp_path: Path) -> None:
    deep = message_json("thread_a", 1, f',"odd":{{"deeper":{nested(300)}}}')
    threads = {"thread_a": [message_json("thread_a", 0), deep], **normal_threads()}
    server = serve(walk(threads))
    out = tmp_path / "out.jsonl"
    result = export(server, out, *threads)
    assert result.exit_code == 0, result.stderr
    items = lines(out)
    for thread_id, texts in threads.items():
        assert [m for m in items if m["thread_id"] == thread_id] == [json.loads(t) for t in texts]
    assert all(entry["done"] for entry in state(out).values())


def test_a_message_nested_1000_deep_is_exported_exactly(serve: Any, tmp_path: Path) -> None:
    # deeper than orjson (255) or the standard library (~1000 frames) writes: converter.encode
    # writes it all the same (issue 21), so the export has nothing it cannot write
    deep = message_json("thread_a", 1, f',"odd":{nested(1000)}')
    threads = {"thread_a": [message_json("thread_a", 0), deep], **normal_threads()}
    server = serve(walk(threads))
    out = tmp_path / "out.jsonl"
    result = export(server, out, *threads)
    assert result.exit_code == 0, result.stderr
    written = out.read_bytes().splitlines()
    for texts in threads.values():
        assert [line for line in written if line in {t.encode() for t in texts}] == [
            t.encode() for t in texts
        ]
    assert len(written) == sum(len(texts) for texts in threads.values())
    assert all(entry["done"] for entry in state(out).values())


# -- item 4 (CLI): a walk that ended in an error is never marked done ----------------------


@pytest.mark.parametrize("resume", [False, True], ids=["first-run", "resumed"])
def test_a_thread_failing_mid_walk_is_never_marked_done(
    serve: Any, tmp_path: Path, resume: bool
) -> None:
    threads = {"thread_a": [message_json("thread_a", n) for n in range(250)], **normal_threads()}
    healthy = walk(threads)
    broken = {"on": True}

    def answer(thread_id: str, query: dict[str, str]) -> tuple[int, bytes]:
        if broken["on"] and thread_id == "thread_a" and "after" in query:
            return 500, b'{"error":{"message":"boom","type":"server_error"}}'
        return healthy(thread_id, query)

    server = serve(answer)
    out = tmp_path / "out.jsonl"
    if resume:  # a first run wrote thread_a's first page only, then was cut short
        broken["on"] = True
        assert export(server, out, "thread_a").exit_code == 1
    result = export(server, out, *threads)
    assert result.exit_code == 1
    assert "thread thread_a: InternalServerError" in result.stderr
    assert not state(out)["thread_a"]["done"]
    assert state(out)["thread_a"]["count"] == 100
    broken["on"] = False
    assert export(server, out, *threads).exit_code == 0
    items = lines(out)
    for thread_id, texts in threads.items():
        assert [m for m in items if m["thread_id"] == thread_id] == [json.loads(t) for t in texts]


# -- item 18: a refused key ends the run at once --------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_ends_the_export_with_one_message(
    serve: Any, tmp_path: Path, status: int
) -> None:
    body = b'{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}'
    server = serve(lambda thread_id, query: (status, body))
    ids = [f"thread_{n:02d}" for n in range(40)]
    result = export(server, tmp_path / "out.jsonl", *ids, "--concurrency", "4")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    refused = [line for line in result.stderr.splitlines() if "refused the API key" in line]
    assert len(refused) == 1, result.stderr
    assert "thread_" not in result.stderr  # no per-thread lines
    assert len(server.requests) <= 4  # at most one per walker, not one per thread


# -- item 19: bad input files and outputs ----------------------------------------------------


def test_ids_from_a_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"thread_a\nthread_\xff\xfe\n")
    result = invoke("export", "--ids-from", str(ids), "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 2
    assert "not UTF-8" in result.stderr
    assert "line 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_byte_order_mark_does_not_stick_to_the_first_id(serve: Any, tmp_path: Path) -> None:
    threads = normal_threads()
    server = serve(walk(threads))
    ids = tmp_path / "ids.txt"
    ids.write_bytes("\ufeffthread_b\nthread_c\n".encode())
    out = tmp_path / "out.jsonl"
    result = export(server, out, "--ids-from", str(ids))
    assert result.exit_code == 0, result.stderr
    assert {thread_id for thread_id, _ in server.requests} == {"thread_b", "thread_c"}
    assert len(lines(out)) == 300


def test_an_output_that_cannot_be_written_is_an_io_error(serve: Any) -> None:
    if not Path("/proc/version").exists():
        pytest.skip("needs /proc/version")
    server = serve(walk(normal_threads()))
    result = export(server, "/proc/version", "thread_b")
    assert result.exit_code == 74, result.stderr
    assert "Usage" not in result.stderr
    assert "Traceback" not in result.stderr
    assert "/proc/version" in result.stderr
    assert len([line for line in result.stderr.splitlines() if "rror" in line]) == 1


def test_a_refused_key_ends_a_resumed_export_with_one_message(serve: Any, tmp_path: Path) -> None:
    ids = [f"thread_{n:02d}" for n in range(40)]
    healthy = walk({t: [message_json(t, n) for n in range(150)] for t in ids})
    mode = {"now": "second page fails"}

    def answer(thread_id: str, query: dict[str, str]) -> tuple[int, bytes]:
        if mode["now"] == "refused":
            return 401, b'{"error":{"message":"Incorrect API key provided"}}'
        if "after" in query:
            return 500, b'{"error":{"message":"boom","type":"server_error"}}'
        return healthy(thread_id, query)

    server = serve(answer)
    out = tmp_path / "out.jsonl"
    assert export(server, out, *ids).exit_code == 1  # every thread left part-way
    assert all(state(out)[t]["count"] == 100 for t in ids)
    mode["now"] = "refused"
    server.requests.clear()
    result = export(server, out, *ids, "--concurrency", "4")
    assert result.exit_code == 1
    assert len([line for line in result.stderr.splitlines() if "refused the API key" in line]) == 1
    assert "InternalServerError" not in result.stderr
    assert len(server.requests) <= 4
    assert not any(entry["done"] for entry in state(out).values())
