"""Pure parsers of the rate-limit headers: ``Retry-After``, ``retry-after-ms``, ``x-ratelimit-*``.

Hand-written: the formats are tiny (a number, an HTTP date, a Go style duration), and
every parser must take any server text without raising. ``parse_retry_after`` is also
re-exported by :mod:`openai_messages.ratelimit`, where :mod:`openai_messages.retry`
imports it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Final, NamedTuple

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["RequestLimits", "parse_reset_duration", "parse_retry_after"]

_UNIT_SECONDS: Final = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,  # micro sign, as Go prints it
    "μs": 1e-6,  # Greek mu
    "ns": 1e-9,
}
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|μs|ns|h|m|s)", re.ASCII)
_DURATION: Final = re.compile(rf"(?:{_DURATION_PART.pattern})+", re.ASCII)
_NUMBER: Final = re.compile(r"\d+(?:\.\d*)?|\.\d+", re.ASCII)

_LIMIT: Final = "x-ratelimit-limit-requests"
_REMAINING: Final = "x-ratelimit-remaining-requests"
_RESET: Final = "x-ratelimit-reset-requests"


def parse_reset_duration(value: str) -> float | None:
    """Seconds in an OpenAI/Go style duration ("1s", "120ms", "6m0s", "2m30.5s").

    A bare number is read as seconds. Returns ``None`` for anything else; never raises.
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


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to ``retry-after-ms``, else ``Retry-After``.

    ``Retry-After`` may hold seconds or an HTTP date (compared with ``now``, a
    Unix time, default the current time; a date in the past gives 0). Returns
    ``None`` when both are absent, invalid, negative or not finite. Uncapped: the
    caller decides how long a wait it accepts.
    """
    lowered = lowered_headers(headers)
    millis = _finite(lowered.get("retry-after-ms"))
    if millis is not None and millis >= 0:
        return millis / 1000.0
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return seconds if seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RequestLimits(NamedTuple):
    """What the ``x-ratelimit-*-requests`` headers of one reply say (None: absent or unreadable).

    ``limit``: the server's bucket size; ``remaining``: requests it would take now;
    ``reset``: seconds until its bucket is full again. (A named tuple: one is read
    per reply, on the hot path.)
    """

    limit: float | None = None
    remaining: float | None = None
    reset: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RequestLimits:
        """Read the three headers, ignoring any value that is not a finite number/duration."""
        lowered = lowered_headers(headers)
        reset_text = lowered.get(_RESET)
        return cls(
            limit=_finite(lowered.get(_LIMIT)),
            remaining=_finite(lowered.get(_REMAINING)),
            reset=None if reset_text is None else parse_reset_duration(reset_text),
        )


def lowered_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """``headers`` looked up case-insensitively (a multidict as is, else lowercased keys)."""
    if isinstance(headers, (CIMultiDictProxy, CIMultiDict)):
        return headers
    return {str(k).lower(): v for k, v in headers.items()}


def _finite(value: object) -> float | None:
    if not isinstance(value, str) or not _NUMBER.fullmatch(text := value.strip()):
        return None
    number = float(text)
    return number if math.isfinite(number) else None
