"""The surface every codec package provides, as protocols (its own module, so that the codec
packages can name it without importing the :mod:`apibridge.codecs` face that imports them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from apibridge._sse import SSEFrame
from apibridge.codecs._context import Context
from apibridge.errors import ApiError
from apibridge.model import Event, Request, Response

__all__ = ["Codec", "StreamDecoder", "StreamEncoder"]


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
    TOOL_NAMESPACES: bool
    TOOL_NAME_RE: re.Pattern[str]

    def decode_request(self, body: Mapping[str, Any], ctx: Context) -> Request: ...
    def encode_request(self, request: Request, ctx: Context) -> dict[str, Any]: ...
    def decode_response(self, body: Mapping[str, Any], ctx: Context) -> Response: ...
    def encode_response(self, response: Response, ctx: Context) -> dict[str, Any]: ...
    def StreamDecoder(self, ctx: Context) -> StreamDecoder: ...  # noqa: N802
    def StreamEncoder(self, ctx: Context) -> StreamEncoder: ...  # noqa: N802
    def decode_error(self, body: Any, status: int) -> ApiError: ...
    def encode_error(self, error: ApiError) -> tuple[int, dict[str, Any]]: ...
