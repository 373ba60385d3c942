"""The backboard.io codec, upstream only (:mod:`apibridge.codecs` lists every codec's surface).

A pure face: every name is defined in a private module of this package and re-exported here.
``_wire`` holds the shared vocabulary (names, statuses, usage, tool calls); ``_errors`` the
error bodies and the retry rule; ``_request`` the message request and tool outputs;
``_response`` the non-stream answers; ``_stream_decoder`` the SSE events. The client-side
half (``decode_request``, ``encode_response``, ``StreamEncoder``) refuses: backboard is never
a client's format.
"""

from __future__ import annotations

from apibridge.codecs.backboard._errors import (
    NON_RETRYABLE_MESSAGES,
    RETRYABLE_MESSAGES,
    RETRYABLE_STATUSES,
    decode_error,
    encode_error,
    is_retryable,
)
from apibridge.codecs.backboard._request import (
    CURRENT_HEADER,
    HISTORY_HEADER,
    decode_request,
    encode_request,
    encode_tool_outputs,
    split_model,
)
from apibridge.codecs.backboard._response import StreamEncoder, decode_response, encode_response
from apibridge.codecs.backboard._stream_decoder import StreamDecoder
from apibridge.codecs.backboard._wire import (
    FORMAT,
    TOOL_NAME_MAX,
    TOOL_NAME_RE,
    TOOL_NAMESPACES,
    decode_tool_call,
)

__all__ = [
    "CURRENT_HEADER",
    "FORMAT",
    "HISTORY_HEADER",
    "NON_RETRYABLE_MESSAGES",
    "RETRYABLE_MESSAGES",
    "RETRYABLE_STATUSES",
    "TOOL_NAME_MAX",
    "TOOL_NAMESPACES",
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
