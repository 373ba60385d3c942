"""How the tests call the gateway: with the official SDKs, or raw over HTTP.

**A tool round trip with each official SDK, streamed or not.**

:func:`round_trip` asks for the weather with one tool offered, checks that the answer is a
call of that tool with ``{"city": "Paris"}``, sends the tool's result back in the client's own
format, and returns the final text. Streams go through the SDKs' stream helpers
(``messages.stream``, ``chat.completions.stream``, ``responses.stream``), whose accumulators
are the oracles for the event grammar; a Gemini client is the ``google-genai`` SDK, whose
pydantic types (``extra="forbid"``) check every answer and chunk it reads, and
:func:`validate_gemini_request` checks a Gemini request body with the same types.

**Raw calls**: :func:`call` posts a minimal request of a format (:func:`path_for`: Gemini's
path names the model); :func:`frames` splits an SSE body; :func:`assert_in_band_error` checks
that a stream ended with its format's in-band error; :func:`check_error` checks an error body
(Gemini's by hand, the others' with :func:`oracles.validate_error`).
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
from google import genai
from google.genai import types as gtypes
from servers import CLIENT_KEY, ScriptedUpstream, upstream_key

from apibridge._sse import SSEDecoder
from oracles import validate_error, validate_request

__all__ = [
    "ENDPOINT",
    "FORMATS",
    "QUESTION",
    "TOOL_RESULT",
    "anthropic_client",
    "assert_in_band_error",
    "body_for",
    "call",
    "check_error",
    "check_upstream_requests",
    "frames",
    "gemini_client",
    "openai_client",
    "path_for",
    "round_trip",
    "validate_gemini_request",
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


def gemini_client(url: str, key: str, *, version: str | None = None) -> genai.Client:
    """A ``google-genai`` client for the gateway at ``url`` (the SDK's own API version, ``v1``,
    unless ``version`` says another; no retries of its own)."""
    options = gtypes.HttpOptions(base_url=url, api_version=version, timeout=20_000)
    return genai.Client(api_key=key, http_options=options)


def finish_of(answers: list[gtypes.GenerateContentResponse]) -> str | None:
    """The finish reason of a Gemini answer (the last chunk of a stream says it)."""
    candidates = answers[-1].candidates or []
    reason = candidates[0].finish_reason if candidates else None
    return None if reason is None else str(reason.value)


def _gemini(url: str, key: str, model: str, stream: bool) -> tuple[str, str]:
    client = gemini_client(url, key)
    declaration = gtypes.FunctionDeclaration(
        name="get_weather", description="Weather for a city", parameters_json_schema=SCHEMA
    )
    config = gtypes.GenerateContentConfig(
        tools=[gtypes.Tool(function_declarations=[declaration])],
        automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
    )
    contents: list[Any] = [gtypes.Content(role="user", parts=[gtypes.Part(text=QUESTION)])]

    def ask() -> list[gtypes.GenerateContentResponse]:
        if stream:
            return list(
                client.models.generate_content_stream(model=model, contents=contents, config=config)
            )
        return [client.models.generate_content(model=model, contents=contents, config=config)]

    def parts_of(answers: list[gtypes.GenerateContentResponse]) -> list[gtypes.Part]:
        return [
            p
            for a in answers
            for c in (a.candidates or [])[:1]
            for p in ((c.content and c.content.parts) or [])
        ]

    first = ask()
    assert finish_of(first) == "STOP", first
    parts = parts_of(first)
    calls = [p.function_call for p in parts if p.function_call is not None]
    assert len(calls) == 1, parts
    call = calls[0]
    assert call.name == "get_weather"
    assert call.args == {"city": "Paris"}
    contents.append(gtypes.Content(role="model", parts=parts))
    result = gtypes.FunctionResponse(id=call.id, name=call.name, response={"output": TOOL_RESULT})
    contents.append(gtypes.Content(role="user", parts=[gtypes.Part(function_response=result)]))
    second = ask()
    assert finish_of(second) == "STOP", second
    text = "".join(p.text for p in parts_of(second) if p.text and not p.thought)
    return text, call.id or ""  # no id: a Gemini 2.5 call, none made up for a Gemini client


_ROUND_TRIPS = {
    "anthropic": _anthropic,
    "chat": _chat,
    "responses": _responses,
    "gemini": _gemini,
}


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


def path_for(fmt: str, model: str, *, stream: bool = False) -> str:
    """The path a ``fmt`` client posts to (a Gemini client's names the model)."""
    if fmt == "gemini":
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"/v1beta/models/{model}:{method}"
    return ENDPOINT[fmt]


def body_for(fmt: str, model: str, *, stream: bool = False) -> dict[str, Any]:
    if fmt == "gemini":  # the model and the stream are in the path
        return {
            "contents": [{"role": "user", "parts": [{"text": "hello there, model"}]}],
            "generationConfig": {"maxOutputTokens": 64},
        }
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
        url + path_for(fmt, model, stream=stream),
        json=body_for(fmt, model, stream=stream),
        headers={"x-goog-api-key" if fmt == "gemini" else "x-api-key": CLIENT_KEY},
        timeout=20,
    )


