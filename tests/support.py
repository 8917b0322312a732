"""Constants and helpers shared by the tests."""

from __future__ import annotations

import asyncio
import gc
import os
import traceback
from pathlib import Path
from typing import Any

import orjson

import openai_messages as om
from openai_messages.background import TASK_NAME
from openai_messages.emulator import Emulator

API_KEY = "sk-test-0123456789-SECRET"
FAST_RETRIES = om.RetryPolicy(max_retries=3, backoff_base=0.005, backoff_max=0.02)


def pending_tasks() -> set[asyncio.Task[object]]:
    """This package's background tasks that have not finished (the emulator's are not counted)."""
    return {t for t in asyncio.all_tasks() if t.get_name() == TASK_NAME and not t.done()}


CHAOS_FULL = os.environ.get("OM_CHAOS_SCALE", "").strip().lower() == "full"
"""True under ``nox -s chaos`` (``OM_CHAOS_SCALE=full``): the long fault-injection runs."""


async def settle(emu: Emulator | None = None, timeout: float = 3.0) -> None:
    """Wait until no task of this package is pending and ``emu`` has nothing in flight,
    then collect garbage so that an unclosed session or response warns now, in the test.

    Raises AssertionError if that does not happen within ``timeout`` seconds.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while pending_tasks() or (emu is not None and emu.in_flight):
        if asyncio.get_running_loop().time() > deadline:
            in_flight = emu.in_flight if emu is not None else 0
            raise AssertionError(f"still pending: {pending_tasks()!r}, in flight: {in_flight}")
        await asyncio.sleep(0.005)
    gc.collect()
    assert pending_tasks() == set()


_HEADER_KEYS = ("journal", "format", "order", "nonce", "target", "map")


def read_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A state journal as one dict, as of its last whole record: the header's keys, then
    each record's keys (latest wins) and its ``threads`` merged thread by thread."""
    data = Path(path).read_bytes()
    try:
        whole: dict[str, Any] = orjson.loads(data)  # a state of the older, one-object format
    except orjson.JSONDecodeError:
        pass
    else:
        if "journal" not in whole:
            return whole
    lines = data.split(b"\n")
    header = orjson.loads(lines[0])
    merged: dict[str, Any] = {k: v for k, v in header.items() if k != "journal"}
    threads: dict[str, Any] = {}
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            if number == len(lines):
                break  # a record being written (torn): not committed yet
            raise
        threads.update(record.pop("threads", {}))
        merged.update(record)
    merged["threads"] = threads
    return merged


def write_state(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` (as :func:`read_state` gives it) as a journal of one snapshot."""
    header = {"journal": 1, **{k: state[k] for k in _HEADER_KEYS[1:] if k in state}}
    record = {k: v for k, v in state.items() if k not in _HEADER_KEYS}
    Path(path).write_bytes(orjson.dumps(header) + b"\n" + orjson.dumps(record) + b"\n")


def exception_texts(exc: BaseException) -> list[str]:
    """Every text an exception shows: str, repr, args and attributes of it and of every
    exception chained to it, and the formatted traceback."""
    texts = ["".join(traceback.format_exception(exc))]
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        texts += [f"{k}={v!r}" for k, v in getattr(current, "__dict__", {}).items()]
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
        group = getattr(current, "exceptions", None)  # an exception group
        if isinstance(group, tuple):
            stack += [e for e in group if isinstance(e, BaseException)]
    return texts


def spellings(secret: str) -> set[str]:
    """The ways ``secret`` may be printed: as is, as its UTF-8 bytes shown by ``repr``
    (``\\xc3\\xa9``, once or twice escaped) and read as Latin-1 (``Ã©``)."""
    raw = secret.encode()
    shown = repr(raw)[2:-1]
    return {secret, shown, shown.replace("\\", "\\\\"), raw.decode("latin-1")}


def assert_nowhere(secret: str, exc: BaseException) -> None:
    """Fail if ``secret``, in any of its spellings, is in any text ``exc`` shows."""
    for text in exception_texts(exc):
        for form in spellings(secret):
            assert form not in text, f"the secret leaked: {text[:400]!r}"
