"""The cattrs configuration of the models: which hooks, built by cattrs, and the few added.

cattrs does the structuring: each response model's hook is made by
:func:`cattrs.gen.make_dict_structure_fn` (``extra`` and ``_absent`` omitted through
overrides), the tagged unions (content blocks, annotations, tools) go through
:func:`cattrs.strategies.configure_tagged_union` on their known members, and lists through
:func:`cattrs.cols.homogenous_tuple_structure_factory`. The converter runs with detailed
validation, so a failure carries the path of the bad value in cattrs' exception notes
(read back by :func:`cattrs.transform_error`).

This module adds only what cattrs has no option for, each as a thin hook around cattrs' own:

* exact JSON types: ``str``, ``int``, ``bool`` and objects are checked, never coerced
  (cattrs would turn ``5`` into ``"5"``); an integral float (``1796155404.0``, as some
  compatible servers send) is read as the int it stands for, any other float is refused;
* lists must be JSON arrays (cattrs would iterate a string);
* :func:`model_structure_hook`: unknown keys are kept in ``extra``, missing known keys are
  recorded in ``_absent`` (and given the field's zero value when the field has no default),
  so that unstructuring gives the payload back;
* a tagged union's member of an unknown ``type`` becomes its ``Unknown*`` class, holding the
  raw dict (cattrs' ``default=`` would also take these, but it adds every new tag it meets to
  its table, which a hostile server could grow without bound);
* :func:`model_unstructure_hook`: absent fields are left out and ``extra`` is put back.

The classes covered are found in :mod:`openai_messages.models` (and
:mod:`openai_messages.conversation_models`), not listed here: every attrs
class with ``extra`` and ``_absent`` fields is a response model, every one with ``type`` and
``raw`` fields an unknown-member holder, every module-level union holding one of those a
tagged union, and every response model that is a page (``_PageMixin``) must have ``data``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, cast

import attrs
import cattrs
from attrs import NOTHING
from cattrs.cols import homogenous_tuple_structure_factory, is_sequence
from cattrs.errors import AttributeValidationNote, ClassValidationError
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_tagged_union

from . import models as m

__all__ = [
    "Converter",
    "Miss",
    "Reader",
    "Readers",
    "problem_of",
    "JSON_TYPE_NAMES",
    "Models",
    "WrongType",
    "configure",
    "find_models",
    "got",
    "is_mapping",
    "is_nullable",
    "shared_absent",
    "zero_value",
]

Reader = Callable[[Any], Any]
"""A fast reader: a payload in, its model out (or :class:`Miss`)."""


class Miss(Exception):
    """The payload needs the general (cattrs) path."""


@attrs.frozen
class Readers:
    """The fast readers by class; ``consuming`` ones free a page's items as they read them."""

    plain: Mapping[Any, Reader]
    consuming: Mapping[Any, Reader]


StructureHook = Callable[[Any, Any], Any]
UnstructureHook = Callable[[Any], Any]

JSON_TYPE_NAMES: Final[dict[type, str]] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}
_INT64: Final = 2**63
_BOOKKEEPING: Final = ("extra", "_absent")


def got(value: object) -> str:
    """The JSON type name of ``value`` ("string", "null"...)."""
    return JSON_TYPE_NAMES.get(type(value), type(value).__name__)


class WrongType(TypeError):
    """A JSON value of the wrong type; its message is the whole description."""

    def __init__(self, expected: str, value: object) -> None:
        super().__init__(f"expected {expected}, got {got(value)}")


class Missing(KeyError):
    """A required key is not in the payload."""

    __notes__: list[str]

    def __str__(self) -> str:
        return "missing required field"


# --------------------------------------------------------------------------- the models


@attrs.frozen
class Models:
    """The classes and unions of :mod:`openai_messages.models`, by role."""

    responses: tuple[type, ...]
    unknowns: tuple[type, ...]
    #: union alias -> (its known members, the class of its unknown members)
    unions: Mapping[Any, tuple[tuple[type, ...], type]]
    pages: tuple[type, ...]
    requests: tuple[type, ...]


