"""The Anthropic codec fed canonical values as the *other* codecs produce them.

Each test builds the canonical request, response or error another format decodes to and
checks what the Anthropic encoders make of it: valid for the SDK, nothing dropped silently.
The ``test_fidelity_N_…`` tests are the FIDELITY.md failure classes that concern Claude.
"""

from __future__ import annotations

from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_anthropic import has_loss, load

from apibridge._exchange import ToolNames
from apibridge.codecs import anthropic as codec
from apibridge.codecs._context import Context
from apibridge.codecs.anthropic._block_decoder import decode_block
from apibridge.codecs.anthropic._block_encoder import encode_part
from apibridge.codecs.anthropic._request import DEFAULT_MAX_TOKENS
from apibridge.codecs.envelope import Envelope, open_envelope, seal
from apibridge.errors import ERROR_KINDS, ApiError, InvalidPayload, UnsupportedFeature
from apibridge.model import (
    Citation,
    DocumentPart,
    ImagePart,
    Message,
    OutputFormat,
    ReasoningConfig,
    RedactedThinkingPart,
    RefusalPart,
    Request,
    Response,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)
from oracles import validate_request, validate_response


def user(*parts: Any, **kw: Any) -> Message:
    return Message(role="user", content=tuple(parts), **kw)


def assistant(*parts: Any) -> Message:
    return Message(role="assistant", content=tuple(parts))


def text(value: str, **kw: Any) -> TextPart:
    return TextPart(text=value, **kw)


def request(*messages: Message, **kw: Any) -> Request:
    kw.setdefault("max_tokens", 1024)
    kw.setdefault("model", "claude-sonnet-4-5")
    return Request(messages=messages, **kw)


def encode(req: Request, ctx: Context | None = None) -> dict[str, Any]:
    body = codec.encode_request(req, ctx or Context())
    validate_request("anthropic", body)
    return body


def answer(*parts: Any, **kw: Any) -> dict[str, Any]:
    ctx = kw.pop("ctx", None) or Context()
    response = Response(id="chatcmpl-1", model="gpt-5", content=tuple(parts), **kw)
    body = codec.encode_response(response, ctx)
    validate_response("anthropic", body)
    return body


# ------------------------------------------------------------------------------- tables


def test_stop_reason_tables_invert() -> None:
    for wire_reason, canonical in codec.STOP_REASON_FROM_WIRE.items():
        assert codec.STOP_REASON_TO_WIRE[canonical] == wire_reason
    for canonical, wire_reason in codec.STOP_REASON_TO_WIRE.items():
        if canonical != "content_filter":  # Claude reports a filter as a refusal
            assert codec.STOP_REASON_FROM_WIRE[wire_reason] == canonical


def test_tool_choice_and_thinking_tables_invert() -> None:
    for wire_mode, mode in codec.TOOL_CHOICE_FROM_WIRE.items():
        assert codec.TOOL_CHOICE_TO_WIRE[mode] == wire_mode
    assert set(codec.THINKING_MODES) == set(codec.THINKING_MODES.values())


def test_error_type_table_inverts_through_error_kinds() -> None:
    for wire_type, kind in codec.ERROR_TYPE_KINDS.items():
        assert ERROR_KINDS[kind].anthropic == wire_type
    assert {k.anthropic for k in ERROR_KINDS.values()} <= set(codec.ERROR_TYPE_KINDS)


def test_tool_name_rule() -> None:
    assert codec.TOOL_NAME_MAX == 128
    assert codec.TOOL_NAME_RE.fullmatch("mcp__github__create_issue-2")
    assert not codec.TOOL_NAME_RE.fullmatch("functions.get weather")
    assert codec.TOOL_NAME_RE.fullmatch("_")
    assert not codec.TOOL_NAME_RE.fullmatch(".")


# ------------------------------------------------------------------------ requests in


