"""Responses streams: the decoder on recorded transcripts, and the encoder against the SDK.

* decoding a recorded stream and folding it (``accumulate``) gives the decoded non-streamed
  answer recorded next to it, whatever the chunking of the bytes;
* what the encoder writes validates event by event with ``ResponseStreamEvent``, numbers its
  events from 0 by 1, keeps item ids from ``.added`` to ``.done`` to the terminal event, ends
  with exactly one terminal event, and drives the SDK's own stream helper to the answer that
  ``encode_response`` gives for the same events;
* broken, early-ending and odd streams give defined errors, never exceptions.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from apibridge._sse import SSEDecoder, SSEFrame
from apibridge.codecs import Context
from apibridge.codecs import responses as codec
from apibridge.codecs.envelope import open_envelope
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
    ServerToolPart,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
    accumulate,
)
from oracles import final_from_stream, validate_response

FIXTURES = Path(__file__).parent.parent / "fixtures" / "responses"
EVENT = TypeAdapter(ResponseStreamEvent)
TERMINALS = {"response.completed", "response.incomplete", "response.failed"}


def streams() -> list[Any]:
    found = []
    for path in sorted(FIXTURES.glob("stream_*.json")):
        found.append(pytest.param(orjson.loads(path.read_bytes()), id=path.stem))
    return found


def decode(chunks: list[bytes], ctx: Context | None = None) -> list[Event]:
    frames, decoder = SSEDecoder(), codec.StreamDecoder(ctx or Context())
    events: list[Event] = []
    for chunk in chunks:
        for frame in frames.feed(chunk):
            events += decoder.feed(frame)
    for frame in frames.close():
        events += decoder.feed(frame)
    return events + decoder.close()


def encode(events: list[Event], ctx: Context | None = None, close: bool = True) -> bytes:
    encoder = codec.StreamEncoder(ctx or Context())
    out: list[bytes] = []
    for event in events:
        out += encoder.feed(event)
    if close:
        out += encoder.close()
    return b"".join(out)


def payloads(data: bytes) -> list[dict[str, Any]]:
    frames = SSEDecoder().feed(data)
    found = []
    for frame in frames:
        if frame.data == "[DONE]":
            continue
        payload = orjson.loads(frame.data)
        assert frame.event in (None, payload["type"])
        found.append(payload)
    return found


def check_grammar(data: bytes) -> list[dict[str, Any]]:
    """Every event valid for the SDK, numbered from 0 by 1, one terminal event at the end,
    and item ids stable from ``.added`` to ``.done`` to the terminal ``output``; only a failed
    stream leaves items open, and its ``output`` has them ``incomplete`` (never ``completed``)."""
    events = payloads(data)
    for event in events:
        EVENT.validate_python(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["type"] == "response.created"
    kinds = [e["type"] for e in events]
    assert sum(k in TERMINALS for k in kinds) == 1
    assert kinds[-1] in TERMINALS
    added = {
        e["output_index"]: e["item"].get("id")
        for e in events
        if e["type"] == "response.output_item.added"
    }
    done = {
        e["output_index"]: e["item"].get("id")
        for e in events
        if e["type"] == "response.output_item.done"
    }
    final = events[-1]["response"]
    if kinds[-1] == "response.failed":
        assert done.items() <= added.items()
        for index in added.keys() - done.keys():
            assert final["output"][index].get("status") in (None, "incomplete", "failed")
    else:
        assert added == done
    assert final["id"] == events[0]["response"]["id"]
    assert {i: item.get("id") for i, item in enumerate(final["output"])} == added
    return events


def sdk_output(final: Any) -> list[dict[str, Any]]:
    """The SDK's final output without its own parsing conveniences."""
    items = final.model_dump(mode="json", exclude_unset=True)["output"]
    for item in items:
        item.pop("parsed_arguments", None)
        for content in item.get("content") or []:
            if isinstance(content, dict):
                content.pop("parsed", None)
    assert isinstance(items, list)
    return items


# -------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("fixture", streams())
def test_stream_accumulates_to_the_recorded_answer(fixture: dict[str, Any]) -> None:
    events = decode([fixture["sse"].encode()])
    if any(isinstance(e, StreamError) for e in events):
        assert isinstance(events[-1], StreamError)
        assert "response" not in fixture
        return
    assert isinstance(events[-1], MessageStop)
    if "response" in fixture:
        assert accumulate(events) == codec.decode_response(fixture["response"], Context())


