"""Issue 14, item 2: stored state is scoped to the client key that created it.

Two real client keys, the gateway served by uvicorn on loopback, with the memory store and
with Redis (a ``redis-server`` subprocess). A stored Response is read, listed, continued and
deleted only with the key that created it; another key gets the Responses API's own 404 (the
OpenAI SDK's ``NotFoundError``), and the upstream never sees the other client's history. A
backboard conversation id, transcript or tool call named by another key reaches nothing of
the first client's. An open gateway (no client keys) is one tenant.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import openai
import pytest
from calls import openai_client
from ollama_like import OllamaLikeChat, heard
from servers import serve_asgi
from test_redis_store import redis_server

from apibridge._gateway._tenant import OPEN_TENANT, key_tenant
from apibridge.asgi import App as AsgiApp
from apibridge.config import GatewayConfig, Retries, Route, ServerConfig, UpstreamConfig

sys.path.insert(0, str(Path(__file__).parents[1] / "backboard"))

from bb_helpers import FAST_OPTIONS, KEYS
from fake_backboard import FakeBackboard, serve

ALICE = "alice-key-" + "a" * 32
BOB = "bob-key-" + "b" * 32
STORES = ["memory", "redis"]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as (url, _):
        yield url


@pytest.fixture(params=STORES)
def server(request: pytest.FixtureRequest) -> ServerConfig:
    """Two client keys; state in memory or in Redis (a fresh prefix per test)."""
    base = ServerConfig(client_keys=(ALICE, BOB))
    if request.param == "memory":
        return base
    url = request.getfixturevalue("redis_url")
    return attrs.evolve(base, store_url=url, store_prefix=f"tenants-{id(request)}:")


@pytest.fixture
def ollama() -> Iterator[tuple[OllamaLikeChat, str]]:
    upstream = OllamaLikeChat()
    with serve_asgi(upstream) as root:
        yield upstream, root


@pytest.fixture
def gateway(ollama: tuple[OllamaLikeChat, str], server: ServerConfig) -> Iterator[str]:
    config = GatewayConfig.single(f"chat={ollama[1]}/v1", server=server)
    with serve_asgi(AsgiApp(config)) as url:
        yield url


def ask(client: openai.OpenAI, stream: bool, **params: Any) -> Any:
    if stream:
        with client.responses.stream(model="llama", **params) as events:
            for _ in events:
                pass
            return events.get_final_response()
    return client.responses.create(model="llama", **params)


# ------------------------------------------------------------------------ stored Responses


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_another_key_cannot_read_list_continue_or_delete_a_stored_response(
    gateway: str, ollama: tuple[OllamaLikeChat, str], stream: bool
) -> None:
    upstream, _ = ollama
    alice, bob = openai_client(gateway, ALICE), openai_client(gateway, BOB)
    secret = ask(alice, stream, input="alice's secret")
    sent = len(upstream.requests)
    with pytest.raises(openai.NotFoundError) as caught:
        bob.responses.retrieve(secret.id)
    # the API's own 404, exactly as for an id that was never stored
    never = "resp_" + "0" * 48
    with pytest.raises(openai.NotFoundError) as missing:
        bob.responses.retrieve(never)
    assert isinstance(caught.value.body, dict)
    assert isinstance(missing.value.body, dict)
    assert caught.value.body == {
        **missing.value.body,
        "message": missing.value.body["message"].replace(never, secret.id),
    }
    with pytest.raises(openai.NotFoundError):
        bob.responses.input_items.list(secret.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(secret.id)
    with pytest.raises(openai.NotFoundError) as continued:
        ask(bob, stream, input="tell me", previous_response_id=secret.id)
    assert "previous_response_id" in str(continued.value)
    assert len(upstream.requests) == sent  # nothing of alice's went anywhere for bob
    # alice's response is untouched, and hers to continue and delete
    assert alice.responses.retrieve(secret.id).output_text == heard(["alice's secret"])
    more = ask(alice, stream, input="and more", previous_response_id=secret.id)
    assert more.output_text == heard(["alice's secret", "and more"])
    assert [i.type for i in alice.responses.input_items.list(more.id)] == ["message"] * 3
    alice.responses.delete(secret.id)
    with pytest.raises(openai.NotFoundError):
        alice.responses.retrieve(secret.id)


def test_each_key_sees_only_its_own_responses(gateway: str) -> None:
    alice, bob = openai_client(gateway, ALICE), openai_client(gateway, BOB)
    mine = alice.responses.create(model="llama", input="one")
    theirs = bob.responses.create(model="llama", input="two")
    assert alice.responses.retrieve(mine.id).output_text == heard(["one"])
    assert bob.responses.retrieve(theirs.id).output_text == heard(["two"])
    for client, other in ((alice, theirs), (bob, mine)):
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(other.id)


def test_an_open_gateway_is_one_tenant(ollama: tuple[OllamaLikeChat, str]) -> None:
    config = GatewayConfig.single(f"chat={ollama[1]}/v1")
    with serve_asgi(AsgiApp(config)) as url:
        first = openai_client(url, "anything").responses.create(model="llama", input="shared")
        other = openai_client(url, "something-else")
        assert other.responses.retrieve(first.id).output_text == heard(["shared"])


def test_a_tenant_is_a_digest_of_the_key_never_the_key() -> None:
    assert key_tenant(ALICE) != key_tenant(BOB)
    assert key_tenant(ALICE) == key_tenant(ALICE)
    assert ALICE not in key_tenant(ALICE)
    assert len(key_tenant(ALICE)) == 33
    assert OPEN_TENANT not in (key_tenant(ALICE), key_tenant(BOB))


def test_redis_keys_hold_tenants_not_client_keys(
    ollama: tuple[OllamaLikeChat, str], redis_url: str
) -> None:
    import redis

    prefix = "tenant-keys:"
    server = ServerConfig(client_keys=(ALICE, BOB), store_url=redis_url, store_prefix=prefix)
    config = GatewayConfig.single(f"chat={ollama[1]}/v1", server=server)
    with serve_asgi(AsgiApp(config)) as url:
        made = openai_client(url, ALICE).responses.create(model="llama", input="x")
    client = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in client.keys(prefix + "*")]
    values = b"".join(client.get(k) or b"" for k in keys)
    client.close()
    assert any(key_tenant(ALICE) in k and made.id in k for k in keys)
    assert not any(ALICE in k or BOB in k for k in keys)
    assert ALICE.encode() not in values


# ------------------------------------------------------------------------ backboard


@pytest.fixture
def backboard(server: ServerConfig) -> Iterator[tuple[FakeBackboard, str]]:
    fake = FakeBackboard(KEYS)
    with serve(fake.app) as fake_url:
        upstream = UpstreamConfig(
            name="bb",
            format="backboard",
            base_url=fake_url,
            api_keys=KEYS,
            retries=Retries(attempts=2, backoff=0.01, backoff_max=0.05),
            options=FAST_OPTIONS,
        )
        routes = (Route(pattern="*", upstream="bb"),)
        config = GatewayConfig(upstreams={"bb": upstream}, routes=routes, server=server)
        with serve(AsgiApp(config), lifespan="on") as url:
            yield fake, url


def chat(client: openai.OpenAI, conversation: str | None, *messages: Any, **kw: Any) -> Any:
    headers = {"x-backboard-conversation-id": conversation} if conversation else None
    return client.chat.completions.create(
        model="gpt-4o", messages=list(messages), extra_headers=headers, **kw
    )


def test_another_key_naming_a_backboard_conversation_gets_a_thread_of_its_own(
    backboard: tuple[FakeBackboard, str],
) -> None:
    fake, url = backboard
    alice, bob = openai_client(url, ALICE), openai_client(url, BOB)
    first = chat(alice, "conv-1", {"role": "user", "content": "one"})
    assert first.choices[0].message.content == "Echo #1: one"
    intruder = chat(bob, "conv-1", {"role": "user", "content": "two"})
    assert intruder.choices[0].message.content == "Echo #1: two"  # not alice's thread
    threads = [r["fields"]["thread_id"] for r in fake.recorded("message")]
    assert threads[0] != threads[1]
    again = chat(alice, "conv-1", {"role": "user", "content": "three"})
    assert again.choices[0].message.content == "Echo #2: three"  # alice's thread, untouched
    assert fake.recorded("message")[-1]["fields"]["thread_id"] == threads[0]


WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_another_key_cannot_answer_or_replay_a_backboard_conversation(
    backboard: tuple[FakeBackboard, str],
) -> None:
    fake, url = backboard
    alice, bob = openai_client(url, ALICE), openai_client(url, BOB)
    question = {"role": "user", "content": "weather in Paris"}
    asked = chat(alice, None, question, tools=[WEATHER])
    call = asked.choices[0].message.tool_calls[0]
    assistant = {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]}
    result = {"role": "tool", "tool_call_id": call.id, "content": "sunny"}
    chat(bob, None, question, assistant, result, tools=[WEATHER])
    # bob's transcript was replayed into a thread of his own: alice's run still waits
    assert fake.recorded("tool_outputs") == []
    threads = {r["fields"]["thread_id"] for r in fake.recorded("message")}
    assert len(threads) == 2
    answered = chat(alice, None, question, assistant, result, tools=[WEATHER])
    assert answered.choices[0].message.content.startswith("Results:")
    assert len(fake.recorded("tool_outputs")) == 1


def test_another_keys_response_is_a_404_on_an_events_upstream_too(
    backboard: tuple[FakeBackboard, str],
) -> None:
    """A transport that speaks events (backboard) cannot know a stored response: an id this
    gateway does not find for the client is a 404, never a conversation without history."""
    fake, url = backboard
    alice, bob = openai_client(url, ALICE), openai_client(url, BOB)
    first = alice.responses.create(model="gpt-4o", input="alice's secret")
    sent = len(fake.recorded("message"))
    with pytest.raises(openai.NotFoundError) as caught:
        bob.responses.create(model="gpt-4o", input="go on", previous_response_id=first.id)
    assert "previous_response_id" in str(caught.value)
    assert len(fake.recorded("message")) == sent
    more = alice.responses.create(model="gpt-4o", input="go on", previous_response_id=first.id)
    assert more.output_text == "Echo #2: go on"


def test_an_open_gateway_forwarding_client_keys_keeps_each_key_apart(
    ollama: tuple[OllamaLikeChat, str],
) -> None:
    """Bring your own key: without client keys, but with the client's key forwarded upstream,
    each key is its own tenant (one user's key reads nothing another's stored)."""
    config = GatewayConfig.single(f"chat={ollama[1]}/v1", forward_client_key=True)
    with serve_asgi(AsgiApp(config)) as url:
        alice, bob = openai_client(url, ALICE), openai_client(url, BOB)
        mine = alice.responses.create(model="llama", input="mine")
        with pytest.raises(openai.NotFoundError):
            bob.responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError):
            bob.responses.create(model="llama", input="more", previous_response_id=mine.id)
        assert alice.responses.retrieve(mine.id).output_text == heard(["mine"])
