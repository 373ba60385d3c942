"""Edges of the Gemini answer and array halves: an answer that ended in the model's failure,
unstreamed, is an upstream error for a client of another format (a Gemini client gets it as
it came); the JSON-array stream form's writer and reader at their ends."""

from __future__ import annotations

import json
from typing import Any

import pytest

import apibridge
from apibridge.codecs.gemini._framing import ArrayReader, ArrayWriter
from apibridge.errors import InvalidPayload, UpstreamError

MALFORMED: dict[str, Any] = {
    "candidates": [
        {
            "content": {"role": "model", "parts": []},
            "finishReason": "MALFORMED_FUNCTION_CALL",
            "finishMessage": "Malformed function call: print(default_api.read(",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "r1",
}


@pytest.mark.parametrize("target", ["anthropic", "chat", "responses"])
def test_a_failed_answer_is_an_upstream_error_for_other_clients(target: str) -> None:
    with pytest.raises(UpstreamError) as raised:
        apibridge.convert_response(MALFORMED, source="gemini", target=target, losses=[])
    error = raised.value.error
    assert error.kind == "bad_gateway"
    assert "MALFORMED_FUNCTION_CALL" in error.message
    assert "print(default_api.read(" in error.message
    status, body = apibridge.convert_error(
        {"error": {"code": 502, "message": error.message, "status": "UNAVAILABLE"}},
        502,
        source="gemini",
        target=target,
    )
    assert status == 502
    assert body["error"]["message"] == error.message


def test_a_gemini_client_gets_the_failed_answer_as_it_came() -> None:
    out = apibridge.convert_response(MALFORMED, source="gemini", target="gemini", losses=[])
    (candidate,) = out["candidates"]
    assert candidate["finishReason"] == "MALFORMED_FUNCTION_CALL"
    assert candidate["finishMessage"] == MALFORMED["candidates"][0]["finishMessage"]


def test_the_array_writer_ends_an_empty_stream_and_ignores_what_comes_after() -> None:
    writer = ArrayWriter()
    assert writer.feed(b": keep-alive\r\n\r\n") == b""  # a comment makes no element
    assert writer.close() == b"[]"
    assert writer.feed(b'data: {"a": 1}\r\n\r\n') == b""  # closed: nothing more
    assert writer.close() == b""


def test_the_array_reader_takes_a_byte_order_mark_cut_anywhere_and_refuses_other_starts() -> None:
    chunk = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}}]}
    data = b"\xef\xbb\xbf" + json.dumps([chunk]).encode()
    reader = ArrayReader()
    frames = [f for piece in (data[:1], data[1:2], data[2:]) for f in reader.feed(piece)]
    frames += reader.close()
    assert [json.loads(f.data) for f in frames] == [chunk]
    with pytest.raises(InvalidPayload, match="must start with"):
        ArrayReader().feed(b"\xef\xbb\x00[]")
    with pytest.raises(InvalidPayload, match="JSON array"):
        ArrayReader().feed(b'{"candidates": []}')
