"""Blanking secrets out of text that is about to become an error message or a log line.

Written by hand: no library scrubs unknown tokens. Known values (the tokens a source
handled) are replaced exactly; on top of that, anything shaped like a credential is
blanked: ``Bearer``/``Basic`` followed by a value, JWTs, and long runs of token
characters mixing letters and digits (32 or more, GUIDs excepted: tenant and client
ids help a reader and are not secrets).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from .._core.defaults import MASK

__all__ = ["safe_to_chain", "scrub"]


_AUTH_SCHEME: Final = re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"',;]+")
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_LONG_RUN: Final = re.compile(r"[A-Za-z0-9_\-.~+=]{32,}")
_GUID: Final = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_LETTER: Final = re.compile(r"[A-Za-z]")
_DIGIT: Final = re.compile(r"[0-9]")


def _mask_run(match: re.Match[str]) -> str:
    run = match.group()
    if _GUID.fullmatch(run) or not (_LETTER.search(run) and _DIGIT.search(run)):
        return run
    return MASK


def scrub(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with every ``known`` secret and anything that looks like one blanked out."""
    for secret in sorted({k for k in known if k}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _JWT.sub(MASK, text)
    return _LONG_RUN.sub(_mask_run, text)


def _texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc.args)]
    texts.extend(str(note) for note in getattr(exc, "__notes__", ()))
    return texts


def safe_to_chain(exc: BaseException, known: Iterable[str] = ()) -> bool:
    """True when nothing printed with ``exc``'s traceback (its messages, arguments and
    notes, along its cause/context chain) holds a secret or something shaped like one."""
    known = tuple(known)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        try:
            texts = _texts(current)
        except Exception:
            return False
        if any(scrub(text, known) != text for text in texts):
            return False
        current = current.__cause__ or current.__context__
    return True
