"""The aiohttp application: dispatch (auth, rate limit, faults, logging) around the routes,
and the loopback token endpoint."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus

import attrs
import orjson
from aiohttp import web

from .access import PREFIXES, Flavour, check_access
from .conversation_store import ConversationStore
from .conversations import CONVERSATION_PREFIXES, CONVERSATION_ROUTES, CONVERSATIONS
from .entra import TokenIssuer
from .errors import ApiError, status_error
from .faults import POST_KINDS, Fault, Faults
from .log import LoggedRequest, RequestLog
from .ratelimit import RateLimit
from .routes import ROUTE_TABLE, Ctx, Route
from .store import Store

__all__ = ["STATE", "ApiError", "EmulatorState", "make_app"]

logger = logging.getLogger(__name__)

_JSON_CT = "application/json"


@attrs.define
class EmulatorState:
    """Everything the handlers read, shared with (and mutated through) the Emulator."""

    store: Store
    faults: Faults
    log: RequestLog
    api_key: str | None = None
    rate_limit: RateLimit | None = None
    latency: float = 0.0
    strict_ids: bool = True
    implicit_threads: bool = False
    entra: bool = False
    tokens: TokenIssuer = attrs.field(factory=TokenIssuer)
    conversations: ConversationStore = attrs.field(
        default=attrs.Factory(lambda self: ConversationStore(self.store.ids), takes_self=True)
    )
    in_flight: int = 0
    max_in_flight: int = 0

    def enter(self) -> None:
        """Count a request in flight."""
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight

    def leave(self) -> None:
        """Count a request done."""
        self.in_flight -= 1


STATE = web.AppKey("openai_messages_emulator_state", EmulatorState)


# -- dispatch ----------------------------------------------------------------------


def _api_version(headers: Mapping[str, str]) -> int:
    beta = headers.get("OpenAI-Beta")
    return 1 if beta and "assistants=v1" in beta.replace(" ", "") else 2


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _html_page(status: int, body: str | None) -> bytes:
    if body is not None:
        return body.encode()
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    title = f"{status} {reason}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def _drop(request: web.Request) -> web.Response:
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=500)


def _cut(length: int, fraction: float, minimum: int) -> int:
    return min(max(int(length * fraction), minimum), max(length - 1, 0))


async def _drop_mid_body(
    request: web.Request, status: int, payload: bytes, headers: dict[str, str], fraction: float
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(payload)
    await response.prepare(request)
    cut = _cut(len(payload), fraction, 0)
    if cut:
        await response.write(payload[:cut])
    _drop(request)
    return response


def _arrival(request: web.Request, route: str | None, log: RequestLog) -> LoggedRequest:
    return LoggedRequest(
        method=request.method,
        route=route,
        path=request.path,
        query=dict(request.query),
        header_items=log.header_items(request.headers),
        time=time.monotonic(),
        request_id="req_" + secrets.token_hex(16),
    )


class Dispatcher:
    """Wraps a route implementation with auth, rate limiting, faults and logging."""

    def __init__(self, name: str, route: Route, flavour: Flavour) -> None:
        self.name = name
        self.route = route
        self.flavour = flavour

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler."""
        state = request.app[STATE]
        rec = _arrival(request, self.name, state.log)
        state.log.append(rec)
        state.enter()
        headers = {"x-request-id": rec.request_id}
        try:
            return await self._handle(request, state, rec, headers)
        except Exception:
            logger.exception("emulator: unexpected error in %s", self.name)
            return _json(rec, 500, status_error(500).body(), headers)
        finally:
            rec.done = True
            state.leave()

    async def _handle(
        self,
        request: web.Request,
        state: EmulatorState,
        rec: LoggedRequest,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        if state.latency > 0:
            await asyncio.sleep(state.latency)
        denied = check_access(
            request, self.flavour, api_key=state.api_key, tokens=state.tokens, entra=state.entra
        )
        limiter = state.rate_limit
        if denied is not None:
            if limiter is not None:
                headers.update(limiter.peek().headers())
            headers.update(denied.headers)
            return _json(rec, denied.status, denied.body(), headers)
        if limiter is not None:
            decision = limiter.acquire()
            headers.update(decision.headers())
            if not decision.allowed:
                return _json(rec, 429, status_error(429).body(), headers)
        fault = rec.fault = state.faults.pick(self.name)
        if fault is not None:
            early = await _pre_fault(request, fault, headers, rec)
            if early is not None:
                return early
        try:
            if request.can_read_body:
                rec.body = await request.read()
            ctx = Ctx(
                request,
                state.store,
                _api_version(request.headers),
                rec.body,
                fault,
                self.flavour,
                state.strict_ids,
                state.implicit_threads,
            )
            status, payload = self.route(ctx)
        except ApiError as exc:
            status, payload = exc.status, exc.body()
        except web.HTTPException as exc:  # e.g. 413 from request.read()
            err = status_error(exc.status, exc.reason)
            status, payload = err.status, err.body()
        if fault is not None and fault.kind in POST_KINDS:
            return await _post_fault(request, fault, status, payload, headers, rec)
        return _json(rec, status, payload, headers)


def _json(rec: LoggedRequest, status: int, payload: bytes, headers: dict[str, str]) -> web.Response:
    rec.status = status
    headers["Content-Type"] = _JSON_CT
    return web.Response(status=status, body=payload, headers=headers)


async def _pre_fault(
    request: web.Request, fault: Fault, headers: dict[str, str], rec: LoggedRequest
) -> web.StreamResponse | None:
    kind = fault.kind
    if kind == "latency":
        await asyncio.sleep(fault.delay)
        return None
    if kind == "drop":
        return _drop(request)
    headers.update(fault.headers)
    if kind == "error":
        if fault.retry_after is not None:
            headers["Retry-After"] = str(max(0, math.ceil(fault.retry_after)))
        if fault.retry_after_ms is not None:
            headers["retry-after-ms"] = _fmt_number(fault.retry_after_ms)
        if fault.should_retry is not None:
            headers["x-should-retry"] = "true" if fault.should_retry else "false"
        err = status_error(fault.status, fault.message)
        return _json(rec, fault.status, err.body(), headers)
    if kind == "html":
        rec.status = fault.status
        headers["Content-Type"] = "text/html; charset=utf-8"
        return web.Response(
            status=fault.status, body=_html_page(fault.status, fault.body), headers=headers
        )
    if kind == "redirect":
        assert fault.location is not None
        headers["Location"] = fault.location.replace("{path_qs}", request.path_qs)
        return _json(rec, fault.status, b"{}", headers)
    return None  # page anomalies and post faults are applied later


async def _post_fault(
    request: web.Request,
    fault: Fault,
    status: int,
    payload: bytes,
    headers: dict[str, str],
    rec: LoggedRequest,
) -> web.StreamResponse:
    kind = fault.kind
    if kind == "truncate":
        return _json(rec, status, payload[: _cut(len(payload), fault.fraction, 1)], headers)
    if kind == "drop_mid_body":
        rec.status = status
        headers["Content-Type"] = _JSON_CT
        return await _drop_mid_body(request, status, payload, headers, fault.fraction)
    if kind in ("commit_then_error", "partial_commit"):
        err = status_error(fault.status, fault.message)
        return _json(rec, fault.status, err.body(), headers)
    if kind == "commit_then_drop":
        return _drop(request)
    await asyncio.sleep(fault.delay)  # commit_then_delay
    return _json(rec, status, payload, headers)


async def not_found(request: web.Request) -> web.StreamResponse:
    """Any URL the emulator does not serve: a 404 in the OpenAI shape."""
    state = request.app[STATE]
    rec = _arrival(request, None, state.log)
    state.log.append(rec)
    state.enter()
    try:
        if state.latency > 0:
            await asyncio.sleep(state.latency)
        err = ApiError(404, f"Invalid URL ({request.method} {request.path})")
        return _json(rec, 404, err.body(), {"x-request-id": rec.request_id})
    finally:
        rec.done = True
        state.leave()


TOKEN_PATH = "/_emulator/token"


async def token_endpoint(request: web.Request) -> web.StreamResponse:
    """Issue an Entra-like token on loopback (for token commands in tests).

    Query ``lifetime`` (seconds, default 3600) and ``scope`` (repeatable).
    Replies ``{"access_token", "token_type", "expires_in", "expires_on"}``, or the bare
    token with ``format=text`` (like ``az account get-access-token -o tsv``).
    """
    state = request.app[STATE]
    params = request.query
    try:
        lifetime = float(params.get("lifetime", "3600"))
    except ValueError:
        lifetime = math.nan
    if not math.isfinite(lifetime):
        err = ApiError(400, "Invalid 'lifetime': expected a number of seconds.", param="lifetime")
        return web.Response(status=400, body=err.body(), content_type=_JSON_CT)
    scopes = tuple(dict.fromkeys(s for s in params.getall("scope", []) if s))
    issued = state.tokens.issue(lifetime, scopes)
    if params.get("format") == "text":
        return web.Response(text=issued.token + "\n")
    body = {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": max(0, issued.expires_on - int(state.tokens.clock())),
        "expires_on": issued.expires_on,
    }
    return web.Response(body=orjson.dumps(body), content_type=_JSON_CT)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(state: EmulatorState, *, client_max_size: int = 4 * 1024 * 1024) -> web.Application:
    """Build the aiohttp application serving ``state``."""
    app = web.Application(client_max_size=client_max_size)
    app[STATE] = state
    app[CONVERSATIONS] = state.conversations
    app.router.add_route("*", TOKEN_PATH, token_endpoint)
    for prefixes, table in (
        (PREFIXES, ROUTE_TABLE),
        (CONVERSATION_PREFIXES, CONVERSATION_ROUTES),
    ):
        for prefix, flavour in prefixes:
            for method, path, name, route in table:
                handler: Handler = Dispatcher(name, route, flavour).handle
                app.router.add_route(method, prefix + path, handler)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
