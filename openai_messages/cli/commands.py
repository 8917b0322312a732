"""The ``openai-messages`` command: ``export`` threads to JSON Lines, ``import`` them into a
server, ``serve`` the emulator, and run the ``demo``.

Exit codes: 0 done, 1 an API error (the other threads are still exported), 2 bad usage or
input, 74 an I/O error (disk full, EIO, read-only: the path named; resumable once fixed),
130 interrupted (re-run the same export to resume).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import sys
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import IO, Any, Final, NoReturn, TypeVar

import click
from rich.console import Console

from .._codec.literals import Order
from .._core import checks as validation
from .._core.defaults import PAGE_SIZE
from .._version import __version__
from ..client import Client
from ..errors import (
    APIError,
    AuthenticationError,
    CredentialError,
    InvalidArgumentError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    ThreadListingUnsupportedError,
)
from .connection import Connection, connection_options
from .conversation_import import SOURCE_THREAD_KEY as CONVERSATION_SOURCE_KEY
from .conversation_import import STATE_SUFFIX as CONVERSATIONS_STATE_SUFFIX
from .conversation_import import (
    ConversationSource,
    import_conversations,
    read_for_conversations,
    verify_conversations,
)
from .export import (
    ExportStats,
    JsonlSink,
    ResumableFile,
    ResumeError,
    Sink,
    ThreadFailure,
    export_threads,
    unfinished,
)
from .import_journal import CONVERSATIONS, THREADS
from .importer import (
    SOURCE_THREAD_METADATA_KEY,
    ImportInputError,
    ImportJournal,
    ImportStats,
    SourceThread,
    import_threads,
    read_export,
)
from .importer import STATE_SUFFIX as IMPORT_STATE_SUFFIX
from .progress import describe, make_display, showing
from .thread_listing import listed_threads, write_thread_ids

__all__ = ["EXIT_API_ERROR", "EXIT_INTERRUPTED", "EXIT_IO_ERROR", "EXIT_USAGE", "cli", "main"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

EXIT_API_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_IO_ERROR: Final = 74
"""EX_IOERR of sysexits.h: a file could not be read or written."""
EXIT_INTERRUPTED: Final = 130
LOG_INTERVAL: Final = 2.0
PROGRESS_CHOICES: Final = ("auto", "bar", "log", "none")
_PROGRESS_HELP: Final = "Progress on stderr: a bar on a terminal (auto), log lines, or none."


class Interrupted(Exception):
    """The run was stopped by SIGINT or SIGTERM."""


# -- helpers shared by the commands ---------------------------------------------------------


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, turning SIGINT/SIGTERM into a clean cancellation.

    The signal cancels the main task (so ``finally`` blocks and ``async with`` exits run
    and nothing is cut mid-write), then :class:`Interrupted` is raised.
    """
    stopped: list[int] = []

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def stop(signum: int) -> None:
            stopped.append(signum)
            task.cancel()

        installed: list[signal.Signals] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, stop, signum)
                installed.append(signum)
        try:
            return await main
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    try:
        result = asyncio.run(guarded())
    except KeyboardInterrupt:
        raise Interrupted from None
    except asyncio.CancelledError:
        if not stopped:
            raise
        raise Interrupted from None
    if stopped:
        raise Interrupted
    return result


def read_ids(arguments: Iterable[str], ids_from: IO[bytes] | None) -> list[str]:
    """Thread ids from the arguments then the file (one a line, ``#`` comments), deduplicated.

    The file is UTF-8 (a byte order mark at its start is dropped); anything else is a
    usage error naming the file and the offending line.
    """
    ids = list(arguments)
    if ids_from is not None:
        name = getattr(ids_from, "name", "-")
        try:
            data = ids_from.read()
        except OSError as exc:
            raise click.UsageError(
                f"cannot read --ids-from {name}: {exc.strerror or exc}"
            ) from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise click.UsageError(
                f"--ids-from {name} is not UTF-8 text (line {line}, byte {exc.start})"
            ) from None
        for line_text in text.splitlines():
            thread_id = line_text.split("#", 1)[0].strip()
            if thread_id:
                ids.append(thread_id)
    return list(dict.fromkeys(ids))


