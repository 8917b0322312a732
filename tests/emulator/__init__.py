"""Tests of the emulator (openai_messages.emulator)."""
