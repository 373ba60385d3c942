"""JSON in and out with orjson (the standard library is far slower on large bodies)."""

from __future__ import annotations

from typing import Any

import orjson

from apibridge.errors import InvalidPayload

__all__ = ["dumps", "dumps_str", "loads"]


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; a syntax error becomes :class:`InvalidPayload` (HTTP 400)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload(f"invalid JSON: {exc}") from None


def dumps(value: Any) -> bytes:
    """Compact JSON bytes (keys in insertion order, no line breaks)."""
    return orjson.dumps(value)


def dumps_str(value: Any) -> str:
    """Compact JSON text."""
    return orjson.dumps(value).decode()
