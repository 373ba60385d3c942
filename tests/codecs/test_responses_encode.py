"""The Responses encoders fed canonical values as the *other* codecs make them.

Whatever Responses can hold must come out valid for the ``openai`` SDK types; whatever it cannot
hold must be reported (a :class:`~apibridge.errors.Loss`, or ``UnsupportedFeature`` in strict
mode). The reasoning envelope and the FIDELITY.md failure classes that concern this format have
named tests here.
"""

from __future__ import annotations

from typing import Any

import pytest

from apibridge._exchange import ToolNames
from apibridge.codecs import Context
from apibridge.codecs import responses as codec
from apibridge.codecs.envelope import Envelope, open_envelope, seal
from apibridge.errors import ApiError, UnsupportedFeature
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

SIGNATURE = "EqQBCkgIARABGAIiQL2o5sQ0j7nq3Hf2Zk+Lxi4tJ9yXoa0rB1VwI3sPeQ9mTn=="
REDACTED = (
    "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB8URS"
)


def user(*parts: Any) -> Message:
    return Message(role="user", content=tuple(parts))


def assistant(*parts: Any) -> Message:
    return Message(role="assistant", content=tuple(parts))


def encode(request: Request, **kw: Any) -> tuple[dict[str, Any], list[str]]:
    ctx = Context(**kw)
    body = codec.encode_request(request, ctx)
    validate_request("responses", body)
    return body, [loss.field for loss in ctx.losses]


def answer(response: Response, ctx: Context | None = None) -> tuple[dict[str, Any], list[str]]:
    ctx = ctx or Context()
    body = codec.encode_response(response, ctx)
    validate_response("responses", body)
    return body, [loss.field for loss in ctx.losses]


# ------------------------------------------------------------------------------ requests


def test_claude_code_like_request_validates_and_reports_what_it_drops() -> None:
    request = Request(
        model="claude-sonnet-4-5",
        system=(
            TextPart(text="You are Claude Code.", cache_control={"type": "ephemeral"}),
            TextPart(text="Be brief."),
        ),
        messages=(
            user(TextPart(text="hi", cache_control={"type": "ephemeral"})),
            assistant(
                ThinkingPart(text="Let me think.", signature=SIGNATURE),
                TextPart(text="Calling a tool."),
                ToolCallPart(id="toolu_01", name="Read", arguments='{"path":"a.py"}'),
            ),
            user(
                ToolResultPart(
                    call_id="toolu_01", content=(TextPart(text="print(1)"),), is_error=True
                )
            ),
        ),
        tools=(
            Tool(
                name="Read",
                description="Read a file",
                parameters={"type": "object", "properties": {"path": {"type": "string"}}},
                cache_control={"type": "ephemeral"},
            ),
        ),
        tool_choice=ToolChoice(mode="any"),
        max_tokens=32000,
        reasoning=ReasoningConfig(mode="enabled", budget_tokens=31999),
        stop=("\n\nHuman:",),
        top_k=5,
        metadata={"user_id": "u-1"},
        extras={
            "anthropic": {
                "context_management": {
                    "edits": [
                        {
                            "type": "clear_tool_uses_20250919",
                            "trigger": {"type": "tool_uses", "value": 100},
                        }
                    ]
                },
                "_content_string": True,
            }
        },
    )
    body, lost = encode(request)
    assert body["instructions"] == "You are Claude Code.\n\nBe brief."
    assert body["tool_choice"] == "required"
    assert body["tools"][0]["strict"] is False  # Responses would enforce strict schemas
    assert body["reasoning"] == {"effort": "high"}  # what every reasoning model accepts
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["store"] is False
    assert sorted(lost) == sorted(
        [
            "request.context_management.edits[0]",
            "system[0].cache_control",
            "messages[0].content[0].cache_control",
            "messages[2].content[0].is_error",
            "tools[0].cache_control",
            "top_k",
            "stop",
            "reasoning.budget_tokens",
            "messages[1].content[0]",  # Claude's signed thinking: OpenAI would reject it
        ]
    )
    assert not [i for i in body["input"] if i.get("type") == "reasoning"]


