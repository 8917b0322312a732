"""Helpers of the import tests: writing exports, reading what the target holds."""

from __future__ import annotations

import asyncio
import functools
import random
import threading
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from openai_messages.cli.importer import IDEMPOTENCY_METADATA_KEY

from .cli_support import API_KEY, ServedEmulator

__all__ = [
    "API_KEY",
    "creates",
    "KeylessProxy",
    "assert_imported",
    "exported_message",
    "import_args",
    "map_lines",
    "seed_targets",
    "source_of",
    "stored_in",
    "target_view",
    "write_export",
]


def exported_message(thread_id: str, n: int, created_at: int, **extra: Any) -> dict[str, Any]:
    """A message as ``export`` writes it (the server's v2 JSON, output-only fields too)."""
    return {
        "id": f"msg_{thread_id}_{n:05d}",
        "object": "thread.message",
        "created_at": created_at,
        "thread_id": thread_id,
        "status": "completed",
        "role": "user" if n % 2 == 0 else "assistant",
        "content": [
            {
                "type": "text",
                "text": {"value": f"{thread_id} message {n}", "annotations": []},
            }
        ],
        "assistant_id": None,
        "run_id": None,
        "attachments": [],
        "metadata": {"n": str(n)},
        **extra,
    }


def write_export(
    path: Path, threads: dict[str, int], *, seed: int = 7
) -> dict[str, list[dict[str, Any]]]:
    """Write an export of ``threads`` (id -> message count) with the lines of the threads
    interleaved at random and several messages per second; return each thread's messages
    in their chronological (creation) order."""
    rng = random.Random(seed)
    per_thread = {
        tid: [exported_message(tid, n, 1_700_000_000 + n // 3) for n in range(count)]
        for tid, count in threads.items()
    }
    queues = {tid: list(ms) for tid, ms in per_thread.items()}
    lines: list[bytes] = []
    while any(queues.values()):
        tid = rng.choice([t for t, q in queues.items() if q])
        lines.append(orjson.dumps(queues[tid].pop(0)))
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return per_thread


def seed_targets(served: ServedEmulator, sources: list[str]) -> dict[str, str]:
    """An empty target thread on the emulator for each source thread."""
    targets = {src: f"thread_dst_{i}" for i, src in enumerate(sources)}
    for target in targets.values():
        served.call(functools.partial(served.emu.store.create_thread, target))
    return targets


def import_args(
    served: ServedEmulator,
    export: Path,
    targets: dict[str, str],
    *more: str,
    url: str | None = None,
) -> list[str]:
    maps = [f"--thread-map={src}={dst}" for src, dst in targets.items()]
    base = url or served.emu.url
    return ["import", str(export), *maps, "--base-url", base, "--progress", "log", *more]


def source_of(message: dict[str, Any]) -> tuple[Any, ...]:
    """What an import must carry over of a source message: role, texts, metadata."""
    texts = tuple(p["text"]["value"] for p in message["content"])
    return (message["role"], texts, message["metadata"])


def target_view(served: ServedEmulator, thread_id: str) -> list[tuple[Any, ...]]:
    """The target thread's messages as :func:`source_of` sees them, marker left out."""
    out = []
    for message in served.call(lambda: served.emu.store.messages(thread_id)):
        metadata = dict(message["metadata"])
        metadata.pop(IDEMPOTENCY_METADATA_KEY, None)
        out.append(source_of({**message, "metadata": metadata}))
    return out


def map_lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the map ends with a partial line"
    return [orjson.loads(line) for line in data.splitlines()]


class KeylessProxy:
    """A loopback proxy in front of the emulator that drops ``Idempotency-Key``: a target
    that does not honour the key, so only the importer's own checks prevent duplicates."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("idempotency-key", "host", "content-length")
        }
        async with self._session.request(
            request.method,
            self.upstream
            + request.rel_url.path.removeprefix("/v1")
            + ("?" + request.rel_url.query_string if request.rel_url.query_string else ""),
            headers=headers,
            data=await request.read(),
        ) as upstream:
            body = await upstream.read()
            kept = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
            }
            return web.Response(status=upstream.status, body=body, headers=kept)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._session: aiohttp.ClientSession | None = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/v1"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._session.close()
            await runner.cleanup()

    def start(self) -> KeylessProxy:
        self._thread.start()
        assert self._ready.wait(10), "the proxy did not start"
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def stored_in(served: ServedEmulator, thread_id: str) -> list[dict[str, Any]]:
    return served.call(lambda: served.emu.store.messages(thread_id))


def assert_imported(
    served: ServedEmulator,
    sources: dict[str, list[dict[str, Any]]],
    targets: dict[str, str],
    map_path: Path | None = None,
) -> None:
    """Each target holds its source's messages once each, in order; the map names each once."""
    for src, messages in sources.items():
        assert target_view(served, targets[src]) == [source_of(m) for m in messages]
        markers = [
            m["metadata"].get(IDEMPOTENCY_METADATA_KEY) for m in stored_in(served, targets[src])
        ]
        present = [marker for marker in markers if marker is not None]
        assert len(set(present)) == len(present)
    if map_path is None:
        return
    lines = map_lines(map_path)
    assert len({(line["source_thread_id"], line["source_id"]) for line in lines}) == len(lines)
    for src, messages in sources.items():
        stored = stored_in(served, targets[src])
        expected = [
            {
                "source_thread_id": src,
                "source_id": m["id"],
                "thread_id": targets[src],
                "id": t["id"],
            }
            for m, t in zip(messages, stored, strict=True)
        ]
        assert [line for line in lines if line["source_thread_id"] == src] == expected


def creates(served: ServedEmulator) -> int:
    """How many message creates the emulator received."""
    return len(served.call(lambda: served.emu.log.filter("create")))
