"""Parsing: bytes of one 100-message page to models, in microseconds per message.

The page and the timing loop come from :mod:`benchmarks.bench_parse` (a realistic page
with annotations, attachments and image blocks; the official package's parse exactly as
its response handling does it, default and strict). If that module cannot be imported,
a page fetched from the emulator and the equivalent calls here stand in.

* ``openai_messages``: ``converter.decode(body, MessagePage)``;
* ``openai``: ``json.loads`` then ``construct_type`` into ``AsyncCursorPage[Message]``
  (its default, non-strict mode), and the same with strict validation;
* the floor: ``orjson.loads`` (dicts, no models).
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from .clients import ORDER

__all__ = ["Payload", "fetch_page", "payload"]

Parse = Callable[[], object]
Timer = Callable[[Parse], float]


class Payload:
    """One page body, the parse functions by client label, and how to time one of them."""

    def __init__(self, body: bytes, parsers: dict[str, Parse], source: str, timer: Timer) -> None:
        self.body = body
        self.parsers = parsers
        self.source = source
        self.time = timer


async def fetch_page(base_url: str, api_key: str, thread_id: str, limit: int = 100) -> bytes:
    """The raw body of one page of ``thread_id``, as the emulator sends it."""
    headers = {"Authorization": f"Bearer {api_key}", "OpenAI-Beta": "assistants=v2"}
    params = {"limit": str(limit), "order": ORDER}
    url = f"{base_url.rstrip('/')}/threads/{thread_id}/messages"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params=params, headers=headers) as resp,
    ):
        resp.raise_for_status()
        return await resp.read()


def _om(body: bytes) -> Parse:
    from openai_messages import converter
    from openai_messages.models import MessagePage

    return lambda: converter.decode(body, MessagePage)


def _labelled(parsers: dict[str, Parse]) -> dict[str, Parse]:
    names = {"official (default)": "openai", "official (strict)": "openai (strict validation)"}
    return {names.get(k, k): v for k, v in parsers.items()}


def _from_bench_parse(budget: float) -> Payload | None:
    try:
        from . import bench_parse
    except ImportError:
        return None
    body = bench_parse.make_page_body()
    official: dict[str, Parse] = {}
    try:
        official = _labelled(bench_parse.official_parsers(body))
    except Exception:
        official = {}
    parsers: dict[str, Parse] = {"openai_messages": _om(body), **official}
    parsers["orjson.loads (floor)"] = lambda: orjson.loads(body)
    n = bench_parse.N_MESSAGES

    def timer(parse: Parse) -> float:
        return float(bench_parse.per_message_us(parse, repeat=3, budget_s=budget)) * 100 / n

    return Payload(body, parsers, "bench_parse.make_page_body()", timer)


def _own_official(body: bytes) -> dict[str, Parse]:
    try:
        from openai._models import construct_type
        from openai.pagination import AsyncCursorPage
        from openai.types.beta.threads import Message
    except ImportError:
        return {}
    page_type: Any = AsyncCursorPage[Message]
    return {"openai": lambda: construct_type(type_=page_type, value=json.loads(body))}


def _own_timer(messages: int, budget: float) -> Timer:
    def timer(parse: Parse) -> float:
        parse()
        start = time.perf_counter()
        parse()
        repeats = max(3, int(budget / max(time.perf_counter() - start, 1e-7)))
        gc.collect()
        start = time.perf_counter()
        for _ in range(repeats):
            parse()
        return (time.perf_counter() - start) / repeats / messages * 1e6

    return timer


def payload(official: bool, budget: float, fetch: Callable[[], bytes]) -> Payload:
    """The parsing set-up: bench_parse's if importable, else a page from ``fetch()``."""
    found = _from_bench_parse(budget)
    if found is None:
        body = fetch()
        parsers: dict[str, Parse] = {"openai_messages": _om(body), **_own_official(body)}
        parsers["orjson.loads (floor)"] = lambda: orjson.loads(body)
        messages = len(orjson.loads(body)["data"])
        found = Payload(body, parsers, "an emulator page", _own_timer(messages, budget))
    if not official:
        found.parsers = {k: v for k, v in found.parsers.items() if not k.startswith("openai ")}
        found.parsers.pop("openai", None)
    return found
