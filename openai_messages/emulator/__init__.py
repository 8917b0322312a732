"""An in-memory OpenAI Messages API server (aiohttp.web) with fault injection.

Example::

    async with Emulator(api_key="sk-emu-test") as emu:
        thread_ids = emu.store.seed(3, 100)
        emu.faults.add(Fault.error(503), route="list", nth=3)        # the 3rd list call
        emu.faults.add(Fault.rate_limited(1), probability=0.2)        # 20%, seeded
        emu.faults.add(Fault.commit_then_drop(), route="create", times=1)
        emu.rate_limit = RateLimit(rate=200, burst=20)
        ...  # point a client at emu.url
        assert emu.log.count("list", status=503) == 1

It works with plain dicts and imports nothing from the rest of ``openai_messages``.
"""

from .app import EmulatorState, make_app
from .faults import Chaos, Fault, FaultRule, Faults
from .log import LoggedRequest, RequestLog
from .ratelimit import RateDecision, RateLimit, format_duration
from .server import DEFAULT_API_KEY, Emulator, serve
from .store import Store

__all__ = [
    "DEFAULT_API_KEY",
    "Chaos",
    "Emulator",
    "EmulatorState",
    "Fault",
    "FaultRule",
    "Faults",
    "LoggedRequest",
    "RateDecision",
    "RateLimit",
    "RequestLog",
    "Store",
    "format_duration",
    "make_app",
    "serve",
]
