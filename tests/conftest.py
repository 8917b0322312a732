"""Shared fixtures: a running emulator on loopback and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

import openai_messages as om
from openai_messages.emulator import Emulator

from .support import API_KEY, FAST_RETRIES

if TYPE_CHECKING:
    from .cli_support import ServedEmulator
    from .import_support import KeylessProxy


@pytest.fixture
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    """A fresh emulator on an ephemeral loopback port.

    A test module may set ``EMULATOR_OPTIONS = {...}`` (keyword arguments of
    :class:`Emulator`, e.g. ``strict_ids=False, implicit_threads=True``) to loosen it.
    """
    options = getattr(request.module, "EMULATOR_OPTIONS", {})
    async with Emulator(api_key=API_KEY, **options) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[om.Client]:
    """A client of ``emu`` with quick retries and no retry budget."""
    async with om.Client(
        api_key=API_KEY, base_url=emu.url, retry_policy=FAST_RETRIES, retry_budget=None
    ) as c:
        yield c


@pytest.fixture
def entra() -> Iterator[ServedEmulator]:
    """An emulator that takes Entra tokens of its own token URL (Foundry, Azure)."""
    from .cli_support import ServedEmulator

    server = ServedEmulator(entra=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def served() -> Iterator[ServedEmulator]:
    """An emulator serving from a thread of its own, for tests that run the CLI in-process."""
    from .cli_support import ServedEmulator

    server = ServedEmulator().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def keyless(served: ServedEmulator) -> Iterator[KeylessProxy]:
    """The served emulator behind a proxy that drops Idempotency-Key (a server that
    ignores it)."""
    from .import_support import KeylessProxy

    proxy = KeylessProxy(served.emu.url).start()
    try:
        yield proxy
    finally:
        proxy.stop()
