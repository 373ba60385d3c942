"""JSON in and out, in one place: orjson (the standard library is far slower on large bodies),
with the standard library only where orjson cannot serve.

* :func:`loads` turns a syntax error into :class:`InvalidPayload` (HTTP 400);
* :func:`dumps` / :func:`dumps_str` write compact JSON; an integer beyond 64 bits, which orjson
  refuses and JSON allows (a tool's input may hold one), is written by the standard library;
* :func:`raw_decode` reads one JSON value at a position inside longer text and says where it
  ends (orjson parses whole documents only).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from apibridge.errors import InvalidPayload

__all__ = ["dumps", "dumps_str", "loads", "raw_decode"]

_DECODER = json.JSONDecoder()


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; a syntax error becomes :class:`InvalidPayload` (HTTP 400)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload(f"invalid JSON: {exc}") from None


def dumps(value: Any, *, indent: bool = False, sort_keys: bool = False) -> bytes:
    """Compact JSON bytes (keys in insertion order unless ``sort_keys``, no line breaks
    unless ``indent``: two spaces)."""
    option = (orjson.OPT_INDENT_2 if indent else 0) | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:
        return _stdlib(value, indent=indent, sort_keys=sort_keys).encode()


def dumps_str(value: Any) -> str:
    """Compact JSON text."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _stdlib(value)


def raw_decode(text: str, index: int = 0) -> tuple[Any, int]:
    """The JSON value that starts at ``text[index]`` and the index just after it, or
    :class:`InvalidPayload` when none starts there."""
    try:
        return _DECODER.raw_decode(text, index)
    except json.JSONDecodeError as exc:
        raise InvalidPayload(f"invalid JSON: {exc}") from None


def _stdlib(value: Any, *, indent: bool = False, sort_keys: bool = False) -> str:
    # what orjson refuses: integers beyond 64 bits (anything else fails here as well)
    if indent:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=sort_keys)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
