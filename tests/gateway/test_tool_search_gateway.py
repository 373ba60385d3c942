"""Tool search through the gateway (issue 15, item 5).

Codex: a Responses client whose client-executed ``tool_search`` tool is served by Anthropic and
Chat upstreams; the search's output loads an MCP namespace, which the upstream can call next.
Claude Code: an Anthropic client whose ``ToolSearch`` result is ``tool_reference`` blocks,
served by Responses and Chat upstreams, which get the deferred tool loaded and its name in the
tool output."""

from __future__ import annotations

import json
from typing import Any

import pytest
from calls import anthropic_client, openai_client
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


#: Claude Code's tool search: a plain function, and a tool it loads by reference.
TOOL_SEARCH_FUNCTION: Any = {
    "name": "ToolSearch",
    "description": "Fetches full schema definitions for deferred tools.",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
}
WEB_FETCH: Any = {
    "name": "WebFetch",
    "description": "Fetch a URL.",
    "input_schema": {"type": "object", "properties": {"url": {"type": "string"}}},
    "defer_loading": True,
}


@pytest.mark.parametrize("model", ["responses-model", "chat-model"])
def test_claude_code_tool_search_round_trip_through_the_gateway(
    gateway: str, upstreams: dict[str, ScriptedUpstream], model: str
) -> None:
    fmt = model.split("-")[0]
    client = anthropic_client(gateway, CLIENT_KEY)
    tools = [TOOL_SEARCH_FUNCTION, WEB_FETCH]
    messages: list[Any] = [{"role": "user", "content": "Fetch example.com"}]
    with client.messages.stream(
        model=model, max_tokens=100, messages=messages, tools=tools
    ) as events:
        answer = events.get_final_message()
    (use,) = [b for b in answer.content if b.type == "tool_use"]
    assert use.name == "ToolSearch"
    sent = upstreams[fmt].last_request()["tools"]
    if fmt == "chat":
        sent = [t["function"] for t in sent]
    assert [t["name"] for t in sent] == ["ToolSearch", "WebFetch"]
    assert not [t for t in sent if "defer_loading" in t]  # sent loaded: callable at once
    messages += [
        {"role": "assistant", "content": [use.model_dump(exclude_none=True)]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": use.id,
                    "content": [{"type": "tool_reference", "tool_name": "WebFetch"}],
                }
            ],
        },
    ]
    final = client.messages.create(model=model, max_tokens=100, messages=messages, tools=tools)
    (text,) = [b.text for b in final.content if b.type == "text"]
    assert text.startswith("The tool said: ")
    assert "WebFetch" in text  # the upstream's tool output named the referenced tool
