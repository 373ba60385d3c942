"""The wire-format codecs: pure functions and push-style stream state machines.

One module per format (``anthropic``, ``chat``, ``responses``, ``backboard``), each with the
same surface, described by :class:`Codec`:

* ``decode_request`` / ``encode_request``, ``decode_response`` / ``encode_response``;
* ``StreamDecoder`` (SSE frames → canonical events) and ``StreamEncoder`` (canonical events
  → SSE bytes), both ``feed(item) -> list`` and ``close() -> list``;
* ``decode_error`` / ``encode_error`` for error bodies;
* ``TOOL_NAME_MAX`` / ``TOOL_NAME_RE``: what tool names that format accepts.

Nothing here performs I/O or imports httpx, anyio, asyncio, socket or threading (a test holds
this), so the codecs run anywhere: in a server, a notebook, a batch job or a browser.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any, Protocol

from apibridge._model import Event, Request, Response
from apibridge._sse import SSEDecoder, SSEFrame
from apibridge.codecs._base import Context
from apibridge.errors import ApiError

__all__ = [
    "FORMATS",
    "Codec",
    "Context",
    "SSEDecoder",
    "SSEFrame",
    "StreamDecoder",
    "StreamEncoder",
    "get_codec",
]

FORMATS: tuple[str, ...] = ("anthropic", "chat", "responses", "backboard")


class StreamDecoder(Protocol):
    """SSE frames of one format in, canonical events out."""

    def feed(self, frame: SSEFrame) -> list[Event]:
        """Events that ``frame`` completes."""
        ...

    def close(self) -> list[Event]:
        """End of input; a stream that did not finish yields a ``StreamError``."""
        ...


class StreamEncoder(Protocol):
    """Canonical events in, SSE bytes of one format out."""

    def feed(self, event: Event) -> list[bytes]:
        """Bytes for ``event`` (possibly none, possibly several frames)."""
        ...

    def close(self) -> list[bytes]:
        """End of input; a stream that did not finish ends with the format's in-band error."""
        ...


class Codec(Protocol):
    """What every codec module provides."""

    FORMAT: str
    TOOL_NAME_MAX: int
    TOOL_NAME_RE: re.Pattern[str]

    def decode_request(self, body: Mapping[str, Any], ctx: Context) -> Request: ...
    def encode_request(self, request: Request, ctx: Context) -> dict[str, Any]: ...
    def decode_response(self, body: Mapping[str, Any], ctx: Context) -> Response: ...
    def encode_response(self, response: Response, ctx: Context) -> dict[str, Any]: ...
    def StreamDecoder(self, ctx: Context) -> StreamDecoder: ...  # noqa: N802
    def StreamEncoder(self, ctx: Context) -> StreamEncoder: ...  # noqa: N802
    def decode_error(self, body: Any, status: int) -> ApiError: ...
    def encode_error(self, error: ApiError) -> tuple[int, dict[str, Any]]: ...


def get_codec(name: str) -> Codec:
    """The codec module for format ``name`` (one of :data:`FORMATS`)."""
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; expected one of {', '.join(FORMATS)}")
    module: Any = importlib.import_module(f"apibridge.codecs.{name}")
    return module  # type: ignore[no-any-return]
