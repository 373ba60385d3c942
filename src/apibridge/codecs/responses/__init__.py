"""The OpenAI Responses codec (see :mod:`apibridge.codecs` for the surface every codec has).

A pure re-export face. The modules, lowest layer first; each imports only modules below it:
``_wire`` (tables, hints, stops, citations, usage) → ``_content``, ``_reasoning_items``,
``_search_items`` → ``_items`` → ``_settings`` → ``_request`` → ``_response`` →
``_stream_decoder``, and ``_item_stream`` → ``_item_writers`` → ``_search_writer`` →
``_stream_encoder``; ``_errors`` (the error envelope) rests on ``_wire`` alone.
"""

from __future__ import annotations

from apibridge.codecs.responses._errors import decode_error, encode_error
from apibridge.codecs.responses._request import decode_request, encode_request
from apibridge.codecs.responses._response import (
    answer_failure,
    decode_response,
    encode_response,
    report_stop,
    request_echo,
    response_hints,
    response_object,
)
from apibridge.codecs.responses._stream_decoder import StreamDecoder
from apibridge.codecs.responses._stream_encoder import StreamEncoder
from apibridge.codecs.responses._wire import FORMAT, TOOL_NAME_MAX, TOOL_NAME_RE, TOOL_NAMESPACES

__all__ = [
    "FORMAT",
    "TOOL_NAME_MAX",
    "TOOL_NAMESPACES",
    "TOOL_NAME_RE",
    "StreamDecoder",
    "StreamEncoder",
    "answer_failure",
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
