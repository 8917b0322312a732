"""Parsing: bytes of one 100-message page to models, in microseconds per message.

The page comes from :mod:`benchmarks.bench_parse` (a realistic page with annotations,
attachments and image blocks), and so do the official package's parsers (exactly what
its response handling does, default and strict) when it exposes them. Without it, a
page fetched from the emulator and the equivalent calls here stand in.

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
    from openai_messages._codec import converter
    from openai_messages._codec.models import MessagePage

    return lambda: converter.decode(body, MessagePage)


def _labelled(parsers: dict[str, Parse]) -> dict[str, Parse]:
    names = {"official (default)": "openai", "official (strict)": "openai (strict validation)"}
    return {names.get(k, k): v for k, v in parsers.items()}


def _from_bench_parse() -> tuple[bytes, dict[str, Parse]] | None:
    """bench_parse's page and its official parsers, if it exposes them."""
    try:
        from . import bench_parse
    except ImportError:
        return None
    make_page_body = getattr(bench_parse, "make_page_body", None)
    if make_page_body is None:
        return None
    body: bytes = make_page_body()
    official: dict[str, Parse] = {}
    official_parsers = getattr(bench_parse, "official_parsers", None)
    if official_parsers is not None:
        try:
            official = _labelled(official_parsers(body))
        except ImportError:
            official = {}
    return body, official


def _own_official(body: bytes) -> dict[str, Parse]:
    try:
        from openai._models import construct_type
        from openai.pagination import AsyncCursorPage
        from openai.types.beta.threads import Message
    except ImportError:
        return {}
    page_type: Any = AsyncCursorPage[Message]
    return {"openai": lambda: construct_type(type_=page_type, value=json.loads(body))}


def _timer(messages: int, budget: float) -> Timer:
    """Microseconds per message of one parse, repeated for about ``budget`` seconds."""

    def timer(parse: Parse) -> float:
        parse()  # warm up caches and lazy imports
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
    """The parsing set-up: bench_parse's page if it has one, else a page from ``fetch()``."""
    found = _from_bench_parse()
    if found is not None:
        body, official_parsers = found
        source = "bench_parse.make_page_body()"
    else:
        body, official_parsers, source = fetch(), {}, "the emulator"
    if not official_parsers:
        official_parsers = _own_official(body)
    parsers: dict[str, Parse] = {"openai_messages": _om(body)}
    if official:
        parsers.update(official_parsers)
    parsers["orjson.loads (floor)"] = lambda: orjson.loads(body)
    messages = len(orjson.loads(body)["data"])
    return Payload(body, parsers, source, _timer(messages, budget))
