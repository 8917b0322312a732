"""The thread ids of ``export --all-threads``: the service's thread list, resumed by cursor.

:func:`listed_threads` walks ``client.list_threads(order="asc")`` after the cursor the
export's state saved, oldest thread first. For each page, the sink records the threads
it names and the page's last id as the new cursor in one step
(:meth:`~openai_messages.cli.export.Sink.discover`), so every committed state that holds
a cursor holds every thread before it: a resumed export walks the threads its state knows
and lists on after the cursor, skipping none and walking none twice. Threads created while
the export runs come after the cursor (the list is in creation order): those created
before the listing reads its last page are exported; a later one is left for the next run,
which lists on from the saved cursor.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable

from .._core.defaults import PAGE_SIZE
from ..client import Client
from .export import ExportStats, Sink
from .journal import replace_atomically

__all__ = ["listed_threads", "write_thread_ids"]


async def listed_threads(
    client: Client, sink: Sink, stats: ExportStats, *, page_size: int = PAGE_SIZE
) -> AsyncIterator[str]:
    """The ids of the threads listed after ``sink.listing_cursor`` that ``sink`` does not
    know yet, each counted in ``stats.threads_total`` as it is found."""
    stats.listing = True
    pager = client.list_threads(order="asc", after=sink.listing_cursor, page_size=page_size)
    async for page in pager.pages():
        ids = [thread.id for thread in page.data]
        new = sink.discover(ids, ids[-1] if ids else None)
        stats.threads_total += len(new)
        for thread_id in new:
            yield thread_id
    sink.listing_done()
    stats.listing = False


def write_thread_ids(path: str, thread_ids: Iterable[str]) -> None:
    """``--threads-out``: the ids, one a line (for a later ``--ids-from``), replaced whole."""
    text = "".join(f"{thread_id}\n" for thread_id in thread_ids)
    replace_atomically(os.fspath(path), text.encode())