def check_ids(ids: Sequence[str]) -> None:
    """Validate every id before anything is sent; a usage error names each bad one."""
    problems: list[str] = []
    for position, thread_id in enumerate(ids, 1):
        try:
            validation.quote_id("thread_id", thread_id)
        except InvalidArgumentError as exc:
            problems.append(f"invalid thread id #{position} {thread_id!r}: {exc}")
    if problems:
        raise click.UsageError("\n".join(problems))
    if not ids:
        raise click.UsageError("no thread ids: give THREAD_ID arguments or --ids-from FILE")


def stderr_console() -> Console:
    return Console(file=sys.stderr, highlight=False)


def io_failure(error: OSError, fallback: str, console: Console, advice: str) -> NoReturn:
    """One line naming the path that failed and why, exit 74 (no usage banner)."""
    path = error.filename if error.filename is not None else fallback
    path = "stdout" if path == "-" else path
    console.print(
        f"error: cannot write {path}: {error.strerror or error}; {advice}",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip
    sys.exit(EXIT_IO_ERROR)


_RESUME_ADVICE: Final = (
    "nothing after the last checkpoint is claimed: run the same command again to resume "
    "once it is fixed"
)


def close_sink(sink: Sink, output: str, console: Console) -> None:
    """Commit and close the output; a failure to (the last checkpoint) is an I/O error."""
    try:
        sink.close()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        io_failure(exc, output, console, _RESUME_ADVICE)


def report_failures(failures: Sequence[ThreadFailure], console: Console) -> None:
    """Print each failed thread with its error (which carries the request id, if any)."""
    for failure in failures:
        error = failure.error
        kind = type(error).__name__
        request_id = getattr(error, "request_id", None) if isinstance(error, APIError) else None
        suffix = "" if request_id is None or request_id in str(error) else f" [{request_id}]"
        console.print(
            f"[red]error[/red]: thread {failure.thread_id}: {kind}: {error}{suffix}",
            markup=True,
            soft_wrap=True,
        )


def open_sink(output: str, order: str, console: Console) -> tuple[Sink, bool]:
    """The sink for ``-o``: stdout or another non-regular file (a pipe, ``/dev/null``:
    written as a stream, no resume) or a resumable file; and whether it resumes."""
    if output == "-":
        return JsonlSink(sys.stdout.buffer), False
    try:
        mode = os.stat(output).st_mode
    except OSError:
        mode = stat.S_IFREG
    try:
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            console.print(f"{output} is not a regular file: written as a stream (not resumable)")
            return JsonlSink(open(output, "wb"), owned=True), False
        sink = ResumableFile.open(output, order)
    except ResumeError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        io_failure(exc, output, console, "nothing was exported")
    for note in sink.notes:
        console.print(note, markup=False, highlight=False, soft_wrap=True)
    return sink, bool(sink.threads)


def _drop_deleted(
    failures: Sequence[ThreadFailure], sink: Sink, stats: ExportStats, console: Console
) -> list[ThreadFailure]:
    """``--all-threads``: a listed thread whose messages answer 404 was deleted since it
    was listed; it is done (what was exported of it stays), said in one line each."""
    kept: list[ThreadFailure] = []
    for failure in failures:
        if not isinstance(failure.error, NotFoundError):
            kept.append(failure)
            continue
        sink.finish(failure.thread_id)
        stats.threads_failed -= 1
        stats.threads_done += 1
        console.print(
            f"thread {failure.thread_id} was deleted after it was listed "
            f"({failure.error}); nothing more of it to export",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    return kept


def _silence_stdout() -> None:
    """After a broken pipe, send what is left for stdout to the null device."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def open_client(connection: Connection, **options: Any) -> Client:
    """The command's client; what only the client checks (a Foundry endpoint without
    ``/api/projects/``, a malformed URL) is a usage error, before any file is opened."""
    try:
        return connection.client(**options)
    except InvalidArgumentError as exc:
        raise click.UsageError(str(exc)) from None


def end_run(
    error: Exception, connection: Connection, consequence: str, console: Console
) -> NoReturn:
    """One line for an error that ends the run (a refused credential, no token), exit 1."""
    if isinstance(error, CredentialError):
        line = f"error: no token: {error}; {consequence} without one"
    else:
        line = (
            f"error: the server refused {connection.credential} "
            f"({type(error).__name__}: {error}); {consequence} with it"
        )
    console.print(" ".join(line.split()), markup=False, highlight=False, soft_wrap=True)
    sys.exit(EXIT_API_ERROR)


def progress_option(command: F) -> F:
    """``--progress auto|bar|log|none`` (shared by export and import)."""
    return click.option(
        "--progress", type=click.Choice(PROGRESS_CHOICES), default="auto", show_default=True,
        help="Progress on stderr: a bar on a terminal (auto), log lines, or none.",
    )(command)  # fmt: skip


# -- the command group -----------------------------------------------------------------------


def _shown(
    name: str, kind: click.ParamType[Any, Any], default: object, text: str | None = None
) -> Callable[[F], F]:
    """A ``click.option`` of type ``kind`` whose default ``--help`` shows (``text``: its help)."""
    return click.option(name, type=kind, default=default, show_default=True, help=text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="openai-messages")
def cli() -> None:
    """Export OpenAI Assistants threads to JSON Lines, serve the emulator, run the demo."""


async def _export(
    ids: Sequence[str],
    sink: Sink,
    client: Client,
    *,
    order: Order,
    concurrency: int,
    page_size: int,
    progress: str,
    console: Console,
    all_threads: bool = False,
) -> tuple[list[ThreadFailure], ExportStats, dict[str, int]]:
    """Run the export with its progress display; the failures, totals and client counters.

    ``all_threads``: after ``ids`` (the threads the output's state knows), the threads
    the service lists (:func:`listed_threads`)."""
    stats = ExportStats()
    async with client:
        display = make_display(progress, stats, lambda: client.stats, console, LOG_INTERVAL)
        more = listed_threads(client, sink, stats, page_size=page_size) if all_threads else None
        try:
            async with showing(display):
                failures = await export_threads(
                    client,
                    ids,
                    sink,
                    stats,
                    order=order,
                    concurrency=concurrency,
                    page_size=page_size,
                    more=more,
                )
        finally:
            stats.finished = time.monotonic()
        if all_threads:
            failures = _drop_deleted(failures, sink, stats, console)
        return failures, stats, dict(client.stats)


@cli.command(short_help="Export threads to JSON Lines (resumable).")
@click.argument("thread_ids", nargs=-1, metavar="THREAD_ID...")
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    metavar="FILE",
    help="JSON Lines file to write or resume ('-': stdout, no resume).",
)
@_shown("--order", click.Choice(["asc", "desc"]), "asc")
@_shown("--concurrency", click.IntRange(1, 512), 8, "Threads walked at once.")
@_shown(
    "--page-size", click.IntRange(1, PAGE_SIZE), PAGE_SIZE,
    "Messages (and, with --all-threads, threads) per request.",
)  # fmt: skip
@click.option(
    "--ids-from", type=click.File("rb"), default=None, metavar="FILE",
    help="Read thread ids from FILE, one a line ('-': stdin).",
)  # fmt: skip
@click.option(
    "--all-threads", is_flag=True,
    help="Export every thread the service lists (GET /threads: Foundry's classic agents), "
    "oldest first, instead of THREAD_ID... or --ids-from.",
)  # fmt: skip
@click.option(
    "--threads-out", type=click.Path(dir_okay=False), default=None, metavar="FILE",
    help="With --all-threads: write the ids of the threads found to FILE, one a line.",
)  # fmt: skip
@connection_options
@progress_option
def export(
    thread_ids: tuple[str, ...],
    output: str,
    order: Order,
    concurrency: int,
    page_size: int,
    ids_from: IO[bytes] | None,
    all_threads: bool,
    threads_out: str | None,
    connection: Connection,
    progress: str,
) -> None:
    """Export every message of THREAD_ID... (or, with --all-threads, of every thread the
    service lists) as JSON Lines, exactly as the server sent them.

    Re-running into the same FILE after an interruption appends only what is missing.
    Exit codes: 0 done, 1 an API error, 2 bad usage or input, 74 an I/O error,
    130 interrupted.
    """
    if all_threads and (thread_ids or ids_from is not None):
        raise click.UsageError("give THREAD_ID... or --ids-from, or --all-threads, not both")
    if threads_out is not None and not all_threads:
        raise click.UsageError("--threads-out goes with --all-threads")
    ids = read_ids(thread_ids, ids_from)
    if not all_threads:
        check_ids(ids)
    client = open_client(connection)
    console = stderr_console()
    sink, resuming = open_sink(output, order, console)
    if all_threads:
        ids = list(sink.threads)  # those an earlier run found; the listing goes on after them
    if resuming:
        done = sum(1 for tid in ids if sink.state(tid).done)
        console.print(f"resuming {output}: {done} of {len(ids)} threads already complete")
    try:
        try:
            failures, stats, counters = run_async(
                _export(
                    ids,
                    sink,
                    client,
                    order=order,
                    concurrency=concurrency,
                    page_size=page_size,
                    progress=progress,
                    console=console,
                    all_threads=all_threads,
                )
            )
        finally:
            close_sink(sink, output, console)
            if threads_out is not None:
                write_thread_ids(threads_out, sink.threads)  # an OSError names its path
    except ThreadListingUnsupportedError as exc:
        console.print(
            f"error: {exc}; give the thread ids instead (THREAD_ID... or --ids-from FILE)",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
        sys.exit(EXIT_API_ERROR)
    except Interrupted:
        console.print("interrupted; run the same command again to resume")
        sys.exit(EXIT_INTERRUPTED)
    except InvalidArgumentError as exc:
        raise click.UsageError(str(exc)) from None
    except (AuthenticationError, PermissionDeniedError, CredentialError) as exc:
        end_run(exc, connection, "no thread can be exported", console)
    except BrokenPipeError:
        _silence_stdout()
        console.print("error: the output was closed before the export finished")
        sys.exit(EXIT_API_ERROR)
    except OSError as exc:
        io_failure(exc, output, console, _RESUME_ADVICE)
    except (APIError, PaginationError) as exc:  # only the thread listing raises these here
        console.print(
            f"error: listing the threads failed ({type(exc).__name__}: {exc}); "
            "run the same command again to resume",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
        sys.exit(EXIT_API_ERROR)
    console.print(f"exported {stats.threads_done} threads: {describe(stats, counters)}")
    if failures:
        report_failures(failures, console)
        sys.exit(EXIT_API_ERROR)


ImportWork = Callable[[Client, ImportStats], Coroutine[Any, Any, list[ThreadFailure]]]
"""One import's loop (into threads, into conversations), run by :func:`_import`."""


async def _import(
    work: ImportWork, client: Client, *, progress: str, console: Console
) -> tuple[list[ThreadFailure], ImportStats, dict[str, int]]:
    """Run the import with its progress display; the failures, totals and client counters."""
    stats = ImportStats()
    async with client:
        display = make_display(
            progress, stats, lambda: client.stats, console, LOG_INTERVAL, label="import"
        )
        try:
            async with showing(display):
                failures = await work(client, stats)
        finally:
            stats.finished = time.monotonic()
        return failures, stats, dict(client.stats)


def parse_thread_map(pairs: Iterable[str]) -> dict[str, str]:
    """``SRC=DST`` pairs as a dict; a malformed pair or id is a usage error naming it."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        try:
            if not sep:
                raise InvalidArgumentError("expected SRC=DST")
            validation.quote_id("source thread id", source.strip())
            validation.quote_id("target thread id", target.strip())
        except InvalidArgumentError as exc:
            raise click.UsageError(f"--thread-map {pair!r}: {exc}") from None
        if mapping.get(source.strip(), target.strip()) != target.strip():
            raise click.UsageError(f"--thread-map gives {source.strip()!r} two targets")
        mapping[source.strip()] = target.strip()
    return mapping


@cli.command(name="import", short_help="Import an export into a server (exactly once, resumable).")
@click.argument("export_file", metavar="EXPORT.jsonl", type=click.Path(dir_okay=False))
@click.option(
    "--thread-map", "thread_maps", multiple=True, metavar="SRC=DST",
    help="Write source thread SRC into the existing thread DST (repeatable).",
)  # fmt: skip
@click.option(
    "--map", "map_file", default=None, metavar="MAP.jsonl",
    help="Record one line per imported message: source_thread_id, source_id, thread_id, id.",
)  # fmt: skip
@click.option(
    "--state", "state_file", default=None, metavar="FILE",
    help=f"Where the resume state is kept [default: EXPORT.jsonl{IMPORT_STATE_SUFFIX}].",
)  # fmt: skip
@click.option(
    "--concurrency", type=click.IntRange(1, 512), default=8, show_default=True,
    help="Threads imported at once (the messages of one thread go one after the other).",
)  # fmt: skip
@click.option(
    "--complete-only", is_flag=True, default=False,
    help="Import the threads an unfinished export has finished (it is refused otherwise).",
)  # fmt: skip
@click.option(
    "--trust-idempotency-key", is_flag=True, default=False,
    help="The target honours Idempotency-Key: after a failure re-send with the same key "
    "instead of listing the thread to check.",
)  # fmt: skip
@click.option(
    "--to", "destination", type=click.Choice(["threads", "conversations"]), default="threads",
    show_default=True,
    help="Create threads, or one conversation (Responses API) per source thread.",
)  # fmt: skip
@click.option(
    "--verify", is_flag=True, default=False,
    help="With --to conversations: then walk each conversation and compare it with the "
    "export (count, order, content); exit 1 on any mismatch.",
)  # fmt: skip
@connection_options
@progress_option
def import_(
    export_file: str,
    thread_maps: tuple[str, ...],
    map_file: str | None,
    state_file: str | None,
    concurrency: int,
    complete_only: bool,
    trust_idempotency_key: bool,
    destination: str,
    verify: bool,
    connection: Connection,
    progress: str,
) -> None:
    """Create the threads and messages of EXPORT.jsonl (written by export) on a server.

    Each source thread gets a new thread (or the one --thread-map gives), then its
    messages in their original order (created_at, then file order), with role, content,
    attachments (file_ids with --api-version v1) and metadata. Sent content is the create
    API's: text, image_file and image_url parts (a refusal becomes text); annotations,
    ids, timestamps, status, assistant and run ids are dropped. Each message carries its
    idempotency key in metadata (om_idempotency_key) when it has room for one.

    With --to conversations each source thread becomes a conversation (metadata
    source_thread_id and om_import), its messages items (om.conversation_items), 20 a
    call; the map's lines are source_thread_id, source_id, conversation_id, item_id.

    Exactly once: re-running the same command after an interruption creates only what is
    missing, never a message twice. The file is checked whole before anything is sent.
    Exit codes: 0 done, 1 an API error (or a --verify mismatch), 2 bad usage or input,
    74 an I/O error, 130 interrupted.
    """
    into_conversations = destination == "conversations"
    if into_conversations and (thread_maps or trust_idempotency_key):
        raise click.UsageError("--thread-map and --trust-idempotency-key are for --to threads")
    if verify and not into_conversations:
        raise click.UsageError("--verify is for --to conversations")
    thread_map = parse_thread_map(thread_maps)
    client = open_client(connection, trust_idempotency_key=trust_idempotency_key)
    console = stderr_console()
    try:
        partial = unfinished(export_file)
    except ResumeError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError:
        partial = None  # read_export names the file it cannot read
    if partial is not None and (partial.running or not complete_only):
        other = (
            ""
            if partial.running
            else "; or import the threads it has finished with --complete-only"
        )
        raise click.UsageError(
            f"{partial.reason}: run that export to the end (the same command resumes it), "
            f"then import{other}"
        )
    try:
        size = partial.size if partial else None
        threads: Sequence[SourceThread | ConversationSource] = (
            read_for_conversations(export_file, size)
            if into_conversations
            else read_export(export_file, connection.api_version, size)
        )
    except ImportInputError as exc:
        raise click.UsageError(f"{export_file}: {exc}") from None
    unknown = sorted(set(thread_map) - {t.thread_id for t in threads})
    if unknown:
        raise click.UsageError(f"--thread-map names threads not in {export_file}: {unknown}")
    if partial is not None:
        kept = [t for t in threads if t.thread_id in partial.complete]
        console.print(
            f"importing the {len(kept)} of {len(threads)} threads {export_file} has finished "
            f"(--complete-only); the same command imports the others once the export is done",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
        threads = kept
    target = connection.target
    suffix = CONVERSATIONS_STATE_SUFFIX if into_conversations else IMPORT_STATE_SUFFIX
    state_path = state_file or export_file + suffix
    try:
        journal = ImportJournal.open(
            state_path, map_file, target, thread_map,
            CONVERSATIONS if into_conversations else THREADS,
        )  # fmt: skip
    except ResumeError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        io_failure(exc, state_path, console, "nothing was imported")
    if journal.rebuilt:
        console.print(
            f"{state_path} is missing: rebuilt from "
            f"{'the --map and ' if map_file else ''}the target threads known; what an "
            f"earlier run created is found on the target by its content, not sent again",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    if journal.resumed:
        done = sum(1 for t in threads if journal.state(t.thread_id).done)
        console.print(f"resuming {state_path}: {done} of {len(threads)} threads already complete")
    orphans: list[str] = []

    async def work(client: Client, stats: ImportStats) -> list[ThreadFailure]:
        if not into_conversations:
            return await import_threads(
                client, [t for t in threads if isinstance(t, SourceThread)], journal, stats,
                thread_map=thread_map, concurrency=concurrency,
                trust_idempotency_key=client.trust_idempotency_key,
            )  # fmt: skip
        failures, left = await import_conversations(
            client, [t for t in threads if isinstance(t, ConversationSource)], journal, stats,
            lists_conversations=connection.kind == "foundry", concurrency=concurrency,
        )  # fmt: skip
        orphans.extend(left)
        return failures

    try:
        try:
            failures, stats, counters = run_async(
                _import(work, client, progress=progress, console=console)
            )
            if verify and not failures:
                mismatches = run_async(_verify(threads, journal, connection, concurrency, console))
        finally:
            if not into_conversations:  # (conversations report their own, below)
                _warn_orphans(journal, target, console)
            journal.close()
    except Interrupted:
        console.print("interrupted; run the same command again to resume")
        sys.exit(EXIT_INTERRUPTED)
    except ResumeError as exc:
        raise click.UsageError(str(exc)) from None
    except InvalidArgumentError as exc:
        raise click.UsageError(str(exc)) from None
    except (AuthenticationError, PermissionDeniedError, CredentialError) as exc:
        end_run(exc, connection, "nothing can be imported", console)
    except OSError as exc:
        io_failure(exc, state_path, console, _RESUME_ADVICE)
    recovered = f" ({stats.recovered} found already created)" if stats.recovered else ""
    console.print(f"imported {stats.threads_done} threads{recovered}: {describe(stats, counters)}")
    report_orphans(orphans, target, console)
    if failures:
        report_failures(failures, console)
        if verify:
            console.print("not verified: run the same command again to finish first")
        sys.exit(EXIT_API_ERROR)
    if verify:
        verdict = f"{mismatches} mismatches" if mismatches else "every item matches the export"
        console.print(f"verified {len(threads)} conversations: {verdict}")
        if mismatches:
            sys.exit(EXIT_API_ERROR)


def report_orphans(orphans: Sequence[str], target: str, console: Console) -> None:
    """List the conversations a create with an unknown outcome may have left (empty)."""
    for source in orphans:
        console.print(
            f"warning: source thread {source}: a create of its conversation had an unknown "
            f"outcome; {target} may hold an empty orphan conversation with metadata "
            f"{CONVERSATION_SOURCE_KEY}={source} (no item was added to it): delete it",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip


async def _verify(
    threads: Sequence[SourceThread | ConversationSource],
    journal: ImportJournal,
    connection: Connection,
    concurrency: int,
    console: Console,
) -> int:
    """--verify: each conversation against the export; the mismatches, each printed."""

    def report(line: str) -> None:
        console.print(f"mismatch: {line}", markup=False, highlight=False, soft_wrap=True)

    async with open_client(connection) as client:
        return await verify_conversations(
            client, [t for t in threads if isinstance(t, ConversationSource)], journal,
            concurrency=concurrency, report=report,
        )  # fmt: skip


def _warn_orphans(journal: ImportJournal, target: str, console: Console) -> None:
    """Name the target threads an interrupted run may have left behind (created, their id
    never recorded, and not found by their marker: the target cannot list threads)."""
    for source in journal.orphans:
        console.print(
            f"warning: source thread {source}: an interrupted run sent the create of its "
            f"target thread and never recorded its id; that thread may be an orphan on "
            f"{target} (its metadata has {SOURCE_THREAD_METADATA_KEY}={source}): delete it",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip


@cli.command(
    short_help="Serve the emulator for other clients.",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("emulator_args", nargs=-1, type=click.UNPROCESSED, metavar="[OPTIONS]")
def serve(emulator_args: tuple[str, ...]) -> None:
    """Run the emulator (the Messages API in memory) for other clients, until Ctrl-C.

    Takes exactly the options of ``python -m openai_messages.emulator`` (one parser:
    ``openai-messages serve --help`` lists them).
    """
    from ..emulator.__main__ import main as run_emulator

    try:
        status = run_emulator(list(emulator_args), prog="openai-messages serve")
    except OSError as exc:
        raise click.UsageError(f"cannot serve: {exc.strerror or exc}") from None
    sys.exit(status)


@cli.command(short_help="Export from the embedded emulator and check the result.")
@_shown("--threads", click.IntRange(1), 200)
@_shown("--messages", click.IntRange(0), 1000)
@_shown("--concurrency", click.IntRange(1, 512), 32)
@click.option(
    "-o", "--output", default=None, metavar="FILE",
    help="Where to export [default: a temporary file].",
)  # fmt: skip
@click.option(
    "--base-url", default=None, metavar="URL",
    help="Export from this server instead (needs OPENAI_API_KEY and --ids-from).",
)  # fmt: skip
@click.option("--ids-from", type=click.File("rb"), default=None, metavar="FILE")
@_shown("--progress", click.Choice(PROGRESS_CHOICES), "auto")
def demo(
    threads: int,
    messages: int,
    concurrency: int,
    output: str | None,
    base_url: str | None,
    ids_from: IO[bytes] | None,
    progress: str,
) -> None:
    """Export THREADS x MESSAGES from the embedded emulator, with faults and a rate limit,
    then check the export against the emulator's store (no network, no key)."""
    from . import demo as cli_demo

    console = stderr_console()
    try:
        path = cli_demo.fresh_output(output)
    except FileExistsError as exc:
        raise click.UsageError(str(exc)) from None
    if base_url is not None:
        api_key = os.environ.get("OPENAI_API_KEY")
        if not api_key:
            raise click.UsageError("--base-url needs the OPENAI_API_KEY environment variable")
        ids = read_ids((), ids_from)
        check_ids(ids)
        coroutine = cli_demo.run_remote_demo(
            base_url, api_key, ids, concurrency=concurrency, output=path, console=console,
            progress=progress,
        )  # fmt: skip
    else:
        coroutine = cli_demo.run_local_demo(
            threads, messages, concurrency=concurrency, output=path, console=console,
            progress=progress,
        )  # fmt: skip
    try:
        result = run_async(coroutine)
    except Interrupted:
        console.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    finally:
        if output is None:  # a temporary file: do not leave it behind
            cli_demo.remove_output(path)
    if output is None:
        result.output = "(temporary file, removed)"
    Console(highlight=False).print(cli_demo.summary_table(result))
    if result.failures:
        report_failures(result.failures, console)
    verdict = result.verdict
    if verdict is not None:
        for problem in verdict.problems[:20]:
            console.print(f"[red]mismatch[/red]: {problem}")
        click.echo("PASS" if verdict.ok else "FAIL")
    if result.failures or (verdict is not None and not verdict.ok):
        sys.exit(EXIT_API_ERROR)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script's entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="openai-messages")
