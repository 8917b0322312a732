"""The :class:`Emulator`: the app served on loopback, and :func:`serve` for the CLI."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Final

from aiohttp import web

from .access import FLAVOURS, Flavour
from .app import EmulatorState, make_app
from .conversation_store import ConversationStore
from .entra import AsyncEmulatorCredential, EmulatorCredential, IssuedToken, TokenIssuer
from .faults import Faults
from .log import RequestLog
from .ratelimit import RateLimit
from .store import Store

__all__ = ["DEFAULT_API_KEY", "DEFAULT_PROJECT", "Emulator", "serve"]

DEFAULT_API_KEY = "sk-emu-test"
DEFAULT_PROJECT: Final = "emulator"
"""The Foundry project name in :meth:`Emulator.url_for` (any name is served)."""


class Emulator:
    """An in-memory Messages API server on a real loopback socket.

    ``async with Emulator() as emu:`` starts it on a free port; point clients at
    ``emu.url`` (``http://127.0.0.1:PORT/v1``) or any prefix with :meth:`url_for`
    (``"openai"``, ``"azure"``, ``"azure_v1"``, ``"foundry"``).
    ``faults``, ``rate_limit`` and ``latency`` can be changed while it runs.
    ``api_key=None`` accepts any key (or none).

    Like the real API, a message is created only in a thread that exists (create it
    with ``POST /threads`` or ``emu.store.create_thread(...)``) and path ids must begin
    with ``thread`` / ``msg``; ``strict_ids=False`` accepts any well-formed id, and
    ``implicit_threads=True`` creates a missing thread on its first message (the
    emulator's behaviour before threads existed; the real API answers 404).
    ``GET /threads`` lists threads on the Foundry prefix, as Foundry's classic agents
    do; the other prefixes answer 404 like OpenAI and Azure OpenAI, unless
    ``list_threads=True`` (a compatible server that lists them).
    ``entra=True`` is the Entra ID mode: the Foundry prefix wants a bearer token from
    :meth:`issue_token` (or :meth:`credential`), and any other Bearer value must be the
    key or such a token.  Tokens issued are judged in every mode: an expired one gets
    401 with ``WWW-Authenticate: Bearer error="invalid_token", ...``.
    """

    def __init__(
        self,
        api_key: str | None = DEFAULT_API_KEY,
        *,
        faults: Faults | None = None,
        rate_limit: RateLimit | None = None,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        store: Store | None = None,
        log_size: int | None = 100_000,
        strict_ids: bool = True,
        implicit_threads: bool = False,
        list_threads: bool = False,
        entra: bool = False,
        tokens: TokenIssuer | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._state = EmulatorState(
            store=store if store is not None else Store(seed),
            faults=faults if faults is not None else Faults(),
            log=RequestLog(log_size),
            api_key=api_key,
            rate_limit=rate_limit,
            latency=latency,
            strict_ids=strict_ids,
            implicit_threads=implicit_threads,
            list_threads=list_threads,
            entra=entra,
            tokens=tokens if tokens is not None else TokenIssuer(),
        )
        self.app = make_app(self._state)
        self._runner: web.AppRunner | None = None

    # -- live configuration ----------------------------------------------------------
    @property
    def api_key(self) -> str | None:
        """The key clients must present."""
        return self._state.api_key

    @api_key.setter
    def api_key(self, value: str | None) -> None:
        self._state.api_key = value

    @property
    def store(self) -> Store:
        """The data served."""
        return self._state.store

    @property
    def conversations(self) -> ConversationStore:
        """The conversations served."""
        return self._state.conversations

    @property
    def faults(self) -> Faults:
        """The fault rules consulted on every request."""
        return self._state.faults

    @faults.setter
    def faults(self, value: Faults | None) -> None:
        self._state.faults = value if value is not None else Faults()

    @property
    def rate_limit(self) -> RateLimit | None:
        """The request-rate token bucket, or None for no limit."""
        return self._state.rate_limit

    @rate_limit.setter
    def rate_limit(self, value: RateLimit | None) -> None:
        self._state.rate_limit = value

    @property
    def latency(self) -> float:
        """Seconds added to every request."""
        return self._state.latency

    @latency.setter
    def latency(self, value: float) -> None:
        self._state.latency = value

    @property
    def strict_ids(self) -> bool:
        """Whether path ids must begin with ``thread`` / ``msg`` (400 otherwise)."""
        return self._state.strict_ids

    @strict_ids.setter
    def strict_ids(self, value: bool) -> None:
        self._state.strict_ids = value

    @property
    def implicit_threads(self) -> bool:
        """Whether a message create makes a missing thread (the real API answers 404)."""
        return self._state.implicit_threads

    @implicit_threads.setter
    def implicit_threads(self, value: bool) -> None:
        self._state.implicit_threads = value

    @property
    def list_threads(self) -> bool:
        """Whether every prefix serves ``GET /threads`` (Foundry's always does)."""
        return self._state.list_threads

    @list_threads.setter
    def list_threads(self, value: bool) -> None:
        self._state.list_threads = value

    @property
    def entra(self) -> bool:
        """The Entra ID mode (see the class docstring)."""
        return self._state.entra

    @entra.setter
    def entra(self, value: bool) -> None:
        self._state.entra = value

    # -- Entra ID tokens ---------------------------------------------------------------
    @property
    def tokens(self) -> TokenIssuer:
        """The issuer of bearer tokens (``tokens.expire_all()``, ``tokens.issued``)."""
        return self._state.tokens

    def issue_token(self, lifetime: float = 3600.0, *scopes: str) -> IssuedToken:
        """A bearer token valid for ``lifetime`` seconds (``.token``, ``.expires_on``)."""
        return self._state.tokens.issue(lifetime, scopes)

    def credential(self, lifetime: float = 3600.0) -> EmulatorCredential:
        """An azure-identity-like credential whose ``get_token`` issues tokens here."""
        return EmulatorCredential(self._state.tokens, lifetime)

    def async_credential(self, lifetime: float = 3600.0) -> AsyncEmulatorCredential:
        """The asynchronous variant of :meth:`credential`."""
        return AsyncEmulatorCredential(self._state.tokens, lifetime)

    @property
    def log(self) -> RequestLog:
        """The requests received so far."""
        return self._state.log

    @property
    def in_flight(self) -> int:
        """Requests being handled right now."""
        return self._state.in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests ever handled at once (reset with :meth:`reset_stats`)."""
        return self._state.max_in_flight

    def reset_stats(self) -> None:
        """Reset ``max_in_flight``."""
        self._state.max_in_flight = self._state.in_flight

    # -- addresses -------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        """``http://HOST:PORT`` (the Azure endpoint; also serves ``/threads/...``)."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://HOST:PORT/v1``, the OpenAI base URL."""
        return self.root_url + "/v1"

    def url_for(self, flavour: Flavour, project: str = DEFAULT_PROJECT) -> str:
        """The base URL (or endpoint) a client of ``flavour`` is given.

        ``openai``: ``.../v1``; ``azure``: the resource endpoint ``http://HOST:PORT``
        (clients add ``/openai`` and ``?api-version=``); ``azure_v1``: ``.../openai/v1``;
        ``foundry``: the project endpoint ``.../api/projects/{project}``.
        """
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown flavour {flavour!r}; expected one of {FLAVOURS}")
        return (
            self.root_url
            + {
                "openai": "/v1",
                "azure": "",
                "azure_v1": "/openai/v1",
                "foundry": f"/api/projects/{project}",
                "foundry_v1": f"/api/projects/{project}/openai/v1",
            }[flavour]
        )

    @property
    def token_url(self) -> str:
        """``.../_emulator/token``: ``GET ?lifetime=S&scope=...[&format=text]`` issues a token."""
        return self.root_url + "/_emulator/token"

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Bind and start serving (``port=0`` picks a free port)."""
        if self._runner is not None:
            return
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=1024)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        for address in runner.addresses:
            if isinstance(address, tuple):
                self.port = int(address[1])
                break
        self._runner = runner

    async def close(self) -> None:
        """Stop serving (pending handlers get a short grace period)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        where = self.url if self._runner is not None else "stopped"
        return f"<Emulator {where}>"


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = DEFAULT_API_KEY,
    seed_threads: int = 0,
    seed_messages: int = 0,
    latency: float = 0.0,
    rate_limit: RateLimit | None = None,
    faults: Faults | None = None,
    seed: int | None = None,
    ready: Callable[[Emulator, list[str]], None] | None = None,
    stop: asyncio.Event | None = None,
    freeze_gc: bool = False,
    log_size: int | None = 1000,
    strict_ids: bool = True,
    list_threads: bool = False,
    entra: bool = False,
) -> None:
    """Run an emulator until ``stop`` is set (or the task is cancelled).

    Seeds ``seed_threads`` threads of ``seed_messages`` messages first, then calls
    ``ready(emulator, thread_ids)`` once it is listening.  ``freeze_gc`` moves the
    seeded data out of the garbage collector's reach (for a dedicated process);
    ``log_size`` bounds the request log (nobody reads it from outside the process).
    """
    emulator = Emulator(
        api_key,
        faults=faults,
        rate_limit=rate_limit,
        latency=latency,
        host=host,
        port=port,
        seed=seed,
        log_size=log_size,
        strict_ids=strict_ids,
        list_threads=list_threads,
        entra=entra,
    )
    thread_ids = emulator.store.seed(seed_threads, seed_messages) if seed_threads else []
    if freeze_gc:
        # A dedicated server process: the seeded data lives forever, so keep the
        # cyclic garbage collector from rescanning it on every full collection.
        gc.collect()
        gc.freeze()
    async with emulator:
        if ready is not None:
            ready(emulator, thread_ids)
        await (stop if stop is not None else asyncio.Event()).wait()
