"""The ``chat`` codec against what OpenAI-compatible servers (vLLM, Ollama, llama.cpp) accept.

vLLM declares ``reasoning_effort: Literal["low", "medium", "high"]`` and ``tools`` whose
``type`` is ``Literal["function"]``; anything else is a 400. So a request from another format
(Claude Code's thinking budgets, Codex CLI's free-form ``apply_patch``) must arrive in that
shape, and the answers must come back to the client as its own tool kinds. A Chat client's
own values are kept exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

import apibridge
from apibridge._sse import SSEDecoder
from apibridge.codecs import Context, chat, get_codec
from apibridge.model import (
    Event,
    Message,
    PartDelta,
    PartStart,
    PartStop,
    Request,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    accumulate,
)
from oracles import final_from_stream, validate_request, validate_response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VLLM_EFFORTS = {"low", "medium", "high"}
INPUT_SCHEMA = {
    "type": "object",
    "properties": {"input": {"type": "string"}},
    "required": ["input"],
}
PATCH = (
    "*** Begin Patch\n"
    "*** Add File: hello.txt\n"
    '+hello "world" \\ tab\there\n'
    "+ünïcode ✓\n"
    "*** End Patch\n"
)


def codex_request() -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(
        (FIXTURES / "responses" / "codex_request.json").read_bytes()
    )["body"]
    return body


def losses_of(losses: list[apibridge.Loss]) -> dict[str, str]:
    return {loss.field: loss.action for loss in losses}


# ------------------------------------------------------------------------ reasoning_effort


def claude_code_request(**reasoning: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64000,
        "messages": [{"role": "user", "content": "Fix the bug."}],
        **reasoning,
    }


@pytest.mark.parametrize(
    ("reasoning", "effort", "lost"),
    [
        # Claude Code's budgets: 1024 is "minimal" and 31999/63999 "xhigh" in the band table,
        # neither of which vLLM accepts.
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low", "budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 31999}}, "high", "budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 63999}}, "high", "budget_tokens"),
        (
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}},
            "high",
            "effort",
        ),
        ({"output_config": {"effort": "max"}}, "high", "effort"),
        ({"output_config": {"effort": "medium"}}, "medium", None),
    ],
)
def test_claude_code_thinking_becomes_an_effort_vllm_accepts(
    reasoning: dict[str, Any], effort: str, lost: str | None
) -> None:
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(
        claude_code_request(**reasoning), source="anthropic", target="chat", losses=losses
    )
    validate_request("chat", body)
    assert body["reasoning_effort"] == effort
    assert body["reasoning_effort"] in VLLM_EFFORTS
    found = {
        k: v for k, v in losses_of(losses).items() if k.startswith(("thinking", "output_config"))
    }
    if lost is None:
        assert found == {}
    else:
        # named as the Anthropic client spells it
        spelled = {"budget_tokens": "thinking.budget_tokens", "effort": "output_config.effort"}
        assert found == {spelled[lost]: f"sent as reasoning_effort {effort!r}"}


@pytest.mark.parametrize(("word", "effort"), [("minimal", "low"), ("xhigh", "high")])
def test_a_responses_effort_word_is_clamped(word: str, effort: str) -> None:
    request = {"model": "gpt-5", "input": "hi", "reasoning": {"effort": word}}
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(request, source="responses", target="chat", losses=losses)
    assert body["reasoning_effort"] == effort
    assert losses_of(losses)["reasoning.effort"] == f"sent as reasoning_effort {effort!r}"


@pytest.mark.parametrize("word", ["minimal", "low", "medium", "high", "xhigh", "none", "max"])
def test_a_chat_clients_own_effort_is_kept_exactly(word: str) -> None:
    request = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "reasoning_effort": word,
    }
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(request, source="chat", target="chat", losses=losses)
    assert body == request
    assert losses == []


# ------------------------------------------------------------------------- free-form tools


def test_codex_request_offers_only_function_tools() -> None:
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(
        codex_request(), source="responses", target="chat", losses=losses
    )
    validate_request("chat", body)
    assert body["tools"]
    assert {tool["type"] for tool in body["tools"]} == {"function"}
    assert all(set(tool) == {"type", "function"} for tool in body["tools"])
    (patch,) = [t["function"] for t in body["tools"] if t["function"]["name"] == "apply_patch"]
    assert patch["parameters"] == INPUT_SCHEMA
    declared = next(t for t in codex_request()["tools"] if t.get("name") == "apply_patch")
    # the tool's own description first, then the grammar it cannot enforce
    assert patch["description"].startswith(declared["description"])
    assert "lark grammar" in patch["description"]
    assert declared["format"]["definition"] in patch["description"]
    k = [t.get("name") for t in codex_request()["tools"]].index("apply_patch")
    grammar_losses = [loss for loss in losses if loss.field.endswith(".format")]
    assert [(loss.field, loss.action) for loss in grammar_losses] == [
        (f"tools[{k}].format", "described in the tool description")
    ]


def test_custom_history_and_tool_choice_become_function_shapes() -> None:
    request = codex_request()
    request["input"] = [
        *request["input"],
        {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done!"},
    ]
    request["tool_choice"] = {"type": "custom", "name": "apply_patch"}
    body = apibridge.convert_request(request, source="responses", target="chat", losses=[])
    validate_request("chat", body)
    call = body["messages"][-2]["tool_calls"][0]
    assert call["type"] == "function"
    assert call["function"]["name"] == "apply_patch"
    assert json.loads(call["function"]["arguments"]) == {"input": PATCH}
    assert body["messages"][-1] == {"role": "tool", "tool_call_id": "call_p", "content": "Done!"}
    assert body["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}


def test_a_chat_clients_own_custom_tools_stay_custom() -> None:
    request = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "patch it"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "custom",
                        "custom": {"name": "apply_patch", "input": PATCH},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ],
        "tools": [
            {
                "type": "custom",
                "custom": {
                    "name": "apply_patch",
                    "format": {
                        "type": "grammar",
                        "grammar": {"syntax": "lark", "definition": "start: /.+/"},
                    },
                },
            }
        ],
        "tool_choice": {"type": "custom", "custom": {"name": "apply_patch"}},
    }
    losses: list[apibridge.Loss] = []
    assert apibridge.convert_request(request, source="chat", target="chat", losses=losses) == (
        request
    )
    assert losses == []
    # ... and a custom call in the answer to that client stays a custom call
    decoded = chat.decode_request(request, Context())
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_2",
                            "type": "custom",
                            "custom": {"name": "apply_patch", "input": '{"input": "x"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }
    response = chat.decode_response(answer, Context(request=decoded))
    assert response.content == (
        ToolCallPart(id="call_2", name="apply_patch", arguments='{"input": "x"}', kind="custom"),
    )


def test_a_canonical_tool_choice_names_a_chat_custom_tool_in_its_own_form() -> None:
    native = chat.decode_request(
        {
            "model": "m",
            "messages": [],
            "tools": [{"type": "custom", "custom": {"name": "c"}}],
        },
        Context(),
    )
    choice = ToolChoice(mode="auto", allowed=("c",))
    body = chat.encode_request(
        Request(model="m", messages=(), tools=native.tools, tool_choice=choice), Context()
    )
    assert body["tool_choice"]["allowed_tools"]["tools"] == [
        {"type": "custom", "custom": {"name": "c"}}
    ]


# ------------------------------------------------------------------------------- answers

EXEC_ARGS = '{"cmd": "ls -la", "workdir": "/tmp"}'


def _call_head(index: int, call_id: str, name: str) -> dict[str, Any]:
    return {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    data = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "qwen3",
        "choices": [choice],
    }
    return b"data: " + orjson.dumps(data) + b"\n\n"


def _pieces(text: str, n: int) -> list[str]:
    size = -(-len(text) // n)
    return [text[i : i + size] for i in range(0, len(text), size)]


def interleaved_stream() -> bytes:
    """A vLLM-style stream: apply_patch (a function taking {"input"}) and exec_command,
    their argument fragments alternating after both calls opened."""
    patch_args = orjson.dumps({"input": PATCH}).decode()
    out = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Patching."}),
        _chunk({"tool_calls": [_call_head(0, "call_patch", "apply_patch")]}),
        _chunk({"tool_calls": [_call_head(1, "call_exec", "exec_command")]}),
    ]
    patch_pieces, exec_pieces = _pieces(patch_args, 6), _pieces(EXEC_ARGS, 6)
    for a, b in zip(patch_pieces, exec_pieces, strict=True):
        out.append(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}))
        out.append(_chunk({"tool_calls": [{"index": 1, "function": {"arguments": b}}]}))
    out.append(_chunk({}, "tool_calls"))
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "qwen3",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Patching.",
                    "tool_calls": [
                        {
                            "id": "call_patch",
                            "type": "function",
                            "function": {
                                "name": "apply_patch",
                                "arguments": orjson.dumps({"input": PATCH}).decode(),
                            },
                        },
                        {
                            "id": "call_exec",
                            "type": "function",
                            "function": {"name": "exec_command", "arguments": EXEC_ARGS},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _calls(output: Any) -> list[tuple[str, str, str, str]]:
    out = []
    for item in output:
        if item.type == "custom_tool_call":
            out.append((item.type, item.call_id, item.name, item.input))
        elif item.type == "function_call":
            out.append((item.type, item.call_id, item.name, item.arguments))
    return out


EXPECTED_CALLS = [
    ("custom_tool_call", "call_patch", "apply_patch", PATCH),
    ("function_call", "call_exec", "exec_command", EXEC_ARGS),
]


def test_a_chat_answer_gives_codex_its_custom_call_back() -> None:
    body = apibridge.convert_response(
        completion(), source="chat", target="responses", request=codex_request(), losses=[]
    )
    final = validate_response("responses", body)
    assert _calls(final.output) == EXPECTED_CALLS


def test_a_streamed_chat_answer_gives_codex_its_custom_call_back() -> None:
    data = interleaved_stream()
    out = b"".join(
        apibridge.convert_stream(
            [data], source="chat", target="responses", request=codex_request(), losses=[]
        )
    )
    final = final_from_stream("responses", out)
    assert _calls(final.output) == EXPECTED_CALLS
    # any chunking gives the same answer
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]
    rechunked = b"".join(
        apibridge.convert_stream(
            pieces, source="chat", target="responses", request=codex_request(), losses=[]
        )
    )
    assert _calls(final_from_stream("responses", rechunked).output) == EXPECTED_CALLS


def decode_events(data: bytes, request: Request) -> list[Event]:
    decoder = get_codec("chat").StreamDecoder(Context(request=request))
    sse = SSEDecoder()
    frames = [*sse.feed(data), *sse.close()]
    return [e for f in frames for e in decoder.feed(f)] + decoder.close()


def test_the_stream_holds_the_wrapped_input_and_streams_other_calls() -> None:
    request = Request(
        model="m",
        messages=(Message(role="user", content=(TextPart(text="go"),)),),
        tools=(
            Tool(name="apply_patch", kind="custom"),
            Tool(name="exec_command", parameters={"type": "object"}),
        ),
    )
    events = decode_events(interleaved_stream(), request)
    starts = {e.index: e.part for e in events if isinstance(e, PartStart)}
    patch_index = next(i for i, p in starts.items() if getattr(p, "name", "") == "apply_patch")
    exec_index = next(i for i, p in starts.items() if getattr(p, "name", "") == "exec_command")
    assert isinstance(starts[patch_index], ToolCallPart)
    assert starts[patch_index].kind == "custom"  # type: ignore[union-attr]
    patch_deltas = [e for e in events if isinstance(e, PartDelta) and e.index == patch_index]
    exec_deltas = [e for e in events if isinstance(e, PartDelta) and e.index == exec_index]
    assert [d.value for d in patch_deltas] == [PATCH]  # one piece, unwrapped, at the end
    assert len(exec_deltas) == 6  # fragment by fragment, as they came
    assert "".join(d.value for d in exec_deltas) == EXEC_ARGS
    patch_delta_at = events.index(patch_deltas[0])
    assert isinstance(events[patch_delta_at + 1], PartStop)
    assert events.index(exec_deltas[-1]) < patch_delta_at
    answer = accumulate(events)
    assert answer.content[1:] == (
        ToolCallPart(id="call_patch", name="apply_patch", arguments=PATCH, kind="custom"),
        ToolCallPart(id="call_exec", name="exec_command", arguments=EXEC_ARGS),
    )
    non_streamed = chat.decode_response(completion(), Context(request=request))
    assert non_streamed.content == answer.content


def test_arguments_that_are_not_the_wrapper_are_kept_as_the_input() -> None:
    request = Request(model="m", messages=(), tools=(Tool(name="apply_patch", kind="custom"),))
    body = completion()
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = "*** Begin Patch"
    response = chat.decode_response(body, Context(request=request))
    call = response.content[1]
    assert isinstance(call, ToolCallPart)
    assert (call.kind, call.arguments) == ("custom", "*** Begin Patch")
