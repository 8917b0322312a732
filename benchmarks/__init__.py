"""Benchmarks of openai_messages beside the official ``openai`` package and a bare floor.

``python -m benchmarks [--quick]`` (or ``nox -s bench``) starts the emulator in
subprocesses on loopback, runs every scenario for every client in the same run, prints
one table and writes ``benchmarks/results/`` (``latest.json``, ``table.rst`` and,
when matplotlib is importable, ``ratios.png``).
"""
