"""The sans-I/O core: operations, request building, argument checks, reply reading,
headers, retry judgement, idempotency matching. Imports neither asyncio nor aiohttp."""
