"""The Anthropic Messages codec (see :mod:`apibridge.codecs` for the surface every codec has)."""

from __future__ import annotations

from apibridge.codecs.anthropic._codec import (
    ERROR_TYPE_KINDS,
    FORMAT,
    ROLES_FROM_WIRE,
    STOP_REASON_FROM_WIRE,
    STOP_REASON_TO_WIRE,
    THINKING_MODES,
    TOOL_CHOICE_FROM_WIRE,
    TOOL_CHOICE_TO_WIRE,
    TOOL_NAME_MAX,
    TOOL_NAME_RE,
    StreamDecoder,
    StreamEncoder,
    decode_error,
    decode_request,
    decode_response,
    encode_error,
    encode_request,
    encode_response,
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
