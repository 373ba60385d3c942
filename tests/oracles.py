"""The official SDKs as oracles: what apibridge emits must parse with their types and drive
their stream helpers.

Request bodies are checked against the SDKs' request ``TypedDict`` types with pydantic (the
SDKs declare list fields as ``Iterable``, which pydantic validates lazily, so :func:`_force`
walks the result to make every element validate). Responses are checked with the SDKs'
response models; streams are fed to the SDKs' own stream accumulators through an
``httpx2.MockTransport`` that answers with the bytes under test.

Gemini (``google-genai``): its pydantic types forbid unknown fields and read camelCase, so a
request is checked part by part (``contents`` as ``types.Content``, ``tools`` as
``types.Tool``, ``generationConfig`` as ``types.GenerationConfig`` …), an answer as
``types.GenerateContentResponse``, and a stream by the SDK's own ``generate_content_stream``
reading it (it has no accumulator: :func:`final_from_stream` gives its list of chunks).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import anthropic
import httpx2 as httpx  # the SDKs (anthropic 2.x, openai 3.x) are built on httpx2
import openai
from anthropic.types import message_create_params
from google import genai
from google.genai import types as gemini_types
from openai.types.chat import completion_create_params
from openai.types.responses import response_create_params
from pydantic import TypeAdapter

__all__ = [
    "events_from_stream",
    "final_from_stream",
    "validate_error",
    "validate_request",
    "validate_response",
]


def _force(value: Any) -> Any:
    """Consume pydantic's lazy ``ValidatorIterator`` values so their items validate."""
    if isinstance(value, dict):
        return {k: _force(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_force(v) for v in value]
    if type(value).__name__ == "ValidatorIterator":
        return [_force(v) for v in value]
    return value


@cache
def _request_adapter(fmt: str) -> TypeAdapter[Any]:
    types: dict[str, Any] = {
        "anthropic": message_create_params.MessageCreateParamsNonStreaming,
        "chat": completion_create_params.CompletionCreateParamsNonStreaming,
        "responses": response_create_params.ResponseCreateParamsNonStreaming,
    }
    return TypeAdapter(types[fmt])


#: each top-level field of a Gemini ``generateContent`` body → the SDK type of its value.
_GEMINI_REQUEST_FIELDS: dict[str, Any] = {
    "contents": list[gemini_types.Content],
    "systemInstruction": gemini_types.Content,
    "tools": list[gemini_types.Tool],
    "toolConfig": gemini_types.ToolConfig,
    "generationConfig": gemini_types.GenerationConfig,
    "safetySettings": list[gemini_types.SafetySetting],
    "cachedContent": str,
    "labels": dict[str, str],
    "model": str,
}


def _validate_gemini_request(body: dict[str, Any]) -> None:
    unknown = set(body) - set(_GEMINI_REQUEST_FIELDS)
    assert not unknown, f"not GenerateContentRequest fields: {sorted(unknown)}"
    assert isinstance(body.get("contents"), list), "contents is required"
    for key, value in body.items():
        TypeAdapter(_GEMINI_REQUEST_FIELDS[key]).validate_python(value)


def validate_request(fmt: str, body: dict[str, Any]) -> None:
    """Raise ``pydantic.ValidationError`` unless ``body`` is a valid ``fmt`` request."""
    if fmt == "gemini":
        _validate_gemini_request(body)
        return
    plain = {k: v for k, v in body.items() if k != "stream"}
    _force(_request_adapter(fmt).validate_python(plain))


def validate_response(fmt: str, body: dict[str, Any]) -> Any:
    """The SDK model for a non-streamed ``fmt`` response (raises when invalid)."""
    if fmt == "anthropic":
        return anthropic.types.Message.model_validate(body)
    if fmt == "chat":
        return openai.types.chat.ChatCompletion.model_validate(body)
    if fmt == "gemini":
        return gemini_types.GenerateContentResponse.model_validate(body)
    return openai.types.responses.Response.model_validate(body)


def validate_error(fmt: str, status: int, body: dict[str, Any]) -> None:
    """Check an error body's envelope and status as each SDK reads it."""
    assert 400 <= status < 600, status
    if fmt == "anthropic":
        assert body["type"] == "error"
        assert isinstance(body["error"]["type"], str)
        assert isinstance(body["error"]["message"], str)
    elif fmt == "gemini":  # google.rpc.Status, as the google-genai SDK reads it
        error = body["error"]
        assert error["code"] == status, (error, status)
        assert isinstance(error["message"], str)
        assert isinstance(error["status"], str)
        assert error["status"].isupper()
    else:
        error = body["error"]
        assert isinstance(error["message"], str)
        assert {"type", "code", "param"} <= set(error)


def _mock_client(fmt: str, data: bytes) -> Any:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=data)

    http = httpx.Client(transport=httpx.MockTransport(answer))
    if fmt == "gemini":
        options = gemini_types.HttpOptions(base_url="http://oracle.test", httpx_client=http)
        return genai.Client(api_key="test", http_options=options)
    if fmt == "anthropic":
        return anthropic.Anthropic(api_key="test", base_url="http://oracle.test", http_client=http)
    return openai.OpenAI(api_key="test", base_url="http://oracle.test/v1", http_client=http)


