"""An in-memory OpenAI Messages API server (aiohttp.web) with fault injection.

>>> async with Emulator(api_key="sk-emu-test") as emu:  # doctest: +SKIP
...     emu.store.seed(3, 100)
...     emu.faults.add(Fault.error(503), route="list", nth=3)

It works with plain dicts and imports nothing from the rest of ``openai_messages``.
"""

from .app import EmulatorState, make_app
from .faults import Chaos, Fault, FaultRule, Faults
from .log import LoggedRequest, RequestLog
from .ratelimit import RateLimit, format_duration
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
    "RateLimit",
    "RequestLog",
    "Store",
    "format_duration",
    "make_app",
    "serve",
]
