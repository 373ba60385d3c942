"""Reasoning survives a trip through the other API, byte for byte (DESIGN.md invariants).

The scenario is the real one: an upstream answers with reasoning, the client of the *other*
API receives it, and sends it back in its next request, which goes to the same upstream.
"""

from __future__ import annotations

from typing import Any

import apibridge

SIGNATURE = "EqQBCkgIARABGAIiQLt0f2cbm2sT7h+/=="  # opaque; any bytes must survive
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"
ENCRYPTED = "gAAAAABo_encrypted_reasoning_blob=="

CLAUDE_ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Let me think.", "signature": SIGNATURE},
        {"type": "redacted_thinking", "data": REDACTED},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 5},
}

RESPONSES_ANSWER = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "gpt-5",
    "output": [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "Thinking."}],
            "encrypted_content": ENCRYPTED,
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "lookup",
            "arguments": '{"q":"x"}',
            "status": "completed",
        },
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 15,
    },
}

TOOL = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}


def test_claude_thinking_through_a_responses_client() -> None:
    answer = apibridge.convert_response(CLAUDE_ANSWER, source="anthropic", target="responses")
    # the Responses client (Codex) replays its output items as the next input
    next_request = {
        "model": "claude-sonnet-4-5",
        "input": [
            {"role": "user", "content": "look it up"},
            *answer["output"],
            {"type": "function_call_output", "call_id": "toolu_1", "output": "found"},
        ],
        "tools": [TOOL],
    }
    upstream = apibridge.convert_request(
        next_request, source="responses", target="anthropic", losses=[]
    )
    blocks = [b for m in upstream["messages"] for b in m["content"] if isinstance(b, dict)]
    assert {"type": "thinking", "thinking": "Let me think.", "signature": SIGNATURE} in blocks
    assert {"type": "redacted_thinking", "data": REDACTED} in blocks


def test_openai_reasoning_through_a_claude_client() -> None:
    answer = apibridge.convert_response(RESPONSES_ANSWER, source="responses", target="anthropic")
    thinking = answer["content"][0]
    assert thinking["type"] == "thinking"
    assert thinking["signature"] != ENCRYPTED  # sealed in the envelope, not passed raw
    # Claude Code sends the turn back with the thinking block as it received it
    next_request: dict[str, Any] = {
        "model": "gpt-5",
        "max_tokens": 1000,
        "messages": [
            {"role": "user", "content": "look it up"},
            {"role": "assistant", "content": answer["content"]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "found"}],
            },
        ],
    }
    upstream = apibridge.convert_request(
        next_request, source="anthropic", target="responses", losses=[]
    )
    reasoning = [i for i in upstream["input"] if i.get("type") == "reasoning"]
    assert len(reasoning) == 1
    assert reasoning[0]["encrypted_content"] == ENCRYPTED
    assert reasoning[0]["id"] == "rs_1"


def test_foreign_reasoning_never_reaches_anthropic_as_signed_thinking() -> None:
    answer = apibridge.convert_response(RESPONSES_ANSWER, source="responses", target="anthropic")
    next_request = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1000,
        "messages": [
            {"role": "user", "content": "look it up"},
            {"role": "assistant", "content": answer["content"]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "found"}],
            },
        ],
    }
    losses: list[apibridge.Loss] = []
    upstream = apibridge.convert_request(
        next_request, source="anthropic", target="anthropic", losses=losses
    )
    # a Claude client replaying reasoning that an OpenAI model produced: Anthropic would reject
    # the envelope as an invalid signature, so the block is omitted, and the loss recorded
    kinds = [b["type"] for m in upstream["messages"] for b in m["content"] if isinstance(b, dict)]
    assert "thinking" not in kinds
    assert losses
    # likewise from a Responses client
    from_responses = {
        "model": "claude-sonnet-4-5",
        "input": [
            {"role": "user", "content": "look it up"},
            *RESPONSES_ANSWER["output"],
            {"type": "function_call_output", "call_id": "call_1", "output": "found"},
        ],
        "tools": [TOOL],
    }
    losses = []
    upstream = apibridge.convert_request(
        from_responses, source="responses", target="anthropic", losses=losses
    )
    kinds = [b["type"] for m in upstream["messages"] for b in m["content"] if isinstance(b, dict)]
    assert "thinking" not in kinds
    assert any("signature" in loss.reason or "thinking" in loss.field for loss in losses)
