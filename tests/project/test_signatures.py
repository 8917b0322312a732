"""Every public call shows its real signature (issue 20 item 3): ``inspect.signature``
has its parameters and no private one, and ``typing.get_type_hints`` reads it; the
options ``Client.azure``/``foundry`` pass on are exactly ``Client``'s."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import openai_messages as om


def public_calls() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name in om.__all__:
        obj = getattr(om, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj) and obj.__module__.startswith("openai_messages"):
            if not issubclass(obj, BaseException) and "__init__" in vars(obj):
                yield f"{name}.__init__", obj.__init__
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(member, (classmethod, staticmethod)):
                    member = member.__func__
                if inspect.isfunction(member):
                    yield f"{name}.{attr}", member


CALLS = dict(public_calls())


def test_the_scan_finds_the_calls() -> None:
    assert {"Client.__init__", "Client.create", "Client.azure", "WithResponse.list"} <= set(CALLS)
    assert {"Conversations.create", "ItemsWithResponse.list", "conversation_items"} <= set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_public_call_shows_no_private_parameter(name: str) -> None:
    parameters = inspect.signature(CALLS[name]).parameters
    assert [p for p in parameters if p.startswith("_")] == []


@pytest.mark.parametrize("name", sorted(CALLS))
def test_get_type_hints_reads_every_public_call(name: str) -> None:
    typing.get_type_hints(CALLS[name])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Client.create", ["thread_id", "role", "content", "options"]),
        ("Client.retrieve", ["thread_id", "message_id", "options"]),
        ("Client.modify", ["thread_id", "message_id", "metadata", "options"]),
        ("Client.delete", ["thread_id", "message_id", "options"]),
        ("Conversations.retrieve", ["conversation_id", "options"]),
    ],
)
def test_the_value_calls_show_their_parameters(name: str, expected: list[str]) -> None:
    call = CALLS[name]
    parameters = list(inspect.signature(call).parameters)
    assert parameters[0] == "self"
    assert set(expected) <= set(parameters)
    returned = typing.get_type_hints(call)["return"]
    assert typing.get_origin(returned) is not om.Response


def test_the_client_options_are_the_client_s_keyword_arguments() -> None:
    """``ClientOptions`` (what ``azure``/``foundry`` pass on) agrees with ``Client``."""
    from openai_messages.client import ClientOptions

    init = typing.get_type_hints(om.Client.__init__)
    options = typing.get_type_hints(ClientOptions)
    own = {"api_key", "base_url", "api_version", "return"}
    assert set(options) == set(init) - own
    assert {name: init[name] for name in options} == options
