"""``python -m openai_messages.emulator``: serve an emulator until interrupted.

The first line of stdout is ``OPENAI_BASE_URL=http://HOST:PORT/v1``, the second
``OPENAI_API_KEY=...`` and the third ``OPENAI_THREAD_IDS=`` followed by the seeded
thread ids, comma-separated.  Stderr names the other prefixes (Azure, Azure v1,
Foundry) and the token URL.  ``--loose-ids`` accepts path ids that do not begin with
``thread``/``msg``; ``--entra`` is the Entra ID mode; ``--list-threads`` serves
``GET /threads`` on every prefix (see :class:`Emulator`).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from .faults import Faults
from .ratelimit import RateLimit
from .server import DEFAULT_API_KEY, Emulator, serve

PROG = "python -m openai_messages.emulator"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command line of the emulator, the one set of options of ``openai-messages serve``
    too (which hands its arguments to :func:`main`): add options here only."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve an in-memory OpenAI Messages API (with fault injection).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the key clients must send")
    parser.add_argument("--seed-threads", type=int, default=0, metavar="N")
    parser.add_argument("--seed-messages", type=int, default=0, metavar="N")
    parser.add_argument("--seed", type=int, default=None, help="seed of the id generator")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--rate-limit", type=float, default=None, metavar="RPS")
    parser.add_argument("--burst", type=int, default=None, metavar="N")
    parser.add_argument("--chaos", type=int, default=None, metavar="SEED", help="chaos faults")
    parser.add_argument(
        "--loose-ids",
        action="store_true",
        help="accept any well-formed path id (default: thread ids begin with 'thread', "
        "message ids with 'msg', like the real API)",
    )
    parser.add_argument(
        "--list-threads",
        action="store_true",
        help="serve GET /threads on every prefix (default: only on Foundry's, like the "
        "real services)",
    )
    parser.add_argument(
        "--entra",
        action="store_true",
        help="Entra ID mode: the Foundry prefix wants tokens from GET /_emulator/token",
    )
    return parser


def _ready(emulator: Emulator, thread_ids: list[str]) -> None:
    print(f"OPENAI_BASE_URL={emulator.url}")
    print(f"OPENAI_API_KEY={emulator.api_key or ''}")
    print(f"OPENAI_THREAD_IDS={','.join(thread_ids)}", flush=True)
    print(f"emulator serving on {emulator.root_url}", file=sys.stderr)
    for flavour in ("azure", "azure_v1", "foundry"):
        print(f"  {flavour}: {emulator.url_for(flavour)}", file=sys.stderr)
    print(f"  tokens: {emulator.token_url}", file=sys.stderr, flush=True)


async def _main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    rate_limit = None
    if args.rate_limit is not None:
        burst = args.burst if args.burst is not None else max(1, int(args.rate_limit))
        rate_limit = RateLimit(rate=args.rate_limit, burst=burst)
    await serve(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        seed_threads=args.seed_threads,
        seed_messages=args.seed_messages,
        latency=args.latency,
        rate_limit=rate_limit,
        faults=Faults.chaos(seed=args.chaos) if args.chaos is not None else None,
        seed=args.seed,
        ready=_ready,
        stop=stop,
        freeze_gc=True,
        strict_ids=not args.loose_ids,
        list_threads=args.list_threads,
        entra=args.entra,
    )


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Entry point; returns the exit status."""
    args = build_parser(prog).parse_args(argv)
    asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
