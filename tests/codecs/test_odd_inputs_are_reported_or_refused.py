"""Odd but possible inputs are reported or refused, never crashed on nor lost silently: a
later system message's fields, a non-array ``include``, a terminal event without ``status``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import apibridge
from apibridge.codecs import Context, responses
from apibridge.errors import InvalidPayload, Loss

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_anthropic_encoder_reports_what_a_moved_system_message_held() -> None:
    """A later system message moved into Anthropic's ``system`` lost its ``name`` (and any
    other format's fields) silently; they are now reported like any other turn's."""
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "later rules", "name": "policy"},
        ],
    }
    losses: list[Loss] = []
    out = apibridge.convert_request(body, source="chat", target="anthropic", losses=losses)
    assert out["system"] == [{"type": "text", "text": "later rules"}]
    fields = [loss.field for loss in losses]
    assert "messages[1]" in fields
    assert "messages[1].name" in fields


def test_responses_request_include_must_be_a_list() -> None:
    """``include`` that is not an array was carried, then crashed the encoder with a
    ``TypeError``; it is now an ``InvalidPayload`` (a 400 for the client)."""
    body = {"model": "m", "input": "hi", "include": True}
    with pytest.raises(InvalidPayload):
        responses.decode_request(body, Context())
    with pytest.raises(InvalidPayload):
        apibridge.convert_request(body, source="responses", target="responses", losses=[])


def test_responses_stream_terminal_without_status_does_not_crash() -> None:
    """A ``response.completed`` whose response has no ``status`` made the Responses stream
    encoder raise ``KeyError`` mid-stream; it now ends with its one terminal event."""
    sse = (
        b'event: response.created\ndata: {"type":"response.created","sequence_number":0,'
        b'"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress",'
        b'"model":"m","output":[]}}\n\n'
        b'event: response.completed\ndata: {"type":"response.completed","sequence_number":1,'
        b'"response":{"id":"resp_1","object":"response","created_at":1,"model":"m",'
        b'"output":[]}}\n\n'
    )
    out = b"".join(
        apibridge.convert_stream([sse], source="responses", target="responses", losses=[])
    )
    types = [
        json.loads(line[6:])["type"]
        for line in out.decode().splitlines()
        if line.startswith("data: ")
    ]
    assert types[-1] == "response.completed"
    assert types.count("response.completed") == 1
