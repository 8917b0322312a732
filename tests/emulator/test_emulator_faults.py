"""Fault injection over real loopback HTTP: every kind, scripted and seeded."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from openai_messages.emulator import Chaos, Emulator, Fault, FaultRule, Faults

KEY = "sk-emu-faults"
HEADERS = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def server() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, seed=9) as emu:
        emu.store.add_messages("thread_t", 30)
        yield emu


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        yield session


def list_url(server: Emulator) -> str:
    return f"{server.url}/threads/thread_t/messages"


async def get_status(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as resp:
        await resp.read()
        return resp.status


# -- rule matching -------------------------------------------------------------------


async def test_scripted_nth_request_of_a_route(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    rule = server.faults.add(Fault.error(503), route="list", nth=3)
    url = list_url(server)
    mid = server.store.messages("thread_t")[0]["id"]
    statuses = []
    for _ in range(5):
        statuses.append(await get_status(http, url))
        await get_status(http, f"{url}/{mid}")  # other routes do not count
    assert statuses == [200, 200, 503, 200, 200]
    assert (rule.seen, rule.fired) == (5, 1)
    assert server.log.filter("list", status=503)[0].fault == Fault.error(503)
    assert server.log.count(fault="error") == 1


async def test_nth_set_times_and_any_route(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.faults.add(Fault.error(500), nth={1, 2, 4}, times=2)
    url = list_url(server)
    assert [await get_status(http, url) for _ in range(5)] == [500, 500, 200, 200, 200]
    server.faults.clear()
    server.faults.add(Fault.error(502), times=1)  # every route, first request only
    assert await get_status(http, f"{url}/msg_nope") == 502
    assert await get_status(http, f"{url}/msg_nope") == 404


async def test_rules_count_from_when_they_are_added_and_can_be_removed(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    url = list_url(server)
    for _ in range(3):
        assert await get_status(http, url) == 200
    rule = server.faults.add(Fault.error(503), route="list", nth=1)
    assert await get_status(http, url) == 503
    server.faults.add(Fault.error(500), route="list")
    server.faults.remove(rule)
    assert len(server.faults) == 1
    assert await get_status(http, url) == 500
    server.faults = None  # replaced by an empty rule set
    assert await get_status(http, url) == 200


async def test_auth_failures_do_not_count(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.faults.add(Fault.error(503), route="list", nth=1)
    async with aiohttp.ClientSession() as anon, anon.get(list_url(server)) as resp:
        assert resp.status == 401
    assert await get_status(http, list_url(server)) == 503


def test_probability_is_seeded_and_deterministic() -> None:
    def run(seed: int) -> list[bool]:
        faults = Faults(seed=seed)
        faults.add(Fault.error(500), probability=0.3)
        return [faults.pick("list") is not None for _ in range(2000)]

    first = run(42)
    assert first == run(42)
    assert first != run(43)
    assert 0.25 < sum(first) / len(first) < 0.35


def test_validation_of_rules() -> None:
    with pytest.raises(ValueError, match="route"):
        FaultRule(Fault.drop(), route="lists")
    with pytest.raises(ValueError, match="kind"):
        Fault("explode")
    with pytest.raises(ValueError, match="fraction"):
        Fault.truncate(1.0)


def test_page_anomalies_only_apply_to_lists() -> None:
    faults = Faults()
    rule = faults.add(Fault.repeat_page())
    assert faults.pick("create") is None
    assert rule.seen == 0
    assert faults.pick("list_files") == Fault.repeat_page()


def test_chaos_mix_is_deterministic_and_close_to_the_rates() -> None:
    def kinds(seed: int) -> list[str | None]:
        faults = Faults.chaos(seed=seed, error_rate=0.30, drop_rate=0.05, truncate_rate=0.05)
        picks = [faults.pick("list") for _ in range(4000)]
        return [
            None if f is None else (f"{f.kind}:{f.status}" if f.kind == "error" else f.kind)
            for f in picks
        ]

    first = kinds(1)
    assert first == kinds(1)
    assert first != kinds(2)
    counts = Counter(first)
    n = len(first)
    errors = sum(v for k, v in counts.items() if k and k.startswith("error:"))
    assert 0.27 < errors / n < 0.33
    assert {k for k in counts if k and k.startswith("error:")} == {
        "error:429",
        "error:500",
        "error:502",
        "error:503",
    }
    assert 0.03 < counts["drop_mid_body"] / n < 0.07
    assert 0.03 < counts["truncate"] / n < 0.07
    faults = Faults(seed=3)
    faults.add(Chaos(error_rate=1.0, drop_rate=0.0, truncate_rate=0.0))
    limited = [f for f in (faults.pick("list") for _ in range(400)) if f and f.status == 429]
    assert any(f.retry_after is not None for f in limited)
    assert any(f.retry_after_ms is not None and f.retry_after is None for f in limited)
    # the spec's 429 wants Retry-After as an integer of at least 1 (issue 14, item 20)
    assert all(f.retry_after is None or f.retry_after == 1.0 for f in limited)


async def test_chaos_429s_never_send_retry_after_zero() -> None:
    faults = Faults(seed=3)
    faults.add(Chaos(error_rate=1.0, drop_rate=0.0, truncate_rate=0.0))
    async with Emulator(api_key=KEY, faults=faults) as emu:
        emu.store.add_messages("thread_t", 1)
        values: list[str] = []
        async with aiohttp.ClientSession(headers=HEADERS) as http:
            for _ in range(120):
                async with http.get(f"{emu.url}/threads/thread_t/messages") as resp:
                    await resp.read()
                    if resp.status == 429 and "Retry-After" in resp.headers:
                        values.append(resp.headers["Retry-After"])
    assert len(values) > 5
    assert all(v.isdigit() and int(v) >= 1 for v in values), sorted(set(values))


# -- each fault kind over HTTP -------------------------------------------------------


async def test_error_with_retry_headers(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.faults.add(
        Fault.rate_limited(2, retry_after_ms=1500, should_retry=True), route="list", times=1
    )
    async with http.get(list_url(server)) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "2"
        assert resp.headers["retry-after-ms"] == "1500"
        assert resp.headers["x-should-retry"] == "true"
        assert resp.headers["x-request-id"].startswith("req_")
        body = await resp.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == "rate_limit_exceeded"
    server.faults.add(
        Fault.error(418, message="teapot", should_retry=False, headers={"X-Extra": "1"}), times=1
    )
    async with http.get(list_url(server)) as resp:
        assert resp.status == 418
        assert resp.headers["x-should-retry"] == "false"
        assert resp.headers["X-Extra"] == "1"
        assert "Retry-After" not in resp.headers
        assert (await resp.json())["error"]["message"] == "teapot"


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503])
async def test_error_statuses_have_openai_bodies(
    server: Emulator, http: aiohttp.ClientSession, status: int
) -> None:
    server.faults.add(Fault.error(status), times=1)
    async with http.get(list_url(server)) as resp:
        assert resp.status == status
        assert resp.content_type == "application/json"
        err = (await resp.json())["error"]
    assert err["message"]
    assert err["type"]


async def test_latency_fault(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.faults.add(Fault.latency(0.2), route="list", nth=2)
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(2):
        started = loop.time()
        assert await get_status(http, list_url(server)) == 200
        times.append(loop.time() - started)
    assert [r.fault_kind for r in server.log] == [None, "latency"]  # the second only
    assert times[1] >= 0.2  # a lower bound: the delay can only add to it


async def test_drop_before_response(server: Emulator) -> None:
    server.faults.add(Fault.drop(), route="create")
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with http.post(
                f"{server.url}/threads/thread_t/messages", json={"role": "user", "content": "lost"}
            ) as resp:
                await resp.read()
    assert server.store.count("thread_t") == 30  # the handler never ran
    record = server.log.filter("create")[0]
    assert record.status is None
    assert record.done
    assert record.fault == Fault.drop()


async def test_drop_mid_body(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.faults.add(Fault.drop_mid_body(0.5), route="list", times=1)
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(list_url(server), params={"limit": "50"}) as resp:
            assert resp.status == 200
            full = int(resp.headers["Content-Length"])
            assert full > 1000
            await resp.read()
    assert server.log[-1].fault_kind == "drop_mid_body"
    assert await get_status(http, list_url(server)) == 200  # the next one is fine


async def test_truncated_body(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.faults.add(Fault.truncate(0.7), route="list", times=1)
    async with http.get(list_url(server)) as resp:
        assert resp.status == 200
        body = await resp.read()
        assert int(resp.headers["Content-Length"]) == len(body)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    async with http.get(list_url(server)) as resp:
        full = await resp.read()
    assert len(body) == int(len(full) * 0.7)
    assert full.startswith(body[:200])


@pytest.mark.parametrize("status", [502, 200])
async def test_html_pages(server: Emulator, http: aiohttp.ClientSession, status: int) -> None:
    server.faults.add(Fault.html(status), times=1)
    async with http.get(list_url(server)) as resp:
        assert resp.status == status
        assert resp.content_type == "text/html"
        text = await resp.text()
    assert text.lstrip().startswith("<html>")
    if status == 502:
        assert "Bad Gateway" in text
    server.faults.add(Fault.html(503, body="<html>custom</html>"), times=1)
    async with http.get(list_url(server)) as resp:
        assert await resp.text() == "<html>custom</html>"


async def test_commit_then_error(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.faults.add(Fault.commit_then_error(500), route="create", times=1)
    async with http.post(
        f"{server.url}/threads/thread_t/messages",
        json={"role": "user", "content": "stored anyway"},
        headers={"Idempotency-Key": "retry-me"},
    ) as resp:
        assert resp.status == 500
        await resp.read()
    assert server.store.count("thread_t") == 31
    stored = server.store.messages("thread_t")[-1]
    assert stored["content"][0]["text"]["value"] == "stored anyway"
    # a retry with the same key gets the stored message, nothing new
    async with http.post(
        f"{server.url}/threads/thread_t/messages",
        json={"role": "user", "content": "stored anyway"},
        headers={"Idempotency-Key": "retry-me"},
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["id"] == stored["id"]
    assert server.store.count("thread_t") == 31


async def test_commit_then_drop(server: Emulator) -> None:
    server.faults.add(Fault.commit_then_drop(), route="create")
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with http.post(
                f"{server.url}/threads/thread_t/messages", json={"role": "user", "content": "c"}
            ) as resp:
                await resp.read()
    assert server.store.count("thread_t") == 31
    assert server.log.filter("create")[0].status is None


async def test_commit_then_delay_makes_the_client_time_out(
    server: Emulator, http: aiohttp.ClientSession
) -> None:
    server.faults.add(Fault.commit_then_delay(0.5), route="create", times=1)
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            f"{server.url}/threads/thread_t/messages",
            json={"role": "user", "content": "slow"},
            timeout=aiohttp.ClientTimeout(total=0.15),
        ) as resp:
            await resp.read()
    assert server.store.count("thread_t") == 31  # committed before the delay


async def test_redirect(server: Emulator, http: aiohttp.ClientSession) -> None:
    target = server.root_url + "/threads/thread_t/messages?limit=2"
    server.faults.add(Fault.redirect(target, 307), route="list", times=1)
    async with http.get(list_url(server), allow_redirects=False) as resp:
        assert resp.status == 307
        assert resp.headers["Location"] == target
        await resp.read()
    server.faults.add(Fault.redirect(server.root_url + "{path_qs}", 308), route="list", nth=1)
    async with http.get(list_url(server), params={"limit": "3"}) as resp:
        assert resp.status == 200
        assert len((await resp.json())["data"]) == 3
        assert len(resp.history) == 1
        assert resp.history[0].status == 308
        assert (
            resp.history[0].headers["Location"] == f"{server.url}/threads/thread_t/messages?limit=3"
        )
    assert server.log.statuses("list")[-2:] == [308, 200]
    assert server.log[-1].query == {"limit": "3"}


async def test_empty_has_more_forever(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.faults.add(Fault.empty_has_more(), route="list")
    for _ in range(3):
        async with http.get(list_url(server)) as resp:
            assert await resp.json() == {
                "object": "list",
                "data": [],
                "first_id": None,
                "last_id": None,
                "has_more": True,
            }


async def test_repeat_page(server: Emulator, http: aiohttp.ClientSession) -> None:
    server.faults.add(Fault.repeat_page(), route="list")
    async with http.get(list_url(server), params={"limit": "5"}) as resp:
        first = await resp.json()
    async with http.get(list_url(server), params={"limit": "5", "after": first["last_id"]}) as resp:
        second = await resp.json()
    assert second == first
    assert second["has_more"] is True
    server.store.add_messages("thread_small", 2)
    async with http.get(f"{server.url}/threads/thread_small/messages") as resp:
        assert (await resp.json())["has_more"] is True  # even when there is nothing more


async def test_reverse_page(server: Emulator, http: aiohttp.ClientSession) -> None:
    ids = [m["id"] for m in server.store.messages("thread_t")]
    server.faults.add(Fault.reverse_page(), route="list", times=1)
    async with http.get(list_url(server), params={"limit": "4", "order": "asc"}) as resp:
        page = await resp.json()
    assert [m["id"] for m in page["data"]] == ids[:4][::-1]
    assert page["first_id"] == ids[3]
    assert page["last_id"] == ids[0]


async def test_anomalies_on_message_files(server: Emulator, http: aiohttp.ClientSession) -> None:
    msg = server.store.add_message("thread_t", content="f", file_ids=["file-a", "file-b", "file-c"])
    url = f"{server.url}/threads/thread_t/messages/{msg['id']}/files"
    server.faults.add(Fault.reverse_page(), route="list_files", nth=1)
    server.faults.add(Fault.empty_has_more(), route="list_files", nth=2)
    async with http.get(url, params={"order": "asc"}) as resp:
        assert [f["id"] for f in (await resp.json())["data"]] == ["file-c", "file-b", "file-a"]
    async with http.get(url) as resp:
        page = await resp.json()
    assert (page["data"], page["has_more"]) == ([], True)


async def test_chaos_over_http_never_breaks_the_server() -> None:
    async with Emulator(api_key=KEY, faults=Faults.chaos(seed=1, error_rate=0.5)) as emu:
        emu.store.add_messages("thread_t", 10)
        outcomes: Counter[str] = Counter()
        async with aiohttp.ClientSession(headers=HEADERS) as http:
            for _ in range(60):
                try:
                    async with http.get(f"{emu.url}/threads/thread_t/messages") as resp:
                        body = await resp.read()
                        try:
                            orjson.loads(body)
                            outcomes[str(resp.status)] += 1
                        except orjson.JSONDecodeError:
                            outcomes["truncated"] += 1
                except aiohttp.ClientError:
                    outcomes["dropped"] += 1
        assert outcomes["200"] > 15
        assert sum(v for k, v in outcomes.items() if k in {"429", "500", "502", "503"}) > 15
        emu.faults.clear()
        async with (
            aiohttp.ClientSession(headers=HEADERS) as http,
            http.get(f"{emu.url}/threads/thread_t/messages") as resp,
        ):
            assert resp.status == 200
