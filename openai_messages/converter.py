"""JSON bytes or dicts to models and back: :func:`decode`, :func:`structure`,
:func:`unstructure`, :func:`encode` (the codec's public entry points)."""

from ._codec.converter import decode, encode, structure, unstructure

__all__ = ["decode", "encode", "structure", "unstructure"]