@pytest.mark.parametrize("fixture", streams())
def test_any_chunking_gives_the_same_events(fixture: dict[str, Any]) -> None:
    data = fixture["sse"].encode()
    whole = decode([data])
    rng = random.Random(fixture["description"])
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, len(data)), k=min(40, len(data) - 1)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert _comparable(decode(chunks)) == _comparable(whole)


@pytest.mark.parametrize("name", ["stream_text", "stream_parallel_tool_calls_interleaved"])
def test_byte_by_byte_gives_the_same_events(name: str) -> None:
    data = orjson.loads((FIXTURES / f"{name}.json").read_bytes())["sse"].encode()
    chunks = [data[i : i + 1] for i in range(len(data))]
    assert _comparable(decode(chunks)) == _comparable(decode([data]))


def _comparable(events: list[Event]) -> list[Event]:
    # a generated id (a stream without one) is the only thing allowed to differ
    return [e for e in events if not isinstance(e, MessageStart)]


def test_failed_stream_ends_with_the_upstream_error() -> None:
    fixture = orjson.loads((FIXTURES / "stream_failed_midstream.json").read_bytes())
    events = decode([fixture["sse"].encode()])
    assert [type(e).__name__ for e in events[-2:]] == ["PartStop", "StreamError"]
    error = events[-1]
    assert isinstance(error, StreamError)
    assert error.error.code == "server_error"
    assert error.error.kind == "api_error"
    assert "invalid content" in error.error.message


def test_error_event_is_a_stream_error() -> None:
    fixture = orjson.loads((FIXTURES / "stream_error_event.json").read_bytes())
    events = decode([fixture["sse"].encode()])
    assert isinstance(events[0], MessageStart)
    error = events[-1]
    assert isinstance(error, StreamError)
    assert error.error.kind == "rate_limit"
    assert error.error.status == 429


def test_stream_without_terminal_event_ends_with_an_error() -> None:
    fixture = orjson.loads((FIXTURES / "stream_text.json").read_bytes())
    cut = fixture["sse"].split("event: response.completed")[0]
    events = decode([cut.encode()])
    error = events[-1]
    assert isinstance(error, StreamError)
    assert error.error.kind == "api_error"
    assert "ended before" in error.error.message
    decoder = codec.StreamDecoder(Context())
    assert isinstance(decoder.close()[0], StreamError)
    assert decoder.close() == []
    assert decoder.feed(SSEFrame(data='{"type":"response.completed"}')) == []


def test_odd_frames_are_tolerated() -> None:
    decoder = codec.StreamDecoder(Context())
    assert decoder.feed(SSEFrame(data="")) == []
    assert decoder.feed(SSEFrame(data="[DONE]")) == []
    assert decoder.feed(SSEFrame(data="[1, 2]")) == []
    assert decoder.feed(SSEFrame(data='{"type": "response.future_event"}')) == []
    assert decoder.feed(SSEFrame(data='{"no": "type"}', event="keepalive")) == []
    broken = decoder.feed(SSEFrame(data="{not json"))
    assert isinstance(broken[0], StreamError)
    assert decoder.feed(SSEFrame(data='{"type":"response.created"}')) == []


def test_event_name_is_used_when_the_data_has_no_type() -> None:
    decoder = codec.StreamDecoder(Context())
    out = decoder.feed(SSEFrame(event="response.created", data='{"response": {"id": "resp_1"}}'))
    assert out == [MessageStart(id="resp_1", model="")]


def test_a_server_that_sends_only_the_terminal_event() -> None:
    body = orjson.loads((FIXTURES / "response_parallel_tool_calls.json").read_bytes())["body"]
    data = b"data: " + orjson.dumps({"type": "response.completed", "response": body}) + b"\n\n"
    events = decode([data])
    assert accumulate(events) == codec.decode_response(body, Context())


