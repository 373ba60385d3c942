"""Canonical parts → Anthropic content blocks, for requests, answers and streams.

Theory of operation
-------------------
:func:`encode_part` writes one part as one block, or as none (with a loss) when Anthropic
has no form for it, in two modes:

* *request* (``answer=False``): the blocks go to an Anthropic upstream, which verifies
  signatures and citations: thinking without a native signature and foreign citations are
  omitted, with a loss; tool-call ids with characters Anthropic rejects are rewritten.
* *answer* (``answer=True``): the blocks go to a Claude client: reasoning always carries a
  signature, native or a reasoning envelope (``codecs.envelope``); a foreign web search call
  becomes a ``server_tool_use`` block with its query; images, documents and tool results
  have no place in an answer.

A client's free-form (Responses ``custom``) tool call travels as ``{"input": text}``
(``codecs._custom_tools``). Empty text parts from other APIs leave no block (Anthropic
rejects empty text blocks, and a stream never opens one); an empty block an Anthropic body
really had is kept. Each block is completed from ``extras["anthropic"]`` by ``_wire.finish``.

Deliberately not carried to Anthropic (reported with ``ctx.lose``): image ``detail``,
documents that are neither PDF nor text, images that are not JPEG, PNG, GIF or WebP, a
document's ``filename`` (it becomes the title when there is none).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from apibridge import _json
from apibridge.codecs._cache_markers import anthropic_marker
from apibridge.codecs._compaction import KIND as COMPACTION
from apibridge.codecs._compaction import anthropic_block
from apibridge.codecs._context import Context, new_id, part_words
from apibridge.codecs._custom_tools import wrap_input
from apibridge.codecs._server_text import sent_as_text
from apibridge.codecs.anthropic._wire import (
    CONTENT_LIST,
    CONTENT_STRING,
    EMPTY_TEXT,
    FORMAT,
    REFUSAL_STOP,
    SEARCH_RESULTS,
    encode_citation,
    finish,
    foreign_data,
    lose_foreign,
    own_of,
)
from apibridge.codecs.envelope import Envelope, dialect_seal, seal
from apibridge.errors import InvalidPayload
from apibridge.model import (
    ContentPart,
    DocumentPart,
    Extras,
    ImagePart,
    RedactedThinkingPart,
    RefusalPart,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = [
    "IMAGE_MAGIC",
    "answer_parts",
    "answer_signature",
    "encode_document",
    "encode_image",
    "encode_blocks",
    "encode_part",
    "encode_server_part",
    "encode_text",
    "encode_thinking",
    "encode_tool_call",
    "encode_tool_result",
    "is_plain_text",
    "thinking_text",
    "tool_id",
    "tool_input",
]

#: The image types Anthropic accepts, and how their base64 data begins.
IMAGE_MAGIC: Final[Mapping[str, str]] = {
    "/9j/": "image/jpeg",
    "iVBORw0KGgo": "image/png",
    "R0lGOD": "image/gif",
    "UklGR": "image/webp",
}
_ID_CHAR: Final = re.compile(r"[^A-Za-z0-9_-]")


def is_plain_text(part: Any) -> bool:
    """Whether ``part`` is text alone (no citations, cache control or unknown fields), so a
    plain string can stand for it."""
    return (
        isinstance(part, TextPart)
        and not part.citations
        and part.cache_control is None
        and not any(not k.startswith("_") for fields in part.extras.values() for k in fields)
    )


def encode_part(
    part: ContentPart, where: str, ctx: Context, *, answer: bool
) -> dict[str, Any] | None:
    """One canonical part as an Anthropic block, or ``None`` (with a loss) when it has none.

    ``answer`` selects the mode: ``True`` for a Claude client's answer, ``False`` for a
    request to an Anthropic upstream (see the module docstring).
    """
    if isinstance(part, TextPart):
        return encode_text(part, where, ctx, answer=answer)
    if isinstance(part, ToolCallPart):
        return encode_tool_call(part, where, ctx, answer=answer)
    if isinstance(part, ThinkingPart):
        return encode_thinking(part, where, ctx, answer=answer)
    if isinstance(part, RedactedThinkingPart):
        return finish({"type": "redacted_thinking", "data": part.data}, part.extras, ctx, where)
    if isinstance(part, RefusalPart):
        ctx.lose(where, "Anthropic has no refusal block", "sent as a text block")
        return finish({"type": "text", "text": part.text}, part.extras, ctx, where)
    if isinstance(part, ServerToolPart):
        return encode_server_part(part, where, ctx, answer=answer)
    if answer:
        ctx.lose(where, f"an answer cannot hold {part_words(part)}")
        return None
    if isinstance(part, ImagePart):
        return encode_image(part, where, ctx)
    if isinstance(part, DocumentPart):
        return encode_document(part, where, ctx)
    return encode_tool_result(part, where, ctx)


def answer_parts(parts: Sequence[ContentPart], stop: str | None) -> Sequence[ContentPart]:
    """An answer's parts as Anthropic says them: a refusal is its ``refusal`` stop.

    The refusal part this codec made of a ``refusal`` stop is that stop again (no block), and
    so is a refusal with no words; another format's refusal text is a text block, which under
    a ``refusal`` stop is just how Claude answers when it refuses (no loss; under any other
    stop it is reported by :func:`encode_part`).
    """
    if not any(isinstance(p, RefusalPart) for p in parts):
        return parts  # the common case
    out: list[ContentPart] = []
    for part in parts:
        if isinstance(part, RefusalPart):
            if not part.text or (part.extras.get(FORMAT) or {}).get(REFUSAL_STOP):
                continue
            if stop == "refusal":
                part = TextPart(text=part.text, extras=part.extras)
        out.append(part)
    return out


def encode_blocks(
    parts: Sequence[ContentPart], ctx: Context, where: str, index: int = 0, *, answer: bool
) -> list[dict[str, Any]]:
    """The blocks for ``parts`` (those with none left out, reported); part ``j`` is named
    ``where.format(index, j)``.

    Hot path: text, tool calls, tool results and signed thinking with no extras, citations or
    cache control are written inline; every other part goes through :func:`encode_part`,
    which writes the same block (and reports what is lost). The location string is only
    built for that path.
    """
    out: list[dict[str, Any]] = []
    append = out.append
    for j, part in enumerate(parts):
        if isinstance(part, TextPart):
            # (Another format's spelling hints, ``_`` keys, are never written: still plain.)
            extras = part.extras
            if (
                part.text
                and not part.citations
                and part.cache_control is None
                and (not extras or (FORMAT not in extras and not foreign_data(extras)))
            ):
                append({"type": "text", "text": part.text})
                continue
        elif isinstance(part, ToolCallPart):
            ident = part.id
            extras = part.extras
            if (
                ident
                and (not extras or (FORMAT not in extras and not foreign_data(extras)))
                and part.kind == "function"
                and part.cache_control is None
                and (answer or not _ID_CHAR.search(ident))
            ):
                try:
                    value = _json.loads(part.arguments)
                except InvalidPayload:
                    value = None
                if type(value) is dict:
                    append({"type": "tool_use", "id": ident, "name": part.name, "input": value})
                    continue
        elif isinstance(part, ToolResultPart):
            if not answer:
                block = _plain_tool_result(part)
                if block is not None:
                    append(block)
                    continue
        elif isinstance(part, ThinkingPart):
            signature = part.signature
            if signature is not None and part.text and not part.summary and not part.extras:
                append({"type": "thinking", "thinking": part.text, "signature": signature})
                continue
        elif isinstance(part, ServerToolPart) and not answer:
            # Another API's server-tool item in the history: the text it holds, reported.
            at = where.format(index, j)
            flat = sent_as_text(part, FORMAT, ctx, at)
            if flat is not None:
                out.extend(b for p in flat if (b := encode_part(p, at, ctx, answer=False)))
                continue
        encoded = encode_part(part, where.format(index, j), ctx, answer=answer)
        if encoded is not None:
            append(encoded)
    return out


#: The hints a plain tool result may carry.
_RESULT_HINTS: Final = frozenset({CONTENT_STRING, CONTENT_LIST})


def _plain_tool_result(part: ToolResultPart) -> dict[str, Any] | None:
    """The block for a tool result of the common shape (text alone, at most the content
    hints, an id Anthropic accepts), or ``None`` for :func:`encode_tool_result` to write."""
    ident = part.call_id
    if part.cache_control is not None or not ident or _ID_CHAR.search(ident):
        return None
    extras = part.extras
    string = listed = False
    if extras:
        # At most the content hints of ours, and other formats' spelling hints (never data).
        own = extras.get(FORMAT)
        if own is not None:
            if not own.keys() <= _RESULT_HINTS:
                return None
            string, listed = bool(own.get(CONTENT_STRING)), bool(own.get(CONTENT_LIST))
        if (len(extras) != 1 or own is None) and foreign_data(extras):
            return None
    texts = []
    for p in part.content:
        if type(p) is not TextPart or p.extras or p.citations or p.cache_control is not None:
            return None
        if not p.text:
            return None
        texts.append(p.text)
    out: dict[str, Any] = {"type": "tool_result", "tool_use_id": ident}
    if string or (len(texts) == 1 and not listed):
        out["content"] = "".join(texts)
    elif texts or listed:
        out["content"] = [{"type": "text", "text": text} for text in texts]
    if part.is_error:
        out["is_error"] = True
    return out


def encode_text(part: TextPart, where: str, ctx: Context, *, answer: bool) -> dict[str, Any] | None:
    """A ``text`` block; ``None`` for an empty text part that did not come from Anthropic."""
    if not part.text and not part.citations and not own_of(part.extras).get(EMPTY_TEXT):
        lose_foreign(ctx, part.extras, where)
        return None
    out: dict[str, Any] = {"type": "text", "text": part.text}
    citations = [
        c
        for i, cite in enumerate(part.citations)
        if (
            c := encode_citation(
                cite, part.text, answer=answer, ctx=ctx, where=f"{where}.citations[{i}]"
            )
        )
        is not None
    ]
    if citations:
        out["citations"] = citations
    # (a marker in an answer too: valid when sent back as history)
    return finish(out, _marked(out, part, ctx, where), ctx, where)


def tool_input(part: ToolCallPart, where: str, ctx: Context) -> dict[str, Any]:
    """The ``input`` object of a ``tool_use`` block for ``part``'s raw arguments."""
    if part.kind == "custom":
        # Free-form input travels as one string field; the answer path unwraps it again.
        return wrap_input(part.arguments)
    if not part.arguments.strip():
        return {}
    try:
        value = _json.loads(part.arguments)
    except InvalidPayload:
        ctx.lose(f"{where}.input", "the arguments are not valid JSON", "replaced with {}")
        return {}
    if not isinstance(value, dict):
        ctx.lose(f"{where}.input", "the arguments are not a JSON object", "replaced with {}")
        return {}
    return value


