"""Tests of the openai-messages command: export, import, serve, demo."""
