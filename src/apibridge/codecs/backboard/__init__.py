"""The backboard.io codec, upstream only (:mod:`apibridge.codecs` lists every codec's surface)."""

from __future__ import annotations

from apibridge.codecs.backboard._codec import (
    CURRENT_HEADER,
    FORMAT,
    HISTORY_HEADER,
    NON_RETRYABLE_MESSAGES,
    RETRYABLE_MESSAGES,
    RETRYABLE_STATUSES,
    TOOL_NAME_MAX,
    TOOL_NAME_RE,
    StreamDecoder,
    StreamEncoder,
    decode_error,
    decode_request,
    decode_response,
    decode_tool_call,
    encode_error,
    encode_request,
    encode_response,
    encode_tool_outputs,
    is_retryable,
    split_model,
)

__all__ = [
    "CURRENT_HEADER",
    "FORMAT",
    "HISTORY_HEADER",
    "NON_RETRYABLE_MESSAGES",
    "RETRYABLE_MESSAGES",
    "RETRYABLE_STATUSES",
    "TOOL_NAME_MAX",
    "TOOL_NAME_RE",
    "StreamDecoder",
    "StreamEncoder",
    "decode_error",
    "decode_request",
    "decode_response",
    "decode_tool_call",
    "encode_error",
    "encode_request",
    "encode_response",
    "encode_tool_outputs",
    "is_retryable",
    "split_model",
]
