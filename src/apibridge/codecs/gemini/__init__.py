"""The ``gemini`` codec: Google's Gemini API (``POST /v1beta/models/{model}:generateContent``
and ``:streamGenerateContent``), as a client format and as an upstream.

:mod:`apibridge.codecs` lists the surface every codec has. This face only re-exports; each
module below opens with its theory of operation:

* ``_wire``: the conventions every half shares: camelCase and snake_case spellings, call ids
  made for calls that came without one, thought signatures and their carriers, the
  ``finishReason`` and ``status`` tables;
* ``_parts``: content parts (text, thoughts, inline and file data, function calls and
  responses, code execution) both ways; ``_signatures``: thought signatures, their carriers
  and the reasoning envelope in ``thoughtSignature``; ``_calls``: ids for calls without one;
* ``_request``: request bodies (``systemInstruction``, ``contents``, ``generationConfig``);
  ``_settings``: tools, ``toolConfig``, ``thinkingConfig`` and structured output;
  ``_history``: streamed model turns joined, function responses in call order;
* ``_response``: answer bodies (the first candidate, finish reasons, blocks, usage);
* ``_stream_decoder`` / ``_stream_encoder``: ``data:`` chunks ↔ canonical events;
  ``_framing``: the JSON-array stream Gemini serves without ``?alt=sse``;
* ``_errors``: Google's error envelope (``google.rpc.Status``: ``code``, ``message``,
  ``status``, ``details`` with ``RetryInfo``).

*Deliberately lossy.* What Gemini cannot hold (Claude's cache breakpoints, citations of
documents, redacted thinking, tool error flags beyond ``{"error": …}``, more than one
candidate) is reported through ``ctx.lose``; what only Gemini has (``safetySettings``,
``googleSearch`` and the other built-in tools, ``seed``, penalties) rides ``extras["gemini"]``
to a Gemini upstream and is reported lost elsewhere. Thought signatures travel in the
reasoning envelope (origin ``gemini``) through Claude and Responses clients and back.
"""

from __future__ import annotations

from apibridge.codecs.gemini._errors import RETRY_INFO, decode_error, encode_error
from apibridge.codecs.gemini._framing import ArrayReader, ArrayWriter, sse_to_array
from apibridge.codecs.gemini._request import decode_request, encode_request
from apibridge.codecs.gemini._response import decode_response, encode_response
from apibridge.codecs.gemini._stream_decoder import StreamDecoder
from apibridge.codecs.gemini._stream_encoder import StreamEncoder
from apibridge.codecs.gemini._wire import (
    FINISH_TO_STOP,
    FORMAT,
    KIND_TO_STATUS,
    MADE_ID_PREFIX,
    PLACEHOLDER_SIGNATURE,
    STATUS_TO_KIND,
    STOP_TO_FINISH,
    TOOL_NAME_MAX,
    TOOL_NAME_RE,
    TOOL_NAMESPACES,
    model_name,
    model_path,
)

__all__ = [
    "FINISH_TO_STOP",
    "FORMAT",
    "KIND_TO_STATUS",
    "MADE_ID_PREFIX",
    "PLACEHOLDER_SIGNATURE",
    "RETRY_INFO",
    "STATUS_TO_KIND",
    "STOP_TO_FINISH",
    "TOOL_NAME_MAX",
    "TOOL_NAMESPACES",
    "TOOL_NAME_RE",
    "ArrayReader",
    "ArrayWriter",
    "StreamDecoder",
    "StreamEncoder",
    "decode_error",
    "decode_request",
    "decode_response",
    "encode_error",
    "encode_request",
    "encode_response",
    "model_name",
    "model_path",
    "sse_to_array",
]
