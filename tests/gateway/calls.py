"""How the tests call the gateway: with the official SDKs, or raw over HTTP.

**A tool round trip with each official SDK, streamed or not.**

:func:`round_trip` asks for the weather with one tool offered, checks that the answer is a
call of that tool with ``{"city": "Paris"}``, sends the tool's result back in the client's own
format, and returns the final text. Streams go through the SDKs' stream helpers
(``messages.stream``, ``chat.completions.stream``, ``responses.stream``), whose accumulators
are the oracles for the event grammar.

**Raw calls**: :func:`call` posts a minimal request of a format; :func:`frames` splits an SSE
body; :func:`assert_in_band_error` checks that a stream ended with its format's in-band error.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
from servers import CLIENT_KEY, ScriptedUpstream, upstream_key

from apibridge._sse import SSEDecoder
from oracles import validate_request

__all__ = [
    "ENDPOINT",
    "FORMATS",
    "QUESTION",
    "TOOL_RESULT",
    "anthropic_client",
    "assert_in_band_error",
    "body_for",
    "call",
    "check_upstream_requests",
    "frames",
    "openai_client",
    "round_trip",
]

QUESTION = "What is the weather in Paris?"
TOOL_RESULT = "sunny, 21C"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def anthropic_client(url: str, key: str) -> anthropic.Anthropic:
    """An Anthropic SDK client for the gateway at ``url`` (no retries of its own)."""
    return anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, timeout=20)


def openai_client(url: str, key: str) -> openai.OpenAI:
    """An OpenAI SDK client for the gateway at ``url`` (no retries of its own)."""
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=20)


def _anthropic(url: str, key: str, model: str, stream: bool) -> tuple[str, str]:
    client = anthropic_client(url, key)
    tools: Any = [
        {"name": "get_weather", "description": "Weather for a city", "input_schema": SCHEMA}
    ]
    messages: list[Any] = [{"role": "user", "content": QUESTION}]

    def ask() -> Any:
        if stream:
            with client.messages.stream(
                model=model, max_tokens=256, messages=messages, tools=tools
            ) as events:
                for _ in events:
                    pass
                return events.get_final_message()
        return client.messages.create(model=model, max_tokens=256, messages=messages, tools=tools)

    first = ask()
    assert first.stop_reason == "tool_use", first
    calls = [b for b in first.content if b.type == "tool_use"]
    assert len(calls) == 1, first.content
    call = calls[0]
    assert call.name == "get_weather"
    assert call.input == {"city": "Paris"}
    messages.append(
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
    )
    result = {"type": "tool_result", "tool_use_id": call.id, "content": TOOL_RESULT}
    messages.append({"role": "user", "content": [result]})
    second = ask()
    assert second.stop_reason == "end_turn", second
    return "".join(b.text for b in second.content if b.type == "text"), call.id


def _chat(url: str, key: str, model: str, stream: bool) -> tuple[str, str]:
    client = openai_client(url, key)
    tools: Any = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": SCHEMA,
            },
        }
    ]
    messages: list[Any] = [{"role": "user", "content": QUESTION}]

    def ask() -> Any:
        if stream:
            with client.chat.completions.stream(
                model=model, messages=messages, tools=tools
            ) as events:
                for _ in events:
                    pass
                return events.get_final_completion()
        return client.chat.completions.create(model=model, messages=messages, tools=tools)

    first = ask()
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls", first
    calls = choice.message.tool_calls
    assert calls is not None, choice.message
    assert len(calls) == 1, calls
    call = calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages.append(
        {
            "role": "assistant",
            "content": choice.message.content,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT})
    second = ask()
    assert second.choices[0].finish_reason == "stop", second
    return second.choices[0].message.content or "", call.id


def _responses(url: str, key: str, model: str, stream: bool) -> tuple[str, str]:
    client = openai_client(url, key)
    tools: Any = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": SCHEMA,
            "strict": False,
        }
    ]
    items: list[Any] = [{"role": "user", "content": QUESTION}]

    def ask() -> Any:
        if stream:
            with client.responses.stream(model=model, input=items, tools=tools) as events:
                for _ in events:
                    pass
                return events.get_final_response()
        return client.responses.create(model=model, input=items, tools=tools)

    first = ask()
    assert first.status == "completed", first
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1, first.output
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    items.append(
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        }
    )
    items.append({"type": "function_call_output", "call_id": call.call_id, "output": TOOL_RESULT})
    second = ask()
    assert second.status == "completed", second
    return second.output_text, call.call_id


_ROUND_TRIPS = {"anthropic": _anthropic, "chat": _chat, "responses": _responses}


def round_trip(
    client_format: str, url: str, key: str, model: str, *, stream: bool
) -> tuple[str, str]:
    """The final text of a tool round trip, and the tool-call id the client saw."""
    return _ROUND_TRIPS[client_format](url, key, model, stream)


# ------------------------------------------------------------------------- raw calls

FORMATS = ("anthropic", "chat", "responses")
ENDPOINT = {
    "anthropic": "/v1/messages",
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
}


def body_for(fmt: str, model: str, *, stream: bool = False) -> dict[str, Any]:
    if fmt == "anthropic":
        return {
            "model": model,
            "max_tokens": 64,
            "stream": stream,
            "messages": [{"role": "user", "content": "hello there, model"}],
        }
    if fmt == "chat":
        return {
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": "hello there, model"}],
        }
    return {"model": model, "stream": stream, "input": "hello there, model"}


def call(url: str, fmt: str, model: str, *, stream: bool = False) -> httpx.Response:
    return httpx.post(
        url + ENDPOINT[fmt],
        json=body_for(fmt, model, stream=stream),
        headers={"x-api-key": CLIENT_KEY},
        timeout=20,
    )


def frames(raw: bytes) -> list[tuple[str | None, str]]:
    decoder = SSEDecoder()
    return [(f.event, f.data) for f in [*decoder.feed(raw), *decoder.close()]]


def assert_in_band_error(fmt: str, raw: bytes) -> dict[str, Any]:
    """The stream ended with exactly the format's in-band error; its error object."""
    events = frames(raw)
    assert events, raw
    if fmt == "anthropic":
        name, data = events[-1]
        assert name == "error", events[-3:]
        error = json.loads(data)
        assert error["type"] == "error"
        return dict(error["error"])
    if fmt == "chat":
        payloads = [d for _, d in events if d != "[DONE]"]
        error = json.loads(payloads[-1])
        assert "error" in error, payloads[-2:]
        return dict(error["error"])
    kinds = [json.loads(d)["type"] for _, d in events]
    terminal = [
        k for k in kinds if k in ("response.completed", "response.incomplete", "response.failed")
    ]
    assert terminal == ["response.failed"], kinds
    assert kinds[-1] == "response.failed"
    numbers = [json.loads(d)["sequence_number"] for _, d in events]
    assert numbers == list(range(len(numbers)))
    return dict(json.loads(events[-1][1])["response"]["error"])


def check_upstream_requests(
    upstream: ScriptedUpstream, client: str, fmt: str, stream: bool
) -> None:
    assert len(upstream.requests) == 2, [r["body"] for r in upstream.requests]
    for request in upstream.requests:
        body = request["body"]
        validate_request(fmt, body)
        assert bool(body.get("stream")) is stream
        headers = request["headers"]
        if fmt == "anthropic":
            assert headers["x-api-key"] == upstream_key(fmt)
        else:
            assert headers["authorization"] == f"Bearer {upstream_key(fmt)}"
            assert "anthropic-beta" not in headers
        assert not any(CLIENT_KEY in value for value in headers.values())
    if stream and fmt == "chat" and client != "chat":
        # usage arrives only when asked for (a Chat client's own choice passes unchanged)
        assert upstream.requests[0]["body"].get("stream_options", {}).get("include_usage")
