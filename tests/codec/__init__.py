"""Tests of the codec: models, the converter, its fast path, payloads fuzzed from the spec."""
