"""A canonical ``Ping`` reaches every client format as a keep-alive its SDK ignores."""

from __future__ import annotations

import pytest

from apibridge.codecs import Context, get_codec
from apibridge.model import (
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    Ping,
    TextPart,
)
from oracles import final_from_stream

EVENTS = [
    Ping(),
    MessageStart(id="msg_1", model="m"),
    Ping(),
    PartStart(index=0, part=TextPart(text="")),
    PartDelta(index=0, field="text", value="still "),
    Ping(),
    PartDelta(index=0, field="text", value="here"),
    PartStop(index=0),
    MessageDelta(stop_reason="end_turn"),
    MessageStop(),
]


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_ping_is_a_harmless_keepalive(fmt: str) -> None:
    encoder = get_codec(fmt).StreamEncoder(Context())
    pieces = [encoder.feed(event) for event in EVENTS]
    data = b"".join(b"".join(p) for p in pieces) + b"".join(encoder.close())
    assert pieces[0], "a ping before anything else is still written"
    assert all(pieces[i] for i, e in enumerate(EVENTS) if isinstance(e, Ping))
    final = final_from_stream(fmt, data)
    if fmt == "anthropic":
        assert final.content[0].text == "still here"
    elif fmt == "chat":
        assert final.choices[0].message.content == "still here"
    else:
        assert final.output_text == "still here"
