"""The emulator's record of the requests it received, for tests to assert on."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

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
    header_items: tuple[str, ...]
    """The request's headers as one flat tuple: name, value, name, value..."""
    time: float
    request_id: str
    body: bytes = b""
    status: int | None = None
    fault: Fault | None = None
    done: bool = False

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The request's headers (names case-insensitive)."""
        items = self.header_items
        return CIMultiDictProxy(CIMultiDict(zip(items[::2], items[1::2], strict=True)))

    @property
    def fault_kind(self) -> str | None:
        """The kind of the applied fault, or None."""
        return None if self.fault is None else self.fault.kind


_SHARED_MAX = 4096
"""How many distinct header names and values a log shares between its entries."""


class RequestLog:
    """A list-like, bounded log of :class:`LoggedRequest` (oldest first).

    An entry costs a few hundred bytes: its headers are one flat tuple, and the names
    and values that repeat from request to request (the key, the user agent, the beta
    header...) are kept once and shared by every entry (:meth:`header_items`).
    """

    def __init__(self, maxlen: int | None = 100_000) -> None:
        self._items: deque[LoggedRequest] = deque(maxlen=maxlen)
        self._shared: dict[str, str] = {}
        self.enabled = True

    def header_items(self, headers: Mapping[str, str]) -> tuple[str, ...]:
        """A request's ``headers`` as :attr:`LoggedRequest.header_items`, repeated
        strings shared."""
        shared = self._shared
        if len(shared) >= _SHARED_MAX:
            shared.clear()  # a bound, should every value be new (idempotency keys are)
        return tuple(shared.setdefault(text, text) for pair in headers.items() for text in pair)

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