def test_strict_mode_raises_on_the_first_loss() -> None:
    request = Request(model="m", messages=(user(TextPart(text="x")),), top_k=3)
    with pytest.raises(UnsupportedFeature, match="top_k"):
        codec.encode_request(request, Context(strict=True))


def test_n_above_one_is_unsupported() -> None:
    with pytest.raises(UnsupportedFeature, match="n"):
        codec.encode_request(Request(model="m", messages=(), n=2), Context())
    body, lost = encode(Request(model="m", messages=(), n=1))
    assert lost == []
    assert "n" not in body


def test_client_choices_for_include_and_store_are_kept() -> None:
    request = Request(
        model="m",
        messages=(user(TextPart(text="x")),),
        reasoning=ReasoningConfig(effort="high", summary="auto"),
        logprobs=True,
        top_logprobs=3,
        extras={"responses": {"store": True, "include": ["web_search_call.action.sources"]}},
    )
    body, _ = encode(request)
    assert body["store"] is True
    assert body["include"] == [
        "web_search_call.action.sources",
        "message.output_text.logprobs",
        "reasoning.encrypted_content",
    ]
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}


def test_reasoning_settings() -> None:
    def reasoning_of(config: ReasoningConfig) -> tuple[Any, list[str]]:
        body, lost = encode(Request(model="m", messages=(), reasoning=config))
        return body.get("reasoning"), lost

    assert reasoning_of(ReasoningConfig(mode="adaptive")) == ({}, [])
    assert reasoning_of(ReasoningConfig(mode="enabled", budget_tokens=2048)) == (
        {"effort": "low"},
        ["reasoning.budget_tokens"],
    )
    assert reasoning_of(ReasoningConfig(mode="enabled", effort="low", budget_tokens=9)) == (
        {"effort": "low"},
        ["reasoning.budget_tokens"],
    )
    assert reasoning_of(ReasoningConfig(mode="disabled")) == (None, ["reasoning.mode"])
    assert reasoning_of(ReasoningConfig(mode="disabled", effort="none")) == ({"effort": "none"}, [])


def test_output_formats() -> None:
    def text_of(fmt: OutputFormat) -> Any:
        return encode(Request(model="m", messages=(), output_format=fmt))[0]["text"]

    assert text_of(OutputFormat(kind="json_object")) == {"format": {"type": "json_object"}}
    assert text_of(OutputFormat(kind="json_schema", schema={"type": "object"})) == {
        "format": {"type": "json_schema", "name": "response", "schema": {"type": "object"}}
    }
    assert text_of(OutputFormat(kind="json_schema", name="x", strict=True, description="d")) == {
        "format": {
            "type": "json_schema",
            "name": "x",
            "schema": {},
            "strict": True,
            "description": "d",
        }
    }


def test_tool_kinds_and_choices() -> None:
    tools = (
        Tool(name="f"),
        Tool(
            name="patch",
            kind="custom",
            description="free form",
            format={"type": "grammar", "grammar": {"syntax": "lark", "definition": "start: x"}},
        ),
        Tool(
            name="web_search",
            kind="server",
            server_type="web_search",
            source_format="anthropic",
            raw={
                "type": "web_search_20250305",
                "name": "web_search",
                "max_uses": 3,
                "allowed_domains": ["example.com"],
                "user_location": {"type": "approximate", "city": "Paris"},
            },
        ),
        Tool(
            name="code_execution",
            kind="server",
            server_type="code_execution",
            source_format="anthropic",
            raw={"type": "code_execution_20250522"},
        ),
    )
    request = Request(
        model="m", messages=(), tools=tools, tool_choice=ToolChoice(mode="tool", name="patch")
    )
    body, lost = encode(request)
    assert body["tools"] == [
        {
            "type": "function",
            "name": "f",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        },
        {
            "type": "custom",
            "name": "patch",
            "description": "free form",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
        },
        {
            "type": "web_search",
            "filters": {"allowed_domains": ["example.com"]},
            "user_location": {"type": "approximate", "city": "Paris"},
        },
    ]
    assert body["tool_choice"] == {"type": "custom", "name": "patch"}
    assert lost == ["tools[2].max_uses", "tools[3]"]
    for choice, want in (
        (ToolChoice(mode="tool", name="f"), {"type": "function", "name": "f"}),
        (ToolChoice(mode="tool", name="web_search"), "required"),
        (ToolChoice(mode="none"), "none"),
        (
            ToolChoice(mode="auto", allowed=("f", "patch")),
            {
                "type": "allowed_tools",
                "mode": "auto",
                "tools": [{"type": "function", "name": "f"}, {"type": "custom", "name": "patch"}],
            },
        ),
        (
            ToolChoice(mode="any", allowed=("f",)),
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "f"}],
            },
        ),
    ):
        out, _ = encode(Request(model="m", messages=(), tools=tools[:3], tool_choice=choice))
        assert out["tool_choice"] == want