def _field_names(cls: type) -> set[str]:
    return {a.name for a in attrs.fields(cls)}


def find_models(module: Any = m, *more: Any) -> Models:
    """Sort the attrs classes and unions defined in ``module`` (and ``more`` modules) by
    the role their fields say."""
    modules = (module, *more)
    classes = [
        v
        for mod in modules
        for v in vars(mod).values()
        if isinstance(v, type)
        and attrs.has(v)
        and v.__module__ == mod.__name__
        and v is not m._Model  # the base of the response models, never read itself
    ]
    for cls in classes:
        attrs.resolve_types(cls)  # the fields' string annotations, as types
    responses = tuple(c for c in classes if set(_BOOKKEEPING) <= _field_names(c))
    unknowns = tuple(c for c in classes if _field_names(c) == {"type", "raw"})
    unions: dict[Any, tuple[tuple[type, ...], type]] = {}
    for value in (v for mod in modules for v in vars(mod).values()):
        if typing.get_origin(value) in (typing.Union, types.UnionType):
            members = typing.get_args(value)
            holders = [c for c in members if c in unknowns]
            if len(holders) == 1:
                unions[value] = (tuple(c for c in members if c not in holders), holders[0])
    pages = tuple(c for c in responses if issubclass(c, m._PageMixin))
    requests = tuple(c for c in classes if c not in responses and c not in unknowns)
    return Models(responses, unknowns, unions, pages, requests)


# --------------------------------------------------------------------------- JSON scalars


def _exactly(pytype: type, name: str) -> StructureHook:
    """A hook passing values of exactly ``pytype`` (no coercion, no subclass) through."""

    def check(value: Any, _: Any) -> Any:
        if type(value) is pytype:
            return value
        raise WrongType(name, value)

    return check


_str, _bool, _object = _exactly(str, "string"), _exactly(bool, "boolean"), _exactly(dict, "object")