def test_foreign_system_turns_move_to_system_with_a_loss() -> None:
    ctx = Context()
    req = request(
        user(text("hi")),
        Message(role="developer", content=(text("be brief"),)),
        assistant(text("hello")),
        system=(text("You are helpful."),),
        system_role="developer",
    )
    body = encode(req, ctx)
    assert body["system"] == [
        {"type": "text", "text": "You are helpful."},
        {"type": "text", "text": "be brief"},
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
    assert has_loss(ctx, "messages[1]", "moved")


def test_native_system_turns_stay_in_place() -> None:
    body = load("claude_code_request")["body"]
    ctx = Context()
    req = codec.decode_request(body, ctx)
    assert req.messages[1].role == "system"
    assert codec.encode_request(req, ctx) == body
    assert ctx.losses == []


def test_max_tokens_defaults_to_the_models_max_output_with_a_loss() -> None:
    # Was DEFAULT_MAX_TOKENS (4096) for every model; now the model's own maximum (issue 15).
    ctx = Context()
    body = encode(attrs.evolve(request(user(text("hi"))), max_tokens=None), ctx)
    assert body["max_tokens"] == 64_000  # claude-sonnet-4-5
    assert has_loss(ctx, "max_tokens", "defaulted to the model's maximum output, 64000")


def test_max_tokens_of_an_unknown_non_claude_model_stays_the_old_default() -> None:
    ctx = Context()
    req = attrs.evolve(request(user(text("hi"))), max_tokens=None, model="glm-4.6")
    assert encode(req, ctx)["max_tokens"] == DEFAULT_MAX_TOKENS == 4096


def test_n_above_one_is_refused() -> None:
    with pytest.raises(UnsupportedFeature, match="n"):
        codec.encode_request(request(user(text("hi")), n=2), Context())
    assert "messages" in encode(request(user(text("hi")), n=1))


def test_strict_mode_raises_on_the_first_loss() -> None:
    req = request(user(text("hi")), logprobs=True)
    with pytest.raises(UnsupportedFeature, match="logprobs"):
        codec.encode_request(req, Context(strict=True))


def test_other_formats_extras_are_reported_but_hints_are_not() -> None:
    ctx = Context()
    req = request(
        user(text("hi", extras={"chat": {"_content_string": True}})),
        extras={"chat": {"seed": 7, "_hint": 1}},
    )
    body = encode(req, ctx)
    assert "seed" not in body
    assert [loss.field for loss in ctx.losses] == ["request.seed"]


def test_sampling_is_clamped_and_dropped_where_anthropic_refuses_it() -> None:
    ctx = Context()
    body = encode(request(user(text("hi")), temperature=1.5, top_p=0.9, top_k=5), ctx)
    assert body["temperature"] == 1.0
    assert has_loss(ctx, "temperature", "clamped to 1")
    ctx = Context()
    thinking = ReasoningConfig(mode="enabled", budget_tokens=2048)
    body = encode(
        request(
            user(text("hi")),
            temperature=0.3,
            top_p=0.5,
            top_k=5,
            reasoning=thinking,
            max_tokens=4096,  # a budget must stay below it (a budget beyond it is dropped)
        ),
        ctx,
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert not {"temperature", "top_p", "top_k"} & set(body)
    assert {"temperature", "top_p", "top_k"} <= {loss.field for loss in ctx.losses}


def test_user_metadata_and_stop_sequences() -> None:
    ctx = Context()
    body = encode(
        request(user(text("hi")), user="u-1", stop=("END",), metadata={"k": "v"}, stream=True),
        ctx,
    )
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["stop_sequences"] == ["END"]
    assert body["stream"] is True
    assert has_loss(ctx, "metadata")


def test_effort_only_reasoning_becomes_a_budget() -> None:
    ctx = Context()
    body = encode(
        request(user(text("hi")), max_tokens=32000, reasoning=ReasoningConfig(effort="high")), ctx
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert "output_config" not in body
    assert ctx.losses == []


def test_effort_budget_stays_below_max_tokens() -> None:
    ctx = Context()
    body = encode(
        request(user(text("hi")), max_tokens=4096, reasoning=ReasoningConfig(effort="xhigh")), ctx
    )
    assert body["thinking"]["budget_tokens"] == 4095
    assert has_loss(ctx, "reasoning.effort", "clamped")
    ctx = Context()
    body = encode(
        request(user(text("hi")), max_tokens=512, reasoning=ReasoningConfig(effort="low")), ctx
    )
    assert "thinking" not in body
    assert has_loss(ctx, "reasoning")


def test_adaptive_reasoning_sends_the_effort() -> None:
    ctx = Context()
    reasoning = ReasoningConfig(mode="adaptive", effort="minimal", summary="auto")
    # a model with adaptive thinking and effort (claude-sonnet-4-5 has neither: see
    # test_claude_models.py for how reasoning is fitted to it)
    req = request(user(text("hi")), reasoning=reasoning, model="claude-opus-4-6")
    body = encode(req, ctx)
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "low"}
    assert has_loss(ctx, "reasoning.effort", "sent as low")
    assert has_loss(ctx, "reasoning.summary")
    ctx = Context()
    body = encode(
        request(user(text("hi")), reasoning=ReasoningConfig(mode="disabled", effort="huge")), ctx
    )
    assert body["thinking"] == {"type": "disabled"}
    assert "output_config" not in body
    assert has_loss(ctx, "reasoning.effort", "dropped")


def test_structured_output_formats() -> None:
    ctx = Context()
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = OutputFormat(
        kind="json_schema", name="thing", schema=schema, strict=False, description="d"
    )
    body = encode(request(user(text("hi")), output_format=fmt), ctx)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert {"output_format.name", "output_format.description", "output_format.strict"} == {
        loss.field for loss in ctx.losses
    }
    ctx = Context()
    body = encode(request(user(text("hi")), output_format=OutputFormat(kind="json_object")), ctx)
    assert "output_config" not in body
    assert has_loss(ctx, "output_format")
    ctx = Context()
    encode(request(user(text("hi")), output_format=OutputFormat(kind="text")), ctx)
    assert ctx.losses == []


def test_tools_from_other_formats() -> None:
    ctx = Context()
    tools = (
        Tool(name="get_weather", parameters={"type": "object", "properties": {}}, strict=True),
        Tool(name="no_params", description="takes nothing"),
        Tool(name="apply_patch", kind="custom", format={"type": "grammar", "syntax": "lark"}),
        Tool(
            name="web_search",
            kind="server",
            server_type="web_search",
            raw={
                "type": "web_search",
                "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
                "filters": {"allowed_domains": ["example.com"], "other": 1},
                "search_context_size": "high",
            },
            source_format="responses",
        ),
        Tool(name="code_interpreter", kind="server", server_type="code_interpreter", raw={}),
    )
    body = encode(request(user(text("hi")), tools=tools), ctx)
    assert body["tools"] == [
        {
            "name": "get_weather",
            "input_schema": {"type": "object", "properties": {}},
            "strict": True,
        },
        {
            "name": "no_params",
            "description": "takes nothing",
            "input_schema": {"type": "object", "properties": {}},
        },
        {
            "name": "apply_patch",
            "input_schema": {
                "type": "object",
                "properties": {"input": {"type": "string"}},
                "required": ["input"],
            },
        },
        {
            "type": "web_search_20250305",
            "name": "web_search",
            "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
            "allowed_domains": ["example.com"],
        },
    ]
    lost = {loss.field for loss in ctx.losses}
    assert {
        "tools[2].format",
        "tools[3].filters.other",
        "tools[3].search_context_size",
        "tools[4]",
    } == lost


@pytest.mark.parametrize(
    ("choice", "parallel", "expected", "lost"),
    [
        (ToolChoice(mode="any"), None, {"type": "any"}, set()),
        (
            ToolChoice(mode="tool", name="f"),
            False,
            {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
            set(),
        ),
        (ToolChoice(mode="tool"), None, {"type": "any"}, {"tool_choice.name"}),
        (None, True, {"type": "auto", "disable_parallel_tool_use": False}, set()),
        (ToolChoice(mode="none"), False, {"type": "none"}, {"parallel_tool_calls"}),
        (ToolChoice(mode="auto", allowed=("f",)), None, {"type": "auto"}, {"tool_choice.allowed"}),
    ],
)
def test_tool_choice_from_other_formats(
    choice: ToolChoice | None, parallel: bool | None, expected: dict[str, Any], lost: set[str]
) -> None:
    ctx = Context()
    tools = (Tool(name="f", parameters={"type": "object"}),)
    req = request(user(text("hi")), tools=tools, tool_choice=choice, parallel_tool_calls=parallel)
    assert encode(req, ctx)["tool_choice"] == expected
    assert {loss.field for loss in ctx.losses} == lost


def test_tool_choice_without_tools_is_dropped() -> None:
    ctx = Context()
    body = encode(request(user(text("hi")), tool_choice=ToolChoice(mode="none")), ctx)
    assert "tool_choice" not in body
    assert not has_loss(ctx, "tool_choice")  # a choice among no tools says nothing


def test_images_and_documents_from_other_formats() -> None:
    ctx = Context()
    pdf = "JVBERi0xLjQK"
    req = request(
        user(
            ImagePart(url="data:image/jpeg;base64,/9j/4AAQ", detail="high"),
            ImagePart(url="https://example.com/a.png"),
            ImagePart(data="iVBORw0KGgo=", media_type="image/png"),
            ImagePart(file_id="file-abc"),
            ImagePart(),
            DocumentPart(data=f"data:application/pdf;base64,{pdf}", filename="report.pdf"),
            DocumentPart(data="aGVsbG8=", media_type="text/plain", title="t", filename="t.txt"),
            DocumentPart(data="UEsDBA==", media_type="application/zip"),
            DocumentPart(data="!!!", media_type="text/plain"),
            DocumentPart(url="https://example.com/doc.pdf", context="ctx", citations_enabled=True),
            DocumentPart(file_id="file-xyz"),
            DocumentPart(),
            text("describe"),
        )
    )
    content = encode(req, ctx)["messages"][0]["content"]
    assert content == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "file", "file_id": "file-abc"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
            "title": "report.pdf",
        },
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "hello"},
            "title": "t",
        },
        {
            "type": "document",
            "source": {"type": "url", "url": "https://example.com/doc.pdf"},
            "context": "ctx",
            "citations": {"enabled": True},
        },
        {"type": "document", "source": {"type": "file", "file_id": "file-xyz"}},
        {"type": "text", "text": "describe"},
    ]
    lost = [(loss.field, loss.action) for loss in ctx.losses]
    assert ("messages[0].content[0].detail", "dropped") in lost
    assert ("messages[0].content[4]", "dropped") in lost
    assert ("messages[0].content[5].filename", "sent as title") in lost
    assert ("messages[0].content[6].filename", "dropped") in lost
    assert ("messages[0].content[7]", "dropped") in lost
    assert ("messages[0].content[8]", "dropped") in lost
    assert ("messages[0].content[11]", "dropped") in lost


