"""Gemini thought signatures ride the reasoning envelope through Claude and Responses clients
and come back as they left; a Chat client, which cannot keep them, gets the loss reported.

Canonical parts stand in for what the gemini codec decodes (a thought with its signature, and
a *carrier*: a signature that rode on a function call, ``codecs/gemini/_wire.py``); the other
codecs only see those parts, so this holds whatever the Gemini side does.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apibridge._sse import SSEDecoder
from apibridge.codecs import Context, get_codec
from apibridge.codecs.envelope import Envelope, dialect_extras, open_envelope, seal
from apibridge.model import (
    MessageDelta,
    MessageStart,
    MessageStop,
    PartStart,
    PartStop,
    Response,
    ThinkingPart,
    ToolCallPart,
    accumulate,
)

THOUGHT_SIG = base64.b64encode(b"\x12\x9a thought signature \xff\x00").decode()
CALL_SIG = base64.b64encode(b"\x0a\x01 call signature").decode()


def _answer() -> Response:
    return Response(
        id="resp_g",
        model="gemini-3-pro-preview",
        content=(
            ThinkingPart(text="Plan: read it.", extras={"gemini": {"_signature": THOUGHT_SIG}}),
            ThinkingPart(text="", extras={"gemini": {"_signature": CALL_SIG, "_carrier": True}}),
            ToolCallPart(id="gcall_1", name="read_file", arguments='{"path":"a.txt"}'),
        ),
        stop_reason="tool_use",
    )


def _gemini_hints(parts: Any) -> list[dict[str, Any]]:
    return [dict(p.extras["gemini"]) for p in parts if isinstance(p, ThinkingPart)]


EXPECTED = [{"_signature": THOUGHT_SIG}, {"_signature": CALL_SIG, "_carrier": True}]


def test_fidelity_30_a_claude_client_carries_gemini_signatures_and_back() -> None:
    codec = get_codec("anthropic")
    body = codec.encode_response(_answer(), Context())
    signatures = [b["signature"] for b in body["content"] if b["type"] == "thinking"]
    assert [open_envelope(s) for s in signatures] == [
        Envelope(origin="gemini", kind="signature", data=THOUGHT_SIG),
        Envelope(origin="gemini", kind="carrier", data=CALL_SIG),
    ]
    history = {
        "model": "gemini-3-pro-preview",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "read a.txt"},
            {"role": "assistant", "content": body["content"]},
        ],
    }
    request = codec.decode_request(history, Context())
    assert _gemini_hints(request.messages[1].content) == EXPECTED


def test_a_responses_client_carries_them_in_encrypted_content_and_back() -> None:
    codec = get_codec("responses")
    body = codec.encode_response(_answer(), Context())
    reasoning = [item for item in body["output"] if item["type"] == "reasoning"]
    assert [open_envelope(r["encrypted_content"]).data for r in reasoning] == [
        THOUGHT_SIG,
        CALL_SIG,
    ]
    request = codec.decode_request(
        {"model": "gemini-3-pro-preview", "input": [*body["output"]]}, Context()
    )
    parts = [p for m in request.messages for p in m.content]
    assert _gemini_hints(parts) == EXPECTED


def test_a_claude_stream_carries_them_too() -> None:
    encoder = get_codec("anthropic").StreamEncoder(Context())
    answer = _answer()
    events: list[Any] = [MessageStart(id="m", model="gemini-3-pro-preview")]
    for index, part in enumerate(answer.content):
        events += [PartStart(index=index, part=part), PartStop(index=index, part=part)]
    events += [MessageDelta(stop_reason="tool_use"), MessageStop()]
    data = b"".join(chunk for event in events for chunk in encoder.feed(event))
    data += b"".join(encoder.close())
    decoder = get_codec("anthropic").StreamDecoder(Context())
    sse = SSEDecoder()
    decoded = [e for f in [*sse.feed(data), *sse.close()] for e in decoder.feed(f)]
    decoded += decoder.close()
    assert _gemini_hints(accumulate(decoded).content) == EXPECTED


@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_client_gets_the_loss_reported(stream: bool) -> None:
    codec = get_codec("chat")
    ctx = Context()
    answer = _answer()
    if stream:
        encoder = codec.StreamEncoder(ctx)
        events: list[Any] = [MessageStart(id="m", model="g")]
        for index, part in enumerate(answer.content):
            events += [PartStart(index=index, part=part), PartStop(index=index, part=part)]
        events += [MessageDelta(stop_reason="tool_use"), MessageStop()]
        for event in events:
            encoder.feed(event)
    else:
        codec.encode_response(answer, ctx)
    assert any("signature" in loss.field for loss in ctx.losses), ctx.losses


@given(
    st.binary(min_size=1, max_size=200).map(lambda b: base64.b64encode(b).decode()),
    st.booleans(),
)
def test_every_gemini_signature_seals_and_opens_exactly(signature: str, carrier: bool) -> None:
    kind = "carrier" if carrier else "signature"
    opened = open_envelope(seal(Envelope(origin="gemini", kind=kind, data=signature)))
    assert opened is not None
    hints = dialect_extras(opened)["gemini"]
    assert hints["_signature"] == signature
    assert bool(hints.get("_carrier")) is carrier


def test_an_envelope_that_is_not_a_signature_gives_no_hint() -> None:
    assert dialect_extras(Envelope(origin="gemini", kind="encrypted", data="x")) == {}
    assert dialect_extras(Envelope(origin="gemini", kind="signature")) == {}