def tool_id(ident: str, where: str, ctx: Context, *, answer: bool) -> str:
    """A tool-call id Anthropic accepts (``[A-Za-z0-9_-]+``); a missing one is created."""
    if not ident:
        return new_id("toolu_")
    if answer or not _ID_CHAR.search(ident):
        return ident
    ctx.lose(where, "the tool-call id has characters Anthropic rejects", "rewritten")
    return _ID_CHAR.sub("_", ident)


def encode_tool_call(
    part: ToolCallPart, where: str, ctx: Context, *, answer: bool
) -> dict[str, Any]:
    """A ``tool_use`` block (a custom tool's free-form input wrapped as ``{"input": …}``)."""
    out: dict[str, Any] = {
        "type": "tool_use",
        "id": tool_id(part.id, f"{where}.id", ctx, answer=answer),
        "name": part.name,
        "input": tool_input(part, where, ctx),
    }
    if part.cache_control is not None:
        out["cache_control"] = dict(part.cache_control)
    return finish(out, part.extras, ctx, where)


def thinking_text(part: ThinkingPart, ctx: Context, where: str) -> str:
    """The text of a thinking block: the reasoning text, else the joined summaries."""
    if not part.text:
        return "\n\n".join(part.summary)
    if part.summary:
        ctx.lose(f"{where}.summary", "a thinking block holds one text", "kept the full text")
    return part.text


