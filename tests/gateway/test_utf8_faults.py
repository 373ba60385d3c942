"""UTF-8 from the upstream, cut or broken: a character split across TCP reads (at every byte
position inside it) reaches every client format intact; bytes that are not UTF-8 give the
client an error in its own format, never a crash, a 5xx of apibridge's own or text silently
changed into U+FFFD: a 502 for a whole answer or a stream before its first event, the format's
in-band error after it.

The upstream here is a loopback server that writes each answer (the same wire JSON and SSE as
:mod:`servers`, with non-ASCII characters as raw UTF-8 rather than ``\\u`` escapes) in pieces
with a pause between them, so that the gateway reads it in pieces: a cut before and after
every byte of every multi-byte character."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from calls import ENDPOINT, FORMATS, assert_in_band_error, body_for
from servers import (
    CLIENT_KEY,
    GEMINI_PATH,
    UPSTREAM_FORMATS,
    WRITERS,
    Answer,
    make_config,
    serve_asgi,
)

from apibridge.asgi import App
from oracles import final_from_stream, validate_error

#: text with 2-, 3- and 4-byte characters, a combining mark, a ZWJ sequence and a flag
TEXT = "Grüße, naïve café — 世界、日本語 한국어 😀👍🏽👩‍👩‍👧 🇫🇷 ✓ e\u0301 end"
#: the bytes the broken upstream puts in a string: a lone continuation byte, a character cut
#: short, an overlong ``/``, an encoded surrogate, a byte that is never UTF-8
BAD = b"\x80 \xe4\xb8 \xc0\xaf \xed\xa0\x80 \xff"
MARK = "@@BAD@@"  # where the bad bytes go in the answer's text (ASCII: survives json.dumps)
PAUSE = 0.001  # between pieces: long enough for the gateway to read each one on its own


def _raw(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def _unescaped(event: bytes) -> bytes:
    """One SSE event of :mod:`servers` with its JSON re-written as raw UTF-8."""
    lines = []
    for line in event.split(b"\n"):
        if line.startswith(b"data: ") and line.startswith(b"data: {"):
            line = b"data: " + _raw(json.loads(line[6:]))
        lines.append(line)
    return b"\n".join(lines)


def _cut(data: bytes) -> list[bytes]:
    """``data`` in pieces that end before and after every byte of a multi-byte character."""
    pieces: list[bytes] = []
    start = 0
    for i, byte in enumerate(data):
        if byte >= 0x80:
            if i > start:
                pieces.append(data[start:i])
            pieces.append(data[i : i + 1])
            start = i + 1
    if start < len(data):
        pieces.append(data[start:])
    return pieces


_PATH_FORMAT = {ENDPOINT[fmt]: fmt for fmt in FORMATS}


class Utf8Upstream:
    """Speaks each upstream format by path; answers the queued plans in turn: ``("cut",)``
    (:data:`TEXT`, cut at every byte of every character), ``("bad", n)`` (:data:`BAD` in the
    text, in the ``n``-th event of a stream, or in the whole body)."""

    def __init__(self) -> None:
        self.plans: collections.deque[tuple[Any, ...]] = collections.deque()
        self.pieces: list[int] = []  # how many pieces each answer was written in

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = json.loads(raw)
        gemini = GEMINI_PATH.fullmatch(scope["path"])
        fmt = "gemini" if gemini else _PATH_FORMAT[scope["path"]]
        if gemini:  # the model and the stream are in the path
            body = {**body, "model": gemini[1], "stream": gemini[2] == "streamGenerateContent"}
        plan = self.plans.popleft() if self.plans else ("cut",)
        text = TEXT if plan[0] == "cut" else f"before {MARK} after"  # MARK: whole body only
        as_json, as_events = WRITERS[fmt]
        answer = Answer(text=text)
        if body.get("stream"):
            events = [_unescaped(e) for e in as_events(str(body["model"]), answer)]
            if plan[0] == "bad":  # a string field with the bad bytes in the n-th event
                at = events[plan[1]].index(b"data: {") + 7
                events[plan[1]] = (
                    events[plan[1]][:at] + b'"note":"' + BAD + b'",' + (events[plan[1]][at:])
                )
            data = b"".join(events)
            kind = b"text/event-stream"
        else:
            data = _raw(as_json(str(body["model"]), answer)).replace(MARK.encode(), BAD)
            kind = b"application/json"
        pieces = _cut(data)
        self.pieces.append(len(pieces))
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]}
        )
        for piece in pieces:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(PAUSE)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@pytest.fixture(scope="module")
def utf8() -> Iterator[tuple[Utf8Upstream, str]]:
    """The upstream above, and a gateway whose ``<fmt>-model`` routes all lead to it."""
    upstream = Utf8Upstream()
    with serve_asgi(upstream) as root:
        config = make_config(dict.fromkeys(UPSTREAM_FORMATS, root), client_keys=(CLIENT_KEY,))
        with serve_asgi(App(config)) as gateway:
            yield upstream, gateway


def _post(gateway: str, fmt: str, upstream_format: str, stream: bool) -> httpx.Response:
    return httpx.post(
        gateway + ENDPOINT[fmt],
        json=body_for(fmt, f"{upstream_format}-model", stream=stream),
        headers={"x-api-key": CLIENT_KEY},
        timeout=30,
    )


def _text(fmt: str, answer: Any) -> str:
    """The answer's text: of the SDK's final object (a stream), or of the JSON body."""
    if isinstance(answer, dict):
        if fmt == "anthropic":
            return "".join(b["text"] for b in answer["content"] if b["type"] == "text")
        if fmt == "chat":
            return str(answer["choices"][0]["message"]["content"])
        return "".join(
            part["text"]
            for item in answer["output"]
            if item["type"] == "message"
            for part in item["content"]
        )
    if fmt == "anthropic":
        return "".join(block.text for block in answer.content if block.type == "text")
    if fmt == "chat":
        return str(answer.choices[0].message.content)
    return str(answer.output_text)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream_format", UPSTREAM_FORMATS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_characters_cut_at_every_byte_reach_every_client_format_intact(
    utf8: tuple[Utf8Upstream, str], fmt: str, upstream_format: str, stream: bool
) -> None:
    upstream, gateway = utf8
    upstream.plans.clear()
    response = _post(gateway, fmt, upstream_format, stream)
    assert response.status_code == 200, response.text
    # every byte of every multi-byte character was written on its own
    assert upstream.pieces[-1] > sum(byte >= 0x80 for byte in TEXT.encode())
    assert "\ufffd".encode() not in response.content
    if stream:
        assert _text(fmt, final_from_stream(fmt, response.content)) == TEXT  # decoded strictly
    else:
        assert _text(fmt, json.loads(response.content.decode())) == TEXT


@pytest.mark.parametrize("upstream_format", UPSTREAM_FORMATS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_utf8_in_a_whole_answer_is_a_502_in_the_client_format(
    utf8: tuple[Utf8Upstream, str], fmt: str, upstream_format: str
) -> None:
    upstream, gateway = utf8
    upstream.plans.clear()
    upstream.plans.append(("bad", 0))
    response = _post(gateway, fmt, upstream_format, stream=False)
    assert response.status_code == 502, response.text
    validate_error(fmt, 502, response.json())
    assert "not valid UTF-8" in response.json()["error"]["message"]


@pytest.mark.parametrize("upstream_format", UPSTREAM_FORMATS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_utf8_in_a_stream_is_a_502_before_the_first_event_and_in_band_after(
    utf8: tuple[Utf8Upstream, str], fmt: str, upstream_format: str
) -> None:
    upstream, gateway = utf8
    events = len(WRITERS[upstream_format][1]("m", Answer(text=f"before {MARK} after")))
    last = events - 2 if upstream_format == "chat" else events - 1  # chat's last is [DONE]
    upstream.plans.clear()
    # in the first event; in one in the middle; in the terminal event
    upstream.plans.extend([("bad", 0), ("bad", events // 2), ("bad", last)])
    response = _post(gateway, fmt, upstream_format, stream=True)
    assert response.status_code == 502, response.text
    validate_error(fmt, 502, response.json())
    assert "not valid UTF-8" in response.json()["error"]["message"]
    for _ in range(2):
        response = _post(gateway, fmt, upstream_format, stream=True)
        assert response.status_code == 200, response.text
        error = assert_in_band_error(fmt, response.content)
        assert "not valid UTF-8" in error["message"], error
        assert "\ufffd".encode() not in response.content
