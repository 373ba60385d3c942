"""The OpenAI Chat Completions codec (:mod:`apibridge.codecs` lists every codec's surface)."""

from __future__ import annotations

from apibridge.codecs.chat._codec import (
    ERROR_CODE_KIND,
    ERROR_TYPE_KIND,
    FINISH_TO_STOP,
    FORMAT,
    ROLE_TO_CANONICAL,
    STOP_TO_FINISH,
    TOOL_CHOICE_MODES,
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
    "ERROR_CODE_KIND",
    "ERROR_TYPE_KIND",
    "FINISH_TO_STOP",
    "FORMAT",
    "ROLE_TO_CANONICAL",
    "STOP_TO_FINISH",
    "TOOL_CHOICE_MODES",
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