def test_media_in_user_turns_and_tool_results() -> None:
    request = Request(
        model="m",
        messages=(
            user(
                ImagePart(media_type="image/jpeg", data="/9j/4AAQ", detail="low"),
                ImagePart(url="https://example.com/a.png"),
                DocumentPart(
                    media_type="application/pdf",
                    data="JVBERi0x",
                    title="Report",
                    context="quarterly",
                    citations_enabled=True,
                ),
                DocumentPart(media_type="application/pdf", data="JVBERi0x"),
                DocumentPart(text="plain words", media_type="text/plain"),
                DocumentPart(url="https://example.com/b.pdf"),
                DocumentPart(file_id="file-1"),
            ),
            assistant(
                ToolCallPart(id="call_1", name="shot", arguments="{}"),
                ImagePart(url="https://example.com/not-here.png"),
            ),
            user(
                ToolResultPart(
                    call_id="call_1",
                    content=(
                        TextPart(text="here"),
                        ImagePart(media_type="image/png", data="iVBOR"),
                    ),
                )
            ),
        ),
    )
    body, lost = encode(request)
    content = body["input"][0]["content"]
    assert content[0] == {
        "type": "input_image",
        "image_url": "data:image/jpeg;base64,/9j/4AAQ",
        "detail": "low",
    }
    assert content[1]["detail"] == "auto"
    assert content[2] == {
        "type": "input_file",
        "file_data": "data:application/pdf;base64,JVBERi0x",
        "filename": "Report",
    }
    assert content[3]["filename"] == "document.pdf"
    assert content[4] == {"type": "input_text", "text": "plain words"}
    assert content[5] == {"type": "input_file", "file_url": "https://example.com/b.pdf"}
    assert content[6] == {"type": "input_file", "file_id": "file-1"}
    result = body["input"][-1]
    assert result["output"] == [
        {"type": "input_text", "text": "here"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "auto"},
    ]
    assert lost == [
        "messages[0].content[2].context",
        "messages[0].content[2].citations_enabled",
        "messages[0].content[4]",
        "messages[1].content[1]",
    ]


def test_assistant_history_spellings() -> None:
    request = Request(
        model="m",
        messages=(
            user(TextPart(text="q")),
            assistant(TextPart(text="plain")),
            user(TextPart(text="q2")),
            assistant(
                TextPart(
                    text="cited",
                    citations=(
                        Citation(
                            kind="web_search_result_location",
                            url="https://a.example",
                            title="A",
                            cited_text="quote",
                        ),
                    ),
                ),
                RefusalPart(text="no"),
            ),
        ),
        extras={"chat": {"seed": 1}},
    )
    body, lost = encode(request)
    # another format's assistant history gets the phase gpt-5.x wants back (issue 15, item 6)
    assert body["input"][1] == {
        "type": "message",
        "role": "assistant",
        "content": "plain",
        "phase": "final_answer",
    }
    cited = body["input"][3]
    assert cited["status"] == "completed"
    assert cited["id"].startswith("msg_")
    assert cited["content"][0]["annotations"] == [
        {
            "type": "url_citation",
            "url": "https://a.example",
            "title": "A",
            "start_index": 0,
            "end_index": 5,
        }
    ]
    assert cited["content"][1] == {"type": "refusal", "refusal": "no"}
    assert lost == ["request.seed", "messages[3].content[0].citations[0].cited_text"]


