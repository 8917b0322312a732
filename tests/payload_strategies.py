"""Hypothesis strategies of API payloads (messages, pages, files, annotations...) shared by the
property tests, and the check that the fast reader and cattrs build the same thing."""

from __future__ import annotations

import copy
from typing import Any

import cattrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from openai_messages._codec import converter, fastpath
from openai_messages._codec.models import (
    DeletedMessage,
    Message,
    MessageFile,
    MessageFilePage,
    MessagePage,
)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(SETTINGS, max_examples=50)

Json = Any

# ----------------------------------------------------------------------------- strategies

text = st.text(max_size=12)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
timestamps = st.integers(min_value=0, max_value=2**40)
json_scalars = (
    st.none() | st.booleans() | ints | st.floats(allow_nan=False, allow_infinity=False) | text
)
json_values: st.SearchStrategy[Json] = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
#: Keys no model knows (all known keys are plain lowercase words without this prefix).
extra_keys = text.map(lambda s: "x-" + s)
extras = st.dictionaries(extra_keys, json_values, max_size=2)


def nullable(strategy: st.SearchStrategy[Json]) -> st.SearchStrategy[Json]:
    return st.none() | strategy


def obj(
    required: dict[str, st.SearchStrategy[Json]],
    optional: dict[str, st.SearchStrategy[Json]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the required keys, any of the optional ones, and maybe unknown keys."""
    base = st.fixed_dictionaries(required, optional=optional or {})
    return st.tuples(base, extras).map(lambda pair: {**pair[1], **pair[0]})


def unknown_of(known: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects of a ``type`` outside ``known``, with arbitrary other keys."""
    new_type = text.filter(lambda t: t not in known)
    return st.tuples(new_type, st.dictionaries(text, json_values, max_size=3)).map(
        lambda pair: {**pair[1], "type": pair[0]}
    )


details = st.sampled_from(["auto", "low", "high"])
file_citation = obj(
    {"type": st.just("file_citation")},
    {
        "text": text,
        "file_citation": obj({"file_id": text}, {"quote": text}),
        "start_index": timestamps,
        "end_index": timestamps,
    },
).filter(lambda d: "file_citation" in d)
file_path = obj(
    {"type": st.just("file_path"), "file_path": obj({"file_id": text})},
    {"text": text, "start_index": timestamps, "end_index": timestamps},
)
annotation_objs = file_citation | file_path | unknown_of({"file_citation", "file_path"})
content_blocks = (
    obj(
        {
            "type": st.just("text"),
            "text": obj({}, {"value": text, "annotations": st.lists(annotation_objs, max_size=3)}),
        }
    )
    | obj(
        {"type": st.just("image_file"), "image_file": obj({"file_id": text}, {"detail": details})}
    )
    | obj({"type": st.just("image_url"), "image_url": obj({"url": text}, {"detail": details})})
    | obj({"type": st.just("refusal")}, {"refusal": text})
    | unknown_of({"text", "image_file", "image_url", "refusal"})
)
tools = (
    obj({"type": st.just("code_interpreter")})
    | obj({"type": st.just("file_search")})
    | unknown_of({"code_interpreter", "file_search"})
)
attachments = obj({}, {"file_id": text, "tools": st.lists(tools, max_size=3)})
metadata = st.dictionaries(st.text(max_size=64), st.text(max_size=20), max_size=4)
statuses = st.sampled_from(["in_progress", "incomplete", "completed"])
reasons = st.sampled_from(["content_filter", "max_tokens", "run_cancelled", "run_expired"])

messages = obj(
    {"id": text},
    {
        "object": st.just("thread.message"),
        "created_at": timestamps,
        "thread_id": text,
        "status": statuses,
        "incomplete_details": nullable(obj({"reason": reasons})),
        "completed_at": nullable(timestamps),
        "incomplete_at": nullable(timestamps),
        "role": st.sampled_from(["user", "assistant"]),
        "content": st.lists(content_blocks, max_size=4),
        "assistant_id": nullable(text),
        "run_id": nullable(text),
        "attachments": nullable(st.lists(attachments, max_size=2)),
        "metadata": nullable(metadata),
        "file_ids": st.lists(text, max_size=3),
    },
)
# a page without ``data`` is unreadable (issue 14 item 4); everything else may be absent
pages = obj(
    {"data": st.lists(messages, max_size=4)},
    {
        "object": st.just("list"),
        "first_id": nullable(text),
        "last_id": nullable(text),
        "has_more": st.booleans(),
    },
)
message_files = obj(
    {"id": text},
    {
        "object": st.just("thread.message.file"),
        "created_at": timestamps,
        "message_id": text,
    },
)
file_pages = obj(
    {"data": st.lists(message_files, max_size=3)},
    {
        "object": st.just("list"),
        "first_id": nullable(text),
        "last_id": nullable(text),
        "has_more": st.booleans(),
    },
)
deleted = obj({"id": text}, {"object": st.just("thread.message.deleted"), "deleted": st.booleans()})

CASES: list[tuple[type[Any], st.SearchStrategy[dict[str, Any]]]] = [
    (Message, messages),
    (MessagePage, pages),
    (MessageFile, message_files),
    (MessageFilePage, file_pages),
    (DeletedMessage, deleted),
]


def _tagged(
    cls: type[Any], strategy: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[tuple[type[Any], dict[str, Any]]]:
    return strategy.map(lambda payload: (cls, payload))


ALL_PAYLOADS = st.one_of([_tagged(c, s) for c, s in CASES])


def both_paths(payload: Json, cls: type[Any]) -> None:
    """The fast reader either misses or builds exactly what cattrs' hooks build."""
    conv = converter.converter
    try:
        fast = conv.readers.plain[cls](copy.deepcopy(payload))
    except fastpath.Miss:
        fast = None
    try:
        general = cattrs.Converter.structure(conv, copy.deepcopy(payload), cls)
    except Exception:
        assert fast is None, "the fast path accepted what cattrs refuses"
        return
    if fast is not None:
        assert fast == general
        assert fast.absent_fields == general.absent_fields
        assert dict(fast.extra) == dict(general.extra)
        assert converter.unstructure(fast) == converter.unstructure(general)


#: Any JSON value, nested a little (for malformed bodies).
ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
