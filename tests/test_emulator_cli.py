"""``python -m openai_messages.emulator`` as a subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


async def test_module_entry_serves_and_exits_cleanly() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "openai_messages.emulator",
        "--port",
        "0",
        "--seed-threads",
        "2",
        "--seed-messages",
        "30",
        "--api-key",
        "sk-cli",
        "--rate-limit",
        "500",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        second = (await asyncio.wait_for(proc.stdout.readline(), 5)).decode().strip()
        third = (await asyncio.wait_for(proc.stdout.readline(), 5)).decode().strip()
        assert first.startswith("OPENAI_BASE_URL=http://127.0.0.1:")
        assert first.endswith("/v1")
        assert second == "OPENAI_API_KEY=sk-cli"
        base_url = first.split("=", 1)[1]
        thread_ids = third.split("=", 1)[1].split(",")
        assert len(thread_ids) == 2
        url = f"{base_url}/threads/{thread_ids[0]}/messages"
        async with (
            aiohttp.ClientSession(headers={"Authorization": "Bearer sk-cli"}) as http,
            http.get(url, params={"limit": "100"}) as resp,
        ):
            assert resp.status == 200
            assert resp.headers["x-ratelimit-limit-requests"] == "500"
            assert len((await resp.json())["data"]) == 30
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        proc = await _terminated_copy(env)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _terminated_copy(env: dict[str, str]) -> asyncio.subprocess.Process:
    """SIGTERM exits cleanly too."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "openai_messages.emulator",
        "--port",
        "0",
        "--chaos",
        "3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("OPENAI_BASE_URL=")
    proc.terminate()
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    return proc
