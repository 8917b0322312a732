"""The clients under test, behind one small interface: walk a thread, walk many.

* ``om``: openai_messages, as its users call it (``client.list``, ``client.fetch_many``).
* ``openai``: the official ``openai.AsyncOpenAI``, with its default (httpx) transport or
  its aiohttp transport, walking with its own auto-pagination; requests and 429 answers
  are counted by an httpx response event hook.
* ``floor``: a bare aiohttp + orjson loop following the same cursors without models.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, Protocol

import aiohttp
import orjson

__all__ = [
    "ORDER",
    "ClientSpec",
    "PageHook",
    "Walker",
    "make_walker",
    "official_available",
]

ORDER: Final = "desc"
"""Every client walks newest first: the API's and both packages' default order."""

PageHook = Callable[[], Awaitable[None]]
"""Work the caller does with each page (e.g. ``asyncio.sleep(0.02)``)."""

Kind = Literal["om", "openai", "floor"]


def official_available() -> bool:
    """Whether the official ``openai`` package can be imported."""
    try:
        import openai  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class ClientSpec:
    """Which client, and how it is configured."""

    kind: Kind
    transport: Literal["httpx", "aiohttp"] = "httpx"
    """For ``openai`` only: its default transport (httpx) or ``DefaultAioHttpClient``."""
    page_size: int | None = 100
    """Items per request; None: the client's own default (20 for ``openai``)."""
    prefetch: int = 1
    """For ``om`` only: pages fetched ahead while the caller works."""
    max_retries: int | None = None
    """None: the client's default."""
    token_provider: bool = False
    """For ``om`` only: the key comes from an async callable, asked before every request."""

    @property
    def label(self) -> str:
        if self.kind == "om":
            prefetch = f" prefetch={self.prefetch}" if self.prefetch != 1 else ""
            return "openai_messages" + prefetch + (" token provider" if self.token_provider else "")
        if self.kind == "floor":
            return "aiohttp+orjson floor"
        limit = "" if self.page_size is None else f", limit={self.page_size}"
        return f"openai ({self.transport}{limit})"

    def with_(self, **changes: Any) -> ClientSpec:
        return replace(self, **changes)


class Walker(Protocol):
    """A client opened on one server."""

    spec: ClientSpec

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (retries included)."""

    @property
    def throttled(self) -> int:
        """Requests answered 429 so far."""

    async def warm_up(self, thread_id: str) -> None:
        """Fetch one page: opens the connection and runs any lazy imports."""

    async def walk(
        self, thread_id: str, per_page: PageHook | None = None, max_messages: int | None = None
    ) -> int:
        """Walk every message of a thread (or the first ``max_messages``); return how many.

        Keeps nothing. With ``per_page``, walks page by page and awaits it after each.
        """

    async def walk_many(self, thread_ids: Sequence[str], concurrency: int) -> tuple[int, int]:
        """Every message of many threads, as lists per thread; (messages, failed threads)."""

    async def aclose(self) -> None: ...


def make_walker(spec: ClientSpec, base_url: str, api_key: str) -> Walker:
    """Open the client ``spec`` describes on the server at ``base_url``."""
    if spec.kind == "om":
        return _OmWalker(spec, base_url, api_key)
    if spec.kind == "openai":
        return _OfficialWalker(spec, base_url, api_key)
    return _FloorWalker(spec, base_url, api_key)


async def _gather_walks(
    walk_collect: Callable[[str], Awaitable[int]], thread_ids: Sequence[str], concurrency: int
) -> tuple[int, int]:
    """``asyncio.gather`` bounded by a semaphore, as users of the official package write it."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(thread_id: str) -> tuple[int, int]:
        async with semaphore:
            try:
                return await walk_collect(thread_id), 0
            except Exception:
                return 0, 1

    done = await asyncio.gather(*(one(t) for t in thread_ids))
    return sum(n for n, _ in done), sum(e for _, e in done)


class _OmWalker:
    def __init__(self, spec: ClientSpec, base_url: str, api_key: str) -> None:
        import openai_messages as om

        self.spec = spec
        self._page_size = spec.page_size or 100

        async def provider() -> str:
            return api_key

        key: Any = provider if spec.token_provider else api_key
        self._client = om.Client(api_key=key, base_url=base_url, max_retries=spec.max_retries)

    @property
    def requests(self) -> int:
        return self._client.stats["requests"]

    @property
    def throttled(self) -> int:
        return self._client.stats["throttled"]

    async def warm_up(self, thread_id: str) -> None:
        pager = self._client.list(thread_id, order=ORDER, page_size=self._page_size)
        await pager.first_page()

    async def walk(
        self, thread_id: str, per_page: PageHook | None = None, max_messages: int | None = None
    ) -> int:
        pager = self._client.list(
            thread_id,
            order=ORDER,
            page_size=self._page_size,
            prefetch=self.spec.prefetch,
            max_items=max_messages,
        )
        count = 0
        if per_page is None:
            async for _ in pager:
                count += 1
            return count
        async for page in pager.pages():
            count += len(page.data)
            await per_page()
        return count

    async def walk_many(self, thread_ids: Sequence[str], concurrency: int) -> tuple[int, int]:
        messages = failed = 0
        results = self._client.fetch_many(
            thread_ids,
            concurrency=concurrency,
            order=ORDER,
            page_size=self._page_size,
            prefetch=self.spec.prefetch,
        )
        async for result in results:
            messages += len(result.messages)
            failed += result.error is not None
        return messages, failed

    async def aclose(self) -> None:
        await self._client.close()


