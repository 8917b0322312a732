"""Shared fixtures: a running emulator on loopback and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import openai_messages as om
from openai_messages.emulator import Emulator

API_KEY = "sk-test-0123456789-SECRET"
FAST_RETRIES = om.RetryPolicy(max_retries=3, backoff_base=0.005, backoff_max=0.02)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """A fresh emulator on an ephemeral loopback port."""
    async with Emulator(api_key=API_KEY) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[om.Client]:
    """A client of ``emu`` with quick retries and no retry budget."""
    async with om.Client(
        api_key=API_KEY, base_url=emu.url, retry_policy=FAST_RETRIES, retry_budget=None
    ) as c:
        yield c
