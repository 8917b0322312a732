"""Helpers of the CLI tests: an emulator serving from a thread of its own (the command runs
``asyncio.run`` itself), the command run in-process, what it wrote, and a stdlib server
for answers the emulator would never give."""

from __future__ import annotations

import asyncio
import http.server
import os
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import orjson
from click.testing import CliRunner, Result

from openai_messages.cli.commands import cli
from openai_messages.emulator import AI_AZURE_SCOPE, Emulator
from openai_messages.emulator.log import LoggedRequest

T = TypeVar("T")
API_KEY = "sk-cli-test-0123456789"
ROOT = Path(__file__).resolve().parents[1]
LIFETIME = 2.0  # seconds: the tokens of token_command() by default


class ServedEmulator:
    """An emulator serving from a background thread with its own event loop."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._emulator: Emulator | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with Emulator(api_key=API_KEY, **self._options) as emulator:
            self._emulator = emulator
            self._ready.set()
            await self._stop.wait()

    def start(self) -> ServedEmulator:
        self._thread.start()
        assert self._ready.wait(10), "the emulator did not start"
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        assert not self._thread.is_alive()

    @property
    def emu(self) -> Emulator:
        assert self._emulator is not None
        return self._emulator

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the emulator's loop (so it never races a request)."""
        assert self._loop is not None

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """The command in-process, with OPENAI_API_KEY set and OPENAI_BASE_URL unset
    (``env`` adds variables; None unsets one)."""
    runner = CliRunner(env={"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": None, **(env or {})})
    return runner.invoke(cli, list(args), catch_exceptions=False)


def export(
    out: Path, ids: list[str], *options: str, env: dict[str, str | None] | None = None
) -> Result:
    return invoke("export", *ids, "-o", str(out), "--progress", "none", *options, env=env)


def exported(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the file ends with a partial line"
    return [orjson.loads(line) for line in data.splitlines()]


def by_thread(items: list[dict[str, Any]], thread_id: str) -> list[dict[str, Any]]:
    return [m for m in items if m["thread_id"] == thread_id]


def assert_exact_export(path: Path, server: ServedEmulator, thread_ids: list[str]) -> None:
    """Every message of every thread exactly once, in walk order, with the store's JSON."""
    items = exported(path)
    assert len(items) == sum(len(server.emu.store.messages(t)) for t in thread_ids)
    for thread_id in thread_ids:
        assert by_thread(items, thread_id) == server.emu.store.messages(thread_id)


def env_for_subprocess() -> dict[str, str]:
    env = dict(os.environ, OPENAI_API_KEY=API_KEY, PYTHONPATH=str(ROOT))
    env.pop("OPENAI_BASE_URL", None)
    return env


def token_command(
    served: ServedEmulator, *, lifetime: float = LIFETIME, scope: str = AI_AZURE_SCOPE,
    text: bool = False,
) -> str:  # fmt: skip
    """A shell command printing a token of the emulator (JSON with expires_on, or text)."""
    url = f"{served.emu.token_url}?lifetime={lifetime}&scope={scope}"
    if text:
        url += "&format=text"
    code = f"import urllib.request; print(urllib.request.urlopen({url!r}).read().decode().strip())"
    return shlex.join([sys.executable, "-c", code])


def calls(served: ServedEmulator) -> list[LoggedRequest]:
    """The API requests received (not the token URL's)."""
    return [r for r in served.emu.log if "/threads/" in r.path]


def seed(served: ServedEmulator, threads: int, messages: int) -> list[str]:
    """Seeds ``threads`` threads of ``messages`` messages on the emulator's loop."""
    return served.call(lambda: served.emu.store.seed(threads, messages))


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.lower().startswith("error")]


Answer = Callable[[str, dict[str, str]], tuple[int, bytes]]


class HostileServer:
    """A stdlib HTTP server on loopback answering every list request with ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[tuple[str, dict[str, str]]] = []
        lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                segments = parts.path.strip("/").split("/")
                thread_id = segments[2] if len(segments) == 4 else ""
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with lock:
                    server.requests.append((thread_id, query))
                status, body = server.answer(thread_id, query)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(10)


def export_args(server: ServedEmulator, out: Path | str, *ids: str) -> list[str]:
    """The export command line against ``server`` into ``out``."""
    return ["export", *ids, "-o", str(out), "--base-url", server.emu.url, "--progress", "log"]
