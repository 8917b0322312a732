"""JSON <-> models: one cattrs converter, configured here and nowhere else.

>>> from openai_messages.converter import decode, unstructure
>>> from openai_messages.models import Message
>>> m = decode(b'{"id": "msg_1", "content": [], "metadata": null, "x_new": 1}', Message)
>>> m.metadata is None, m.extra["x_new"], sorted(m.absent_fields)[:3]
(True, 1, ['assistant_id', 'attachments', 'completed_at'])
>>> unstructure(m)
{'id': 'msg_1', 'content': [], 'metadata': None, 'x_new': 1}

The structure and unstructure hooks of the response models are generated once, at import,
from the attrs fields and their type annotations (like cattrs' own ``make_dict_*_fn``, but
tuned for this API): exact type checks that name the failing path, absent-key tracking,
unknown keys kept in ``extra``, and the tagged unions (content blocks, annotations, tools)
dispatched on ``"type"`` with a dict lookup. They are registered on :data:`converter`, so
``converter.structure(data, Message)`` and ``converter.unstructure(message)`` use them too.

Every failure to read a payload raises :class:`~openai_messages.errors.APIResponseValidationError`
with the path of the offending value, e.g. ``data[3].content[0].text.value: expected string,
got number``.
"""

from __future__ import annotations

import operator
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar, Union

import attrs
import cattrs
import orjson

from . import models as m
from .errors import APIResponseValidationError

__all__ = [
    "converter",
    "decode",
    "encode",
    "structure",
    "unstructure",
]

T = TypeVar("T")
SHAPED_MIN_FIELDS: Final = 6
"""Models with this many fields or more get fast paths for the key sets servers send."""
_SLOT = type(m.Text.value)  # the type of a slot's member descriptor

# --------------------------------------------------------------------------- errors


class _Invalid(Exception):
    """A payload that does not have the expected shape; ``path`` is built innermost first."""

    def __init__(self, problem: str, path: list[str | int] | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str | int] = path if path is not None else []

    def where(self) -> str:
        out = ""
        for part in reversed(self.path):
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out or "body"

    def describe(self) -> str:
        return f"{self.where()}: {self.problem}"


_JSON_TYPE_NAMES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _got(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _expected(what: str, value: object, key: str | int | None = None) -> _Invalid:
    return _Invalid(f"expected {what}, got {_got(value)}", [] if key is None else [key])


def _locate(fn: Callable[[Any], Any], items: list[Any], key: str) -> _Invalid:
    """Re-run ``fn`` over ``items`` to find the index that failed (only on the error path)."""
    for index, item in enumerate(items):
        try:
            fn(item)
        except _Invalid as exc:
            exc.path.append(index)
            exc.path.append(key)
            return exc
    return _Invalid("invalid value", [key])  # pragma: no cover - fn is deterministic


_FROZENSETS: dict[tuple[str, ...], frozenset[str]] = {}


def _absent_set(names: tuple[str, ...]) -> frozenset[str]:
    """One shared frozenset per distinct set of absent keys (servers repeat theirs)."""
    found = _FROZENSETS.get(names)
    if found is None:
        found = _FROZENSETS[names] = frozenset(names)
    return found


# --------------------------------------------------------------------------- field plans


@attrs.frozen
class _Plan:
    """How one attrs field maps to JSON: its kind, whether null is allowed, its default."""

    name: str
    kind: str  # "str" | "int" | "bool" | "map" | "obj" | "union" | "list"
    nullable: bool
    target: Any = None  # the class (obj), union alias (union) or element plan (list)
    fallback: Any = None  # the value of the field when the key is absent
    required: bool = False


_SCALARS: dict[Any, tuple[str, str]] = {
    str: ("str", "string"),
    int: ("int", "integer"),
    bool: ("bool", "boolean"),
}

#: The tagged unions: alias -> (the known member classes, the class of unknown members).
_UNIONS: dict[Any, tuple[tuple[type, ...], type]] = {
    m.MessageContent: (
        (m.TextContent, m.ImageFileContent, m.ImageUrlContent, m.RefusalContent),
        m.UnknownContent,
    ),
    m.Annotation: ((m.FileCitationAnnotation, m.FilePathAnnotation), m.UnknownAnnotation),
    m.Tool: ((m.CodeInterpreterTool, m.FileSearchTool), m.UnknownTool),
}


def _plan_for(name: str, hint: Any, default: Any) -> _Plan:
    nullable = False
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType) and hint not in _UNIONS:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(hint))
        hint = args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
        origin = typing.get_origin(hint)
    fallback = None if default is attrs.NOTHING else default
    if hint in _SCALARS:
        kind = _SCALARS[hint][0]
        if fallback is None and not nullable:
            fallback = {"str": "", "int": 0, "bool": False}[kind]
        return _Plan(name, kind, nullable, fallback=fallback)
    if hint in _UNIONS:
        return _Plan(name, "union", nullable, target=hint, fallback=fallback)
    if origin is tuple:
        item = _plan_for("", typing.get_args(hint)[0], attrs.NOTHING)
        if fallback is None and not nullable:
            fallback = ()
        return _Plan(name, "list", nullable, target=item, fallback=fallback)
    if origin is Mapping or hint is Mapping:
        return _Plan(name, "map", nullable, fallback=fallback)
    if attrs.has(hint):
        return _Plan(name, "obj", nullable, target=hint, fallback=fallback)
    raise TypeError(f"no JSON mapping for field {name!r}: {hint!r}")  # pragma: no cover


