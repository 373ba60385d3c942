"""Issue 15, item 8: hosted-tool counts cross between Anthropic ``usage.server_tool_use`` and
Responses ``tool_usage`` in non-streamed answers; what has no counterpart is reported.
Each output is validated with the SDK types (``oracles``)."""

from __future__ import annotations

from typing import Any

from samples import RESPONSES_MESSAGE as _MESSAGE
from samples import answer as _answer

_IMAGE_GEN: dict[str, Any] = {
    "input_tokens": 0,
    "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
    "output_tokens": 0,
    "total_tokens": 0,
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
    "usage": {
        "input_tokens": 3,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 1,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 4,
    },
    "tool_usage": {"web_search": {"num_requests": 2}, "image_gen": _IMAGE_GEN},
}
ANTHROPIC_ANSWER: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 3,
        "output_tokens": 1,
        "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0},
    },
}


def test_fidelity_17_responses_tool_usage_reaches_anthropic_server_tool_use() -> None:
    out, lost = _answer(RESPONSES_ANSWER, "responses", "anthropic")
    assert out["usage"]["server_tool_use"] == {"web_search_requests": 2, "web_fetch_requests": 0}
    assert lost == []


def test_responses_image_generation_usage_is_reported_to_anthropic() -> None:
    image = {**_IMAGE_GEN, "input_tokens": 5, "output_tokens": 7, "total_tokens": 12}
    body = {
        **RESPONSES_ANSWER,
        "tool_usage": {"web_search": {"num_requests": 0}, "image_gen": image},
    }
    out, lost = _answer(body, "responses", "anthropic")
    assert out["usage"]["server_tool_use"]["web_search_requests"] == 0
    assert lost == ["response.tool_usage.image_gen"]


def test_anthropic_server_tool_use_reaches_responses_tool_usage() -> None:
    out, lost = _answer(ANTHROPIC_ANSWER, "anthropic", "responses")
    assert out["tool_usage"]["web_search"] == {"num_requests": 2}
    assert out["tool_usage"]["image_gen"]["total_tokens"] == 0
    assert lost == []


def test_anthropic_web_fetch_requests_are_reported_to_responses() -> None:
    usage = {
        **ANTHROPIC_ANSWER["usage"],
        "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 3},
    }
    out, lost = _answer({**ANTHROPIC_ANSWER, "usage": usage}, "anthropic", "responses")
    assert out["tool_usage"]["web_search"] == {"num_requests": 1}
    assert lost == ["usage.server_tool_use.web_fetch_requests"]


def test_same_format_tool_usage_is_untouched() -> None:
    out, lost = _answer(RESPONSES_ANSWER, "responses", "responses")
    assert lost == []
    assert out["tool_usage"] == RESPONSES_ANSWER["tool_usage"]
    out, lost = _answer(ANTHROPIC_ANSWER, "anthropic", "anthropic")
    assert lost == []
    assert out["usage"]["server_tool_use"] == ANTHROPIC_ANSWER["usage"]["server_tool_use"]
