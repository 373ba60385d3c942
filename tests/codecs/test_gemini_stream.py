"""Gemini streams (``streamGenerateContent``) ⇄ canonical events ⇄ the other formats.

Gemini SSE streams are decoded and written for Claude, Chat and Responses clients, each driven
through that SDK's own stream helper (``oracles.final_from_stream``); recorded streams of the
other formats are written for a Gemini client, every chunk checked with the ``google-genai``
type and the whole stream read by a real ``genai.Client`` (``gemini_oracle``). Cut streams and
in-band errors end in each format's in-band error; the JSON-array form (no ``alt=sse``) carries
the same chunks.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from google.genai import errors

from apibridge._sse import SSEDecoder
from apibridge.codecs import Context, get_codec
from apibridge.codecs.envelope import open_envelope
from apibridge.codecs.gemini._framing import ArrayReader, ArrayWriter, sse_to_array
from apibridge.codecs.gemini._response import decode_response
from apibridge.codecs.gemini._stream_decoder import StreamDecoder
from apibridge.codecs.gemini._stream_encoder import StreamEncoder
from apibridge.errors import ApiError
from apibridge.model import (
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    Ping,
    RefusalPart,
    Response,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    accumulate,
)
from cut_streams import check_cut_stream
from gemini_oracle import sdk_stream, sse_bodies, unstreamed, validate_gemini
from oracles import final_from_stream

FIXTURES = Path(__file__).parent.parent / "fixtures"
OTHERS = ("anthropic", "chat", "responses")
SIG = "CiQBjz1rX0c2YQ=="
SIG2 = "CiIBjz1rXwbWgg=="
HEAD = {"modelVersion": "gemini-2.5-flash", "responseId": "resp-s1"}


def _chunk(parts: list[dict[str, Any]], finish: str | None = None, **top: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **top, **HEAD}


def _usage(prompt: int, out: int | None = None, thoughts: int | None = None) -> dict[str, Any]:
    usage = {"promptTokenCount": prompt, "totalTokenCount": prompt + (out or 0) + (thoughts or 0)}
    if out is not None:
        usage["candidatesTokenCount"] = out
    if thoughts is not None:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)


#: real-shaped Gemini streams, by name
STREAMS: dict[str, list[dict[str, Any]]] = {
    "text": [
        _chunk([{"text": "Hello"}], usageMetadata=_usage(5)),
        _chunk([{"text": " there, how"}], usageMetadata=_usage(5, 3)),
        _chunk([{"text": " can I help?"}], "STOP", usageMetadata=_usage(5, 8)),
    ],
    "thinking_then_signed_call": [
        _chunk([{"text": "**Looking** at the file", "thought": True}], usageMetadata=_usage(40)),
        _chunk([{"text": " first.", "thought": True}], usageMetadata=_usage(40)),
        _chunk(
            [
                {
                    "functionCall": {"name": "read_file", "args": {"path": "notes.txt"}},
                    "thoughtSignature": SIG,
                }
            ],
            "STOP",
            usageMetadata=_usage(40, 9, 25),
        ),
    ],
    "parallel_calls": [
        _chunk(
            [
                {"functionCall": {"id": "c1", "name": "weather", "args": {"city": "Paris"}}},
                {"functionCall": {"id": "c2", "name": "weather", "args": {"city": "Rome"}}},
            ],
            "STOP",
            usageMetadata=_usage(30, 20),
        )
    ],
    "text_signed_at_the_end": [
        _chunk([{"text": "All"}], usageMetadata=_usage(5)),
        _chunk([{"text": " done."}], usageMetadata=_usage(5, 2)),
        _chunk([{"text": "", "thoughtSignature": SIG2}], "STOP", usageMetadata=_usage(5, 2)),
    ],
    "max_tokens": [
        _chunk([{"text": "A long"}], usageMetadata=_usage(5, 2)),
        _chunk([{"text": " answer"}], "MAX_TOKENS", usageMetadata=_usage(5, 4)),
    ],
    "safety": [
        _chunk([{"text": "Here is how"}], usageMetadata=_usage(5, 3)),
        {
            "candidates": [
                {
                    "content": {"role": "model"},
                    "finishReason": "SAFETY",
                    "finishMessage": "Blocked for safety.",
                    "index": 0,
                }
            ],
            "usageMetadata": _usage(5, 3),
            **HEAD,
        },
    ],
}


def _decode(data: bytes, decoder: Any = None) -> list[Event]:
    decoder = decoder or StreamDecoder(Context())
    sse = SSEDecoder()
    events = [e for f in [*sse.feed(data), *sse.close()] for e in decoder.feed(f)]
    return events + decoder.close()


def _encode(events: list[Event], encoder: Any) -> bytes:
    return b"".join(b for e in events for b in encoder.feed(e)) + b"".join(encoder.close())


def _to_gemini(events: list[Event], ctx: Context | None = None) -> bytes:
    data = _encode(events, StreamEncoder(ctx or Context()))
    sse_bodies(data)  # every chunk a valid GenerateContentResponse
    return data


def _same_calls(response: Response) -> Response:
    """``response`` with made call ids numbered (they are random per decode)."""
    made: dict[str, str] = {}
    content = tuple(
        attrs.evolve(p, id=made.setdefault(p.id, f"gcall_{len(made)}"))
        if isinstance(p, ToolCallPart) and p.id.startswith("gcall_")
        else p
        for p in response.content
    )
    return attrs.evolve(response, content=content)


def _recorded(fmt: str, name: str) -> bytes:
    raw = (FIXTURES / fmt / name).read_bytes()
    return json.loads(raw)["sse"].encode() if name.endswith(".json") else raw


# ------------------------------------------------------------------ decoding


def test_text_chunks_continue_one_part_and_usage_grows() -> None:
    events = _decode(_sse(STREAMS["text"]))
    start = events[0]
    assert isinstance(start, MessageStart)
    assert start.id == "resp-s1"
    assert start.model == "gemini-2.5-flash"
    assert [type(e) for e in events[1:]] == [
        PartStart,
        PartDelta,
        PartDelta,
        PartDelta,
        PartStop,
        MessageDelta,
        MessageStop,
    ]
    answer = accumulate(events)
    assert answer.content == (TextPart(text="Hello there, how can I help?"),)
    assert answer.stop_reason == "end_turn"
    assert answer.usage is not None
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (5, 8)


def test_a_signed_call_after_thoughts_is_a_carrier_and_a_whole_call() -> None:
    answer = accumulate(_decode(_sse(STREAMS["thinking_then_signed_call"])))
    thinking, carrier, call = answer.content
    assert isinstance(thinking, ThinkingPart)
    assert thinking.text == "**Looking** at the file first."
    assert isinstance(carrier, ThinkingPart)
    assert carrier.extras["gemini"]["_signature"] == SIG
    assert isinstance(call, ToolCallPart)
    assert call.arguments == '{"path":"notes.txt"}'
    assert answer.stop_reason == "tool_use"
    assert answer.usage is not None
    assert (answer.usage.output_tokens, answer.usage.reasoning_tokens) == (34, 25)


def test_a_signature_alone_at_the_end_signs_the_text_before_it() -> None:
    events = _decode(_sse(STREAMS["text_signed_at_the_end"]))
    (text,) = accumulate(events).content
    assert text == TextPart(text="All done.", extras={"gemini": {"thoughtSignature": SIG2}})
    # the same answer unstreamed says the same
    body = {
        "candidates": [
            {
                "content": {
                    "parts": [{"text": "All done.", "thoughtSignature": SIG2}],
                    "role": "model",
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        **HEAD,
    }
    assert decode_response(body, Context()).content == (text,)


@pytest.mark.parametrize("name", STREAMS)
def test_every_gemini_stream_agrees_with_the_answer_it_streams(name: str) -> None:
    """The accumulated stream equals the unstreamed answer: text joined, the last usage."""
    chunks = STREAMS[name]
    body = unstreamed(chunks)
    validate_gemini(body)
    streamed = _same_calls(accumulate(_decode(_sse(chunks))))
    assert streamed == _same_calls(decode_response(body, Context()))


def test_a_stream_without_finish_reason_is_cut() -> None:
    events = _decode(_sse(STREAMS["text"][:2]))
    assert isinstance(events[-1], StreamError)
    assert events[-1].error.kind == "api_error"
    assert not [e for e in events if isinstance(e, PartStop | MessageStop)]


def test_an_in_band_error_frame_is_a_stream_error_of_its_status() -> None:
    error = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted",
            "status": "RESOURCE_EXHAUSTED",
        }
    }
    events = _decode(_sse([STREAMS["text"][0], error]))
    last = events[-1]
    assert isinstance(last, StreamError)
    assert last.error.kind == "rate_limit"
    assert last.error.status == 429
    assert last.error.message == "Resource has been exhausted"


def test_a_chunk_that_is_not_json_ends_the_stream_in_an_error() -> None:
    events = _decode(b"data: {not json\r\n\r\n")
    assert isinstance(events[-1], StreamError)
    assert "not valid JSON" in events[-1].error.message


def test_a_blocked_prompt_streams_as_a_refusal() -> None:
    block = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": _usage(7),
        **HEAD,
    }
    events = _decode(_sse([block]))
    answer = accumulate(events)
    assert answer.content == (RefusalPart(text=""),)
    assert answer.stop_reason == "refusal"
    # back to a Gemini client: the block as it came
    (body,) = sse_bodies(_to_gemini(events))
    assert body["promptFeedback"] == {"blockReason": "SAFETY"}
    assert "candidates" not in body


# ------------------------------------------------------------------ Gemini → others


@pytest.mark.parametrize("target", OTHERS)
@pytest.mark.parametrize("name", STREAMS)
def test_every_gemini_stream_drives_each_sdk_stream_helper(name: str, target: str) -> None:
    events = _decode(_sse(STREAMS[name]))
    answer = accumulate(events)
    data = _encode(events, get_codec(target).StreamEncoder(Context()))
    final = final_from_stream(target, data)
    text = "".join(p.text for p in answer.content if isinstance(p, TextPart))
    calls = [p.name for p in answer.content if isinstance(p, ToolCallPart)]
    if target == "anthropic":  # a refusal's words are Claude text, with its refusal stop
        text += "".join(p.text for p in answer.content if isinstance(p, RefusalPart))
        said = "".join(b.text for b in final.content if b.type == "text")
        assert [b.name for b in final.content if b.type == "tool_use"] == calls
    elif target == "chat":
        said = final.choices[0].message.content or ""
        assert [c.function.name for c in final.choices[0].message.tool_calls or []] == calls
    else:
        said = final.output_text
        assert [i.name for i in final.output if i.type == "function_call"] == calls
    assert said == text


def test_a_safety_finish_reaches_chat_as_a_refusal_after_the_text() -> None:
    events = _decode(_sse(STREAMS["safety"]))
    data = _encode(events, get_codec("chat").StreamEncoder(Context()))
    final = final_from_stream("chat", data)
    (choice,) = final.choices
    assert choice.message.content == "Here is how"
    assert choice.message.refusal == "Blocked for safety."
    assert choice.finish_reason == "content_filter"
    claude = final_from_stream(
        "anthropic", _encode(events, get_codec("anthropic").StreamEncoder(Context()))
    )
    assert claude.stop_reason == "refusal"


@pytest.mark.parametrize("client", OTHERS)
@pytest.mark.parametrize("inside", ["text", "reasoning"])
def test_a_cut_gemini_stream_leaves_nothing_finished_in_any_client(
    client: str, inside: str
) -> None:
    chunks = STREAMS["text"] if inside == "text" else STREAMS["thinking_then_signed_call"]
    said = chunks[0]["candidates"][0]["content"]["parts"][0]["text"]
    events = _decode(_sse(chunks[:1]))
    data = _encode(events, get_codec(client).StreamEncoder(Context()))
    check_cut_stream(client, data, inside, said)


# ------------------------------------------------------------------ others → Gemini


@pytest.mark.parametrize("name", STREAMS)
def test_a_gemini_stream_round_trips_through_the_encoder(name: str) -> None:
    events = _decode(_sse(STREAMS[name]))
    data = _to_gemini(events)
    chunks, error = sdk_stream(data)
    assert error is None
    assert chunks[-1].candidates is None or chunks[-1].candidates[0].finish_reason is not None
    assert _same_calls(accumulate(_decode(data))) == _same_calls(accumulate(events))


RECORDED = {
    "anthropic": ["stream_tool_use_thinking.json", "stream_text.json", "stream_refusal.json"],
    "chat": [
        "stream_parallel_tool_calls.json",
        "stream_interleaved_tool_calls.json",
        "stream_deepseek_reasoning_usage_on_finish.json",
        "stream_length_cached_usage.json",
        "stream_refusal.json",
    ],
    "responses": [
        "stream_reasoning_summaries.json",
        "stream_parallel_tool_calls_interleaved.json",
        "stream_text.json",
    ],
}


@pytest.mark.filterwarnings("ignore::apibridge.ConversionWarning")
@pytest.mark.parametrize(
    ("source", "name"), [(fmt, name) for fmt, names in RECORDED.items() for name in names]
)
def test_recorded_streams_of_other_formats_reach_a_gemini_client(source: str, name: str) -> None:
    events = _decode(_recorded(source, name), get_codec(source).StreamDecoder(Context()))
    expected = accumulate(events)
    data = _to_gemini(events)
    chunks, error = sdk_stream(data)
    assert error is None
    text = "".join(p.text for p in expected.content if isinstance(p, TextPart))
    assert "".join(c.text or "" for c in chunks if c.candidates) == text
    sdk_calls = [
        (p.function_call.name, p.function_call.args)
        for c in chunks
        if c.candidates and c.candidates[0].content and c.candidates[0].content.parts
        for p in c.candidates[0].content.parts
        if p.function_call is not None
    ]
    calls = [
        (p.name, json.loads(p.arguments)) for p in expected.content if isinstance(p, ToolCallPart)
    ]
    assert sdk_calls == calls
    last = chunks[-1]
    assert last.candidates is not None
    assert last.candidates[0].finish_reason is not None
    got = accumulate(_decode(data))
    assert got.stop_reason in (expected.stop_reason, "tool_use" if calls else None, "refusal")
    if expected.usage is not None and expected.usage.output_tokens is not None:
        assert got.usage is not None
        assert got.usage.output_tokens == expected.usage.output_tokens
        assert got.usage.total_input == expected.usage.total_input


def test_interleaved_chat_calls_come_out_whole_in_order() -> None:
    events = _decode(
        _recorded("chat", "stream_interleaved_tool_calls.json"),
        get_codec("chat").StreamDecoder(Context()),
    )
    bodies = sse_bodies(_to_gemini(events))
    calls = [
        part["functionCall"]
        for body in bodies
        for part in body["candidates"][0]["content"]["parts"]
        if "functionCall" in part
    ]
    expected = [p for p in accumulate(events).content if isinstance(p, ToolCallPart)]
    assert [c["name"] for c in calls] == [p.name for p in expected]
    assert [c["args"] for c in calls] == [json.loads(p.arguments) for p in expected]
    # the last call rides on the finishing chunk, as Gemini sends it
    assert "functionCall" in bodies[-1]["candidates"][0]["content"]["parts"][-1]
    assert bodies[-1]["candidates"][0]["finishReason"] == "STOP"


def test_claude_thinking_is_shown_and_its_signature_carried() -> None:
    events = _decode(
        _recorded("anthropic", "stream_tool_use_thinking.json"),
        get_codec("anthropic").StreamDecoder(Context()),
    )
    ctx = Context()
    bodies = sse_bodies(_to_gemini(events, ctx))
    thoughts = [
        part["text"]
        for body in bodies
        for part in body["candidates"][0]["content"]["parts"]
        if part.get("thought")
    ]
    expected = [p.text for p in accumulate(events).content if isinstance(p, ThinkingPart)]
    assert "".join(thoughts) == "".join(expected)
    signed = [
        part["thoughtSignature"]
        for body in bodies
        for part in body["candidates"][0]["content"]["parts"]
        if part.get("thought") and "thoughtSignature" in part
    ]
    claude = [p.signature for p in accumulate(events).content if isinstance(p, ThinkingPart)]
    opened = [open_envelope(base64.b64decode(s).decode()) for s in signed]
    assert [e.data for e in opened if e is not None] == claude  # as the envelope, to come back
    assert not any(loss.field.endswith("thoughtSignature") for loss in ctx.losses)


def test_a_gemini_signature_survives_a_claude_stream_and_comes_back() -> None:
    events = _decode(_sse(STREAMS["thinking_then_signed_call"]))
    claude = _encode(events, get_codec("anthropic").StreamEncoder(Context()))
    back = _decode(claude, get_codec("anthropic").StreamDecoder(Context()))
    bodies = sse_bodies(_to_gemini(back))
    (call,) = [
        part
        for body in bodies
        for part in body["candidates"][0]["content"]["parts"]
        if "functionCall" in part
    ]
    assert call["thoughtSignature"] == SIG


def test_a_stream_error_is_an_error_frame_the_sdk_raises() -> None:
    events = _decode(_sse(STREAMS["text"][:2]))[:-1]  # the cut's own error left out
    error = ApiError.of("overloaded", "Overloaded")
    data = _to_gemini([*events, StreamError(error=error), MessageStop()])
    last = sse_bodies(data)[-1]
    assert last == {"error": {"code": 503, "message": "Overloaded", "status": "UNAVAILABLE"}}
    chunks, raised = sdk_stream(data)
    assert isinstance(raised, errors.ServerError)
    assert "".join(c.text or "" for c in chunks) == "Hello there, how"


def test_an_unfinished_input_ends_in_an_error_without_the_pending_call() -> None:
    events = _decode(_sse(STREAMS["parallel_calls"]))
    unfinished = [e for e in events if not isinstance(e, MessageDelta | MessageStop)]
    data = _to_gemini(unfinished)
    bodies = sse_bodies(data)
    assert "error" in bodies[-1]
    assert not [b for b in bodies if "candidates" in b]  # no call was said finished
    _, raised = sdk_stream(data)
    assert isinstance(raised, errors.APIError)


def test_ping_writes_the_held_chunk_and_nothing_of_its_own() -> None:
    encoder = StreamEncoder(Context())
    assert encoder.feed(Ping()) == []  # nothing to say before the answer starts
    events = _decode(_sse(STREAMS["text"]))
    pinged = [events[0], Ping(), *events[1:3], Ping(), Ping(), *events[3:]]
    data = _to_gemini(pinged, Context())
    chunks, error = sdk_stream(data)
    assert error is None
    assert "".join(c.text or "" for c in chunks) == "Hello there, how can I help?"
    assert accumulate(_decode(data)) == accumulate(events)


@pytest.mark.parametrize("name", STREAMS)
def test_every_chunk_suits_a_google_genai_chat_history(name: str) -> None:
    """Each chunk has content with parts, none empty (``chats._validate_response``), so a
    chat session keeps the turn; the finish rides on the last content, as Gemini sends it."""
    events = _decode(_sse(STREAMS[name]))
    bodies = sse_bodies(_to_gemini(events))
    final = bodies[-1]["candidates"][0]
    if final["finishReason"] == "SAFETY" and "content" not in final:
        bodies = bodies[:-1]  # a blocked turn is not a valid one
    for body in bodies:
        parts = body["candidates"][0]["content"]["parts"]
        assert parts
        assert all(part for part in parts)
    assert bodies[-1]["candidates"][0]["content"]["parts"] != [{"text": ""}]


# ------------------------------------------------------------------ JSON-array form


@pytest.mark.parametrize("name", STREAMS)
def test_the_json_array_form_holds_the_same_chunks(name: str) -> None:
    events = _decode(_sse(STREAMS[name]))
    encoder = StreamEncoder(Context())
    frames = [b for e in events for b in encoder.feed(e)] + encoder.close()
    array = sse_to_array(frames)
    whole = json.loads(array)
    assert whole == sse_bodies(b"".join(frames))
    assert array.startswith(b"[{")
    assert b",\r\n{" in array or len(whole) == 1
    decoder = StreamDecoder(Context())
    reader = ArrayReader()
    read = [e for f in [*reader.feed(array), *reader.close()] for e in decoder.feed(f)]
    read += decoder.close()
    assert _same_calls(accumulate(read)) == _same_calls(accumulate(events))


def test_an_array_writer_with_nothing_written_is_an_empty_array() -> None:
    writer = ArrayWriter()
    assert writer.feed(b": ping\r\n\r\n") == b""
    assert writer.close() == b"[]"


def test_an_array_stream_read_byte_by_byte_gives_the_same_frames() -> None:
    array = sse_to_array([_sse([c]) for c in STREAMS["thinking_then_signed_call"]])
    whole = ArrayReader().feed(array)
    reader = ArrayReader()
    pieces = [f for k in range(len(array)) for f in reader.feed(array[k : k + 1])]
    assert pieces == whole
    assert [json.loads(f.data) for f in whole] == STREAMS["thinking_then_signed_call"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"candidates": []}', "must be a JSON array"),
        (b"[1, 2]", "objects only"),
        (b"[{}] x", "after the end"),
    ],
)
def test_a_malformed_array_stream_is_a_clear_error(data: bytes, message: str) -> None:
    from apibridge.errors import InvalidPayload

    with pytest.raises(InvalidPayload, match=message):
        ArrayReader().feed(data)


def test_an_array_stream_cut_inside_an_element_is_a_cut_stream() -> None:
    array = sse_to_array([_sse([c]) for c in STREAMS["text"]])
    reader = ArrayReader()
    decoder = StreamDecoder(Context())
    cut = array[: array.rindex(b"{") + 10]
    events = [e for f in [*reader.feed(cut), *reader.close()] for e in decoder.feed(f)]
    events += decoder.close()
    assert isinstance(events[-1], StreamError)