def test_image_data_urls_and_media_types() -> None:
    ctx = Context()
    req = request(
        user(
            ImagePart(url="data:image/gif,GIF89a"),
            ImagePart(data="UklGRiQAAABXRUJQ"),
            ImagePart(url="data:image/svg+xml,<svg/>"),
        )
    )
    content = encode(req, ctx)["messages"][0]["content"]
    assert [b["source"] for b in content] == [
        {"type": "base64", "media_type": "image/gif", "data": "R0lGODlh"},
        {"type": "base64", "media_type": "image/webp", "data": "UklGRiQAAABXRUJQ"},
    ]
    assert has_loss(ctx, "messages[0].content[2]", "dropped")


def test_refusals_and_foreign_server_blocks_in_history() -> None:
    ctx = Context()
    req = request(
        user(text("hi")),
        assistant(
            RefusalPart(text="I can't."),
            ServerToolPart(
                kind="web_search_call", raw={"type": "web_search_call"}, source_format="responses"
            ),
        ),
    )
    body = encode(req, ctx)
    assert body["messages"][1]["content"] == [{"type": "text", "text": "I can't."}]
    assert has_loss(ctx, "messages[1].content[0]", "sent as a text block")
    assert has_loss(ctx, "messages[1].content[1]")


def test_tool_ids_anthropic_rejects_are_rewritten_consistently() -> None:
    ctx = Context()
    req = request(
        user(text("hi")),
        assistant(ToolCallPart(id="functions.get_weather:0", name="get_weather", arguments="")),
        user(ToolResultPart(call_id="functions.get_weather:0", content=(text("sunny"),))),
    )
    body = encode(req, ctx)
    call = body["messages"][1]["content"][0]
    result = body["messages"][2]["content"][0]
    assert call["id"] == result["tool_use_id"] == "functions_get_weather_0"
    assert call["input"] == {}
    assert result["content"] == "sunny"
    assert has_loss(ctx, "messages[1].content[0].id", "rewritten")


