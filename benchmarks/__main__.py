"""``python -m benchmarks [--quick | --smoke] [--only ...]``: see :mod:`benchmarks.runner`."""

from __future__ import annotations

import sys

from .runner import main

if __name__ == "__main__":
    sys.exit(main())
