"""The measured fast path: straight-line readers for payloads that need nothing unusual.

Why it exists: with cattrs' generated hooks alone, a 100-message page parses in 5 to 7
times the time of ``orjson.loads`` on the project's 2-core machine (``cattrs path alone``
in ``benchmarks/bench_parse.py``; the target is 3.5x). The time goes into calls: cattrs
calls one hook per field (two for an optional one), builds a keyword dict per object and
goes through the attrs ``__init__``. The readers here inline the type checks of every
field and set the slots directly, which brought a page to about 2.9x; building through a
mutable twin class and reading small objects' whole key set with one ``itemgetter``
brought it to about 2.1x (``parsing`` in ``python -m benchmarks``, issue 24).

What it does not do: report errors, coerce, or decide anything cattrs' hooks would decide
differently. A reader either builds exactly the object the cattrs hooks of
:mod:`openai_messages.structuring` would build from the same dict, or raises :class:`Miss`
at the first thing it does not handle (a wrong type, a missing ``id``, a non-dict), and the
caller then hands the payload to cattrs, which reads it or raises the detailed error. The
tests check both paths agree on every payload they generate.

The readers are generated once per response model, from the same derived list of models as
the cattrs hooks (:func:`openai_messages.structuring.find_models`); their source is
registered in :mod:`linecache` so tracebacks and debuggers show it.
"""

from __future__ import annotations

import linecache
import operator
import typing
from collections.abc import Callable
from typing import Any, Final

import attrs
import orjson

from . import models as m
from .structuring import (
    Miss,
    Models,
    Reader,
    Readers,
    is_mapping,
    is_nullable,
    shared_absent,
    zero_value,
)

__all__ = ["Miss", "Readers", "make_readers"]

_SLOT: Final = type(m.Text.value)  # the type of a slot's member descriptor
_M: Final = object()
SHAPED_MIN_FIELDS: Final = 6
"""Models with this many fields or more get readers for the key sets servers send."""


def _as_int(value: Any) -> int:
    """An integral float as its int (as cattrs' int hook reads it), else :class:`Miss`."""
    if type(value) is float and value.is_integer() and -(2**63) <= value < 2**63:
        return int(value)
    raise Miss


_PLAIN: Final = {str: "str", bool: "bool", dict: "dict"}


def _json_keys(names: set[str]) -> dict[str, str]:
    """Each of ``names`` as the very string object ``orjson.loads`` gives for that key.

    orjson keeps the keys it reads in a cache and hands out the same ``str`` object for
    the same key, and it builds its dicts with a general key table, where a lookup
    compares the key by identity before it compares it by value. A reader that looks keys
    up with orjson's own objects skips that comparison (a tenth of a message's reading).
    A key orjson does not cache (a long one, or one pushed out of its cache) is simply
    compared by value: the same result, a little slower.
    """
    read: dict[str, Any] = orjson.loads(orjson.dumps(dict.fromkeys(sorted(names), 0)))
    return {key: key for key in read}


def _missing_on_error(read: Reader) -> Reader:
    """``read``, raising :class:`Miss` instead of its errors (cattrs then reports them)."""

    def checked(value: Any) -> Any:
        try:
            return read(value)
        except Exception:
            raise Miss from None

    return checked


