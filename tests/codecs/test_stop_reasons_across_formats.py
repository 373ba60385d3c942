"""Stop reasons that only mean something together with the content: a ``length`` cut in the
middle of a tool call, a refusal, each carried to the other formats as what it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import apibridge
from apibridge._sse import SSEDecoder
from apibridge.codecs import Context, chat
from apibridge.model import (
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    RefusalPart,
    Response,
    ToolCallPart,
    accumulate,
)
from oracles import final_from_stream, validate_response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + (
        b"data: [DONE]\n\n"
    )


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def test_chat_length_with_a_tool_call_keeps_max_tokens() -> None:
    """A Chat answer cut by ``length`` in the middle of a tool call was said as ``tool_use``
    (a Claude client then ran a tool with truncated input); the reason is now kept, both ways
    and streamed, as docs/canonical.md says for calls under ``max_tokens``."""
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": "tru'}}
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "length",
            }
        ],
    }
    assert chat.decode_response(body, Context()).stop_reason == "max_tokens"
    anthropic_body = apibridge.convert_response(body, source="chat", target="anthropic", losses=[])
    assert anthropic_body["stop_reason"] == "max_tokens"
    responses_body = apibridge.convert_response(body, source="chat", target="responses", losses=[])
    assert responses_body["status"] == "incomplete"
    assert chat.encode_response(chat.decode_response(body, Context()), Context()) == body
    # The other way: a truncated call from any upstream reaches a Chat client as ``length``.
    cut = Response(
        id="r",
        model="m",
        content=(ToolCallPart(id="c", name="f", arguments='{"a":'),),
        stop_reason="max_tokens",
    )
    assert chat.encode_response(cut, Context())["choices"][0]["finish_reason"] == "length"
    # Streamed.
    sse = _sse(
        [
            _chunk({"role": "assistant", "content": ""}),
            _chunk({"tool_calls": [{"index": 0, **call}]}),
            _chunk({}, "length"),
        ]
    )
    decoder, frames = chat.StreamDecoder(Context()), SSEDecoder()
    events = [e for f in [*frames.feed(sse), *frames.close()] for e in decoder.feed(f)]
    assert accumulate(events).stop_reason == "max_tokens"
    out = b"".join(apibridge.convert_stream([sse], source="chat", target="anthropic", losses=[]))
    assert final_from_stream("anthropic", out).stop_reason == "max_tokens"
    encoder = chat.StreamEncoder(Context())
    canonical = [
        MessageStart(id="r", model="m"),
        PartStart(index=0, part=ToolCallPart(id="c", name="f", arguments="")),
        PartDelta(index=0, field="arguments", value='{"a":'),
        PartStop(index=0),
        MessageDelta(stop_reason="max_tokens"),
        MessageStop(),
    ]
    written = b"".join(b for e in canonical for b in encoder.feed(e))
    assert b'"finish_reason":"length"' in written


def test_responses_refusal_reaches_a_chat_client_with_finish_reason_stop() -> None:
    """An OpenAI refusal from a Responses upstream (decoded as ``refusal``) reached a Chat
    client as ``finish_reason: content_filter``; OpenAI finishes a refusal with ``stop``, and
    a Chat → Responses → Chat trip of a refusal now keeps it."""
    fixture = json.loads((FIXTURES / "responses" / "response_refusal.json").read_text())
    body = apibridge.convert_response(fixture["body"], source="responses", target="chat", losses=[])
    validate_response("chat", body)
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["refusal"]
    chat_fixture = json.loads((FIXTURES / "chat" / "response_refusal.json").read_text())
    there = apibridge.convert_response(
        chat_fixture["body"], source="chat", target="responses", losses=[]
    )
    back = apibridge.convert_response(there, source="responses", target="chat", losses=[])
    assert back["choices"][0]["finish_reason"] == "stop"
    stream = json.loads((FIXTURES / "responses" / "stream_refusal.json").read_text())
    out = b"".join(
        apibridge.convert_stream(
            [stream["sse"].encode()], source="responses", target="chat", losses=[]
        )
    )
    finishes = [
        c["finish_reason"]
        for line in out.decode().splitlines()
        if line.startswith("data: {")
        for c in json.loads(line[6:]).get("choices", [])
        if c.get("finish_reason")
    ]
    assert finishes == ["stop"]
    # Claude's refusal stop (no refusal part) is still content_filter.
    claude = Response(id="r", model="m", content=(), stop_reason="refusal")
    assert chat.encode_response(claude, Context())["choices"][0]["finish_reason"] == (
        "content_filter"
    )
    own = Response(id="r", model="m", content=(RefusalPart(text="no"),), stop_reason="refusal")
    assert chat.encode_response(own, Context())["choices"][0]["finish_reason"] == "stop"