def test_later_system_messages_and_names() -> None:
    request = Request(
        model="m",
        messages=(
            user(TextPart(text="hi")),
            Message(role="system", content=(TextPart(text="Reminder."),)),
            Message(
                role="user", name="alice", content=(TextPart(text="again"), RefusalPart(text="odd"))
            ),
        ),
    )
    body, lost = encode(request)
    assert body["input"][1] == {
        "type": "message",
        "role": "system",
        "content": [{"type": "input_text", "text": "Reminder."}],
    }
    assert lost == ["messages[2].name", "messages[2].content[1]"]


# --------------------------------------------------------------------------------- answers


def test_claude_answer_becomes_a_valid_response() -> None:
    response = Response(
        id="msg_01XFDUDYJgAACzvnptvVoYEL",
        model="claude-sonnet-4-5",
        content=(
            ThinkingPart(text="Plan.", signature=SIGNATURE),
            RedactedThinkingPart(data=REDACTED),
            TextPart(text="", citations=()),
            TextPart(
                text="It is sunny.",
                citations=(
                    Citation(kind="char_location", cited_text="x", source_format="anthropic"),
                ),
            ),
            ServerToolPart(
                kind="server_tool_use",
                tool="web_search",
                id="srvtoolu_1",
                source_format="anthropic",
                raw={
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "weather"},
                },
            ),
            ServerToolPart(
                kind="web_search_tool_result",
                tool="web_search",
                source_format="anthropic",
                raw={"type": "web_search_tool_result"},
            ),
            ToolCallPart(id="toolu_01", name="get_weather", arguments='{"city":"Paris"}'),
            ImagePart(url="https://x.example/y.png"),
        ),
        stop_reason="tool_use",
        usage=Usage(input_tokens=10, output_tokens=20, cache_read_tokens=100, cache_write_tokens=5),
        created=1700000000,
        extras={"anthropic": {"container": None}},
    )
    body, lost = answer(response)
    types = [item["type"] for item in body["output"]]
    assert types == ["reasoning", "reasoning", "message", "web_search_call", "function_call"]
    assert body["status"] == "completed"
    assert body["usage"]["input_tokens"] == 115
    assert body["usage"]["input_tokens_details"] == {"cached_tokens": 100, "cache_write_tokens": 5}
    assert body["usage"]["total_tokens"] == 135
    assert body["output"][3]["action"] == {"type": "search", "query": "weather"}
    assert body["output"][4]["call_id"] == "toolu_01"
    assert lost == ["response.container", "content[3].citations[0]", "content[5]", "content[7]"]
    back = codec.decode_response(body, Context())
    thinking, redacted = back.content[0], back.content[1]
    assert isinstance(thinking, ThinkingPart)
    assert thinking.signature == SIGNATURE
    assert thinking.text == "Plan."
    assert isinstance(redacted, RedactedThinkingPart)
    assert redacted.data == REDACTED


@pytest.mark.parametrize(
    ("stop", "status", "reason", "lost"),
    [
        ("end_turn", "completed", None, []),
        ("max_tokens", "incomplete", "max_output_tokens", []),
        ("content_filter", "incomplete", "content_filter", []),
        ("refusal", "completed", None, []),
        ("stop_sequence", "completed", None, ["stop_reason"]),
        ("pause_turn", "completed", None, ["stop_reason"]),
        ("context_window_exceeded", "incomplete", "max_output_tokens", ["stop_reason"]),
        ("something_new", "completed", None, ["stop_reason"]),
        (None, "completed", None, []),
    ],
)
def test_stop_reasons_become_statuses(stop: Any, status: str, reason: Any, lost: list[str]) -> None:
    response = Response(id="r", model="m", content=(TextPart(text="x"),), stop_reason=stop)
    body, found = answer(response)
    assert body["status"] == status
    assert body["incomplete_details"] == ({"reason": reason} if reason else None)
    assert found == lost


def test_error_stop_is_a_failed_response() -> None:
    body, _ = answer(Response(id="r", model="m", content=(), stop_reason="error"))
    assert body["status"] == "failed"
    assert body["error"]["code"] == "server_error"


