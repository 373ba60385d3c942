"""Anthropic content blocks ⇄ canonical parts, for requests, answers and streams.

Theory of operation
-------------------
* **Blocks → parts** (:func:`decode_block`): ``text`` → :class:`TextPart`, ``image`` →
  :class:`ImagePart`, ``document`` → :class:`DocumentPart`, ``tool_use`` →
  :class:`ToolCallPart`, ``tool_result`` → :class:`ToolResultPart`, ``thinking`` →
  :class:`ThinkingPart` (reasoning envelopes opened), ``redacted_thinking`` →
  :class:`RedactedThinkingPart`; every other block type (``server_tool_use``,
  ``web_search_tool_result``, ``search_result``, ``container_upload``, types this version does
  not know) is carried whole as a :class:`ServerToolPart`. Unmapped fields and spelling
  hints go to ``extras["anthropic"]`` (see ``codecs._anthropic_wire``).
* **Parts → blocks** (:func:`encode_part`) in two modes: *request* (the blocks go to an
  Anthropic upstream, which verifies signatures and citations: thinking without a native
  signature and foreign citations are omitted, with a loss) and *answer* (the blocks go to a
  Claude client: reasoning always carries a signature, native or a reasoning envelope; a
  foreign web search call becomes a ``server_tool_use`` block with its query).
* A client's free-form (Responses ``custom``) tool travels as ``{"input": text}``; answers
  to that client unwrap it again (``codecs._custom_tools``, shared with the other codecs).
* Empty text parts from other APIs leave no block (Anthropic rejects empty text blocks, and a
  stream never opens one); an empty block an Anthropic body really had is kept.

Deliberately not carried to Anthropic (reported with ``ctx.lose``): image ``detail``,
documents that are neither PDF nor text, images that are not JPEG, PNG, GIF or WebP, a
document's ``filename`` (it becomes the title when there is none).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from apibridge import _json
from apibridge.codecs._context import Context, expect_list, expect_obj, expect_str, new_id
from apibridge.codecs._custom_tools import custom_tool_names, unwrap_call, wrap_input
from apibridge.codecs.anthropic._wire import (
    CONTENT_LIST,
    CONTENT_STRING,
    EMPTY_TEXT,
    FORMAT,
    Own,
    cache_control,
    decode_citation,
    encode_citation,
    finish,
    json_text,
    lose_foreign,
    optional_str,
    own_of,
    str_or_none,
)
from apibridge.codecs.envelope import Envelope, open_envelope, seal
from apibridge.errors import InvalidPayload
from apibridge.model import (
    Citation,
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
    "SERVER_BLOCK_TOOLS",
    "SERVER_TOOL_NAMES",
    "answer_signature",
    "decode_block",
    "decode_text",
    "encode_part",
    "encode_server_part",
    "encode_text",
    "is_plain_text",
    "server_part",
    "string_text",
    "thinking_part",
    "tool_id",
]

#: Server-tool block type → the canonical tool it belongs to.
SERVER_BLOCK_TOOLS: Final[Mapping[str, str]] = {
    "web_search_tool_result": "web_search",
    "web_fetch_tool_result": "web_fetch",
    "code_execution_tool_result": "code_execution",
    "bash_code_execution_tool_result": "code_execution",
    "text_editor_code_execution_tool_result": "code_execution",
    "tool_search_tool_result": "tool_search",
}

#: ``server_tool_use`` names → canonical tool.
SERVER_TOOL_NAMES: Final[Mapping[str, str]] = {
    "web_search": "web_search",
    "web_fetch": "web_fetch",
    "code_execution": "code_execution",
    "bash_code_execution": "code_execution",
    "text_editor_code_execution": "code_execution",
    "tool_search_tool_regex": "tool_search",
    "tool_search_tool_bm25": "tool_search",
}

_TEXT_KEYS: Final = frozenset({"type", "text", "citations", "cache_control"})
_IMAGE_KEYS: Final = frozenset({"type", "source", "cache_control"})
_DOCUMENT_KEYS: Final = frozenset(
    {"type", "source", "title", "context", "citations", "cache_control"}
)
_TOOL_USE_KEYS: Final = frozenset({"type", "id", "name", "input", "cache_control"})
_TOOL_RESULT_KEYS: Final = frozenset(
    {"type", "tool_use_id", "content", "is_error", "cache_control"}
)
_THINKING_KEYS: Final = frozenset({"type", "thinking", "signature"})
_REDACTED_KEYS: Final = frozenset({"type", "data"})
#: Image/document ``source`` type → the keys that map onto the canonical part.
_SOURCE_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "base64": frozenset({"type", "media_type", "data"}),
    "url": frozenset({"type", "url"}),
    "file": frozenset({"type", "file_id"}),
    "text": frozenset({"type", "media_type", "data"}),
}

#: The image types Anthropic accepts, and how their base64 data begins.
IMAGE_MAGIC: Final[Mapping[str, str]] = {
    "/9j/": "image/jpeg",
    "iVBORw0KGgo": "image/png",
    "R0lGOD": "image/gif",
    "UklGR": "image/webp",
}
_ID_CHAR: Final = re.compile(r"[^A-Za-z0-9_-]")


# --------------------------------------------------------------------------- block decoding


def decode_block(value: Any, where: str, ctx: Context, *, answer: bool = False) -> ContentPart:
    """One content block as a canonical part (see the module docstring for the table)."""
    block = expect_obj(value, where)
    kind = expect_str(block.get("type"), f"{where}.type")
    decoder = _BLOCK_DECODERS.get(kind)
    if decoder is None:
        return server_part(block)
    part: ContentPart = decoder(block, where, ctx, answer)
    return part


def server_part(block: Mapping[str, Any]) -> ServerToolPart:
    """A block carried whole: server tools, search results and block types not yet known."""
    kind = str(block.get("type"))
    tool = SERVER_BLOCK_TOOLS.get(kind)
    if kind == "server_tool_use":
        tool = SERVER_TOOL_NAMES.get(str(block.get("name")))
    ident = block.get("id", block.get("tool_use_id"))
    return ServerToolPart(
        kind=kind,
        raw=dict(block),
        source_format=FORMAT,
        tool=tool,
        id=ident if isinstance(ident, str) else None,
    )


def string_text(text: str) -> TextPart:
    """The text part a string ``content`` stands for (an empty one kept, as it came)."""
    return TextPart(text=text, extras={} if text else {FORMAT: {EMPTY_TEXT: True}})


def is_plain_text(part: Any) -> bool:
    """Whether ``part`` is text alone (no citations, cache control or unknown fields), so a
    plain string can stand for it."""
    return (
        isinstance(part, TextPart)
        and not part.citations
        and part.cache_control is None
        and not any(not k.startswith("_") for fields in part.extras.values() for k in fields)
    )


def _decode_text(b: Mapping[str, Any], where: str, ctx: Context, answer: bool) -> TextPart:
    return decode_text(b, where, mark_empty=True)


def decode_text(b: Mapping[str, Any], where: str, *, mark_empty: bool) -> TextPart:
    """A ``text`` block; ``mark_empty`` keeps an empty one (a stream's start is always empty)."""
    cites = b.get("citations")
    citations: tuple[Citation, ...] = ()
    if cites is not None:
        citations = tuple(
            decode_citation(c, f"{where}.citations[{i}]")
            for i, c in enumerate(expect_list(cites, f"{where}.citations"))
        )
    own = Own(b, _TEXT_KEYS)
    own.empties(b, ("citations", "cache_control"))
    text = expect_str(b.get("text"), f"{where}.text")
    if mark_empty and not text:
        own.set(EMPTY_TEXT)
    return TextPart(
        text=text,
        citations=citations,
        cache_control=cache_control(b, where),
        extras=own.extras(),
    )


def _decode_image(b: Mapping[str, Any], where: str, ctx: Context, answer: bool) -> ImagePart:
    own = Own(b, _IMAGE_KEYS)
    own.empties(b, ("cache_control",))
    source = _source(b, where, own)
    media = source.get("media_type")
    return ImagePart(
        url=str_or_none(source.get("url")),
        media_type=str_or_none(media),
        data=str_or_none(source.get("data")),
        file_id=str_or_none(source.get("file_id")),
        cache_control=cache_control(b, where),
        extras=own.extras(),
    )


def _decode_document(b: Mapping[str, Any], where: str, ctx: Context, answer: bool) -> DocumentPart:
    own = Own(b, _DOCUMENT_KEYS)
    own.empties(b, ("cache_control", "title", "context"))
    source = _source(b, where, own)
    kind = source.get("type")
    text: str | None = None
    data = str_or_none(source.get("data"))
    if kind == "text":
        text, data = data, None
    elif kind == "content":
        text = _content_source_text(source.get("content"))
    enabled: bool | None = None
    cites = b.get("citations")
    if (
        isinstance(cites, Mapping)
        and set(cites) == {"enabled"}
        and isinstance(cites["enabled"], bool)
    ):
        enabled = cites["enabled"]
    elif cites is not None:
        own.set("citations", cites)  # an unusual shape: carried as it came
    elif "citations" in b:
        own.empties(b, ("citations",))
    return DocumentPart(
        media_type=str_or_none(source.get("media_type")),
        data=data,
        url=str_or_none(source.get("url")),
        text=text,
        file_id=str_or_none(source.get("file_id")),
        title=optional_str(b.get("title"), f"{where}.title"),
        context=optional_str(b.get("context"), f"{where}.context"),
        citations_enabled=enabled,
        cache_control=cache_control(b, where),
        extras=own.extras(),
    )


def _source(b: Mapping[str, Any], where: str, own: Own) -> Mapping[str, Any]:
    """The block's ``source``; one the model cannot hold exactly is also kept whole."""
    source = expect_obj(b.get("source"), f"{where}.source")
    known = _SOURCE_KEYS.get(str(source.get("type")))
    if known is None or not set(source) <= known:
        own.set("source", dict(source))
    return source


def _content_source_text(content: Any) -> str | None:
    """The text of a ``content`` document source (what a text-only target can receive)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            c["text"]
            for c in content
            if isinstance(c, Mapping) and c.get("type") == "text" and isinstance(c.get("text"), str)
        ]
        return "\n\n".join(texts)
    return None


def _decode_tool_use(b: Mapping[str, Any], where: str, ctx: Context, answer: bool) -> ToolCallPart:
    ident = b.get("id")
    name = expect_str(b.get("name"), f"{where}.name")
    raw_input = b.get("input", {})
    if isinstance(raw_input, str):  # some clients send the JSON text itself
        arguments = raw_input
    else:
        arguments = json_text(expect_obj(raw_input, f"{where}.input"))
    own = Own(b, _TOOL_USE_KEYS)
    own.empties(b, ("cache_control",))
    part = ToolCallPart(
        id=ident if isinstance(ident, str) and ident else new_id("toolu_"),
        name=name,
        arguments=arguments,
        cache_control=cache_control(b, where),
        extras=own.extras(),
    )
    return unwrap_call(part, custom_tool_names(ctx)) if answer else part


def _decode_tool_result(
    b: Mapping[str, Any], where: str, ctx: Context, answer: bool
) -> ToolResultPart:
    own = Own(b, _TOOL_RESULT_KEYS)
    own.empties(b, ("cache_control", "is_error"))
    content = b.get("content")
    parts: list[TextPart | ImagePart | DocumentPart] = []
    if isinstance(content, str):
        parts.append(string_text(content))
        own.set(CONTENT_STRING)
    elif content is not None:
        own.set(CONTENT_LIST)
        carried_whole = False
        for i, item in enumerate(expect_list(content, f"{where}.content")):
            part = decode_block(item, f"{where}.content[{i}]", ctx)
            if isinstance(part, TextPart | ImagePart | DocumentPart):
                parts.append(part)
            else:  # search_result, tool_reference …: the list is kept as it came
                carried_whole = True
        if carried_whole:
            own.set("content", list(content))
    elif "content" in b:
        own.empties(b, ("content",))
    is_error = b.get("is_error", False)
    if not isinstance(is_error, bool):
        raise InvalidPayload(f"{where}.is_error: expected a boolean")
    return ToolResultPart(
        call_id=expect_str(b.get("tool_use_id"), f"{where}.tool_use_id"),
        content=tuple(parts),
        is_error=is_error,
        cache_control=cache_control(b, where),
        extras=own.extras(),
    )


def _decode_thinking(b: Mapping[str, Any], where: str, ctx: Context, answer: bool) -> ThinkingPart:
    text = expect_str(b.get("thinking", ""), f"{where}.thinking")
    signature = optional_str(b.get("signature"), f"{where}.signature")
    own = Own(b, _THINKING_KEYS)
    return thinking_part(text, signature, own.extras())


def thinking_part(text: str, signature: str | None, extras: Extras) -> ThinkingPart:
    """A thinking part whose signature, if it is a reasoning envelope, is opened again."""
    envelope = open_envelope(signature)
    if envelope is None:
        return ThinkingPart(text=text, signature=signature, extras=extras)
    if envelope.origin == "responses":
        return ThinkingPart(
            text=text, encrypted_content=envelope.data, id=envelope.id, extras=extras
        )
    if envelope.origin == FORMAT:
        return ThinkingPart(text=text, signature=envelope.data, id=envelope.id, extras=extras)
    return ThinkingPart(text=text, id=envelope.id, extras=extras)  # origin "none": unsigned


def _decode_redacted(
    b: Mapping[str, Any], where: str, ctx: Context, answer: bool
) -> RedactedThinkingPart:
    own = Own(b, _REDACTED_KEYS)
    return RedactedThinkingPart(
        data=expect_str(b.get("data"), f"{where}.data"), extras=own.extras()
    )


_BLOCK_DECODERS: Final[Mapping[str, Any]] = {
    "text": _decode_text,
    "image": _decode_image,
    "document": _decode_document,
    "tool_use": _decode_tool_use,
    "tool_result": _decode_tool_result,
    "thinking": _decode_thinking,
    "redacted_thinking": _decode_redacted,
}


# --------------------------------------------------------------------------- block encoding


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
        ctx.lose(where, f"an answer cannot hold a {type(part).__name__}")
        return None
    if isinstance(part, ImagePart):
        return encode_image(part, where, ctx)
    if isinstance(part, DocumentPart):
        return encode_document(part, where, ctx)
    return encode_tool_result(part, where, ctx)


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
    if part.cache_control is not None:  # (in an answer too: valid when sent back as history)
        out["cache_control"] = dict(part.cache_control)
    return finish(out, part.extras, ctx, where)


def tool_input(part: ToolCallPart, where: str, ctx: Context) -> dict[str, Any]:
    """The ``input`` object of a ``tool_use`` block for ``part``'s raw arguments."""
    if part.kind == "custom":
        # Free-form input travels as one string field; the answer path unwraps it again.
        return wrap_input(part.arguments)
    if not part.arguments.strip():
        return {}
    try:
        value = orjson.loads(part.arguments)
    except orjson.JSONDecodeError:
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
    if part.cache_control is not None:
        out["cache_control"] = dict(part.cache_control)
    return finish(out, part.extras, ctx, where)


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
    if part.cache_control is not None:
        out["cache_control"] = dict(part.cache_control)
    return finish(out, part.extras, ctx, where)


def encode_tool_result(part: ToolResultPart, where: str, ctx: Context) -> dict[str, Any]:
    """A ``tool_result`` block; text, images and documents stay inside it."""
    own = own_of(part.extras)
    out: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": tool_id(part.call_id, f"{where}.tool_use_id", ctx, answer=False),
    }
    only_text = all(isinstance(p, TextPart) for p in part.content)
    plain = len(part.content) == 1 and is_plain_text(part.content[0])
    carried = own.get("content")
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