def _plans(cls: type) -> list[_Plan]:
    hints = typing.get_type_hints(cls, vars(m))
    out = []
    for a in attrs.fields(cls):
        if a.name in ("extra", "_absent"):
            continue
        plan = _plan_for(a.name, hints[a.name], a.default)
        if a.name == "id" or (plan.kind == "obj" and not plan.nullable and plan.fallback is None):
            # ``id``, and the body of a typed block (``TextContent.text``...), cannot be absent
            plan = attrs.evolve(plan, required=True)
        out.append(plan)
    return out


# --------------------------------------------------------------------------- code generation


class _Gen:
    """Generates the structure/unstructure function of each model class, once."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {
            "_Invalid": _Invalid,
            "_expected": _expected,
            "_locate": _locate,
            "_absent_set": _absent_set,
            "_M": object(),
            "_NO_EXTRA": m.NO_EXTRA,
            "_NOTHING": m.NOTHING_ABSENT,
            "_new": object.__new__,
        }
        self.structure_fns: dict[Any, Callable[[Any], Any]] = {}
        self.consuming_fns: dict[Any, Callable[[Any], Any]] = {}
        self.plans: dict[type, list[_Plan]] = {}
        self.ns["_learn"] = self.learn_shape
        self.unstructure_fns: dict[type, Callable[[Any], Any]] = {}

    def _exec(self, name: str, source: str) -> Callable[[Any], Any]:
        code = compile(source, f"<openai_messages.converter {name}>", "exec")
        exec(code, self.ns)
        fn: Callable[[Any], Any] = self.ns[name]
        return fn

    def _cls_name(self, cls: type) -> str:
        self.ns[cls.__name__] = cls
        return cls.__name__

    # ---- structure

    def _fn_ref(self, target: Any, unstructure: bool = False) -> str:
        """The namespace name of the (un)structure function of a class or union."""
        if target in _UNIONS:
            label = {m.MessageContent: "content", m.Annotation: "annotation", m.Tool: "tool"}
            name = label[target]
        else:
            name = target.__name__
        return f"{'u' if unstructure else 's'}_{name}"

    def _check(self, kind: str, var: str, key: str | None) -> tuple[str, str]:
        """An expression raising unless ``var`` has the JSON type of ``kind``."""
        what = {"str": "string", "int": "integer", "bool": "boolean", "map": "object"}[kind]
        pytype = {"str": "str", "int": "int", "bool": "bool", "map": "dict"}[kind]
        k = "None" if key is None else repr(key)
        return f"type({var}) is not {pytype}", f"raise _expected({what!r}, {var}, {k})"

    def _convert_lines(
        self, plan: _Plan, var: str, indent: str, consume: bool = False
    ) -> list[str]:
        """Lines that check ``var`` (present, not None) and replace it by its model value.

        With ``consume``, a list of objects is emptied as it is read (see ``_consume_lines``).
        """
        key = plan.name
        lines: list[str] = []
        if plan.kind in ("str", "int", "bool", "map"):
            cond, err = self._check(plan.kind, var, key)
            lines += [f"{indent}if {cond}:", f"{indent}    {err}"]
        elif plan.kind in ("obj", "union"):
            fn = self._fn_ref(plan.target)
            lines += [
                f"{indent}try:",
                f"{indent}    {var} = {fn}({var})",
                f"{indent}except _Invalid as exc:",
                f"{indent}    exc.path.append({key!r})",
                f"{indent}    raise",
            ]
        else:  # list
            item = plan.target
            lines += [
                f"{indent}if type({var}) is not list:",
                f"{indent}    raise _expected('array', {var}, {key!r})",
            ]
            if item.kind in ("str", "int", "bool", "map"):
                pytype = {"str": "str", "int": "int", "bool": "bool", "map": "dict"}[item.kind]
                what = {"str": "string", "int": "integer", "bool": "boolean", "map": "object"}[
                    item.kind
                ]
                lines += [
                    f"{indent}for _i, _x in enumerate({var}):",
                    f"{indent}    if type(_x) is not {pytype}:",
                    f"{indent}        _e = _expected({what!r}, _x, _i)",
                    f"{indent}        _e.path.append({key!r})",
                    f"{indent}        raise _e",
                    f"{indent}{var} = tuple({var})",
                ]
            elif consume:
                lines += self._consume_lines(self._fn_ref(item.target), var, key, indent)
            else:
                fn = self._fn_ref(item.target)
                # lists of one (a message's content, mostly) skip the comprehension
                lines += [
                    f"{indent}if {var}:",
                    f"{indent}    try:",
                    f"{indent}        if len({var}) == 1:",
                    f"{indent}            {var} = ({fn}({var}[0]),)",
                    f"{indent}        else:",
                    f"{indent}            {var} = tuple([{fn}(_x) for _x in {var}])",
                    f"{indent}    except _Invalid:",
                    f"{indent}        raise _locate({fn}, {var}, {key!r}) from None",
                    f"{indent}else:",
                    f"{indent}    {var} = ()",
                ]
        return lines

    @staticmethod
    def _consume_lines(fn: str, var: str, key: str, indent: str) -> list[str]:
        """Lines that convert a list of objects, dropping each JSON item once converted.

        Each item's dicts are freed as soon as its model exists, instead of all of them
        living until the whole page is built: the garbage collector, which counts live
        container objects, then seldom runs during a walk (the bare ``orjson`` floor
        frees its page the same way). Only for JSON this module parsed itself.
        """
        return [
            f"{indent}_out = []",
            f"{indent}_i = 0",
            f"{indent}try:",
            f"{indent}    for _i in range(len({var})):",
            f"{indent}        _x = {var}[_i]",
            f"{indent}        {var}[_i] = None",
            f"{indent}        _out.append({fn}(_x))",
            f"{indent}except _Invalid as exc:",
            f"{indent}    exc.path.append(_i)",
            f"{indent}    exc.path.append({key!r})",
            f"{indent}    raise",
            f"{indent}_x = None",
            f"{indent}{var} = tuple(_out)",
        ]

    def structure_fn(self, cls: type, tagged: bool, consume: bool = False) -> Callable[[Any], Any]:
        """The structure function of ``cls``; ``consume``: empties its lists as it reads."""
        plans = _plans(cls)
        name = self._fn_ref(cls) + ("_consuming" if consume else "")
        cname = self._cls_name(cls)
        known = {p.name for p in plans} | ({"type"} if tagged else set())
        self.ns[f"_known_{cname}"] = frozenset(known)
        lines = [
            f"def {name}(d):",
            "    if type(d) is not dict:",
            "        raise _expected('object', d)",
        ]
        if not plans:
            # a class without fields (a tool): share one instance for the plain payload
            self.ns[f"_single_{cname}"] = cls()
            lines += [f"    if len(d) == {len(known)}:", f"        return _single_{cname}"]
        shaped = not consume and not tagged and len(plans) >= SHAPED_MIN_FIELDS
        if shaped:
            self.ns[f"_shapes_{cname}"] = {}
            self.plans[cls] = plans
            lines += [
                f"    _f = _shapes_{cname}.get(len(d))",
                "    if _f is not None:",
                "        o = _f(d)",
                "        if o is not _M:",
                "            return o",
            ]
        lines.append("    ab = ()")
        args = []
        for i, plan in enumerate(plans):
            var = f"v{i}"
            args.append(var)
            self.ns[f"_fb_{cname}_{i}"] = plan.fallback
            lines.append(f"    {var} = d.get({plan.name!r}, _M)")
            lines.append(f"    if {var} is _M:")
            if plan.required:
                lines.append(f"        raise _Invalid('missing required field', [{plan.name!r}])")
            else:
                lines.append(f"        {var} = _fb_{cname}_{i}")
                lines.append(f"        ab += ({plan.name!r},)")
            if plan.nullable:
                lines.append(f"    elif {var} is not None:")
            else:
                lines.append("    else:")
            lines += self._convert_lines(plan, var, "        ", consume)
        lines += [
            f"    if len(d) != {len(known)} - len(ab):",
            f"        ex = {{k: x for k, x in d.items() if k not in _known_{cname}}}",
            "    else:",
            "        ex = _NO_EXTRA",
        ]
        if shaped:
            lines += [
                f"    if ex is _NO_EXTRA and len(d) not in _shapes_{cname} and len(d) > 1:",
                f"        _learn({cname}, d)",
            ]
        lines += self._construct_lines(cls, cname, args, "_absent_set(ab) if ab else _NOTHING")
        fn = self._exec(name, "\n".join(lines) + "\n")
        if consume:
            self.consuming_fns[cls] = fn
        else:
            self.structure_fns[cls] = fn
        return fn

    def _construct_lines(
        self, cls: type, cname: str, args: list[str], absent: str, extra: str = "ex"
    ) -> list[str]:
        """Lines that build the instance from ``args``, ``ex`` and ``ab`` and return it.

        The attrs ``__init__`` of a frozen class sets each field through a bound
        ``object.__setattr__``; the slot descriptors do the same work in half the time.
        That is only equivalent for a class whose ``__init__`` does nothing else (no
        validators, converters or post-init), checked here, once.
        """
        fields = attrs.fields(cls)
        plain = (
            all(a.validator is None and a.converter is None for a in fields)
            and not hasattr(cls, "__attrs_post_init__")
            and all(type(vars(cls).get(a.name)) is _SLOT for a in fields)
        )
        if not plain:  # pragma: no cover - every model is plain today
            return [f"    return {cname}({', '.join(args)}, extra={extra}, absent={absent})"]
        values = [*args, extra, f"({absent})"]
        lines = [f"    o = _new({cname})"]
        for index, (field, value) in enumerate(zip(fields, values, strict=True)):
            setter = f"_set_{cname}_{index}"
            self.ns[setter] = vars(cls)[field.name].__set__
            lines.append(f"    {setter}(o, {value})")
        return [*lines, "    return o"]

    def learn_shape(self, cls: type, data: dict[str, Any]) -> None:
        """Add a fast path for dicts with exactly the keys of ``data`` (all known ones).

        Servers send the same keys in every object of a kind, so the general path (one
        ``dict.get`` and a miss test per field) runs once per shape; later objects of that
        length are read with one ``operator.itemgetter`` call. A dict of that length with
        other keys makes the fast path miss (``_M``), and the general path reads it.
        """
        cname = cls.__name__
        shapes: dict[int, Any] = self.ns[f"_shapes_{cname}"]
        if len(data) in shapes:  # pragma: no cover - the caller checks
            return
        plans = self.plans[cls]
        present = [(i, p) for i, p in enumerate(plans) if p.name in data]
        tag = f"{cname}_{len(data)}"
        self.ns[f"_get_{tag}"] = operator.itemgetter(*(p.name for _, p in present))
        self.ns[f"_ab_{tag}"] = _absent_set(tuple(p.name for p in plans if p.name not in data))
        unpack = ", ".join(f"v{i}" for i, _ in present)
        lines = [
            f"def _shape_{tag}(d):",
            "    try:",
            f"        {unpack}, = _get_{tag}(d)",
            "    except KeyError:",
            "        return _M",
            "    try:",
        ]
        for i, plan in present:
            indent = "        "
            if plan.nullable:
                lines.append(f"        if v{i} is not None:")
                indent += "    "
            convert = self._convert_lines(plan, f"v{i}", indent)
            lines += convert or [f"{indent}pass"]
        lines += ["    except _Invalid:", "        return _M"]
        args = []
        for i, plan in enumerate(plans):
            args.append(f"v{i}" if plan.name in data else f"_fb_{cname}_{i}")
        lines += self._construct_lines(cls, cname, args, f"_ab_{tag}", "_NO_EXTRA")
        shapes[len(data)] = self._exec(f"_shape_{tag}", "\n".join(lines) + "\n")

    def union_structure_fn(self, alias: Any) -> Callable[[Any], Any]:
        members, unknown = _UNIONS[alias]
        name = self._fn_ref(alias)
        table = {c.type: self.structure_fns[c] for c in members}  # type: ignore[attr-defined]
        self.ns[f"_table_{name}"] = table
        uname = self._cls_name(unknown)
        source = (
            f"def {name}(d):\n"
            "    if type(d) is not dict:\n"
            "        raise _expected('object', d)\n"
            "    t = d.get('type', _M)\n"
            "    if type(t) is not str:\n"
            "        if t is _M:\n"
            "            raise _Invalid('missing required field', ['type'])\n"
            "        raise _expected('string', t, 'type')\n"
            f"    fn = _table_{name}.get(t)\n"
            "    if fn is None:\n"
            f"        return {uname}(t, d)\n"
            "    return fn(d)\n"
        )
        fn = self._exec(name, source)
        self.structure_fns[alias] = fn
        return fn

    # ---- unstructure

    def _value_expr(self, plan: _Plan, attr: str) -> str:
        """An expression giving the JSON value of ``attr`` (an attribute access)."""
        if plan.kind in ("str", "int", "bool"):
            return attr
        value = "_v" if plan.nullable else attr
        if plan.kind == "map":
            inner = f"dict({value})"
        elif plan.kind == "obj":
            inner = f"{self._fn_ref(plan.target, True)}({value})"
        elif plan.kind == "union":
            inner = f"_udispatch[{value}.__class__]({value})"
        else:
            item = plan.target
            if item.kind in ("str", "int", "bool", "map"):
                inner = f"list({value})"
            elif item.kind == "union":
                inner = f"[_udispatch[_x.__class__](_x) for _x in {value}] if {value} else []"
            else:
                fn = self._fn_ref(item.target, True)
                inner = f"[{fn}(_x) for _x in {value}] if {value} else []"
        if plan.nullable:
            return f"(None if (_v := {attr}) is None else {inner})"
        return inner

    def unstructure_fn(self, cls: type, tagged: bool) -> Callable[[Any], Any]:
        plans = _plans(cls)
        name = self._fn_ref(cls, True)
        head = [f"'type': {cls.type!r}"] if tagged else []  # type: ignore[attr-defined]
        full = ", ".join(
            head + [f"{p.name!r}: {self._value_expr(p, f'o.{p.name}')}" for p in plans]
        )
        lines = [
            f"def {name}(o):",
            "    ab = o._absent",
            "    if not ab:",
            f"        d = {{{full}}}",
            "    else:",
            f"        d = {{{', '.join(head)}}}",
        ]
        for p in plans:
            lines += [
                f"        if {p.name!r} not in ab:",
                f"            d[{p.name!r}] = {self._value_expr(p, f'o.{p.name}')}",
            ]
        lines += ["    ex = o.extra", "    if ex:", "        d.update(ex)", "    return d"]
        fn = self._exec(name, "\n".join(lines) + "\n")
        self.unstructure_fns[cls] = fn
        return fn


def _unstructure_unknown(obj: m.UnknownContent | m.UnknownAnnotation | m.UnknownTool) -> Any:
    return {**obj.raw, "type": obj.type}


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


def _unstructure_create(req: m.CreateMessageRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"role": req.role}
    if isinstance(req.content, str):
        body["content"] = req.content
    else:
        body["content"] = [_unstructure_part(p) for p in req.content]
    if req.attachments is not None:
        body["attachments"] = [_unstructure_fns[m.Attachment](a) for a in req.attachments]
    if req.metadata is not None:
        body["metadata"] = dict(req.metadata)
    if req.file_ids is not None:
        body["file_ids"] = list(req.file_ids)
    return body


def _unstructure_modify(req: m.ModifyMessageRequest) -> dict[str, Any]:
    return {} if req.metadata is None else {"metadata": dict(req.metadata)}


# --------------------------------------------------------------------------- the converter


_Fns = dict[Any, Callable[[Any], Any]]


def _build() -> tuple[cattrs.Converter, _Fns, _Fns, dict[type, Any]]:
    gen = _Gen()
    tagged: list[type] = [c for members, _ in _UNIONS.values() for c in members]
    plain = [
        m.FileCitation,
        m.FilePath,
        m.Text,
        m.ImageFile,
        m.ImageUrl,
        m.Attachment,
        m.IncompleteDetails,
        m.Message,
        m.MessagePage,
        m.DeletedMessage,
        m.MessageFile,
        m.MessageFilePage,
        m.Thread,
        m.DeletedThread,
    ]
    # functions refer to each other by name in the shared namespace: any order works
    for cls in tagged:
        gen.structure_fn(cls, tagged=True)
        gen.unstructure_fn(cls, tagged=True)
    for alias in _UNIONS:
        gen.union_structure_fn(alias)
    for cls in plain:
        gen.structure_fn(cls, tagged=False)
        gen.unstructure_fn(cls, tagged=False)
    for page in (m.MessagePage, m.MessageFilePage):
        gen.structure_fn(page, tagged=False, consume=True)

    udispatch: dict[type, Callable[[Any], Any]] = dict(gen.unstructure_fns)
    for _, unknown in _UNIONS.values():
        udispatch[unknown] = _unstructure_unknown
    gen.ns["_udispatch"] = udispatch

    conv = cattrs.Converter(detailed_validation=False)
    for target, fn in gen.structure_fns.items():
        conv.register_structure_hook(target, _hook(fn))
    for cls, ufn in udispatch.items():
        conv.register_unstructure_hook(cls, ufn)
    for part in (m.TextPart, m.ImageFilePart, m.ImageUrlPart):
        conv.register_unstructure_hook(part, _unstructure_part)
    conv.register_unstructure_hook(m.CreateMessageRequest, _unstructure_create)
    conv.register_unstructure_hook(m.ModifyMessageRequest, _unstructure_modify)
    return conv, gen.structure_fns, gen.consuming_fns, udispatch


def _hook(fn: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    """A cattrs structure hook around a generated function, raising the public error."""

    def hook(data: Any, _cls: Any) -> Any:
        try:
            return fn(data)
        except _Invalid as exc:
            raise APIResponseValidationError(
                f"unexpected response shape: {exc.describe()}"
            ) from None

    return hook


converter: cattrs.Converter
converter, _structure_fns, _consuming_fns, _unstructure_fns = _build()
"""The package's one converter: structure and unstructure hooks for every model."""


