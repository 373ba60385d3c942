"""Hypothesis properties of the Gemini answer and stream halves.

Random Gemini streams (text, thought text with and without signatures, signed text, lone
signatures, function calls with and without ids and signatures, media, code execution parts;
every finish reason; growing usage) must decode to the same events however their bytes are cut
(SSE and the JSON-array form), must accumulate to what the same answer unstreamed decodes to,
and must survive the encoder: answers round trip exactly, and streams written for a Gemini
client decode to the same answer (every chunk checked by the ``google-genai`` type).
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from apibridge._sse import SSEDecoder
from apibridge.codecs import Context
from apibridge.codecs.gemini._framing import ArrayReader, ArrayWriter, sse_to_array
from apibridge.codecs.gemini._response import decode_response, encode_response
from apibridge.codecs.gemini._stream_decoder import StreamDecoder
from apibridge.codecs.gemini._stream_encoder import StreamEncoder, frame
from apibridge.codecs.gemini._wire import FINISH_TO_STOP
from apibridge.model import Event, PartStart, Response, ToolCallPart, accumulate
from gemini_oracle import sse_bodies, unstreamed, validate_gemini

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
signatures = st.binary(min_size=1, max_size=18).map(lambda b: base64.b64encode(b).decode())
scalars = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | words
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def parts(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["text", "text", "text", "thought", "signed_text", "signature", "call", "media", "code"]
        )
    )
    if kind == "text":
        return {"text": draw(words)}
    if kind == "thought":
        part: dict[str, Any] = {"text": draw(words), "thought": True}
        if draw(st.booleans()):
            part["thoughtSignature"] = draw(signatures)
        return part
    if kind == "signed_text":
        return {"text": draw(words), "thoughtSignature": draw(signatures)}
    if kind == "signature":
        return {"text": "", "thoughtSignature": draw(signatures)}
    if kind == "call":
        call: dict[str, Any] = {
            "name": draw(names),
            "args": draw(st.dictionaries(words, json_values, max_size=3)),
        }
        if draw(st.booleans()):
            call["id"] = draw(names)
        part = {"functionCall": call}
        if draw(st.booleans()):
            part["thoughtSignature"] = draw(signatures)
        return part
    if kind == "media":
        media = draw(st.sampled_from(["image/png", "application/pdf"]))
        return {"inlineData": {"mimeType": media, "data": draw(signatures)}}
    return {"executableCode": {"language": "PYTHON", "code": draw(words)}}


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One Gemini stream's chunks: new parts each, usage on some, the finish on the last."""
    head = {"modelVersion": "gemini-2.5-flash", "responseId": draw(names)}
    prompt = draw(st.integers(1, 5000))
    chunks: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 6))):
        candidate = {"content": {"parts": draw(st.lists(parts(), max_size=3)), "role": "model"}}
        candidate["index"] = 0
        chunk: dict[str, Any] = {"candidates": [candidate]}
        if draw(st.booleans()):
            chunk["usageMetadata"] = {"promptTokenCount": prompt, "totalTokenCount": prompt}
        chunks.append({**chunk, **head})
    final = chunks[-1]["candidates"][0]
    final["finishReason"] = draw(st.sampled_from(sorted(FINISH_TO_STOP)))
    out = draw(st.integers(0, 900))
    usage: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": out}
    total = prompt + out
    if draw(st.booleans()):
        thoughts = draw(st.integers(1, 900))
        usage["thoughtsTokenCount"] = thoughts
        total += thoughts
    if draw(st.booleans()):
        usage["cachedContentTokenCount"] = draw(st.integers(0, prompt))
    usage["totalTokenCount"] = total
    chunks[-1]["usageMetadata"] = usage
    return chunks


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _decode_sse(pieces: list[bytes]) -> list[Event]:
    sse, decoder = SSEDecoder(), StreamDecoder(Context())
    frames = [f for piece in pieces for f in sse.feed(piece)] + sse.close()
    return [e for f in frames for e in decoder.feed(f)] + decoder.close()


def _decode_array(pieces: list[bytes]) -> list[Event]:
    reader, decoder = ArrayReader(), StreamDecoder(Context())
    frames = [f for piece in pieces for f in reader.feed(piece)] + reader.close()
    return [e for f in frames for e in decoder.feed(f)] + decoder.close()


def _numbered(events: list[Event]) -> list[Event]:
    """``events`` with made call ids numbered in order (they are random per decode)."""
    made: dict[str, str] = {}
    out: list[Event] = []
    for event in events:
        part = event.part if isinstance(event, PartStart) else None
        if isinstance(part, ToolCallPart) and part.id.startswith("gcall_"):
            ident = made.setdefault(part.id, f"gcall_{len(made)}")
            event = attrs.evolve(event, part=attrs.evolve(part, id=ident))
        out.append(event)
    return out


def _same(response: Response) -> Response:
    made: dict[str, str] = {}
    content = tuple(
        attrs.evolve(p, id=made.setdefault(p.id, f"gcall_{len(made)}"))
        if isinstance(p, ToolCallPart) and p.id.startswith("gcall_")
        else p
        for p in response.content
    )
    return attrs.evolve(response, content=content)


@given(streams(), st.lists(st.integers(0, 10**6), max_size=8))
def test_any_cut_of_the_sse_bytes_gives_the_same_events(
    chunks: list[dict[str, Any]], cuts: list[int]
) -> None:
    data = _sse(chunks)
    assert _numbered(_decode_sse(_cut(data, cuts))) == _numbered(_decode_sse([data]))


@given(streams(), st.lists(st.integers(0, 10**6), max_size=8))
def test_any_cut_of_the_json_array_form_gives_the_events_of_the_sse_form(
    chunks: list[dict[str, Any]], cuts: list[int]
) -> None:
    frames = [_sse([c]) for c in chunks]
    array = sse_to_array(frames)
    assert json.loads(array) == chunks
    writer = ArrayWriter()  # the SSE bytes cut anywhere make the same array
    pieces = [writer.feed(piece) for piece in _cut(b"".join(frames), cuts)]
    assert b"".join(pieces) + writer.close() == array
    assert _numbered(_decode_array(_cut(array, cuts))) == _numbered(_decode_sse(frames))


@given(streams())
def test_a_stream_accumulates_to_its_unstreamed_answer(chunks: list[dict[str, Any]]) -> None:
    body = unstreamed(chunks)
    validate_gemini(body)
    streamed = accumulate(_decode_sse([_sse(chunks)]))
    assert _same(streamed) == _same(decode_response(body, Context()))


@given(streams())
def test_an_answer_round_trips_exactly(chunks: list[dict[str, Any]]) -> None:
    body = unstreamed(chunks)
    ctx = Context()
    response = decode_response(body, ctx)
    out = encode_response(response, ctx)
    validate_gemini(out)
    expected = json.loads(json.dumps(body))  # a made call id is not written: none came
    assert out == expected
    assert ctx.losses == []
    assert _same(decode_response(out, Context())) == _same(response)


@given(streams())
def test_a_stream_written_for_a_gemini_client_decodes_to_the_same_answer(
    chunks: list[dict[str, Any]],
) -> None:
    events = _decode_sse([_sse(chunks)])
    ctx = Context()
    encoder = StreamEncoder(ctx)
    data = b"".join(b for e in events for b in encoder.feed(e)) + b"".join(encoder.close())
    bodies = sse_bodies(data)  # every chunk a valid GenerateContentResponse
    # the token chunks put together from their ends are the bytes the general path writes
    assert data == b"".join(frame(body) for body in bodies)
    assert _same(accumulate(_decode_sse([data]))) == _same(accumulate(events))
    assert ctx.losses == []
