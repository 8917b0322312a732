"""The declarations of the endpoints and the one request builder, ``Operation.request``:
ids and query values checked as declared, defaults, percent-quoting, the server's own
cursors. Pure: no server, no transport."""

from __future__ import annotations

from typing import Any

import pytest

from openai_messages import errors
from openai_messages._core import conversation_operations as cops
from openai_messages._core import endpoint as ep
from openai_messages._core import operations as ops
from openai_messages._core.checks import check_cursor
from openai_messages._core.defaults import PAGE_SIZE

ENDPOINT = ep.Endpoint(base_url="https://api.example.test/v1")

DECLARED: dict[str, ops.Operation[Any]] = {
    f"{module.__name__.rpartition('.')[2]}.{name}": value
    for module in (ops, cops)
    for name, value in vars(module).items()
    if isinstance(value, ops.Operation)
}
LISTINGS = {name: op for name, op in DECLARED.items() if op.method == "GET" and op.query}
QUERIES = [
    pytest.param(op, entry, id=f"{name}.{entry.name}")
    for name, op in DECLARED.items()
    for entry in op.query
]
PATH_IDS = [
    pytest.param(op, field, id=f"{name}.{field}")
    for name, op in DECLARED.items()
    for field in op.fields
]


def _ids(op: ops.Operation[Any], **given: object) -> dict[str, object]:
    return {field: given.get(field, f"{field}_1") for field in op.fields}


# -- the declarations ------------------------------------------------------------------


def test_the_scan_finds_the_endpoints() -> None:
    assert {"operations.CREATE_MESSAGE", "conversation_operations.DELETE_ITEM"} <= set(DECLARED)
    assert set(LISTINGS) >= {
        "operations.LIST_MESSAGES",
        "operations.LIST_FILES",
        "operations.LIST_THREADS",
        "conversation_operations.LIST_CONVERSATIONS",
        "conversation_operations.LIST_ITEMS",
    }


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_every_query_entry_has_a_check(name: str) -> None:
    for entry in DECLARED[name].query:
        assert isinstance(entry, ops.Query)
        assert callable(entry.check)
        assert entry.default is None or entry.check(entry.default) == entry.default


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_every_listing_takes_the_page_queries_and_only_listings_do(name: str) -> None:
    op = DECLARED[name]
    lists = hasattr(op.response, "has_more") and op.method == "GET"
    assert (op.query[: len(ops.PAGE_QUERIES)] == ops.PAGE_QUERIES) is lists
    assert lists is (name in LISTINGS)


def test_the_page_queries() -> None:
    assert [(q.name, q.default) for q in ops.PAGE_QUERIES] == [
        ("limit", PAGE_SIZE),
        ("order", "desc"),
        ("after", None),
        ("before", None),
    ]
    assert [q.name for q in ops.LIST_MESSAGES.query] == [
        "limit",
        "order",
        "after",
        "before",
        "run_id",
    ]


def test_a_declaration_names_each_parameter_once_and_targets_a_path_id() -> None:
    with pytest.raises(ValueError, match="named once"):
        ops.Operation("x", "GET", "a/{after}", object, query=ops.PAGE_QUERIES)
    with pytest.raises(ValueError, match="named once"):
        ops.Operation("x", "GET", "a", object, query=(*ops.PAGE_QUERIES, ops.PAGE_QUERIES[0]))
    with pytest.raises(ValueError, match="not a path id"):
        ops.Operation("x", "GET", "a/{a_id}", object, target="b_id")


def test_the_target_is_the_last_path_id_unless_declared() -> None:
    retrieve = ops.RETRIEVE_FILE.request(_ids(ops.RETRIEVE_FILE))
    assert retrieve.target == "file_id_1"
    assert ops.CREATE_MESSAGE.request({"thread_id": "thread_1"}).target == "thread_1"
    assert ops.LIST_THREADS.request().target == ""
    deleted = cops.DELETE_ITEM.request({"conversation_id": "conv_1", "item_id": "item_1"})
    assert (deleted.path, deleted.target) == ("conversations/conv_1/items/item_1", "conv_1")


# -- ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(("op", "field"), PATH_IDS)
@pytest.mark.parametrize("bad", ["", "a/b", "a?b", "a#b", "..", "a..b", "a b", "a\x00b", 5, None])
def test_each_path_id_is_checked(op: ops.Operation[Any], field: str, bad: object) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=field) as info:
        op.request(_ids(op, **{field: bad}))
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "bad", ["", "a/b", "a?b", "a#b", "..", "a..b", "a b", "a\tb", "a\nb", "a\x00b", "a\x7f", "%2F"]
)
def test_bad_ids_are_refused_before_sending(bad: str) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="thread_id"):
        ops.RETRIEVE_MESSAGE.request({"thread_id": bad, "message_id": "msg_1"})
    with pytest.raises(ValueError, match="message_id"):
        ops.RETRIEVE_MESSAGE.request({"thread_id": "thread_1", "message_id": bad})


def test_an_id_of_the_wrong_type() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="must be a str"):
        ops.RETRIEVE_MESSAGE.request({"thread_id": 123, "message_id": "m"})


def test_odd_but_valid_ids_are_quoted() -> None:
    request = ops.RETRIEVE_MESSAGE.request({"thread_id": "thread_é+=&", "message_id": "msg:1"})
    assert request.path == "threads/thread_%C3%A9%2B%3D%26/messages/msg%3A1"
    assert request.target == "msg:1"  # the id itself, not its quoted form


