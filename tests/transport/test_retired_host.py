"""The sunset: a 404 or 410 from a host that retired the Assistants API says so and how to
point the client elsewhere (issue 15, item 7). The host check is the endpoint's
(``endpoint.RETIRED_HOSTS``); here it is pointed at a loopback emulator, so that no
traffic goes to api.openai.com."""

from __future__ import annotations

import pytest

import openai_messages as om
from openai_messages._core import endpoint
from openai_messages.emulator import Emulator, Fault

from ..support import API_KEY


@pytest.fixture
def retired_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endpoint, "RETIRED_HOSTS", frozenset({"127.0.0.1"}))


@pytest.mark.usefixtures("retired_loopback")
@pytest.mark.parametrize("status", [404, 410])
async def test_a_retired_host_names_the_sunset_and_the_way_out(emu: Emulator, status: int) -> None:
    emu.store.create_thread("thread_s")
    if status == 410:
        emu.faults.add(Fault.error(410, message="Gone"), route="list")
    async with om.Client(api_key=API_KEY, base_url=emu.url, max_retries=0) as client:
        assert client.endpoint.retired
        with pytest.raises(om.APIStatusError) as info:
            await client.list("thread_s" if status == 410 else "thread_none").collect()
    message = str(info.value)
    assert info.value.status_code == status
    assert "retired the Assistants API" in message
    assert "2026-08-26" in message
    for way_out in ("base_url=", "Client.foundry", "Client.azure"):
        assert way_out in message


async def test_other_hosts_say_nothing_of_it(emu: Emulator) -> None:
    async with om.Client(api_key=API_KEY, base_url=emu.url, max_retries=0) as client:
        assert not client.endpoint.retired
        with pytest.raises(om.NotFoundError) as info:
            await client.retrieve_thread("thread_none")
    assert "retired" not in str(info.value)


@pytest.mark.usefixtures("retired_loopback")
async def test_other_statuses_from_a_retired_host_say_nothing_of_it(emu: Emulator) -> None:
    emu.faults.add(Fault.error(400, message="bad"), route="retrieve_thread")
    async with om.Client(api_key=API_KEY, base_url=emu.url, max_retries=0) as client:
        with pytest.raises(om.BadRequestError) as info:
            await client.retrieve_thread("thread_none")
    assert "retired" not in str(info.value)


def test_the_default_base_url_is_still_openais(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    client = om.Client(api_key=API_KEY)  # never used: nothing is sent
    assert client.endpoint.base_url == "https://api.openai.com/v1"
    assert client.endpoint.retired