class _Gen:
    """Generates one reader per model and union; readers call each other by name."""

    def __init__(self, models: Models, general: Callable[[Any], Reader]) -> None:
        self.models = models
        self.general = general
        self.ns: dict[str, Any] = {
            "_Miss": Miss,
            "_M": _M,
            "_as_int": _as_int,
            "_shared": shared_absent,
            "_new": object.__new__,
            "_map": map,
            "_NO_EXTRA": m.NO_EXTRA,
            "_NOTHING": m.NOTHING_ABSENT,
        }
        self.ns["_learn"] = self.learn_shape
        self.names: dict[Any, str] = {}
        for i, target in enumerate([*models.responses, *models.unions]):
            label = target.__name__ if isinstance(target, type) else f"union{i}"
            self.names[target] = f"read_{label}"
        keys = {"type"}
        for cls in models.responses:
            keys.update(a.name for a in attrs.fields(cls))
        self.keys = _json_keys(keys)
        for key, obj in self.keys.items():
            self.ns[f"_k_{key}"] = obj

    def getter(self, names: list[str]) -> Callable[[Any], Any]:
        """An :func:`operator.itemgetter` of ``names``, with orjson's key objects."""
        return operator.itemgetter(*(self.keys.get(name, name) for name in names))

    def _general(self, hint: Any) -> str:
        """The namespace name of cattrs' reader of ``hint`` (a type with no inline check)."""
        name = f"_general_{len(self.ns)}"
        self.ns[name] = _missing_on_error(self.general(hint))
        return name

    def _exec(self, name: str, lines: list[str]) -> Reader:
        source = "\n".join(lines) + "\n"
        filename = f"<openai_messages.fastpath {name}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), self.ns)
        fn: Reader = self.ns[name]
        return fn

    def _convert(self, hint: Any, var: str, indent: str, consume: bool = False) -> list[str]:
        """Lines that check ``var`` (present, not None) and replace it by its model value."""
        if hint is int:
            return [f"{indent}if type({var}) is not int:", f"{indent}    {var} = _as_int({var})"]
        pytype = _PLAIN.get(hint, "dict" if is_mapping(hint) else None)
        if pytype is not None:
            return [f"{indent}if type({var}) is not {pytype}:", f"{indent}    raise _Miss"]
        if hint in self.names:
            return [f"{indent}{var} = {self.names[hint]}({var})"]
        args = typing.get_args(hint)
        if typing.get_origin(hint) is not tuple or len(args) != 2 or args[1] is not Ellipsis:
            return [f"{indent}{var} = {self._general(hint)}({var})"]
        item = args[0]
        lines = [f"{indent}if type({var}) is not list:", f"{indent}    raise _Miss"]
        pytype = _PLAIN.get(item, "dict" if is_mapping(item) else None)
        if pytype is not None:
            return [
                *lines,
                f"{indent}for _x in {var}:",
                f"{indent}    if type(_x) is not {pytype}:",
                f"{indent}        raise _Miss",
                f"{indent}{var} = tuple({var})",
            ]
        if item not in self.names:
            return [*lines, f"{indent}{var} = tuple(_map({self._general(item)}, {var}))"]
        fn = self.names[item]
        if not consume:
            # most lists hold one item (a message's content) or none (its attachments);
            # a union's lone item goes straight to its member's reader
            one = [f"{indent}    {var} = ({fn}({var}[0]),)"]
            if item in self.models.unions:
                one = [
                    f"{indent}    _x = {var}[0]",
                    f"{indent}    _t = _x.get(_k_type) if type(_x) is dict else None",
                    f"{indent}    _fn = _table_{fn}.get(_t) if type(_t) is str else None",
                    f"{indent}    {var} = (({fn} if _fn is None else _fn)(_x),)",
                ]
            return [
                *lines,
                f"{indent}if not {var}:",
                f"{indent}    {var} = ()",
                f"{indent}elif len({var}) == 1:",
                *one,
                f"{indent}else:",
                f"{indent}    {var} = tuple(_map({fn}, {var}))",
            ]
        # each item's dicts are freed once its model exists (it takes the dict's place in
        # the page's list), rather than the whole page's living until the end: the garbage
        # collector (which counts live containers) then seldom runs during a walk. A failed
        # item is read by cattrs, from the same dict.
        read = [f"{indent}        {var}[_i] = {fn}(_x)"]
        shapes = f"_shapes_{item.__name__}"
        if shapes in self.ns:  # the item's learned shapes, without the call to its reader
            read = [
                f"{indent}        _f = {shapes}.get(len(_x)) if type(_x) is dict else None",
                f"{indent}        _o = _M if _f is None else _f(_x)",
                f"{indent}        {var}[_i] = {fn}(_x) if _o is _M else _o",
            ]
        return [
            *lines,
            f"{indent}for _i in range(len({var})):",
            f"{indent}    _x = {var}[_i]",
            f"{indent}    try:",
            *read,
            f"{indent}    except _Miss:",
            f"{indent}        {var}[_i] = _cattrs_{fn}(_x)",
            f"{indent}_x = None",
            f"{indent}{var} = tuple({var})",
        ]

    def _check_present(self, hint: Any, var: str, nullable: bool) -> list[str]:
        """:meth:`_convert` of a value that is there; a None passes a nullable field.

        A plain type's test comes first (``type(v) is not str and v is not None``): the
        value a field usually holds then costs one comparison.
        """
        lines = self._convert(hint, var, "    ")
        if not nullable:
            return lines
        if len(lines) == 2 and lines[0].startswith("    if type("):
            return [f"{lines[0][:-1]} and {var} is not None:", lines[1]]
        return [f"    if {var} is not None:", *("    " + line for line in lines)]

    def _fields(self, cls: type) -> list[tuple[str, Any, bool, Any]]:
        """``(name, type, nullable, value if absent)`` of each field; ``NOTHING``: required."""
        must = {"id", "data"} if cls in self.models.pages else {"id"}
        out = []
        for a in attrs.fields(cls):
            if a.name in ("extra", "_absent"):
                continue
            hint, nullable = is_nullable(a.type)
            fallback = a.default if a.default is not attrs.NOTHING else zero_value(a.type)
            out.append((a.name, hint, nullable, attrs.NOTHING if a.name in must else fallback))
        return out

    def model(self, cls: type, consume: bool) -> Reader:
        name = self.names[cls] + ("_consuming" if consume else "")
        cname = cls.__name__
        self.ns[cname] = cls
        fields = self._fields(cls)
        tag = vars(cls).get("type")
        known = {f[0] for f in fields} | ({"type"} if isinstance(tag, str) else set())
        self.ns[f"_known_{cname}"] = known
        lines = [f"def {name}(d):", "    if type(d) is not dict:", "        raise _Miss"]
        if not fields:  # a tool: one shared instance for the plain payload
            self.ns[f"_single_{cname}"] = cls()
            has_tag = " and _k_type in d" if isinstance(tag, str) else ""
            lines += [f"    if len(d) == {len(known)}{has_tag}:", f"        return _single_{cname}"]
        shaped = not consume and len(fields) >= SHAPED_MIN_FIELDS
        if shaped:
            self.ns[f"_shapes_{cname}"] = {}
            lines += [
                f"    _f = _shapes_{cname}.get(len(d))",
                "    if _f is not None:",
                "        o = _f(d)",
                "        if o is not _M:",
                "            return o",
            ]
        elif fields and not consume:
            lines += self._complete(cls, fields, known)
        lines.append("    ab = ()")
        args = []
        for i, (key, hint, nullable, fallback) in enumerate(fields):
            var = f"v{i}"
            args.append(var)
            if fallback is attrs.NOTHING:
                absent = ["        raise _Miss"]
            else:
                self.ns[f"_fb_{cname}_{i}"] = fallback
                absent = [f"        {var} = _fb_{cname}_{i}", f"        ab += ({key!r},)"]
            lines += [f"    {var} = d.get(_k_{key}, _M)", f"    if {var} is _M:", *absent]
            lines.append(f"    elif {var} is not None:" if nullable else "    else:")
            lines += self._convert(hint, var, "        ", consume)
        untagged = " + (_k_type not in d)" if isinstance(tag, str) else ""  # the tag is no field
        lines += [
            f"    if len(d) + len(ab){untagged} != {len(known)}:",
            f"        ex = {{k: x for k, x in d.items() if k not in _known_{cname}}}",
            "    else:",
            "        ex = _NO_EXTRA",
        ]
        if shaped:
            lines += [
                f"        if len(d) > 1 and len(d) not in _shapes_{cname}:",
                f"            _learn({cname}, d)",
            ]
        lines += ["    ab = _shared(ab) if ab else _NOTHING", *self._construct(cls, args)]
        return self._exec(name, lines)

    def _complete(
        self, cls: type, fields: list[tuple[str, Any, bool, Any]], known: set[str]
    ) -> list[str]:
        """Lines that read a dict holding exactly the known keys (most small objects) with
        one :func:`operator.itemgetter` call, then fall through to the general lines."""
        cname = cls.__name__
        keys = [f[0] for f in fields] + sorted(known - {f[0] for f in fields})
        names = [f"v{i}" for i in range(len(fields))] + ["_"] * (len(keys) - len(fields))
        self.ns[f"_all_{cname}"] = self.getter(keys)
        target = f"{', '.join(names)}," if len(keys) > 1 else names[0]
        lines = [
            f"    if len(d) == {len(known)}:",
            "        try:",
            f"            {target} = _all_{cname}(d)",
            "        except KeyError:",
            "            pass",
            "        else:",
        ]
        body: list[str] = []
        for i, (_, hint, nullable, _) in enumerate(fields):
            body += self._check_present(hint, f"v{i}", nullable)
        body += ["    ex = _NO_EXTRA", "    ab = _NOTHING"]
        body += self._construct(cls, names[: len(fields)])
        return lines + ["        " + line for line in body]

    def learn_shape(self, cls: type, data: dict[str, Any]) -> None:
        """Add a reader for dicts with exactly the keys of ``data`` (all known ones).

        Servers send the same keys in every object of a kind, so the reader above (one
        ``dict.get`` and a miss test per field) runs once per shape; later objects of that
        length are read with one :func:`operator.itemgetter` call. A dict of that length
        with other keys makes the shape reader miss (``_M``), and the reader above reads it.
        """
        cname = cls.__name__
        fields = self._fields(cls)
        present = [(i, f) for i, f in enumerate(fields) if f[0] in data]
        tag = f"{cname}_{len(data)}"
        self.ns[f"_get_{tag}"] = self.getter([f[0] for _, f in present])
        self.ns[f"_ab_{tag}"] = shared_absent(tuple(f[0] for f in fields if f[0] not in data))
        lines = [
            f"def _shape_{tag}(d):",
            "    try:",
            f"        {', '.join(f'v{i}' for i, _ in present)}, = _get_{tag}(d)",
            "    except KeyError:",
            "        return _M",
        ]
        for i, (_, hint, nullable, _) in present:
            lines += self._check_present(hint, f"v{i}", nullable)
        args = []
        for i, (key, *_) in enumerate(fields):
            args.append(f"v{i}" if key in data else f"_fb_{cname}_{i}")
        lines += ["    ex = _NO_EXTRA", f"    ab = _ab_{tag}", *self._construct(cls, args)]
        self.ns[f"_shapes_{cname}"][len(data)] = self._exec(f"_shape_{tag}", lines)

    def _construct(self, cls: type, args: list[str]) -> list[str]:
        """Lines that build the instance and return it.

        ``args`` are the variables of the fields of :meth:`_fields`, in that order; each
        field is matched by name (``ex`` and ``ab`` hold ``extra`` and ``_absent``), so the
        place of a field in ``attrs.fields`` does not matter.

        The attrs ``__init__`` of a frozen class sets each field through a bound
        ``object.__setattr__``. Here the fields are stored as plain attributes of an
        unfrozen twin class (a subclass adding no slot), and the object then
        becomes an instance of ``cls`` by ``__class__`` assignment: for a message, a third
        of the time of calling each slot's setter, a seventh of the ``__init__``'s. That is
        only equivalent for a class whose ``__init__`` does nothing else (no validators,
        converters or post-init), checked here, once; a layout Python refuses to swap
        falls back to the slot setters.
        """
        cname = cls.__name__
        fields = attrs.fields(cls)
        by_name = dict(zip([f[0] for f in self._fields(cls)], args, strict=True))
        by_name |= {"extra": "ex", "_absent": "ab"}
        plain = (
            all(a.validator is None and a.converter is None for a in fields)
            and not hasattr(cls, "__attrs_post_init__")
            and all(isinstance(_static(cls, a.name), _SLOT) for a in fields)
        )
        if not plain:
            init = [f"{a.alias}={by_name[a.name]}" for a in fields]
            return [f"    return {cname}({', '.join(init)})"]
        twin = _twin(cls)
        if twin is not None:
            self.ns[f"_twin_{cname}"] = twin
            lines = [f"    o = _twin_{cname}()"]
            lines += [f"    o.{a.name} = {by_name[a.name]}" for a in fields]
            return [*lines, f"    o.__class__ = {cname}", "    return o"]
        lines = [f"    o = _new({cname})"]
        for index, field in enumerate(fields):
            setter = f"_set_{cname}_{index}"
            self.ns[setter] = _static(cls, field.name).__set__
            lines.append(f"    {setter}(o, {by_name[field.name]})")
        return [*lines, "    return o"]

    def union(self, alias: Any) -> Reader:
        members, unknown = self.models.unions[alias]
        name = self.names[alias]
        self.ns[f"_table_{name}"] = {vars(c)["type"]: self.ns[self.names[c]] for c in members}
        self.ns[unknown.__name__] = unknown
        return self._exec(
            name,
            [
                f"def {name}(d):",
                "    if type(d) is not dict:",
                "        raise _Miss",
                "    t = d.get(_k_type)",
                "    if type(t) is not str:",
                "        raise _Miss",
                f"    fn = _table_{name}.get(t)",
                "    if fn is None:",
                f"        return {unknown.__name__}(t, d)",
                "    return fn(d)",
            ],
        )