@pytest.mark.parametrize(
    ("arguments", "kind", "expected", "lost"),
    [
        ('{"a": [1, 2]}', "function", {"a": [1, 2]}, False),
        ("not json", "function", {}, True),
        ("[1, 2]", "function", {}, True),
        ("*** Begin Patch", "custom", {"input": "*** Begin Patch"}, False),
    ],
)
def test_tool_call_arguments(arguments: str, kind: Any, expected: Any, lost: bool) -> None:
    ctx = Context()
    call = ToolCallPart(id="call_1", name="f", arguments=arguments, kind=kind)
    body = encode(request(user(text("hi")), assistant(call)), ctx)
    assert body["messages"][1]["content"][0]["input"] == expected
    assert bool(ctx.losses) == lost


# ----------------------------------------------------------------------- responses out


def test_fidelity_2_a_tool_call_always_means_tool_use() -> None:
    call = ToolCallPart(id="call_1", name="f", arguments='{"x":1}')
    for reason in (None, "end_turn", "stop_sequence", "some_new_reason"):
        ctx = Context()
        assert answer(call, stop_reason=reason, ctx=ctx)["stop_reason"] == "tool_use"
        assert ctx.losses == []
    assert answer(call, stop_reason="max_tokens")["stop_reason"] == "max_tokens"


def test_fidelity_2_stop_reasons_are_complete_and_never_silently_end_turn() -> None:
    assert answer(text("x"), stop_reason="content_filter")["stop_reason"] == "refusal"
    assert answer(text("x"), stop_reason="context_window_exceeded")["stop_reason"] == (
        "model_context_window_exceeded"
    )
    ctx = Context()
    assert answer(text("x"), stop_reason="error", ctx=ctx)["stop_reason"] == "end_turn"
    assert has_loss(ctx, "stop_reason", "sent as end_turn")
    assert answer(text("x"))["stop_reason"] == "end_turn"


def test_stop_sequence_is_recovered_from_the_request() -> None:
    ctx = Context(request=request(user(text("hi")), stop=("END",)))
    body = answer(text("x"), stop_reason="stop_sequence", ctx=ctx)
    assert body["stop_sequence"] == "END"
    ctx = Context(request=request(user(text("hi")), stop=("A", "B")))
    assert answer(text("x"), stop_reason="stop_sequence", ctx=ctx)["stop_sequence"] is None


def test_refusal_part_in_an_answer() -> None:
    ctx = Context()
    body = answer(RefusalPart(text="No."), stop_reason="refusal", ctx=ctx)
    assert body["content"] == [{"type": "text", "text": "No."}]
    assert body["stop_reason"] == "refusal"
    assert not ctx.losses  # Claude refuses so: text, then the ``refusal`` stop
    ctx = Context()
    assert answer(RefusalPart(text="No."), stop_reason="end_turn", ctx=ctx)["stop_reason"] == (
        "end_turn"
    )
    assert has_loss(ctx, "content[0]", "sent as a text block")


def test_parts_an_answer_cannot_hold_are_reported() -> None:
    ctx = Context()
    body = answer(
        ImagePart(url="https://x/y.png"),
        ToolResultPart(call_id="c"),
        ServerToolPart(kind="code_interpreter_call", raw={}, source_format="responses"),
        text("ok", cache_control={"type": "ephemeral"}),
        text(""),
        ctx=ctx,
    )
    assert body["content"] == [
        {"type": "text", "text": "ok", "cache_control": {"type": "ephemeral"}}
    ]
    assert {loss.field for loss in ctx.losses} == {"content[0]", "content[1]", "content[2]"}


