"""Issue 14, item 7: a stored conversation takes bytes linear in its length, and the store is
bounded by bytes.

Each Responses turn is stored once (its new input items and its response), linked to the turn
before; a 30-turn chain through the real gateway (uvicorn on loopback, the ``echo`` scripted
upstream) is measured in the memory store and in Redis against the bytes the turns hold. The
in-memory store evicts the least recently used entries past ``store_max_bytes``; a
conversation that lost a turn to eviction is a 404 that says so; deleting a turn keeps later
turns whole; continuing a conversation refreshes its earlier turns' TTL; Redis without an
evicting ``maxmemory`` is warned about at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import openai
import pytest
import redis
from calls import openai_client
from servers import CLIENT_KEY, serve_asgi
from test_redis_store import redis_server

from apibridge._gateway._handler import Handler, HttpRequest
from apibridge._gateway._previous_response import ResponseHistory
from apibridge._gateway._tenant import key_tenant
from apibridge.asgi import App as AsgiApp
from apibridge.config import ConfigError, GatewayConfig, ServerConfig
from apibridge.store import MemoryStore, RedisStore, start_store

TURNS = 30
TURN_TEXT = 20 * 1024  # characters of new user text per turn (the echo answer repeats it)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as (url, _):
        yield url


def config(**server: Any) -> GatewayConfig:
    return GatewayConfig.single(
        "scripted=echo", server=ServerConfig(client_keys=(CLIENT_KEY,), **server)
    )


def converse(client: openai.OpenAI, turns: int, size: int = TURN_TEXT) -> list[str]:
    """A chain of ``turns`` turns of ``size`` characters each; the response ids."""
    ids: list[str] = []
    for turn in range(turns):
        text = f"turn {turn}: " + "x" * size
        previous = {"previous_response_id": ids[-1]} if ids else {}
        ids.append(client.responses.create(model="m", input=text, **previous).id)
    return ids


def check_whole(client: openai.OpenAI, last: str, turns: int) -> None:
    """The last turn's input items are the whole conversation, in order."""
    items = list(client.responses.input_items.list(last, order="asc"))
    texts = [i.content[0].text for i in items]  # type: ignore[union-attr]
    assert len(texts) == 2 * turns - 1
    for turn in range(turns):
        assert texts[2 * turn].startswith(f"turn {turn}: ")
    for turn in range(turns - 1):
        assert texts[2 * turn + 1] == "echo: " + texts[2 * turn]


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_a_conversation_is_stored_once_per_turn(kind: str, request: pytest.FixtureRequest) -> None:
    memory = MemoryStore(max_bytes=1 << 30)
    store: Any = memory
    raw = None
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        raw = redis.Redis.from_url(url)
        store = RedisStore.from_url(url, prefix="growth:")
    with serve_asgi(AsgiApp(config(), store=store)) as url:
        client = openai_client(url, CLIENT_KEY)
        ids = converse(client, TURNS)
        check_whole(client, ids[-1], TURNS)
    if raw is not None:
        keys = raw.keys("growth:*")
        used = sum(raw.strlen(k) for k in keys)
        raw.delete(*keys)
        raw.close()
    else:
        used = memory.bytes_used
    payload = TURNS * 2 * TURN_TEXT  # every turn's text and its echo, once
    # linear: the turns' own bytes and a little per turn; the old layout (each entry the
    # whole conversation so far) held about TURNS / 2 times as much: 15 times the payload
    assert payload < used < payload + TURNS * 4096, (used, payload)


def test_the_memory_store_is_bounded_by_bytes() -> None:
    async def scenario() -> None:
        store = MemoryStore(max_bytes=1_000_000, max_items=1_000)
        for i in range(12):
            await store.set(f"k{i}", "x" * 200_000)
            assert store.bytes_used <= 1_000_000
        assert len(store) == 4  # the newest fit, the least recently used were evicted
        assert await store.get("k0") is None
        assert await store.get("k11") == "x" * 200_000
        await store.set("k8", "short")  # replacing a value gives its bytes back
        assert store.bytes_used == sum(len(f"k{i}") + 200_002 for i in (9, 10, 11)) + 9
        await store.set("huge", "x" * 2_000_000)  # larger than the whole store: not kept
        assert await store.get("huge") is None
        assert len(store) == 4
        assert await store.delete("k9")
        assert store.bytes_used == sum(len(f"k{i}") + 200_002 for i in (10, 11)) + 9

    asyncio.run(scenario())


def test_stored_inputs_are_bounded_by_store_max_bytes() -> None:
    """Twelve 1 MiB inputs through the gateway into a 4 MiB store: it stays under 4 MiB, the
    newest answers are kept, the oldest evicted (a 404 like any unknown id)."""
    app = AsgiApp(config(store_max_bytes=4 * 2**20))
    store = app.handler.store
    assert isinstance(store, MemoryStore)
    with serve_asgi(app) as url:
        client = openai_client(url, CLIENT_KEY)
        ids = [
            client.responses.create(model="m", input=f"{i} " + "y" * 2**20).id for i in range(12)
        ]
        assert store.bytes_used <= 4 * 2**20
        assert client.responses.retrieve(ids[-1]).output_text.startswith("echo: 11 ")
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(ids[0])


def test_a_conversation_that_lost_a_turn_is_a_404_that_says_so() -> None:
    store = MemoryStore()
    with serve_asgi(AsgiApp(config(), store=store)) as url:
        client = openai_client(url, CLIENT_KEY)
        ids = converse(client, 3, size=10)
        # evicted (or expired) from the store: the first turn's entry is gone
        assert asyncio.run(store.delete(f"responses:{key_tenant(CLIENT_KEY)}:{ids[0]}"))
        with pytest.raises(openai.NotFoundError) as caught:
            client.responses.create(model="m", input="more", previous_response_id=ids[-1])
        assert "no longer stored" in str(caught.value)
        with pytest.raises(openai.NotFoundError):
            list(client.responses.input_items.list(ids[-1]))
        assert client.responses.retrieve(ids[-1]).id == ids[-1]  # the turn itself is there


