"""Readers of the reply headers this client acts on (pure; never raise).

``Retry-After`` and ``retry-after-ms`` (how long to wait), ``x-should-retry`` (the
server's retry verdict), ``x-request-id``, ``Date`` (the server's clock) and the
``x-ratelimit-*-requests`` family (its request budget, read by the adaptive limiter).
Every reader takes any mapping of header names to values (aiohttp's ``CIMultiDictProxy``,
a case-sensitive ``MultiDict``, a plain dict); names are matched case-insensitively and
a value that is not a string counts as absent.

Hand-written: the formats are tiny (a number, an HTTP date, a Go style duration) and
every reader must take any server text without raising.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Final, NamedTuple

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "RequestLimits",
    "parse_date",
    "parse_ratelimit",
    "parse_request_id",
    "parse_reset_duration",
    "parse_retry_after",
    "parse_should_retry",
]

_UNIT_SECONDS: Final = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign, as Go prints it
    "\u03bcs": 1e-6,  # Greek mu
    "ns": 1e-9,
}
_DURATION_PART: Final = re.compile(
    "(\\d+(?:\\.\\d*)?|\\.\\d+)(ms|us|\u00b5s|\u03bcs|ns|h|m|s)", re.ASCII
)
_DURATION: Final = re.compile(f"(?:{_DURATION_PART.pattern})+", re.ASCII)
_NUMBER: Final = re.compile(r"\d+(?:\.\d*)?|\.\d+", re.ASCII)
_CASE_INSENSITIVE: Final = (CIMultiDictProxy, CIMultiDict)


def _get(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]`` (``name`` lowercase) matched case-insensitively; None unless a str.

    A case-insensitive multidict answers itself; any other mapping (a case-sensitive
    ``MultiDict`` included) is scanned when the lowercase name is not a key.
    """
    value = headers.get(name)
    if value is None and not isinstance(headers, _CASE_INSENSITIVE):
        for key, item in headers.items():
            if isinstance(key, str) and key.lower() == name:
                value = item
                break
    return value if isinstance(value, str) else None


def _finite(value: str | None) -> float | None:
    """A plain non-negative decimal (no sign, exponent, nan or inf) as a float."""
    if value is None or not _NUMBER.fullmatch(text := value.strip()):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def parse_reset_duration(value: str) -> float | None:
    """Seconds in an OpenAI/Go style duration ("1s", "120ms", "6m0s", "2m30.5s").

    A bare number is read as seconds. Returns ``None`` for anything else.
    """
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return float(text)
    if not _DURATION.fullmatch(text):
        return None
    total = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    return total if math.isfinite(total) else None


def parse_date(headers: Mapping[str, str]) -> float | None:
    """The server's ``Date`` header as a Unix time, None if absent or unreadable."""
    value = _get(headers, "date")
    return _http_date(value) if value is not None else None


def _http_date(value: str) -> float | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return when.timestamp()


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to ``retry-after-ms``, else ``Retry-After``.

    ``Retry-After`` may hold seconds or an HTTP date (compared with ``now``, a Unix
    time, default the current time; a date in the past gives 0). Returns ``None`` when
    both are absent, invalid, negative or not finite. Uncapped: the caller decides how
    long a wait it accepts.
    """
    millis = _finite(_get(headers, "retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    value = _get(headers, "retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return seconds
    when = _http_date(value)
    if when is None:
        return None
    return max(0.0, when - (time.time() if now is None else now))


def parse_should_retry(headers: Mapping[str, str]) -> bool | None:
    """The server's ``x-should-retry`` verdict: True, False, or None when it gave none."""
    value = _get(headers, "x-should-retry")
    if value is None:
        return None
    value = value.strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def parse_request_id(headers: Mapping[str, str]) -> str | None:
    """The server's ``x-request-id``, if it sent one."""
    return _get(headers, "x-request-id") or None


class RequestLimits(NamedTuple):
    """What the ``x-ratelimit-*-requests`` headers of one reply say (None: absent or unreadable).

    ``limit``: the server's bucket size; ``remaining``: requests it would take now;
    ``reset``: seconds until its bucket is full again. (A named tuple: the adaptive
    limiter reads one per reply, on the hot path.)
    """

    limit: float | None = None
    remaining: float | None = None
    reset: float | None = None


def parse_ratelimit(headers: Mapping[str, str]) -> RequestLimits:
    """The request-budget headers of a reply; a value that is not a finite number (or,
    for the reset, a duration) is None."""
    reset = _get(headers, "x-ratelimit-reset-requests")
    return RequestLimits(
        limit=_finite(_get(headers, "x-ratelimit-limit-requests")),
        remaining=_finite(_get(headers, "x-ratelimit-remaining-requests")),
        reset=None if reset is None else parse_reset_duration(reset),
    )