def test_fidelity_6_usage_semantics() -> None:
    usage = Usage.from_openai(100, 20, cached_tokens=80, reasoning_tokens=5)
    body = answer(text("x"), usage=usage)
    assert body["usage"] == {
        "input_tokens": 20,
        "cache_read_input_tokens": 80,
        "output_tokens": 20,
        "output_tokens_details": {"thinking_tokens": 5},
    }
    unknown = answer(text("x"))["usage"]
    assert unknown == {"input_tokens": 0, "output_tokens": 0}  # required by the SDK type


def test_fidelity_3_foreign_reasoning_rides_in_an_envelope_and_comes_back() -> None:
    parts = (
        ThinkingPart(
            text="", summary=("First.", "Second."), encrypted_content="gAAAAB...", id="rs_1"
        ),
        ThinkingPart(text="plain reasoning"),
        RedactedThinkingPart(data="EmwKAhgB"),
    )
    body = answer(*parts)
    first, second, third = body["content"]
    assert first["thinking"] == "First.\n\nSecond."
    assert open_envelope(first["signature"]) == Envelope(
        origin="responses", kind="encrypted", data="gAAAAB...", id="rs_1"
    )
    assert open_envelope(second["signature"]) == Envelope(origin="none", kind="signature")
    assert third == {"type": "redacted_thinking", "data": "EmwKAhgB"}
    # The Claude client sends the turn back: the values are native again …
    history = {
        "model": "m",
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": body["content"]},
        ],
    }
    ctx = Context()
    decoded = codec.decode_request(history, ctx)
    back = decoded.messages[1].content
    assert back[0] == ThinkingPart(
        text="First.\n\nSecond.", encrypted_content="gAAAAB...", id="rs_1"
    )
    assert back[1] == ThinkingPart(text="plain reasoning")
    # … and an Anthropic upstream never sees them as signed thinking.
    upstream = encode(decoded, ctx)
    assert upstream["messages"][1]["content"] == [third]
    assert has_loss(ctx, "messages[1].content[0]", "omitted")
    assert has_loss(ctx, "messages[1].content[1]", "omitted")


def test_fidelity_3_claude_signatures_survive_byte_for_byte() -> None:
    fixture = load("response_parallel_tool_use_thinking")["body"]
    signature = fixture["content"][0]["signature"]
    decoded = codec.decode_response(fixture, Context())
    assert decoded.content[0] == ThinkingPart(
        text=fixture["content"][0]["thinking"], signature=signature
    )
    # As a Responses encoder would carry it, and a Responses client would send it back:
    carried = seal(Envelope(origin="anthropic", kind="signature", data=signature))
    block = {"type": "thinking", "thinking": "t", "signature": carried}
    part = decode_block(block, "b", Context())
    assert isinstance(part, ThinkingPart)
    assert part.signature == signature
    out = encode(request(user(text("q")), assistant(part, text("a"))))
    assert out["messages"][1]["content"][0]["signature"] == signature


def test_fidelity_14_url_citations_carry_and_come_back_exactly() -> None:
    cite = Citation(
        kind="url_citation",
        url="https://example.com/a",
        title="A",
        start_index=0,
        end_index=5,
        raw={
            "type": "url_citation",
            "url": "https://example.com/a",
            "title": "A",
            "start_index": 0,
            "end_index": 5,
        },
        source_format="responses",
    )
    no_url = Citation(
        kind="file_citation", raw={"type": "file_citation"}, source_format="responses"
    )
    ctx = Context()
    body = answer(text("Hello world", citations=(cite, no_url)), ctx=ctx)
    block = body["content"][0]
    assert block["citations"][0]["type"] == "web_search_result_location"
    assert block["citations"][0]["cited_text"] == "Hello"
    assert has_loss(ctx, "content[0].citations[1]")
    back = decode_block(block, "b", Context())
    assert isinstance(back, TextPart)
    assert back.citations == (cite,)
    # To an Anthropic upstream a foreign citation cannot be verified: dropped, reported.
    ctx = Context()
    out = encode(request(user(text("q")), assistant(back)), ctx)
    assert "citations" not in out["messages"][1]["content"][0]
    assert has_loss(ctx, "messages[1].content[0].citations[0]")


def test_fidelity_14_foreign_web_search_call_becomes_server_tool_use() -> None:
    ctx = Context()
    call = ServerToolPart(
        kind="web_search_call",
        raw={"type": "web_search_call", "action": {"type": "search", "query": "weather paris"}},
        source_format="responses",
        tool="web_search",
        id="ws_1",
    )
    block = answer(call, text("It is sunny."), ctx=ctx)["content"][0]
    assert block["type"] == "server_tool_use"
    assert block["id"].startswith("srvtoolu_")
    assert block["input"] == {"query": "weather paris"}
    assert has_loss(ctx, "content[0]", "kept the query")