def _static(cls: type, name: str) -> Any:
    """The class attribute ``name`` of ``cls`` or of its first base that has one."""
    return next((vars(k)[name] for k in cls.__mro__ if name in vars(k)), None)


def _twin(cls: type) -> type | None:
    """A mutable class of ``cls``'s layout whose instances may become ``cls`` instances.

    A subclass that adds no slot (and whose ``__init__`` takes nothing, so that
    ``twin()`` makes a blank instance): Python then allows the ``__class__`` assignment on the
    layout alone (the twin's is ``cls``'s), without comparing the slot names of two
    classes (which a sibling class would cost). None if ``cls`` refuses subclasses or
    Python the swap.
    """
    try:
        twin = type(
            f"_{cls.__name__}Twin",
            (cls,),
            {
                "__slots__": (),
                "__init__": object.__init__,
                "__setattr__": object.__setattr__,
                "__delattr__": object.__delattr__,
            },
        )
        probe: Any = twin()
        probe.__class__ = cls
    except TypeError:  # cls refuses subclasses, or Python the swap
        return None
    return twin


def make_readers(models: Models, general: Callable[[Any], Reader]) -> Readers:
    """The fast readers of every response model; ``general(cls)`` is cattrs' reader of ``cls``.

    A consuming page reader hands an item it cannot read to ``general`` (the item's dict is
    intact: the page's list holds the models read so far in the place of their dicts).
    """
    gen = _Gen(models, general)
    plain: dict[Any, Reader] = {}
    for cls in models.responses:
        plain[cls] = gen.model(cls, consume=False)
    for alias in models.unions:
        plain[alias] = gen.union(alias)
    consuming: dict[Any, Reader] = {}
    for page in models.pages:
        item = typing.get_args(attrs.fields_dict(page)["data"].type)[0]
        gen.ns[f"_cattrs_{gen.names[item]}"] = general(item)
        consuming[page] = gen.model(page, consume=True)
    return Readers(plain, consuming)
