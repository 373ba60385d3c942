"""Bad input is a clear error, never a crash: arbitrary JSON through every decoder.

Whatever a client or an upstream sends, a decoder either decodes it or raises
``InvalidPayload`` (a 400 in the client's own format); a stream decoder never raises at all.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import apibridge
from apibridge._sse import SSEFrame
from apibridge.codecs import Context, get_codec
from apibridge.errors import ApibridgeError

KEYS = [
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "input",
    "id",
    "call_id",
    "tool_use_id",
    "tools",
    "tool_choice",
    "system",
    "max_tokens",
    "stream",
    "choices",
    "delta",
    "index",
    "output",
    "usage",
    "status",
    "item",
    "response",
    "thinking",
    "signature",
    "source",
    "image_url",
    "url",
    "data",
    "error",
    "finish_reason",
    "stop_reason",
    "instructions",
    "reasoning",
    "summary",
    "parameters",
    "input_schema",
    "output_index",
    "content_block",
    "message",
    "part",
    "annotations",
    # Gemini's (camelCase and snake_case: the API takes both)
    "contents",
    "parts",
    "systemInstruction",
    "functionCall",
    "function_call",
    "functionResponse",
    "args",
    "inlineData",
    "mimeType",
    "fileData",
    "fileUri",
    "thought",
    "thoughtSignature",
    "functionDeclarations",
    "parametersJsonSchema",
    "toolConfig",
    "functionCallingConfig",
    "mode",
    "allowedFunctionNames",
    "generationConfig",
    "thinkingConfig",
    "thinkingBudget",
    "maxOutputTokens",
    "responseMimeType",
    "responseSchema",
    "candidates",
    "finishReason",
    "usageMetadata",
    "promptFeedback",
    "blockReason",
    "code",
]
TYPES = [
    "text",
    "image",
    "tool_use",
    "tool_result",
    "thinking",
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
    "input_text",
    "output_text",
    "function",
    "custom",
    "image_url",
    "file",
    "document",
    "auto",
    "any",
    "none",
    "tool",
    "required",
    "message_start",
    "content_block_start",
    "content_block_delta",
    "text_delta",
    "input_json_delta",
    "response.created",
    "response.output_item.added",
    "response.output_text.delta",
    "response.completed",
    "user",
    "assistant",
    "system",
    "model",
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "AUTO",
    "ANY",
    "NONE",
    "application/json",
    "image/png",
    "RESOURCE_EXHAUSTED",
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(TYPES), st.text(max_size=8)
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    ),
    max_leaves=25,
)
objects = st.dictionaries(st.sampled_from(KEYS), values, max_size=7)

FMTS = ["anthropic", "chat", "responses", "gemini"]


def _ok_or_clear(fn: Any, *args: Any) -> None:
    # an ApibridgeError is a clear, typed error that the server answers in the client's format
    with contextlib.suppress(ApibridgeError):
        fn(*args)


@pytest.mark.parametrize("fmt", FMTS)
@given(body=objects)
def test_requests_decode_or_fail_clearly(fmt: str, body: dict[str, Any]) -> None:
    for target in FMTS:
        _ok_or_clear(
            lambda b, t=target: apibridge.convert_request(b, source=fmt, target=t, losses=[]),
            body,
        )


@pytest.mark.parametrize("fmt", [*FMTS, "backboard"])
@given(body=objects)
def test_responses_decode_or_fail_clearly(fmt: str, body: dict[str, Any]) -> None:
    _ok_or_clear(get_codec(fmt).decode_response, body, Context())


@pytest.mark.parametrize("fmt", [*FMTS, "backboard"])
@given(frames=st.lists(st.tuples(st.sampled_from([None, *TYPES]), objects), max_size=6))
def test_stream_decoders_never_raise(fmt: str, frames: list[tuple[str | None, Any]]) -> None:
    decoder = get_codec(fmt).StreamDecoder(Context())
    for event, body in frames:
        if event is not None and "type" not in body:
            body = {**body, "type": event}
        decoder.feed(SSEFrame(event=event, data=orjson.dumps(body).decode()))
    decoder.close()


@pytest.mark.parametrize("fmt", [*FMTS, "backboard"])
@given(body=values, status=st.integers(400, 599))
def test_error_bodies_always_decode(fmt: str, body: Any, status: int) -> None:
    for target in FMTS:
        out_status, out = apibridge.convert_error(body, status, source=fmt, target=target)
        assert 400 <= out_status < 600
        assert isinstance(out, dict)
