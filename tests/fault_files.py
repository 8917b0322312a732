"""Faults injected into the file system calls of an in-process run of the command.

``os.write`` / ``os.fsync`` are wrapped so that calls on a chosen file fail with a chosen
errno, the way a full disk, a failing disk (EIO, reported once by Linux) or read-only
media make them fail; the other files (and the emulator's sockets) are left alone.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["fail", "fd_path", "fsynced_paths", "is_file", "written_bytes"]


def is_file(path: str | os.PathLike[str]) -> Callable[[str], bool]:
    """A ``matches`` for :func:`fail`: the file at ``path`` alone."""
    return lambda name: name == str(path)


def fd_path(fd: int) -> str:
    """The path an open file descriptor names (Linux: /proc/self/fd)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def fail(
    monkeypatch: pytest.MonkeyPatch,
    call: str,
    matches: Callable[[str], bool],
    code: int = errno.EIO,
    *,
    skip: int = 0,
    times: int | None = 1,
    before: Callable[[int], None] | None = None,
) -> list[int]:
    """Make ``os.<call>(fd, ...)`` on a file whose path ``matches`` raise ``OSError(code)``.

    The first ``skip`` matching calls go through, then ``times`` fail (None: all the
    rest); ``before(fd)`` runs just before each failure. Returns a list that counts the
    failures raised.
    """
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    real = getattr(os, call)
    raised: list[int] = []
    seen = [0]

    def wrapped(fd: int, *args: Any) -> Any:
        if isinstance(fd, int) and matches(fd_path(fd)):
            seen[0] += 1
            if seen[0] > skip and (times is None or len(raised) < times):
                if before is not None:
                    before(fd)
                raised.append(fd)
                raise OSError(code, os.strerror(code))
        return real(fd, *args)

    monkeypatch.setattr(os, call, wrapped)
    return raised


def fsynced_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the path of every fsync'd descriptor (files and directories) from now on."""
    real = os.fsync
    paths: list[str] = []

    def wrapped(fd: int) -> None:
        paths.append(fd_path(fd))
        real(fd)

    monkeypatch.setattr(os, "fsync", wrapped)
    return paths


def written_bytes() -> int:
    """Bytes this process has passed to write system calls so far (/proc/self/io wchar)."""
    try:
        with open("/proc/self/io", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    pytest.skip("needs /proc/self/io")