def test_matched_stop_sequence_is_reported() -> None:
    response = Response(
        id="r",
        model="m",
        content=(TextPart(text="x"),),
        stop_reason="end_turn",
        stop_sequence="STOP",
    )
    assert answer(response)[1] == ["stop_sequence"]


@pytest.mark.parametrize(
    ("usage", "want", "lost"),
    [
        (None, None, []),
        (Usage(input_tokens=5), None, ["usage"]),
        (Usage(output_tokens=5), None, ["usage"]),
        (
            Usage(
                input_tokens=3,
                output_tokens=4,
                reasoning_tokens=2,
                extras={"anthropic": {"inference_geo": "us"}},
            ),
            {
                "input_tokens": 3,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": 4,
                "output_tokens_details": {"reasoning_tokens": 2},
                "total_tokens": 7,
            },
            ["usage.inference_geo"],
        ),
    ],
)
def test_usage_encoding(usage: Any, want: Any, lost: list[str]) -> None:
    body, found = answer(Response(id="r", model="m", content=(), usage=usage))
    assert body["usage"] == want
    assert found == lost


def test_answer_echoes_the_clients_request() -> None:
    ctx = Context()
    ctx.request = codec.decode_request(
        {
            "model": "gpt-4.1",
            "input": "hi",
            "instructions": "Be nice.",
            "temperature": 0.3,
            "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": True}],
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "max_output_tokens": 99,
            "reasoning": {"effort": "low"},
            "text": {"verbosity": "low"},
            "store": False,
            "metadata": {"k": "v"},
        },
        ctx,
    )
    body, _ = answer(Response(id="r", model="gpt-4.1", content=(TextPart(text="x"),)), ctx)
    for key, value in {
        "instructions": "Be nice.",
        "temperature": 0.3,
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "max_output_tokens": 99,
        "reasoning": {"effort": "low"},
        "text": {"verbosity": "low"},
        "store": False,
        "metadata": {"k": "v"},
    }.items():
        assert body[key] == value, key
    assert body["tools"][0]["name"] == "f"


def test_created_at_is_always_written() -> None:
    body, _ = answer(Response(id="r", model="m", content=()))
    assert isinstance(body["created_at"], int)
    assert body["created_at"] > 1_600_000_000


# ------------------------------------------------------------------------------ envelope


def test_reasoning_envelope_table() -> None:
    def item(part: Any) -> dict[str, Any]:
        body = codec.encode_response(Response(id="r", model="m", content=(part,)), Context())
        reasoning: dict[str, Any] = body["output"][0]
        return reasoning

    signed = item(ThinkingPart(text="t", signature=SIGNATURE))
    assert signed["summary"] == [{"type": "summary_text", "text": "t"}]
    assert open_envelope(signed["encrypted_content"]) == Envelope(
        origin="anthropic", kind="signature", data=SIGNATURE
    )
    redacted = item(RedactedThinkingPart(data=REDACTED))
    assert redacted["summary"] == []
    assert open_envelope(redacted["encrypted_content"]) == Envelope(
        origin="anthropic", kind="redacted", data=REDACTED
    )
    native = item(ThinkingPart(encrypted_content="gAAAA-native", id="rs_1", summary=("s",)))
    assert native == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "s"}],
        "encrypted_content": "gAAAA-native",
    }
    plain = item(ThinkingPart(text="from a chat model"))
    assert "encrypted_content" not in plain
    assert plain["summary"] == [{"type": "summary_text", "text": "from a chat model"}]
    both = Context()
    codec.encode_response(
        Response(id="r", model="m", content=(ThinkingPart(encrypted_content="e", signature="s"),)),
        both,
    )
    assert [loss.field for loss in both.losses] == ["content[0].signature"]


