"""Issue 24 and issue 20 item 2 (codec part): one model base carries ``extra`` and
``_absent``; the fast readers match fields by name (not by place) and build through a
mutable twin class; cattrs and the fast readers load on first use, not at import."""

from __future__ import annotations

import copy
import subprocess
import sys
import types
import weakref
from pathlib import Path
from typing import Any

import attrs
import cattrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import openai_messages as om
from openai_messages import conversations
from openai_messages._codec import conversation_models, converter, fastpath, models, structuring

from ..payload_strategies import SETTINGS, content_blocks, messages

ROOT = Path(__file__).resolve().parents[2]


def _responses() -> tuple[type, ...]:
    return converter.the_converter().models.responses


def _payload(cls: type, unknown: bool = True) -> dict[str, Any]:
    """Every key of ``cls`` left out but the required ones, plus one unknown key."""
    tag = vars(cls).get("type")
    out: dict[str, Any] = {"type": tag} if isinstance(tag, str) else {}
    names = {a.name for a in attrs.fields(cls)}
    if "id" in names:
        out["id"] = "x_1"
    if issubclass(cls, models._PageMixin):
        out["data"] = []
    for a in attrs.fields(cls):  # a default-less field other than id: its least value
        if a.default is attrs.NOTHING and a.name not in out and not a.kw_only:
            hint = structuring.is_nullable(a.type)[0]
            if hint in _responses():
                out[a.name] = _payload(hint, unknown=False)
            else:
                out[a.name] = cattrs.Converter().unstructure(structuring.zero_value(a.type))
    return {**out, "zz_unknown": [1, {"a": None}]} if unknown else out


def test_the_bookkeeping_fields_are_declared_once_on_the_base() -> None:
    """No response model declares ``extra``/``_absent`` itself: they come from the base,
    and so stand first in ``attrs.fields``, not last."""
    for cls in _responses():
        assert issubclass(cls, models._Model), cls
        own = set(vars(cls).get("__annotations__", {}))
        assert not own & {"extra", "_absent"}, cls
        assert [a.name for a in attrs.fields(cls)][:2] == ["extra", "_absent"], cls


@pytest.mark.parametrize("cls", _responses(), ids=lambda c: c.__name__)
def test_a_fast_reader_fills_each_field_by_name(cls: type) -> None:
    """A reader that put values by place would put the unknown keys or the absent set
    into the first fields (the bookkeeping stands first): each field is checked by name
    against cattrs' own hook."""
    conv = converter.the_converter()
    payload = _payload(cls)
    fast = conv.readers.plain[cls](copy.deepcopy(payload))
    general: Any = cattrs.Converter.structure(conv, copy.deepcopy(payload), cls)
    for a in attrs.fields(cls):
        assert getattr(fast, a.name) == getattr(general, a.name), (cls, a.name)
    assert fast.extra == {"zz_unknown": [1, {"a": None}]}
    assert fast.absent_fields == general.absent_fields
    assert converter.unstructure(fast) == payload


@pytest.mark.parametrize("cls", _responses(), ids=lambda c: c.__name__)
def test_fast_objects_are_plain_frozen_instances_of_their_class(cls: type) -> None:
    """The twin class never shows: the object is of ``cls`` exactly, frozen, hashable as
    its class says, weak-referenceable (the base holds the slot), equal to cattrs'."""
    conv = converter.the_converter()
    payload = _payload(cls)
    fast: Any = conv.readers.plain[cls](copy.deepcopy(payload))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.extra = {}
    assert type(fast) is cls
    assert fast == cattrs.Converter.structure(conv, copy.deepcopy(payload), cls)
    assert weakref.ref(fast)() is fast
    assert fastpath._twin(cls) is not None  # the quick construction applies to every model


