"""Issue 15, items 7, 8 and 11: Chat ⇄ Responses twin fields reach the other OpenAI API
instead of being reported lost, and a failed Responses answer is an error for the client.

Each output is validated with the openai SDK types (``oracles``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import apibridge
from apibridge.codecs import get_codec
from apibridge.errors import Loss, UpstreamError
from oracles import final_from_stream, validate_error, validate_request, validate_response
from samples import RESPONSES_MESSAGE as _MESSAGE
from samples import answer as _answer
from samples import sse as _sse

CHAT_REQUEST: dict[str, Any] = {
    "model": "gpt-5",
    "messages": [{"role": "user", "content": "hi"}],
}
RESPONSES_REQUEST: dict[str, Any] = {"model": "gpt-5", "input": "hi"}


def _request(body: dict[str, Any], source: str, target: str) -> tuple[dict[str, Any], list[str]]:
    losses: list[Loss] = []
    out = apibridge.convert_request(body, source=source, target=target, losses=losses)
    validate_request(target, out)
    return out, [loss.field for loss in losses]


def _there_and_back(body: dict[str, Any], source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    target = "responses" if source == "chat" else "chat"
    out, lost = _request(body, source, target)
    assert lost == []
    back, lost = _request(out, target, source)
    assert lost == []
    return out, back


# ---------------------------------------------------------------------------- item 11


def _failed(code: str) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt-5",
        "status": "failed",
        "output": [],
        "error": {"code": code, "message": f"it failed: {code}"},
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }


@pytest.mark.parametrize(
    ("code", "status"),
    [("rate_limit_exceeded", 429), ("server_error", 500), ("invalid_prompt", 400)],
)
@pytest.mark.parametrize("client", ["anthropic", "chat"])
def test_failed_responses_answer_is_an_error_in_the_clients_format(
    client: str, code: str, status: int
) -> None:
    body = _failed(code)
    validate_response("responses", body)
    with pytest.raises(UpstreamError) as caught:
        apibridge.convert_response(body, source="responses", target=client)
    error = caught.value.error
    assert error.status == status
    answer_status, answer = get_codec(client).encode_error(error)
    assert answer_status == status
    validate_error(client, answer_status, answer)
    assert f"it failed: {code}" in str(answer)


def test_failed_responses_answer_stays_failed_for_a_responses_client() -> None:
    body = _failed("server_error")
    out = apibridge.convert_response(body, source="responses", target="responses")
    assert out["status"] == "failed"
    assert out["error"] == body["error"]


def test_cancelled_responses_answer_is_an_error_too() -> None:
    body = {**_failed("server_error"), "status": "cancelled", "error": None}
    with pytest.raises(UpstreamError) as caught:
        apibridge.convert_response(body, source="responses", target="chat")
    assert caught.value.error.status == 500
    assert "cancelled" in caught.value.error.message


@pytest.mark.parametrize(
    ("reason", "anthropic_stop", "chat_finish"),
    [("max_output_tokens", "max_tokens", "length"), ("content_filter", None, "content_filter")],
)
def test_incomplete_responses_answer_is_a_stop_reason_not_an_error(
    reason: str, anthropic_stop: str | None, chat_finish: str
) -> None:
    body = {
        **_failed("server_error"),
        "status": "incomplete",
        "error": None,
        "incomplete_details": {"reason": reason},
    }
    chat = apibridge.convert_response(body, source="responses", target="chat")
    validate_response("chat", chat)
    assert chat["choices"][0]["finish_reason"] == chat_finish
    claude = apibridge.convert_response(body, source="responses", target="anthropic")
    validate_response("anthropic", claude)
    if anthropic_stop is not None:
        assert claude["stop_reason"] == anthropic_stop


@pytest.mark.parametrize("client", ["anthropic", "chat"])
def test_failed_responses_stream_ends_in_the_clients_in_band_error(client: str) -> None:
    failed = (
        b'event: response.created\ndata: {"type":"response.created","sequence_number":0,'
        b'"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress",'
        b'"model":"gpt-5","output":[],"tools":[],"tool_choice":"auto",'
        b'"parallel_tool_calls":true}}\n\n'
        b'event: response.failed\ndata: {"type":"response.failed","sequence_number":1,'
        b'"response":{"id":"resp_1","object":"response","created_at":1,"status":"failed",'
        b'"model":"gpt-5","output":[],"tools":[],"tool_choice":"auto",'
        b'"parallel_tool_calls":true,'
        b'"error":{"code":"rate_limit_exceeded","message":"slow down"}}}\n\n'
    )
    data = b"".join(apibridge.convert_stream([failed], source="responses", target=client))
    assert b"slow down" in data
    with pytest.raises(Exception, match="slow down"):
        final_from_stream(client, data)


# ----------------------------------------------------------------------------- item 7


def test_verbosity_reaches_responses_as_text_verbosity() -> None:
    out, back = _there_and_back({**CHAT_REQUEST, "verbosity": "low"}, "chat")
    assert out["text"] == {"verbosity": "low"}
    assert back["verbosity"] == "low"


def test_text_verbosity_reaches_chat_as_verbosity_beside_the_format() -> None:
    body = {**RESPONSES_REQUEST, "text": {"verbosity": "high", "format": {"type": "json_object"}}}
    out, back = _there_and_back(body, "responses")
    assert out["verbosity"] == "high"
    assert out["response_format"] == {"type": "json_object"}
    assert back["text"] == {"format": {"type": "json_object"}, "verbosity": "high"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prompt_cache_key", "k1"),
        ("prompt_cache_retention", "24h"),
        ("service_tier", "flex"),
        ("store", True),
        ("store", False),
        ("moderation", {"model": "omni-moderation-latest", "policy": {"input": {"mode": "block"}}}),
        ("prompt_cache_options", {"mode": "explicit", "ttl": "30m"}),
    ],
)
@pytest.mark.parametrize("source", ["chat", "responses"])
def test_fidelity_17_twin_field_carried_between_chat_and_responses(
    source: str, field: str, value: Any
) -> None:
    body = {**(CHAT_REQUEST if source == "chat" else RESPONSES_REQUEST), field: value}
    out, back = _there_and_back(body, source)
    assert out[field] == value
    assert back[field] == value


def test_prompt_cache_key_carried_chat_to_responses_and_back() -> None:
    out, back = _there_and_back({**CHAT_REQUEST, "prompt_cache_key": "conv-7"}, "chat")
    assert out["prompt_cache_key"] == back["prompt_cache_key"] == "conv-7"


def test_safety_identifier_keeps_its_name_between_chat_and_responses() -> None:
    out, back = _there_and_back({**CHAT_REQUEST, "safety_identifier": "u-1"}, "chat")
    assert out["safety_identifier"] == back["safety_identifier"] == "u-1"
    assert "user" not in out
    both = {**RESPONSES_REQUEST, "user": "legacy", "safety_identifier": "u-1"}
    out, _ = _there_and_back(both, "responses")
    assert (out["user"], out["safety_identifier"]) == ("legacy", "u-1")


def test_logprobs_reach_responses_as_the_include_entry_and_back() -> None:
    body = {**CHAT_REQUEST, "logprobs": True, "top_logprobs": 3}
    out, back = _there_and_back(body, "chat")
    assert out["include"] == ["message.output_text.logprobs"]
    assert out["top_logprobs"] == 3
    assert (back["logprobs"], back["top_logprobs"]) == (True, 3)


def test_other_include_entries_are_still_reported_to_chat() -> None:
    body = {
        **RESPONSES_REQUEST,
        "include": ["message.output_text.logprobs", "file_search_call.results"],
    }
    out, lost = _request(body, "responses", "chat")
    assert out["logprobs"] is True
    assert lost == ["request.include"]


def test_prompt_cache_options_chat_lacks_are_reported_lost_to_chat() -> None:
    body = {**RESPONSES_REQUEST, "prompt_cache_options": {"mode": "explicit", "ttl": "12h"}}
    out, lost = _request(body, "responses", "chat")
    assert "prompt_cache_options" not in out
    assert lost == ["request.prompt_cache_options"]


def test_ultrafast_service_tier_is_reported_lost_to_chat() -> None:
    out, lost = _request({**RESPONSES_REQUEST, "service_tier": "ultrafast"}, "responses", "chat")
    assert "service_tier" not in out
    assert lost == ["request.service_tier"]


@pytest.mark.parametrize("source", ["chat", "responses"])
def test_twin_fields_stay_reported_losses_to_anthropic(source: str) -> None:
    body = {
        **(CHAT_REQUEST if source == "chat" else RESPONSES_REQUEST),
        "prompt_cache_key": "k",
        "store": True,
        "max_tokens" if source == "chat" else "max_output_tokens": 10,
    }
    _, lost = _request(body, source, "anthropic")
    assert {"request.prompt_cache_key", "request.store"} <= set(lost)


# ----------------------------------------------------------------------------- item 8


CHAT_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-5",
    "service_tier": "flex",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hi"},
            "finish_reason": "stop",
        }
    ],
}
RESPONSES_ANSWER: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "model": "gpt-5",
    "status": "completed",
    "service_tier": "flex",
    "output": [_MESSAGE],
    "tools": [],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
}


def test_service_tier_of_a_chat_answer_reaches_a_responses_client() -> None:
    out, lost = _answer(CHAT_ANSWER, "chat", "responses")
    assert out["service_tier"] == "flex"
    assert lost == []


def test_service_tier_of_a_responses_answer_reaches_a_chat_client() -> None:
    out, lost = _answer(RESPONSES_ANSWER, "responses", "chat")
    assert out["service_tier"] == "flex"
    assert lost == []


def test_ultrafast_service_tier_of_a_responses_answer_is_reported_to_chat() -> None:
    out, lost = _answer({**RESPONSES_ANSWER, "service_tier": "ultrafast"}, "responses", "chat")
    assert "service_tier" not in out
    assert lost == ["response.service_tier"]


def test_service_tier_of_a_chat_stream_reaches_a_responses_client() -> None:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-5"}
    base["service_tier"] = "flex"
    chunks = [
        _sse(
            None,
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
        ),
        _sse(None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        b"data: [DONE]\n\n",
    ]
    data = b"".join(apibridge.convert_stream(chunks, source="chat", target="responses"))
    final = final_from_stream("responses", data)
    assert final.service_tier == "flex"


def test_service_tier_of_a_responses_stream_reaches_a_chat_client() -> None:
    started = {**RESPONSES_ANSWER, "status": "in_progress", "output": []}
    events = [
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
            {"type": "response.completed", "sequence_number": 2, "response": RESPONSES_ANSWER},
        ),
    ]
    data = b"".join(apibridge.convert_stream(events, source="responses", target="chat"))
    chunks = [json.loads(line[6:]) for line in data.split(b"\n") if line.startswith(b"data: {")]
    assert chunks
    assert {chunk["service_tier"] for chunk in chunks} == {"flex"}
    final_from_stream("chat", data)
