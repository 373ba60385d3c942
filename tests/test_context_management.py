"""Context management across formats (issue 15, item 10): Anthropic ``context_management``
edits ⇄ Responses ``context_management`` compaction, and the edits applied to the history
before sending (reported) where the upstream has no such thing.

Oracles: the SDKs' request types (the beta Messages params for Anthropic bodies with
``context_management``), and the history the upstream receives.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from anthropic.types.beta import message_create_params as beta_params
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from tests.oracles import validate_request

import apibridge
from apibridge.codecs import Context, get_codec
from apibridge.codecs._context_edits import CLEARED_INPUT, CLEARED_RESULT, COMPACT_BETA

_BETA_REQUEST = TypeAdapter(beta_params.MessageCreateParamsNonStreaming)


def validate_beta_anthropic(body: dict[str, Any]) -> None:
    """Raise unless ``body`` is a valid (beta) Messages request."""
    _BETA_REQUEST.validate_python({k: v for k, v in body.items() if k != "stream"})


def claude_history(turns: int, **extra: Any) -> dict[str, Any]:
    """A Claude Code-like history: ``turns`` assistant turns, each thinking then calling a tool
    (``ls`` on odd turns, ``read`` on even ones), each answered with a tool result."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "list the files"}]
    for i in range(turns):
        name = "ls" if i % 2 else "read"
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": f"thought {i}", "signature": f"sig{i}"},
                    {"type": "tool_use", "id": f"call_{i}", "name": name, "input": {"n": i}},
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": f"call_{i}", "content": f"out {i}"}
                ],
            }
        )
    return {"model": "any-model", "max_tokens": 1000, "messages": messages, **extra}


def edits(*items: dict[str, Any]) -> dict[str, Any]:
    return {"context_management": {"edits": list(items)}}


def convert(
    body: dict[str, Any], source: str, target: str
) -> tuple[dict[str, Any], dict[str, apibridge.Loss]]:
    losses: list[apibridge.Loss] = []
    out = apibridge.convert_request(body, source=source, target=target, losses=losses)
    if target == "anthropic":
        validate_beta_anthropic(out)
    else:
        validate_request(target, out)
    return out, {loss.field: loss for loss in losses}


def results_sent(body: dict[str, Any], target: str) -> dict[str, str]:
    """call id → the tool result text the upstream receives."""
    if target == "chat":
        return {m["tool_call_id"]: m["content"] for m in body["messages"] if m["role"] == "tool"}
    return {
        item["call_id"]: item["output"]
        for item in body["input"]
        if item.get("type") == "function_call_output"
    }


def calls_sent(body: dict[str, Any], target: str) -> dict[str, str]:
    """call id → the arguments the upstream receives."""
    if target == "chat":
        return {
            call["id"]: call["function"]["arguments"]
            for m in body["messages"]
            for call in m.get("tool_calls") or ()
        }
    return {
        item["call_id"]: item["arguments"]
        for item in body["input"]
        if item.get("type") == "function_call"
    }


def thinking_sent_chat(body: dict[str, Any]) -> list[str | None]:
    return [m.get("reasoning_content") for m in body["messages"] if m["role"] == "assistant"]


# ------------------------------------------------------------------------- clear_thinking


def test_fidelity_20_clear_thinking_keeps_the_last_turns_for_a_chat_upstream_and_says_so() -> None:
    body = claude_history(
        4,
        **edits(
            {"type": "clear_thinking_20251015", "keep": {"type": "thinking_turns", "value": 2}}
        ),
    )
    out, lost = convert(body, "anthropic", "chat")
    assert thinking_sent_chat(out) == [None, None, "thought 2", "thought 3"]
    loss = lost["request.context_management.edits[0]"]
    assert (
        loss.action == "applied before sending: thinking cleared from 2 earlier assistant turn(s)"
    )


def test_clear_thinking_default_keeps_one_turn() -> None:
    body = claude_history(3, **edits({"type": "clear_thinking_20251015"}))
    out, lost = convert(body, "anthropic", "chat")
    assert thinking_sent_chat(out) == [None, None, "thought 2"]
    assert "2 earlier" in lost["request.context_management.edits[0]"].action


@pytest.mark.parametrize("target", ["chat", "responses"])
def test_fidelity_20_claude_codes_keep_all_changes_nothing_and_reports_nothing(target: str) -> None:
    with open("tests/fixtures/anthropic/claude_code_request.json") as f:
        body = json.load(f)["body"]
    body["model"] = "gpt-5.5"
    assert body["context_management"]["edits"] == [
        {"type": "clear_thinking_20251015", "keep": "all"}
    ]
    _, lost = convert(body, "anthropic", target)
    assert not [field for field in lost if "context_management" in field]


