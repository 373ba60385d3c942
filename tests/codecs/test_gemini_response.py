"""Gemini answers (``GenerateContentResponse``) ⇄ canonical ⇄ the other formats.

Gemini bodies are decoded and written for Claude, Chat and Responses clients, each checked with
that SDK's type (``oracles.validate_response``); answers of the other formats are written for a
Gemini client and checked with the ``google-genai`` type and client (``gemini_oracle``).
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from apibridge.codecs import Context, get_codec
from apibridge.codecs.envelope import Envelope, open_envelope
from apibridge.codecs.gemini._response import decode_response, encode_response
from apibridge.errors import InvalidPayload
from apibridge.model import (
    RefusalPart,
    Response,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)
from gemini_oracle import sdk_answer, validate_gemini
from oracles import validate_response

OTHERS = ("anthropic", "chat", "responses")
SIG = "CiQBjz1rX0c2YQ=="  # base64, as Gemini's signatures are
SIG2 = "CiIBjz1rXwbWgg=="
MODEL = "gemini-2.5-flash"


def _body(parts: list[dict[str, Any]], finish: str | None = "STOP", **top: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": 12,
            "candidatesTokenCount": 7,
            "totalTokenCount": 19,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12}],
        },
        "modelVersion": MODEL,
        "responseId": "resp-abc",
    }
    body.update(top)
    return body


#: real-shaped Gemini answers, by name
ANSWERS: dict[str, dict[str, Any]] = {
    "text": _body([{"text": "Hello! How can I help?"}]),
    "thinking_signed_call": _body(
        [
            {"text": "**Planning** I should read it.", "thought": True},
            {
                "functionCall": {"name": "read_file", "args": {"path": "a.txt"}},
                "thoughtSignature": SIG,
            },
        ],
        usageMetadata={
            "promptTokenCount": 40,
            "candidatesTokenCount": 9,
            "thoughtsTokenCount": 31,
            "totalTokenCount": 80,
        },
    ),
    "parallel_calls_with_ids": _body(
        [
            {"functionCall": {"id": "c1", "name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"id": "c2", "name": "get_weather", "args": {"city": "Rome"}}},
        ]
    ),
    "text_signed": _body([{"text": "Done.", "thoughtSignature": SIG2}]),
    "max_tokens": _body([{"text": "The first part of a long"}], "MAX_TOKENS"),
    "cached": _body(
        [{"text": "cached"}],
        usageMetadata={
            "promptTokenCount": 1000,
            "cachedContentTokenCount": 800,
            "candidatesTokenCount": 5,
            "totalTokenCount": 1005,
        },
    ),
    "safety": _body(
        [],
        "SAFETY",
        usageMetadata={"promptTokenCount": 8, "totalTokenCount": 8},
    ),
    "recitation_after_text": _body([{"text": "It was the best of"}], "RECITATION"),
    "malformed_call": _body([], "MALFORMED_FUNCTION_CALL"),
    "json_output": _body([{"text": '{"a": 1}'}]),
}


def _ctx() -> Context:
    return Context()


def _decode(body: dict[str, Any]) -> tuple[Response, list[str]]:
    ctx = _ctx()
    return decode_response(copy.deepcopy(body), ctx), [loss.field for loss in ctx.losses]


def _to(response: Response, target: str) -> tuple[dict[str, Any], list[str]]:
    ctx = _ctx()
    out = get_codec(target).encode_response(response, ctx)
    validate_response(target, out)
    return out, [loss.field for loss in ctx.losses]


def _to_gemini(response: Response) -> tuple[dict[str, Any], list[str]]:
    ctx = _ctx()
    out = encode_response(response, ctx)
    validate_gemini(out)
    sdk_answer(out)  # the client itself reads it
    return out, [loss.field for loss in ctx.losses]


# ------------------------------------------------------------------ Gemini → itself


@pytest.mark.parametrize("name", ANSWERS)
def test_a_gemini_answer_round_trips_exactly(name: str) -> None:
    body = ANSWERS[name]
    validate_gemini(body)
    response, _ = _decode(body)
    out, lost = _to_gemini(response)
    assert out == body
    assert lost == []


# ------------------------------------------------------------------ Gemini → others


@pytest.mark.parametrize("target", OTHERS)
@pytest.mark.parametrize("name", ANSWERS)
def test_every_gemini_answer_is_valid_in_every_other_format(name: str, target: str) -> None:
    response, _ = _decode(ANSWERS[name])
    _to(response, target)


def test_text_answer_reaches_each_format_with_its_usage() -> None:
    response, _ = _decode(ANSWERS["text"])
    assert response.id == "resp-abc"
    assert response.model == MODEL
    assert response.stop_reason == "end_turn"
    claude, _ = _to(response, "anthropic")
    assert claude["content"] == [{"type": "text", "text": "Hello! How can I help?"}]
    assert claude["usage"]["input_tokens"] == 12
    assert claude["usage"]["output_tokens"] == 7
    chat, _ = _to(response, "chat")
    assert chat["choices"][0]["finish_reason"] == "stop"
    assert chat["usage"]["total_tokens"] == 19


def test_stop_with_a_function_call_is_tool_use_and_the_signature_rides_the_envelope() -> None:
    response, _ = _decode(ANSWERS["thinking_signed_call"])
    assert response.stop_reason == "tool_use"
    thinking, carrier, call = response.content
    assert isinstance(thinking, ThinkingPart)
    assert thinking.text.startswith("**Planning**")
    assert isinstance(carrier, ThinkingPart)
    assert carrier.extras["gemini"]["_signature"] == SIG
    assert isinstance(call, ToolCallPart)
    assert call.name == "read_file"
    assert call.id.startswith("gcall_")  # Gemini 2.5 gave no id: a made one
    assert call.arguments == '{"path":"a.txt"}'
    # usage: thoughts are output and reasoning
    assert response.usage is not None
    assert (response.usage.output_tokens, response.usage.reasoning_tokens) == (40, 31)
    claude, lost = _to(response, "anthropic")
    assert claude["stop_reason"] == "tool_use"
    assert [b["type"] for b in claude["content"]] == ["thinking", "thinking", "tool_use"]
    assert claude["content"][1]["signature"].startswith("abr1.")
    assert lost == []
    # the Claude answer, read back (as a Claude client's history would be), gives Gemini the
    # signature on its call again
    back = get_codec("anthropic").decode_response(claude, _ctx())
    out, _ = _to_gemini(back)
    assert out["candidates"][0]["content"]["parts"][1]["thoughtSignature"] == SIG
    responses, _ = _to(response, "responses")
    assert [item["type"] for item in responses["output"]] == [
        "reasoning",
        "reasoning",
        "function_call",
    ]
    back = get_codec("responses").decode_response(responses, _ctx())
    out, _ = _to_gemini(back)
    assert out["candidates"][0]["content"]["parts"] == [
        {"text": "**Planning** I should read it.", "thought": True},
        {"functionCall": {"name": "read_file", "args": {"path": "a.txt"}}, "thoughtSignature": SIG},
    ]


def test_call_ids_gemini_gave_reach_other_formats_and_come_back() -> None:
    response, _ = _decode(ANSWERS["parallel_calls_with_ids"])
    chat, _ = _to(response, "chat")
    calls = chat["choices"][0]["message"]["tool_calls"]
    assert [c["id"] for c in calls] == ["c1", "c2"]
    assert chat["choices"][0]["finish_reason"] == "tool_calls"
    back = get_codec("chat").decode_response(chat, _ctx())
    out, _ = _to_gemini(back)
    ids = [p["functionCall"]["id"] for p in out["candidates"][0]["content"]["parts"]]
    assert ids == ["c1", "c2"]


def test_max_tokens_is_max_tokens_everywhere() -> None:
    response, _ = _decode(ANSWERS["max_tokens"])
    assert response.stop_reason == "max_tokens"
    assert _to(response, "anthropic")[0]["stop_reason"] == "max_tokens"
    assert _to(response, "chat")[0]["choices"][0]["finish_reason"] == "length"
    assert _to(response, "responses")[0]["status"] == "incomplete"


def test_cached_content_tokens_follow_the_usage_convention() -> None:
    response, _ = _decode(ANSWERS["cached"])
    assert response.usage is not None
    usage = response.usage
    # Anthropic's meaning: input excludes the cache read; OpenAI's prompt count includes it
    assert (usage.input_tokens, usage.cache_read_tokens, usage.total_input) == (200, 800, 1000)
    claude, _ = _to(response, "anthropic")
    assert claude["usage"]["input_tokens"] == 200
    assert claude["usage"]["cache_read_input_tokens"] == 800
    chat, _ = _to(response, "chat")
    assert chat["usage"]["prompt_tokens"] == 1000
    assert chat["usage"]["prompt_tokens_details"]["cached_tokens"] == 800


@pytest.mark.parametrize(
    ("name", "text"), [("safety", None), ("recitation_after_text", "It was the best of")]
)
def test_safety_family_finishes_are_refusals(name: str, text: str | None) -> None:
    response, _ = _decode(ANSWERS[name])
    assert response.stop_reason == "refusal"
    assert isinstance(response.content[-1], RefusalPart)
    claude, _ = _to(response, "anthropic")
    assert claude["stop_reason"] == "refusal"
    chat, _ = _to(response, "chat")
    message = chat["choices"][0]["message"]
    assert message["refusal"] == ""
    assert message["content"] == text
    assert chat["choices"][0]["finish_reason"] == "content_filter"
    responses, _ = _to(response, "responses")
    (item,) = responses["output"]
    assert item["content"][-1] == {"type": "refusal", "refusal": ""}


def test_a_finish_message_of_a_refusal_is_the_refusal_text() -> None:
    body = _body([], "PROHIBITED_CONTENT")
    body["candidates"][0]["finishMessage"] = "The response was blocked."
    response, _ = _decode(body)
    assert response.content == (RefusalPart(text="The response was blocked."),)
    chat, _ = _to(response, "chat")
    assert chat["choices"][0]["message"]["refusal"] == "The response was blocked."
    out, lost = _to_gemini(response)
    assert out == body
    assert lost == []


def test_a_blocked_prompt_is_a_refusal_and_round_trips() -> None:
    body = {
        "promptFeedback": {
            "blockReason": "PROHIBITED_CONTENT",
            "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
            ],
        },
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": MODEL,
        "responseId": "r-blocked",
    }
    response, _ = _decode(body)
    assert response.stop_reason == "refusal"
    assert response.content == (RefusalPart(text=""),)
    claude, lost = _to(response, "anthropic")
    assert claude["stop_reason"] == "refusal"
    assert "response.promptFeedback.safetyRatings" in lost  # no Claude field: reported
    chat, _ = _to(response, "chat")
    assert chat["choices"][0]["message"]["refusal"] == ""
    out, lost = _to_gemini(response)
    assert out == body
    assert lost == []
    assert sdk_answer(out).prompt_feedback is not None


def test_malformed_function_call_is_an_error_stop_not_a_refusal() -> None:
    response, _ = _decode(ANSWERS["malformed_call"])
    assert response.stop_reason == "error"
    assert not any(isinstance(p, RefusalPart) for p in response.content)


@pytest.mark.parametrize(
    "key",
    ["safetyRatings", "citationMetadata", "groundingMetadata", "avgLogprobs"],
)
def test_candidate_metadata_is_carried_and_reported_when_lost(key: str) -> None:
    values = {
        "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}],
        "citationMetadata": {
            "citationSources": [{"startIndex": 0, "endIndex": 5, "uri": "https://example.com"}]
        },
        "groundingMetadata": {"webSearchQueries": ["weather paris"]},
        "avgLogprobs": -0.25,
    }
    body = _body([{"text": "Hello"}])
    body["candidates"][0][key] = values[key]
    response, _ = _decode(body)
    for target in OTHERS:
        _, lost = _to(response, target)
        assert f"response.candidate.{key}" in lost, target
    out, lost = _to_gemini(response)
    assert out == body
    assert lost == []


def test_more_candidates_keep_the_first_and_report_the_rest() -> None:
    body = _body([{"text": "one"}])
    second = {"content": {"parts": [{"text": "two"}], "role": "model"}, "index": 1}
    body["candidates"].append(second)
    response, _ = _decode(body)
    assert response.content == (TextPart(text="one"),)
    for target in OTHERS:
        _, lost = _to(response, target)
        assert "response.other_candidates" in lost
    out, _ = _to_gemini(response)
    assert out == body


def test_vertex_create_time_is_the_created_time() -> None:
    body = _body([{"text": "hi"}], createTime="2025-06-01T12:00:00.123456Z")
    response, _ = _decode(body)
    assert response.created == 1748779200
    chat, _ = _to(response, "chat")
    assert chat["created"] == 1748779200
    out, _ = _to_gemini(response)
    assert out == body


def test_snake_case_answers_are_read() -> None:
    body = {
        "candidates": [
            {
                "content": {"parts": [{"text": "hi"}], "role": "model"},
                "finish_reason": "MAX_TOKENS",
            }
        ],
        "usage_metadata": {"prompt_token_count": 3, "candidates_token_count": 1},
        "model_version": "models/gemini-2.5-pro",
        "response_id": "x",
    }
    response, _ = _decode(body)
    assert response.stop_reason == "max_tokens"
    assert response.model == "gemini-2.5-pro"
    assert response.usage == Usage(
        input_tokens=3, output_tokens=1, extras=response.usage.extras if response.usage else {}
    )


def test_an_error_body_is_not_an_answer() -> None:
    with pytest.raises(InvalidPayload, match="error body"):
        decode_response(
            {"error": {"code": 400, "message": "x", "status": "INVALID_ARGUMENT"}}, _ctx()
        )


def test_a_malformed_answer_is_a_clear_error() -> None:
    with pytest.raises(InvalidPayload, match=r"candidates\[0\].content.parts"):
        decode_response({"candidates": [{"content": {"parts": "text"}}]}, _ctx())


# ------------------------------------------------------------------ others → Gemini


def test_a_claude_answer_reaches_a_gemini_client() -> None:
    claude = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Let me look.", "signature": "EqQBCkYIBxgCKkA"},
            {"type": "text", "text": "Reading it."},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 30,
            "cache_creation_input_tokens": 5,
            "output_tokens": 20,
        },
    }
    response = get_codec("anthropic").decode_response(claude, _ctx())
    out, lost = _to_gemini(response)
    (candidate,) = out["candidates"]
    assert candidate["finishReason"] == "STOP"
    thought, *rest = candidate["content"]["parts"]
    assert rest == [
        {"text": "Reading it."},
        {"functionCall": {"id": "toolu_1", "name": "read_file", "args": {"path": "a"}}},
    ]
    # the Claude signature rides the thought's signature as the base64 reasoning envelope,
    # and comes back as Claude's own when the client sends the turn back
    assert thought["text"] == "Let me look."
    assert thought["thought"] is True
    sealed = open_envelope(base64.b64decode(thought["thoughtSignature"]).decode())
    assert sealed == Envelope(origin="anthropic", kind="signature", data="EqQBCkYIBxgCKkA")
    assert not any(field.endswith("thoughtSignature") for field in lost)
    history = {
        "model": "models/claude-sonnet-4-5",
        "contents": [
            {"role": "user", "parts": [{"text": "read a"}]},
            {"role": "model", "parts": candidate["content"]["parts"]},
        ],
    }
    request = get_codec("gemini").decode_request(history, _ctx())
    (back,) = [p for p in request.messages[1].content if isinstance(p, ThinkingPart)]
    assert (back.text, back.signature) == ("Let me look.", "EqQBCkYIBxgCKkA")
    usage = out["usageMetadata"]
    assert usage["promptTokenCount"] == 45  # all of the prompt, cache included
    assert usage["cachedContentTokenCount"] == 30
    assert usage["candidatesTokenCount"] == 20
    assert usage["totalTokenCount"] == 65
    assert out["modelVersion"] == "claude-sonnet-4-5"
    assert out["responseId"] == "msg_1"


def test_an_openai_refusal_reaches_a_gemini_client_as_a_safety_finish() -> None:
    chat = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-5",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
                "finish_reason": "stop",
            }
        ],
    }
    response = get_codec("chat").decode_response(chat, _ctx())
    out, _ = _to_gemini(response)
    (candidate,) = out["candidates"]
    assert candidate["finishReason"] == "SAFETY"
    assert candidate["finishMessage"] == "I can't help."
    assert "usageMetadata" not in out  # none was known: none invented


def test_reasoning_tokens_of_a_responses_answer_are_thoughts() -> None:
    body = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": "gpt-5",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "hi", "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 50,
            "input_tokens_details": {"cached_tokens": 20},
            "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 25},
            "total_tokens": 80,
        },
    }
    response = get_codec("responses").decode_response(body, _ctx())
    out, _ = _to_gemini(response)
    assert out["usageMetadata"] == {
        "promptTokenCount": 50,
        "cachedContentTokenCount": 20,
        "candidatesTokenCount": 5,
        "thoughtsTokenCount": 25,
        "totalTokenCount": 80,
    }
    assert out["candidates"][0]["content"]["parts"] == [{"text": "hi"}]


def test_parts_a_gemini_answer_cannot_hold_are_reported() -> None:
    response = Response(
        id="x",
        model="m",
        content=(
            TextPart(text="see"),
            get_codec("anthropic")
            .decode_response(
                {
                    "id": "m",
                    "type": "message",
                    "role": "assistant",
                    "model": "c",
                    "content": [{"type": "redacted_thinking", "data": "abc"}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                },
                _ctx(),
            )
            .content[0],
        ),
        stop_reason="stop_sequence",
        stop_sequence="END",
    )
    out, lost = _to_gemini(response)
    text, redacted = out["candidates"][0]["content"]["parts"]
    assert text == {"text": "see"}
    # Claude's redacted thinking: an empty thought holding it (the envelope), to come back
    assert (redacted["text"], redacted["thought"]) == ("", True)
    sealed = open_envelope(base64.b64decode(redacted["thoughtSignature"]).decode())
    assert sealed == Envelope(origin="anthropic", kind="redacted", data="abc")
    assert out["candidates"][0]["finishReason"] == "STOP"
    assert "stop_sequence" in lost


@pytest.mark.filterwarnings("ignore:SOME_NEW_REASON is not a valid FinishReason")
def test_a_finish_reason_this_version_does_not_know_is_passed_on() -> None:
    body = _body([{"text": "hi"}], "SOME_NEW_REASON")
    response, lost = _decode(body)
    assert lost == []  # reading it loses nothing
    assert response.stop_reason == "SOME_NEW_REASON"
    out, lost = _to_gemini(response)
    assert out == body
    assert lost == []
    _, lost = _to(response, "anthropic")
    assert "stop_reason" in lost  # Claude has no such word: said, and sent as end_turn