def _int(value: Any, _: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer() and -_INT64 <= value < _INT64:
        return int(value)  # compatible servers send timestamps as 1796155404.0
    raise WrongType("integer", value)


def is_mapping(t: Any) -> bool:
    """Whether ``t`` is a JSON object field (``Mapping[str, Any]``, ``dict[str, Any]``)."""
    return t in (Mapping, dict) or typing.get_origin(t) in (Mapping, dict)


def _float(value: Any, _: Any) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    raise WrongType("number", value)


def _array_unstructure_factory(t: Any, conv: cattrs.Converter) -> UnstructureHook:
    """A tuple as a JSON array; cattrs' item hook, called from a list comprehension
    (cattrs' own feeds a generator to ``list``: slower on the short lists of the API)."""
    args = typing.get_args(t)
    hook = conv.get_unstructure_hook(args[0]) if args else identity
    if hook == identity:
        return list

    def unstructure_array(value: Any) -> list[Any]:
        return [hook(x) for x in value] if value else []

    return unstructure_array


def _is_tuple(t: Any) -> bool:
    return bool(is_sequence(t)) and typing.get_origin(t) is tuple


def _array_factory(t: Any, conv: cattrs.Converter) -> StructureHook:
    """cattrs' tuple hook, refusing anything but a JSON array first."""
    items = homogenous_tuple_structure_factory(t, conv)

    def structure_array(value: Any, cls: Any) -> Any:
        if type(value) is not list:
            raise WrongType("array", value)
        return items(value, cls)

    return structure_array


# --------------------------------------------------------------------------- models


def is_nullable(hint: Any) -> tuple[Any, bool]:
    """``(T, True)`` for ``T | None``, else ``(hint, False)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if type(None) in args:
            rest = tuple(a for a in args if a is not type(None))
            return (rest[0] if len(rest) == 1 else typing.Union[rest]), True  # noqa: UP007
    return hint, False


def _optional_unstructure_factory(t: Any, conv: cattrs.Converter) -> UnstructureHook:
    """``T | None``: cattrs' hook of ``T``, or the identity (inlined by cattrs) for scalars."""
    hook = conv.get_unstructure_hook(is_nullable(t)[0])
    if hook == identity:
        return identity

    def unstructure_optional(value: Any) -> Any:
        return None if value is None else hook(value)

    return unstructure_optional


def _is_optional(t: Any) -> bool:
    return is_nullable(t)[1]


def _tag(cls: type) -> str | None:
    tag = vars(cls).get("type")
    return tag if isinstance(tag, str) else None


def zero_value(hint: Any) -> Any:
    """The value of a default-less field whose key is absent; ``NOTHING``: it is required."""
    if is_nullable(hint)[1]:
        return None
    if typing.get_origin(hint) is tuple:
        return ()
    return {str: "", int: 0, float: 0.0, bool: False}.get(hint, NOTHING)


_SHARED_ABSENT: dict[Any, frozenset[str]] = {}


def shared_absent(absent: Iterable[str]) -> frozenset[str]:
    """One frozenset per distinct set (or tuple) of absent keys: servers repeat theirs.

    The table holds known field names only, so it stays small.
    """
    found = _SHARED_ABSENT.get(absent)
    if found is None:
        found = _SHARED_ABSENT[absent] = frozenset(absent)
    return found


_set = object.__setattr__


def model_structure_hook(
    cls: type, conv: cattrs.Converter, *, required: frozenset[str] | None = None
) -> StructureHook:
    """The structure hook of a response model: cattrs' own, plus ``extra`` and absent keys.

    A known key missing from the payload is recorded in ``_absent``; a default-less field
    then gets its zero value (``""``, ``0``, ``()``), except ``id``, the names in
    ``required`` and fields holding a model (the body of a content block), which cattrs
    reports as missing. Keys the model does not know go to ``extra``.
    """
    fields = [a for a in attrs.fields(cls) if a.name not in _BOOKKEEPING]
    names = frozenset(a.name for a in fields)
    tag = _tag(cls)
    known = names | ({"type"} if tag is not None else set())
    fill: dict[str, Any] = {}
    for a in fields:
        if a.default is NOTHING and a.name != "id":
            zero = zero_value(a.type)
            if zero is not NOTHING:
                fill[a.name] = zero
    base: Callable[[Any], Any] = make_dict_structure_fn(
        cls, conv, extra=override(omit=True), _absent=override(omit=True)
    )
    fill_names = frozenset(fill)
    n_known = len(known)
    must = required or frozenset()

    def structure_model(d: Any, _: Any) -> Any:
        if type(d) is not dict:
            raise WrongType("object", d)
        absent = names.difference(d)
        untagged = tag is not None and "type" not in d  # read directly, not through a union
        if not absent and not untagged and len(d) == n_known:
            return base(d)
        if absent & must:
            raise _missing(cls, min(absent & must))
        if absent & fill_names:
            obj = base({**{k: fill[k] for k in absent & fill_names}, **d})
        else:
            obj = base(d)
        if absent:
            _set(obj, "_absent", shared_absent(absent))
        if len(d) + len(absent) + untagged != n_known:
            _set(obj, "extra", {k: v for k, v in d.items() if k not in known})
        return obj

    return structure_model


def _missing(cls: type, name: str) -> ClassValidationError:
    """The error cattrs raises for a missing required key, noted with its attribute name."""
    exc = Missing(name)
    note = AttributeValidationNote(
        f"Structuring class {cls.__qualname__} @ attribute {name}", name, Any
    )
    exc.__notes__ = [note]  # cattrs reads the path from this note
    return ClassValidationError(f"While structuring {cls.__name__}", [exc], cls)


def model_unstructure_hook(cls: type, conv: cattrs.Converter) -> UnstructureHook:
    """The unstructure hook of a response model: cattrs' own, absent left out, extra added."""
    base: UnstructureHook = make_dict_unstructure_fn(
        cls, conv, extra=override(omit=True), _absent=override(omit=True)
    )
    tag = _tag(cls)

    def unstructure_model(obj: Any) -> dict[str, Any]:
        d: dict[str, Any] = base(obj) if tag is None else {"type": tag, **base(obj)}
        absent = obj._absent
        if absent:
            for name in absent:
                del d[name]
        extra = obj.extra
        if extra:
            d.update(extra)
        return d

    return unstructure_model


def _unknown_structure_hook(cls: type, conv: cattrs.Converter) -> StructureHook:
    """An ``Unknown*`` holder: its ``type`` read by cattrs, the whole dict kept as ``raw``."""
    base: Callable[[Any], Any] = make_dict_structure_fn(cls, conv, raw=override(omit=True))

    def structure_unknown(d: Any, _: Any) -> Any:
        obj = base(d)
        _set(obj, "raw", d)
        return obj

    return structure_unknown


def _unstructure_unknown(obj: Any) -> dict[str, Any]:
    return {**obj.raw, "type": obj.type}


def _configure_union(
    conv: cattrs.Converter, alias: Any, members: tuple[type, ...], unknown: type
) -> None:
    """A tagged union on ``"type"``: cattrs' strategy for the known members, else ``unknown``."""
    known_union = cast(Any, typing.Union)[members]  # one member: that class
    if len(members) > 1:
        configure_tagged_union(known_union, conv, tag_generator=_tag_of, tag_name="type")
    tagged = conv.get_structure_hook(known_union)
    untagged = conv.get_structure_hook(unknown)
    tags = frozenset(_tag_of(c) for c in members)

    def structure_union(d: Any, _: Any) -> Any:
        if type(d) is not dict:
            raise WrongType("object", d)
        tag = d.get("type")
        if type(tag) is str and tag in tags:
            return tagged(d, known_union)
        return untagged(d, unknown)

    # each member's hook writes its own tag (first, as the API orders keys): a dispatch on
    # the class is all the union needs, and is faster than the strategy's re-tagging
    by_class = {c: conv.get_unstructure_hook(c) for c in members}
    by_class[unknown] = _unstructure_unknown

    def unstructure_union(obj: Any) -> Any:
        return by_class[obj.__class__](obj)

    conv.register_structure_hook(alias, structure_union)
    conv.register_unstructure_hook(alias, unstructure_union)


def _tag_of(cls: type) -> str:
    tag = _tag(cls)
    if tag is None:  # pragma: no cover - find_models only puts tagged classes in unions
        raise TypeError(f"{cls.__name__} has no type tag")
    return tag


# --------------------------------------------------------------------------- request bodies


def _unstructure_part(part: m.TextPart | m.ImageFilePart | m.ImageUrlPart) -> dict[str, Any]:
    if isinstance(part, m.TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, m.ImageFilePart):
        image: dict[str, Any] = {"file_id": part.file_id}
        kind = "image_file"
    else:
        image = {"url": part.url}
        kind = "image_url"
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": kind, kind: image}


# --------------------------------------------------------------------------- the converter


def configure(conv: cattrs.Converter, models: Models) -> None:
    """Register the hooks of every class in ``models`` on ``conv``."""
    for scalar, hook in ((str, _str), (int, _int), (bool, _bool), (float, _float)):
        conv.register_structure_hook(scalar, hook)
    conv.register_structure_hook_func(is_mapping, _object)
    conv.register_unstructure_hook_func(is_mapping, dict)
    conv.register_unstructure_hook_factory(_is_optional, _optional_unstructure_factory)
    conv.register_structure_hook_factory(_is_tuple, _array_factory)
    conv.register_unstructure_hook_factory(_is_tuple, _array_unstructure_factory)
    for cls in models.unknowns:
        conv.register_structure_hook(cls, _unknown_structure_hook(cls, conv))
        conv.register_unstructure_hook(cls, _unstructure_unknown)
    responses = frozenset(models.responses)
    pages = frozenset(models.pages)

    def structure_factory(cls: Any, c: cattrs.Converter) -> StructureHook:
        return model_structure_hook(cls, c, required=_PAGE_REQUIRED if cls in pages else None)

    # made at first use, by then the hooks of the fields' types exist
    conv.register_structure_hook_factory(lambda t: t in responses, structure_factory)
    conv.register_unstructure_hook_factory(lambda t: t in responses, model_unstructure_hook)
    for alias in sorted(models.unions, key=lambda u: len(_unions_reached(u, models))):
        # a union's members are resolved now: the unions inside them must exist first
        members, unknown = models.unions[alias]
        _configure_union(conv, alias, members, unknown)
    for part in (m.TextPart, m.ImageFilePart, m.ImageUrlPart):
        conv.register_unstructure_hook(part, _unstructure_part)
    for cls in models.requests:
        if cls not in (m.TextPart, m.ImageFilePart, m.ImageUrlPart):
            conv.register_unstructure_hook(
                cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True)
            )


