"""Responses ``phase`` on assistant messages (issue 15, item 6).

gpt-5.x upstreams label assistant messages ``commentary`` / ``final_answer`` and want the label
back on every assistant message of a follow-up request. Anthropic and Chat clients have no field
they send back unchanged, so: an answer to them reports the phase as a loss (never silent), and
their history reaches a Responses upstream with the phase re-derived (a message followed by a
tool call before the next user message is ``commentary``, any other ``final_answer``). A
Responses client's own history keeps exactly what it sent.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.oracles import final_from_stream, validate_request, validate_response

import apibridge


def responses_answer(*phases: str | None) -> dict[str, Any]:
    """A Responses answer with one message item per phase (``None``: no phase field)."""
    output: list[dict[str, Any]] = []
    for i, phase in enumerate(phases):
        item: dict[str, Any] = {
            "id": f"msg_{i}",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": f"text {i}", "annotations": []}],
        }
        if phase is not None:
            item["phase"] = phase
        output.append(item)
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt-5.3-codex",
        "status": "completed",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 3,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 2,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 5,
        },
    }


def anthropic_history() -> dict[str, Any]:
    return {
        "model": "gpt-5.3-codex",
        "max_tokens": 100,
        "tools": [{"name": "ls", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "list the files"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "t1", "name": "ls", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "a.py"}],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "One file: a.py."}]},
            {"role": "user", "content": "thanks"},
        ],
    }


def phases_of(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [
        (item.get("type", "message"), item.get("phase"))
        for item in body["input"]
        if item.get("role") == "assistant"
    ]


def test_phase_restored_on_assistant_history_to_responses_upstream() -> None:
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(
        anthropic_history(), source="anthropic", target="responses", losses=losses
    )
    validate_request("responses", body)
    assert phases_of(body) == [("message", "commentary"), ("message", "final_answer")]
    kinds = [item.get("type", "message") for item in body["input"]]
    assert kinds[1:3] == ["message", "function_call"]
    assert not [loss for loss in losses if "phase" in loss.field]


def test_phase_restored_on_chat_client_history_to_responses_upstream() -> None:
    history = {
        "model": "gpt-5.3-codex",
        "messages": [
            {"role": "user", "content": "list the files"},
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "ls", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "a.py"},
            {"role": "assistant", "content": "One file: a.py."},
            {"role": "user", "content": "thanks"},
            {"role": "assistant", "content": "You are welcome."},
        ],
    }
    body = apibridge.convert_request(history, source="chat", target="responses", losses=[])
    validate_request("responses", body)
    # the last message (the input ends with it) is a final answer as well
    assert phases_of(body) == [
        ("message", "commentary"),
        ("message", "final_answer"),
        ("message", "final_answer"),
    ]


def test_phase_of_a_responses_clients_history_is_kept_as_sent() -> None:
    request = {
        "model": "gpt-5.3-codex",
        "input": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "thinking aloud", "phase": "commentary"},
            {"role": "assistant", "content": "no phase here"},
            {"role": "user", "content": "and?"},
        ],
    }
    body = apibridge.convert_request(request, source="responses", target="responses", losses=[])
    validate_request("responses", body)
    assert body["input"] == request["input"]


@pytest.mark.parametrize("client", ["anthropic", "chat"])
def test_phase_in_answer_to_anthropic_client_is_reported_not_silent(client: str) -> None:
    losses: list[apibridge.Loss] = []
    out = apibridge.convert_response(
        responses_answer("commentary", "final_answer", None),
        source="responses",
        target=client,
        losses=losses,
    )
    validate_response(client, out)
    reported = [loss for loss in losses if loss.field.endswith(".phase")]
    assert len(reported) == 2
    assert "'commentary'" in reported[0].reason
    assert "'final_answer'" in reported[1].reason
    assert all("re-derived" in loss.reason for loss in reported)


def test_phase_in_answer_to_responses_client_is_carried() -> None:
    losses: list[apibridge.Loss] = []
    answer = responses_answer("commentary", "final_answer")
    out = apibridge.convert_response(answer, source="responses", target="responses", losses=losses)
    validate_response("responses", out)
    assert [item["phase"] for item in out["output"]] == ["commentary", "final_answer"]
    assert not losses


def responses_stream(phase: str) -> bytes:
    answer = responses_answer(phase)
    item = answer["output"][0]
    text_part = item["content"][0]
    started = {**answer, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "content": []}},
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "item_id": "msg_0",
            "content_index": 0,
            "part": {**text_part, "text": ""},
        },
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "item_id": "msg_0",
            "content_index": 0,
            "delta": text_part["text"],
        },
        {
            "type": "response.output_text.done",
            "output_index": 0,
            "item_id": "msg_0",
            "content_index": 0,
            "text": text_part["text"],
        },
        {
            "type": "response.content_part.done",
            "output_index": 0,
            "item_id": "msg_0",
            "content_index": 0,
            "part": text_part,
        },
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": answer},
    ]
    return b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events
    )


@pytest.mark.parametrize("client", ["anthropic", "chat"])
def test_phase_in_stream_to_anthropic_or_chat_client_is_reported_not_silent(client: str) -> None:
    losses: list[apibridge.Loss] = []
    streamed = b"".join(
        apibridge.convert_stream(
            [responses_stream("final_answer")],
            source="responses",
            target=client,
            request={
                "model": "gpt-5.3-codex",
                "max_tokens": 100,
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            },
            losses=losses,
        )
    )
    final_from_stream(client, streamed)
    reported = [loss for loss in losses if loss.field.endswith(".phase")]
    assert len(reported) == 1
    assert "'final_answer'" in reported[0].reason
