"""The Anthropic Messages codec (see :mod:`apibridge.codecs` for the surface every codec has).

A pure face: every name is defined in a private module of this package and re-exported here.
``_wire`` holds the shared vocabulary (names, hints, tables, usage, citations, stop
reasons); ``_errors`` the error envelope; ``_block_decoder``/``_block_encoder`` the content
blocks; ``_options`` tools, tool choice and reasoning; ``_request``/``_response`` the whole
bodies; ``_stream_decoder``/``_stream_encoder`` the SSE streams.
"""

from __future__ import annotations

from apibridge.codecs.anthropic._errors import ERROR_TYPE_KINDS, decode_error, encode_error
from apibridge.codecs.anthropic._options import (
    THINKING_MODES,
    TOOL_CHOICE_FROM_WIRE,
    TOOL_CHOICE_TO_WIRE,
)
from apibridge.codecs.anthropic._request import decode_request, encode_request
from apibridge.codecs.anthropic._response import decode_response, encode_response
from apibridge.codecs.anthropic._stream_decoder import StreamDecoder
from apibridge.codecs.anthropic._stream_encoder import StreamEncoder
from apibridge.codecs.anthropic._wire import (
    FORMAT,
    ROLES_FROM_WIRE,
    STOP_REASON_FROM_WIRE,
    STOP_REASON_TO_WIRE,
    TOOL_NAME_MAX,
    TOOL_NAME_RE,
    TOOL_NAMESPACES,
)

__all__ = [
    "ERROR_TYPE_KINDS",
    "FORMAT",
    "ROLES_FROM_WIRE",
    "STOP_REASON_FROM_WIRE",
    "STOP_REASON_TO_WIRE",
    "THINKING_MODES",
    "TOOL_CHOICE_FROM_WIRE",
    "TOOL_CHOICE_TO_WIRE",
    "TOOL_NAME_MAX",
    "TOOL_NAMESPACES",
    "TOOL_NAME_RE",
    "StreamDecoder",
    "StreamEncoder",
    "decode_error",
    "decode_request",
    "decode_response",
    "encode_error",
    "encode_request",
    "encode_response",
]
