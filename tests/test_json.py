"""``apibridge._json``: the one place JSON is read and written."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(value=_JSON_VALUES, indent=st.booleans(), sort_keys=st.booleans())
def test_the_writer_without_recursion_writes_what_the_standard_library_writes(
    value: object, indent: bool, sort_keys: bool
) -> None:
    expected = json.dumps(
        value,
        indent=2 if indent else None,
        separators=None if indent else (",", ":"),
        ensure_ascii=False,
        sort_keys=sort_keys,
    )
    assert _json._flat_dumps(value, indent=indent, sort_keys=sort_keys) == expected


@pytest.mark.parametrize("depth", [254, 255, 600, 1023, 1024])
def test_json_as_deep_as_it_can_be_read_is_written_back_unchanged(depth: int) -> None:
    text = '{"a":' * (depth - 2) + '[1,"é",2.5,null,true]' + "}" * (depth - 2)
    value = _json.loads(text)
    assert _json.dumps(value).decode() == text
    assert _json.dumps_str(value) == text
    pretty = _json.dumps(value, indent=True, sort_keys=True).decode()
    assert "".join(pretty.split()) == text.replace(" ", "")


@pytest.mark.parametrize("depth", [1025, 5000])
def test_json_deeper_than_it_can_be_read_is_an_invalid_payload_naming_the_limit(
    depth: int,
) -> None:
    with pytest.raises(InvalidPayload, match="nested deeper than 1024 levels"):
        _json.loads("[" * depth + "]" * depth)
