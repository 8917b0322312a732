"""Tests of the credentials (openai_messages.auth)."""
