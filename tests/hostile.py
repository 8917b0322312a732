"""A raw-socket HTTP/1.1 server on loopback that answers exactly the bytes a test says.

Written independently of the emulator and of aiohttp.web, so that framing, encodings
and headers are what the test wrote, byte for byte.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import attrs
import orjson


@attrs.define
class Received:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


Answer = Callable[[Received], Awaitable[bytes] | bytes]


def response(
    status: int = 200,
    body: bytes | object = b"{}",
    headers: dict[str, str] | None = None,
    *,
    length: int | None = None,
) -> bytes:
    """Raw HTTP bytes: ``body`` (JSON-encoded unless bytes) with a ``Content-Length``."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(raw) if length is None else length}"]
    lines += ["Content-Type: application/json", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + raw


def gzip_bomb(expanded: int) -> bytes:
    """A gzip member that expands to ``expanded`` bytes of JSON-ish filler."""
    return gzip.compress(b'{"id": "msg_1", "pad": "' + b"x" * expanded + b'"}', 9)


@asynccontextmanager
async def serve(answer: Answer) -> AsyncIterator[tuple[str, list[Received]]]:
    """Serve ``answer`` on an ephemeral loopback port; yields (base URL, requests seen)."""
    seen: list[Received] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            first, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = first.split(" ", 2)
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            received = Received(method, target, headers, body)
            seen.append(received)
            out = answer(received)
            data = await out if not isinstance(out, bytes) else out
            writer.write(data)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", seen
    finally:
        server.close()
        await server.wait_closed()
