"""The official ``azure-ai-agents`` package lists the emulator's Foundry threads
(issue 22 item 4): ``AgentsClient(...).threads.list()`` walks every page over loopback."""

from __future__ import annotations

import pytest

from openai_messages.emulator import Emulator

agents_aio = pytest.importorskip("azure.ai.agents.aio")


async def test_azure_ai_agents_lists_the_emulators_threads() -> None:
    async with Emulator(entra=True) as emu:
        ids = [emu.store.create_thread(metadata={"n": str(n)}) for n in range(45)]
        credential = emu.async_credential(600.0)  # a token credential stand-in
        async with agents_aio.AgentsClient(emu.url_for("foundry"), credential) as agents:
            # azure-core sends a bearer token over plain http only when told to, per call
            listed = [
                thread
                async for thread in agents.threads.list(limit=20, order="asc", enforce_https=False)
            ]
            newest = [t.id async for t in agents.threads.list(enforce_https=False)]
    assert [t.id for t in listed] == ids
    assert listed[7].metadata == {"n": "7"}
    assert newest == ids[::-1]
    walks = emu.log.filter("list_threads")
    assert [r.status for r in walks] == [200] * len(walks)
    assert walks[0].query == {"api-version": "v1", "limit": "20", "order": "asc"}
    assert [r.query.get("after") for r in walks[:3]] == [None, ids[19], ids[39]]
    assert all(r.headers["Authorization"].startswith("Bearer emu-entra-") for r in walks)
