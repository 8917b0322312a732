"""``python -m openai_messages.emulator`` as a subprocess."""

from __future__ import annotations

import asyncio
import signal

import aiohttp

from ..emulator_support import spawn_emulator


async def test_module_entry_serves_and_exits_cleanly() -> None:
    proc = await spawn_emulator(
        *("--port", "0", "--seed-threads", "2", "--seed-messages", "30"),
        *("--api-key", "sk-cli", "--rate-limit", "500"),
        stderr=asyncio.subprocess.PIPE,
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
        proc = await _terminated_copy()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _terminated_copy() -> asyncio.subprocess.Process:
    """SIGTERM exits cleanly too."""
    proc = await spawn_emulator("--port", "0", "--chaos", "3", stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("OPENAI_BASE_URL=")
    proc.terminate()
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    return proc


async def test_module_entry_loose_ids_and_entra_mode() -> None:
    proc = await spawn_emulator(
        *("--port", "0", "--seed-threads", "1", "--seed-messages", "3", "--loose-ids", "--entra"),
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 30)).decode() for _ in range(3)]
        root = lines[0].strip().split("=", 1)[1].removesuffix("/v1")
        thread_id = lines[2].strip().split("=", 1)[1]
        foundry = f"{root}/api/projects/p/threads/{thread_id}/messages?api-version=v1"
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{root}/v1/threads/t1", headers={"Authorization": "Bearer sk-emu-test"}
            ) as resp:
                assert resp.status == 404  # a loose id is looked up, not refused with 400
            async with http.get(foundry, headers={"Authorization": "Bearer sk-emu-test"}) as resp:
                assert resp.status == 401  # Entra mode: the key is no token
            async with http.get(f"{root}/_emulator/token", params={"format": "text"}) as resp:
                token = (await resp.text()).strip()
            async with http.get(foundry, headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200
                assert len((await resp.json())["data"]) == 3
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
