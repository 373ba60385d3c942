"""The SSE framing layer: spec cases, and chunking invariance as a property."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from apibridge._sse import SSEDecoder, SSEFrame, encode_frame


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
