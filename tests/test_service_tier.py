"""Issue 15, item 8: an answer's service tier reaches every client where it has a word.

OpenAI ``service_tier`` (Chat or Responses) ⇄ Anthropic ``usage.service_tier``: ``default`` is
``standard``, ``priority`` is ``priority``; the other words (``flex``, ``scale``, ``fast``,
``auto``, ``ultrafast``; Anthropic's ``batch``) have no counterpart and are reported.
Requests: Anthropic ``speed: fast`` ⇄ OpenAI ``service_tier: fast`` (with the fast-mode beta
an Anthropic upstream needs), Anthropic ``service_tier`` ``auto`` / ``standard_only`` ⇄ OpenAI
``auto`` / ``default``. Each output is validated with the SDK types (``oracles``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import apibridge
from apibridge._exchange import Exchange
from apibridge.codecs.anthropic._request import FAST_MODE_BETA
from apibridge.errors import Loss
from oracles import final_from_stream, validate_request
from samples import RESPONSES_MESSAGE as _MESSAGE
from samples import answer as _answer
from samples import sse as _sse

CHAT_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-5",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
RESPONSES_ANSWER: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "model": "gpt-5",
    "status": "completed",
    "output": [_MESSAGE],
    "tools": [],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
}


def _openai_answer(source: str, tier: str) -> dict[str, Any]:
    return {**(CHAT_ANSWER if source == "chat" else RESPONSES_ANSWER), "service_tier": tier}


@pytest.mark.parametrize("source", ["chat", "responses"])
@pytest.mark.parametrize(("tier", "word"), [("default", "standard"), ("priority", "priority")])
def test_fidelity_17_openai_answer_service_tier_reaches_anthropic_usage(
    source: str, tier: str, word: str
) -> None:
    out, lost = _answer(_openai_answer(source, tier), source, "anthropic")
    assert out["usage"]["service_tier"] == word
    assert lost == []


@pytest.mark.parametrize("source", ["chat", "responses"])
@pytest.mark.parametrize("tier", ["flex", "scale", "fast"])
def test_openai_service_tier_without_anthropic_word_is_reported(source: str, tier: str) -> None:
    out, lost = _answer(_openai_answer(source, tier), source, "anthropic")
    assert "service_tier" not in out["usage"]
    assert lost == ["response.usage.service_tier"]


def test_openai_answer_without_service_tier_says_none_to_anthropic() -> None:
    out, lost = _answer(CHAT_ANSWER, "chat", "anthropic")
    assert "service_tier" not in out["usage"]
    assert lost == []


def _chat_stream(tier: str) -> list[bytes]:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-5"}
    base["service_tier"] = tier
    return [
        _sse(
            None,
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
        ),
        _sse(None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        b"data: [DONE]\n\n",
    ]


def _responses_stream(tier: str) -> list[bytes]:
    done = {**RESPONSES_ANSWER, "service_tier": tier}
    started = {**done, "status": "in_progress", "output": []}
    return [
        _sse(
            "response.created",
            {"type": "response.created", "sequence_number": 0, "response": started},
        ),
        _sse(
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "sequence_number": 1,
                "output_index": 0,
                "item": _MESSAGE,
            },
        ),
        _sse(
            "response.completed",
            {"type": "response.completed", "sequence_number": 2, "response": done},
        ),
    ]


def _stream(source: str, tier: str) -> tuple[bytes, list[str]]:
    frames = _chat_stream(tier) if source == "chat" else _responses_stream(tier)
    losses: list[Loss] = []
    data = b"".join(
        apibridge.convert_stream(frames, source=source, target="anthropic", losses=losses)
    )
    return data, [loss.field for loss in losses]


def _message_start_usage(data: bytes) -> dict[str, Any]:
    for line in data.split(b"\n"):
        if line.startswith(b"data: "):
            event = json.loads(line[6:])
            if event["type"] == "message_start":
                usage: dict[str, Any] = event["message"]["usage"]
                return usage
    raise AssertionError("no message_start")


@pytest.mark.parametrize("source", ["chat", "responses"])
def test_openai_stream_service_tier_reaches_anthropic_message_start_usage(source: str) -> None:
    data, lost = _stream(source, "priority")
    assert _message_start_usage(data)["service_tier"] == "priority"
    assert final_from_stream("anthropic", data).usage.service_tier == "priority"
    assert lost == []


@pytest.mark.parametrize("source", ["chat", "responses"])
def test_openai_stream_service_tier_without_anthropic_word_is_reported(source: str) -> None:
    data, lost = _stream(source, "flex")
    assert "service_tier" not in _message_start_usage(data)
    final_from_stream("anthropic", data)
    assert lost == ["message_start.usage.service_tier"]


# ------------------------------------------------------- Anthropic → Chat / Responses client

ANTHROPIC_ANSWER: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}


def _anthropic_answer(tier: str) -> dict[str, Any]:
    return {**ANTHROPIC_ANSWER, "usage": {**ANTHROPIC_ANSWER["usage"], "service_tier": tier}}


@pytest.mark.parametrize("target", ["chat", "responses"])
@pytest.mark.parametrize(("tier", "word"), [("standard", "default"), ("priority", "priority")])
def test_anthropic_usage_service_tier_reaches_an_openai_client(
    target: str, tier: str, word: str
) -> None:
    out, lost = _answer(_anthropic_answer(tier), "anthropic", target)
    assert out["service_tier"] == word
    assert lost == []


def test_anthropic_batch_service_tier_is_reported_to_a_chat_client() -> None:
    out, lost = _answer(_anthropic_answer("batch"), "anthropic", "chat")
    assert "service_tier" not in out
    assert lost == ["response.usage.service_tier"]


def test_anthropic_batch_service_tier_is_reported_to_a_responses_client() -> None:
    out, lost = _answer(_anthropic_answer("batch"), "anthropic", "responses")
    assert out.get("service_tier") != "batch"
    assert lost == ["usage.service_tier"]


def _anthropic_stream(tier: str) -> list[bytes]:
    start = {**_anthropic_answer(tier), "content": [], "stop_reason": None}
    return [
        _sse("message_start", {"type": "message_start", "message": start}),
        _sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        _sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "hi"},
            },
        ),
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 1},
            },
        ),
        _sse("message_stop", {"type": "message_stop"}),
    ]


def test_anthropic_stream_service_tier_reaches_every_chat_chunk() -> None:
    losses: list[Loss] = []
    data = b"".join(
        apibridge.convert_stream(
            _anthropic_stream("priority"), source="anthropic", target="chat", losses=losses
        )
    )
    chunks = [json.loads(line[6:]) for line in data.split(b"\n") if line.startswith(b"data: {")]
    assert chunks
    assert {chunk.get("service_tier") for chunk in chunks} == {"priority"}
    assert any(chunk.get("usage") for chunk in chunks)
    final_from_stream("chat", data)
    assert [loss.field for loss in losses] == []


def test_anthropic_stream_service_tier_reaches_a_responses_client() -> None:
    losses: list[Loss] = []
    data = b"".join(
        apibridge.convert_stream(
            _anthropic_stream("standard"), source="anthropic", target="responses", losses=losses
        )
    )
    events = [json.loads(line[6:]) for line in data.split(b"\n") if line.startswith(b"data: {")]
    created = next(e for e in events if e["type"] == "response.created")
    assert created["response"]["service_tier"] == "default"
    assert final_from_stream("responses", data).service_tier == "default"
    assert [loss.field for loss in losses] == []


# ----------------------------------------------------- requests: speed: fast ⇄ service_tier


def _request(body: dict[str, Any], source: str, target: str) -> tuple[dict[str, Any], list[str]]:
    losses: list[Loss] = []
    out = apibridge.convert_request(body, source=source, target=target, losses=losses)
    validate_request(target, out)
    return out, [loss.field for loss in losses]


ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "claude-opus-4-6",
    "max_tokens": 1000,
    "messages": [{"role": "user", "content": "hi"}],
}
OPENAI_REQUESTS: dict[str, dict[str, Any]] = {
    "chat": {
        "model": "gpt-5",
        "max_completion_tokens": 1000,
        "messages": [{"role": "user", "content": "hi"}],
    },
    "responses": {"model": "gpt-5", "max_output_tokens": 1000, "input": "hi"},
}


@pytest.mark.parametrize("target", ["chat", "responses"])
def test_fidelity_17_anthropic_fast_speed_becomes_openai_fast_service_tier(target: str) -> None:
    out, lost = _request({**ANTHROPIC_REQUEST, "speed": "fast"}, "anthropic", target)
    assert out["service_tier"] == "fast"
    assert "speed" not in lost


@pytest.mark.parametrize("target", ["chat", "responses"])
def test_anthropic_standard_speed_is_still_reported(target: str) -> None:
    out, lost = _request({**ANTHROPIC_REQUEST, "speed": "standard"}, "anthropic", target)
    assert "service_tier" not in out
    assert "request.speed" in lost


@pytest.mark.parametrize("source", ["chat", "responses"])
def test_openai_fast_service_tier_becomes_anthropic_fast_speed(source: str) -> None:
    body = {**OPENAI_REQUESTS[source], "service_tier": "fast"}
    out, lost = _request(body, source, "anthropic")
    assert out["speed"] == "fast"
    assert "service_tier" not in out
    assert "request.service_tier" not in lost


@pytest.mark.parametrize("source", ["chat", "responses"])
def test_openai_flex_service_tier_is_still_reported_to_anthropic(source: str) -> None:
    body = {**OPENAI_REQUESTS[source], "service_tier": "flex"}
    out, lost = _request(body, source, "anthropic")
    assert "speed" not in out
    assert "request.service_tier" in lost


def test_anthropic_fast_speed_survives_a_same_format_trip() -> None:
    out, lost = _request({**ANTHROPIC_REQUEST, "speed": "fast"}, "anthropic", "anthropic")
    assert out["speed"] == "fast"
    assert lost == []


# ------------------------------------- requests: service_tier auto/standard_only ⇄ auto/default

#: Anthropic request tier → OpenAI request tier (both SDKs' create params).
REQUEST_TIERS = [("auto", "auto"), ("standard_only", "default")]


@pytest.mark.parametrize("target", ["chat", "responses"])
@pytest.mark.parametrize(("anthropic_tier", "openai_tier"), REQUEST_TIERS)
def test_fidelity_17_anthropic_request_service_tier_reaches_openai(
    target: str, anthropic_tier: str, openai_tier: str
) -> None:
    out, lost = _request({**ANTHROPIC_REQUEST, "service_tier": anthropic_tier}, "anthropic", target)
    assert out["service_tier"] == openai_tier
    assert "request.service_tier" not in lost


@pytest.mark.parametrize("source", ["chat", "responses"])
@pytest.mark.parametrize(("anthropic_tier", "openai_tier"), REQUEST_TIERS)
def test_fidelity_17_openai_request_service_tier_reaches_anthropic(
    source: str, anthropic_tier: str, openai_tier: str
) -> None:
    body = {**OPENAI_REQUESTS[source], "service_tier": openai_tier}
    out, lost = _request(body, source, "anthropic")
    assert out["service_tier"] == anthropic_tier
    assert "speed" not in out
    assert "request.service_tier" not in lost


@pytest.mark.parametrize("source", ["chat", "responses"])
@pytest.mark.parametrize("tier", ["priority", "scale"])
def test_openai_request_tier_without_anthropic_word_is_reported(source: str, tier: str) -> None:
    body = {**OPENAI_REQUESTS[source], "service_tier": tier}
    out, lost = _request(body, source, "anthropic")
    assert "service_tier" not in out
    assert "request.service_tier" in lost


def test_anthropic_fast_speed_wins_over_its_service_tier_for_openai() -> None:
    body = {**ANTHROPIC_REQUEST, "speed": "fast", "service_tier": "auto"}
    out, _ = _request(body, "anthropic", "chat")
    assert out["service_tier"] == "fast"  # one field, two settings: fast is the stronger ask


# ------------------------------------------------ fast mode: the beta header it needs


@pytest.mark.parametrize("source", ["chat", "responses"])
def test_openai_fast_tier_asks_for_the_fast_mode_beta(source: str) -> None:
    exchange = Exchange.from_client(
        {**OPENAI_REQUESTS[source], "service_tier": "fast"}, client=source, upstream="anthropic"
    )
    assert exchange.upstream_request()["speed"] == "fast"
    assert exchange.ctx.upstream_betas == [FAST_MODE_BETA]


@pytest.mark.parametrize("body", [{**ANTHROPIC_REQUEST, "speed": "fast"}, ANTHROPIC_REQUEST])
def test_an_anthropic_client_sends_its_own_betas(body: dict[str, Any]) -> None:
    exchange = Exchange.from_client(body, client="anthropic", upstream="anthropic")
    exchange.upstream_request()
    assert exchange.ctx.upstream_betas == []  # its own anthropic-beta header is forwarded
