"""The SSE framing layer: spec cases, and chunking invariance as a property."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apibridge._sse import MAX_EVENT_SIZE, SSEDecoder, SSEFrame, encode_frame
from apibridge.errors import InvalidPayload


def frames_of(chunks: list[bytes]) -> list[SSEFrame]:
    decoder = SSEDecoder()
    out: list[SSEFrame] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    out.extend(decoder.close())
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


SAMPLE = (
    b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
    b": a comment\n"
    b"data: line one\ndata: line two\n\n"
    b"event: x\rdata:no-space\r\r"
    b"id: 7\nretry: 1500\ndata: \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\n\n"
    b"data: [DONE]"
)


def test_spec_cases() -> None:
    frames = frames_of([SAMPLE])
    assert frames == [
        SSEFrame(event="message_start", data='{"a": 1}'),
        SSEFrame(data="line one\nline two"),
        SSEFrame(event="x", data="no-space"),
        SSEFrame(data="été 😀", id="7", retry=1500),
        SSEFrame(data="[DONE]", id="7"),  # the last id persists; flushed at EOF
    ]


def test_unknown_fields_and_blank_frames_are_ignored() -> None:
    assert frames_of([b"\n\nfoo: bar\n\n:only comment\n\n"]) == []


def test_byte_by_byte_equals_whole() -> None:
    whole = frames_of([SAMPLE])
    assert frames_of([SAMPLE[i : i + 1] for i in range(len(SAMPLE))]) == whole


def test_cr_then_lf_in_next_chunk_is_one_line_break() -> None:
    assert frames_of([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [SSEFrame(data="a\nb")]


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_chunking_invariance(cuts: list[int]) -> None:
    assert frames_of(split(SAMPLE, cuts)) == frames_of([SAMPLE])


_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40
)


@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.from_regex(r"[a-z_.]{1,20}", fullmatch=True)), _text),
        max_size=8,
    ),
    st.lists(st.integers(min_value=0, max_value=5_000), max_size=20),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_encode_then_decode_any_chunking(
    events: list[tuple[str | None, str]], cuts: list[int], newline: bytes
) -> None:
    data = b"".join(encode_frame(d, e) for e, d in events).replace(b"\n", newline)
    expected = [SSEFrame(event=e, data=d) for e, d in events]
    assert frames_of(split(data, cuts)) == expected


# ------------------------------------------------------------------ line endings, BOM, oracle

_LINE_END = re.compile(r"\r\n|\r|\n")


def oracle(data: bytes) -> list[SSEFrame]:
    """The rules read literally, on the whole input at once: the decoder must agree."""
    text = data.decode("utf-8", "replace").removeprefix("\ufeff")
    frames: list[SSEFrame] = []
    lines, event, retry, last_id, seen = [], None, None, None, False
    for line in [*_LINE_END.split(text), ""]:  # EOF flushes a last frame (kept leniency)
        if not line:
            if seen:
                frames.append(SSEFrame(data="\n".join(lines), event=event, id=last_id, retry=retry))
            lines, event, retry, seen = [], None, None, False
            continue
        name, colon, value = line.partition(":")
        if not name and colon:
            continue  # a comment
        value = value.removeprefix(" ")
        if name == "data":
            lines.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            last_id = value if "\0" not in value else last_id
        elif name == "retry":
            retry = int(value) if value.isascii() and value.isdigit() else retry
        else:
            continue
        seen = True
    return frames


_NEWLINES = st.sampled_from([b"\n", b"\r\n", b"\r"])
_SOUP = st.lists(
    st.sampled_from(
        [
            b"data",
            b"event",
            b"id",
            b"retry",
            b":",
            b" ",
            b"\n",
            b"\r",
            b"\r\n",
            b"x",
            b"7",
            b"\0",
            b"\xc3\xa9",
            b"\xf0\x9f\x98\x80",
            b"\xc3",
            b"\xef\xbb\xbf",
            b"\xe2\x80",
        ]
    ),
    max_size=60,
).map(b"".join)


@given(_SOUP, st.lists(st.integers(min_value=0, max_value=500), max_size=12), st.booleans())
def test_any_bytes_any_chunking_agree_with_the_rules(
    data: bytes, cuts: list[int], bom: bool
) -> None:
    if bom:
        data = b"\xef\xbb\xbf" + data
    expected = oracle(data)
    assert frames_of([data]) == expected
    assert frames_of(split(data, cuts)) == expected
    assert frames_of([data[i : i + 1] for i in range(len(data))]) == expected


_line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12
)
_field = st.one_of(
    st.tuples(st.just("data"), _line_text),
    st.tuples(st.just("event"), _line_text),
    st.tuples(st.just("id"), _line_text),
    st.tuples(st.just("retry"), st.integers(min_value=0, max_value=10**6).map(str)),
    st.tuples(st.just(""), _line_text),  # a comment
)


@given(
    st.lists(st.lists(_field, min_size=1, max_size=5), max_size=6),
    st.data(),
    st.lists(st.integers(min_value=0, max_value=2_000), max_size=20),
)
def test_cr_crlf_lf_and_mixed_endings_give_the_same_frames(
    events: list[list[tuple[str, str]]], draw: st.DataObject, cuts: list[int]
) -> None:
    lines: list[bytes] = []
    for fields in events:
        lines.extend(f"{name}: {value}".encode() for name, value in fields)
        lines.append(b"")  # the blank line that ends the frame
    lf = b"".join(line + b"\n" for line in lines)
    expected = frames_of([lf])
    assert expected == oracle(lf)
    for newline in (b"\r\n", b"\r"):
        assert frames_of(split(lf.replace(b"\n", newline), cuts)) == expected
    mixed, previous = b"", b""
    for line in lines:
        newline = draw.draw(_NEWLINES)
        if previous == b"\r" and not line and newline == b"\n":
            newline = b"\r\n"  # CR then LF would be one CRLF, not two line breaks
        mixed, previous = mixed + line + newline, newline
    assert frames_of(split(mixed, cuts)) == expected


def test_an_empty_chunk_between_cr_and_lf_keeps_them_one_line_break() -> None:
    assert frames_of([b"data: a\r", b"", b"\ndata: b\r", b"", b"\n\r", b"", b"\n"]) == [
        SSEFrame(data="a\nb")
    ]


def test_a_bom_opening_the_stream_is_skipped_even_split() -> None:
    stream = b"\xef\xbb\xbfdata: x\n\n"
    assert frames_of([stream]) == [SSEFrame(data="x")]
    assert frames_of([stream[:1], stream[1:2], b"", stream[2:]]) == [SSEFrame(data="x")]
    # anywhere else it is content: here the first field's name becomes "\ufeffdata"
    assert frames_of([b"\n\xef\xbb\xbfdata: x\n\n"]) == []


def test_retry_takes_ascii_digits_only() -> None:
    assert frames_of([b"retry: \xc2\xb2\ndata: a\n\nretry: 15\ndata: b\n\n"]) == [
        SSEFrame(data="a"),
        SSEFrame(data="b", retry=15),
    ]


# ------------------------------------------------------------------ linear time, bounded size


def test_a_16_mib_event_in_1_kib_chunks_is_linear() -> None:
    # Rescanning the buffer on every chunk took ~44 s of CPU here; linear work takes well
    # under a second (no timing is asserted: the suite's timeout is the guard).
    payload = b"x" * (16 << 20)
    stream = b"event: big\r\ndata: " + payload + b"\r\n\r\n"
    decoder = SSEDecoder(max_event_size=32 << 20)
    out: list[SSEFrame] = []
    for i in range(0, len(stream), 1024):
        out.extend(decoder.feed(stream[i : i + 1024]))
    assert out == [SSEFrame(event="big", data=payload.decode())]
    assert decoder.close() == []


def test_an_event_over_the_limit_raises_invalid_payload() -> None:
    assert MAX_EVENT_SIZE == 8 * 1024 * 1024
    limit = 100
    fits = b"data: " + b"a" * (limit - 6)  # exactly the limit
    assert frames_of_limited([fits + b"\n\n"], limit) == [SSEFrame(data="a" * (limit - 6))]
    assert frames_of_limited([fits + b"\n"], limit) == [SSEFrame(data="a" * (limit - 6))]
    with pytest.raises(InvalidPayload, match="larger than 100 bytes"):
        frames_of_limited([fits + b"b\n\n"], limit)
    # an unterminated line raises as soon as it passes the limit, long before it ends
    decoder = SSEDecoder(max_event_size=limit)
    assert decoder.feed(b"data: ok\n\n") == [SSEFrame(data="ok")]
    assert decoder.feed(b"data: " + b"z" * 60) == []
    with pytest.raises(InvalidPayload):
        decoder.feed(b"z" * 60)
    with pytest.raises(ValueError, match="max_event_size"):
        SSEDecoder(max_event_size=0)


def frames_of_limited(chunks: list[bytes], limit: int) -> list[SSEFrame]:
    decoder = SSEDecoder(max_event_size=limit)
    out: list[SSEFrame] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out + decoder.close()


@given(_SOUP, st.lists(st.integers(min_value=0, max_value=500), max_size=12))
def test_the_limit_holds_alike_for_any_chunking(data: bytes, cuts: list[int]) -> None:
    limit = 12

    def outcome(chunks: list[bytes]) -> list[SSEFrame] | str:
        try:
            return frames_of_limited(chunks, limit)
        except InvalidPayload:
            return "too large"

    whole = outcome([data])
    assert outcome(split(data, cuts)) == whole
    assert outcome([data[i : i + 1] for i in range(len(data))]) == whole
    # the rule: some frame's lines (LF endings, between blank lines) exceed the limit
    text = data.decode("latin-1").removeprefix("\xef\xbb\xbf")  # bytes, one char each
    blocks = _LINE_END.sub("\n", text).split("\n\n")
    assert (whole == "too large") == any(len(b.removesuffix("\n")) > limit for b in blocks)


def strict_outcome(chunks: list[bytes]) -> list[SSEFrame] | str:
    decoder = SSEDecoder(strict=True)
    try:
        out = [frame for chunk in chunks for frame in decoder.feed(chunk)]
        return out + decoder.close()
    except InvalidPayload as exc:
        return "not UTF-8" if "not valid UTF-8" in str(exc) else str(exc)


@given(_SOUP, st.lists(st.integers(min_value=0, max_value=500), max_size=12))
def test_strict_refuses_what_is_not_utf8_alike_for_any_chunking(
    data: bytes, cuts: list[int]
) -> None:
    whole = strict_outcome([data])
    assert strict_outcome(split(data, cuts)) == whole
    assert strict_outcome([data[i : i + 1] for i in range(len(data))]) == whole
    lenient = frames_of([data])
    if whole == "not UTF-8":
        # the rule: a field that is decoded (not a comment) holds bytes that are not UTF-8
        assert any("\ufffd" in f.data + (f.event or "") + (f.id or "") for f in lenient)
    else:
        assert whole == lenient


@given(
    st.text(st.characters(min_codepoint=0x80), min_size=1, max_size=20),
    st.lists(st.integers(min_value=0, max_value=500), max_size=12),
)
def test_strict_joins_characters_split_anywhere(text: str, cuts: list[int]) -> None:
    data = encode_frame(text.replace("\r", "").replace("\n", ""), "e" + text[:3].strip())
    expected = frames_of([data])
    assert strict_outcome(split(data, cuts)) == expected
    assert strict_outcome([data[i : i + 1] for i in range(len(data))]) == expected