def test_fidelity_5_tool_results_lead_and_parallel_results_share_one_turn() -> None:
    req = request(
        user(text("weather in both?")),
        assistant(
            text("checking"),
            ThinkingPart(text="t", signature="sig"),
            ToolCallPart(id="c1", name="f", arguments='{"city":"a"}'),
            ToolCallPart(id="c2", name="f", arguments='{"city":"b"}'),
        ),
        user(ToolResultPart(call_id="c1", content=(text("1"),))),
        user(text("and hurry"), ToolResultPart(call_id="c2", content=(text("2"),), is_error=True)),
    )
    body = encode(req)
    assert [b["type"] for b in body["messages"][1]["content"]] == [
        "thinking",
        "text",
        "tool_use",
        "tool_use",
    ]
    assert len(body["messages"]) == 3
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "1"},
        {"type": "tool_result", "tool_use_id": "c2", "content": "2", "is_error": True},
        {"type": "text", "text": "and hurry"},
    ]


def test_fidelity_8_images_and_documents_stay_inside_tool_results() -> None:
    result = ToolResultPart(
        call_id="c1",
        content=(
            text("chart:"),
            ImagePart(data="iVBOR", media_type="image/png"),
            DocumentPart(text="notes"),
        ),
    )
    req = request(
        user(text("q")), assistant(ToolCallPart(id="c1", name="f", arguments="{}")), user(result)
    )
    content = encode(req)["messages"][2]["content"][0]["content"]
    assert [b["type"] for b in content] == ["text", "image", "document"]


def test_fidelity_10_anthropic_only_fields_pass_unchanged_to_anthropic() -> None:
    body = load("request_claude_code")["body"]
    ctx = Context()
    out = codec.encode_request(codec.decode_request(body, ctx), ctx)
    assert out["context_management"] == body["context_management"]
    assert out["output_config"] == body["output_config"]


def test_fidelity_15_tool_names_anthropic_rejects_are_shortened_reversibly() -> None:
    long_name = "mcp__server__" + "x" * 140
    req = request(user(text("q")), tools=(Tool(name=long_name), Tool(name="ok.name")))
    names = ToolNames.for_target(req, codec)
    body = encode(names.rename_request(req))
    sent = [t["name"] for t in body["tools"]]
    assert all(len(n) <= codec.TOOL_NAME_MAX and codec.TOOL_NAME_RE.fullmatch(n) for n in sent)
    assert [names.to_client[n] for n in sent] == [long_name, "ok.name"]


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("body", "status", "kind", "message"),
    [
        (
            {
                "error": {
                    "message": "Rate limited",
                    "type": "requests",
                    "code": "rate_limit_exceeded",
                }
            },
            429,
            "rate_limit",
            "Rate limited",
        ),
        (
            {"error": {"message": "bad", "type": "invalid_request_error", "param": "x"}},
            400,
            "invalid_request",
            "bad",
        ),
        ({"error": "upstream said no"}, 502, "bad_gateway", "upstream said no"),
        ({"detail": "Not Found"}, 404, "not_found", "Not Found"),
        (
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            502,
            "bad_gateway",
            "502 Bad Gateway",
        ),
        ("<p>busy</p>", 503, "unavailable", "busy"),
        (
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            529,
            "overloaded",
            "Overloaded",
        ),
        ('{"broken json', 500, "api_error", '{"broken json'),
        (None, 500, "api_error", "upstream error (HTTP 500)"),
        ([1, 2], 418, "invalid_request", "upstream error (HTTP 418)"),
        (
            {"type": "error", "error": {"type": "overloaded_error", "message": "m"}},
            503,
            "unavailable",
            "m",
        ),
        (
            {"type": "error", "error": {"type": "not_found_error", "message": "m"}},
            500,
            "not_found",
            "m",
        ),
        (
            {"type": "error", "error": {"type": "brand_new_error", "message": "m"}},
            409,
            "invalid_request",
            "m",
        ),
    ],
)
def test_decode_error_reads_any_body(body: Any, status: int, kind: str, message: str) -> None:
    error = codec.decode_error(body, status)
    assert (error.kind, error.message, error.status) == (kind, message, status)
    out_status, out = codec.encode_error(error)
    assert out_status == status
    assert out["type"] == "error"
    assert isinstance(out["error"]["type"], str)


def test_decode_error_keeps_openai_code_and_retry_hint() -> None:
    body = {
        "error": {
            "message": "slow down",
            "type": "rate_limit_error",
            "code": 429,
            "retry_after": "2.5",
        }
    }
    error = codec.decode_error(body, 429)
    assert error.code == "429"
    assert error.retry_after == 2.5
    assert codec.decode_error({"retry_after": 7, "message": "m"}, 429).retry_after == 7.0
    assert codec.decode_error({"retry_after": -1}, 429).retry_after is None
    assert codec.decode_error({"retry_after": "soon"}, 429).retry_after is None
    assert codec.decode_error({"retry_after": True}, 429).retry_after is None


def test_decode_error_with_a_status_that_is_no_error() -> None:
    error = codec.decode_error(
        {"type": "error", "error": {"type": "rate_limit_error", "message": "m"}}, 200
    )
    assert (error.kind, error.status) == ("rate_limit", 429)


