"""``apibridge._json``: the one place JSON is read and written."""

from __future__ import annotations

import json

import pytest

from apibridge import _json
from apibridge.errors import InvalidPayload


def test_syntax_errors_are_invalid_payloads() -> None:
    with pytest.raises(InvalidPayload, match="invalid JSON"):
        _json.loads(b"{nope")


def test_integers_beyond_64_bits_are_written_as_json_allows() -> None:
    value = {"id": 2**70, "text": "é"}
    assert _json.dumps_str(value) == '{"id":1180591620717411303424,"text":"é"}'
    assert _json.loads(_json.dumps(value)) == value
    assert json.loads(_json.dumps(value, indent=True)) == value


def test_options_indent_and_sort_keys() -> None:
    assert _json.dumps({"b": 1, "a": [2]}, sort_keys=True) == b'{"a":[2],"b":1}'
    assert _json.dumps({"a": 1}, indent=True) == b'{\n  "a": 1\n}'


def test_raw_decode_reads_one_value_inside_text() -> None:
    text = 'call: {"name": "x"} and more'
    value, end = _json.raw_decode(text, 6)
    assert value == {"name": "x"}
    assert text[end:] == " and more"
    with pytest.raises(InvalidPayload):
        _json.raw_decode(text, 0)