def answer_signature(part: ThinkingPart) -> str:
    """The ``signature`` a Claude client receives: native, or a reasoning envelope."""
    if part.signature is not None:
        return part.signature
    if part.encrypted_content is not None:
        return seal(
            Envelope(origin="responses", kind="encrypted", data=part.encrypted_content, id=part.id)
        )
    sealed = dialect_seal(part.extras) if part.extras else None  # Chat or Gemini hints
    if sealed is not None:
        return sealed
    return seal(Envelope(origin="none", kind="signature", id=part.id))


def encode_thinking(
    part: ThinkingPart, where: str, ctx: Context, *, answer: bool
) -> dict[str, Any] | None:
    """A ``thinking`` block; in a request only with a native Anthropic signature."""
    if answer:
        signature = answer_signature(part)
    elif part.signature is not None:
        signature = part.signature
    else:
        origin = "encrypted reasoning" if part.encrypted_content is not None else "unsigned"
        ctx.lose(where, f"{origin} thinking has no Anthropic signature", "omitted")
        return None
    out = {"type": "thinking", "thinking": thinking_text(part, ctx, where), "signature": signature}
    return finish(out, part.extras, ctx, where)


def encode_server_part(
    part: ServerToolPart, where: str, ctx: Context, *, answer: bool
) -> dict[str, Any] | None:
    """A server-tool block: native ones as they came; a foreign web search call, in an
    answer, as a ``server_tool_use`` block with its query."""
    if part.source_format == FORMAT:
        return dict(part.raw)
    if part.kind == COMPACTION:
        block: dict[str, Any] | None = anthropic_block(part, where, ctx, answer=answer)
        return block
    action = part.raw.get("action")
    query = action.get("query") if isinstance(action, Mapping) else None
    if answer and part.tool == "web_search" and isinstance(query, str):
        ctx.lose(where, f"the {part.kind} results have no Anthropic form", "kept the query")
        return {
            "type": "server_tool_use",
            "id": _server_tool_id(part),
            "name": "web_search",
            "input": {"query": query},
        }
    ctx.lose(where, f"a {part.source_format} {part.kind} block has no Anthropic equivalent")
    return None


