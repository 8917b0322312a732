"""Constants and helpers shared by the tests."""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import selectors
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import aiohttp
import orjson

import openai_messages as om
from openai_messages._codec import converter
from openai_messages._walk.feed import TASK_NAME
from openai_messages.emulator import Emulator

T = TypeVar("T")
P = ParamSpec("P")

API_KEY = "sk-test-0123456789-SECRET"
FAST_RETRIES = om.RetryPolicy(max_retries=3, backoff_base=0.005, backoff_max=0.02)


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    json: Any = None,
    data: bytes | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    """One request to the emulator; returns status, decoded JSON body and headers (and
    checks that the reply has a request id, as every emulator reply does)."""
    async with http.request(
        method, url, json=json, data=data, params=params, headers=headers
    ) as resp:
        body = await resp.read()
        assert resp.headers["x-request-id"].startswith("req_")
        return resp.status, orjson.loads(body), resp.headers


def pending_tasks() -> set[asyncio.Task[object]]:
    """This package's background tasks that have not finished (the emulator's are not counted)."""
    return {t for t in asyncio.all_tasks() if t.get_name() == TASK_NAME and not t.done()}


CHAOS_FULL = os.environ.get("OM_CHAOS_SCALE", "").strip().lower() == "full"
"""True under ``nox -s chaos`` (``OM_CHAOS_SCALE=full``): the long fault-injection runs."""


async def until(
    condition: Callable[[], object], timeout: float = 10.0, what: Callable[[], str] | str = ""
) -> None:
    """Wait until ``condition()`` is true, checking every 5 ms. A hang guard only: after
    ``timeout`` seconds it raises AssertionError naming ``what`` (a text, or its maker)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not after {timeout} s: {what() if callable(what) else what}")
        await asyncio.sleep(0.005)


async def settle(emu: Emulator | None = None, timeout: float = 3.0) -> None:
    """Wait until no task of this package is pending and ``emu`` has nothing in flight,
    then collect garbage so that an unclosed session or response warns now, in the test.

    Raises AssertionError if that does not happen within ``timeout`` seconds.
    """

    def in_flight() -> int:
        return emu.in_flight if emu is not None else 0

    await until(
        lambda: not pending_tasks() and not in_flight(),
        timeout,
        lambda: f"still pending: {pending_tasks()!r}, in flight: {in_flight()}",
    )
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


class _SkippingSelector(selectors.DefaultSelector):
    """A selector that, when nothing is ready, jumps its clock to the next timer instead of
    waiting for it (real I/O is still polled, and waited for when no timer is due)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout is None:
            return ready or super().select(timeout)
        self.now += max(timeout, 0.0)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock: ``loop.time()`` starts at 0 and moves only when
    every task waits for a timer, straight to that timer. ``asyncio.sleep(5)`` takes no
    real time, and what a test reads from ``loop.time()`` is exact whatever the machine's
    load: for code that takes its clock from the loop (e.g. ``RateLimiter(clock=loop.time)``).
    """

    def __init__(self) -> None:
        self._virtual = _SkippingSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


def run_in_virtual_time(main: Callable[[], Coroutine[Any, Any, T]], guard: float = 3600) -> T:
    """Run ``main()`` to completion on a :class:`VirtualTimeLoop`. ``guard`` (virtual
    seconds) is a hang guard: a coroutine that would wait forever fails with TimeoutError."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(asyncio.wait_for(main(), guard))
    finally:
        loop.close()


def virtual_time(
    test: Callable[P, Coroutine[Any, Any, None]],
) -> Callable[P, None]:
    """Decorates an async test to run on a :class:`VirtualTimeLoop` (its own loop, not
    pytest-asyncio's): sleeps take no real time and ``loop.time()`` readings are exact."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        run_in_virtual_time(lambda: test(*args, **kwargs))

    return run


def loop_clock() -> Callable[[], float]:
    """The running loop's clock (virtual under :func:`virtual_time`), for code that takes a
    ``clock=`` (``RateLimiter(limits, clock=loop_clock())``)."""
    return asyncio.get_running_loop().time


def payload(n: int, thread_id: str = "thread_a", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"msg_{n:04d}",
        "object": "thread.message",
        "created_at": 1700000000 + n,
        "thread_id": thread_id,
        "role": "user",
        "content": [{"type": "text", "text": {"value": f"m{n}", "annotations": []}}],
        "metadata": {},
        **extra,
    }


def message(n: int, thread_id: str = "thread_a", **extra: Any) -> om.Message:
    return converter.structure(payload(n, thread_id, **extra), om.Message)
