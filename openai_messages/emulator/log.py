"""The emulator's record of the requests it received, for tests to assert on."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import attrs
from multidict import CIMultiDict

from .faults import Fault

__all__ = ["LoggedRequest", "RequestLog"]


@attrs.define(eq=False)
class LoggedRequest:
    """One request: what came in, what went out, and the fault applied (if any).

    Logged on arrival; ``status``, ``fault`` and ``body`` are filled in as the request
    is handled.  ``status`` stays None while the request is in flight and when the
    connection was dropped before any response (``done`` tells the two apart).
    ``route`` is None for a URL the emulator does not serve.  ``time`` is the
    ``time.monotonic()`` of arrival.
    """

    method: str
    route: str | None
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    time: float
    request_id: str
    body: bytes = b""
    status: int | None = None
    fault: Fault | None = None
    done: bool = False

    @property
    def fault_kind(self) -> str | None:
        """The kind of the applied fault, or None."""
        return None if self.fault is None else self.fault.kind


class RequestLog:
    """A list-like, bounded log of :class:`LoggedRequest` (oldest first)."""

    def __init__(self, maxlen: int | None = 100_000) -> None:
        self._items: deque[LoggedRequest] = deque(maxlen=maxlen)
        self.enabled = True

    def append(self, item: LoggedRequest) -> None:
        """Record one request (no-op while ``enabled`` is False)."""
        if self.enabled:
            self._items.append(item)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(list(self._items))

    def __getitem__(self, index: int) -> LoggedRequest:
        return self._items[index]

    def __repr__(self) -> str:
        return f"RequestLog({len(self._items)} requests)"

    @property
    def last(self) -> LoggedRequest | None:
        """The most recent request, or None."""
        return self._items[-1] if self._items else None

    def filter(
        self,
        route: str | None = None,
        *,
        method: str | None = None,
        status: int | None = None,
        fault: str | None = None,
    ) -> list[LoggedRequest]:
        """The requests matching every given criterion (``fault`` is a fault kind)."""
        return [
            r
            for r in self._items
            if (route is None or r.route == route)
            and (method is None or r.method == method.upper())
            and (status is None or r.status == status)
            and (fault is None or r.fault_kind == fault)
        ]

    def count(
        self,
        route: str | None = None,
        *,
        method: str | None = None,
        status: int | None = None,
        fault: str | None = None,
    ) -> int:
        """How many requests match (same criteria as :meth:`filter`)."""
        return len(self.filter(route, method=method, status=status, fault=fault))

    def statuses(self, route: str | None = None) -> list[int | None]:
        """The statuses answered, in order (None for a connection dropped early)."""
        return [r.status for r in self.filter(route)]

    def clear(self) -> None:
        """Forget every request."""
        self._items.clear()
