"""Calls written once: a call returning a :class:`~openai_messages.Response`, offered as
well returning its value alone.

``value_of(WithResponse.create)`` in a class body is the method ``create`` of that class,
whose instances have a ``with_response`` attribute holding the ``WithResponse`` object: a
plain function with the same parameters and the response's value type as its return
(``inspect.signature``, ``typing.get_type_hints``, ``help`` and the API reference show
it). The client and its namespaces (``client.conversations``, ``.items``) are built so.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from ._transport.retry_loop import Response

__all__ = ["value_of"]

T = TypeVar("T")
P = ParamSpec("P")


def value_of(
    call: Callable[Concatenate[Any, P], Awaitable[Response[T]]],
) -> Callable[Concatenate[Any, P], Awaitable[T]]:
    """The call ``call`` (a ``with_response`` method), returning its value alone."""

    async def value(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return (await call(self.with_response, *args, **kwargs)).value

    hints = typing.get_type_hints(call)
    (returned,) = typing.get_args(hints["return"])
    signature = inspect.signature(call, eval_str=True)
    value.__name__ = call.__name__
    value.__qualname__ = call.__qualname__
    value.__module__ = call.__module__
    value.__doc__ = call.__doc__
    value.__annotations__ = {**hints, "return": returned}
    value.__signature__ = signature.replace(return_annotation=returned)  # type: ignore[attr-defined]
    return value
