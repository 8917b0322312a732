"""Unit tests of the sans-I/O core (openai_messages._core)."""
