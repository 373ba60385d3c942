"""The Anthropic stream codec, event by event.

The decoder against the variants real upstreams send (no ``event:`` lines, unknown events,
early ends, malformed frames); the encoder against canonical streams as the other decoders
produce them (interleaved parallel tool calls, empty text parts, summaries, late finals);
and both against Hypothesis-generated inputs for every state: each frame or event either
advances the stream or gives a defined error, and no exception escapes ``feed``/``close``.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_anthropic import check_stream_against_sdk, encode_events, has_loss, wire_events

from apibridge._sse import SSEFrame
from apibridge.codecs import anthropic as codec
from apibridge.codecs._context import Context
from apibridge.codecs.envelope import Envelope, open_envelope, seal
from apibridge.errors import ApiError
from apibridge.model import (
    Citation,
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    Ping,
    RedactedThinkingPart,
    RefusalPart,
    Request,
    ServerToolPart,
    StreamError,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
    Usage,
    accumulate,
)
from oracles import final_from_stream


def frame(data: Any, event: str | None = None) -> SSEFrame:
    payload = data if isinstance(data, str) else orjson.dumps(data).decode()
    return SSEFrame(data=payload, event=event)


def decode(*items: Any, ctx: Context | None = None, close: bool = True) -> list[Event]:
    decoder = codec.StreamDecoder(ctx or Context())
    events: list[Event] = []
    for item in items:
        events.extend(
            decoder.feed(item if isinstance(item, SSEFrame) else frame(item, item.get("type")))
        )
    if close:
        events.extend(decoder.close())
    return events


START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    },
}
STOP = {"type": "message_stop"}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": payload}


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(reason: str = "end_turn", **usage: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": reason, "stop_sequence": None},
        "usage": {"output_tokens": 5, **usage},
    }


# ------------------------------------------------------------------------------ decoder


def test_decoder_ignores_unknown_events_and_deltas_and_stray_frames() -> None:
    events = decode(
        START,
        {"type": "brand_new_event", "x": 1},
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "brand_new_delta", "x": 1}),
        delta(0, {"type": "input_json_delta", "partial_json": "{}"}),
        delta(7, {"type": "text_delta", "text": "lost"}),
        frame(""),
        frame("[1, 2]"),
        frame({"no": "type"}),
        delta(0, {"type": "text_delta", "text": "hi"}),
        block_stop(0),
        block_stop(0),
        message_delta(),
        {"type": "ping"},
        STOP,
    )
    assert [type(e) for e in events] == [
        MessageStart,
        PartStart,
        PartDelta,
        PartStop,
        MessageDelta,
        Ping,
        MessageStop,
    ]
    assert accumulate(events).content == (TextPart(text="hi"),)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (
            [block_start(0, {"type": "text", "text": ""})],
            "content_block_start before message_start",
        ),
        ([START, "{not json"], "not JSON"),
        ([START, block_start(0, {"text": ""})], "content_block_start[0].content_block.type"),
        (
            [
                START,
                block_start(0, {"type": "text", "text": ""}),
                block_start(0, {"type": "text", "text": ""}),
            ],
            "block 0 is open",
        ),
        (
            [START, {"type": "content_block_start", "content_block": {"type": "text", "text": ""}}],
            "index: missing",
        ),
        (
            [
                START,
                block_start(0, {"type": "text", "text": ""}),
                delta(0, {"type": "text_delta", "text": 5}),
            ],
            "text",
        ),
        ([START, {"type": "message_delta", "delta": {"stop_reason": 3}}], "stop_reason"),
        (
            [START, {"type": "message_delta", "delta": {}, "usage": {"output_tokens": "many"}}],
            "output_tokens",
        ),
        ([{"type": "message_start", "message": "m"}], "message_start.message"),
        ([{"type": "message_stop"}], "message_stop before message_start"),
    ],
)
def test_decoder_turns_malformed_streams_into_one_stream_error(
    frames: list[Any], message: str
) -> None:
    items = [frame(f, None) if isinstance(f, str) else f for f in frames]
    events = decode(*items, STOP)
    errors = [e for e in events if isinstance(e, StreamError)]
    assert len(errors) == 1
    assert events[-1] is errors[0]
    assert message in errors[0].error.message
    assert errors[0].error.kind == "api_error"


def test_decoder_close_without_message_stop() -> None:
    decoder = codec.StreamDecoder(Context())
    assert decoder.feed(frame(START, "message_start"))
    end = decoder.close()
    assert len(end) == 1
    assert isinstance(end[0], StreamError)
    assert "ended before message_stop" in end[0].error.message
    assert decoder.close() == []
    assert decoder.feed(frame(STOP, "message_stop")) == []


def test_decoder_error_event() -> None:
    events = decode(
        START, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}, STOP
    )
    assert isinstance(events[-1], StreamError)
    assert (events[-1].error.kind, events[-1].error.status) == ("rate_limit", 429)


def test_decoder_uses_the_event_name_when_data_has_no_type() -> None:
    events = decode(
        frame({"message": START["message"]}, "message_start"), frame({}, "message_stop")
    )
    assert [type(e) for e in events] == [MessageStart, MessageStop]


def test_decoder_closes_blocks_left_open_at_message_stop_and_ignores_repeats() -> None:
    events = decode(
        START,
        START,
        block_start(0, {"type": "tool_use", "id": "", "name": "f", "input": {"a": 1}}),
        STOP,
    )
    call = accumulate(events).content[0]
    assert isinstance(call, ToolCallPart)
    assert call.arguments == '{"a":1}'  # no fragments: the start's input
    assert call.id.startswith("toolu_")


def test_decoder_thinking_envelope_is_opened_at_block_stop() -> None:
    sealed = seal(Envelope(origin="responses", kind="encrypted", data="gAAA", id="rs_9"))
    events = decode(
        START,
        block_start(0, {"type": "thinking", "thinking": "Let", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": " me see"}),
        delta(0, {"type": "signature_delta", "signature": sealed}),
        block_stop(0),
        message_delta(),
        STOP,
    )
    part = accumulate(events).content[0]
    assert part == ThinkingPart(text="Let me see", encrypted_content="gAAA", id="rs_9")


def test_decoder_server_tool_input_with_broken_json_keeps_the_start() -> None:
    events = decode(
        START,
        block_start(
            0, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
        ),
        delta(0, {"type": "input_json_delta", "partial_json": '{"query": "x'}),
        block_stop(0),
        message_delta(),
        STOP,
    )
    part = accumulate(events).content[0]
    assert isinstance(part, ServerToolPart)
    assert part.raw["input"] == {}
    assert part.tool == "web_search"


def test_decoder_unwraps_the_input_of_a_client_custom_tool() -> None:
    request = Request(model="m", messages=(), tools=(Tool(name="apply_patch", kind="custom"),))
    ctx = Context(request=request)
    patch = "*** Begin Patch\n*** End Patch"
    wrapped = orjson.dumps({"input": patch}).decode()
    events = decode(
        START,
        block_start(0, {"type": "tool_use", "id": "toolu_1", "name": "apply_patch", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": wrapped[:9]}),
        delta(0, {"type": "input_json_delta", "partial_json": wrapped[9:]}),
        block_stop(0),
        block_start(1, {"type": "tool_use", "id": "toolu_2", "name": "apply_patch", "input": {}}),
        delta(1, {"type": "input_json_delta", "partial_json": "not json"}),
        block_stop(1),
        message_delta("tool_use"),
        STOP,
        ctx=ctx,
    )
    first, second = accumulate(events).content
    assert first == ToolCallPart(id="toolu_1", name="apply_patch", arguments=patch, kind="custom")
    assert isinstance(second, ToolCallPart)
    assert (second.kind, second.arguments) == ("custom", "not json")
    response = {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "apply_patch", "input": {"input": patch}}
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    assert codec.decode_response(response, ctx).content == (first,)


# ------------------------------------------------------------------------------ encoder


def call(index: int, ident: str, name: str = "get_weather") -> PartStart:
    return PartStart(index=index, part=ToolCallPart(id=ident, name=name, arguments=""))


def args(index: int, value: str) -> PartDelta:
    return PartDelta(index=index, field="arguments", value=value)


def test_fidelity_1_parallel_tool_calls_interleaved_become_one_block_each() -> None:
    """A Chat upstream interleaves two calls' argument fragments; Claude gets two blocks,
    one after the other, whose fragments concatenate to the exact arguments."""
    first = ['{"location"', ': "Paris"', "}"]
    second = ['{"loc', 'ation": "Tokyo"}']
    events: list[Event] = [
        MessageStart(id="chatcmpl-1", model="gpt-5", usage=None),
        PartStart(index=0, part=TextPart(text="")),  # the role chunk's empty text: no block
        call(1, "call_a"),
        args(1, first[0]),
        call(2, "call_b"),
        args(2, second[0]),
        args(1, first[1]),
        args(2, second[1]),
        args(1, first[2]),
        PartStop(index=0),
        PartStop(index=2),
        PartStop(index=1),
        MessageDelta(stop_reason="end_turn", usage=Usage.from_openai(40, 12)),
        MessageStop(),
    ]
    data = encode_events(events)
    frames = wire_events(data)
    starts = [d for e, d in frames if e == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["tool_use", "tool_use"]
    assert [s["index"] for s in starts] == [0, 1]
    fragments: dict[int, list[str]] = {0: [], 1: []}
    for event, payload in frames:
        if event == "content_block_delta":
            fragments[payload["index"]].append(payload["delta"]["partial_json"])
    assert "".join(fragments[0]) == "".join(first)
    assert "".join(fragments[1]) == "".join(second)
    assert fragments[0] == first  # passed on as they came, never re-serialised
    final = check_stream_against_sdk(events)
    assert [b.input for b in final.content] == [{"location": "Paris"}, {"location": "Tokyo"}]
    assert final.stop_reason == "tool_use"  # FIDELITY 2: a tool call means tool_use
    assert final.usage.input_tokens == 40  # FIDELITY 6: the real number, in message_delta


def test_fidelity_2_no_empty_leading_text_block() -> None:
    events: list[Event] = [
        MessageStart(id="m", model="x"),
        PartStart(index=0, part=TextPart(text="")),
        PartDelta(index=0, field="text", value=""),
        PartStop(index=0),
        PartStart(index=1, part=TextPart(text="")),
        PartDelta(index=1, field="text", value="answer"),
        PartStop(index=1),
        MessageDelta(stop_reason="end_turn"),
        MessageStop(),
    ]
    frames = wire_events(encode_events(events))
    blocks = [d["content_block"] for e, d in frames if e == "content_block_start"]
    assert blocks == [{"type": "text", "text": ""}]
    assert [d["index"] for e, d in frames if e.startswith("content_block")] == [0, 0, 0]


def test_fidelity_6_message_start_carries_known_input_numbers() -> None:
    usage = Usage(input_tokens=12, cache_read_tokens=100, cache_write_tokens=5)
    frames = wire_events(
        encode_events([MessageStart(id="m", model="x", usage=usage), MessageStop()])
    )
    assert frames[0][1]["message"]["usage"] == {
        "input_tokens": 12,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 100,
        "output_tokens": 0,
    }
    unknown = wire_events(encode_events([MessageStart(id="m", model="x"), MessageStop()]))
    assert unknown[0][1]["message"]["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert unknown[1][1]["usage"] == {"output_tokens": 0}  # nothing invented later either


def test_encoder_holds_message_delta_until_message_stop() -> None:
    encoder = codec.StreamEncoder(Context())
    assert encoder.feed(MessageStart(id="m", model="x"))
    assert encoder.feed(MessageDelta(stop_reason="max_tokens", usage=Usage(output_tokens=3))) == []
    assert encoder.feed(MessageDelta(usage=Usage(output_tokens=9, reasoning_tokens=4))) == []
    frames = wire_events(b"".join(encoder.feed(MessageStop())))
    assert frames[0][1]["delta"] == {"stop_reason": "max_tokens", "stop_sequence": None}
    assert frames[0][1]["usage"] == {
        "output_tokens": 9,
        "output_tokens_details": {"thinking_tokens": 4},
    }
    assert encoder.close() == []


def test_encoder_ends_an_unfinished_stream_with_one_error() -> None:
    encoder = codec.StreamEncoder(Context())
    encoder.feed(MessageStart(id="m", model="x"))
    encoder.feed(PartStart(index=0, part=TextPart(text="")))
    encoder.feed(PartDelta(index=0, field="text", value="partial"))
    end = wire_events(b"".join(encoder.close()))
    assert end == [
        (
            "error",
            {
                "type": "error",
                "error": {"type": "api_error", "message": end[0][1]["error"]["message"]},
            },
        )
    ]
    assert encoder.close() == []
    assert encoder.feed(MessageStop()) == []


def test_encoder_stream_error_is_written_once() -> None:
    error = ApiError.of("rate_limit", "slow down", request_id="req_1")
    encoder = codec.StreamEncoder(Context())
    out = encoder.feed(StreamError(error=error))
    assert wire_events(b"".join(out)) == [
        (
            "error",
            {
                "type": "error",
                "error": {"type": "rate_limit_error", "message": "slow down"},
                "request_id": "req_1",
            },
        )
    ]
    assert encoder.feed(StreamError(error=error)) == []
    assert encoder.close() == []
    odd = codec.StreamEncoder(Context()).feed(StreamError(error="boom"))
    assert b'"message":"boom"' in b"".join(odd)


def test_encoder_starts_the_message_when_an_upstream_did_not() -> None:
    ctx = Context(request=Request(model="claude-x", messages=()))
    events: list[Event] = [
        PartStart(index=0, part=TextPart(text="hi")),
        PartStop(index=0),
        MessageStop(),
    ]
    frames = wire_events(encode_events(events, ctx))
    assert frames[0][0] == "message_start"
    assert frames[0][1]["message"]["model"] == "claude-x"
    assert final_from_stream("anthropic", encode_events(events, ctx)).content[0].text == "hi"


def test_encoder_thinking_from_responses_summaries_and_late_encrypted_content() -> None:
    events: list[Event] = [
        MessageStart(id="resp_1", model="o4"),
        PartStart(index=0, part=ThinkingPart(id="rs_1")),
        PartDelta(index=0, field="summary", value="First", summary_index=0),
        PartDelta(index=0, field="summary", value=" part.", summary_index=0),
        PartDelta(index=0, field="summary", value="Second.", summary_index=1),
        PartDelta(index=0, field="thinking", value="ignored raw text"),
        PartStop(
            index=0,
            part=ThinkingPart(
                id="rs_1", summary=("First part.", "Second."), encrypted_content="gAAA"
            ),
        ),
        PartStart(index=1, part=TextPart(text="")),
        PartDelta(index=1, field="text", value="Done."),
        PartStop(index=1),
        MessageStop(),
    ]
    ctx = Context()
    final = final_from_stream("anthropic", encode_events(events, ctx))
    thinking = final.content[0]
    assert thinking.thinking == "First part.\n\nSecond."
    assert open_envelope(thinking.signature) == Envelope(
        origin="responses", kind="encrypted", data="gAAA", id="rs_1"
    )
    assert has_loss(ctx, "content[0].thinking")


def test_encoder_catches_up_from_final_parts() -> None:
    events: list[Event] = [
        MessageStart(id="m", model="x"),
        PartStart(index=0, part=ThinkingPart()),
        PartDelta(index=0, field="thinking", value="Hmm"),
        PartDelta(index=0, field="signature", value="sig-"),
        PartDelta(index=0, field="signature", value="123"),
        PartStop(index=0),
        PartStart(index=1, part=TextPart(text="")),
        PartStop(index=1, part=TextPart(text="Whole text at the end.")),
        PartStart(index=2, part=ToolCallPart(id="call_1", name="f", arguments="")),
        PartStop(index=2, part=ToolCallPart(id="call_1", name="f", arguments='{"a":1}')),
        PartStart(index=3, part=ToolCallPart(id="call_2", name="g", arguments="")),
        PartStop(index=3),
        PartStart(index=4, part=RefusalPart(text="")),
        PartDelta(index=4, field="text", value="no"),
        PartStop(index=4, part=RefusalPart(text="no.")),
        PartStart(index=5, part=ThinkingPart()),
        PartDelta(index=5, field="thinking", value="Hmm"),
        PartStop(index=5, part=ThinkingPart(text="Hmm, yes.", signature="final-sig")),
        MessageDelta(stop_reason="end_turn"),
        MessageStop(),
    ]
    ctx = Context()
    final = check_stream_against_sdk(events, ctx)
    kinds = [b.type for b in final.content]
    assert kinds == ["thinking", "text", "tool_use", "tool_use", "text", "thinking"]
    assert (final.content[0].thinking, final.content[0].signature) == ("Hmm", "sig-123")
    assert (final.content[5].thinking, final.content[5].signature) == ("Hmm, yes.", "final-sig")
    assert final.content[1].text == "Whole text at the end."
    assert final.content[2].input == {"a": 1}
    assert final.content[3].input == {}
    assert final.content[4].text == "no."
    assert has_loss(ctx, "content[4]", "sent as a text block")


def test_encoder_custom_tool_input_is_wrapped_as_it_streams() -> None:
    patch = 'line "one"\n\tline two'
    events: list[Event] = [
        MessageStart(id="m", model="x"),
        PartStart(
            index=0, part=ToolCallPart(id="call_1", name="apply_patch", arguments="", kind="custom")
        ),
        PartDelta(index=0, field="arguments", value=patch[:6]),
        PartDelta(index=0, field="arguments", value=patch[6:]),
        PartStop(index=0),
        PartStart(
            index=1, part=ToolCallPart(id="call_2", name="apply_patch", arguments="", kind="custom")
        ),
        PartStop(index=1),
        MessageStop(),
    ]
    final = check_stream_against_sdk(events)
    assert [b.input for b in final.content] == [{"input": patch}, {"input": ""}]


def test_encoder_server_blocks_citations_and_parts_an_answer_cannot_hold() -> None:
    cite = Citation(
        kind="url_citation",
        url="https://e.x/a",
        title="A",
        start_index=0,
        end_index=4,
        source_format="responses",
    )
    search = ServerToolPart(
        kind="web_search_call",
        raw={"type": "web_search_call", "action": {"query": "q"}},
        source_format="responses",
        tool="web_search",
    )
    native = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
    events: list[Event] = [
        MessageStart(id="m", model="x"),
        PartStart(
            index=0,
            part=ServerToolPart(
                kind="web_search_call",
                raw={"type": "web_search_call"},
                source_format="responses",
                tool="web_search",
            ),
        ),
        PartStop(index=0, part=search),
        PartStart(
            index=1,
            part=ServerToolPart(
                kind="web_search_tool_result", raw=native, source_format="anthropic"
            ),
        ),
        PartStop(index=1),
        PartStart(index=2, part=TextPart(text="Text", citations=(cite,))),
        PartDelta(
            index=2,
            field="citation",
            citation=Citation(kind="file_citation", source_format="responses"),
        ),
        PartDelta(index=2, field="citation"),
        PartStop(index=2),
        PartStart(index=3, part=RedactedThinkingPart(data="abc")),
        PartStop(index=3),
        PartStart(index=4, part=ToolResultPart(call_id="c")),
        PartStop(index=4),
        PartStart(
            index=5,
            part=ServerToolPart(kind="code_interpreter_call", raw={}, source_format="responses"),
        ),
        PartStop(index=5),
        MessageStop(),
    ]
    ctx = Context()
    final = check_stream_against_sdk(events, ctx)
    assert [b.type for b in final.content] == [
        "server_tool_use",
        "web_search_tool_result",
        "text",
        "redacted_thinking",
    ]
    assert final.content[0].input == {"query": "q"}
    assert final.content[2].citations[0].cited_text == "Text"
    assert {loss.field for loss in ctx.losses} >= {
        "content[2].citations",
        "content[4]",
        "content[5]",
    }


def test_encoder_ignores_events_for_unknown_or_finished_parts() -> None:
    events: list[Event] = [
        MessageStart(id="m", model="x"),
        MessageStart(id="again", model="y"),
        PartDelta(index=5, field="text", value="nobody"),
        PartStop(index=5),
        PartStart(index=0, part=TextPart(text="a")),
        PartStart(index=0, part=TextPart(text="dup")),
        PartStop(index=0),
        PartDelta(index=0, field="text", value="late"),
        PartStop(index=0),
        Ping(),
        MessageStop(),
    ]
    final = final_from_stream("anthropic", encode_events(events))
    assert final.id == "m"
    assert [b.text for b in final.content] == ["a"]


# -------------------------------------------------------------------- state by input

block_types = st.sampled_from(
    [
        "text",
        "thinking",
        "tool_use",
        "server_tool_use",
        "redacted_thinking",
        "web_search_tool_result",
        "odd",
    ]
)
delta_types = st.sampled_from(
    [
        "text_delta",
        "input_json_delta",
        "thinking_delta",
        "signature_delta",
        "citations_delta",
        "odd_delta",
    ]
)
small_text = st.text(max_size=8)


def _block(kind: str, draw_text: str) -> dict[str, Any]:
    return {
        "text": {"type": "text", "text": draw_text},
        "thinking": {"type": "thinking", "thinking": draw_text, "signature": ""},
        "tool_use": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        "server_tool_use": {
            "type": "server_tool_use",
            "id": "srvtoolu_1",
            "name": "web_search",
            "input": {},
        },
        "redacted_thinking": {"type": "redacted_thinking", "data": draw_text},
        "web_search_tool_result": {
            "type": "web_search_tool_result",
            "tool_use_id": "s",
            "content": [],
        },
        "odd": {"type": "odd", "x": draw_text},
    }[kind]


def _delta(kind: str, value: str) -> dict[str, Any]:
    return {
        "text_delta": {"type": "text_delta", "text": value},
        "input_json_delta": {"type": "input_json_delta", "partial_json": value},
        "thinking_delta": {"type": "thinking_delta", "thinking": value},
        "signature_delta": {"type": "signature_delta", "signature": value},
        "citations_delta": {
            "type": "citations_delta",
            "citation": {"type": "char_location", "cited_text": value},
        },
        "odd_delta": {"type": "odd_delta"},
    }[kind]


wire_frames = st.one_of(
    st.just(START),
    st.just(STOP),
    st.just({"type": "ping"}),
    st.builds(block_start, st.integers(0, 3), st.builds(_block, block_types, small_text)),
    st.builds(delta, st.integers(0, 3), st.builds(_delta, delta_types, small_text)),
    st.builds(block_stop, st.integers(0, 3)),
    st.builds(message_delta, st.sampled_from(["end_turn", "tool_use", "pause_turn", "new_reason"])),
    st.just({"type": "error", "error": {"type": "api_error", "message": "x"}}),
    st.dictionaries(
        st.sampled_from(["type", "index", "delta", "message", "usage"]),
        st.integers(-(2**63), 2**63 - 1) | small_text | st.none(),
    ),
    st.just({"type": "content_block_delta", "index": 0, "delta": None}),
)


@given(frames=st.lists(st.tuples(wire_frames, st.booleans()), max_size=25))
def test_decoder_state_by_input_never_raises(frames: list[tuple[dict[str, Any], bool]]) -> None:
    decoder = codec.StreamDecoder(Context())
    events: list[Event] = []
    for data, named in frames:
        kind = data.get("type")  # the SSE event name is a string or absent, never a number
        events.extend(decoder.feed(frame(data, kind if named and isinstance(kind, str) else None)))
    events.extend(decoder.close())
    errors = [i for i, e in enumerate(events) if isinstance(e, StreamError)]
    stops = [i for i, e in enumerate(events) if isinstance(e, MessageStop)]
    assert len(errors) + len(stops) == 1  # exactly one end, and nothing after it
    assert max(errors + stops) == len(events) - 1
    if stops:
        accumulate(events)


part_values = st.one_of(
    st.builds(TextPart, text=small_text),
    st.builds(
        ThinkingPart,
        text=small_text,
        signature=st.none() | small_text,
        encrypted_content=st.none() | small_text,
    ),
    st.builds(
        ToolCallPart,
        id=st.sampled_from(["", "call_1", "toolu_9"]),
        name=st.just("f"),
        arguments=st.sampled_from(["", "{}", '{"a"']),
    ),
    st.builds(
        ToolCallPart,
        id=st.just("c"),
        name=st.just("p"),
        arguments=small_text,
        kind=st.just("custom"),
    ),
    st.builds(RefusalPart, text=small_text),
    st.builds(RedactedThinkingPart, data=small_text),
    st.builds(ToolResultPart, call_id=st.just("c")),
    st.builds(
        ServerToolPart,
        kind=st.just("x"),
        raw=st.just({"type": "x"}),
        source_format=st.sampled_from(["anthropic", "responses"]),
    ),
)
fields = st.sampled_from(["text", "arguments", "thinking", "signature", "summary", "citation"])
canonical_events = st.one_of(
    st.builds(
        MessageStart,
        id=st.just("m"),
        model=st.just("x"),
        usage=st.none() | st.builds(Usage, input_tokens=st.none() | st.integers(0, 9)),
    ),
    st.builds(PartStart, index=st.integers(0, 3), part=part_values),
    st.builds(
        PartDelta,
        index=st.integers(0, 3),
        field=fields,
        value=small_text,
        summary_index=st.integers(0, 2),
    ),
    st.builds(PartStop, index=st.integers(0, 3), part=st.none() | part_values),
    st.builds(
        MessageDelta,
        stop_reason=st.none() | st.sampled_from(["end_turn", "max_tokens", "weird"]),
        usage=st.none() | st.builds(Usage, output_tokens=st.integers(0, 9)),
    ),
    st.just(MessageStop()),
    st.just(Ping()),
    st.just(StreamError(error=ApiError.of("overloaded", "busy"))),
)


@given(events=st.lists(canonical_events, max_size=25))
def test_encoder_state_by_input_keeps_the_grammar(events: list[Event]) -> None:
    encoder = codec.StreamEncoder(Context())
    data = b"".join(b for e in events for b in encoder.feed(e)) + b"".join(encoder.close())
    frames = wire_events(data)
    names = [name for name, _ in frames]
    assert all(name == payload["type"] for name, payload in frames)
    assert names.count("message_stop") + names.count("error") == 1
    assert names[-1] in ("message_stop", "error")
    open_block: int | None = None
    expected_index = 0
    for name, payload in frames:
        if name == "content_block_start":
            assert open_block is None
            assert payload["index"] == expected_index
            open_block, expected_index = expected_index, expected_index + 1
        elif name in ("content_block_delta", "content_block_stop"):
            assert payload["index"] == open_block
            if name == "content_block_stop":
                open_block = None
        elif name in ("message_delta", "message_stop"):
            assert open_block is None
    if names[-1] == "message_stop" and not any(
        isinstance(e, PartDelta) and e.field == "arguments" for e in events
    ):
        final_from_stream("anthropic", data)  # the SDK accepts every complete stream
