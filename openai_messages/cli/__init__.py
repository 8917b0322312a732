"""The ``openai-messages`` command line: ``export``, ``import``, ``serve`` and ``demo``.

The commands need the ``[cli]`` extra (click and rich); this module imports neither, so
that without them :func:`main` can say how to install them instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Final

__all__ = ["INSTALL_HINT", "main"]

CLI_EXTRAS: Final = ("click", "rich")
INSTALL_HINT: Final = (
    'openai-messages: the command line needs the [cli] extra: pip install "openai_messages[cli]"'
)


def _missing_extra(error: ModuleNotFoundError) -> bool:
    root = (error.name or "").partition(".")[0]
    return root in CLI_EXTRAS


def main(argv: Sequence[str] | None = None) -> None:
    """The console script's entry point (exit 2 with an install hint without the extra)."""
    try:
        from .commands import main as run
    except ModuleNotFoundError as exc:
        if not _missing_extra(exc):
            raise
        print(INSTALL_HINT, file=sys.stderr)
        sys.exit(2)
    run(argv)
