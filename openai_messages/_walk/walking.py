"""Walks of a listing as the client offers them: the options, and the pager of a listing.

:func:`make_pager` turns a listing's :class:`~openai_messages._core.operations.Operation`,
its path ids and fixed query into a :class:`~openai_messages._walk.pagination.Pager` over a
transport's ``call``: of the items, or (``keep=True``) of the pages with their
:class:`~openai_messages._transport.retry_loop.Response`, which :func:`responses` yields
(the ``with_response`` walks). Every listing of the client (messages, message files,
threads, conversations, conversation items) walks through here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, Final, Generic, TypeVar

import attrs

from .._codec.literals import Order
from .._core.operations import Operation, Request
from .._transport.retry_loop import CALL_OPTION_NAMES, CallOptions, Response, unknown_options
from .feed import FeedRegistry
from .pagination import PageLike, Pager

__all__ = [
    "Paged",
    "ResponsePager",
    "WalkOptions",
    "make_pager",
    "responses",
    "split_walk_options",
]

PageT = TypeVar("PageT", bound=PageLike)


class WalkOptions(CallOptions, total=False):
    """The options of a walk (:meth:`Client.list`, :meth:`Client.list_files`...).

    ``order`` ("desc" by default), ``after``/``before`` (a starting cursor: ``before``
    walks backward), ``page_size`` (the API's ``limit``, 1-100, default 100),
    ``max_items`` (the most items the walk yields), ``prefetch`` (pages fetched ahead,
    default 1), and the per-call options, applied to each page's request.
    """

    order: Order
    after: str | None
    before: str | None
    page_size: int
    max_items: int | None
    prefetch: int


_WALK_KEYS: Final = frozenset(WalkOptions.__annotations__)


def split_walk_options(options: WalkOptions) -> tuple[dict[str, Any], CallOptions]:
    """The walk's own options, and the per-call options of each page's request."""
    if not _WALK_KEYS.issuperset(options):
        raise unknown_options(options, _WALK_KEYS)
    walk = {k: v for k, v in options.items() if k not in CALL_OPTION_NAMES}
    call: Any = {k: v for k, v in options.items() if k in CALL_OPTION_NAMES}
    return walk, call


@attrs.frozen
class Paged(Generic[PageT]):
    """A page as the pager walks it, with the response it came in."""

    data: tuple[Any, ...]
    has_more: bool
    response: Response[PageT]

    @property
    def absent_fields(self) -> frozenset[str]:
        """The page's absent fields (a missing ``has_more`` makes the pager judge by size)."""
        return self.response.value.absent_fields  # type: ignore[no-any-return,attr-defined]


Call = Callable[[Request[Any], CallOptions], Awaitable[Response[Any]]]


def make_pager(
    call: Call,
    op: Operation[Any],
    ids: Mapping[str, object],
    query: Mapping[str, object],
    options: WalkOptions,
    *,
    keep: bool,
    registry: FeedRegistry | None,
) -> Pager[Any, Any]:
    """A Pager of ``op``'s pages (``keep=False``) or of pages with their response
    (``keep=True``).

    ``ids`` (the path's) and ``query`` (the listing's own, such as ``run_id``) are
    checked now, before the walk; each page's request adds ``limit``, ``order`` and its
    cursor. The caller's cursor is checked by the Pager; the next ones are the server's
    ids, passed as server values: sent quoted whatever they hold.
    """
    op.request(ids, query)
    walk, call_options = split_walk_options(options)
    fixed = {**query, "order": walk.get("order", "desc")}

    def build(limit: int, after: str | None, before: str | None) -> Request[Any]:
        return op.request(ids, {**fixed, "limit": limit}, server={"after": after, "before": before})

    fetch: Callable[[int, str | None, str | None], Awaitable[Any]]
    if keep:

        async def fetch(limit: int, after: str | None, before: str | None) -> Any:
            response = await call(build(limit, after, before), call_options)
            return Paged(response.value.data, response.value.has_more, response)

    else:

        async def fetch(limit: int, after: str | None, before: str | None) -> Any:
            return (await call(build(limit, after, before), call_options)).value

    return Pager(fetch, registry=registry, **walk)


class ResponsePager(Generic[PageT]):
    """Every page of a listing as a :class:`~openai_messages.Response`, fetched as you
    iterate: the :class:`~openai_messages.Pager` of ``with_response``. ``cursor``,
    :meth:`collect`, :meth:`first_page` and :meth:`aclose` are the pager's."""

    def __init__(self, pager: Pager[Any, Paged[PageT]]) -> None:
        self._pager = pager
        self._iterator: AsyncGenerator[Response[PageT], None] | None = None

    @property
    def cursor(self) -> str | None:
        """Id of the last item handed out (the starting cursor before any)."""
        return self._pager.cursor

    def __aiter__(self) -> AsyncGenerator[Response[PageT], None]:
        if self._iterator is None:
            self._iterator = self._responses()
        return self._iterator

    async def _responses(self) -> AsyncGenerator[Response[PageT], None]:
        async for paged in self._pager.pages():
            response = paged.response
            if len(paged.data) != len(response.value.data):
                trimmed = attrs.evolve(response.value, data=paged.data)  # type: ignore[misc]
                response = attrs.evolve(response, value=trimmed)
            yield response

    async def collect(self) -> list[Response[PageT]]:
        """Every page of the walk, in a list."""
        return [response async for response in self]

    async def first_page(self) -> Response[PageT]:
        """The first page only (one request)."""
        return (await self._pager.first_page()).response

    async def aclose(self) -> None:
        """Stop the walk: cancel a prefetch in flight and wait for it to end."""
        if self._iterator is not None:
            await self._iterator.aclose()
        await self._pager.aclose()

    async def __aenter__(self) -> ResponsePager[PageT]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def responses(pager: Pager[Any, Any]) -> ResponsePager[Any]:
    """The pages of a ``keep=True`` pager as responses (each trimmed to ``max_items``)."""
    return ResponsePager(pager)