def test_done_events_complete_what_the_deltas_left_out() -> None:
    lines = [
        {"type": "response.created", "response": {"id": "r", "model": "m", "created_at": 1}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "m1", "type": "message", "role": "assistant", "content": []},
        },
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "content_index": 0,
            "item_id": "m1",
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
        {
            "type": "response.output_text.done",
            "output_index": 0,
            "content_index": 0,
            "item_id": "m1",
            "text": "whole text",
        },
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {
                "id": "fc1",
                "type": "function_call",
                "call_id": "c",
                "name": "f",
                "arguments": '{"a"',
            },
        },
        {"type": "response.function_call_arguments.done", "item_id": "fc1", "arguments": '{"a":1}'},
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {"id": "rs", "type": "reasoning", "summary": []},
        },
        {
            "type": "response.reasoning_summary_text.done",
            "output_index": 2,
            "summary_index": 1,
            "text": "second",
        },
        {"type": "response.reasoning_text.delta", "output_index": 2, "delta": "ra"},
        {"type": "response.reasoning_text.done", "output_index": 2, "text": "raw"},
        {"type": "response.refusal.delta", "output_index": 3, "content_index": 0, "delta": "n"},
        {"type": "response.refusal.done", "output_index": 3, "content_index": 0, "refusal": "no"},
    ]
    data = b"".join(b"data: " + orjson.dumps(line) + b"\n\n" for line in lines)
    deltas = [e for e in decode([data]) if isinstance(e, PartDelta)]
    assert [(d.index, d.field, d.value) for d in deltas] == [
        (0, "text", "whole text"),
        (1, "arguments", '{"a"'),
        (1, "arguments", ":1}"),
        (2, "summary", "second"),
        (2, "thinking", "ra"),
        (2, "thinking", "w"),
        (3, "text", "n"),
        (3, "text", "o"),
    ]
    assert deltas[3].summary_index == 1


def test_annotation_events_become_citations() -> None:
    fixture = orjson.loads((FIXTURES / "stream_web_search_annotations.json").read_bytes())
    events = decode([fixture["sse"].encode()])
    cites = [e.citation for e in events if isinstance(e, PartDelta) and e.field == "citation"]
    assert len(cites) == 1
    assert cites[0] is not None
    assert cites[0].kind == "url_citation"


def test_bad_items_inside_good_json_give_a_stream_error() -> None:
    decoder = codec.StreamDecoder(Context())
    decoder.feed(SSEFrame(data='{"type": "response.created", "response": {"id": "r"}}'))
    out = decoder.feed(SSEFrame(data='{"type": "response.output_item.added", "item": 5}'))
    assert isinstance(out[-1], StreamError)
    assert "item" in out[-1].error.message


# -------------------------------------------------------------------------------- encoding


@pytest.mark.parametrize("fixture", streams())
def test_reencoded_stream_drives_the_sdk_to_the_same_answer(fixture: dict[str, Any]) -> None:
    events = decode([fixture["sse"].encode()])
    data = encode(events)
    payload = check_grammar(data)
    if isinstance(events[-1], StreamError):
        assert payload[-1]["type"] == "response.failed"
        assert payload[-1]["response"]["error"]["message"] == events[-1].error.message
        return
    want = codec.encode_response(accumulate(events), Context())
    validate_response("responses", want)
    terminal = payload[-1]["response"]
    assert terminal["output"] == want["output"]
    assert terminal["usage"] == want["usage"]
    assert terminal["status"] == want["status"]
    if want["status"] == "completed":
        assert sdk_output(final_from_stream("responses", data)) == want["output"]


@pytest.mark.parametrize("fixture", streams())
def test_same_format_stream_keeps_the_upstream_ids(fixture: dict[str, Any]) -> None:
    events = decode([fixture["sse"].encode()])
    if isinstance(events[-1], StreamError):
        return
    ours = {
        e["item"]["id"]
        for e in payloads(encode(events))
        if e["type"] == "response.output_item.done"
    }
    theirs = {
        e["item"]["id"]
        for e in payloads(fixture["sse"].encode())
        if e["type"] == "response.output_item.done"
    }
    assert ours == theirs