def _server_tool_id(part: ServerToolPart) -> str:
    """A ``srvtoolu_`` id for a foreign server call, the same for every encoding of it."""
    if part.id and part.id.startswith("srvtoolu_"):
        return part.id
    if part.id:
        return "srvtoolu_" + _ID_CHAR.sub("_", part.id)
    return "srvtoolu_" + hashlib.sha256(_json.dumps(dict(part.raw))).hexdigest()[:24]


def _image_source(part: ImagePart, where: str, ctx: Context) -> dict[str, Any] | None:
    if part.data is not None or (part.url is not None and part.url.startswith("data:")):
        media, data = _split_data_url(part.data or part.url or "", part.media_type)
        media = media or next((m for p, m in IMAGE_MAGIC.items() if data.startswith(p)), None)
        if media not in IMAGE_MAGIC.values():
            ctx.lose(where, f"Anthropic images are JPEG, PNG, GIF or WebP, not {media}")
            return None
        return {"type": "base64", "media_type": media, "data": data}
    if part.url is not None:
        return {"type": "url", "url": part.url}
    if part.file_id is not None:
        return {"type": "file", "file_id": part.file_id}
    ctx.lose(where, "the image has no data, URL or file id")
    return None


def _split_data_url(value: str, media_type: str | None) -> tuple[str | None, str]:
    """``(media type, base64 data)`` of a ``data:`` URL, or ``value`` itself when plain."""
    if not value.startswith("data:") or "," not in value:
        return media_type, value
    header, _, data = value[len("data:") :].partition(",")
    media, *params = header.split(";")
    if "base64" not in params:
        data = base64.b64encode(data.encode()).decode()
    return media or media_type, data


