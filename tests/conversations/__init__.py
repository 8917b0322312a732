"""Tests of the conversations namespace and the message-to-items mapping."""
