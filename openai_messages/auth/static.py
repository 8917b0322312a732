"""A key or token that never changes."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgumentError
from .source import token_problem

__all__ = ["StaticToken"]


class StaticToken:
    """A fixed key, checked once: not empty, printable ASCII, no surrounding whitespace."""

    __slots__ = ("_value",)

    def __init__(self, value: str, *, what: str = "the API key") -> None:
        problem = token_problem(value)
        if problem is not None:
            raise InvalidArgumentError(f"{what} {problem}")
        self._value = value

    async def get(self) -> str:
        """The key."""
        return self._value

    def reveal(self) -> str:
        """The key itself, for the transport to put in its base headers once."""
        return self._value

    def invalidate(self, rejected: str) -> bool:
        """A fixed key cannot be refreshed: always False."""
        return False

    def __repr__(self) -> str:
        return "StaticToken('***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a StaticToken cannot be pickled")
