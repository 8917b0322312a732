"""The one scrubber (:mod:`openai_messages._core.scrubbing`): known secrets in every
spelling, and, for text from credential helpers, anything shaped like one."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openai_messages._core.scrubbing import Scrubber

SECRET = "sk-live-0123456789abcdef0123456789-SECRET"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
SHAPES = Scrubber(shapes=True)


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


# -- shapes: text from a credential helper --------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {SECRET[:10]}",
        f"token={JWT}",
        f"api-key {SECRET}",
        "key 0123456789abcdef0123456789abcdef here",
    ],
)
def test_scrub_blanks_what_looks_like_a_credential(text: str) -> None:
    scrubbed = SHAPES.text(text)
    assert "***" in scrubbed
    assert_hidden(scrubbed, SECRET[:10], JWT, "0123456789abcdef0123456789abcdef")


def test_scrub_keeps_what_helps_a_reader() -> None:
    text = (
        "AADSTS700016: application 11111111-2222-3333-4444-555555555555 not found in "
        "tenant; run 'az login --scope https://ai.azure.com/.default'"
    )
    assert SHAPES.text(text) == text


@given(
    before=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    token=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=4, max_size=40),
    after=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
def test_scrub_never_leaves_a_known_token(before: str, token: str, after: str) -> None:
    assert token not in Scrubber(token).text(before + token + after + token).replace("***", "\0")


def test_scrub_blanks_known_values_of_any_shape() -> None:
    assert Scrubber("short-k3y").text("the key was short-k3y, sorry") == "the key was ***, sorry"


def test_safe_to_chain_looks_along_the_chain() -> None:
    outer = RuntimeError("outer, harmless")
    outer.__cause__ = ValueError(f"Bearer {SECRET}")
    assert SHAPES.safe_to_chain(outer) is False
    harmless = RuntimeError("harmless")
    harmless.__context__ = ValueError("also harmless")
    assert SHAPES.safe_to_chain(harmless) is True


# -- known secrets: what a reply may echo ----------------------------------------------


@given(secret=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=4, max_size=40))
def test_a_known_secret_is_blanked_out_of_bytes_in_every_json_spelling(secret: str) -> None:
    scrubber = Scrubber(secret)
    every = "".join(f"\\u{ord(c):04x}" for c in secret)
    for spelled in (
        orjson.dumps({"echo": secret}),
        orjson.dumps({"echo": secret}).replace(b"/", b"\\/"),
        b'{"echo":"' + every.encode() + b'"}',
        b'{"echo":"' + every.upper().replace("\\U", "\\u").encode() + b'"}',
        secret.encode() + b" raw, not JSON",
    ):
        cleaned = scrubber.bytes(spelled)
        assert b"***" in cleaned
        decoded = cleaned.decode()
        assert secret not in decoded
        with contextlib.suppress(orjson.JSONDecodeError):  # the raw one; a secret of JSON
            assert secret not in str(orjson.loads(cleaned))  # once decoded: still not there


def test_known_secrets_go_from_json_keys_values_and_headers_and_ids_stay() -> None:
    scrubber = Scrubber(SECRET, "tok-2")
    long_id = "msg_0123456789abcdefABCDEF0123456789"  # a shape a reply's ids have
    value = {SECRET: [f"Bearer {SECRET}", {"id": long_id, "n": 3, "t": "tok-2"}]}
    assert scrubber.json(value) == {"***": ["Bearer ***", {"id": long_id, "n": 3, "t": "***"}]}
    assert scrubber.headers({"X-Echo": f"key={SECRET}"}) == {"X-Echo": "key=***"}
    assert scrubber.covers(SECRET)
    assert scrubber.covers("tok-2")
    assert not scrubber.covers("other")


def test_the_longest_secret_goes_first_and_none_shows_in_repr() -> None:
    scrubber = Scrubber("abc", "abcdef")
    assert scrubber.text("abcdef abc") == "*** ***"
    assert "abc" not in repr(scrubber)
    assert Scrubber().text("nothing to hide") == "nothing to hide"
    assert Scrubber("").bytes(b"nothing") == b"nothing"
