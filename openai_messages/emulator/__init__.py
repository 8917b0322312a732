"""An in-memory OpenAI Messages API server (aiohttp.web) with fault injection.

Example::

    async with Emulator(api_key="sk-emu-test") as emu:
        thread_ids = emu.store.seed(3, 100)
        emu.faults.add(Fault.error(503), route="list", nth=3)        # the 3rd list call
        emu.faults.add(Fault.rate_limited(1), probability=0.2)        # 20%, seeded
        emu.faults.add(Fault.commit_then_drop(), route="create", times=1)
        emu.rate_limit = RateLimit(rate=200, burst=20)
        emu.store.create_thread("thread_demo")                        # threads must exist
        ...  # point a client at emu.url (or emu.url_for("azure" | "azure_v1" | "foundry"))
        emu.conversations.items(conversation_id)                      # what a move stored
        assert emu.log.count("list", status=503) == 1

It works with plain dicts and imports nothing from the rest of ``openai_messages``.
"""

from .access import FLAVOURS, FOUNDRY_API_VERSIONS, Flavour
from .app import EmulatorState, make_app
from .conversation_store import ConversationRecord, ConversationStore, ItemRecord
from .entra import (
    AI_AZURE_SCOPE,
    COGNITIVE_SERVICES_SCOPE,
    AsyncEmulatorCredential,
    EmulatorCredential,
    IssuedToken,
    TokenIssuer,
)
from .faults import Chaos, Fault, FaultRule, Faults
from .log import LoggedRequest, RequestLog
from .ratelimit import RateDecision, RateLimit, format_duration
from .server import DEFAULT_API_KEY, DEFAULT_PROJECT, Emulator, serve
from .store import Store

__all__ = [
    "AI_AZURE_SCOPE",
    "COGNITIVE_SERVICES_SCOPE",
    "DEFAULT_API_KEY",
    "DEFAULT_PROJECT",
    "FLAVOURS",
    "FOUNDRY_API_VERSIONS",
    "AsyncEmulatorCredential",
    "Chaos",
    "ConversationRecord",
    "ConversationStore",
    "Emulator",
    "EmulatorCredential",
    "EmulatorState",
    "Fault",
    "FaultRule",
    "Faults",
    "Flavour",
    "IssuedToken",
    "ItemRecord",
    "LoggedRequest",
    "RateDecision",
    "RateLimit",
    "RequestLog",
    "Store",
    "TokenIssuer",
    "format_duration",
    "make_app",
    "serve",
]
