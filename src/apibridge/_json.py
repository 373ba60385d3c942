"""JSON in and out, in one place: orjson (the standard library is far slower on large bodies),
with the standard library only where orjson cannot serve.

* :func:`loads` turns a syntax error, or nesting deeper than :data:`MAX_DEPTH` (1,024) levels,
  into :class:`InvalidPayload` (HTTP 400) that says which;
* :func:`dumps` / :func:`dumps_str` write compact JSON; what orjson refuses and JSON allows is
  written by the standard library: an integer beyond 64 bits (a tool's input may hold one),
  and nesting deeper than orjson's 254 levels (a tool schema or metadata may be); nesting too
  deep for the standard library too (its recursion stops near 1,000 levels) by a writer
  without recursion (:func:`_flat_dumps`). Whatever :func:`loads` read (orjson reads 1,024
  levels), these write, so a deep request never fails after it was accepted;
* :func:`raw_decode` reads one JSON value at a position inside longer text and says where it
  ends (orjson parses whole documents only);
* :func:`nests_deeper` says whether a value nests deeper than a given number of levels (a
  value stored inside another must leave room for the levels around it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import orjson

from apibridge.errors import InvalidPayload

__all__ = [
    "MAX_DEPTH",
    "dumps",
    "dumps_ascii",
    "dumps_str",
    "loads",
    "nests_deeper",
    "raw_decode",
]

_DECODER = json.JSONDecoder()


#: the deepest nesting :func:`loads` reads (orjson's limit); deeper is a 400 that says so.
MAX_DEPTH = 1024


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; a syntax error, or nesting deeper than :data:`MAX_DEPTH` levels, becomes
    :class:`InvalidPayload` (HTTP 400)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            raise InvalidPayload(
                f"invalid JSON: nested deeper than {MAX_DEPTH} levels, the most apibridge "
                f"reads ({exc})"
            ) from None
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


def dumps_ascii(value: Any) -> str:
    """JSON text with every non-ASCII and control character escaped (``\\uXXXX``), values
    JSON has no form for written as their ``str``: for log lines."""
    return json.dumps(value, ensure_ascii=True, default=str)


def raw_decode(text: str, index: int = 0) -> tuple[Any, int]:
    """The JSON value that starts at ``text[index]`` and the index just after it, or
    :class:`InvalidPayload` when none starts there."""
    try:
        return _DECODER.raw_decode(text, index)
    except json.JSONDecodeError as exc:
        raise InvalidPayload(f"invalid JSON: {exc}") from None


#: the deepest nesting orjson writes: a value it writes nests no deeper.
_ORJSON_DEPTH = 254


def nests_deeper(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` levels of objects and arrays (``{}`` is
    one level, ``{"a": []}`` two, a scalar none); without recursion, at any depth."""
    if limit >= _ORJSON_DEPTH:
        try:
            orjson.dumps(value)  # the common case, at C speed
            return False
        except orjson.JSONEncodeError:
            pass  # deeper than orjson writes, or an integer beyond 64 bits: count
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _stdlib(value: Any, *, indent: bool = False, sort_keys: bool = False) -> str:
    # what orjson refuses: integers beyond 64 bits, nesting deeper than 254 levels (anything
    # else fails here as well)
    try:
        if indent:
            return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=sort_keys)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    except RecursionError:
        return _flat_dumps(value, indent=indent, sort_keys=sort_keys)


_encode_str = json.encoder.encode_basestring  # the C writer of a string, as json.dumps uses


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _encode_str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else "null"  # as orjson does
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _flat_dumps(value: Any, *, indent: bool = False, sort_keys: bool = False) -> str:
    """JSON text of ``value`` (dicts with string keys, lists, tuples, scalars) at any depth,
    with an explicit stack instead of recursion; the layout of ``json.dumps`` with the same
    options."""
    out: list[str] = []
    # each open container: its remaining (key, value) pairs, its closing bracket
    stack: list[tuple[Iterator[tuple[str | None, Any]], str]] = []
    pending: list[tuple[str | None, Any]] = [(None, value)]
    first = True
    while True:
        if pending:
            key, item = pending.pop()
        else:
            if not stack:
                return "".join(out)
            items, close = stack[-1]
            nxt = next(items, None)
            if nxt is None:
                stack.pop()
                if not first and indent:
                    out.append("\n" + "  " * len(stack))
                out.append(close)
                first = False
                continue
            if not first:
                out.append(",")
            if indent:
                out.append("\n" + "  " * len(stack))
            key, item = nxt
        if key is not None:
            out.append(_encode_str(key) + (": " if indent else ":"))
        if isinstance(item, dict):
            keys = sorted(item) if sort_keys else list(item)
            for k in keys:
                if not isinstance(k, str):
                    raise TypeError("Dict key must be str")
            stack.append((iter([(k, item[k]) for k in keys]), "}"))
            out.append("{")
            first = True
        elif isinstance(item, (list, tuple)):
            stack.append((iter([(None, v) for v in item]), "]"))
            out.append("[")
            first = True
        else:
            out.append(_scalar(item))
            first = False