def test_encode_error_of_other_formats_errors() -> None:
    status, body = codec.encode_error(
        ApiError.of("overloaded", "busy", type="server_error", source_format="chat", request_id="r")
    )
    assert status == 529
    assert body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "busy"},
        "request_id": "r",
    }
    status, body = codec.encode_error(ApiError(kind="mystery", message="?", status=200))
    assert (status, body["error"]["type"]) == (500, "api_error")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    body=json_values
    | st.dictionaries(
        st.sampled_from(["type", "error", "message", "request_id", "retry_after", "detail"]),
        json_values,
    )
    | st.builds(lambda e: {"type": "error", "error": e}, json_values)
    | st.text()
    | st.binary(max_size=40),
    status=st.integers(-5, 1000),
)
def test_fidelity_9_decode_error_never_raises(body: Any, status: int) -> None:
    error = codec.decode_error(body, status)
    assert error.kind in ERROR_KINDS
    assert 400 <= error.status <= 599
    out_status, out = codec.encode_error(error)
    assert 400 <= out_status <= 599
    assert out["error"]["message"] == error.message
    orjson.dumps(out)


# ------------------------------------------------------------------------ bad payloads


def _base() -> dict[str, Any]:
    return {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"messages": "hi"}, "messages"),
        ({"model": 3}, "model"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
            "messages[0].content[0].text",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "x", "citations": {}}]}
                ]
            },
            "messages[0].content[0].citations",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "source": "x"}]}]},
            "messages[0].content[0].source",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": 3}],
                    }
                ]
            },
            "messages[0].content[0].input",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": "no"}],
                    }
                ]
            },
            "messages[0].content[0].is_error",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]},
            "messages[0].content[0].tool_use_id",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "thinking", "thinking": "t", "signature": 5}],
                    }
                ]
            },
            "messages[0].content[0].signature",
        ),
        (
            {"messages": [{"role": "assistant", "content": [{"type": "redacted_thinking"}]}]},
            "messages[0].content[0].data",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "source": {"type": "text", "data": "x"},
                                "title": 3,
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].title",
        ),
        ({"max_tokens": "10"}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"stream": "yes"}, "stream"),
        ({"system": [{"type": "image", "source": {"type": "url", "url": "u"}}]}, "system[0]"),
        ({"tools": [{"name": "f", "input_schema": {}, "strict": "yes"}]}, "tools[0].strict"),
        ({"tools": [{"input_schema": {}}]}, "tools[0].name"),
        ({"tools": [{"type": 3}]}, "tools[0].type"),
        ({"tool_choice": {"type": "required"}}, "tool_choice.type"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
        (
            {"tool_choice": {"type": "auto", "disable_parallel_tool_use": "no"}},
            "tool_choice.disable_parallel_tool_use",
        ),
        ({"thinking": {"type": "enabled", "budget_tokens": "lots"}}, "thinking.budget_tokens"),
        ({"metadata": "me"}, "metadata"),
        ({"output_config": []}, "output_config"),
        ({"stop_sequences": [1]}, "stop_sequences[0]"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "x", "cache_control": "e"}],
                    }
                ]
            },
            "messages[0].content[0].cache_control",
        ),
    ],
)
def test_bad_requests_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload) as info:
        codec.decode_request({**_base(), **change}, Context())
    assert str(info.value).startswith(field + ":"), str(info.value)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "error", "error": {}}, "response"),
        ({"id": "m", "content": "x"}, "content"),
        ({"id": "m", "content": [], "model": 1}, "model"),
        ({"id": "m", "content": [], "usage": {"input_tokens": "1"}}, "usage.input_tokens"),
        (
            {"id": "m", "content": [], "usage": {"output_tokens_details": 1}},
            "usage.output_tokens_details",
        ),
        ({"id": "m", "content": [], "stop_reason": 1}, "stop_reason"),
        ({"id": "m", "content": [], "stop_sequence": 1}, "stop_sequence"),
        (
            {"id": "m", "content": [{"type": "text", "text": "x", "citations": [{"type": 1}]}]},
            "content[0].citations[0].type",
        ),
    ],
)
def test_bad_responses_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload) as info:
        codec.decode_response(body, Context())
    assert str(info.value).startswith(field + ":"), str(info.value)


def test_lenient_decoding_of_odd_but_harmless_values() -> None:
    body = {
        "model": "m",
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "name": "f", "input": '{"a":1}'},
                    {"type": "mystery_block", "payload": 1},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": "x",
                            "extra": 1,
                        },
                    },
                ],
            }
        ],
        "thinking": {"type": "between_tools"},
        "output_config": {
            "effort": "max",
            "format": {"type": "json_schema", "schema": {}, "name": "x"},
        },
        "tool_choice": {"type": "auto", "name": "ignored"},
        "metadata": {"user_id": None, "tenant": "t"},
    }
    ctx = Context()
    req = codec.decode_request(body, ctx)
    call, mystery, image = req.messages[0].content
    assert isinstance(call, ToolCallPart)
    assert call.arguments == '{"a":1}'
    assert call.id.startswith("toolu_")
    assert isinstance(mystery, ServerToolPart)
    assert mystery.kind == "mystery_block"
    assert isinstance(image, ImagePart)
    assert image.data == "x"
    assert req.reasoning == ReasoningConfig(mode="enabled", effort="max")
    assert req.output_format is None
    assert req.user is None
    out = codec.encode_request(req, ctx)
    assert out["thinking"] == {"type": "between_tools"}
    assert out["output_config"] == body["output_config"]
    assert out["tool_choice"] == body["tool_choice"]
    assert out["metadata"] == body["metadata"]
    assert out["messages"][0]["content"][1:] == body["messages"][0]["content"][1:]
    assert out["max_tokens"] == DEFAULT_MAX_TOKENS