def test_deleting_a_turn_keeps_later_turns_whole() -> None:
    with serve_asgi(AsgiApp(config())) as url:
        client = openai_client(url, CLIENT_KEY)
        ids = converse(client, 3, size=10)
        client.responses.delete(ids[0])
        for gone in (
            lambda: client.responses.retrieve(ids[0]),
            lambda: client.responses.delete(ids[0]),
            lambda: list(client.responses.input_items.list(ids[0])),
            lambda: client.responses.create(model="m", input="x", previous_response_id=ids[0]),
        ):
            with pytest.raises(openai.NotFoundError):
                gone()
        check_whole(client, ids[-1], 3)
        more = client.responses.create(model="m", input="turn 3: x", previous_response_id=ids[-1])
        check_whole(client, more.id, 4)


def test_continuing_a_conversation_refreshes_its_earlier_turns() -> None:
    store = MemoryStore()
    history = ResponseHistory(store, ttl=100.0)
    handler = Handler(config(store_ttl=100.0), store=store)
    tenant = key_tenant(CLIENT_KEY)

    async def turn(text: str, previous: str | None) -> str:
        body: dict[str, Any] = {"model": "m", "input": text}
        if previous:
            body["previous_response_id"] = previous
        headers = {"x-api-key": CLIENT_KEY, "content-type": "application/json"}
        request = HttpRequest(
            method="POST", path="/v1/responses", headers=headers, body=_dumps(body)
        )
        response = await handler.handle(request)
        assert response.status == 200, response.body
        return str(_loads(response.body)["id"])

    async def scenario() -> tuple[float, float]:
        first = await turn("one", None)
        key = f"responses:{tenant}:{first}"
        assert await store.expire(key, 1.0)  # as if it were about to expire
        soon = store._items[key][0]
        second = await turn("two", first)
        await turn("three", second)
        assert (await history.get(first, tenant=tenant))["id"] == first
        return soon, store._items[key][0]

    soon, later = asyncio.run(scenario())
    assert later > soon + 90


def test_an_entry_stored_whole_still_resolves() -> None:
    """An entry written before turns were linked (the whole input, no ``previous``)."""
    store = MemoryStore()
    tenant = key_tenant(CLIENT_KEY)
    old = {
        "response": {"id": "resp_old", "object": "response", "output": [_said("echo: b")]},
        "input": [_said("a", "user"), _said("echo: a"), _said("b", "user")],
    }
    asyncio.run(store.set(f"responses:{tenant}:resp_old", old))
    with serve_asgi(AsgiApp(config(), store=store)) as url:
        client = openai_client(url, CLIENT_KEY)
        more = client.responses.create(model="m", input="c", previous_response_id="resp_old")
        items = list(client.responses.input_items.list(more.id, order="asc"))
        texts = [i.content[0].text for i in items]  # type: ignore[union-attr]
        assert texts == ["a", "echo: a", "b", "echo: b", "c"]


def test_redis_without_an_evicting_memory_bound_is_warned_about(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = ServerConfig(store_url=redis_url)
    raw = redis.Redis.from_url(redis_url)

    def warned() -> list[str]:
        caplog.clear()
        store = RedisStore.from_url(redis_url)
        with caplog.at_level(logging.WARNING, logger="apibridge.gateway"):
            asyncio.run(_start_and_close(store, server))
        return [r.getMessage() for r in caplog.records if "maxmemory" in r.getMessage()]

    try:
        raw.config_set("maxmemory", 0)
        (message,) = warned()
        assert "volatile-lru" in message
        assert "redis-pw" not in message  # the password never reaches a log line
        raw.config_set("maxmemory", 64 * 2**20)
        raw.config_set("maxmemory-policy", "volatile-lru")
        assert warned() == []
    finally:
        raw.config_set("maxmemory", 0)
        raw.config_set("maxmemory-policy", "noeviction")
        raw.close()


def test_store_max_bytes_is_checked() -> None:
    with pytest.raises(ConfigError, match="store_max_bytes"):
        AsgiApp(config(store_max_bytes=0))
    assert attrs.fields(ServerConfig).store_max_bytes.default == 256 * 2**20


async def _start_and_close(store: RedisStore, server: ServerConfig) -> None:
    await start_store(store, server)
    await store.aclose()


def _said(text: str, role: str = "assistant") -> dict[str, Any]:
    if role == "user":
        return {"type": "message", "role": "user", "content": text}
    part = {"type": "output_text", "text": text, "annotations": []}
    return {"type": "message", "role": role, "content": [part], "id": "msg_" + text[-1]}


def _dumps(value: Any) -> bytes:
    from apibridge import _json

    return _json.dumps(value)


def _loads(data: bytes) -> Any:
    from apibridge import _json

    return _json.loads(data)


def test_the_admin_view_shows_the_bytes_the_store_holds() -> None:
    admin = "admin-" + "z" * 32
    app = AsgiApp(config(admin_key=admin))
    with serve_asgi(app) as url:
        openai_client(url, CLIENT_KEY).responses.create(model="m", input="w" * 50_000)
        state = httpx.get(url + "/admin/state", headers={"x-admin-key": admin}).json()
    assert state["store_items"] == 1
    assert 100_000 < state["store_bytes"] < 110_000  # the input and its echo, once each
