"""Edge cases of the Responses codec: odd spellings that must still round-trip, values that
cannot be carried (and are reported), and the defensive paths of the stream state machines."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from test_responses_stream import check_grammar, decode, encode

from apibridge._sse import SSEFrame
from apibridge.codecs import Context
from apibridge.codecs import responses as codec
from apibridge.codecs.responses._wire import decode_usage, encode_usage
from apibridge.errors import InvalidPayload, UnsupportedFeature
from apibridge.model import (
    Citation,
    DocumentPart,
    ImagePart,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    RedactedThinkingPart,
    Request,
    Response,
    ServerToolPart,
    StreamError,
    TextPart,
    ThinkingPart,
    Tool,
    ToolChoice,
    ToolResultPart,
    Usage,
)
from oracles import validate_response


def trip_request(body: dict[str, Any]) -> dict[str, Any]:
    return codec.encode_request(codec.decode_request(body, Context()), Context())


def trip_response(body: dict[str, Any]) -> dict[str, Any]:
    return codec.encode_response(codec.decode_response(body, Context()), Context())


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "input_text", "text": "said by the assistant in input words"}],
        [{"type": "output_text", "text": "x", "annotations": None}],
        [{"type": "output_text", "text": "no annotations"}],
        [
            {
                "type": "output_text",
                "text": "a",
                "annotations": [
                    {"type": "file_citation", "file_id": "file-1", "filename": "a.pdf", "index": 0}
                ],
            }
        ],
    ],
)
def test_assistant_content_spellings_round_trip(content: list[Any]) -> None:
    body = {"model": "m", "input": [{"role": "assistant", "content": content}]}
    assert trip_request(body) == body


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "input_image", "image_url": "https://e.x/i.png"},
        {"type": "input_image", "image_url": "data:image/png;charset=x;base64,AA", "detail": "low"},
        {"type": "input_image", "image_url": None, "file_id": "file-1", "detail": "high"},
        {"type": "input_file", "file_data": "JVBERi0x", "filename": "raw.pdf"},
        {"type": "input_file", "file_id": "file-1", "detail": "high"},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
    ],
)
def test_user_content_spellings_round_trip(entry: dict[str, Any]) -> None:
    body = {"model": "m", "input": [{"role": "user", "content": [entry]}]}
    assert trip_request(body) == body


def test_tool_outputs_hold_only_text_images_and_files() -> None:
    body = {
        "model": "m",
        "input": [
            {
                "type": "function_call_output",
                "call_id": "c",
                "output": [{"type": "refusal", "refusal": "no"}],
            }
        ],
    }
    with pytest.raises(InvalidPayload, match=r"input\[0\]\.output\[0\]"):
        codec.decode_request(body, Context())


def test_redacted_reasoning_with_a_summary_round_trips() -> None:
    from apibridge.codecs.envelope import Envelope, seal

    sealed = seal(Envelope(origin="anthropic", kind="redacted", data="opaque"))
    body = {
        "model": "m",
        "input": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "s"}],
                "encrypted_content": sealed,
            }
        ],
    }
    request = codec.decode_request(body, Context())
    (part,) = request.messages[0].content
    assert isinstance(part, RedactedThinkingPart)
    assert part.data == "opaque"
    # an OpenAI upstream would reject Claude's reasoning: a request leaves it out, saying so
    ctx = Context()
    assert codec.encode_request(request, ctx) == {"model": "m", "input": []}
    assert [loss.action for loss in ctx.losses] == ["omitted"]
    # as an answer to a Responses client it goes back exactly, summary and envelope alike
    answer = codec.encode_response(Response(id="resp_1", model="m", content=(part,)), Context())
    item = answer["output"][0]
    assert {k: item[k] for k in body["input"][0]} == body["input"][0]


def test_reasoning_text_pieces_are_resplit_only_when_they_still_fit() -> None:
    body = {
        "model": "m",
        "input": [
            {
                "type": "reasoning",
                "id": "rs",
                "summary": [],
                "content": [
                    {"type": "reasoning_text", "text": "ab"},
                    {"type": "reasoning_text", "text": "cd"},
                ],
            }
        ],
    }
    request = codec.decode_request(body, Context())
    (part,) = request.messages[0].content
    assert isinstance(part, ThinkingPart)
    assert part.text == "abcd"
    changed = Request(
        model="m",
        messages=(
            Message(
                role="assistant", content=(ThinkingPart(text="other", id="rs", extras=part.extras),)
            ),
        ),
    )
    item = codec.encode_request(changed, Context())["input"][0]
    assert item["content"] == [{"type": "reasoning_text", "text": "other"}]


def test_usage_details_and_inconsistent_totals_round_trip() -> None:
    for usage in (
        {
            "input_tokens": 10,
            "output_tokens": 2,
            "total_tokens": 99,
            "input_tokens_details": {
                "cached_tokens": 20,
                "cache_write_tokens": 0,
                "cache_write_tokens_details": {"ttl_30m_tokens": 0, "ttl_12h_tokens": 0},
            },
            "output_tokens_details": {"reasoning_tokens": 1, "x": 1},
            "cost": 0.1,
        },
        {"input_tokens": 3, "output_tokens": 4},
        {
            "input_tokens": 3,
            "output_tokens": 4,
            "input_tokens_details": {},
            "output_tokens_details": None,
        },
    ):
        ctx = Context()
        decoded = decode_usage(usage, "usage")
        assert encode_usage(decoded, ctx, "usage") == usage


def test_web_search_tool_from_another_format_without_options() -> None:
    request = Request(
        model="m",
        messages=(),
        tools=(
            Tool(name="web_search", kind="server", server_type="web_search", source_format="x"),
        ),
    )
    assert codec.encode_request(request, Context())["tools"] == [{"type": "web_search"}]


def test_allowed_tools_name_hosted_tools_by_type() -> None:
    tools = (
        Tool(
            name="file_search",
            kind="server",
            server_type="file_search",
            source_format="responses",
            raw={"type": "file_search", "vector_store_ids": ["vs"]},
        ),
        Tool(
            name="web_search",
            kind="server",
            server_type="web_search",
            source_format="anthropic",
            raw={"type": "web_search_20250305"},
        ),
    )
    choice = ToolChoice(mode="auto", allowed=("file_search", "web_search", "unknown"))
    body = codec.encode_request(
        Request(model="m", messages=(), tools=tools, tool_choice=choice), Context()
    )
    assert body["tool_choice"]["tools"] == [
        {"type": "file_search"},
        {"type": "web_search"},
        {"type": "function", "name": "unknown"},
    ]
    forced = Request(
        model="m", messages=(), tools=tools, tool_choice=ToolChoice(mode="tool", name="file_search")
    )
    assert codec.encode_request(forced, Context())["tool_choice"] == {"type": "file_search"}
    ctx = Context()
    none_of = ToolChoice(mode="none", allowed=("file_search",))
    assert (
        codec.encode_request(Request(model="m", messages=(), tool_choice=none_of), ctx)[
            "tool_choice"
        ]
        == "none"
    )
    ctx = Context()
    bad = ToolChoice(mode="tool", allowed=("a",))
    assert (
        codec.encode_request(Request(model="m", messages=(), tool_choice=bad), ctx)["tool_choice"]
        == "auto"
    )
    assert [loss.field for loss in ctx.losses] == ["tool_choice.allowed"]


def test_changed_raw_choice_is_encoded_afresh() -> None:
    request = codec.decode_request(
        {"model": "m", "tool_choice": {"type": "function", "name": "a"}}, Context()
    )
    assert request.tool_choice is not None
    renamed = Request(
        model="m",
        messages=(),
        tools=(Tool(name="b"),),  # (a choice naming a tool is sent only with tools)
        tool_choice=ToolChoice(mode="tool", name="b", extras=request.tool_choice.extras),
    )
    assert codec.encode_request(renamed, Context())["tool_choice"] == {
        "type": "function",
        "name": "b",
    }


def test_json_schema_format_keeps_unknown_keys() -> None:
    body = {
        "model": "m",
        "text": {"format": {"type": "json_schema", "name": "n", "schema": {}, "x_extra": 1}},
    }
    assert trip_request(body) == body


def test_system_text_with_citations_is_reported() -> None:
    ctx = Context()
    request = Request(
        model="m",
        messages=(),
        system=(TextPart(text="s", citations=(Citation(kind="char_location"),)),),
    )
    codec.encode_request(request, ctx)
    assert [loss.field for loss in ctx.losses] == ["system[0].citations"]


def test_input_text_cannot_carry_citations_and_assistants_cannot_hold_files() -> None:
    ctx = Context()
    request = Request(
        model="m",
        messages=(
            Message(
                role="user",
                content=(TextPart(text="t", citations=(Citation(kind="url_citation", url="u"),)),),
            ),
            Message(role="assistant", content=(DocumentPart(file_id="f"),)),
        ),
    )
    codec.encode_request(request, ctx)
    assert [loss.field for loss in ctx.losses] == [
        "messages[0].content[0].citations",
        "messages[1].content[0]",
    ]


def test_answers_cannot_hold_tool_results_or_foreign_server_blocks_without_a_query() -> None:
    ctx = Context()
    response = Response(
        id="r",
        model="m",
        content=(
            ToolResultPart(call_id="c"),
            ServerToolPart(
                kind="server_tool_use",
                tool="web_search",
                source_format="anthropic",
                raw={"type": "server_tool_use", "input": "not an object"},
            ),
        ),
    )
    body = codec.encode_response(response, ctx)
    assert [loss.field for loss in ctx.losses] == ["content[0]"]
    assert body["output"][0]["action"] == {"type": "search"}
    validate_response("responses", body)


def test_answer_object_spelling_and_request_echo_that_cannot_be_encoded() -> None:
    body = {"id": "r", "object": "realtime.response", "output": []}
    assert trip_response(body) == body
    ctx = Context()
    ctx.request = Request(model="m", messages=(), n=3)
    out = codec.encode_response(Response(id="r", model="m", content=()), ctx)
    assert out["tools"] == []
    assert out["tool_choice"] == "auto"


def test_strict_mode_stops_at_a_multi_choice_request() -> None:
    with pytest.raises(UnsupportedFeature):
        codec.encode_request(Request(model="m", messages=(), n=4), Context(strict=True))


# ----------------------------------------------------------------------------- streams


def frames(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events)


def test_decoder_defensive_paths() -> None:
    data = frames(
        {"type": "response.created", "response": {"id": "r"}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "fc", "type": "function_call", "call_id": "c", "name": "f"},
        },
        # a content part for an item that is not a message is ignored
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": ""},
        },
        {"type": "response.content_part.added", "part": {"type": "output_text"}},
        {"type": "response.output_text.delta", "delta": "lost: no output index"},
        {"type": "response.function_call_arguments.delta", "output_index": 7, "delta": "x"},
        {"type": "response.output_text.annotation.added", "output_index": 1, "annotation": None},
        # a message streamed out of order: its text before any item event
        {
            "type": "response.output_text.delta",
            "output_index": 1,
            "content_index": 1,
            "delta": "late",
        },
        {
            "type": "response.output_item.done",
            "item": {"id": "m", "type": "message", "role": "assistant", "content": []},
        },
        {
            "type": "response.output_item.done",
            "item": {
                "id": "fc",
                "type": "function_call",
                "call_id": "c",
                "name": "f",
                "arguments": "{}",
            },
        },
        {
            "type": "response.completed",
            "response": {"id": "r", "status": "completed", "output": []},
        },
    )
    events = decode([data])
    assert isinstance(events[-1], MessageStop)
    stops = [e for e in events if isinstance(e, PartStop)]
    assert len(stops) == len([e for e in events if isinstance(e, PartStart)])


def test_terminal_event_closes_what_no_done_event_closed() -> None:
    data = frames(
        {"type": "response.created", "response": {"id": "r"}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "m", "type": "message", "role": "assistant", "content": []},
        },
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": "hi",
        },
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {"id": "rs", "type": "reasoning", "summary": []},
        },
        {
            "type": "response.incomplete",
            "response": {"id": "r", "status": "incomplete", "incomplete_details": None},
        },
    )
    events = decode([data])
    assert [type(e).__name__ for e in events[-4:]] == [
        "PartStop",
        "PartStop",
        "MessageDelta",
        "MessageStop",
    ]
    assert accumulate_text(events) == "hi"


def accumulate_text(events: list[Any]) -> str:
    from apibridge.model import accumulate

    return "".join(p.text for p in accumulate(events).content if isinstance(p, TextPart))


def test_encoder_defensive_paths() -> None:
    ctx = Context()
    events = [
        MessageStart(id="r", model="m"),
        PartStart(index=0, part=ImagePart(url="https://e.x/a.png")),
        PartDelta(index=0, field="text", value="ignored"),
        PartStop(index=0),
        PartStart(
            index=1,
            part=ServerToolPart(
                kind="web_search_call",
                source_format="responses",
                raw={
                    "type": "web_search_call",
                    "id": "ws",
                    "status": "completed",
                    "action": {"type": "search"},
                },
            ),
        ),
        PartDelta(index=1, field="arguments", value="{}"),
        PartStop(index=1),
        PartStart(index=2, part=ThinkingPart()),
        PartDelta(index=2, field="citation", citation=Citation(kind="x")),
        PartDelta(index=2, field="summary", value=""),
        PartDelta(index=2, field="summary", value="s1", summary_index=1),
        PartDelta(index=2, field="thinking", value="raw text"),
        PartStop(index=2),
        PartStart(index=3, part=TextPart(text="")),
        PartDelta(index=3, field="citation", citation=Citation(kind="char_location")),
        PartStop(index=3),
        MessageDelta(stop_reason="end_turn"),
        MessageStop(),
    ]
    payload = check_grammar(encode(events, ctx))
    assert [loss.field for loss in ctx.losses] == ["content[0]", "content[3].citations[0]"]
    output = payload[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["web_search_call", "reasoning", "message"]
    assert output[1]["summary"][1]["text"] == "s1"
    assert any(e["type"] == "response.reasoning_text.delta" for e in payload)


def test_decoder_after_an_error_says_nothing_more() -> None:
    decoder = codec.StreamDecoder(Context())
    assert isinstance(decoder.feed(SSEFrame(data='{"type":"error","message":"x"}'))[0], StreamError)
    assert decoder.feed(SSEFrame(data='{"type":"response.created"}')) == []
    assert decoder.close() == []


def test_encoded_usage_from_message_start_alone() -> None:
    events = [
        MessageStart(id="r", model="m", usage=Usage(input_tokens=5, output_tokens=0)),
        MessageStop(),
    ]
    payload = check_grammar(encode(events))
    assert payload[-1]["response"]["usage"]["input_tokens"] == 5
