"""JSON <-> models: one cattrs converter, and which path a payload takes through it.

>>> from openai_messages.converter import decode, unstructure
>>> from openai_messages.models import Message
>>> m = decode(b'{"id": "msg_1", "content": [], "metadata": null, "x_new": 1}', Message)
>>> m.metadata is None, m.extra["x_new"], sorted(m.absent_fields)[:3]
(True, 1, ['assistant_id', 'attachments', 'completed_at'])
>>> unstructure(m)
{'id': 'msg_1', 'content': [], 'metadata': None, 'x_new': 1}

Two paths build the same objects:

* **The cattrs path** (:mod:`openai_messages.structuring`): hooks made by ``cattrs.gen``
  with overrides, tagged unions through ``cattrs.strategies``, detailed validation. It
  reads whatever the fast path declines, and it alone reports errors: every failure
  raises :class:`~openai_messages.errors.APIResponseValidationError` with the path cattrs
  recorded, e.g. ``data[3].content[0].text.value: expected string, got integer``
  (inside, an :class:`Unreadable` carries that problem up to the one place the public
  error is built: :meth:`Unreadable.error`).
  Unstructuring (models back to dicts) is always this path.
* **The fast path** (:mod:`openai_messages.fastpath`), for reading response models only,
  because of a measured figure: cattrs alone parses the 100-message page of
  ``benchmarks/bench_parse.py`` in 5 to 7 times the time of ``orjson.loads`` (the
  ``cattrs path alone`` row), against a target of 3.5x; with the fast path first, about
  2.9x. It builds exactly what the cattrs hooks build (a property test holds both paths
  to that), or steps aside (``Miss``) and lets them read the payload.

:func:`decode` frees a page's items as it reads them (the garbage collector then seldom
runs mid-walk); :func:`structure` leaves its input alone.

Readings to know: a key the model does not know is kept in ``extra``; a known key the
payload left out is listed in ``absent_fields`` and left out again by :func:`unstructure`,
so ``unstructure(structure(x)) == x``; an integral float where the model says integer
(``"created_at": 1796155404.0``, as some compatible servers send) is stored as the int,
and unstructured as the int; a page (``MessagePage``, ``MessageFilePage``...) without a
``data`` array is unreadable, whatever else it holds (``{}``, ``{"error": ...}``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from ..errors import APIResponseValidationError
from . import models

if TYPE_CHECKING:
    from .structuring import Converter

__all__ = [
    "Unreadable",
    "decode",
    "encode",
    "make_converter",
    "read_body",
    "structure",
    "the_converter",
    "unstructure",
]

T = TypeVar("T")


class Unreadable(Exception):
    """Why a payload cannot be read, as the converter found it (the path and the problem).

    Internal: the converter raises it and the public entry points turn it into the
    public error with :meth:`error`, the one place an :class:`APIResponseValidationError`
    is built for a payload (:func:`decode` and :meth:`Converter.structure` here; for a
    reply, :mod:`openai_messages.replies`, which adds the status, the request id and the
    scrubbing). Raised outside any ``except`` block, so it holds no payload in a context.
    """

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem

    def error(
        self,
        body: bytes | str | None = None,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        scrub: Callable[[str], str] | None = None,
    ) -> APIResponseValidationError:
        """The public error: the problem (through ``scrub``), the start of ``body``."""
        problem = self.problem if scrub is None else scrub(self.problem)
        return APIResponseValidationError(
            problem, body=body, status_code=status_code, request_id=request_id
        )


def make_converter(*modules: ModuleType) -> Converter:
    """A converter for the models of ``modules`` (default: the package's own).

    cattrs, its hooks and the fast readers are imported and made here, on first use, not
    when the package is imported.
    """
    from . import conversation_models, fastpath, structuring

    found = modules or (models, conversation_models)
    return structuring.Converter(found, fastpath.make_readers, _public_error)


def _public_error(problem: str) -> APIResponseValidationError:
    return Unreadable(problem).error()


_built: list[Converter] = []


def the_converter() -> Converter:
    """The package's one converter: structure and unstructure hooks for every model.

    Built on first use (its hooks and fast readers take longer to make than the rest of
    the package takes to import); ``converter.converter`` names it too.
    """
    if not _built:
        _built.append(make_converter())
    return _built[0]


def __getattr__(name: str) -> Converter:
    if name == "converter":
        return the_converter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def structure(data: Any, cls: type[T]) -> T:
    """Build ``cls`` from JSON-like data (dicts, lists, str, int...).

    Raises :class:`APIResponseValidationError` naming the path of any value of the wrong shape.
    """
    return the_converter().structure(data, cls)  # type: ignore[no-any-return]


def _read(obj: Any, cls: Any) -> Any:
    """:meth:`Converter.read`, raising :class:`Unreadable` with the problem cattrs found."""
    conv = _built[0] if _built else the_converter()
    try:
        return conv.read(obj, cls)
    except Exception as exc:
        from .structuring import problem_of

        problem = problem_of(exc)
    raise Unreadable(problem)


def decode(body: bytes | bytearray | memoryview | str, cls: type[T]) -> T:
    """Parse JSON ``body`` (bytes as received) into ``cls``.

    Raises :class:`APIResponseValidationError` if the body is not JSON or not of the shape of
    ``cls``; the error carries the start of the body.
    """
    try:
        return read_body(body, cls)
    except Unreadable as exc:
        failure = exc
    raise failure.error(_text(body))


def read_body(body: bytes | bytearray | memoryview | str, cls: type[T]) -> T:
    """:func:`decode`, raising :class:`Unreadable` (for a caller that builds the error)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        problem = f"response body is not valid JSON: {exc}"
    else:
        # ``data`` is ours alone: a page may be consumed as it is read
        conv = _built[0] if _built else the_converter()
        consume = conv.readers.consuming.get(cls)
        if consume is not None:
            try:
                return consume(data)  # type: ignore[no-any-return]
            except Exception:
                data = orjson.loads(body)  # the page's list may be emptied: read it afresh
        return _read(data, cls)  # type: ignore[no-any-return]
    raise Unreadable(problem)


def _text(body: bytes | bytearray | memoryview | str) -> bytes | str:
    return body if isinstance(body, (bytes, str)) else bytes(body)


def unstructure(obj: Any) -> Any:
    """The JSON-ready form of a model (dicts, lists, str, int...), absent fields left out."""
    return the_converter().unstructure(obj)


def _default(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def encode(obj: Any) -> bytes:
    """The JSON bytes of a model (or of JSON-ready data), compact and UTF-8.

    However deep it nests: what orjson refuses (it writes 255 levels, a server's unknown
    fields may hold more) is written by :func:`_encode_deep`, to the same bytes. Raises
    ``TypeError`` only for a value that is not JSON (``obj`` neither a model nor data).
    """
    data = unstructure(obj)
    try:
        return orjson.dumps(data, default=_default)
    except orjson.JSONEncodeError:
        return _encode_deep(data)


class _Raw(str):
    """Text already written as JSON (punctuation), on the stack of :func:`_encode_deep`."""

    __slots__ = ()


_OPEN_LIST, _CLOSE_LIST = _Raw("["), _Raw("]")
_CLOSE_OBJECT, _COMMA = _Raw("}"), _Raw(",")


def _encode_deep(data: Any) -> bytes:
    """The JSON of ``data`` as orjson writes it, with a stack instead of recursion."""
    out: list[str] = []
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if type(item) is _Raw:
            out.append(item)
        elif isinstance(item, str):
            out.append(_json_string(item))
        elif isinstance(item, Mapping):
            pairs = list(item.items())
            stack.append(_CLOSE_OBJECT)
            for i in range(len(pairs) - 1, -1, -1):
                key, value = pairs[i]
                if not isinstance(key, str):
                    raise TypeError("a JSON object's keys are strings")
                stack.append(value)
                stack.append(_Raw(("{" if i == 0 else ",") + _json_string(key) + ":"))
            if not pairs:
                stack.append(_Raw("{"))
        elif isinstance(item, (list, tuple)):
            stack.append(_CLOSE_LIST)
            for i in range(len(item) - 1, -1, -1):
                stack.append(item[i])
                if i:
                    stack.append(_COMMA)
            out.append(_OPEN_LIST)
        else:
            out.append(orjson.dumps(item, default=_default).decode())
    return "".join(out).encode()


def _json_string(text: str) -> str:
    return orjson.dumps(text).decode()
