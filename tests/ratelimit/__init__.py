"""Tests of the client-side rate limiter (openai_messages.ratelimit)."""
