"""The Anthropic codec against its recorded transcripts, with the official SDK as the oracle.

Every fixture under ``tests/fixtures/anthropic`` decodes; requests and responses survive a
same-format trip exactly; streams agree with their non-streamed equivalent, decode the same
under any chunking, and re-encode into bytes that the SDK's own stream accumulator turns
into the message :func:`encode_response` writes; error bodies keep envelope and status.

The helpers at the top are shared with the other ``test_anthropic_*`` modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anthropic
import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apibridge._sse import SSEDecoder
from apibridge.codecs import anthropic as codec
from apibridge.codecs._context import Context
from apibridge.errors import ERROR_KINDS, Loss
from apibridge.model import (
    Event,
    MessageDelta,
    PartStart,
    Ping,
    Response,
    StreamError,
    ToolCallPart,
    accumulate,
)
from oracles import final_from_stream, validate_error, validate_request, validate_response

FIXTURES = Path(__file__).parents[1] / "fixtures" / "anthropic"


# ------------------------------------------------------------------------------ helpers


def load(name: str) -> dict[str, Any]:
    """The fixture ``name`` (without ``.json``)."""
    fixture: dict[str, Any] = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    return fixture


def names(kind: str | None = None) -> list[str]:
    """Fixture names, optionally of one kind."""
    return [
        p.stem
        for p in sorted(FIXTURES.glob("*.json"))
        if kind is None or load(p.stem)["kind"] == kind
    ]


def decode_sse(
    chunks: Iterable[bytes], ctx: Context | None = None, *, close: bool = True
) -> list[Event]:
    """Canonical events for SSE bytes fed in ``chunks``."""
    ctx = ctx or Context()
    frames = SSEDecoder()
    decoder = codec.StreamDecoder(ctx)
    events: list[Event] = []
    for chunk in chunks:
        for frame in frames.feed(chunk):
            events.extend(decoder.feed(frame))
    for frame in frames.close():
        events.extend(decoder.feed(frame))
    if close:
        events.extend(decoder.close())
    return events


def encode_events(events: Iterable[Event], ctx: Context | None = None) -> bytes:
    """The Anthropic SSE bytes the stream encoder writes for ``events`` (closed)."""
    encoder = codec.StreamEncoder(ctx or Context())
    out = [b for event in events for b in encoder.feed(event)]
    out.extend(encoder.close())
    return b"".join(out)


def wire_events(data: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    """``(event name, JSON data)`` of every frame in ``data``."""
    decoder = SSEDecoder()
    frames = decoder.feed(data) + decoder.close()
    return [(f.event, orjson.loads(f.data)) for f in frames]


def normalised(response: Response) -> Response:
    """``response`` with tool arguments re-serialised compactly.

    A stream carries the arguments as the model wrote them (``{"a": 1}``), a non-streamed
    answer as an object that decodes to compact text (``{"a":1}``): the same JSON.
    """

    def fix(part: Any) -> Any:
        if isinstance(part, ToolCallPart) and part.kind == "function" and part.arguments:
            return attrs.evolve(part, arguments=orjson.dumps(orjson.loads(part.arguments)).decode())
        return part

    return attrs.evolve(response, content=tuple(fix(p) for p in response.content))


def sdk_dump(message: Any) -> dict[str, Any]:
    """An SDK message as plain JSON (``None`` fields left out) for comparison."""
    as_message = anthropic.types.Message.model_validate(message.model_dump())
    dumped: dict[str, Any] = as_message.model_dump(exclude_none=True, mode="json")
    return dumped


def check_stream_against_sdk(events: Sequence[Event], ctx: Context | None = None) -> Any:
    """Encode ``events``, drive the SDK over the bytes, compare with ``encode_response``."""
    ctx = ctx or Context()
    data = encode_events(events, ctx)
    final = final_from_stream("anthropic", data)
    expected = codec.encode_response(accumulate(events), Context(request=ctx.request))
    assert sdk_dump(final) == sdk_dump(validate_response("anthropic", expected))
    return final


def losses_of(ctx: Context) -> list[tuple[str, str]]:
    """``(field, action)`` of each loss, for compact assertions."""
    return [(loss.field, loss.action) for loss in ctx.losses]


def has_loss(ctx: Context, field: str, action: str | None = None) -> bool:
    """Whether a loss for ``field`` (with ``action``) was recorded."""
    return any(
        loss.field == field and (action is None or loss.action == action) for loss in ctx.losses
    )


# ----------------------------------------------------------------------------- coverage


def test_the_transcripts_cover_what_the_brief_asks() -> None:
    kinds = {name: load(name)["kind"] for name in names()}
    assert len(kinds) >= 14
    assert {"request", "response", "stream", "error"} <= set(kinds.values())
    statuses = {load(n)["status"] for n, k in kinds.items() if k == "error"}
    assert {400, 401, 429, 500, 529} <= statuses
    text = b"".join((FIXTURES / f"{n}.json").read_bytes() for n in kinds)
    for needle in (
        b"tool_use",
        b"signature_delta",
        b"redacted_thinking",
        b"image",
        b"document",
        b"cache_read_input_tokens",
        b"refusal",
        b"max_tokens",
        b"citations_delta",
        b"web_search_tool_result",
        b"json_schema",
        b"event: error",
    ):
        assert needle in text, needle
    for name, kind in kinds.items():
        assert load(name)["description"], name
        if kind == "stream":
            assert isinstance(load(name)["sse"], str)


# ------------------------------------------------------------------ requests, responses


@pytest.mark.parametrize("name", names())
def test_every_fixture_decodes(name: str) -> None:
    fixture = load(name)
    ctx = Context()
    if fixture["kind"] == "request":
        request = codec.decode_request(fixture["body"], ctx)
        assert request.messages
    elif fixture["kind"] == "response":
        assert codec.decode_response(fixture["body"], ctx).content
    elif fixture["kind"] == "stream":
        events = decode_sse([fixture["sse"].encode()], ctx)
        assert events
        assert not any(isinstance(e, StreamError) for e in events[:-1])
    else:
        error = codec.decode_error(fixture["body"], fixture["status"])
        assert error.status == fixture["status"]
        assert error.type == fixture["body"]["error"]["type"]
    if "request" in fixture:
        codec.decode_request(fixture["request"], ctx)
    assert ctx.losses == []


@pytest.mark.parametrize("name", names("request"))
def test_request_same_format_round_trip(name: str) -> None:
    body = load(name)["body"]
    ctx = Context()
    out = codec.encode_request(codec.decode_request(body, ctx), ctx)
    assert out == body
    assert ctx.losses == []
    validate_request("anthropic", out)


@pytest.mark.parametrize("name", names("response"))
def test_response_same_format_round_trip(name: str) -> None:
    fixture = load(name)
    ctx = Context()
    if "request" in fixture:
        ctx.request = codec.decode_request(fixture["request"], Context())
    out = codec.encode_response(codec.decode_response(fixture["body"], ctx), ctx)
    assert out == fixture["body"]
    assert ctx.losses == []
    validate_response("anthropic", out)


@pytest.mark.parametrize("name", [n for n in names("stream") if "response" in load(n)])
def test_stream_fixture_response_round_trips(name: str) -> None:
    body = load(name)["response"]
    ctx = Context()
    assert codec.encode_response(codec.decode_response(body, ctx), ctx) == body
    validate_response("anthropic", body)


# ---------------------------------------------------------------------------- streams

STREAMS = names("stream")
COMPLETE = [n for n in STREAMS if "response" in load(n)]


@pytest.mark.parametrize("name", COMPLETE)
def test_stream_agrees_with_the_non_streamed_answer(name: str) -> None:
    fixture = load(name)
    events = decode_sse([fixture["sse"].encode()])
    expected = codec.decode_response(fixture["response"], Context())
    assert normalised(accumulate(events)) == normalised(expected)


@pytest.mark.parametrize("name", STREAMS)
def test_stream_decoding_is_chunking_invariant_byte_by_byte(name: str) -> None:
    data = load(name)["sse"].encode()
    whole = decode_sse([data])
    assert decode_sse([data[i : i + 1] for i in range(len(data))]) == whole


@given(data=st.data())
def test_stream_decoding_is_chunking_invariant_for_random_splits(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(STREAMS))
    raw = load(name)["sse"].encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=30)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert decode_sse(chunks) == decode_sse([raw])


@pytest.mark.parametrize("name", [n for n in STREAMS if "event: error" not in load(n)["sse"]])
def test_re_encoded_stream_drives_the_sdk_to_the_encoded_response(name: str) -> None:
    events = decode_sse([load(name)["sse"].encode()])
    final = check_stream_against_sdk(events)
    if "response" in load(name):
        expected = load(name)["response"]
        assert final.stop_reason == expected["stop_reason"]
        assert [b.type for b in final.content] == [b["type"] for b in expected["content"]]


@pytest.mark.parametrize("name", STREAMS)
def test_re_encoded_stream_decodes_to_the_same_events(name: str) -> None:
    events = decode_sse([load(name)["sse"].encode()])
    again = [e for e in decode_sse([encode_events(events)]) if not isinstance(e, Ping)]
    # A text block opens at its first text, so a ping may move ahead of it: pings say nothing.
    events = [e for e in events if not isinstance(e, Ping)]
    if isinstance(events[-1], StreamError):
        assert isinstance(again[-1], StreamError)
        assert again[-1].error.kind == events[-1].error.kind
        assert again[-1].error.message == events[-1].error.message
        return
    # message_delta usage is written cumulatively (input and cache numbers included), so
    # compare the event sequence and what it accumulates to.
    assert [(type(e), getattr(e, "index", None)) for e in again] == [
        (type(e), getattr(e, "index", None)) for e in events
    ]
    assert [e for e in again if not isinstance(e, MessageDelta)] == [
        e for e in events if not isinstance(e, MessageDelta)
    ]
    assert accumulate(again) == accumulate(events)


@pytest.mark.parametrize("name", STREAMS)
def test_stream_encoder_keeps_the_event_grammar(name: str) -> None:
    events = decode_sse([load(name)["sse"].encode()])
    frames = wire_events(encode_events(events))
    assert all(event == data["type"] for event, data in frames)
    open_block: int | None = None
    next_index = 0
    for event, data in frames:
        if event == "content_block_start":
            assert open_block is None
            assert data["index"] == next_index
            open_block, next_index = data["index"], next_index + 1
        elif event == "content_block_delta":
            assert data["index"] == open_block
        elif event == "content_block_stop":
            assert data["index"] == open_block
            open_block = None
    kinds = [event for event, _ in frames]
    assert kinds[-1] in ("message_stop", "error")
    assert kinds.count("message_stop") + kinds.count("error") == 1


def test_mid_stream_error_reaches_the_client_in_band() -> None:
    events = decode_sse([load("stream_error_overloaded")["sse"].encode()])
    error = events[-1]
    assert isinstance(error, StreamError)
    assert error.error.kind == "overloaded"
    assert error.error.status == 529
    data = encode_events(events)
    assert data.endswith(
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        final_from_stream("anthropic", data)


def test_event_lines_are_optional_when_decoding() -> None:
    fixture = load("stream_redacted_thinking_no_event_lines")
    assert "event:" not in fixture["sse"]
    events = decode_sse([fixture["sse"].encode()])
    assert isinstance(events[1], PartStart)
    assert accumulate(events) == codec.decode_response(fixture["response"], Context())


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", names("error"))
def test_error_round_trip_keeps_envelope_and_status(name: str) -> None:
    fixture = load(name)
    error = codec.decode_error(fixture["body"], fixture["status"])
    assert error.request_id == fixture["body"]["request_id"]
    assert ERROR_KINDS[error.kind].anthropic == fixture["body"]["error"]["type"]
    status, body = codec.encode_error(error)
    assert (status, body) == (fixture["status"], fixture["body"])
    validate_error("anthropic", status, body)


def test_sdk_raises_the_matching_exception_for_each_status() -> None:
    expected = {
        400: anthropic.BadRequestError,
        401: anthropic.AuthenticationError,
        429: anthropic.RateLimitError,
        500: anthropic.InternalServerError,
    }
    for name in names("error"):
        fixture = load(name)
        status, body = codec.encode_error(codec.decode_error(fixture["body"], fixture["status"]))
        cls = expected.get(status, anthropic.APIStatusError)
        response = anthropic._base_client.httpx2.Response(  # the SDK's own HTTP types
            status, json=body, request=anthropic._base_client.httpx2.Request("POST", "http://x")
        )
        client = anthropic.Anthropic(api_key="test")
        err = client._make_status_error(str(body), body=body, response=response)
        assert isinstance(err, cls), (name, type(err))


# ------------------------------------------------------------------- foreign-path checks


@pytest.mark.parametrize("name", names("request"))
def test_fixture_requests_normalised_as_foreign_stay_valid(name: str) -> None:
    """Without the native-turns hint the normalising path runs over real content: still
    valid, and every loss names its field, reason and action."""
    ctx = Context()
    request = codec.decode_request(load(name)["body"], ctx)
    body = codec.encode_request(attrs.evolve(request, extras={}), ctx)
    validate_request("anthropic", body)
    assert body["messages"][0]["role"] == "user"
    assert all(m["role"] in ("user", "assistant") for m in body["messages"])
    for loss in ctx.losses:
        assert isinstance(loss, Loss)
        assert loss.field
        assert loss.reason
        assert loss.action
