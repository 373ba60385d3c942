"""A local estimate of a request's input tokens, for ``count_tokens`` without an upstream count.

Theory of operation
-------------------
Where the upstream is Anthropic, ``POST /v1/messages/count_tokens`` asks it (an exact count).
Every other upstream has no such endpoint, so the gateway answers with this estimate and says
so (the ``x-apibridge-token-count: estimate`` response header). The estimate works on the
canonical request, so it is the same whichever format the request arrived in:

* text: about four characters per token for ASCII text (English prose and code tokenise
  near that rate) and one token per other character (CJK scripts tokenise near one per
  character; accented Latin text is over-counted). The estimate deliberately errs high: a
  client that trims its context to fit should trim a little too much, not too little;
* a few tokens of framing per message and per tool call or result (role markers);
* tools: their name, description and JSON schema as text, plus a fixed allowance for the
  tool-use instructions providers add when any tool is offered;
* images: a flat 1,600 tokens (the most a provider charges for an image at the default
  resolution); PDFs: 1,500 tokens per page, pages counted in the file; text documents as text;
* reasoning: only the newest assistant turn's thinking counts, as providers drop earlier
  turns' thinking from the context.

It is an estimate: within tens of percent of a real tokenizer on ordinary text, not exact.
"""

from __future__ import annotations

import base64
import binascii
import math
import re

from apibridge import _json
from apibridge.model import (
    ContentPart,
    DocumentPart,
    ImagePart,
    Request,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["estimate_request_tokens", "estimate_text_tokens"]

_MESSAGE_OVERHEAD = 4
_PART_OVERHEAD = 3
_TOOLS_PREAMBLE = 300  # providers' instructions for tool use, added once when tools exist
_TOOL_OVERHEAD = 10
_IMAGE_TOKENS = 1600
_PDF_PAGE_TOKENS = 1500
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def estimate_text_tokens(text: str) -> int:
    """Tokens in ``text``: ~4 ASCII characters per token, one per other character."""
    if not text:
        return 0
    if text.isascii():
        return math.ceil(len(text) / 4)
    ascii_chars = len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def _pdf_pages(data: str) -> int:
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return 1
    return max(len(_PDF_PAGE.findall(raw)), 1)


def _part_tokens(part: ContentPart, *, thinking: bool) -> int:
    if isinstance(part, TextPart):
        return estimate_text_tokens(part.text)
    if isinstance(part, ImagePart):
        return _IMAGE_TOKENS
    if isinstance(part, DocumentPart):
        if part.text is not None:
            return estimate_text_tokens(part.text)
        if part.data is not None and (part.media_type or "").endswith("pdf"):
            return _pdf_pages(part.data) * _PDF_PAGE_TOKENS
        if part.data is not None:
            # base64 of some other file: count its decoded size as text
            return math.ceil(len(part.data) * 3 / 4 / 4)
        return _PDF_PAGE_TOKENS
    if isinstance(part, ToolCallPart):
        return (
            _PART_OVERHEAD + estimate_text_tokens(part.name) + estimate_text_tokens(part.arguments)
        )
    if isinstance(part, ToolResultPart):
        return _PART_OVERHEAD + sum(_part_tokens(p, thinking=False) for p in part.content)
    if isinstance(part, ThinkingPart):
        return estimate_text_tokens(part.text) if thinking else 0
    # refusals, server-tool blocks, redacted thinking: count what text they show
    text = getattr(part, "text", None)
    return estimate_text_tokens(text) if isinstance(text, str) else 0


def estimate_request_tokens(request: Request) -> int:
    """The estimated input tokens of ``request`` (see the module docstring); at least 1."""
    total = 0
    if request.system:
        total += _MESSAGE_OVERHEAD + sum(estimate_text_tokens(p.text) for p in request.system)
    last_assistant = max(
        (i for i, m in enumerate(request.messages) if m.role == "assistant"), default=-1
    )
    for i, message in enumerate(request.messages):
        total += _MESSAGE_OVERHEAD
        total += sum(_part_tokens(p, thinking=i == last_assistant) for p in message.content)
    if request.tools:
        total += _TOOLS_PREAMBLE
    for tool in request.tools:
        total += _TOOL_OVERHEAD + estimate_text_tokens(tool.name)
        total += estimate_text_tokens(tool.description or "")
        for schema in (tool.parameters, tool.format, tool.raw if tool.kind == "server" else None):
            if schema:
                total += estimate_text_tokens(_json.dumps_str(schema))
    return max(total, 1)
