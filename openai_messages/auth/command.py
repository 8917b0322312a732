"""Tokens printed by a command, such as
``az account get-access-token --resource https://ai.azure.com --query accessToken -o tsv``.

A ``str`` command runs through the shell (``/bin/sh -c``; ``cmd.exe`` on Windows), so
it can be written as in a terminal, pipes and quotes included; a sequence of strings
runs as an argv, without a shell. The command's stdin is empty, its stdout holds either
the token alone (one trailing newline is stripped) or a JSON object with
``accessToken`` and ``expires_on`` (epoch seconds) or ``expiresOn`` (az's local
``YYYY-MM-DD HH:MM:SS.ffffff``, or ISO 8601). It runs again when the token is refused
(a 401), about to expire, or older than ``lifetime`` seconds. On a timeout or a
cancellation the command is killed: its whole process group on POSIX (it runs in a
session of its own), the command itself on Windows.
"""

from __future__ import annotations

import asyncio
import datetime
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import orjson

from .._core.scrubbing import Scrubber
from ..errors import InvalidArgumentError
from .cached import DEFAULT_REFRESH_MARGIN, CachedToken, Clock, Lease
from .source import CredentialError, token_problem

__all__ = ["DEFAULT_COMMAND_TIMEOUT", "CommandToken"]

DEFAULT_COMMAND_TIMEOUT = 60.0
STDERR_TAIL = 400
_POSIX = sys.platform != "win32"
# The words of a command's stdout that could be (part of) the token it printed.
_WORDS = re.compile(r"[^\s\"',:{}]{8,}")


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgumentError(f"{name} must be a positive number of seconds")
    return float(value)


def _parse_expiry(data: dict[str, Any]) -> float | None:
    """Epoch seconds from ``expires_on`` or ``expiresOn``, or None when neither reads."""
    epoch = data.get("expires_on")
    if isinstance(epoch, str):
        try:
            epoch = float(epoch)
        except ValueError:
            epoch = None
    if isinstance(epoch, (int, float)) and not isinstance(epoch, bool) and math.isfinite(epoch):
        return float(epoch)
    text = data.get("expiresOn")
    if not isinstance(text, str):
        return None
    text = text.strip()
    if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not read "Z"
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp()  # a naive time is local, as az prints it


class CommandToken(CachedToken):
    """Runs ``command`` to get a token and caches it (see the module's docstring)."""

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        lifetime: float | None = None,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Clock = time.time,
    ) -> None:
        if isinstance(command, str):
            if not command.strip():
                raise InvalidArgumentError("the token command is empty")
            words = shlex.split(command, posix=_POSIX) or [command]
            self._program = os.path.basename(words[0])
        else:
            argv = list(command)
            if not argv or not all(isinstance(a, str) for a in argv) or not argv[0]:
                raise InvalidArgumentError("the token command must be a non-empty list of str")
            self._program = os.path.basename(argv[0])
        super().__init__(refresh_margin=refresh_margin, clock=clock)
        self._command = command if isinstance(command, str) else tuple(command)
        self.lifetime = None if lifetime is None else _positive("lifetime", lifetime)
        self.timeout = _positive("timeout", timeout)

    async def _spawn(self) -> asyncio.subprocess.Process:
        options: dict[str, Any] = {
            "stdin": subprocess.DEVNULL,
            "stdout": subprocess.PIPE,
            "stderr": subprocess.PIPE,
        }
        if _POSIX:
            options["start_new_session"] = True
        try:
            if isinstance(self._command, str):
                return await asyncio.create_subprocess_shell(self._command, **options)
            return await asyncio.create_subprocess_exec(*self._command, **options)
        except OSError as exc:
            raise CredentialError(
                f"the token command {self._program!r} could not start: "
                f"{type(exc).__name__}: {exc.strerror or exc}"
            ) from None

    @staticmethod
    def _kill(proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is not None:
            return
        try:
            if _POSIX:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except (ProcessLookupError, PermissionError):
            pass

    async def _run(self) -> tuple[int, bytes, bytes]:
        proc = await self._spawn()
        finished = False
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(), self.timeout)
            finished = True
        except asyncio.TimeoutError:
            raise CredentialError(
                f"the token command {self._program!r} did not finish within "
                f"{self.timeout:g} s (it was killed)"
            ) from None
        finally:
            if not finished:
                self._kill(proc)
                await asyncio.shield(proc.wait())
        assert proc.returncode is not None
        return proc.returncode, stdout, stderr

    def _failure(self, problem: str, stdout: bytes, stderr: bytes) -> CredentialError:
        known = _WORDS.findall(stdout.decode("utf-8", "replace"))
        tail = " ".join(stderr.decode("utf-8", "replace").split())[-STDERR_TAIL:]
        message = f"the token command {self._program!r} {problem}"
        if tail:
            message = f"{message}; its stderr ends: {Scrubber(*known, shapes=True).text(tail)}"
        return CredentialError(message)

    def _parse(self, stdout: bytes) -> tuple[str, float | None]:
        what = f"the token command {self._program!r}"
        try:
            text = stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise CredentialError(f"{what} printed bytes that are not UTF-8") from None
        if text.lstrip().startswith("{"):
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise CredentialError(f"{what} printed something that is not JSON") from None
            token = data.get("accessToken", data.get("access_token"))
            if token is None:
                raise CredentialError(f"{what} printed JSON without an accessToken")
            expiry = _parse_expiry(data)
        else:
            token = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
            if "\n" in token or "\r" in token:
                raise CredentialError(f"{what} printed several lines, not one token")
            expiry = None
        problem = token_problem(token)
        if problem is not None:
            raise CredentialError(f"{what} printed a token that {problem}")
        assert isinstance(token, str)
        if self.lifetime is not None:
            until = self._clock() + self.lifetime
            expiry = until if expiry is None else min(expiry, until)
        return token, expiry

    async def _fetch(self) -> Lease:
        status, stdout, stderr = await self._run()
        if status != 0:
            raise self._failure(f"exited with status {status}", stdout, stderr)
        token, expiry = self._parse(stdout)
        return self.lease(token, expiry, what=f"the token command {self._program!r}")

    def __repr__(self) -> str:
        return f"CommandToken({self._program!r})"
