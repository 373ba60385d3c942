"""``Exchange``: tool names an upstream rejects are shortened on the way out and restored on
the way back (FIDELITY 15), in answers and streams, for function and free-form tools alike."""

from __future__ import annotations

from typing import Any

import attrs
import orjson
import pytest

import apibridge
from apibridge._sse import SSEDecoder
from apibridge.codecs import Context
from apibridge.model import PartStart, Request, Tool, ToolCallPart

LONG = "mcp__a_very_long_server_name_for_testing__and_an_even_longer_tool_name_here"


def chat_answer(name: str, arguments: str) -> dict[str, object]:
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }


def chat_stream(name: str, fragments: list[str]) -> bytes:
    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        body = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"

    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": name}}
    parts = [chunk({"role": "assistant", "tool_calls": [first]})]
    parts += [
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": f}}]}) for f in fragments
    ]
    return b"".join([*parts, chunk({}, "tool_calls"), b"data: [DONE]\n\n"])


def test_fidelity_15_long_mcp_tool_names_are_shortened_and_restored() -> None:
    request = {
        "model": "m",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "go"}],
        "tools": [{"name": LONG, "input_schema": {"type": "object"}}],
    }
    exchange = apibridge.Exchange.from_client(request, client="anthropic", upstream="chat")
    sent = exchange.upstream_request()["tools"][0]["function"]["name"]
    assert len(LONG) > 64 >= len(sent)
    assert sent.startswith(LONG[:20])
    answer = exchange.client_response(chat_answer(sent, '{"x": 1}'))
    assert answer["content"][0]["name"] == LONG
    assert answer["content"][0]["input"] == {"x": 1}
    streamed = b"".join(
        apibridge.convert_stream(
            [chat_stream(sent, ['{"x"', ": 1}"])],
            source="chat",
            target="anthropic",
            request=request,
            losses=[],
        )
    )
    assert f'"name":"{LONG}"'.encode() in streamed
    assert sent.encode() not in streamed


def test_a_renamed_free_form_tool_is_still_unwrapped() -> None:
    request = {
        "model": "m",
        "input": "patch it",
        "tools": [{"type": "custom", "name": "apply.patch", "description": "Apply a patch"}],
    }
    exchange = apibridge.Exchange.from_client(request, client="responses", upstream="chat")
    sent = exchange.upstream_request()["tools"][0]["function"]["name"]
    assert sent != "apply.patch"
    wrapped = orjson.dumps({"input": "*** Begin Patch\n"}).decode()
    out = exchange.client_response(chat_answer(sent, wrapped))["output"]
    assert [(o["type"], o["name"], o["input"]) for o in out] == [
        ("custom_tool_call", "apply.patch", "*** Begin Patch\n")
    ]
    streamed = b"".join(
        apibridge.convert_stream(
            [chat_stream(sent, [wrapped[:9], wrapped[9:]])],
            source="chat",
            target="responses",
            request=request,
            losses=[],
        )
    )
    assert b'"type":"custom_tool_call"' in streamed
    assert b'"input":"*** Begin Patch\\n"' in streamed


def test_exchange_is_built_once_and_frozen() -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    exchange = apibridge.Exchange.from_client(body, client="anthropic", upstream="chat")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        exchange.request = exchange.request  # type: ignore[misc]
    # forwarding data travels beside the exchange, and there is no unused error helper
    for gone in ("client_headers", "client_key", "client_error"):
        assert not hasattr(exchange, gone)


def test_a_policy_shapes_the_request_before_the_tool_names_are_mapped() -> None:
    schema = {"type": "object"}
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}

    def add_tool(request: Request, ctx: Context) -> Request:
        ctx.lose("tools", "added by the policy")
        return attrs.evolve(request, model="renamed", tools=(Tool(name=LONG, parameters=schema),))

    exchange = apibridge.Exchange.from_client(
        body, client="anthropic", upstream="chat", policy=add_tool
    )
    assert exchange.request.model == "renamed"
    assert LONG in exchange.names.to_upstream  # mapped from the final request
    assert exchange.ctx.request is not None
    assert exchange.ctx.request.model == "m"  # the client's own request, for its answer
    assert [loss.field for loss in exchange.losses] == ["tools"]


