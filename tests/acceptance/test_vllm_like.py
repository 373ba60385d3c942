"""The vLLM-like upstream refuses what vLLM refuses and answers what the SDK accepts.

The client scenarios (``test_claude_code_vllm.py``, ``test_codex_vllm.py``) trust
:mod:`.vllm_like` to be as strict as vLLM; these checks hold it to the facts written in its
docstring (numbered there, named here) and hold its answers to the official SDK's types and
stream accumulator, so a failing scenario points at the gateway, not at the fake.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from apibridge import convert_request
from oracles import final_from_stream, validate_response

from .recorder import LoopbackServer
from .scripted import Call, Turn
from .vllm_like import VllmLikeChat, context_refusal, prompt_tokens, refusal

pytestmark = pytest.mark.acceptance

_MESSAGES = [{"role": "user", "content": "hi"}]
_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
_CALL = Call(id="chatcmpl-tool-0123abcd", name="get_weather", arguments='{"city": "Oslo"}')


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": _MESSAGES, **fields}


ACCEPTED: dict[str, dict[str, Any]] = {
    "plain": _body(),
    "max_completion_tokens": _body(max_completion_tokens=64),
    "max_tokens (deprecated, still taken)": _body(max_tokens=64),
    "tools with strict (ignored extra key)": _body(
        tools=[{"type": "function", "function": {"name": "f", "strict": True}}]
    ),
    "named tool_choice": _body(
        tools=[_TOOL], tool_choice={"type": "function", "function": {"name": "get_weather"}}
    ),
    "reasoning_effort high": _body(reasoning_effort="high"),
    "stream_options with stream": _body(stream=True, stream_options={"include_usage": True}),
    "tool result as text parts": _body(
        messages=[
            *_MESSAGES,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "chatcmpl-tool-1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "chatcmpl-tool-1",
                "content": [{"type": "text", "text": "out"}],
            },
        ]
    ),
    "reasoning_content in history (renamed)": _body(
        messages=[*_MESSAGES, {"role": "assistant", "content": "x", "reasoning_content": "r"}]
    ),
}

REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "fact 6: unknown content part type": (
        _body(messages=[{"role": "user", "content": [{"type": "tool_result", "x": 1}]}]),
        "Unsupported chat content part type",
    ),
    "fact 8: custom tool call in history": (
        _body(
            messages=[
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "custom", "custom": {"name": "f", "input": "x"}}
                    ],
                }
            ]
        ),
        "tool_calls.0",
    ),
    "fact 10: custom tool": (
        _body(tools=[{"type": "custom", "custom": {"name": "apply_patch"}}]),
        "tools.0",
    ),
    "fact 11: empty tools": (_body(tools=[]), "must not be an empty array"),
    "fact 12: tool_choice without tools": (
        _body(tool_choice="auto"),
        "`tools` must be set",
    ),
    "fact 12: allowed_tools tool_choice": (
        _body(tools=[_TOOL], tool_choice={"type": "allowed_tools", "allowed_tools": {}}),
        "Invalid value for `function`",
    ),
    "fact 12: unknown tool named": (
        _body(tools=[_TOOL], tool_choice={"type": "function", "function": {"name": "nope"}}),
        "does not match any",
    ),
    "fact 13: reasoning_effort minimal": (_body(reasoning_effort="minimal"), "reasoning_effort"),
    "fact 13: reasoning_effort xhigh": (_body(reasoning_effort="xhigh"), "reasoning_effort"),
    "fact 15: stream_options without stream": (
        _body(stream_options={"include_usage": True}),
        "Stream options can only be defined",
    ),
    "fact 16: top_logprobs without logprobs": (_body(top_logprobs=3), "logprobs"),
    "fact 17: json_schema without schema": (
        _body(response_format={"type": "json_schema"}),
        "json_schema",
    ),
    "fact 19: max_tokens as a string": (_body(max_tokens="64"), "max_tokens"),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepts(name: str) -> None:
    assert refusal(ACCEPTED[name]) is None


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refuses(name: str) -> None:
    body, words = REFUSED[name]
    refused = refusal(body)
    assert refused is not None
    assert words in refused.message or words == refused.param, refused.message


def _post(fake: VllmLikeChat, body: dict[str, Any]) -> httpx.Response:
    with LoopbackServer(fake) as server:
        return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=10)


@pytest.mark.parametrize("envelope", ["nested", "flat"])
def test_refusal_is_a_400_in_vllms_envelope(envelope: str) -> None:
    fake = VllmLikeChat(envelope=envelope)
    answer = _post(fake, _body(tool_choice="required"))
    assert answer.status_code == 400
    body = answer.json()
    error = body["error"] if envelope == "nested" else body
    assert error["code"] == 400
    assert error["param"] == "tool_choice"
    assert "`tools` must be set" in error["message"]
    if envelope == "flat":
        assert body["object"] == "error"
    assert [(i, r.param) for i, r in fake.refusals] == [(0, "tool_choice")]


def test_unknown_fields_are_ignored_and_kept() -> None:
    fake = VllmLikeChat()
    answer = _post(fake, _body(metadata={"a": "b"}, store=False))
    assert answer.status_code == 200
    assert fake.ignored == [(0, {"metadata", "store"})]


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_answers_in_vllms_dialect(field: str, stream: bool) -> None:
    turn = Turn(reasoning="Thinking it over.", text="Checking.", calls=(_CALL,))
    fake = VllmLikeChat([turn], reasoning_field=field)
    body = _body(tools=[_TOOL], stream=stream)
    if stream:
        body["stream_options"] = {"include_usage": True}
    answer = _post(fake, body)
    assert answer.status_code == 200, answer.text
    if stream:
        final = final_from_stream("chat", answer.content)
        chunks = [
            orjson.loads(line[6:])
            for line in answer.content.split(b"\n\n")
            if line.startswith(b"data: {")
        ]
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        assert "".join(c["choices"][0]["delta"].get(field, "") for c in chunks[:-1]) == (
            turn.reasoning
        )
        assert chunks[-1]["choices"] == []
        assert chunks[-1]["usage"]["completion_tokens"] == 7
        assert all("usage" not in c for c in chunks[:-1])
    else:
        raw = answer.json()
        assert raw["choices"][0]["message"][field] == turn.reasoning
        final = validate_response("chat", raw)
    (call,) = final.choices[0].message.tool_calls
    assert call.id.startswith("chatcmpl-tool-")
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Oslo"},
    )
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.choices[0].message.content == "Checking."


def test_continuous_usage_on_every_chunk() -> None:
    fake = VllmLikeChat([Turn(text="Hello there.")])
    options = {"include_usage": True, "continuous_usage_stats": True}
    answer = _post(fake, _body(stream=True, stream_options=options))
    chunks = [
        orjson.loads(line[6:])
        for line in answer.content.split(b"\n\n")
        if line.startswith(b"data: {")
    ]
    assert all(c["usage"]["prompt_tokens"] == 20 for c in chunks)
    assert chunks[0]["usage"]["completion_tokens"] == 0
    final_from_stream("chat", answer.content)


def test_no_usage_in_a_stream_unless_asked() -> None:
    fake = VllmLikeChat([Turn(text="Hello.")])
    answer = _post(fake, _body(stream=True))
    assert b'"usage"' not in answer.content
    assert answer.content.endswith(b"data: [DONE]\n\n")


def test_api_key_and_models() -> None:
    fake = VllmLikeChat(api_key="k")
    with LoopbackServer(fake) as server:
        denied = httpx.post(f"{server.url}/v1/chat/completions", json=_body(), timeout=10)
        models = httpx.get(f"{server.url}/v1/models", headers={"authorization": "Bearer k"})
    assert denied.status_code == 401
    assert models.json()["data"][0]["owned_by"] == "vllm"


def test_scripted_call_ids_look_like_vllms() -> None:
    with pytest.raises(ValueError, match="chatcmpl-tool-"):
        VllmLikeChat([Turn(calls=(Call(id="call_1", name="f", arguments="{}"),))])


def test_prompt_plus_output_beyond_the_context_is_refused() -> None:
    body = _body(max_tokens=1000)
    fits = prompt_tokens(body) + 1000
    assert context_refusal(body, fits) is None
    refused = context_refusal(body, fits - 1)
    assert refused is not None
    assert f"maximum context length is {fits - 1} tokens" in refused.message
    fake = VllmLikeChat(max_model_len=fits - 1)
    answer = _post(fake, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "BadRequestError"


# -------------------------------------------- what a generic Chat upstream sends to vLLM

_FIXTURES = Path(__file__).parents[1] / "fixtures"
_HI = [{"role": "user", "content": "hi"}]
_F = {"name": "f", "input_schema": {"type": "object"}}
_RF = [
    {"type": "function", "name": "f", "parameters": {"type": "object"}},
    {"type": "function", "name": "g", "parameters": {"type": "object"}},
]

#: Client requests beside the fixtures: every effort word and tool_choice shape.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{
        f"responses effort {e}": (
            "responses",
            {"model": "m", "input": "hi", "reasoning": {"effort": e}},
        )
        for e in ("none", "minimal", "low", "medium", "high", "xhigh", "max")
    },
    **{
        f"anthropic effort {e}": (
            "anthropic",
            {"model": "m", "max_tokens": 99, "messages": _HI, "output_config": {"effort": e}},
        )
        for e in ("low", "medium", "high", "xhigh", "max")
    },
    **{
        f"anthropic budget {b}": (
            "anthropic",
            {
                "model": "m",
                "max_tokens": 32000,
                "messages": _HI,
                "thinking": {"type": "enabled", "budget_tokens": b},
            },
        )
        for b in (1024, 12000, 31999)
    },
    **{
        f"anthropic tool_choice {c['type']}": (
            "anthropic",
            {"model": "m", "max_tokens": 99, "messages": _HI, "tools": [_F], "tool_choice": c},
        )
        for c in (
            {"type": "auto"},
            {"type": "any"},
            {"type": "tool", "name": "f"},
            {"type": "none"},
        )
    },
    "anthropic tool_choice without tools": (
        "anthropic",
        {"model": "m", "max_tokens": 99, "messages": _HI, "tool_choice": {"type": "auto"}},
    ),
    "responses tool_choice allowed_tools": (
        "responses",
        {
            "model": "m",
            "input": "hi",
            "tools": _RF,
            "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [_RF[0]]},
        },
    ),
    "responses tool_choice function": (
        "responses",
        {
            "model": "m",
            "input": "hi",
            "tools": _RF,
            "tool_choice": {"type": "function", "name": "f"},
        },
    ),
}

#: What apibridge's generic Chat encoding sends today that vLLM refuses (findings for the
#: vLLM server profile; a fix removes an entry, a new refusal fails the test).
KNOWN_REFUSED: dict[str, str] = {
    "anthropic/request_images_documents.json": "content part type: 'file'",
    "responses/request_images_files.json": "content part type: 'file'",
    "chat/request_vision_files_audio.json": "content part type: 'file'",
    "chat/request_custom_tools_allowed.json": "tools.0",
    "anthropic tool_choice without tools": "`tools` must be set",
    "responses tool_choice allowed_tools": "Invalid value for `function`",
}


def _client_requests() -> dict[str, tuple[str, dict[str, Any]]]:
    found = dict(VARIANTS)
    for fmt in ("anthropic", "responses", "chat"):
        for path in sorted((_FIXTURES / fmt).glob("*request*.json")):
            body = json.loads(path.read_text())["body"]
            if "messages" in body or "input" in body:
                found[f"{fmt}/{path.name}"] = (fmt, body)
    return found


def test_what_generic_chat_sends_vllm_takes() -> None:
    refused: dict[str, str] = {}
    for name, (fmt, body) in _client_requests().items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sent = convert_request(body, source=fmt, target="chat")
        why = refusal(sent)
        if why is not None:
            refused[name] = why.message
    unexpected = {
        name: message
        for name, message in refused.items()
        if name not in KNOWN_REFUSED or KNOWN_REFUSED[name] not in message
    }
    assert unexpected == {}
