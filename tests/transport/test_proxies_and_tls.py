"""Networks the way users have them, over real loopback HTTP (issue 15, item 4): the
client's own session goes through ``HTTP_PROXY`` (a forward proxy written here, counting
what passes), honours ``NO_PROXY`` and ``trust_env=False``, and verifies TLS with a CA
bundle or an ``ssl.SSLContext`` given to the client.

aiohttp proxies loopback addresses too when ``HTTP_PROXY`` is set: it bypasses only the
hosts ``NO_PROXY`` names (``urllib.request.proxy_bypass_environment``), so the tests
clear every proxy variable first and set exactly the ones they mean.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

import openai_messages as om
from openai_messages.emulator import Emulator

from ..support import API_KEY

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class ForwardProxy:
    """A forward HTTP proxy on loopback: absolute-form requests in, forwarded, counted."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        target = request.raw_path  # the absolute-form request target
        if not target.startswith("http://"):
            return web.Response(status=400, text="not a proxy request")
        self.targets.append(target)
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "proxy-connection", "connection", "content-length")
        }
        async with (
            aiohttp.ClientSession(trust_env=False, auto_decompress=False) as http,
            http.request(
                request.method, target, headers=headers, data=await request.read()
            ) as upstream,
        ):
            body = await upstream.read()
            keep = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in ("transfer-encoding", "connection", "content-length")
            }
            return web.Response(status=upstream.status, body=body, headers=keep)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def proxy(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ForwardProxy]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    server = ForwardProxy()
    await server.start()
    monkeypatch.setenv("HTTP_PROXY", server.url)
    yield server
    await server.close()


async def test_http_proxy_is_honoured_by_default(emu: Emulator, proxy: ForwardProxy) -> None:
    emu.store.create_thread("thread_p")
    emu.store.add_messages("thread_p", 5)
    async with om.Client(api_key=API_KEY, base_url=emu.url) as client:
        messages = await client.list("thread_p", page_size=2).collect()
        await client.create("thread_p", role="user", content="through the proxy")
    assert len(messages) == 5
    assert len(proxy.targets) == 4 == len(emu.log)
    assert all(t.startswith(emu.url + "/threads/thread_p/messages") for t in proxy.targets)


async def test_no_proxy_is_honoured(
    emu: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    emu.store.create_thread("thread_p")
    async with om.Client(api_key=API_KEY, base_url=emu.url) as client:
        await client.retrieve_thread("thread_p")
    assert proxy.targets == []
    assert len(emu.log) == 1


async def test_trust_env_false_ignores_the_proxy(emu: Emulator, proxy: ForwardProxy) -> None:
    emu.store.create_thread("thread_p")
    async with om.Client(api_key=API_KEY, base_url=emu.url, trust_env=False) as client:
        await client.retrieve_thread("thread_p")
    assert proxy.targets == []
    assert len(emu.log) == 1


async def test_network_options_apply_to_the_clients_own_session_only() -> None:
    async with aiohttp.ClientSession() as session:
        for options in ({"trust_env": False}, {"ssl": False}, {"ca_bundle": "ca.pem"}):
            with pytest.raises(om.InvalidArgumentError, match="own session"):
                om.Client(api_key=API_KEY, session=session, **options)


def test_a_missing_ca_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(om.InvalidArgumentError, match="ca_bundle"):
        om.Client(api_key=API_KEY, ca_bundle=tmp_path / "missing.pem")
    with pytest.raises(om.InvalidArgumentError, match="not both"):
        om.Client(api_key=API_KEY, ca_bundle=tmp_path / "x.pem", ssl=False)


# -- TLS with a private CA ---------------------------------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA), with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
async def tls_emulator(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    try:
        cert, key = make_certificate(tmp_path)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a test certificate: {exc}")
    emulator = Emulator(api_key=API_KEY)
    emulator.store.create_thread("thread_tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    runner = web.AppRunner(emulator.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    port = runner.addresses[0][1]
    yield f"https://127.0.0.1:{port}/v1", cert
    await runner.cleanup()


async def test_tls_with_a_ca_bundle(tls_emulator: tuple[str, Path]) -> None:
    url, cert = tls_emulator
    async with om.Client(api_key=API_KEY, base_url=url, ca_bundle=cert) as client:
        assert (await client.retrieve_thread("thread_tls")).id == "thread_tls"


async def test_tls_with_an_ssl_context(tls_emulator: tuple[str, Path]) -> None:
    url, cert = tls_emulator
    context = ssl.create_default_context(cafile=str(cert))
    async with om.Client(api_key=API_KEY, base_url=url, ssl=context) as client:
        assert (await client.retrieve_thread("thread_tls")).id == "thread_tls"


async def test_tls_without_the_ca_is_refused(tls_emulator: tuple[str, Path]) -> None:
    url, _ = tls_emulator
    async with om.Client(api_key=API_KEY, base_url=url, max_retries=0) as client:
        with pytest.raises(om.APIConnectionError, match=r"(?i)certificate"):
            await client.retrieve_thread("thread_tls")
