"""The ``chat`` codec: OpenAI Chat Completions (``POST /v1/chat/completions``) and the many
servers that speak it (vLLM, Ollama, DeepSeek, Groq, OpenRouter, Azure OpenAI).

:mod:`apibridge.codecs` lists the surface every codec has. This face only re-exports; each
module below opens with its theory of operation:

* ``_request``: request bodies (tools, ``tool_choice``, output format, reasoning effort);
* ``_response``: answer bodies (the first choice, finish reasons, usage);
* ``_messages`` and ``_parts``: the ``messages`` list and content parts, for both;
* ``_stream_decoder`` / ``_stream_encoder``: ``data:`` chunks ↔ canonical events;
* ``_wire``: the constants and tables shared by all of them (finish reasons, tool names),
  spelling hints, usage, tool calls, annotations;
* ``_errors``: the error envelope (the rule itself is ``apibridge.codecs._openai_errors``,
  shared with ``responses``);
* ``_reasoning_dialects``: the four spellings of reasoning (``reasoning_content``,
  ``reasoning``, OpenRouter's ``reasoning_details``, ``<think>`` tags), read and written.

*Deliberately lossy.* Chat (but for OpenRouter's ``reasoning_details``, when the upstream's
dialect is that) has no thinking signatures, encrypted reasoning, redacted thinking, cache
breakpoints in Claude's sense, server-tool blocks, document citations or tool
error flags: each is reported through ``ctx.lose`` when encoding, never dropped silently.
Same-format trips are exact: ``_``-prefixed hints in ``extras["chat"]`` keep spellings
(``null`` versus absent, string versus part list, which of two synonyms was used).
"""

from __future__ import annotations

from typing import Any

from apibridge.codecs._context import Context
from apibridge.codecs._profile_rules import apply_chat_profile
from apibridge.codecs.chat._errors import (
    ERROR_CODE_KIND,
    ERROR_TYPE_KIND,
    decode_error,
    encode_error,
)
from apibridge.codecs.chat._messages import ROLE_TO_CANONICAL
from apibridge.codecs.chat._request import TOOL_CHOICE_MODES, decode_request
from apibridge.codecs.chat._request import encode_request as _encode_request
from apibridge.codecs.chat._response import decode_response, encode_response
from apibridge.codecs.chat._stream_decoder import StreamDecoder
from apibridge.codecs.chat._stream_encoder import StreamEncoder
from apibridge.codecs.chat._wire import (
    FINISH_TO_STOP,
    FORMAT,
    STOP_TO_FINISH,
    TOOL_NAME_MAX,
    TOOL_NAME_RE,
    TOOL_NAMESPACES,
)
from apibridge.model import Request

__all__ = [
    "ERROR_CODE_KIND",
    "ERROR_TYPE_KIND",
    "FINISH_TO_STOP",
    "FORMAT",
    "ROLE_TO_CANONICAL",
    "STOP_TO_FINISH",
    "TOOL_CHOICE_MODES",
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


def encode_request(request: Request, ctx: Context) -> dict[str, Any]:
    """A canonical :class:`Request` as a Chat Completions request body, fitted to the
    upstream's server profile (``ctx.profile``, :mod:`apibridge.codecs._profile_rules`)."""
    out = _encode_request(request, ctx)
    if ctx.profile is not None:
        apply_chat_profile(out, ctx, request.extras.get(FORMAT) or {})
    return out
