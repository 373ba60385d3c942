"""Codex's client-executed tool search through the gateway: a Responses client whose
``tool_search`` tool is served by Anthropic and Chat upstreams; the search's output loads an
MCP namespace, which the upstream can call next (issue 15, item 5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from calls import openai_client
from openai.types.responses import ResponseToolSearchCall
from servers import CLIENT_KEY, TOOL_ARGUMENTS, ScriptedUpstream

TOOL_SEARCH: Any = {
    "type": "tool_search",
    "execution": "client",
    "description": "Searches over deferred tool metadata.",
    "parameters": {
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
    },
}
LOADED: Any = {
    "type": "namespace",
    "name": "mcp__weather__",
    "description": "Weather MCP server.",
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather of a city.",
            "defer_loading": True,
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ],
}


@pytest.mark.parametrize("model", ["anthropic-model", "chat-model"])
def test_tool_search_round_trip_through_the_gateway(
    gateway: str, upstreams: dict[str, ScriptedUpstream], model: str
) -> None:
    fmt = model.split("-")[0]
    client = openai_client(gateway, CLIENT_KEY)
    items: list[Any] = [{"role": "user", "content": "Weather in Oslo?"}]
    with client.responses.stream(model=model, input=items, tools=[TOOL_SEARCH]) as events:
        answer = events.get_final_response()
    sent = upstreams[fmt].last_request()["tools"][0]
    assert (sent.get("name") or sent["function"]["name"]) == "tool_search"
    (call,) = answer.output
    assert isinstance(call, ResponseToolSearchCall)
    assert (call.execution, call.arguments) == ("client", json.loads(TOOL_ARGUMENTS))
    items += [
        call.model_dump(exclude_none=True),
        {
            "type": "tool_search_output",
            "call_id": call.call_id,
            "execution": "client",
            "status": "completed",
            "tools": [LOADED],
        },
    ]
    final = client.responses.create(model=model, input=items, tools=[TOOL_SEARCH], stream=False)
    assert final.output_text.startswith("The tool said: ")
    assert "mcp__weather__get_weather" in final.output_text
    body = upstreams[fmt].last_request()
    names = [t.get("name") or t["function"]["name"] for t in body["tools"]]
    assert names == ["tool_search", "mcp__weather__get_weather"]
    history = body["messages"]
    if fmt == "anthropic":
        calls = [b for m in history for b in m["content"] if b.get("type") == "tool_use"]
        assert [(b["id"], b["name"]) for b in calls] == [(call.call_id, "tool_search")]
    else:
        calls = [c for m in history for c in m.get("tool_calls") or []]
        assert [(c["id"], c["function"]["name"]) for c in calls] == [(call.call_id, "tool_search")]