def test_the_ids_are_exactly_the_path_s() -> None:
    with pytest.raises(TypeError, match="takes the ids"):
        ops.RETRIEVE_MESSAGE.request({"thread_id": "t"})
    with pytest.raises(TypeError, match="takes the ids"):
        ops.RETRIEVE_THREAD.request({"thread_id": "t", "message_id": "m"})


# -- query values ----------------------------------------------------------------------


@pytest.mark.parametrize(("op", "entry"), QUERIES)
def test_each_declared_check_fires_naming_its_parameter(
    op: ops.Operation[Any], entry: ops.Query
) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=entry.name):
        op.request(_ids(op), {entry.name: object()})


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ({"limit": 0}, "limit must be between 1 and 100"),
        ({"limit": 101}, "between 1 and 100"),
        ({"limit": True}, "limit must be an int"),
        ({"limit": "5"}, "limit must be an int"),
        ({"order": "up"}, "order must be"),
        ({"after": "a/b"}, "after"),
        ({"before": ""}, "before must not be empty"),
        ({"run_id": ""}, "run_id"),
        ({"run_id": 7}, "run_id must be a str"),
    ],
)
def test_list_arguments(query: dict[str, Any], match: str) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=match):
        ops.LIST_MESSAGES.request({"thread_id": "t"}, query)


def test_the_defaults_are_applied_and_none_is_left_out() -> None:
    for op in LISTINGS.values():
        request = op.request(_ids(op))
        assert request.query == (("limit", str(PAGE_SIZE)), ("order", "desc"))
    request = ops.LIST_MESSAGES.request({"thread_id": "t"}, {"after": None, "run_id": None})
    assert request.query == (("limit", "100"), ("order", "desc"))


def test_the_query_goes_in_its_declared_order() -> None:
    request = ops.LIST_MESSAGES.request(
        {"thread_id": "t"}, {"run_id": "run_1", "after": "msg_9", "order": "asc", "limit": 50}
    )
    assert request.query == (
        ("limit", "50"),
        ("order", "asc"),
        ("after", "msg_9"),
        ("run_id", "run_1"),
    )
    assert (request.method, request.path, request.body) == ("GET", "threads/t/messages", None)
    assert "Content-Type" not in request.headers


def test_an_undeclared_query_parameter_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="no query parameter"):
        ops.LIST_THREADS.request({}, {"run_id": "run_1"})
    with pytest.raises(TypeError, match="no query parameter"):
        ops.RETRIEVE_THREAD.request({"thread_id": "t"}, server={"after": "x"})


def test_ids_and_cursors_are_percent_quoted_on_the_wire() -> None:
    request = ops.LIST_FILES.request(
        {"thread_id": "thread_é", "message_id": "msg+1"}, {"after": "file:é&=", "limit": 5}
    )
    assert ep.prepare(ENDPOINT, request) == (
        "https://api.example.test/v1/threads/thread_%C3%A9/messages/msg%2B1/files"
        "?limit=5&order=desc&after=file%3A%C3%A9%26%3D"
    )


# -- the server's own cursors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "quoted"),
    [
        ("a/b", "a%2Fb"),
        ("a b?#", "a%20b%3F%23"),
        ("..", ".."),
        ("%2F", "%252F"),
        ("a\x00b", "a%00b"),
        ("x" * 300, "x" * 300),
    ],
)
def test_a_server_cursor_is_sent_quoted_whatever_it_holds(cursor: str, quoted: str) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        check_cursor("after", cursor)  # the same cursor from the caller is refused
    request = cops.LIST_ITEMS.request(
        {"conversation_id": "conv_1"}, {"limit": 2}, server={"after": cursor, "before": None}
    )
    assert request.query == (("limit", "2"), ("order", "desc"), ("after", cursor))
    assert ep.prepare(ENDPOINT, request).endswith(f"/items?limit=2&order=desc&after={quoted}")


def test_server_cursors_take_the_place_of_the_caller_s() -> None:
    request = ops.LIST_MESSAGES.request(
        {"thread_id": "t"}, {"after": "mine", "run_id": "run_1"}, server={"after": "theirs"}
    )
    assert dict(request.query)["after"] == "theirs"
    assert dict(request.query)["run_id"] == "run_1"


@pytest.mark.parametrize("cursor", ["", 5, b"msg_1", object()])
def test_a_server_cursor_that_is_no_id_is_the_server_s_fault(cursor: object) -> None:
    with pytest.raises(errors.APIResponseValidationError, match=r"cannot be a cursor \(before=\)"):
        ops.LIST_THREADS.request({}, server={"before": cursor})


# -- bodies and headers ----------------------------------------------------------------


def test_a_body_is_encoded_as_json_with_its_content_type() -> None:
    request = ops.MODIFY_THREAD.request({"thread_id": "t"}, body={"metadata": None})
    assert (request.body, request.headers["Content-Type"]) == (
        b'{"metadata":null}',
        "application/json",
    )
    assert ops.RETRIEVE_THREAD.request({"thread_id": "t"}).headers == {}


def test_the_idempotency_key_is_a_header_value() -> None:
    request = ops.CREATE_THREAD.request(body={}, idempotency_key="om-1")
    assert request.headers["Idempotency-Key"] == "om-1"
    with pytest.raises(errors.InvalidArgumentError, match="idempotency_key"):
        ops.CREATE_THREAD.request(body={}, idempotency_key="a\r\nb")
