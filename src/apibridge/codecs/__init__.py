"""The wire-format codecs: pure functions and push-style stream state machines.

One package per format (``anthropic``, ``chat``, ``responses``, ``backboard``, ``gemini``),
each with the same surface, described by :class:`Codec`:

* ``decode_request`` / ``encode_request``, ``decode_response`` / ``encode_response``;
* ``StreamDecoder`` (SSE frames → canonical events) and ``StreamEncoder`` (canonical events
  → SSE bytes), both ``feed(item) -> list`` and ``close() -> list``;
* ``decode_error`` / ``encode_error`` for error bodies;
* ``TOOL_NAME_MAX`` / ``TOOL_NAME_RE``: what tool names that format accepts;
  ``TOOL_NAMESPACES``: whether it groups tools in namespaces (Responses).

Nothing here performs I/O or imports httpx, anyio, asyncio, socket or threading (a test holds
this), so the codecs run anywhere: in a server, a notebook, a batch job or a browser.
"""

from __future__ import annotations

from collections.abc import Mapping

from apibridge._sse import SSEDecoder, SSEFrame
from apibridge.codecs import anthropic, backboard, chat, gemini, responses
from apibridge.codecs._context import Context
from apibridge.codecs._protocols import Codec, StreamDecoder, StreamEncoder

__all__ = [
    "COMPILED",
    "FORMATS",
    "Codec",
    "Context",
    "SSEDecoder",
    "SSEFrame",
    "StreamDecoder",
    "StreamEncoder",
    "get_codec",
]

#: every codec by its format name (a static table: looking a codec up imports nothing).
_CODECS: Mapping[str, Codec] = {
    "anthropic": anthropic,
    "chat": chat,
    "responses": responses,
    "backboard": backboard,
    "gemini": gemini,
}

FORMATS: tuple[str, ...] = tuple(_CODECS)

#: whether the codecs run compiled by mypyc (``APIBRIDGE_COMPILE=1`` builds; see
#: docs/benchmarks.md) or as the pure-Python sources: same behaviour, compiled is faster.
COMPILED: bool = not __file__.endswith(".py")


def get_codec(name: str) -> Codec:
    """The codec for format ``name`` (one of :data:`FORMATS`)."""
    codec = _CODECS.get(name)
    if codec is None:
        raise ValueError(f"unknown format {name!r}; expected one of {', '.join(FORMATS)}")
    return codec