def structure(data: Any, cls: type[T]) -> T:
    """Build ``cls`` from JSON-like data (dicts, lists, str, int...).

    Raises :class:`APIResponseValidationError` naming the path of any value of the wrong shape.
    """
    fn = _structure_fns.get(cls)
    try:
        if fn is not None:
            return fn(data)  # type: ignore[no-any-return]
        return converter.structure(data, cls)
    except _Invalid as exc:
        raise APIResponseValidationError(f"unexpected response shape: {exc.describe()}") from None
    except APIResponseValidationError:
        raise
    except Exception as exc:  # a hook cattrs made for a type of its own
        raise APIResponseValidationError(f"unexpected response shape: {exc!r}") from None


def decode(body: bytes | bytearray | memoryview | str, cls: type[T]) -> T:
    """Parse JSON ``body`` (bytes as received) into ``cls``.

    Raises :class:`APIResponseValidationError` if the body is not JSON or not of the shape of
    ``cls``; the error carries the start of the body.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise APIResponseValidationError(
            f"response body is not valid JSON: {exc}", body=_text(body)
        ) from None
    # ``data`` is ours alone: a page may be consumed as it is read
    fn = _consuming_fns.get(cls) or _structure_fns.get(cls)
    try:
        if fn is not None:
            return fn(data)  # type: ignore[no-any-return]
        return converter.structure(data, cls)
    except _Invalid as exc:
        problem = f"unexpected response shape: {exc.describe()}"
    except APIResponseValidationError as exc:
        problem = exc.message
    except Exception as exc:  # a hook cattrs made for a type of its own
        problem = f"unexpected response shape: {exc!r}"
    raise APIResponseValidationError(problem, body=_text(body))


def _text(body: bytes | bytearray | memoryview | str) -> bytes | str:
    return body if isinstance(body, (bytes, str)) else bytes(body)


def unstructure(obj: Any) -> Any:
    """The JSON-ready form of a model (dicts, lists, str, int...), absent fields left out."""
    fn = _unstructure_fns.get(obj.__class__)
    if fn is not None:
        return fn(obj)
    return converter.unstructure(obj)


def _default(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def encode(obj: Any) -> bytes:
    """The JSON bytes of a model (or of JSON-ready data)."""
    return orjson.dumps(unstructure(obj), default=_default)