_PAGE_REQUIRED: Final = frozenset({"data"})


def _unions_reached(alias: Any, models: Models, seen: set[Any] | None = None) -> set[Any]:
    """The other tagged unions that the members of ``alias`` hold, however deep."""
    seen = set() if seen is None else seen
    todo = list(models.unions[alias][0])
    found: set[Any] = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for hint in (a.type for a in attrs.fields(cls)):
            for part in (hint, *_flat_args(hint)):
                if part in models.unions and part is not alias:
                    found.add(part)
                if isinstance(part, type) and attrs.has(part):
                    todo.append(part)
    return found


def _flat_args(hint: Any) -> list[Any]:
    out: list[Any] = []
    for arg in typing.get_args(hint):
        out += [arg, *_flat_args(arg)]
    return out


# --------------------------------------------------------------------------- the converter


def _format(exc: BaseException, _type: Any) -> str:
    if isinstance(exc, WrongType):
        return str(exc)
    if isinstance(exc, KeyError):
        return "missing required field"
    return f"invalid value ({type(exc).__name__})"


def problem_of(exc: BaseException) -> str:
    """``unexpected response shape: <path>: <what>`` of the first error cattrs found."""
    found = cattrs.transform_error(exc, path="$", format_exception=_format)
    what, _, where = found[0].rpartition(" @ ")
    path = where[2:] if where.startswith("$.") else (where[1:] if where != "$" else "body")
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"unexpected response shape: {path}: {what}{more}"


