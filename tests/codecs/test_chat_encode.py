"""The ``chat`` encoders fed canonical values as the *other* formats' decoders produce them,
with the official ``openai`` SDK as the oracle: request bodies validate against its param
types, answers against ``ChatCompletion``, streams drive its own chunk accumulator and
client, error bodies raise its exception classes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai._models import construct_type
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat import completion_create_params as params
from pydantic import TypeAdapter

from apibridge._sse import SSEDecoder
from apibridge.codecs import Context, chat
from apibridge.errors import ApiError, UnsupportedFeature
from apibridge.model import (
    Citation,
    DocumentPart,
    Event,
    ImagePart,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    OutputFormat,
    PartDelta,
    PartStart,
    PartStop,
    Ping,
    ReasoningConfig,
    RedactedThinkingPart,
    RefusalPart,
    Request,
    Response,
    ServerToolPart,
    StreamError,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
    accumulate,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chat"
PNG = (  # a one-pixel PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
    "awAAAABJRU5ErkJggg=="
)
PDF = "JVBERi0xLjQK"


def consume(value: Any) -> Any:
    """Walk a validated TypedDict, forcing pydantic's lazy iterables to validate."""
    if isinstance(value, dict):
        return {k: consume(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or type(value).__name__ == "ValidatorIterator":
        return [consume(v) for v in value]
    return value


STREAMING = TypeAdapter(params.CompletionCreateParamsStreaming)
NON_STREAMING = TypeAdapter(params.CompletionCreateParamsNonStreaming)


def validate_request(body: dict[str, Any]) -> None:
    """The body is what ``openai.chat.completions.create`` accepts (SDK param types).

    The adapters live at module level: pydantic validates ``Iterable`` fields lazily, and the
    lazy iterators need their adapter alive while they are consumed."""
    consume((STREAMING if body.get("stream") else NON_STREAMING).validate_python(body))


def sse_data(raw: list[bytes]) -> list[str]:
    decoder = SSEDecoder()
    frames = [f for chunk in raw for f in decoder.feed(chunk)] + decoder.close()
    return [f.data for f in frames]


def encode_stream(
    events: list[Event], ctx: Context | None = None, close: bool = True
) -> list[bytes]:
    encoder = chat.StreamEncoder(ctx or Context())
    out = [b for e in events for b in encoder.feed(e)]
    return out + (encoder.close() if close else [])


def sdk_snapshot(raw: list[bytes]) -> Any:
    """Drive the SDK's own chunk accumulator over the encoder's output."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for data in sse_data(raw):
        if data == "[DONE]":
            break
        # The SDK builds chunks leniently (``construct_type``), as its own client does: its
        # chunk type knows only ``function`` tool calls, while custom ones stream as well.
        state.handle_chunk(construct_type(type_=ChatCompletionChunk, value=json.loads(data)))
    return state.current_completion_snapshot


def comparable(completion: Any) -> dict[str, Any]:
    """What a client reads from an answer, in a form both paths can be compared in."""
    choice = completion.choices[0]
    message = choice.message
    extra = message.model_extra or {}
    return {
        "id": completion.id,
        "model": completion.model,
        "created": completion.created,
        "content": message.content or None,
        "refusal": message.refusal or None,
        "reasoning": extra.get("reasoning_content"),
        "tool_calls": [
            (t.id, t.type, t.function.name, t.function.arguments)
            if t.type == "function"
            else (t.id, t.type, *_custom(t.custom))
            for t in message.tool_calls or []
        ],
        "annotations": [a.model_dump() for a in message.annotations or []],
        "finish_reason": choice.finish_reason,
        "usage": completion.usage.model_dump(exclude_none=True) if completion.usage else None,
    }


def _custom(custom: Any) -> tuple[str, str]:
    """A custom tool call's name and input (the SDK's stream snapshot keeps it as a dict)."""
    data = custom if isinstance(custom, dict) else custom.model_dump()
    return data["name"], data["input"]


def stream_events(*parts: Event, stop: str = "end_turn", usage: Usage | None = None) -> list[Event]:
    return [
        MessageStart(
            id="msg_1",
            model="claude-x",
            created=1700000000,
            usage=Usage(input_tokens=10, cache_read_tokens=5),
        ),
        *parts,
        MessageDelta(stop_reason=stop, usage=usage or Usage(output_tokens=7)),
        MessageStop(),
    ]


# -------------------------------------------------------------------------------- requests


def claude_like_request() -> Request:
    """A canonical request the way the Anthropic decoder builds one, with every awkward part."""
    return Request(
        model="claude-sonnet-4-5",
        system=(
            TextPart(text="You are Claude Code."),
            TextPart(text="Be careful.", cache_control={"type": "ephemeral"}),
        ),
        messages=(
            Message(
                role="user",
                content=(
                    TextPart(text="Look at these."),
                    ImagePart(media_type="image/png", data=PNG),
                    DocumentPart(media_type="application/pdf", data=PDF, title="report.pdf"),
                    DocumentPart(text="plain notes", title="notes"),
                    DocumentPart(url="https://example.com/a.pdf"),
                ),
            ),
            Message(
                role="assistant",
                content=(
                    ThinkingPart(text="Let me check the files.", signature="EqQBCkYIBxgCKkBsig"),
                    RedactedThinkingPart(data="EmwKAhgBEgy3va3pzix"),
                    TextPart(text="Reading both."),
                    ToolCallPart(id="toolu_01", name="Read", arguments='{"path": "a"}'),
                    ToolCallPart(id="toolu_02", name="Read", arguments='{"path": "b"}'),
                ),
            ),
            Message(
                role="user",
                content=(
                    ToolResultPart(call_id="toolu_01", content=(TextPart(text="file a"),)),
                    ToolResultPart(
                        call_id="toolu_02",
                        content=(
                            TextPart(text="see image"),
                            ImagePart(media_type="image/png", data=PNG),
                        ),
                        is_error=True,
                    ),
                    TextPart(text="Now summarise."),
                ),
            ),
        ),
        tools=(
            Tool(
                name="Read",
                parameters={"type": "object", "properties": {"path": {"type": "string"}}},
                cache_control={"type": "ephemeral"},
            ),
            Tool(
                name="web_search",
                kind="server",
                server_type="web_search",
                raw={
                    "type": "web_search_20250305",
                    "name": "web_search",
                    "max_uses": 5,
                    "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
                },
                source_format="anthropic",
            ),
        ),
        tool_choice=ToolChoice(mode="any"),
        max_tokens=32000,
        temperature=1.0,
        top_k=5,
        stop=("END",),
        reasoning=ReasoningConfig(mode="enabled", budget_tokens=10000),
        user="user-1",
        stream=True,
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
                "_system_string": True,
            }
        },
    )


def test_request_from_claude_shapes_validates_and_reports_every_loss() -> None:
    ctx = Context()
    body = chat.encode_request(claude_like_request(), ctx)
    validate_request(body)
    messages = body["messages"]
    assert messages[0] == {
        "role": "system",
        "content": [
            {"type": "text", "text": "You are Claude Code."},
            {"type": "text", "text": "Be careful."},
        ],
    }
    user = messages[1]["content"]
    assert user[1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert user[2] == {
        "type": "file",
        "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "report.pdf"},
    }
    assert user[3] == {"type": "text", "text": "plain notes"}
    assert len(user) == 4
    assistant = messages[2]
    assert assistant["reasoning_content"] == "Let me check the files."  # FIDELITY 4: replayed
    assert assistant["content"] == "Reading both."
    assert [c["id"] for c in assistant["tool_calls"]] == ["toolu_01", "toolu_02"]
    assert [m["role"] for m in messages[3:]] == ["tool", "tool", "user"]
    assert messages[3] == {"role": "tool", "tool_call_id": "toolu_01", "content": "file a"}
    assert messages[4] == {"role": "tool", "tool_call_id": "toolu_02", "content": "see image"}
    assert messages[5]["content"][0]["type"] == "image_url"  # moved after the tool messages
    assert messages[5]["content"][1] == {"type": "text", "text": "Now summarise."}
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Read",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
            },
        }
    ]
    assert body["web_search_options"] == {
        "user_location": {"type": "approximate", "approximate": {"city": "Paris", "country": "FR"}}
    }
    assert body["tool_choice"] == "required"
    assert body["reasoning_effort"] == "medium"
    assert (body["max_tokens"], body["top_k"], body["stop"], body["user"]) == (
        32000,
        5,
        ["END"],
        "user-1",
    )
    assert body["stream_options"] == {"include_usage": True}
    lost = {loss.field: loss.action for loss in ctx.losses}
    assert lost == {
        "request.context_management.edits[0]": (
            "applied before sending: tool_uses below 100, nothing cleared"
        ),
        "system[1].cache_control": "dropped",
        "messages[0].content[3]": "sent as a text part",
        "messages[0].content[3].title": "dropped",
        "messages[0].content[4]": "dropped",
        "messages[1].content[0].signature": "dropped",
        "messages[1].content[1]": "dropped",
        "messages[2].content[1].content[1]": "moved",
        "messages[2].content[1].is_error": "dropped",
        "tools[0].cache_control": "dropped",
        "tools[1].max_uses": "dropped",
        "reasoning.budget_tokens": "sent as reasoning_effort 'medium'",
    }


def test_strict_mode_raises_on_the_first_loss() -> None:
    with pytest.raises(UnsupportedFeature) as info:
        chat.encode_request(claude_like_request(), Context(strict=True))
    assert info.value.loss.field == "request.context_management.edits[0]"


def test_request_from_responses_shapes() -> None:
    request = Request(
        model="gpt-5",
        system=(TextPart(text="Follow the plan."),),
        system_role="developer",
        messages=(
            Message(
                role="user",
                content=(
                    TextPart(text="patch it"),
                    ImagePart(file_id="file-1"),
                    ImagePart(url="https://x/y.png", detail="low"),
                ),
            ),
            Message(
                role="assistant",
                content=(
                    ThinkingPart(
                        encrypted_content="gAAAAB",
                        id="rs_1",
                        summary=("Plan the patch.", "Then apply."),
                    ),
                    ToolCallPart(
                        id="call_1",
                        name="apply_patch",
                        arguments="*** Begin Patch",
                        kind="custom",
                        item_id="ctc_1",
                    ),
                ),
            ),
            Message(
                role="user",
                content=(
                    ToolResultPart(
                        call_id="call_1", content=(TextPart(text="Done"),), kind="custom"
                    ),
                ),
            ),
            Message(role="developer", content=(TextPart(text="Be brief now."),)),
            Message(role="critic", content=(TextPart(text="?"),)),
        ),
        tools=(
            Tool(
                name="apply_patch",
                kind="custom",
                format={"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
            ),
            Tool(name="shell", parameters={"type": "object"}, strict=True),
            Tool(
                name="file_search",
                kind="server",
                server_type="file_search",
                raw={"type": "file_search"},
            ),
        ),
        tool_choice=ToolChoice(mode="tool", name="apply_patch"),
        output_format=OutputFormat(kind="json_schema", schema={"type": "object"}, strict=True),
        reasoning=ReasoningConfig(mode="enabled", effort="high", summary="auto"),
        metadata={"k": "v"},
        parallel_tool_calls=False,
        n=2,
        logprobs=True,
        top_logprobs=3,
    )
    ctx = Context()
    body = chat.encode_request(request, ctx)
    validate_request(body)
    assert body["messages"][0] == {"role": "developer", "content": "Follow the plan."}
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "patch it"},
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
    ]
    assert body["messages"][2]["reasoning_content"] == "Plan the patch.\n\nThen apply."
    assert body["messages"][2]["content"] is None
    # A free-form tool from another format is a function tool taking {"input": string}
    # (vLLM, Ollama and most compatible servers reject Chat custom tools), and so are its calls.
    assert body["messages"][2]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "apply_patch", "arguments": '{"input":"*** Begin Patch"}'},
        }
    ]
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "Done"}
    assert body["messages"][4] == {"role": "developer", "content": "Be brief now."}
    assert body["messages"][5]["role"] == "user"
    assert body["tools"][0] == {
        "type": "function",
        "function": {
            "name": "apply_patch",
            "description": "Pass the tool's whole input as the string `input`. "
            "It must follow this lark grammar:\nstart: /.+/",
            "parameters": {
                "type": "object",
                "properties": {"input": {"type": "string"}},
                "required": ["input"],
            },
        },
    }
    assert body["tools"][1]["function"]["strict"] is True
    assert body["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": {"type": "object"}, "strict": True},
    }
    assert (
        body["reasoning_effort"],
        body["n"],
        body["parallel_tool_calls"],
        body["top_logprobs"],
    ) == ("high", 2, False, 3)
    assert {loss.field for loss in ctx.losses} == {
        "messages[0].content[1]",
        "messages[1].content[0].encrypted_content",
        "messages[1].content[1].item_id",
        "messages[4].role",
        "tools[0].format",
        "tools[2]",
        "reasoning.summary",
    }


@pytest.mark.parametrize(
    ("reasoning", "effort", "lost"),
    [
        (ReasoningConfig(effort="minimal"), "low", {"reasoning.effort"}),
        (ReasoningConfig(effort="medium"), "medium", set()),
        # adaptive thinking without an effort: no Chat word says "decide", so the server's
        # default effort applies, reported (issue 15 item 12; docs/fidelity.md)
        (ReasoningConfig(mode="adaptive"), None, {"reasoning"}),
        (ReasoningConfig(mode="adaptive", effort="low"), "low", set()),
        (ReasoningConfig(mode="disabled"), None, {"reasoning"}),
        # only low/medium/high reach a server (vLLM rejects anything else): "none" cannot
        # travel, and the other words and budgets map to the nearest of the three
        (ReasoningConfig(mode="disabled", effort="none"), None, {"reasoning"}),
        (ReasoningConfig(budget_tokens=1024), "low", {"reasoning.budget_tokens"}),
        (ReasoningConfig(budget_tokens=64000), "high", {"reasoning.budget_tokens"}),
        (ReasoningConfig(budget_tokens=2048, effort="high"), "high", {"reasoning.budget_tokens"}),
        (ReasoningConfig(), None, set()),
    ],
)
def test_reasoning_settings_become_an_effort(
    reasoning: ReasoningConfig, effort: str | None, lost: set[str]
) -> None:
    ctx = Context()
    body = chat.encode_request(Request(model="m", messages=(), reasoning=reasoning), ctx)
    assert body.get("reasoning_effort") == effort
    assert {loss.field for loss in ctx.losses} == lost


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (ToolChoice(mode="auto"), "auto"),
        (ToolChoice(mode="none"), "none"),
        (ToolChoice(mode="any"), "required"),
        (ToolChoice(mode="tool", name="f"), {"type": "function", "function": {"name": "f"}}),
        (
            ToolChoice(mode="auto", allowed=("f", "c")),
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "auto",
                    "tools": [
                        {"type": "function", "function": {"name": "f"}},
                        # a free-form tool from another format is a function tool here
                        {"type": "function", "function": {"name": "c"}},
                    ],
                },
            },
        ),
        (
            ToolChoice(mode="any", allowed=("f",)),
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "f"}}],
                },
            },
        ),
        (ToolChoice(mode="none", allowed=("f",)), "none"),
    ],
)
def test_tool_choice_forms(choice: ToolChoice, expected: Any) -> None:
    tools = (Tool(name="f", parameters={"type": "object"}), Tool(name="c", kind="custom"))
    body = chat.encode_request(
        Request(model="m", messages=(), tools=tools, tool_choice=choice), Context()
    )
    validate_request(body)
    assert body["tool_choice"] == expected


def test_forcing_a_server_tool_is_a_loss() -> None:
    ctx = Context()
    tools = (
        Tool(
            name="web_search",
            kind="server",
            server_type="web_search",
            raw={"search_context_size": "high"},
            source_format="responses",
        ),
    )
    body = chat.encode_request(
        Request(
            model="m",
            messages=(),
            tools=tools,
            tool_choice=ToolChoice(mode="tool", name="web_search"),
        ),
        ctx,
    )
    assert "tool_choice" not in body
    assert body["web_search_options"] == {"search_context_size": "high"}
    assert [loss.field for loss in ctx.losses] == ["tool_choice"]


def test_content_parts_chat_cannot_hold_are_reported() -> None:
    ctx = Context()
    request = Request(
        model="m",
        messages=(
            Message(
                role="user",
                content=(
                    TextPart(text="x", citations=(Citation(kind="char_location", cited_text="x"),)),
                    ImagePart(data=PNG),
                    DocumentPart(data=PDF),
                    DocumentPart(
                        file_id="file-2",
                        filename="a.pdf",
                        url="u",
                        context="c",
                        citations_enabled=True,
                        cache_control={"type": "ephemeral"},
                    ),
                    DocumentPart(),
                    ThinkingPart(text="misplaced"),
                ),
            ),
            Message(
                role="assistant",
                content=(
                    TextPart(
                        text="cited",
                        citations=(
                            Citation(
                                kind="url_citation",
                                url="https://a",
                                title="A",
                                start_index=0,
                                end_index=5,
                            ),
                        ),
                    ),
                    RefusalPart(text="no"),
                    ImagePart(url="https://img"),
                ),
            ),
        ),
    )
    body = chat.encode_request(request, ctx)
    validate_request(body)
    parts = body["messages"][0]["content"]
    assert parts[1]["image_url"]["url"] == f"data:image/png;base64,{PNG}"
    assert parts[2] == {"type": "file", "file": {"file_data": PDF}}
    assert parts[3] == {"type": "file", "file": {"file_id": "file-2", "filename": "a.pdf"}}
    assert body["messages"][1] == {"role": "assistant", "content": "cited", "refusal": "no"}
    assert {loss.field for loss in ctx.losses} == {
        "messages[0].content[0].citations",
        "messages[0].content[1].media_type",
        "messages[0].content[3].url",
        "messages[0].content[3].context",
        "messages[0].content[3].citations",
        "messages[0].content[3].cache_control",
        "messages[0].content[4]",
        "messages[0].content[5]",
        "messages[1].content[0].citations[0]",
        "messages[1].content[2]",
    }


def test_chat_citations_in_history_come_back_as_annotations() -> None:
    body = {
        "model": "m",
        "messages": [
            {
                "role": "assistant",
                "content": "See [a](https://a).",
                "annotations": [
                    {
                        "type": "url_citation",
                        "url_citation": {
                            "url": "https://a",
                            "title": "a",
                            "start_index": 4,
                            "end_index": 18,
                        },
                    }
                ],
            }
        ],
    }
    ctx = Context()
    assert chat.encode_request(chat.decode_request(body, ctx), ctx) == body


# ------------------------------------------------------------------------------- responses


def claude_like_response() -> Response:
    return Response(
        id="msg_01",
        model="claude-sonnet-4-5",
        created=None,
        content=(
            ThinkingPart(text="Searching first.", signature="EqQBsig"),
            RedactedThinkingPart(data="EmwK"),
            ServerToolPart(
                kind="server_tool_use",
                raw={
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "q"},
                },
                source_format="anthropic",
                tool="web_search",
            ),
            TextPart(text="Paris is "),
            TextPart(
                text="the capital.",
                citations=(
                    Citation(
                        kind="web_search_result_location",
                        url="https://en.wikipedia.org/wiki/Paris",
                        title="Paris",
                        cited_text="Paris is the capital",
                    ),
                    Citation(
                        kind="char_location", cited_text="capital", start_index=0, end_index=7
                    ),
                ),
            ),
            ToolCallPart(id="toolu_9", name="Read", arguments='{"path": "x"}'),
        ),
        stop_reason="tool_use",
        usage=Usage(input_tokens=10, output_tokens=20, cache_read_tokens=100, cache_write_tokens=5),
        extras={"anthropic": {"container": {"id": "c"}}},
    )


def test_response_from_claude_shapes_validates_with_the_sdk() -> None:
    ctx = Context()
    body = chat.encode_response(claude_like_response(), ctx)
    completion = ChatCompletion.model_validate(body)
    message = completion.choices[0].message
    assert message.content == "Paris is the capital."
    assert (message.model_extra or {})["reasoning_content"] == "Searching first."
    (annotation,) = message.annotations or []
    assert (annotation.url_citation.start_index, annotation.url_citation.end_index) == (9, 21)
    assert message.content[9:21] == "the capital."
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    assert message.tool_calls[0].id == "toolu_9"
    assert completion.usage is not None
    assert (
        completion.usage.prompt_tokens,
        completion.usage.completion_tokens,
        completion.usage.total_tokens,
    ) == (115, 20, 135)
    assert completion.usage.prompt_tokens_details is not None
    assert (
        completion.usage.prompt_tokens_details.cached_tokens,
        completion.usage.prompt_tokens_details.cache_write_tokens,
    ) == (100, 5)
    assert isinstance(completion.created, int)
    assert completion.created > 0
    assert {loss.field for loss in ctx.losses} == {
        "response.container",
        "response.content[0].signature",
        "response.content[1]",
        "response.content[2]",
        "response.content[4].citations[0].cited_text",  # url_citation has no quoted text
        "response.content[4].citations[1]",
    }


@pytest.mark.parametrize(
    ("stop", "finish", "lost"),
    [
        ("end_turn", "stop", False),
        ("stop_sequence", "stop", False),
        ("max_tokens", "length", False),
        ("content_filter", "content_filter", False),
        ("refusal", "content_filter", False),
        ("context_window_exceeded", "length", False),
        ("pause_turn", "stop", True),
        ("error", "stop", True),
        ("something_new", "something_new", True),
    ],
)
def test_every_stop_reason_has_a_finish_reason(stop: str, finish: str, lost: bool) -> None:
    ctx = Context()
    body = chat.encode_response(
        Response(id="r", model="m", content=(TextPart(text="x"),), stop_reason=stop, created=1), ctx
    )
    assert body["choices"][0]["finish_reason"] == finish
    assert bool(ctx.losses) is lost


def test_stop_sequence_is_written_where_vllm_puts_it() -> None:
    body = chat.encode_response(
        Response(
            id="r",
            model="m",
            content=(TextPart(text="x"),),
            stop_reason="stop_sequence",
            stop_sequence="END",
            created=1,
        ),
        Context(),
    )
    assert body["choices"][0]["stop_reason"] == "END"
    ChatCompletion.model_validate(body)


def test_usage_never_invents_numbers() -> None:
    body = chat.encode_response(
        Response(id="r", model="m", content=(), usage=Usage(output_tokens=3), created=1), Context()
    )
    assert body["usage"] == {"completion_tokens": 3}
    assert body["choices"][0]["message"] == {"role": "assistant", "content": ""}
    openai_numbers = Usage.from_openai(2006, 18, cached_tokens=1920, reasoning_tokens=4)
    encoded = chat.encode_response(
        Response(id="r", model="m", content=(), usage=openai_numbers, created=1), Context()
    )["usage"]
    assert encoded == {
        "prompt_tokens": 2006,
        "completion_tokens": 18,
        "total_tokens": 2024,
        "prompt_tokens_details": {"cached_tokens": 1920},
        "completion_tokens_details": {"reasoning_tokens": 4},
    }


def test_a_damaged_usage_hint_is_rebuilt_from_the_numbers() -> None:
    usage = Usage(
        input_tokens=1, output_tokens=2, extras={"chat": {"_raw": {"prompt_tokens": "bad"}}}
    )
    body = chat.encode_response(
        Response(id="r", model="m", content=(), usage=usage, created=1), Context()
    )
    assert body["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


def test_several_choices_are_a_loss_for_other_formats() -> None:
    decoded = chat.decode_response(
        json.loads((FIXTURES / "response_vllm_stop_string_n2.json").read_text())["body"], Context()
    )
    ctx = Context()
    ctx.lose_extras(decoded.extras, "anthropic", "response")
    assert [loss.field for loss in ctx.losses] == ["response.other_choices"]


# --------------------------------------------------------------------------------- streams


def thinking_text_tools_events() -> list[Event]:
    cite = Citation(
        kind="web_search_result_location", url="https://a.example", title="A", cited_text="Hi"
    )
    return stream_events(
        PartStart(index=0, part=ThinkingPart()),
        PartDelta(index=0, field="thinking", value="Hmm."),
        PartDelta(index=0, field="signature", value="sig"),
        PartStop(index=0),
        PartStart(index=1, part=TextPart(text="")),
        PartDelta(index=1, field="text", value="Hi"),
        PartDelta(index=1, field="citation", citation=cite),
        PartDelta(index=1, field="text", value=" there"),
        PartStop(index=1),
        PartStart(index=2, part=ToolCallPart(id="toolu_a", name="f", arguments="")),
        PartStart(index=3, part=ToolCallPart(id="toolu_b", name="g", arguments="")),
        PartDelta(index=2, field="arguments", value='{"x"'),
        PartDelta(index=3, field="arguments", value='{"y": 2}'),
        PartDelta(index=2, field="arguments", value=": 1}"),
        PartStop(index=3),
        PartStop(index=2),
        stop="tool_use",
    )


def fixture_streams() -> list[str]:
    names = []
    for path in sorted(FIXTURES.glob("stream_*.json")):
        if "response" in json.loads(path.read_text()):
            names.append(path.stem)
    return names


def decoded_fixture(name: str) -> list[Event]:
    fixture = json.loads((FIXTURES / f"{name}.json").read_text())
    frames = SSEDecoder()
    decoder = chat.StreamDecoder(Context())
    events = [e for f in frames.feed(fixture["sse"].encode()) for e in decoder.feed(f)]
    return events + [e for f in frames.close() for e in decoder.feed(f)] + decoder.close()


@pytest.mark.parametrize("source", ["hand-made", *fixture_streams()])
def test_stream_encoder_output_drives_the_sdk_accumulator_to_the_encoded_response(
    source: str,
) -> None:
    events = thinking_text_tools_events() if source == "hand-made" else decoded_fixture(source)
    raw = encode_stream(events)
    for data in sse_data(raw)[:-1]:
        ChatCompletionChunk.model_validate(json.loads(data))
    whole = chat.encode_response(accumulate(events), Context())
    assert comparable(sdk_snapshot(raw)) == comparable(ChatCompletion.model_validate(whole))


def test_stream_grammar() -> None:
    raw = encode_stream(thinking_text_tools_events())
    datas = sse_data(raw)
    assert datas[-1] == "[DONE]"
    assert datas.count("[DONE]") == 1
    chunks = [json.loads(d) for d in datas[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {(c["id"], c["created"], c["model"], c["object"]) for c in chunks} == {
        ("msg_1", 1700000000, "claude-x", "chat.completion.chunk")
    }
    finishes = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finishes) == 1
    assert finishes[0]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 15
    assert chunks.index(finishes[0]) == len(chunks) - 2
    tool_deltas = [
        t for c in chunks if c["choices"] for t in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    firsts = [t for t in tool_deltas if "id" in t]
    assert [(t["index"], t["id"], t["type"], t["function"]["name"]) for t in firsts] == [
        (0, "toolu_a", "function", "f"),
        (1, "toolu_b", "function", "g"),
    ]
    for chunk in chunks:
        for key, value in (chunk["choices"][0]["delta"] if chunk["choices"] else {}).items():
            assert value != "" or (key == "content" and chunk is chunks[0])  # no empty deltas
    annotations = [c for c in chunks if c["choices"] and "annotations" in c["choices"][0]["delta"]]
    (note,) = annotations[0]["choices"][0]["delta"]["annotations"]
    assert (note["url_citation"]["start_index"], note["url_citation"]["end_index"]) == (0, 8)


def test_usage_chunk_only_when_the_chat_client_asked() -> None:
    asked = Context(
        request=chat.decode_request(
            {
                "model": "m",
                "messages": [],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            Context(),
        )
    )
    silent = Context(
        request=chat.decode_request({"model": "m", "messages": [], "stream": True}, Context())
    )
    events = stream_events(PartStart(index=0, part=TextPart(text="hi")), PartStop(index=0))
    assert any('"usage"' in d for d in sse_data(encode_stream(events, asked)))
    assert not any('"usage"' in d for d in sse_data(encode_stream(events, silent)))
    unknown = [MessageStart(id="m", model="m"), MessageDelta(stop_reason="end_turn"), MessageStop()]
    assert not any('"usage"' in d for d in sse_data(encode_stream(unknown, asked)))


def test_close_on_an_unfinished_stream_writes_one_error_chunk_and_done() -> None:
    encoder = chat.StreamEncoder(Context())
    encoder.feed(MessageStart(id="m", model="x"))
    encoder.feed(PartStart(index=0, part=TextPart(text="par")))
    closing = encoder.close()
    assert [json.loads(d)["error"]["type"] for d in sse_data(closing)[:-1]] == ["server_error"]
    assert sse_data(closing)[-1] == "[DONE]"
    assert encoder.close() == []
    assert encoder.feed(MessageStop()) == []


def test_stream_error_then_close_writes_the_error_once() -> None:
    encoder = chat.StreamEncoder(Context())
    out = encoder.feed(
        StreamError(
            error=ApiError.of(
                "rate_limit", "slow down", type="rate_limit_error", source_format="anthropic"
            )
        )
    )
    assert json.loads(sse_data(out)[0]) == {
        "error": {"message": "slow down", "type": "rate_limit_error", "param": None, "code": None}
    }
    assert encoder.close() == []
    finished = chat.StreamEncoder(Context())
    for event in stream_events():
        finished.feed(event)
    assert finished.close() == []


def test_encoder_tolerates_odd_event_orders_and_reports_what_it_drops() -> None:
    ctx = Context()
    events: list[Event] = [
        Ping(),
        PartStart(
            index=0,
            part=TextPart(text="pre", citations=(Citation(kind="page_location", cited_text="x"),)),
        ),
        MessageStart(id="late", model="m"),
        PartDelta(index=9, field="text", value="ghost"),
        PartStart(index=1, part=ImagePart(url="u")),
        PartDelta(index=1, field="text", value="ignored"),
        PartStart(
            index=2,
            part=ServerToolPart(kind="web_search_tool_result", raw={}, source_format="anthropic"),
        ),
        PartStop(index=0, part=TextPart(text="prefix")),
        PartStart(index=3, part=ThinkingPart(text="")),
        PartDelta(index=3, field="summary", value="Plan", summary_index=0),
        PartDelta(index=3, field="summary", value="Act", summary_index=1),
        PartStop(index=3, part=ThinkingPart(summary=("Plan", "Act"), encrypted_content="enc")),
        PartStart(index=4, part=RefusalPart(text="No")),
        PartDelta(index=4, field="arguments", value="not for a refusal"),
        PartStart(
            index=5,
            part=ToolCallPart(id="c", name="code", arguments="x", kind="custom", item_id="ctc"),
        ),
        PartStop(index=5, part=ToolCallPart(id="c", name="code", arguments="xyz", kind="custom")),
        MessageDelta(stop_reason="end_turn", extras={"responses": {"status": "completed"}}),
        MessageStop(),
    ]
    raw = encode_stream(events, ctx)
    snapshot = comparable(sdk_snapshot(raw))
    assert snapshot["content"] == "prefix"
    assert snapshot["reasoning"] == "Plan\n\nAct"
    assert snapshot["refusal"] == "No"
    assert snapshot["tool_calls"] == [("c", "custom", "code", "xyz")]
    assert snapshot["finish_reason"] == "tool_calls"
    assert snapshot["id"].startswith("chatcmpl-")  # events before MessageStart start the stream
    assert {loss.field for loss in ctx.losses} == {
        "content[9]",
        "content[1]",
        "content[2]",
        "content[0].citations[0]",
        "content[3].signature",
        "content[5].item_id",
        "content[4].arguments",
        "stream.status",
    }


def test_foreign_start_extras_are_reported_and_hints_kept() -> None:
    ctx = Context()
    start = MessageStart(
        id="c",
        model="m",
        created=5,
        extras={"chat": {"_system_fingerprint": "fp_1", "prompt_filter_results": []}},
    )
    raw = encode_stream([start, MessageDelta(stop_reason="end_turn"), MessageStop()], ctx)
    assert json.loads(sse_data(raw)[0])["system_fingerprint"] == "fp_1"
    assert [loss.field for loss in ctx.losses] == ["stream.prompt_filter_results"]


def test_chat_to_chat_stream_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in fixture_streams():
        events = decoded_fixture(name)
        again = [e for raw in encode_stream(events) for f in SSEDecoder().feed(raw) for e in [f]]
        decoder = chat.StreamDecoder(Context())
        redecoded = [e for f in again for e in decoder.feed(f)] + decoder.close()
        first, second = accumulate(events), accumulate(redecoded)
        assert (second.id, second.content, second.stop_reason) == (
            first.id,
            tuple(_plain(p) for p in first.content),
            first.stop_reason,
        )


def _plain(part: Any) -> Any:
    import attrs

    return attrs.evolve(part, extras={}) if hasattr(part, "extras") else part


# ---------------------------------------------------------------- the real client, offline


def client_for(status: int, content: bytes, content_type: str) -> openai.OpenAI:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"content-type": content_type})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return openai.OpenAI(
        api_key="test", base_url="http://127.0.0.1:9/v1", http_client=http, max_retries=0
    )


def test_sdk_stream_helper_reads_the_encoder_output() -> None:
    raw = b"".join(encode_stream(thinking_text_tools_events()))
    client = client_for(200, raw, "text/event-stream")
    tools = [
        {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}},
            },
        }
    ]
    with client.chat.completions.stream(
        model="m", messages=[{"role": "user", "content": "q"}], tools=tools
    ) as stream:  # type: ignore[list-item]
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()
    assert {"content.delta", "tool_calls.function.arguments.delta", "content.done"} <= kinds
    calls = final.choices[0].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("f", '{"x": 1}'),
        ("g", '{"y": 2}'),
    ]


def test_fidelity_9_mid_stream_failure_reaches_the_sdk_as_an_api_error() -> None:
    events: list[Event] = [
        MessageStart(id="m", model="x"),
        PartStart(index=0, part=TextPart(text="Once")),
    ]
    raw = b"".join(encode_stream(events))  # close() on an unfinished stream
    client = client_for(200, raw, "text/event-stream")
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "q"}], stream=True
    )
    seen: list[str | None] = []

    def read_all() -> None:
        seen.extend(chunk.choices[0].delta.content for chunk in stream)

    with pytest.raises(openai.APIError, match="ended before the answer was complete"):
        read_all()
    assert seen == ["", "Once"]


@pytest.mark.parametrize(
    ("kind", "exception"),
    [
        ("invalid_request", openai.BadRequestError),
        ("authentication", openai.AuthenticationError),
        ("permission", openai.PermissionDeniedError),
        ("not_found", openai.NotFoundError),
        ("unprocessable", openai.UnprocessableEntityError),
        ("rate_limit", openai.RateLimitError),
        ("api_error", openai.InternalServerError),
        ("overloaded", openai.InternalServerError),
    ],
)
def test_fidelity_9_error_bodies_raise_the_right_sdk_exception(
    kind: str, exception: type[Exception]
) -> None:
    status, body = chat.encode_error(ApiError.of(kind, f"{kind} happened", code="c1"))
    client = client_for(status, json.dumps(body).encode(), "application/json")
    with pytest.raises(exception) as info:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    assert info.value.code == "c1"  # type: ignore[attr-defined]
    assert f"{kind} happened" in str(info.value)


# ------------------------------------------------------------------ smaller cross-format cases


def test_side_fields_chat_cannot_hold_are_reported() -> None:
    ctx = Context()
    request = Request(
        model="m",
        system=(TextPart(text="s", citations=(Citation(kind="url_citation", url="u"),)),),
        messages=(
            Message(
                role="user",
                content=(
                    ToolResultPart(
                        call_id="c",
                        content=(TextPart(text="r"),),
                        cache_control={"type": "ephemeral"},
                    ),
                ),
            ),
            Message(
                role="assistant",
                content=(
                    ThinkingPart(),
                    ToolCallPart(
                        id="c2", name="f", arguments="{}", cache_control={"type": "ephemeral"}
                    ),
                ),
            ),
        ),
        tools=(
            Tool(name="c", kind="custom", parameters={"type": "object"}, strict=True),
            Tool(name="f", format={"type": "text"}),
        ),
    )
    body = chat.encode_request(request, ctx)
    validate_request(body)
    assert body["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "c",
                "parameters": {
                    "type": "object",
                    "properties": {"input": {"type": "string"}},
                    "required": ["input"],
                },
            },
        },
        {"type": "function", "function": {"name": "f"}},
    ]
    assert {loss.field for loss in ctx.losses} == {
        "system[0].citations",
        "messages[0].content[0].cache_control",
        "messages[1].content[1].cache_control",
        "tools[0].parameters",
        "tools[0].strict",
        "tools[1].format",
    }


def test_stale_hints_fall_back_to_the_canonical_values() -> None:
    request = Request(
        model="m",
        system=(TextPart(text="one"),),
        messages=(
            Message(
                role="assistant",
                content=(
                    ToolCallPart(
                        id="c",
                        name="f",
                        arguments="{bad",
                        extras={"chat": {"_arguments_object": True}},
                    ),
                ),
            ),
        ),
        tools=(Tool(name="f"),),
        tool_choice=ToolChoice(mode="auto"),
        output_format=OutputFormat(kind="json_object"),
        extras={
            "chat": {
                "_tool_choice": {"type": "bogus"},
                "_response_format": {"type": "text"},
                "_system": [{"role": "system", "count": 5}],
            }
        },
    )
    body = chat.encode_request(request, Context())
    assert body["tool_choice"] == "auto"
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0] == {"role": "system", "content": "one"}
    assert body["messages"][1]["tool_calls"][0]["function"]["arguments"] == "{bad"


def test_chat_annotations_shift_with_the_text_before_them() -> None:
    raw = {
        "type": "url_citation",
        "url_citation": {"url": "https://a", "title": "A", "start_index": 0, "end_index": 3},
    }
    cite = Citation(
        kind="url_citation",
        url="https://a",
        title="A",
        start_index=0,
        end_index=3,
        raw=raw,
        source_format="chat",
    )
    response = Response(
        id="r",
        model="m",
        created=1,
        content=(TextPart(text="Hi. "), TextPart(text="abc", citations=(cite,))),
    )
    body = chat.encode_response(response, Context())
    (note,) = body["choices"][0]["message"]["annotations"]
    assert (note["url_citation"]["start_index"], note["url_citation"]["end_index"]) == (4, 7)


def test_stream_encoder_flushes_citations_of_parts_never_stopped_and_final_parts() -> None:
    cite = Citation(kind="url_citation", url="https://a", title="A", start_index=0, end_index=2)
    events: list[Event] = [
        MessageStart(id="m", model="x", created=1),
        PartStart(index=0, part=TextPart(text="")),
        PartDelta(index=0, field="text", value="ab"),
        PartStop(index=0, part=TextPart(text="ab", citations=(cite,))),
        PartStart(index=1, part=TextPart(text="cd")),
        PartDelta(index=1, field="citation", citation=cite),
        PartDelta(index=1, field="citation"),
        PartDelta(index=1, field="summary", value="ignored"),
        PartStart(index=2, part=ThinkingPart(text="t")),
        PartDelta(index=2, field="thinking", value="u"),
        PartDelta(index=2, field="summary", value="ignored once text streamed"),
        PartStop(index=2, part=RedactedThinkingPart(data="x")),
        MessageDelta(stop_reason="end_turn"),
        MessageStop(),
    ]
    view = comparable(sdk_snapshot(encode_stream(events)))
    assert view["content"] == "abcd"
    assert view["reasoning"] == "tu"
    assert [
        (a["url_citation"]["start_index"], a["url_citation"]["end_index"])
        for a in view["annotations"]
    ] == [(0, 2), (2, 4)]


def test_a_citation_after_its_text_part_stopped_is_reported_not_a_crash() -> None:
    cite = Citation(kind="url_citation", url="https://a", title="A", start_index=0, end_index=2)
    ctx = Context()
    events: list[Event] = [
        MessageStart(id="m", model="x", created=1),
        PartStart(index=0, part=TextPart(text="")),
        PartDelta(index=0, field="text", value="ab"),
        PartStop(index=0, part=TextPart(text="ab")),
        PartDelta(index=0, field="citation", citation=cite),
        MessageDelta(stop_reason="end_turn"),
        MessageStop(),
    ]
    view = comparable(sdk_snapshot(encode_stream(events, ctx)))
    assert view["content"] == "ab"
    assert not view.get("annotations")
    assert [loss.field for loss in ctx.losses] == ["content[0].citations"]


def test_snapshot_detection_reads_escaped_quotes() -> None:
    from apibridge._sse import SSEFrame

    decoder = chat.StreamDecoder(Context())
    pieces = ['{"q": "say \\"hi', '{"q": "say \\"hi\\" {"', '{"q": "say \\"hi\\" {"}']
    events = decoder.feed(
        SSEFrame(
            data=json.dumps(
                {
                    "id": "c",
                    "model": "m",
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": "a",
                                        "function": {"name": "f", "arguments": pieces[0]},
                                    }
                                ]
                            },
                        }
                    ],
                }
            )
        )
    )
    for piece in pieces[1:]:
        events += decoder.feed(
            SSEFrame(
                data=json.dumps(
                    {
                        "id": "c",
                        "model": "m",
                        "choices": [
                            {
                                "index": 0,
                                "delta": {
                                    "tool_calls": [{"index": 0, "function": {"arguments": piece}}]
                                },
                            }
                        ],
                    }
                )
            )
        )
    events += decoder.feed(
        SSEFrame(
            data=json.dumps(
                {
                    "id": "c",
                    "model": "m",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
                }
            )
        )
    )
    assert accumulate(events + decoder.close()).content[0].arguments == pieces[-1]  # type: ignore[union-attr]
