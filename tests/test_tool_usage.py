"""Issue 15, item 8: hosted-tool counts cross between Anthropic ``usage.server_tool_use`` and
Responses ``tool_usage`` in non-streamed answers and streams (``message_delta`` ⇄
``response.completed``); what has no counterpart is reported (Chat has no field for either).
Each output is validated with the SDK types (``oracles``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import apibridge
from apibridge.errors import Loss
from oracles import final_from_stream
from samples import RESPONSES_MESSAGE as _MESSAGE
from samples import answer as _answer
from samples import sse as _sse

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


# ----------------------------------------------------------------------- streams


def _stream(chunks: list[bytes], source: str, target: str) -> tuple[bytes, list[str]]:
    losses: list[Loss] = []
    data = b"".join(apibridge.convert_stream(chunks, source=source, target=target, losses=losses))
    return data, [loss.field for loss in losses]


def _events(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in data.split(b"\n") if line.startswith(b"data: {")]


def _anthropic_stream(server_tool_use: dict[str, int]) -> list[bytes]:
    start = {
        **ANTHROPIC_ANSWER,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 3, "output_tokens": 0},
    }
    usage = {"output_tokens": 1, "server_tool_use": server_tool_use}
    block = {"type": "text", "text": ""}
    return [
        _sse("message_start", {"type": "message_start", "message": start}),
        _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
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
                "usage": usage,
            },
        ),
        _sse("message_stop", {"type": "message_stop"}),
    ]


def _responses_stream(tool_usage: dict[str, Any]) -> list[bytes]:
    done = {**RESPONSES_ANSWER, "tool_usage": tool_usage}
    start = {**done, "status": "in_progress", "output": [], "usage": None, "tool_usage": None}
    part = {"type": "output_text", "text": "", "annotations": []}
    item = {**_MESSAGE, "status": "in_progress", "content": []}
    return [
        _sse(None, {"type": "response.created", "sequence_number": 0, "response": start}),
        _sse(
            None,
            {
                "type": "response.output_item.added",
                "sequence_number": 1,
                "output_index": 0,
                "item": item,
            },
        ),
        _sse(
            None,
            {
                "type": "response.content_part.added",
                "sequence_number": 2,
                "output_index": 0,
                "content_index": 0,
                "item_id": "msg_1",
                "part": part,
            },
        ),
        _sse(
            None,
            {
                "type": "response.output_text.delta",
                "sequence_number": 3,
                "output_index": 0,
                "content_index": 0,
                "item_id": "msg_1",
                "delta": "hi",
                "logprobs": [],
            },
        ),
        _sse(
            None,
            {
                "type": "response.output_item.done",
                "sequence_number": 4,
                "output_index": 0,
                "item": _MESSAGE,
            },
        ),
        _sse(None, {"type": "response.completed", "sequence_number": 5, "response": done}),
    ]


def test_fidelity_17_streamed_anthropic_server_tool_use_reaches_responses_completed() -> None:
    used = {"web_search_requests": 2, "web_fetch_requests": 0}
    data, lost = _stream(_anthropic_stream(used), "anthropic", "responses")
    completed = [e for e in _events(data) if e["type"] == "response.completed"]
    assert completed[0]["response"]["tool_usage"]["web_search"] == {"num_requests": 2}
    assert final_from_stream("responses", data).tool_usage.web_search.num_requests == 2
    assert lost == []


def test_streamed_anthropic_web_fetches_are_reported_to_responses() -> None:
    used = {"web_search_requests": 0, "web_fetch_requests": 4}
    data, lost = _stream(_anthropic_stream(used), "anthropic", "responses")
    assert final_from_stream("responses", data).tool_usage.web_search.num_requests == 0
    assert lost == ["usage.server_tool_use.web_fetch_requests"]


def test_fidelity_17_streamed_responses_tool_usage_reaches_anthropic_message_delta() -> None:
    usage = {"web_search": {"num_requests": 3}, "image_gen": _IMAGE_GEN}
    data, lost = _stream(_responses_stream(usage), "responses", "anthropic")
    delta = next(e for e in _events(data) if e["type"] == "message_delta")
    assert delta["usage"]["server_tool_use"] == {"web_search_requests": 3, "web_fetch_requests": 0}
    final = final_from_stream("anthropic", data)
    assert final.usage.server_tool_use.web_search_requests == 3
    assert lost == []


def test_streamed_responses_image_generation_is_reported_to_anthropic() -> None:
    image = {**_IMAGE_GEN, "output_tokens": 7, "total_tokens": 7}
    usage = {"web_search": {"num_requests": 0}, "image_gen": image}
    _, lost = _stream(_responses_stream(usage), "responses", "anthropic")
    assert lost == ["message_delta.tool_usage.image_gen"]


@pytest.mark.parametrize("source", ["anthropic", "responses"])
def test_streamed_tool_usage_has_no_home_in_chat_and_is_reported(source: str) -> None:
    chunks = (
        _anthropic_stream({"web_search_requests": 1, "web_fetch_requests": 0})
        if source == "anthropic"
        else _responses_stream({"web_search": {"num_requests": 1}, "image_gen": _IMAGE_GEN})
    )
    data, lost = _stream(chunks, source, "chat")
    assert b"server_tool_use" not in data
    assert b"tool_usage" not in data
    final_from_stream("chat", data)
    field = "stream.usage.server_tool_use" if source == "anthropic" else "stream.tool_usage"
    assert lost == [field]