#: google.rpc status names by HTTP status, as Google answers (what a Gemini client reads).
GOOGLE_STATUSES = {
    400: {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE"},
    401: {"UNAUTHENTICATED"},
    403: {"PERMISSION_DENIED"},
    404: {"NOT_FOUND"},
    405: {"INVALID_ARGUMENT"},
    408: {"DEADLINE_EXCEEDED"},
    413: {"INVALID_ARGUMENT"},
    415: {"INVALID_ARGUMENT"},
    429: {"RESOURCE_EXHAUSTED"},
    500: {"INTERNAL", "UNKNOWN"},
    502: {"UNAVAILABLE", "INTERNAL"},
    503: {"UNAVAILABLE"},
    504: {"DEADLINE_EXCEEDED"},
}


def check_error(fmt: str, status: int, body: dict[str, Any]) -> dict[str, Any]:
    """Check an error body in ``fmt``'s envelope for HTTP ``status``; its error object."""
    if fmt != "gemini":
        validate_error(fmt, status, body)
        return dict(body["error"])
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == status, (status, body)
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["status"] in GOOGLE_STATUSES.get(status, {"INTERNAL", "UNAVAILABLE"}), body
    return dict(error)


def frames(raw: bytes) -> list[tuple[str | None, str]]:
    decoder = SSEDecoder()
    return [(f.event, f.data) for f in [*decoder.feed(raw), *decoder.close()]]


def assert_in_band_error(fmt: str, raw: bytes) -> dict[str, Any]:
    """The stream ended with exactly the format's in-band error; its error object."""
    events = frames(raw)
    assert events, raw
    if fmt == "gemini":  # Google's envelope as the last data frame, every other an answer chunk
        *chunks, (_, last) = events
        for _, data in chunks:
            gtypes.GenerateContentResponse.model_validate(json.loads(data))
        error = json.loads(last)
        assert set(error) == {"error"}, last
        return dict(error["error"])
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


#: the fields of a ``generateContent`` body, and the ``google-genai`` type each holds.
_GEMINI_BODY: dict[str, Any] = {
    "contents": list[gtypes.Content],
    "systemInstruction": gtypes.Content,
    "tools": list[gtypes.Tool],
    "toolConfig": gtypes.ToolConfig,
    "generationConfig": gtypes.GenerationConfig,
    "safetySettings": list[gtypes.SafetySetting],
    "cachedContent": str,
    "labels": dict[str, str],
}


def validate_gemini_request(body: dict[str, Any]) -> None:
    """Raise unless ``body`` is a ``generateContent`` body as the API takes it, its model in
    the path (checked with the ``google-genai`` types, which refuse unknown fields)."""
    from pydantic import TypeAdapter

    unknown = set(body) - set(_GEMINI_BODY)
    assert not unknown, f"not GenerateContentRequest fields: {sorted(unknown)}"
    assert body.get("contents"), body
    for name, value in body.items():
        TypeAdapter(_GEMINI_BODY[name]).validate_python(value)


def check_upstream_requests(
    upstream: ScriptedUpstream, client: str, fmt: str, stream: bool
) -> None:
    assert len(upstream.requests) == 2, [r["body"] for r in upstream.requests]
    for request in upstream.requests:
        body = request["body"]
        headers = request["headers"]
        if fmt == "gemini":
            validate_gemini_request(body)
            method = ":streamGenerateContent" if stream else ":generateContent"
            assert request["path"].endswith(method), request["path"]
            assert request["query"] == ("alt=sse" if stream else ""), request["query"]
            assert headers["x-goog-api-key"] == upstream_key(fmt)
            assert "authorization" not in headers
            assert "x-api-key" not in headers
            assert not any(CLIENT_KEY in value for value in headers.values())
            continue
        validate_request(fmt, body)
        assert bool(body.get("stream")) is stream
        if fmt == "anthropic":
            assert headers["x-api-key"] == upstream_key(fmt)
        else:
            assert headers["authorization"] == f"Bearer {upstream_key(fmt)}"
            assert "anthropic-beta" not in headers
        assert not any(CLIENT_KEY in value for value in headers.values())
    if stream and fmt == "chat" and client != "chat":
        # usage arrives only when asked for (a Chat client's own choice passes unchanged)
        assert upstream.requests[0]["body"].get("stream_options", {}).get("include_usage")