class _OfficialWalker:
    def __init__(self, spec: ClientSpec, base_url: str, api_key: str) -> None:
        import openai

        self.spec = spec
        self._requests = 0
        self._throttled = 0
        hooks = {"response": [self._count]}
        http_client: Any
        if spec.transport == "aiohttp":
            http_client = openai.DefaultAioHttpClient(event_hooks=hooks, trust_env=False)
        else:
            http_client = openai.DefaultAsyncHttpxClient(event_hooks=hooks, trust_env=False)
        options: dict[str, Any] = {}
        if spec.max_retries is not None:
            options["max_retries"] = spec.max_retries
        self._client: Any = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, http_client=http_client, **options
        )
        self._query: dict[str, Any] = {"order": ORDER}
        if spec.page_size is not None:
            self._query["limit"] = spec.page_size

    async def _count(self, response: Any) -> None:
        self._requests += 1
        if response.status_code == 429:
            self._throttled += 1

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def throttled(self) -> int:
        return self._throttled

    def _list(self, thread_id: str) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the Assistants API is
            return self._client.beta.threads.messages.list(thread_id, **self._query)

    async def warm_up(self, thread_id: str) -> None:
        await self._list(thread_id)

    async def walk(
        self, thread_id: str, per_page: PageHook | None = None, max_messages: int | None = None
    ) -> int:
        count = 0
        if per_page is None:
            async for _ in self._list(thread_id):
                count += 1
                if count == max_messages:
                    break
            return count
        page = await self._list(thread_id)
        while True:
            count += len(page.data)
            await per_page()
            if not page.has_next_page():
                return count
            page = await page.get_next_page()

    async def _collect(self, thread_id: str) -> int:
        return len([m async for m in self._list(thread_id)])

    async def walk_many(self, thread_ids: Sequence[str], concurrency: int) -> tuple[int, int]:
        return await _gather_walks(self._collect, thread_ids, concurrency)

    async def aclose(self) -> None:
        await self._client.close()


def _retry_after(headers: Any) -> float:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                pass
    return 0.1


class _FloorWalker:
    """No models, no validation: GET, ``orjson.loads``, follow ``data[-1]["id"]``."""

    MAX_ATTEMPTS = 500

    def __init__(self, spec: ClientSpec, base_url: str, api_key: str) -> None:
        self.spec = spec
        self._base = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "OpenAI-Beta": "assistants=v2",
            "Accept": "application/json",
        }
        self._limit = str(spec.page_size or 100)
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.throttled = 0

    async def _page(self, thread_id: str, after: str | None) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        params = {"limit": self._limit, "order": ORDER}
        if after is not None:
            params["after"] = after
        url = f"{self._base}/threads/{thread_id}/messages"
        for _ in range(self.MAX_ATTEMPTS):
            self.requests += 1
            async with self._session.get(url, params=params, headers=self._headers) as resp:
                body = await resp.read()
                status = resp.status
                wait = _retry_after(resp.headers) if status == 429 else 0.0
            if status == 200:
                page: dict[str, Any] = orjson.loads(body)
                return page
            if status != 429:
                raise RuntimeError(f"HTTP {status} from {url}")
            self.throttled += 1
            await asyncio.sleep(wait)
        raise RuntimeError(f"still throttled after {self.MAX_ATTEMPTS} attempts")

    async def _pages(
        self,
        thread_id: str,
        per_page: PageHook | None,
        keep: list[Any] | None,
        max_messages: int | None = None,
    ) -> int:
        after: str | None = None
        count = 0
        while True:
            page = await self._page(thread_id, after)
            data = page["data"]
            count += len(data)
            if keep is not None:
                keep.extend(data)
            if per_page is not None:
                await per_page()
            if not page.get("has_more") or not data:
                return count
            if max_messages is not None and count >= max_messages:
                return count
            after = data[-1]["id"]

    async def warm_up(self, thread_id: str) -> None:
        await self._page(thread_id, None)

    async def walk(
        self, thread_id: str, per_page: PageHook | None = None, max_messages: int | None = None
    ) -> int:
        return await self._pages(thread_id, per_page, None, max_messages)

    async def _collect(self, thread_id: str) -> int:
        kept: list[Any] = []
        await self._pages(thread_id, None, kept)
        return len(kept)

    async def walk_many(self, thread_ids: Sequence[str], concurrency: int) -> tuple[int, int]:
        return await _gather_walks(self._collect, thread_ids, concurrency)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