_FINALS: dict[str, Callable[[Any], Any]] = {
    "anthropic": lambda c: c.messages.stream(
        model="m", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    ),
    "chat": lambda c: c.chat.completions.stream(
        model="m", messages=[{"role": "user", "content": "hi"}]
    ),
    "responses": lambda c: c.responses.stream(model="m", input="hi"),
}


def _gemini_chunks(data: bytes) -> list[gemini_types.GenerateContentResponse]:
    """The chunks the google-genai SDK reads from the SSE stream ``data``."""
    client = _mock_client("gemini", data)
    return list(client.models.generate_content_stream(model="m", contents="hi"))


def final_from_stream(fmt: str, data: bytes) -> Any:
    """Drive the SDK's stream helper over ``data``; its final message/completion/response
    (for ``gemini``, the list of chunks the SDK read: it has no accumulator)."""
    if fmt == "gemini":
        return _gemini_chunks(data)
    client = _mock_client(fmt, data)
    incomplete = None
    with _FINALS[fmt](client) as stream:
        for event in stream:
            if getattr(event, "type", None) == "response.incomplete":
                incomplete = event.response
        if fmt == "anthropic":
            return stream.get_final_message()
        if fmt == "chat":
            try:
                return stream.get_final_completion()
            except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
                return exc.completion  # the helper refuses to parse such answers, by design
            except AttributeError:
                if b'"type":"custom"' not in data:
                    raise
                # openai's chat stream helper cannot finalise `custom` tool calls (it reads
                # `.custom.name` off a dict); check every chunk with the SDK type instead and
                # fold them with apibridge's own decoder.
                return _chat_final_by_chunks(data)
        if incomplete is not None:  # the helper only finalises `response.completed`
            return incomplete
        return stream.get_final_response()


def events_from_stream(fmt: str, data: bytes) -> tuple[list[Any], Exception | None]:
    """Drive the SDK's stream helper over ``data`` as far as it goes: the events it gave (with
    the helper's own ``.done`` events) and the error it raised at an in-band error, if any."""
    client = _mock_client(fmt, data)
    events: list[Any] = []
    if fmt == "gemini":
        try:
            for chunk in client.models.generate_content_stream(model="m", contents="hi"):
                events.append(chunk)
        except genai.errors.APIError as exc:
            return events, exc
        return events, None
    try:
        with _FINALS[fmt](client) as stream:
            for event in stream:
                events.append(event)
    except (openai.APIError, anthropic.APIError) as exc:
        return events, exc
    return events, None


def _without_custom_calls(data: str) -> Any:
    """A chunk with its ``custom`` tool-call deltas checked here and removed.

    The API streams them as ``{"index", "id", "type": "custom", "custom": {"name", "input"}}``
    (openai/openai-openapi#576), a shape the published chunk schema does not include yet.
    """
    import orjson

    chunk = orjson.loads(data)
    for choice in chunk.get("choices", []):
        calls = choice.get("delta", {}).get("tool_calls") or []
        custom = [c for c in calls if c.get("type") == "custom"]
        for call in custom:
            assert isinstance(call["index"], int)
            assert set(call["custom"]) <= {"name", "input"}
            assert all(isinstance(v, str) for v in call["custom"].values())
        if custom:
            choice["delta"]["tool_calls"] = [c for c in calls if c not in custom] or None
    return chunk


def _chat_final_by_chunks(data: bytes) -> Any:
    """Each chunk checked by the SDK's ``ChatCompletionChunk``; folded by apibridge's decoder."""
    from apibridge._sse import SSEDecoder
    from apibridge.codecs import Context, get_codec
    from apibridge.model import accumulate

    sse = SSEDecoder()
    frames = [*sse.feed(data), *sse.close()]
    for frame in frames:
        if frame.data != "[DONE]":
            openai.types.chat.ChatCompletionChunk.model_validate(_without_custom_calls(frame.data))
    codec, ctx = get_codec("chat"), Context()
    decoder = codec.StreamDecoder(ctx)
    events = [event for frame in frames for event in decoder.feed(frame)] + decoder.close()
    body = codec.encode_response(accumulate(events), ctx)
    return openai.types.chat.ChatCompletion.model_validate(body)