OWN_WEAKREF_MODELS = """
from __future__ import annotations
from collections.abc import Mapping
from typing import Any
import attrs
from openai_messages._codec.models import NO_EXTRA, NOTHING_ABSENT, _PageMixin

@attrs.frozen
class Item:
    id: str
    extra: Mapping[str, Any] = attrs.field(default=NO_EXTRA, kw_only=True, hash=False)
    name: str | None = attrs.field(default=None, kw_only=True)
    _absent: frozenset[str] = attrs.field(default=NOTHING_ABSENT, kw_only=True)
    size: int | None = attrs.field(default=None, kw_only=True)

    if REFUSE_SUBCLASSES:
        def __init_subclass__(cls, **kwargs: Any) -> None:
            raise TypeError("no subclasses")

@attrs.frozen
class ItemPage(_PageMixin[Item]):
    data: tuple[Item, ...] = ()
    extra: Mapping[str, Any] = attrs.field(default=NO_EXTRA, kw_only=True, hash=False)
    _absent: frozenset[str] = attrs.field(default=NOTHING_ABSENT, kw_only=True)
    has_more: bool = attrs.field(default=False, kw_only=True)
"""


@pytest.mark.parametrize("refuse", [False, True], ids=["twin", "slot-setters"])
def test_a_model_of_another_layout_is_built_by_name_with_or_without_a_twin(
    monkeypatch: pytest.MonkeyPatch, refuse: bool
) -> None:
    """A model with its own ``__weakref__`` slot (and its bookkeeping fields in the middle
    of the others) takes the twin path too (the twin is a subclass, of the same layout);
    one that refuses subclasses has no twin, and its reader sets the slots one by one."""
    module = types.ModuleType("own_weakref_models")
    monkeypatch.setitem(sys.modules, "own_weakref_models", module)
    vars(module)["REFUSE_SUBCLASSES"] = refuse
    exec(compile(OWN_WEAKREF_MODELS, "<own_weakref_models>", "exec"), vars(module))
    conv = converter.make_converter(module)
    item = module.Item
    assert (fastpath._twin(item) is None) is refuse
    assert [a.name for a in attrs.fields(item)].index("extra") == 1
    payload = {"id": "i1", "size": 3.0, "x_new": True}
    fast = conv.readers.plain[item](dict(payload))
    assert fast == cattrs.Converter.structure(conv, dict(payload), item)
    assert (fast.id, fast.size, fast.name, fast.extra) == ("i1", 3, None, {"x_new": True})
    assert fast.size.__class__ is int
    assert set(fast._absent) == {"name"}
    page = conv.readers.consuming[module.ItemPage]({"data": [dict(payload)], "has_more": True})
    assert page.data == (fast,)
    assert page.has_more is True


def test_small_objects_with_exactly_their_keys_take_one_lookup_and_agree() -> None:
    """The whole-shape path of small models (one itemgetter call) reads what the general
    lines read, and steps aside for a dict of that size with another key."""
    conv = converter.the_converter()
    read = conv.readers.plain[om.Text]
    assert read({"value": "v", "annotations": []}) == om.Text("v")
    other = read({"value": "v", "x_other": 1})
    assert other.extra == {"x_other": 1}
    assert other.absent_fields == {"annotations"}
    with pytest.raises(fastpath.Miss):
        read({"value": 1, "annotations": []})
    assert converter.structure({"value": "v", "x_other": 1}, om.Text) == other


def test_a_lone_union_item_with_an_odd_type_steps_aside_to_cattrs() -> None:
    """The inlined dispatch of a lone content block reads an unhashable or unknown
    ``type`` as the dispatcher does: an error when the page is read, or an unknown block."""
    base = {"id": "m1", "content": [{"type": ["text"], "text": {"value": "v"}}]}
    with pytest.raises(om.APIResponseValidationError, match=r"content\[0\]"):
        converter.decode(converter.encode(base), om.Message)
    base["content"] = [{"type": "x_new_block", "v": 1}]
    read = converter.decode(converter.encode(base), om.Message)
    assert read.content == (om.UnknownContent("x_new_block", {"type": "x_new_block", "v": 1}),)


def _modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return set(out.splitlines())


def _imported_after(code: str) -> set[str]:
    return {name.split(".")[0] for name in _modules_after(code)}