def test_foreign_envelopes_open_on_decode() -> None:
    from_responses = seal(Envelope(origin="responses", kind="encrypted", data="gAAAA", id="rs_9"))
    from_chat = seal(Envelope(origin="none", kind="signature"))
    body = {
        "model": "m",
        "input": [
            {"type": "reasoning", "id": "rs_a", "summary": [], "encrypted_content": from_responses},
            {
                "type": "reasoning",
                "id": "rs_b",
                "summary": [{"type": "summary_text", "text": "t"}],
                "encrypted_content": from_chat,
            },
            {"type": "reasoning", "id": "rs_c", "summary": [], "encrypted_content": "abr9.future"},
        ],
    }
    request = codec.decode_request(body, Context())
    first, second, third = request.messages[0].content
    assert isinstance(first, ThinkingPart)
    assert first.encrypted_content == "gAAAA"
    assert first.id == "rs_9"
    assert isinstance(second, ThinkingPart)
    assert second.encrypted_content is None
    assert second.signature is None
    assert isinstance(third, ThinkingPart)
    assert third.encrypted_content == "abr9.future"
    # reasoning a Chat model produced (unsigned) cannot go to OpenAI: left out, and said
    ctx = Context()
    sent = codec.encode_request(request, ctx)
    assert sent == {**body, "input": [body["input"][0], body["input"][2]]}
    assert [loss.field for loss in ctx.losses] == ["messages[0].content[1]"]


# ------------------------------------------------------------------------------ FIDELITY


def test_fidelity_2_tool_call_means_tool_use_and_no_empty_text_item() -> None:
    response = Response(
        id="r",
        model="m",
        content=(TextPart(text=""), ToolCallPart(id="c1", name="f", arguments="{}")),
        stop_reason="tool_use",
    )
    body, _ = answer(response)
    assert [i["type"] for i in body["output"]] == ["function_call"]
    back = codec.decode_response(body, Context())
    assert back.stop_reason == "tool_use"


def test_fidelity_3_claude_signatures_survive_responses_byte_for_byte() -> None:
    parts = (
        ThinkingPart(text="Reasoning with ünïcode.\n", signature=SIGNATURE),
        RedactedThinkingPart(data=REDACTED),
    )
    body, _ = answer(Response(id="r", model="m", content=parts))
    # a Responses client (Codex) replays the items in its next request
    replay = codec.decode_request({"model": "m", "input": body["output"]}, Context())
    thinking, redacted = replay.messages[0].content
    assert isinstance(thinking, ThinkingPart)
    assert (thinking.text, thinking.signature) == ("Reasoning with ünïcode.\n", SIGNATURE)
    assert isinstance(redacted, RedactedThinkingPart)
    assert redacted.data == REDACTED


def test_fidelity_4_encrypted_reasoning_round_trips() -> None:
    item = {
        "type": "reasoning",
        "id": "rs_68af",
        "summary": [{"type": "summary_text", "text": "**Plan**"}],
        "encrypted_content": "gAAAAABo-opaque==",
    }
    request = codec.decode_request({"model": "m", "input": [item]}, Context())
    (part,) = request.messages[0].content
    assert isinstance(part, ThinkingPart)
    assert (part.id, part.encrypted_content, part.summary) == (
        "rs_68af",
        "gAAAAABo-opaque==",
        ("**Plan**",),
    )
    foreign = Request(
        model="m",
        messages=(
            assistant(
                ThinkingPart(
                    id=part.id, encrypted_content=part.encrypted_content, summary=part.summary
                )
            ),
        ),
    )
    body, _ = encode(foreign)
    assert body["input"] == [item]


def test_fidelity_5_parallel_results_fold_into_one_turn_and_text_stays() -> None:
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "a", "name": "w", "arguments": "{}"},
            {"type": "function_call", "call_id": "b", "name": "w", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "a", "output": "1"},
            {"type": "function_call_output", "call_id": "b", "output": "2"},
            {"role": "user", "content": "thanks"},
        ],
    }
    request = codec.decode_request(body, Context())
    assert [m.role for m in request.messages] == ["user", "assistant", "user"]
    last = request.messages[2].content
    assert [type(p).__name__ for p in last] == ["ToolResultPart", "ToolResultPart", "TextPart"]
    foreign = Request(
        model="m",
        messages=(
            assistant(
                ToolCallPart(id="a", name="w", arguments="{}"),
                ToolCallPart(id="b", name="w", arguments="{}"),
            ),
            user(
                ToolResultPart(call_id="a", content=(TextPart(text="1"),)),
                ToolResultPart(call_id="b", content=(TextPart(text="2"),)),
                TextPart(text="thanks"),
            ),
        ),
    )
    out, _ = encode(foreign)
    assert [i["type"] for i in out["input"]] == [
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "message",
    ]
    assert out["input"][4]["content"] == [{"type": "input_text", "text": "thanks"}]


