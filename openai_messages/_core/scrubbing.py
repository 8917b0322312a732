"""The one scrubber: blanks secrets out of text, bytes and decoded JSON. Pure.

Written by hand: no library scrubs a token it was never told about, nor one a JSON
writer spelled differently. Known secrets (the key, the tokens a source handled) are
replaced exactly, both as written and as a JSON writer may escape them (``\\uXXXX``,
``\\/``, ``\\"``). With ``shapes=True`` (text from a credential helper: a provider's
exception, a token command's stderr), anything shaped like a credential goes too:
``Bearer``/``Basic`` followed by a value, JWTs, and runs of 32 or more token characters
mixing letters and digits (GUIDs kept: tenant and client ids help a reader and are not
secrets). Server replies are scrubbed of the known secret only, so that their ids stay
readable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from .defaults import MASK

__all__ = ["Scrubber"]

_AUTH_SCHEME: Final = re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"',;]+")
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_LONG_RUN: Final = re.compile(r"[A-Za-z0-9_\-.~+=]{32,}")
_GUID: Final = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_LETTER: Final = re.compile(r"[A-Za-z]")
_DIGIT: Final = re.compile(r"[0-9]")


def _escaped_forms(secret: str) -> set[str]:
    """The ways a JSON writer may spell ``secret`` inside a string literal."""
    plain = orjson.dumps(secret).decode()[1:-1]  # \" and \\ escaped
    every = "".join(_u_escape(c) for c in secret)
    forms = {secret, plain, every, every.upper().replace("\\U", "\\u")}
    forms |= {f.replace("/", "\\/") for f in forms}
    return {f for f in forms if f}


def _u_escape(char: str) -> str:
    encoded = char.encode("utf-16-be")
    return "".join(f"\\u{encoded[i]:02x}{encoded[i + 1]:02x}" for i in range(0, len(encoded), 2))


def _mask_run(match: re.Match[str]) -> str:
    run = match.group()
    if _GUID.fullmatch(run) or not (_LETTER.search(run) and _DIGIT.search(run)):
        return run
    return MASK


class Scrubber:
    """Blanks the ``known`` secrets (and with ``shapes``, anything shaped like one) out of
    text, bytes and decoded JSON; ``repr`` never shows them."""

    __slots__ = ("_escaped", "_known", "_shapes")

    def __init__(self, *known: str, shapes: bool = False) -> None:
        self._known = tuple(sorted({k for k in known if k}, key=len, reverse=True))
        self._shapes = shapes
        self._escaped: list[bytes] | None = None  # made on first use: most replies need none

    def __repr__(self) -> str:
        return f"Scrubber({len(self._known)} secret(s), shapes={self._shapes})"

    def covers(self, secret: str) -> bool:
        """Whether this scrubber blanks out ``secret`` exactly."""
        return secret in self._known

    def text(self, text: str) -> str:
        """``text`` with the secrets blanked out."""
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, MASK)
        if self._shapes:
            text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
            text = _JWT.sub(MASK, text)
            text = _LONG_RUN.sub(_mask_run, text)
        return text

    def bytes(self, body: bytes) -> bytes:
        """``body`` with the secrets blanked out, raw or JSON-escaped."""
        forms = self._escaped
        if forms is None:
            spelled = {form for secret in self._known for form in _escaped_forms(secret)}
            forms = self._escaped = [f.encode() for f in sorted(spelled, key=len, reverse=True)]
        for form in forms:
            if form in body:
                body = body.replace(form, MASK.encode())
        return body

    def json(self, value: Any) -> Any:
        """Decoded JSON with the secrets blanked out of every string, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self.json(v) for k, v in value.items()}
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with the secrets blanked out of every value."""
        return {k: self.text(v) for k, v in headers.items()}

    def safe_to_chain(self, exc: BaseException) -> bool:
        """True when nothing printed with ``exc``'s traceback (its messages, arguments and
        notes, along its cause/context chain) holds what this scrubber blanks out."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            try:
                texts = [str(current), repr(current.args)]
                texts.extend(str(note) for note in getattr(current, "__notes__", ()))
            except Exception:
                return False
            if any(self.text(text) != text for text in texts):
                return False
            current = current.__cause__ or current.__context__
        return True
