"""Every listing of the client walks through one path (issue 20 item 2): its ids checked
when the walk is made, each page's request built from the listing's declaration, the
next cursor the server's own id, sent quoted whatever it holds. Over the in-memory seam."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

import openai_messages as om

from ..support import API_KEY

BASE = "https://api.example.test/v1"
NO_WAIT = om.RetryPolicy(max_retries=0, backoff_base=0.0, backoff_max=0.0)

Walk = Callable[[om.Client, str], Any]

LISTINGS: dict[str, Walk] = {
    "list": lambda c, bad: c.list(bad),
    "list run_id": lambda c, bad: c.list("thread_1", run_id=bad),
    "list_files thread": lambda c, bad: c.list_files(bad, "msg_1"),
    "list_files message": lambda c, bad: c.list_files("thread_1", bad),
    "items.list": lambda c, bad: c.conversations.items.list(bad),
    "with_response.list": lambda c, bad: c.with_response.list(bad),
    "with_response.list run_id": lambda c, bad: c.with_response.list("thread_1", run_id=bad),
    "with_response.list_files": lambda c, bad: c.with_response.list_files("thread_1", bad),
    "with_response.items.list": lambda c, bad: c.with_response.conversations.items.list(bad),
}


class Pages:
    """A handler serving ``pages`` (lists of item ids) in turn, recording each query."""

    def __init__(self, *pages: list[str]) -> None:
        self.pages = list(pages)
        self.queries: list[dict[str, str]] = []
        self.paths: list[str] = []

    def __call__(self, request: om.PreparedRequest) -> om.MockReply:
        url = urlsplit(request.url)
        self.paths.append(url.path)
        self.queries.append(dict(parse_qsl(url.query)))
        ids = self.pages.pop(0)
        data = [{"id": i, "type": "message", "created_at": 1} for i in ids]
        return om.MockReply.json({"object": "list", "data": data, "has_more": bool(self.pages)})


def _client(seam: om.MockSeam) -> om.Client:
    return om.Client(api_key=API_KEY, base_url=BASE, seam=seam, retry_policy=NO_WAIT)


@pytest.mark.parametrize("listing", sorted(LISTINGS))
@pytest.mark.parametrize("bad", ["a/b", "", "../x"])
async def test_a_bad_id_is_refused_when_the_walk_is_made(listing: str, bad: str) -> None:
    seam = om.MockSeam(Pages([]))
    async with _client(seam) as client:
        with pytest.raises(om.InvalidArgumentError):
            LISTINGS[listing](client, bad)
    assert seam.sent == []


async def test_each_page_carries_the_fixed_query_and_the_server_s_cursor() -> None:
    pages = Pages(["msg/1 ?#", "msg_2"], ["msg%2F3"], [])
    async with _client(om.MockSeam(pages)) as client:
        got = [m.id async for m in client.list("thread_é", run_id="run_1", order="asc")]
    assert got == ["msg/1 ?#", "msg_2", "msg%2F3"]
    assert pages.paths == ["/v1/threads/thread_%C3%A9/messages"] * 3
    assert pages.queries == [
        {"limit": "100", "order": "asc", "run_id": "run_1"},
        {"limit": "100", "order": "asc", "after": "msg_2", "run_id": "run_1"},
        {"limit": "100", "order": "asc", "after": "msg%2F3", "run_id": "run_1"},
    ]
    items = Pages(["msg/1 ?#"], [])
    async with _client(om.MockSeam(items)) as client:
        pager = client.conversations.items.list("conv_1", page_size=1, max_items=2)
        assert [i.id async for i in pager] == ["msg/1 ?#"]
    assert items.paths == ["/v1/conversations/conv_1/items"] * 2
    assert items.queries == [
        {"limit": "1", "order": "desc"},
        {"limit": "1", "order": "desc", "after": "msg/1 ?#"},
    ]


async def test_a_cursor_id_full_of_url_characters_goes_quoted() -> None:
    pages = Pages(["a/b c?d#e%f"], [])
    seam = om.MockSeam(pages)
    async with _client(seam) as client:
        assert len(await client.list_threads(page_size=1).collect()) == 1
    assert seam.sent[1].url == f"{BASE}/threads?limit=1&order=desc&after=a%2Fb%20c%3Fd%23e%25f"


async def test_an_empty_server_id_cannot_be_a_cursor() -> None:
    pages = Pages([""], ["msg_2"])
    async with _client(om.MockSeam(pages)) as client:
        pager = client.list("thread_1")
        seen: list[str] = []
        with pytest.raises(om.APIResponseValidationError, match=r"cannot be a cursor \(after=\)"):
            async for message in pager:
                seen.append(message.id)
    assert seen == [""]
    assert len(pages.queries) == 1


async def test_with_response_walks_keep_their_pager() -> None:
    async with _client(om.MockSeam(Pages(["msg_1", "msg_2"], ["msg_3"]))) as client:
        pager = client.with_response.list("thread_1", after="msg_0")
        assert isinstance(pager, om.ResponsePager)
        assert pager.cursor == "msg_0"
        first = await pager.first_page()
        assert [m.id for m in first.value.data] == ["msg_1", "msg_2"]
    async with _client(om.MockSeam(Pages(["c_1"], ["c_2"]))) as client:
        pages = await client.with_response.conversations.list().collect()
        assert [[c.id for c in r.value.data] for r in pages] == [["c_1"], ["c_2"]]