def claude_like_events() -> list[Event]:
    """What the Anthropic decoder makes of a thinking + text + tool-use answer."""
    return [
        MessageStart(
            id="msg_01",
            model="claude",
            usage=Usage(input_tokens=10, output_tokens=1),
            created=1700000000,
        ),
        PartStart(index=0, part=ThinkingPart()),
        PartDelta(index=0, field="thinking", value="Let me "),
        PartDelta(index=0, field="thinking", value="check."),
        PartDelta(index=0, field="signature", value="SIGNATURE=="),
        PartStop(index=0),
        PartStart(index=1, part=TextPart(text="")),
        PartDelta(index=1, field="text", value="Checking "),
        PartDelta(
            index=1,
            field="citation",
            citation=Citation(
                kind="web_search_result_location",
                url="https://w.example",
                title="W",
                source_format="anthropic",
            ),
        ),
        PartDelta(index=1, field="text", value="now."),
        PartStop(index=1),
        PartStart(index=2, part=ToolCallPart(id="toolu_1", name="weather", arguments="")),
        PartDelta(index=2, field="arguments", value='{"city":'),
        PartDelta(index=2, field="arguments", value='"Paris"}'),
        PartStop(index=2),
        MessageDelta(stop_reason="tool_use", usage=Usage(output_tokens=30)),
        MessageStop(),
    ]


def test_claude_like_stream_is_a_valid_responses_stream() -> None:
    events = claude_like_events()
    data = encode(events)
    payload = check_grammar(data)
    kinds = [e["type"] for e in payload]
    assert "response.reasoning_summary_text.delta" in kinds
    assert "response.output_text.annotation.added" in kinds
    final = final_from_stream("responses", data)
    want = codec.encode_response(accumulate(events), Context())
    assert sdk_output(final) == want["output"]
    reasoning = want["output"][0]
    assert reasoning["summary"][0]["text"] == "Let me check."
    assert open_envelope(reasoning["encrypted_content"]) is not None
    assert want["output"][2]["arguments"] == '{"city":"Paris"}'
    assert payload[-1]["response"]["usage"]["output_tokens"] == 30


def test_fidelity_1_parallel_tool_calls_interleaved_by_a_chat_upstream() -> None:
    """Chat streams parallel calls interleaved; each call must come out whole and in order."""
    events: list[Event] = [
        MessageStart(id="chatcmpl-1", model="gpt-4.1"),
        PartStart(index=0, part=ToolCallPart(id="call_a", name="w", arguments="")),
        PartStart(index=1, part=ToolCallPart(id="call_b", name="w", arguments="")),
        PartDelta(index=0, field="arguments", value='{"city":'),
        PartDelta(index=1, field="arguments", value='{"city":'),
        PartDelta(index=1, field="arguments", value='"Lima"}'),
        PartDelta(index=0, field="arguments", value='"Oslo"}'),
        PartStop(index=1),
        PartStop(index=0),
        MessageDelta(stop_reason="tool_use"),
        MessageStop(),
    ]
    data = encode(events)
    payload = check_grammar(data)
    deltas = [
        (e["output_index"], e["delta"])
        for e in payload
        if e["type"] == "response.function_call_arguments.delta"
    ]
    assert deltas == [(0, '{"city":'), (0, '"Oslo"}'), (1, '{"city":'), (1, '"Lima"}')]
    done = [e["item"] for e in payload if e["type"] == "response.output_item.done"]
    assert [(d["call_id"], d["arguments"]) for d in done] == [
        ("call_a", '{"city":"Oslo"}'),
        ("call_b", '{"city":"Lima"}'),
    ]
    assert sdk_output(final_from_stream("responses", data)) == done


def test_fidelity_2_text_parts_without_text_emit_nothing() -> None:
    events: list[Event] = [
        MessageStart(id="m", model="x"),
        PartStart(index=0, part=TextPart(text="")),
        PartStop(index=0),
        PartStart(index=1, part=ToolCallPart(id="c", name="f", arguments="{}")),
        PartStop(index=1),
        MessageDelta(stop_reason="tool_use"),
        MessageStop(),
    ]
    payload = check_grammar(encode(events))
    assert [e["item"]["type"] for e in payload if e["type"] == "response.output_item.added"] == [
        "function_call"
    ]
    assert not any(e["type"].startswith("response.content_part") for e in payload)


def test_fidelity_12_one_id_from_created_to_completed() -> None:
    payload = check_grammar(encode(claude_like_events()))
    ids = {e["response"]["id"] for e in payload if "response" in e}
    assert ids == {"msg_01"}


