"""The official SDKs' streaming helpers through apibridge: three client formats by three upstreams.

For each pair the SDK's own stream helper (``messages.stream``, ``chat.completions.stream``,
``responses.stream``) consumes the gateway's translated stream and must produce the final
message the scripted upstream meant: the text, the tool call with its exact arguments, and
the matching stop reason. The non-streamed call is checked alongside it, and every upstream
request must be valid for the upstream SDK's request type.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from . import wire
from .harness import CLIENT_KEY, UPSTREAM_FORMATS, Bridge, bridge
from .scripted import Call, Turn

pytestmark = pytest.mark.acceptance

CLIENT_FORMATS = ["anthropic", "chat", "responses"]

_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
_DESCRIPTION = "Current weather for a city."
_TOOLS: dict[str, list[dict[str, Any]]] = {
    "anthropic": [{"name": "get_weather", "description": _DESCRIPTION, "input_schema": _SCHEMA}],
    "chat": [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": _DESCRIPTION, "parameters": _SCHEMA},
        }
    ],
    "responses": [
        {
            "type": "function",
            "name": "get_weather",
            "description": _DESCRIPTION,
            "parameters": _SCHEMA,
            "strict": False,
        }
    ],
}
_PROMPT = "What is the weather in Paris?"
_ARGUMENTS = '{"city": "Paris"}'

# The upstream speaks its own id spelling; the client must get a usable id back either way.
_CALL_IDS: dict[str, str] = {
    "anthropic": "toolu_01Wx",
    "chat": "call_wx01",
    "responses": "call_wx01",
}


def _dump(model: Any) -> dict[str, Any]:
    """An SDK model as a plain dict."""
    data: dict[str, Any] = model.model_dump()
    return data


def _anthropic(gateway: Bridge, *, stream: bool) -> dict[str, Any]:
    args: dict[str, Any] = {
        "model": "model-x",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": _PROMPT}],
        "tools": _TOOLS["anthropic"],
    }
    with anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0) as sdk:
        if not stream:
            return _dump(sdk.messages.create(**args))
        with sdk.messages.stream(**args) as events:
            for _ in events:
                pass
            return _dump(events.get_final_message())


def _chat(gateway: Bridge, *, stream: bool) -> dict[str, Any]:
    args: dict[str, Any] = {
        "model": "model-x",
        "messages": [{"role": "user", "content": _PROMPT}],
        "tools": _TOOLS["chat"],
    }
    with openai.OpenAI(base_url=gateway.openai_url, api_key=CLIENT_KEY, max_retries=0) as sdk:
        if not stream:
            return _dump(sdk.chat.completions.create(**args))
        with sdk.chat.completions.stream(**args) as chunks:
            for _ in chunks:
                pass
            return _dump(chunks.get_final_completion())


def _responses(gateway: Bridge, *, stream: bool) -> dict[str, Any]:
    args: dict[str, Any] = {"model": "model-x", "input": _PROMPT, "tools": _TOOLS["responses"]}
    with openai.OpenAI(base_url=gateway.openai_url, api_key=CLIENT_KEY, max_retries=0) as sdk:
        if not stream:
            return _dump(sdk.responses.create(**args))
        with sdk.responses.stream(**args) as items:
            for _ in items:
                pass
            return _dump(items.get_final_response())


# client format → one SDK call through the gateway, its final message as a plain dict
_CALLS: dict[str, Callable[..., dict[str, Any]]] = {
    "anthropic": _anthropic,
    "chat": _chat,
    "responses": _responses,
}


def _summary(client: str, final: dict[str, Any]) -> tuple[str, list[tuple[str, Any]], str]:
    """(text, [(tool name, parsed arguments)], stop) of a final message in ``client`` format."""
    if client == "anthropic":
        text = "".join(b["text"] for b in final["content"] if b["type"] == "text")
        calls = [(b["name"], b["input"]) for b in final["content"] if b["type"] == "tool_use"]
        return text, calls, final["stop_reason"]
    if client == "chat":
        (choice,) = final["choices"]
        message = choice["message"]
        calls = [
            (c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in message.get("tool_calls") or []
        ]
        return message["content"] or "", calls, choice["finish_reason"]
    text = "".join(
        c["text"] for o in final["output"] if o["type"] == "message" for c in o["content"]
    )
    calls = [
        (o["name"], json.loads(o["arguments"]))
        for o in final["output"]
        if o["type"] == "function_call"
    ]
    return text, calls, final["status"]


_STOPS: dict[str, dict[bool, str]] = {
    # client format → {answer has a tool call: expected stop}
    "anthropic": {True: "tool_use", False: "end_turn"},
    "chat": {True: "tool_calls", False: "stop"},
    "responses": {True: "completed", False: "completed"},
}


@pytest.mark.parametrize("with_tool", [False, True], ids=["text", "tool"])
@pytest.mark.parametrize("upstream", UPSTREAM_FORMATS)
@pytest.mark.parametrize("client", CLIENT_FORMATS)
def test_stream_helper_gets_the_upstream_answer(
    client: str, upstream: str, with_tool: bool
) -> None:
    text = f"Answer for {client} from {upstream}."
    calls = (Call(id=_CALL_IDS[upstream], name="get_weather", arguments=_ARGUMENTS),)
    turn = Turn(text=text, calls=calls if with_tool else ())
    expected_calls = [("get_weather", {"city": "Paris"})] if with_tool else []
    with bridge(upstream, [turn]) as gateway:
        streamed = _CALLS[client](gateway, stream=True)
        whole = _CALLS[client](gateway, stream=False)
        bodies = gateway.upstream_bodies(2)
    for final in (streamed, whole):
        assert _summary(client, final) == (text, expected_calls, _STOPS[client][with_tool])
    for body in bodies:
        assert wire.tool_names(upstream, body) == ["get_weather"]
        assert _PROMPT in wire.user_text(upstream, body)
    assert bodies[0].get("stream") is True
    assert not bodies[1].get("stream")
