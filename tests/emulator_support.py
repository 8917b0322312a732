"""Helpers of the emulator's route tests: an emulator and a session with its key, the error
shape, the API's prefixes, one request, and the emulator as a subprocess."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from openai_messages.emulator import Emulator

from .support import call as routes_call

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-emu-routes-SECRET"


@pytest.fixture
async def server() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, seed=5) as emu:
        yield emu


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as session:
        yield session


def assert_error(body: Any, *, param: str | None = None, code: str | None = None) -> None:
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str)
    assert err["message"]
    assert err["type"] == "invalid_request_error"
    if param is not None:
        assert err["param"] == param
    if code is not None:
        assert err["code"] == code


#: flavour -> (URL suffix after the root, query string)
PREFIXES = {
    "openai": ("/v1", ""),
    "azure": ("/openai", "?api-version=2024-05-01-preview"),
    "azure_v1": ("/openai/v1", ""),
    "foundry": ("/api/projects/proj", "?api-version=v1"),
}


async def status_and_body(
    http: aiohttp.ClientSession, method: str, url: str, json: Any = None, **options: Any
) -> tuple[int, Any]:
    """One request (checked as the route tests check theirs): status and decoded body."""
    status, body, _ = await routes_call(http, method, url, json=json, **options)
    return status, body


def url(server: Emulator, flavour: str, path: str) -> str:
    prefix, query = PREFIXES[flavour]
    return f"{server.root_url}{prefix}{path}{query}"


async def spawn_emulator(*args: str, stderr: int) -> asyncio.subprocess.Process:
    """``python -m openai_messages.emulator ARGS`` from this checkout, stdout piped."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "openai_messages.emulator",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        env=env,
    )
