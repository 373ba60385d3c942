"""Stored Responses: previous_response_id over any upstream, one id from first event to last,
GET / DELETE / input_items."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import openai
import pytest
from calls import SCHEMA, TOOL_RESULT, openai_client
from servers import CLIENT_KEY, ScriptedUpstream

from apibridge import _json
from apibridge._gateway._handler import Handler, HttpRequest
from apibridge._sse import SSEDecoder
from apibridge.config import GatewayConfig

JSON = {"content-type": "application/json"}

TOOLS: Any = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": SCHEMA,
        "strict": False,
    }
]


def ask(client: openai.OpenAI, stream: bool, **params: Any) -> Any:
    if stream:
        with client.responses.stream(**params) as events:
            for _ in events:
                pass
            return events.get_final_response()
    return client.responses.create(**params)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream_format", ["anthropic", "chat"])
def test_fidelity_12_previous_response_id_carries_the_conversation(
    gateway: str, upstreams: dict[str, ScriptedUpstream], upstream_format: str, stream: bool
) -> None:
    client = openai_client(gateway, CLIENT_KEY)
    model = f"{upstream_format}-model"
    first = ask(client, stream, model=model, input="Weather in Paris?", tools=TOOLS)
    call = next(o for o in first.output if o.type == "function_call")
    output = {"type": "function_call_output", "call_id": call.call_id, "output": TOOL_RESULT}
    second = ask(
        client, stream, model=model, previous_response_id=first.id, input=[output], tools=TOOLS
    )
    assert second.output_text == f"The tool said: {TOOL_RESULT}"
    sent = upstreams[upstream_format].last_request()
    transcript = json.dumps(sent["messages"])
    assert "Weather in Paris?" in transcript  # the stored history went upstream
    assert call.call_id in transcript
    assert "previous_response_id" not in sent
    # both are stored, under the ids the client saw
    assert client.responses.retrieve(second.id).id == second.id
    items = list(client.responses.input_items.list(second.id, order="asc"))
    types = [item.type for item in items]
    assert types == ["message", "function_call", "function_call_output"]


def test_fidelity_12_one_id_from_first_event_to_last_and_stored(gateway: str) -> None:
    body = {"model": "anthropic-model", "input": "hi", "stream": True}
    response = httpx.post(
        gateway + "/v1/responses", json=body, headers={"x-api-key": CLIENT_KEY}, timeout=20
    )
    decoder = SSEDecoder()
    events = [json.loads(f.data) for f in [*decoder.feed(response.content), *decoder.close()]]
    ids = {e["response"]["id"] for e in events if "response" in e}
    assert len(ids) == 1
    stored = openai_client(gateway, CLIENT_KEY).responses.retrieve(ids.pop())
    assert stored.output_text.startswith("Hello from anthropic")


def test_delete_and_store_false(gateway: str, upstreams: dict[str, ScriptedUpstream]) -> None:
    client = openai_client(gateway, CLIENT_KEY)
    kept = client.responses.create(model="chat-model", input="remember me")
    client.responses.delete(kept.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(kept.id)
    unstored = client.responses.create(model="chat-model", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="chat-model", input="more", previous_response_id=unstored.id)
    assert "previous_response_id" in str(caught.value)


def test_unknown_previous_id_goes_on_to_a_responses_upstream(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    client = openai_client(gateway, CLIENT_KEY)
    client.responses.create(model="responses-model", input="go on", previous_response_id="resp_x")
    assert upstreams["responses"].last_request()["previous_response_id"] == "resp_x"


def test_input_items_pages(gateway: str) -> None:
    client = openai_client(gateway, CLIENT_KEY)
    items: Any = [{"role": "user", "content": f"line {i}"} for i in range(5)]
    response = client.responses.create(model="chat-model", input=items)
    page = client.responses.input_items.list(response.id, limit=2)
    assert [i.content[0].text for i in page.data] == ["line 4", "line 3"]  # type: ignore[union-attr]
    assert page.has_more
    everything = list(client.responses.input_items.list(response.id, limit=2))
    assert len(everything) == 5


def test_a_streamed_answer_is_stored_as_the_encoder_wrote_it() -> None:
    """The stored response is the Responses encoder's own ``final_response``: the object of
    the terminal event the client received, without reading the stream back."""
    handler = Handler(GatewayConfig.single("scripted=echo"))
    body = {"model": "m", "input": "hello", "stream": True}
    request = HttpRequest(method="POST", path="/v1/responses", headers=JSON, body=_json.dumps(body))

    async def scenario() -> tuple[bytes, Any]:
        response = await handler.handle(request)
        assert response.stream is not None
        sent = b"".join([chunk async for chunk in response.stream])
        decoder = SSEDecoder()
        frames = decoder.feed(sent) + decoder.close()
        (done,) = [f for f in frames if f.event == "response.completed"]
        final = _json.loads(done.data)["response"]
        stored = await handler.handle(
            HttpRequest(method="GET", path=f"/v1/responses/{final['id']}")
        )
        return stored.body, final

    stored, final = asyncio.run(scenario())
    assert _json.loads(stored) == final