def test_the_package_import_leaves_the_codec_retry_and_cli_libraries_for_later() -> None:
    """``import openai_messages`` loads neither cattrs (hooks and readers are made on
    first use) nor tenacity (first retry), click, rich or azure; the first decode does."""
    first = _imported_after("import openai_messages")
    assert not first & {"cattrs", "tenacity", "click", "rich", "azure"}
    # nor the seam for tests, nor the command token source (subprocess, signals)
    later = {"openai_messages._transport.mock", "openai_messages.auth.command"}
    assert not _modules_after("import openai_messages") & later
    assert _modules_after("import openai_messages as om\nom.MockSeam\nom.CommandToken") >= later
    used = _imported_after(
        "import openai_messages as om\n"
        "from openai_messages.converter import decode\n"
        'decode(b\'{"id": "m"}\', om.Message)'
    )
    assert "cattrs" in used


CONVERSATION_LAYER = {
    "openai_messages._codec.conversation_models",
    "openai_messages._core.conversation_operations",
    "openai_messages._transport.item_reconcile",
    "openai_messages.conversations",
}


def test_the_conversation_layer_loads_on_first_use() -> None:
    """Issue 24: ``import openai_messages`` (and a client of threads) leaves the
    conversation models and calls for later; a conversation name or the first use of
    ``client.conversations`` (or of the converter) loads them."""
    client = "c = om.Client(api_key='k', base_url='http://127.0.0.1:9/v1')\n"
    assert not _modules_after(f"import openai_messages as om\n{client}") & CONVERSATION_LAYER
    model = _modules_after("import openai_messages as om\nom.Conversation")
    assert "openai_messages._codec.conversation_models" in model
    for use in ("c.conversations", "c.with_response.conversations"):
        assert _modules_after(f"import openai_messages as om\n{client}{use}") >= CONVERSATION_LAYER
    assert set(om._CONVERSATION_MODELS) == set(conversation_models.__all__) <= set(om.__all__)
    assert set(om._LAZY) <= set(om.__all__)
    assert om.Conversations is conversations.Conversations
    assert om.MessageItem is conversation_models.MessageItem
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(om, "no_such_name")  # noqa: B009


@SETTINGS
@given(st.lists(messages, min_size=1, max_size=4), content_blocks)
def test_a_page_read_twice_equals_cattrs_whatever_shapes_its_items_take(
    items: list[dict[str, Any]], block: dict[str, Any]
) -> None:
    """The consuming page reader, the learned shapes (second read), the whole-shape path
    of small objects and the inlined dispatch of a lone block build what cattrs builds."""
    items = [*items, {**items[0], "content": [block]}]
    body = orjson.dumps({"object": "list", "data": items, "has_more": False})
    conv = converter.the_converter()
    try:
        expected = cattrs.Converter.structure(conv, orjson.loads(body), models.MessagePage)
    except Exception:
        with pytest.raises(om.APIResponseValidationError):
            converter.decode(body, models.MessagePage)
        return
    for _ in range(2):
        page = converter.decode(body, models.MessagePage)
        assert page == expected
        assert [type(m) for m in page.data] == [models.Message] * len(items)
        assert converter.unstructure(page) == orjson.loads(body)


@pytest.mark.parametrize(
    "cls",
    [c for c in _responses() if isinstance(vars(c).get("type"), str)],
    ids=lambda c: c.__name__,
)
def test_an_unknown_key_is_kept_when_a_tagged_model_is_read_without_its_tag(cls: type) -> None:
    # read directly (not through its union), without "type": the missing tag must not hide
    # an unknown key from the key count (it did, on both paths: the key was dropped)
    payload = _payload(cls)
    del payload["type"]
    fast: Any = converter.structure(copy.deepcopy(payload), cls)
    general: Any = cattrs.Converter.structure(
        converter.the_converter(), copy.deepcopy(payload), cls
    )
    assert fast.extra == general.extra == {"zz_unknown": [1, {"a": None}]}
