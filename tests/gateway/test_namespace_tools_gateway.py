"""Codex's namespace tools through the gateway: a Responses client whose MCP tools sit in a
``namespace`` tool, served by Anthropic and Chat upstreams (issue 15, item 4)."""

from __future__ import annotations

from typing import Any

import pytest
from calls import openai_client
from servers import CLIENT_KEY, ScriptedUpstream

NAMESPACE: Any = {
    "type": "namespace",
    "name": "mcp__weather__",
    "description": "Weather MCP server.",
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather of a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            "strict": False,
        }
    ],
}


@pytest.mark.parametrize("model", ["anthropic-model", "chat-model"])
def test_namespace_tool_round_trip_through_the_gateway(
    gateway: str, upstreams: dict[str, ScriptedUpstream], model: str
) -> None:
    fmt = model.split("-")[0]
    client = openai_client(gateway, CLIENT_KEY)
    items: list[Any] = [{"role": "user", "content": "Weather in Oslo?"}]
    with client.responses.stream(model=model, input=items, tools=[NAMESPACE]) as events:
        answer = events.get_final_response()
    sent = upstreams[fmt].last_request()["tools"][0]
    assert (sent.get("name") or sent["function"]["name"]) == "mcp__weather__get_weather"
    (call,) = [o for o in answer.output if o.type == "function_call"]
    assert (call.namespace, call.name) == ("mcp__weather__", "get_weather")
    items += [
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "12 C"},
    ]
    final = client.responses.create(model=model, input=items, tools=[NAMESPACE], stream=False)
    assert final.output_text == "The tool said: 12 C"
    history = upstreams[fmt].last_request()["messages"]
    if fmt == "anthropic":
        names = [b["name"] for m in history for b in m["content"] if b.get("type") == "tool_use"]
    else:
        names = [c["function"]["name"] for m in history for c in m.get("tool_calls") or []]
    assert names == ["mcp__weather__get_weather"]
