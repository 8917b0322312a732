"""Constants and helpers shared by the tests."""

from __future__ import annotations

import asyncio

import openai_messages as om
from openai_messages.background import TASK_NAME

API_KEY = "sk-test-0123456789-SECRET"
FAST_RETRIES = om.RetryPolicy(max_retries=3, backoff_base=0.005, backoff_max=0.02)


def pending_tasks() -> set[asyncio.Task[object]]:
    """This package's background tasks that have not finished (the emulator's are not counted)."""
    return {t for t in asyncio.all_tasks() if t.get_name() == TASK_NAME and not t.done()}
