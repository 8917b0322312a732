"""The machine and software a run was measured on."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from importlib import metadata
from typing import Any

__all__ = ["machine_info"]

PACKAGES = (
    "openai_messages",
    "openai",
    "httpx2",
    "httpx",
    "aiohttp",
    "orjson",
    "attrs",
    "cattrs",
    "tenacity",
    "pydantic",
    "psutil",
    "matplotlib",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return round(float(psutil.virtual_memory().total) / 2**30, 1)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        if name == "openai_messages":
            try:
                from openai_messages import __version__

                return str(__version__)
            except ImportError:
                return None
        return None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python, package versions and the date."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(affinity) if affinity is not None else os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": {name: _version(name) for name in PACKAGES if _version(name) is not None},
    }