def test_a_turn_of_thinking_alone_is_removed_whole() -> None:
    body = {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "xx"}]},
            {"role": "user", "content": "b"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "text", "text": "B"},
                ],
            },
            {"role": "user", "content": "c"},
        ],
        **edits(
            {"type": "clear_thinking_20251015", "keep": {"type": "thinking_turns", "value": 1}}
        ),
    }
    out, lost = convert(body, "anthropic", "chat")
    assert [m["role"] for m in out["messages"]] == ["user", "user", "assistant", "user"]
    assert "1 earlier" in lost["request.context_management.edits[0]"].action


# ------------------------------------------------------------------------ clear_tool_uses


@pytest.mark.parametrize("target", ["chat", "responses"])
def test_fidelity_20_clear_tool_uses_clears_old_results_as_anthropic_documents(target: str) -> None:
    edit = {
        "type": "clear_tool_uses_20250919",
        "trigger": {"type": "tool_uses", "value": 3},
        "keep": {"type": "tool_uses", "value": 2},
        "exclude_tools": ["ls"],
        "clear_tool_inputs": ["read"],
    }
    out, lost = convert(claude_history(6, **edits(edit)), "anthropic", target)
    results = results_sent(out, target)
    calls = calls_sent(out, target)
    # the calls not excluded are the reads 0, 2 and 4; the last two of them are kept
    assert results["call_0"] == CLEARED_RESULT
    assert calls["call_0"] == CLEARED_INPUT
    for i in (1, 2, 3, 4, 5):
        assert results[f"call_{i}"] == f"out {i}"
        assert json.loads(calls[f"call_{i}"]) == {"n": i}
    action = lost["request.context_management.edits[0]"].action
    assert action.startswith("applied before sending: 1 tool use(s) cleared (1 with their input)")


def test_clear_tool_uses_below_the_trigger_clears_nothing_and_says_so() -> None:
    edit = {"type": "clear_tool_uses_20250919"}  # default trigger: 100,000 input tokens
    out, lost = convert(claude_history(5, **edits(edit)), "anthropic", "chat")
    assert CLEARED_RESULT not in results_sent(out, "chat").values()
    action = lost["request.context_management.edits[0]"].action
    assert action == "applied before sending: input_tokens below 100000, nothing cleared"