class Converter(cattrs.Converter):
    """A cattrs converter with the hooks of every model of ``modules``, whose
    ``structure`` takes the fast readers (made by ``make_readers``) first and raises only
    the error ``failure`` makes of the problem (:func:`problem_of`) of a payload it cannot read.
    """

    def __init__(
        self,
        modules: Iterable[types.ModuleType],
        make_readers: Callable[[Models, Callable[[Any], Reader]], Readers],
        failure: Callable[[str], Exception],
    ) -> None:
        super().__init__(detailed_validation=True)
        self._failure = failure
        self.models = find_models(*modules)
        configure(self, self.models)
        self.readers = make_readers(self.models, self._general)

    def _general(self, cls: Any) -> Reader:
        hook = self.get_structure_hook(cls)
        return lambda data: hook(data, cls)

    def read(self, obj: Any, cl: Any) -> Any:
        """The fast reader of ``cl`` if it reads ``obj``, else cattrs (raising its errors)."""
        fast = self.readers.plain.get(cl)
        if fast is not None:
            try:
                return fast(obj)
            except Miss:
                pass
        return super().structure(obj, cl)

    def structure(self, obj: Any, cl: Any) -> Any:
        """Build ``cl`` from JSON-like ``obj``; see :func:`openai_messages.converter.structure`."""
        try:
            return self.read(obj, cl)
        except Exception as exc:
            problem = problem_of(exc)
        raise self._failure(problem)
