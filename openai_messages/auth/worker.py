"""A daemon thread that runs a token provider's blocking calls, one after another.

Written by hand rather than with ``asyncio.to_thread``: that runs on the loop's default
executor, whose threads are joined when ``asyncio.run`` ends and when the interpreter
exits, so a provider that never returns (an interactive login nobody answers) would hang
the program after its calls had long timed out. A daemon thread is not waited for. It
also costs about half the CPU per call of the executor's hand-offs. Each job carries its
loop, so one worker serves every loop that uses the source; a caller that stops waiting
(cancelled, or past its deadline) leaves the job to finish, and its result is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Worker"]

_Job = tuple[
    asyncio.AbstractEventLoop,
    "asyncio.Future[Any]",
    contextvars.Context,
    Callable[..., Any],
    tuple[Any, ...],
]


def _settle(future: asyncio.Future[Any], ok: bool, outcome: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(outcome)
    else:
        future.set_exception(outcome)


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while (job := jobs.get()) is not None:
        loop, future, context, fn, args = job
        if future.cancelled():
            continue
        try:
            ok, outcome = True, context.run(fn, *args)
        except BaseException as exc:
            ok, outcome = False, exc
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
            loop.call_soon_threadsafe(_settle, future, ok, outcome)
        del job, future, outcome


class Worker:
    """Runs blocking calls in a daemon thread of its own, started on first use."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        weakref.finalize(self, self._jobs.put, None)

    def _ensure_started(self) -> None:
        # is_alive(): after a fork the child has no worker thread, only its record.
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                thread = threading.Thread(
                    target=_serve, args=(self._jobs,), name=self._name, daemon=True
                )
                thread.start()
                self._thread = thread

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in the worker thread, in this task's context."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._ensure_started()
        self._jobs.put((loop, future, contextvars.copy_context(), fn, args))
        return await future