def test_fidelity_13_upstream_break_ends_with_response_failed() -> None:
    events = claude_like_events()[:8]  # the text is still open
    payload = check_grammar(encode(events))
    assert payload[-1]["type"] == "response.failed"
    assert payload[-1]["response"]["error"]["code"] == "server_error"
    # the text the upstream never finished is not said done; the failed output has it so far
    message = payload[-1]["response"]["output"][-1]
    assert not [
        e
        for e in payload
        if e.get("item_id", e.get("item", {}).get("id")) == message["id"]
        and e["type"].endswith(".done")
    ]
    assert message["status"] == "incomplete"
    assert message["content"][0]["text"] == "Checking "


def test_stream_error_event_ends_the_stream_once() -> None:
    ctx = Context()
    encoder = codec.StreamEncoder(ctx)
    out = encoder.feed(MessageStart(id="r", model="m"))
    out += encoder.feed(StreamError(error=ApiError.of("rate_limit", "slow down")))
    out += encoder.feed(PartStart(index=0, part=TextPart(text="late")))
    out += encoder.close()
    payload = check_grammar(b"".join(out))
    assert payload[-1]["response"]["error"] == {
        "code": "rate_limit_exceeded",
        "message": "slow down",
    }
    assert encoder.close() == []


def test_close_before_anything_writes_created_then_failed() -> None:
    payload = check_grammar(encode([]))
    assert [e["type"] for e in payload] == [
        "response.created",
        "response.in_progress",
        "response.failed",
    ]


