"""The aiohttp side of the seam: one session, one exchange, aiohttp errors made typed.

Everything else (redirects, the body cap's rule, retries, decoding) is above it, in
:mod:`openai_messages._transport.seam` and :mod:`openai_messages._transport.retry_loop`.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .. import errors
from .._core.exchange import BodyLimit, HttpReply, PreparedRequest
from .._core.unchained import raise_alone
from .seam import Seam

__all__ = ["AiohttpSeam"]

_CHUNK = 256 * 1024
_Proxy = tuple["URL | None", "aiohttp.BasicAuth | None"]
_NO_PROXY: _Proxy = (None, None)
# a bytes literal as repr shows it: how aiohttp quotes the line its parser refused
_RAW = re.compile(r"""\bb'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*\"""")


class AiohttpSeam(Seam):
    """Exchanges over one aiohttp session (the caller's, or one it opens and closes).

    The session it opens honours ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` (proxy
    credentials from the proxy URL or ``~/.netrc``, as aiohttp reads them) when
    ``trust_env``, and verifies TLS as ``ssl`` says (True: the system's CA certificates;
    an ``SSLContext``; False: no verification).

    The proxy is looked up once per origin, here, rather than by aiohttp's own
    ``trust_env``, which looks it up (and reads ``~/.netrc`` in a worker thread) for
    every request: measured, that doubled the client CPU of a walk (17 us a message).
    So the environment is read when a client first talks to an origin, not later.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        max_response_bytes: int,
        connection_limit: int,
        scrub: Callable[[str], str],
        trust_env: bool = True,
        ssl: ssl.SSLContext | bool = True,
    ) -> None:
        super().__init__(max_response_bytes)
        self._trust_env = trust_env
        self._ssl = ssl
        self._session = session
        self._owns_session = session is None
        self._connection_limit = connection_limit
        self._scrub = scrub
        self._proxies: dict[tuple[str, str | None, int | None], _Proxy] = {}
        self.closed = False

    def session(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running loop."""
        if self.closed:
            raise errors.ClientClosedError("this client is closed; create a new one")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._connection_limit, ttl_dns_cache=300, ssl=self._ssl
            )
            self._session = aiohttp.ClientSession(connector=connector)
            # aiohttp silently re-sends an idempotent request once when a kept-alive
            # connection breaks. Retries are this client's job: it counts them, spends the
            # retry budget on them, and must see a failed DELETE to report it right.
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False
        return self._session

    def open(self) -> None:
        self.session()

    @property
    def owns_open_session(self) -> bool:
        return self._owns_session and self._session is not None and not self.closed

    async def close(self) -> None:
        """Close the owned session (a caller's own session is left open)."""
        if self.closed:
            return
        self.closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()

    def _proxy(self, url: str) -> _Proxy:
        """The proxy (and its credentials) for ``url``'s origin, from the environment."""
        target = URL(url)
        origin = (target.scheme, target.host, target.port)
        found = self._proxies.get(origin)
        if found is None:
            try:
                found = get_env_proxy_for_url(target)
            except LookupError:  # none for this origin, or NO_PROXY names it
                found = _NO_PROXY
            self._proxies[origin] = found
        return found

    async def exchange(self, request: PreparedRequest) -> HttpReply:
        session = self.session()
        proxy, proxy_auth = self._proxy(request.url) if self._trust_env else _NO_PROXY
        try:
            async with session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                proxy=proxy,
                proxy_auth=proxy_auth,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=request.timeout,
                    connect=request.connect_timeout,
                    sock_read=request.read_timeout,
                ),
            ) as resp:
                return HttpReply(resp.status, resp.headers, await self._read(resp), request.url)
        except Exception as exc:  # mapped, or raised as it is
            failure = self._failure(exc)
            if failure is None:
                raise
            _defuse(exc)
        # Raised outside the handler, so that nothing aiohttp made is chained to it (its
        # parser errors hold the raw line, an echoed key included, and the request's
        # headers): the chain, args and traceback text of the error are this client's.
        raise_alone(failure)

    def _failure(self, exc: Exception) -> errors.OpenAIMessagesError | None:
        """The typed error of an aiohttp or asyncio failure (None: not one to map)."""
        if isinstance(exc, (AssertionError, RuntimeError)):
            # closed under a request in flight (aiohttp asserts on a closed connector; with
            # trust_env it awaits the proxy and netrc lookup, a window for close() to run)
            if self.closed:
                return errors.ClientClosedError("the client was closed during this request")
            return None
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return errors.APITimeoutError(
                self._describe("timed out connecting", exc), maybe_delivered=False
            )
        if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            return errors.APITimeoutError(self._describe("timed out", exc))
        if isinstance(exc, aiohttp.ClientConnectorError):
            return errors.APIConnectionError(
                self._describe("could not connect", exc), maybe_delivered=False
            )
        if isinstance(exc, aiohttp.ClientResponseError):  # the reply's head is malformed
            return errors.APIConnectionError(
                self._describe("the reply could not be parsed", exc, exc.message)
            )
        if isinstance(exc, (aiohttp.ClientError, OSError)):
            return errors.APIConnectionError(self._describe("the connection failed", exc))
        return None

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        """The decompressed body, counted against the cap as it is decompressed."""
        limit = BodyLimit(self.max_response_bytes, resp.status, resp.headers)
        declared = resp.content_length
        encoded = resp.headers.get("Content-Encoding", "identity").lower() != "identity"
        if not encoded and declared is not None:
            if declared <= limit.cap:
                return await resp.read()  # at most the cap: the common, fast path
            limit.add(await resp.content.read(4096))  # its start, for what it can tell
            limit.check_declared(declared)
        async for chunk in resp.content.iter_chunked(_CHUNK):
            limit.add(chunk)
        return limit.body()

    def _describe(self, what: str, exc: BaseException, detail: str | None = None) -> str:
        """``what`` and the failure, without the raw bytes aiohttp quotes, scrubbed."""
        text = str(exc) if detail is None else detail
        text = " ".join(_RAW.sub("(raw bytes)", text).split()).rstrip(" :^")
        return self._scrub(f"{what}: {type(exc).__name__}: {text or type(exc).__name__}")


_DROPPED = "(dropped)"


def _defuse(exc: BaseException) -> None:
    """Blank what aiohttp's failure, and each exception chained to it, holds: its args, its
    text attributes (the raw line or header: an echoed key), the reply's headers and the
    request's headers (the key itself).

    The typed error is raised with nothing chained, but where asyncio resumes a coroutine
    inside an ``except`` block (asyncio's pure-Python task, as run on 3.10 here) a later
    ``raise`` up the stack can chain these all the same: then they hold nothing.
    """
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen or isinstance(current, errors.OpenAIMessagesError):
            continue
        seen.add(id(current))
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
        current.args = ()
        for name, value in list(getattr(current, "__dict__", {}).items()):
            if isinstance(value, (str, bytes, bytearray)):  # message, line, hdr, ...
                current.__dict__[name] = _DROPPED
            elif name == "headers":
                current.__dict__[name] = None
        info = getattr(current, "request_info", None)
        if info is not None:
            try:
                empty = CIMultiDictProxy(CIMultiDict[str]())
                current.request_info = type(info)(info.url, info.method, empty, info.real_url)  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
