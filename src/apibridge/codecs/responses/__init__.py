"""The OpenAI Responses codec (see :mod:`apibridge.codecs` for the surface every codec has)."""

from __future__ import annotations

from apibridge.codecs.responses._codec import (
    FORMAT,
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
    report_stop,
    request_echo,
    response_hints,
    response_object,
)

__all__ = [
    "FORMAT",
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
    "report_stop",
    "request_echo",
    "response_hints",
    "response_object",
]
