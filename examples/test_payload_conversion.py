"""Property tests for your own use of apibridge, with Hypothesis: copy this file into your tests.

Say your application builds Claude (Anthropic Messages) requests and sends some of them to an
OpenAI-compatible server through ``apibridge.convert_request``, converting the answers back
with ``apibridge.convert_response``. Instead of a few hand-written payloads, describe the
requests your application can build as a Hypothesis strategy (``claude_requests``) and
state what must hold for every one of them:

* the converted request carries every text and every tool of the original, and reports
  nothing lost (your requests use nothing the target cannot hold);
* strict mode raises only where a loss would have been reported;
* an answer converted back to Claude's format keeps the upstream's text, its tool call (under
  the name your application declared, even one the target had to shorten) and the stop reason.

Needs: ``pip install apibridge pytest hypothesis``.
Run: ``pytest examples/test_payload_conversion.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import apibridge

#: Text as users type it: any printable characters, emoji and other scripts included.
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1)

#: Tool names as your application declares them (some longer than OpenAI's 64 characters).
tool_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,80}", fullmatch=True)


@st.composite
def tools(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(tool_names, max_size=3, unique_by=str.lower))
    return [
        {
            "name": name,
            "description": draw(texts),
            "input_schema": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        }
        for name in names
    ]


@st.composite
def claude_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request the application could build: a system prompt, alternating turns, tools."""
    turns = draw(st.lists(texts, min_size=1, max_size=5).filter(lambda t: len(t) % 2 == 1))
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": draw(st.integers(1, 8192)),
        "messages": [
            {"role": "user" if i % 2 == 0 else "assistant", "content": text}
            for i, text in enumerate(turns)
        ],
    }
    if draw(st.booleans()):
        body["system"] = draw(texts)
    declared = draw(tools())
    if declared:
        body["tools"] = declared
    return body


def _strings(value: Any) -> str:
    """Every string inside ``value``, as one JSON text to search in."""
    return json.dumps(value, ensure_ascii=False)


@settings(max_examples=50, deadline=None)
@given(claude_requests(), st.sampled_from(["chat", "responses"]))
def test_everything_the_application_sends_is_carried(body: dict[str, Any], target: str) -> None:
    losses: list[apibridge.Loss] = []
    converted = apibridge.convert_request(body, source="anthropic", target=target, losses=losses)
    assert losses == []
    carried = _strings(converted)
    for message in body["messages"]:
        assert _strings(message["content"])[1:-1] in carried
    if "system" in body:
        assert _strings(body["system"])[1:-1] in carried
    assert len(converted.get("tools", [])) == len(body.get("tools", []))
    # strict mode agrees: nothing lost, nothing raised
    apibridge.convert_request(body, source="anthropic", target=target, strict=True)


@settings(max_examples=50, deadline=None)
@given(claude_requests(), texts)
def test_a_loss_is_reported_or_raised_never_silent(body: dict[str, Any], text: str) -> None:
    """A thinking block's signature cannot travel to Chat: reported, or an error when strict."""
    body["messages"].append(
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": text, "signature": "c2lnbmF0dXJl"},
                {"type": "text", "text": text},
            ],
        }
    )
    body["messages"].append({"role": "user", "content": "go on"})
    losses: list[apibridge.Loss] = []
    apibridge.convert_request(body, source="anthropic", target="chat", losses=losses)
    assert any(loss.field.endswith("signature") for loss in losses)
    with pytest.raises(apibridge.UnsupportedFeature):
        apibridge.convert_request(body, source="anthropic", target="chat", strict=True)


@settings(max_examples=50, deadline=None)
@given(claude_requests(), texts, st.data())
def test_the_answer_comes_back_in_the_applications_terms(
    body: dict[str, Any], answer: str, data: st.DataObject
) -> None:
    chat_request = apibridge.convert_request(body, source="anthropic", target="chat", losses=[])
    sent_tools = [t["function"]["name"] for t in chat_request.get("tools", [])]
    call = None
    if sent_tools:
        index = data.draw(st.integers(0, len(sent_tools) - 1))
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": sent_tools[index], "arguments": '{"query": "x"}'},
        }
    chat_answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "qwen3-coder",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer}
                | ({"tool_calls": [call]} if call else {}),
                "finish_reason": "tool_calls" if call else "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    claude = apibridge.convert_response(
        chat_answer, source="chat", target="anthropic", request=body, losses=[]
    )
    blocks = claude["content"]
    assert blocks[0] == {"type": "text", "text": answer}
    if call is None:
        assert claude["stop_reason"] == "end_turn"
        return
    assert claude["stop_reason"] == "tool_use"
    (tool_use,) = [b for b in blocks if b["type"] == "tool_use"]
    assert tool_use["name"] == body["tools"][index]["name"]  # the declared name, even if long
    assert tool_use["input"] == {"query": "x"}