def test_events_before_message_start_still_make_a_valid_stream() -> None:
    ctx = Context()
    ctx.request = codec.decode_request({"model": "gpt-test", "input": "x"}, ctx)
    events: list[Event] = [
        PartStart(index=0, part=TextPart(text="hello ")),
        Ping(),
        PartDelta(index=9, field="text", value="ignored"),
        PartDelta(index=0, field="text", value="world"),
        PartStop(index=0),
        PartStop(index=0),
        PartStart(index=0, part=TextPart(text="dup")),
        MessageDelta(stop_reason="max_tokens"),
        MessageStop(),
        MessageStop(),
    ]
    payload = check_grammar(encode(events, ctx))
    final = payload[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["model"] == "gpt-test"
    assert final["response"]["output"][0]["content"][0]["text"] == "hello world"


def test_refusal_redacted_and_server_parts() -> None:
    events: list[Event] = [
        MessageStart(id="r", model="m"),
        PartStart(index=0, part=RedactedThinkingPart(data="opaque")),
        PartStop(index=0),
        PartStart(index=1, part=RefusalPart(text="")),
        PartDelta(index=1, field="text", value="I can't."),
        PartDelta(index=1, field="citation", citation=Citation(kind="url_citation", url="u")),
        PartStop(index=1),
        PartStart(
            index=2,
            part=ServerToolPart(
                kind="web_search_call",
                source_format="responses",
                raw={
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "in_progress",
                    "action": {"type": "search"},
                },
            ),
        ),
        PartStop(
            index=2,
            part=ServerToolPart(
                kind="web_search_call",
                source_format="responses",
                raw={
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "completed",
                    "action": {"type": "search", "query": "q"},
                },
            ),
        ),
        PartStart(
            index=3,
            part=ServerToolPart(
                kind="bash_code_execution_tool_result", source_format="anthropic", raw={}
            ),
        ),
        PartStop(index=3),
        MessageDelta(stop_reason="refusal"),
        MessageStop(),
    ]
    ctx = Context()
    data = encode(events, ctx)
    payload = check_grammar(data)
    items = payload[-1]["response"]["output"]
    assert [i["type"] for i in items] == ["reasoning", "message", "web_search_call"]
    assert items[2]["action"]["query"] == "q"
    assert [loss.field for loss in ctx.losses] == ["content[3]"]
    assert sdk_output(final_from_stream("responses", data)) == items


def test_reasoning_with_summaries_and_text_from_a_responses_upstream() -> None:
    events: list[Event] = [
        MessageStart(id="r", model="m"),
        PartStart(index=0, part=ThinkingPart(id="rs_1")),
        PartDelta(index=0, field="summary", value="S0"),
        PartDelta(index=0, field="summary", value="S1", summary_index=1),
        PartDelta(index=0, field="thinking", value="raw"),
        PartStop(index=0),
        PartStart(index=1, part=ThinkingPart(id="rs_2")),
        PartDelta(index=1, field="thinking", value="T"),
        PartDelta(index=1, field="summary", value="late", summary_index=0),
        PartStop(
            index=1,
            part=ThinkingPart(id="rs_2", text="T", summary=("late", "x"), encrypted_content="gAAA"),
        ),
        MessageDelta(stop_reason="end_turn"),
        MessageStop(),
    ]
    payload = check_grammar(encode(events))
    kinds = [e["type"] for e in payload]
    assert "response.reasoning_text.delta" in kinds
    first, second = payload[-1]["response"]["output"]
    assert first["summary"] == [
        {"type": "summary_text", "text": "S0"},
        {"type": "summary_text", "text": "S1"},
    ]
    assert second["encrypted_content"] == "gAAA"
    assert [s["text"] for s in second["summary"]] == ["late", "x"]


def test_final_part_that_differs_from_the_deltas_wins() -> None:
    events: list[Event] = [
        MessageStart(id="r", model="m"),
        PartStart(index=0, part=TextPart(text="")),
        PartDelta(index=0, field="text", value="Hel"),
        PartStop(index=0, part=TextPart(text="Hello")),
        PartStart(index=1, part=ToolCallPart(id="c", name="f", arguments="")),
        PartDelta(index=1, field="arguments", value="{}"),
        PartStop(index=1, part=ToolCallPart(id="c", name="f", arguments='{"x":1}')),
        PartStart(index=2, part=TextPart(text="")),
        PartStop(index=2, part=TextPart(text="late text")),
        MessageDelta(stop_reason="tool_use"),
        MessageStop(),
    ]
    payload = check_grammar(encode(events))
    texts = [e["delta"] for e in payload if e["type"] == "response.output_text.delta"]
    assert texts == ["Hel", "lo", "late text"]
    output = payload[-1]["response"]["output"]
    assert output[1]["arguments"] == '{"x":1}'


def test_message_delta_is_held_until_message_stop() -> None:
    encoder = codec.StreamEncoder(Context())
    encoder.feed(MessageStart(id="r", model="m"))
    assert encoder.feed(MessageDelta(stop_reason="end_turn", usage=Usage(input_tokens=1))) == []
    assert encoder.feed(MessageDelta(usage=Usage(output_tokens=2))) == []
    (terminal,) = encoder.feed(MessageStop())
    body = orjson.loads(terminal.split(b"data: ", 1)[1])
    assert body["type"] == "response.completed"
    assert body["response"]["usage"]["total_tokens"] == 3


def test_custom_tool_call_stream() -> None:
    events: list[Event] = [
        MessageStart(id="r", model="m"),
        PartStart(
            index=0,
            part=ToolCallPart(id="c", name="apply_patch", arguments="*** Begin", kind="custom"),
        ),
        PartDelta(index=0, field="arguments", value=" Patch\n"),
        PartStop(index=0),
        MessageDelta(stop_reason="tool_use"),
        MessageStop(),
    ]
    data = encode(events)
    payload = check_grammar(data)
    assert [
        e["delta"] for e in payload if e["type"] == "response.custom_tool_call_input.delta"
    ] == ["*** Begin", " Patch\n"]
    (item,) = sdk_output(final_from_stream("responses", data))
    assert item["input"] == "*** Begin Patch\n"
    assert item["type"] == "custom_tool_call"


@pytest.mark.parametrize("fixture", streams())
def test_final_response_is_the_terminal_event_the_client_received(fixture: dict[str, Any]) -> None:
    """What a server stores for ``previous_response_id`` is the encoder's own final response
    object, equal to the terminal event's ``response`` in the bytes (no second parse needed)."""
    events = decode([fixture["sse"].encode()])
    encoder = codec.StreamEncoder(Context())
    data = b"".join([b for e in events for b in encoder.feed(e)] + encoder.close())
    terminal = payloads(data)[-1]
    if terminal["type"] == "response.failed":
        assert encoder.final_response is None
    else:
        assert terminal["type"] in ("response.completed", "response.incomplete")
        assert encoder.final_response == terminal["response"]