def test_fidelity_6_cached_tokens_are_counted_once() -> None:
    body = {
        "id": "r",
        "output": [],
        "usage": {
            "input_tokens": 1000,
            "input_tokens_details": {"cached_tokens": 900, "cache_write_tokens": 0},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 1005,
        },
    }
    usage = codec.decode_response(body, Context()).usage
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens, usage.total_input) == (100, 900, 1000)
    encoded, _ = answer(Response(id="r", model="m", content=(), usage=usage))
    assert encoded["usage"]["input_tokens"] == 1000


def test_fidelity_8_images_and_pdfs_in_tool_results_are_carried() -> None:
    result = ToolResultPart(
        call_id="c",
        content=(
            ImagePart(media_type="image/png", data="iVBOR"),
            DocumentPart(media_type="application/pdf", data="JVBER", filename="r.pdf"),
        ),
    )
    body, lost = encode(Request(model="m", messages=(user(result),)))
    assert lost == []
    assert [e["type"] for e in body["input"][0]["output"]] == ["input_image", "input_file"]


def test_fidelity_14_citations_map_to_url_citations_and_back() -> None:
    cite = Citation(
        kind="web_search_result_location",
        url="https://a.example",
        title="A",
        source_format="anthropic",
    )
    response = Response(id="r", model="m", content=(TextPart(text="Sunny.", citations=(cite,)),))
    body, _ = answer(response)
    (annotation,) = body["output"][0]["content"][0]["annotations"]
    assert annotation == {
        "type": "url_citation",
        "url": "https://a.example",
        "title": "A",
        "start_index": 0,
        "end_index": 6,
    }
    back = codec.decode_response(body, Context())
    text = back.content[0]
    assert isinstance(text, TextPart)
    assert text.citations[0].url == "https://a.example"


def test_fidelity_15_long_or_dotted_tool_names_are_shortened_for_responses() -> None:
    long_name = "mcp__claude_in_chrome__" + "navigate_to_a_page_and_wait" * 3
    request = Request(
        model="m",
        messages=(),
        tools=(Tool(name=long_name), Tool(name="a.b"), Tool(name="fine_name")),
    )
    names = ToolNames.for_target(request, codec)
    shortened = names.to_upstream
    assert set(shortened) == {long_name, "a.b"}
    assert all(len(n) <= 64 and codec.TOOL_NAME_RE.fullmatch(n) for n in shortened.values())
    body, _ = encode(names.rename_request(request))
    assert [t["name"] for t in body["tools"]] == [
        shortened[long_name],
        shortened["a.b"],
        "fine_name",
    ]


@pytest.mark.parametrize(
    ("kind", "status", "wire_type"),
    [
        ("invalid_request", 400, "invalid_request_error"),
        ("authentication", 401, "authentication_error"),
        ("not_found", 404, "not_found_error"),
        ("request_too_large", 413, "invalid_request_error"),
        ("rate_limit", 429, "rate_limit_error"),
        ("api_error", 500, "server_error"),
        ("overloaded", 529, "server_error"),
        ("unavailable", 503, "server_error"),
    ],
)
def test_fidelity_9_errors_keep_their_status_in_the_openai_envelope(
    kind: str, status: int, wire_type: str
) -> None:
    """Another API's error reaches a Responses client with its status, in its own envelope."""
    error = ApiError.of(kind, "upstream said no", source_format="anthropic", type="x_error")
    out_status, body = codec.encode_error(error)
    assert out_status == status
    assert body == {
        "error": {"message": "upstream said no", "type": wire_type, "param": None, "code": None}
    }
    back = codec.decode_error(body, out_status)
    assert (back.kind, back.status) == (kind, status)