def test_response_spellings_round_trip() -> None:
    body = {
        "id": "msg_1",
        "content": [{"type": "text", "text": "x", "citations": None}],
        "model": "m",
        "stop_reason": None,
    }
    out = codec.encode_response(codec.decode_response(body, Context()), Context())
    assert out == body
    missing_id = codec.decode_response({"content": []}, Context())
    assert missing_id.id.startswith("msg_")
    assert missing_id.model == ""


# ----------------------------------------------------------------------- odds and ends


def test_turn_names_and_unknown_roles() -> None:
    ctx = Context()
    body = encode(request(user(text("hi"), name="alice")), ctx)
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert has_loss(ctx, "messages[0].name")
    with pytest.raises(InvalidPayload, match=r"messages\[0\]\.role"):
        codec.encode_request(request(Message(role="tool", content=(text("x"),))), Context())
    ctx = Context()
    image = ImagePart(url="https://e.x/i.png")
    body = encode(request(user(text("q")), Message(role="system", content=(text("s"), image))), ctx)
    assert body["system"] == [{"type": "text", "text": "s"}]
    assert has_loss(ctx, "messages[1].content[1]")


@pytest.mark.parametrize(
    "block",
    [
        {
            "type": "tool_result",
            "tool_use_id": "t",
            "content": [
                {"type": "text", "text": "a"},
                {"type": "tool_reference", "tool_name": "x"},
            ],
        },
        {"type": "tool_result", "tool_use_id": "t", "content": None, "is_error": False},
        {"type": "tool_result", "tool_use_id": "t", "content": []},
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "x"},
            "citations": {"enabled": True, "x_new": 1},
        },
        {"type": "document", "source": {"type": "file", "file_id": "f"}, "citations": None},
        {"type": "document", "source": {"type": "content", "content": "plain string"}},
        {"type": "document", "source": {"type": "brand_new", "payload": 1}},
        {"type": "text", "text": "", "citations": []},
    ],
)
def test_unusual_blocks_round_trip_in_requests(block: dict[str, Any]) -> None:
    ctx = Context()
    part = decode_block(block, "b", ctx)
    assert encode_part(part, "b", ctx, answer=False) == block
    assert ctx.losses == []


def test_a_document_from_a_content_source_offers_its_text_to_other_formats() -> None:
    source = {"type": "content", "content": [{"type": "text", "text": "a"}, {"type": "image"}]}
    part = decode_block({"type": "document", "source": source}, "b", Context())
    assert isinstance(part, DocumentPart)
    assert part.text == "a"
    odd = decode_block({"type": "document", "source": {"type": "content"}}, "b", Context())
    assert isinstance(odd, DocumentPart)
    assert odd.text is None


def test_thinking_with_text_and_summaries_keeps_the_text() -> None:
    ctx = Context()
    body = answer(ThinkingPart(text="full", summary=("short",), signature="s"), ctx=ctx)
    assert body["content"][0] == {"type": "thinking", "thinking": "full", "signature": "s"}
    assert has_loss(ctx, "content[0].summary", "kept the full text")


def test_server_call_ids_are_kept_or_derived_stably() -> None:
    raw = {"type": "web_search_call", "action": {"query": "q"}}
    kept = ServerToolPart(
        kind="web_search_call",
        raw=raw,
        source_format="responses",
        tool="web_search",
        id="srvtoolu_7",
    )
    derived = attrs.evolve(kept, id=None)
    assert answer(kept)["content"][0]["id"] == "srvtoolu_7"
    assert answer(derived)["content"][0]["id"] == answer(derived)["content"][0]["id"]


def test_tool_input_beyond_64_bit_integers_keeps_its_text() -> None:
    block = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"n": 2**70}}
    part = decode_block(block, "b", Context())
    assert isinstance(part, ToolCallPart)
    assert part.arguments == '{"n":1180591620717411303424}'


def test_a_corrupt_carried_citation_is_read_as_a_native_one() -> None:
    for data in ("not json", '{"no_kind": 1}', "[1]"):
        index = seal(Envelope(origin="responses", kind="citation", data=data))
        cite = {
            "type": "web_search_result_location",
            "url": "u",
            "cited_text": "c",
            "encrypted_index": index,
        }
        part = decode_block({"type": "text", "text": "t", "citations": [cite]}, "b", Context())
        assert isinstance(part, TextPart)
        assert part.citations[0].source_format == "anthropic"
        assert part.citations[0].raw == cite


def test_usage_details_with_unknown_fields_round_trip() -> None:
    body = load("response_max_tokens")["body"]
    for details in ({"thinking_tokens": 3, "x_new": 1}, {"x_new": 1}, {}):
        usage = {**body["usage"], "output_tokens_details": details}
        ctx = Context()
        out = codec.encode_response(codec.decode_response({**body, "usage": usage}, ctx), ctx)
        assert out["usage"] == usage
