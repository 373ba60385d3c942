"""Issue 14, item 1: the ids of stored Responses are the gateway's, never the upstream's.

An upstream like Ollama gives every answer an id from a tiny space (here always
``chatcmpl-7``). Two conversations through the gateway must still get distinct, unguessable
response ids (``resp_`` and 192 random bits) and item ids, each ``previous_response_id`` must
resume its own conversation only, and the upstream's id survives only as data in the store.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from calls import openai_client
from ollama_like import OllamaLikeChat, heard
from servers import CLIENT_KEY, serve_asgi

from apibridge._gateway._previous_response import NewTurn, ResponseHistory, new_response_id
from apibridge.asgi import App as AsgiApp
from apibridge.config import GatewayConfig, ServerConfig
from apibridge.store import MemoryStore

MINTED = re.compile(r"resp_[0-9a-f]{48}")


@pytest.fixture
def ollama() -> Iterator[tuple[OllamaLikeChat, str]]:
    upstream = OllamaLikeChat()
    with serve_asgi(upstream) as root:
        yield upstream, root


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def gateway(ollama: tuple[OllamaLikeChat, str], store: MemoryStore) -> Iterator[str]:
    config = GatewayConfig.single(
        f"chat={ollama[1]}/v1", server=ServerConfig(client_keys=(CLIENT_KEY,))
    )
    with serve_asgi(AsgiApp(config, store=store)) as url:
        yield url


def ask(client: openai.OpenAI, stream: bool, **params: Any) -> Any:
    if stream:
        with client.responses.stream(model="llama", **params) as events:
            for _ in events:
                pass
            return events.get_final_response()
    return client.responses.create(model="llama", **params)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_two_conversations_on_colliding_upstream_ids_stay_apart(
    gateway: str, ollama: tuple[OllamaLikeChat, str], stream: bool
) -> None:
    upstream, _ = ollama
    alice, bob = openai_client(gateway, CLIENT_KEY), openai_client(gateway, CLIENT_KEY)
    a1 = ask(alice, stream, input="alice one")
    b1 = ask(bob, stream, input="bob one")
    # the upstream said chatcmpl-7 both times; the clients see two minted ids
    assert MINTED.fullmatch(a1.id)
    assert MINTED.fullmatch(b1.id)
    assert a1.id != b1.id
    a_items = {item.id for item in a1.output}
    b_items = {item.id for item in b1.output}
    assert a_items
    assert b_items
    assert not a_items & b_items
    assert not any("chatcmpl" in i for i in a_items | b_items)
    a2 = ask(alice, stream, input="alice two", previous_response_id=a1.id)
    assert a2.output_text == heard(["alice one", "alice two"])
    b2 = ask(bob, stream, input="bob two", previous_response_id=b1.id)
    assert b2.output_text == heard(["bob one", "bob two"])
    assert len({a1.id, a2.id, b1.id, b2.id}) == 4
    assert [r["messages"][-1]["content"] for r in upstream.requests][-1] == "bob two"
    # every stored response is still its own
    assert alice.responses.retrieve(a1.id).output_text == heard(["alice one"])
    assert bob.responses.retrieve(b1.id).output_text == heard(["bob one"])
    listed = [i.content[0].text for i in bob.responses.input_items.list(b2.id, order="asc")]  # type: ignore[union-attr]
    assert listed == ["bob one", heard(["bob one"]), "bob two"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_the_upstream_id_is_kept_only_as_data(
    gateway: str, store: MemoryStore, stream: bool
) -> None:
    client = openai_client(gateway, CLIENT_KEY)
    first = ask(client, stream, input="hello")
    second = ask(client, stream, input="again")
    keys = list(store._items)
    assert len(keys) == 2
    assert all(MINTED.search(k) and "chatcmpl" not in k for k in keys)
    stored = [asyncio.run(store.get(k)) for k in keys]
    assert {s["upstream_id"] for s in stored} == {"chatcmpl-7"}
    assert {s["response"]["id"] for s in stored} == {first.id, second.id}


def test_a_stored_response_is_never_overwritten() -> None:
    history = ResponseHistory(MemoryStore())
    response_id = new_response_id()

    first = NewTurn([{"role": "user", "content": "first"}])
    second = NewTurn([{"role": "user", "content": "second"}])

    async def scenario() -> tuple[bool, bool, dict[str, Any]]:
        kept = await history.save(
            {"id": response_id, "output": []}, first, tenant="t", upstream_id="x"
        )
        again = await history.save({"id": response_id, "output": []}, second, tenant="t")
        return kept, again, await history.get(response_id, tenant="t")

    kept, again, stored = asyncio.run(scenario())
    assert (kept, again) == (True, False)
    assert stored == {"id": response_id, "output": []}
    listed = asyncio.run(history.list_input_items(response_id, "", tenant="t"))
    assert [i["content"][0]["text"] for i in listed["data"]] == ["first"]


def test_minted_ids_are_192_random_bits() -> None:
    ids = {new_response_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(MINTED.fullmatch(i) for i in ids)