def test_stream_decoder_gives_events_with_the_clients_tool_names() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": LONG, "input_schema": {"type": "object"}}],
    }
    exchange = apibridge.Exchange.from_client(body, client="anthropic", upstream="chat")
    short = exchange.names.to_upstream[LONG]
    decoder = exchange.stream_decoder()
    frames = SSEDecoder().feed(chat_stream(short, ['{"a"', ": 1}"]))
    events = [e for f in frames for e in decoder.feed(f)] + decoder.close()
    started = [e.part for e in events if isinstance(e, PartStart)]
    assert [p.name for p in started if isinstance(p, ToolCallPart)] == [LONG]
    # canonical events made by a transport itself go through the same restoration
    call = ToolCallPart(id="c", name=short, arguments="")
    (restored,) = decoder.restore([PartStart(index=0, part=call)])
    assert isinstance(restored, PartStart)
    assert isinstance(restored.part, ToolCallPart)
    assert restored.part.name == LONG


@pytest.mark.parametrize(
    ("client", "body", "field"),
    [
        (
            "anthropic",
            {
                "model": "m",
                "max_tokens": 4096,
                "thinking": {"type": "enabled", "budget_tokens": 2048},
                "messages": [{"role": "user", "content": "hi"}],
            },
            "thinking.budget_tokens",
        ),
        (
            "chat",
            {
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "n", "description": "d", "schema": {}},
                },
            },
            "response_format.json_schema.description",
        ),
        (
            "responses",
            {
                "model": "m",
                "input": "hi",
                "text": {"format": {"type": "json_schema", "name": "n", "schema": {}}},
            },
            "text.format.name",
        ),
        (
            "gemini",
            {
                "model": "models/m",
                "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                "generationConfig": {
                    "maxOutputTokens": 4000,
                    "thinkingConfig": {"thinkingBudget": 8000},
                },
            },
            "generationConfig.thinkingConfig.thinkingBudget",
        ),
    ],
)
def test_losses_name_the_field_the_client_wrote(
    client: str, body: dict[str, Any], field: str
) -> None:
    """What the upstream request cannot carry is named by the client's own field, not by the
    canonical request's (``reasoning.budget_tokens``, ``output_format``)."""
    losses: list[apibridge.Loss] = []
    target = "anthropic" if client != "anthropic" else "chat"
    apibridge.convert_request(body, source=client, target=target, losses=losses)
    fields = [loss.field for loss in losses]
    assert field in fields, fields
    assert not [f for f in fields if f.startswith(("reasoning.", "output_format"))], fields


@pytest.mark.parametrize(("budget", "max_tokens", "sent"), [(8000, 4000, 3999), (1024, 256, None)])
def test_another_apis_budget_is_kept_below_claudes_max_tokens(
    budget: int, max_tokens: int, sent: int | None
) -> None:
    """Gemini's ``thinkingBudget`` may exceed its ``maxOutputTokens``; Anthropic answers 400 to
    ``budget_tokens >= max_tokens``: the budget is clamped (or thinking dropped when no
    1,024-token budget fits), and the change is reported."""
    body = {
        "model": "models/gemini-2.5-flash",
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {
            "maxOutputTokens": max_tokens,
            "thinkingConfig": {"thinkingBudget": budget},
        },
    }
    losses: list[apibridge.Loss] = []
    out = apibridge.convert_request(body, source="gemini", target="anthropic", losses=losses)
    assert out["max_tokens"] == max_tokens
    if sent is None:
        assert "thinking" not in out
    else:
        assert out["thinking"] == {"type": "enabled", "budget_tokens": sent}
    assert [loss.field for loss in losses] == [
        "generationConfig.thinkingConfig"
        if sent is None
        else "generationConfig.thinkingConfig.thinkingBudget"
    ]


def test_a_claude_clients_own_budget_goes_as_it_came() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "messages": [{"role": "user", "content": "hi"}],
    }
    out = apibridge.convert_request(body, source="anthropic", target="anthropic")
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 4000}
