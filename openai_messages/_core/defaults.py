"""The client's defaults, each defined once."""

from __future__ import annotations

from typing import Final

__all__ = [
    "AZURE_API_VERSION",
    "CONNECTION_LIMIT",
    "MASK",
    "MAX_RESPONSE_BYTES",
    "PAGE_SIZE",
]

PAGE_SIZE: Final = 100
"""Items per request of a listing (the API's ``limit``; also its maximum)."""
AZURE_API_VERSION: Final = "2024-05-01-preview"
"""The ``api-version`` query of Azure OpenAI's classic route."""
MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
"""The cap on a reply's decompressed body."""
CONNECTION_LIMIT: Final = 100
"""Connections a client's aiohttp session opens at most."""
MASK: Final = "***"
"""What a secret is replaced with, wherever it would show."""