def _marked(
    out: dict[str, Any], part: TextPart | ImagePart | DocumentPart, ctx: Context, where: str
) -> Extras:
    """Write ``part``'s cache marker (its own, or a Chat/Responses breakpoint) into ``out``;
    the part's extras without the breakpoint carried."""
    extras, marker = anthropic_marker(part.cache_control, part.extras, ctx, where)
    if marker is not None:
        out["cache_control"] = marker
    return extras


def encode_image(part: ImagePart, where: str, ctx: Context) -> dict[str, Any] | None:
    """An ``image`` block (base64, URL or file source; ``data:`` URLs become base64)."""
    own = own_of(part.extras)
    source = own.get("source")
    if not isinstance(source, Mapping):
        source = _image_source(part, where, ctx)
        if source is None:
            return None
    if part.detail is not None:
        ctx.lose(f"{where}.detail", "Anthropic images have no detail setting")
    out: dict[str, Any] = {"type": "image", "source": dict(source)}
    return finish(out, _marked(out, part, ctx, where), ctx, where)


def _document_source(part: DocumentPart, where: str, ctx: Context) -> dict[str, Any] | None:
    if part.data is not None:
        media, data = _split_data_url(part.data, part.media_type)
        media = media or "application/pdf"
        if media == "application/pdf":
            return {"type": "base64", "media_type": media, "data": data}
        if media == "text/plain":
            try:
                text = base64.b64decode(data, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                ctx.lose(where, "the text document is not valid base64 UTF-8")
                return None
            return {"type": "text", "media_type": "text/plain", "data": text}
        ctx.lose(where, f"Anthropic documents hold PDF or plain text, not {media}")
        return None
    if part.text is not None:
        return {"type": "text", "media_type": "text/plain", "data": part.text}
    if part.url is not None:
        return {"type": "url", "url": part.url}
    if part.file_id is not None:
        return {"type": "file", "file_id": part.file_id}
    ctx.lose(where, "the document has no data, text, URL or file id")
    return None


def encode_document(part: DocumentPart, where: str, ctx: Context) -> dict[str, Any] | None:
    """A ``document`` block (PDF, plain text, URL, file; a filename becomes the title)."""
    own = own_of(part.extras)
    source = own.get("source")
    if not isinstance(source, Mapping):
        source = _document_source(part, where, ctx)
        if source is None:
            return None
    out: dict[str, Any] = {"type": "document", "source": dict(source)}
    title = part.title
    if part.filename is not None and part.filename != title:
        if title is None:
            title = part.filename
            ctx.lose(f"{where}.filename", "Anthropic documents have no filename", "sent as title")
        else:
            ctx.lose(f"{where}.filename", "Anthropic documents have no filename")
    if title is not None:
        out["title"] = title
    if part.context is not None:
        out["context"] = part.context
    if part.citations_enabled is not None:
        out["citations"] = {"enabled": part.citations_enabled}
    return finish(out, _marked(out, part, ctx, where), ctx, where)


def encode_tool_result(part: ToolResultPart, where: str, ctx: Context) -> dict[str, Any]:
    """A ``tool_result`` block; text, images and documents stay inside it."""
    own = own_of(part.extras)
    out: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": tool_id(part.call_id, f"{where}.tool_use_id", ctx, answer=False),
    }
    only_text = all(isinstance(p, TextPart) for p in part.content)
    plain = len(part.content) == 1 and is_plain_text(part.content[0])
    carried = own.get("content", own.get(SEARCH_RESULTS))
    if isinstance(carried, list):
        out["content"] = carried
    elif (own.get(CONTENT_STRING) and only_text) or (plain and not own.get(CONTENT_LIST)):
        out["content"] = part.text
    elif part.content or own.get(CONTENT_LIST):
        blocks = (
            encode_part(p, f"{where}.content[{i}]", ctx, answer=False)
            for i, p in enumerate(part.content)
        )
        out["content"] = [b for b in blocks if b is not None]
    if part.is_error:
        out["is_error"] = True
    if part.cache_control is not None:
        out["cache_control"] = dict(part.cache_control)
    return finish(out, part.extras, ctx, where)
