"""The transport: the seam to HTTP, the aiohttp adapter, the retry loop, reconciles."""
