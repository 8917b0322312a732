"""Calls written once: a call returning a :class:`~openai_messages._transport.retry_loop.Response`,
offered as well returning its value alone.

``value_of(WithResponse.create)`` in a class body is the method ``create`` of that class,
whose instances have a ``with_response`` attribute holding the ``WithResponse`` object:
the same signature (shown by ``help``), the value of the response. The client and its
namespaces (``client.conversations``, ``client.conversations.items``) are built so.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Concatenate, Final, Generic, ParamSpec, TypeVar, overload

from ._transport.retry_loop import Response

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ValueOf", "value_of"]

T = TypeVar("T")
P = ParamSpec("P")

_VALUE_OF: Final = re.compile(r"^Response\[|\]$")


class ValueOf(Generic[P, T]):
    """A call: the ``with_response`` call of the same name, its value."""

    def __init__(self, call: Callable[..., Awaitable[Response[T]]]) -> None:
        self._call = call
        self.__doc__ = call.__doc__
        self.__name__ = call.__name__
        signature = inspect.signature(call)
        signature = signature.replace(
            return_annotation=_VALUE_OF.sub("", str(signature.return_annotation))
        )
        self.__signature__ = signature
        self._bound_signature = signature.replace(
            parameters=list(signature.parameters.values())[1:]
        )

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type[Any]) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, instance: object, owner: type[Any]) -> Self | Callable[P, Awaitable[T]]:
        if instance is None:
            return self
        call, calls = self._call, instance.with_response  # type: ignore[attr-defined]

        async def value(*args: P.args, **kwargs: P.kwargs) -> T:
            return (await call(calls, *args, **kwargs)).value

        value.__doc__ = self.__doc__
        value.__signature__ = self._bound_signature  # type: ignore[attr-defined]
        return value

    async def __call__(self, instance: Any, *args: P.args, **kwargs: P.kwargs) -> T:
        """``Owner.<call>(instance, ...)``, as for any method."""
        return (await self._call(instance.with_response, *args, **kwargs)).value


def value_of(call: Callable[Concatenate[Any, P], Awaitable[Response[T]]]) -> ValueOf[P, T]:
    """The call ``call`` (a ``with_response`` method), returning its value alone."""
    return ValueOf(call)