def test_clear_tool_uses_on_an_input_token_trigger_keeps_three_by_default() -> None:
    edit = {"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 10}}
    out, _ = convert(claude_history(5, **edits(edit)), "anthropic", "responses")
    results = results_sent(out, "responses")
    assert [results[f"call_{i}"] == CLEARED_RESULT for i in range(5)] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert json.loads(calls_sent(out, "responses")["call_0"]) == {"n": 0}  # inputs kept


def test_clear_at_least_cancels_an_edit_that_would_clear_too_little() -> None:
    edit = {
        "type": "clear_tool_uses_20250919",
        "trigger": {"type": "tool_uses", "value": 0},
        "keep": {"type": "tool_uses", "value": 0},
        "clear_at_least": {"type": "input_tokens", "value": 5000},
    }
    out, lost = convert(claude_history(3, **edits(edit)), "anthropic", "chat")
    assert CLEARED_RESULT not in results_sent(out, "chat").values()
    assert "fewer than clear_at_least 5000" in lost["request.context_management.edits[0]"].action


@settings(max_examples=40, deadline=None)
@given(turns=st.integers(0, 8), keep=st.integers(0, 10), trigger=st.integers(0, 10))
def test_clear_tool_uses_clears_all_but_the_kept_calls(turns: int, keep: int, trigger: int) -> None:
    edit = {
        "type": "clear_tool_uses_20250919",
        "trigger": {"type": "tool_uses", "value": trigger},
        "keep": {"type": "tool_uses", "value": keep},
        "clear_tool_inputs": True,
    }
    out, _ = convert(claude_history(turns, **edits(edit)), "anthropic", "chat")
    results = results_sent(out, "chat")
    cleared = [i for i in range(turns) if results[f"call_{i}"] == CLEARED_RESULT]
    expected = list(range(max(turns - keep, 0))) if turns > trigger else []
    assert cleared == expected
    calls = calls_sent(out, "chat")
    assert [i for i in range(turns) if calls[f"call_{i}"] == CLEARED_INPUT] == expected


def test_a_malformed_or_unknown_edit_is_reported_not_applied() -> None:
    body = claude_history(
        2,
        **edits(
            {"type": "clear_tool_uses_20250919", "keep": {"type": "turns", "value": 1}},
            {"type": "clear_everything_20990101"},
        ),
    )
    out, lost = convert(body, "anthropic", "chat")
    assert CLEARED_RESULT not in results_sent(out, "chat").values()
    assert "not applied" in lost["request.context_management.edits[0]"].reason
    assert "not applied" in lost["request.context_management.edits[1]"].reason


def test_strict_mode_refuses_an_edit_it_would_apply() -> None:
    body = claude_history(2, **edits({"type": "clear_thinking_20251015"}))
    with pytest.raises(apibridge.UnsupportedFeature) as info:
        apibridge.convert_request(body, source="anthropic", target="chat", strict=True)
    assert info.value.loss.field == "request.context_management.edits[0]"


# ------------------------------------------------------------------------------ compaction


def test_fidelity_20_anthropic_compact_becomes_responses_compaction() -> None:
    edit = {
        "type": "compact_20260112",
        "trigger": {"type": "input_tokens", "value": 120000},
        "instructions": "Keep file names.",
    }
    out, lost = convert(claude_history(1, **edits(edit)), "anthropic", "responses")
    assert out["context_management"] == [{"type": "compaction", "compact_threshold": 120000}]
    assert lost["request.context_management.edits[0].instructions"].action == "dropped"


def test_anthropic_compact_for_a_chat_upstream_is_reported() -> None:
    out, lost = convert(
        claude_history(1, **edits({"type": "compact_20260112"})), "anthropic", "chat"
    )
    assert "context_management" not in out
    assert "cannot compact" in lost["request.context_management.edits[0]"].reason


def test_fidelity_20_responses_compaction_becomes_an_anthropic_compact_edit_with_its_beta() -> None:
    body = {
        "model": "claude-opus-4-6",
        "input": "hi",
        "context_management": [{"type": "compaction", "compact_threshold": 90000}],
    }
    out, lost = convert(body, "responses", "anthropic")
    expected = {
        "edits": [{"type": "compact_20260112", "trigger": {"type": "input_tokens", "value": 90000}}]
    }
    assert out["context_management"] == expected
    assert not [field for field in lost if "context_management" in field]
    ctx = Context()
    responses = get_codec("responses")
    get_codec("anthropic").encode_request(responses.decode_request(body, Context()), ctx)
    assert ctx.upstream_betas == [COMPACT_BETA]


def test_responses_compaction_for_a_chat_upstream_is_reported() -> None:
    body = {"model": "m", "input": "hi", "context_management": [{"type": "compaction"}]}
    out, lost = convert(body, "responses", "chat")
    assert "context_management" not in out
    assert "cannot compact" in lost["request.context_management[0]"].reason


@pytest.mark.parametrize("source", ["anthropic", "responses"])
def test_same_format_context_management_is_untouched(source: str) -> None:
    if source == "anthropic":
        body = claude_history(
            3, **edits({"type": "clear_thinking_20251015"}, {"type": "compact_20260112"})
        )
    else:
        body = {
            "model": "m",
            "input": "hi",
            "context_management": [{"type": "compaction", "compact_threshold": 1}],
        }
    out, lost = convert(body, source, source)
    assert out["context_management"] == body["context_management"]
    assert not lost


def test_excluded_tools_are_matched_under_a_shortened_name() -> None:
    long_name = "mcp__a_very_long_server_name_for_testing__" + "x" * 40  # over OpenAI's 64
    body = claude_history(
        3,
        **edits(
            {
                "type": "clear_tool_uses_20250919",
                "trigger": {"type": "tool_uses", "value": 0},
                "keep": {"type": "tool_uses", "value": 0},
                "exclude_tools": [long_name],
            }
        ),
    )
    for message in body["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else ():
            if block.get("name") == "read":
                block["name"] = long_name
    body["tools"] = [{"name": n, "input_schema": {"type": "object"}} for n in (long_name, "ls")]
    out, _ = convert(body, "anthropic", "chat")
    assert all(len(t["function"]["name"]) <= 64 for t in out["tools"])
    results = results_sent(out, "chat")
    # the reads (calls 0 and 2) are excluded under their shortened name; the ls call is not
    assert [results[f"call_{i}"] == CLEARED_RESULT for i in range(3)] == [False, True, False]


def test_clear_thinking_leaves_every_other_message_where_it_was() -> None:
    body = claude_history(3, **edits({"type": "clear_thinking_20251015"}))
    body["messages"].insert(1, {"role": "user", "content": []})  # empty, but the client's own
    losses: list[apibridge.Loss] = []
    out = apibridge.convert_request(body, source="anthropic", target="chat", losses=losses)
    assert len(out["messages"]) == len(body["messages"])  # one tool message per result here
    assert thinking_sent_chat(out) == [None, None, "thought 2"]
