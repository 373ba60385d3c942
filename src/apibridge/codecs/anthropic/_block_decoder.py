"""Anthropic content blocks → canonical parts, for requests, answers and streams.

Theory of operation
-------------------
:func:`decode_block` dispatches on the block ``type`` (table ``_BLOCK_DECODERS``): ``text`` →
:class:`TextPart`, ``image`` → :class:`ImagePart`, ``document`` → :class:`DocumentPart`,
``tool_use`` → :class:`ToolCallPart`, ``tool_result`` → :class:`ToolResultPart`, ``thinking``
→ :class:`ThinkingPart` (reasoning envelopes opened again), ``redacted_thinking`` →
:class:`RedactedThinkingPart`; every other block type (``server_tool_use``,
``web_search_tool_result``, ``search_result``, ``container_upload``, types this version does
not know) is carried whole as a :class:`ServerToolPart`. Unmapped fields and spelling hints
go to ``extras["anthropic"]`` (see ``_wire``), so that ``_block_encoder`` writes the block
back exactly.

In an *answer* (``answer=True``) a call to a client's free-form (Responses ``custom``) tool
is unwrapped from ``{"input": text}`` (``codecs._custom_tools``). An empty text block an
Anthropic body really had is marked (hint ``EMPTY_TEXT``) so that it is kept; a stream's
``content_block_start`` text is always empty and is not marked. A ``source`` the model cannot
hold exactly is also kept whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from apibridge._json import dumps_str
from apibridge.codecs._compaction import KIND as COMPACTION
from apibridge.codecs._compaction import compaction_part
from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    expect_str,
    new_id,
    opt_str,
    str_or_none,
)
from apibridge.codecs._custom_tools import custom_tool_names, unwrap_call
from apibridge.codecs._server_text import flatten_search_result
from apibridge.codecs._tool_search import reference_text
from apibridge.codecs.anthropic._wire import (
    CONTENT_LIST,
    CONTENT_STRING,
    EMPTY_TEXT,
    FORMAT,
    SEARCH_RESULTS,
    Own,
    cache_control,
    decode_citation,
    json_text,
)
from apibridge.codecs.envelope import DIALECT_ORIGINS, dialect_extras, open_envelope
from apibridge.errors import InvalidPayload
from apibridge.model import (
    Citation,
    ContentPart,
    DocumentPart,
    Extras,
    ImagePart,
    RedactedThinkingPart,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = [
    "SERVER_BLOCK_TOOLS",
    "SERVER_TOOL_NAMES",
    "THINKING_KEYS",
    "TOOL_USE_KEYS",
    "decode_block",
    "decode_blocks",
    "decode_text",
    "server_part",
    "string_text",
    "thinking_part",
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
#: The fields of a ``tool_use`` block that the model maps (the rest go to extras).
TOOL_USE_KEYS: Final = frozenset({"type", "id", "name", "input", "cache_control"})
_TOOL_RESULT_KEYS: Final = frozenset(
    {"type", "tool_use_id", "content", "is_error", "cache_control"}
)
#: The fields of a ``thinking`` block that the model maps.
THINKING_KEYS: Final = frozenset({"type", "thinking", "signature"})
_REDACTED_KEYS: Final = frozenset({"type", "data"})
#: Image/document ``source`` type → the keys that map onto the canonical part.
_SOURCE_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "base64": frozenset({"type", "media_type", "data"}),
    "url": frozenset({"type", "url"}),
    "file": frozenset({"type", "file_id"}),
    "text": frozenset({"type", "media_type", "data"}),
}


def decode_block(value: Any, where: str, ctx: Context, *, answer: bool = False) -> ContentPart:
    """One content block as a canonical part (see the module docstring for the table)."""
    block = expect_obj(value, where)
    kind = expect_str(block.get("type"), f"{where}.type")
    decoder = _BLOCK_DECODERS.get(kind)
    if decoder is None:
        return server_part(block)
    part: ContentPart = decoder(block, where, ctx, answer)
    return part


def decode_blocks(
    values: Sequence[Any], ctx: Context, where: str, index: int = 0, *, answer: bool = False
) -> tuple[ContentPart, ...]:
    """A ``content`` array as canonical parts; block ``j`` is named ``where.format(index, j)``.

    Hot path: the common shapes (text, tool_use, tool_result with string or text content,
    thinking, each without unknown fields) are built inline; anything else, including every
    malformed block, goes through :func:`decode_block`, which builds the same part or raises
    the error. The location string is only built for that slower path.
    """
    parts: list[ContentPart] = []
    append = parts.append
    names: frozenset[str] | None = None  # the client's free-form tools, looked up once
    for j, b in enumerate(values):
        if type(b) is dict:
            kind = b.get("type")
            if kind == "text":
                text = b.get("text")
                if type(text) is str and text:
                    size = len(b)
                    if size == 2:
                        append(TextPart(text=text))
                        continue
                    control = b.get("cache_control")
                    if size == 3 and type(control) is dict:
                        append(TextPart(text=text, cache_control=control))
                        continue
            elif kind == "tool_use":
                ident, name, raw_input = b.get("id"), b.get("name"), b.get("input")
                size = len(b)
                control = b.get("cache_control") if size == 5 else None
                if (
                    type(ident) is str
                    and ident
                    and type(name) is str
                    and type(raw_input) is dict
                    and (size == 4 or (size == 5 and type(control) is dict))
                ):
                    arguments = dumps_str(raw_input)
                    call = ToolCallPart(
                        id=ident, name=name, arguments=arguments, cache_control=control
                    )
                    if answer:
                        if names is None:
                            names = custom_tool_names(ctx)
                        if name in names:
                            call = unwrap_call(call, names)
                    append(call)
                    continue
            elif kind == "tool_result":
                result = _plain_tool_result(b)
                if result is not None:
                    append(result)
                    continue
            elif kind == "thinking":
                text, signature = b.get("thinking"), b.get("signature")
                if len(b) == 3 and type(text) is str and type(signature) is str:
                    append(thinking_part(text, signature, {}))
                    continue
        append(decode_block(b, where.format(index, j), ctx, answer=answer))
    return tuple(parts)


def _plain_tool_result(b: dict[str, Any]) -> ToolResultPart | None:
    """A ``tool_result`` block of the common shape (no unknown, empty or cached fields; string
    content or text blocks), or ``None`` for :func:`decode_block` to decode."""
    call_id, content, is_error = b.get("tool_use_id"), b.get("content"), b.get("is_error")
    if type(call_id) is not str or len(b) != (4 if is_error is True else 3):
        return None
    if type(content) is str:
        if not content:
            return None
        return ToolResultPart(
            call_id=call_id,
            content=(TextPart(text=content),),
            is_error=is_error is True,
            extras={FORMAT: {CONTENT_STRING: True}},
        )
    if type(content) is not list:
        return None
    texts = []
    for item in content:
        if type(item) is not dict or len(item) != 2 or item.get("type") != "text":
            return None
        text = item.get("text")
        if type(text) is not str or not text:
            return None
        texts.append(TextPart(text=text))
    return ToolResultPart(
        call_id=call_id,
        content=tuple(texts),
        is_error=is_error is True,
        extras={FORMAT: {CONTENT_LIST: True}},
    )


def server_part(block: Mapping[str, Any]) -> ServerToolPart:
    """A block carried whole: server tools, search results and block types not yet known."""
    kind = str(block.get("type"))
    if kind == COMPACTION:  # maybe a Responses compaction item in its envelope
        return compaction_part(block, FORMAT)
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
        title=opt_str(b.get("title"), f"{where}.title"),
        context=opt_str(b.get("context"), f"{where}.context"),
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
    own = Own(b, TOOL_USE_KEYS)
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
        carried_whole = opaque = False
        referenced: list[str] = []
        for i, item in enumerate(expect_list(content, f"{where}.content")):
            part = decode_block(item, f"{where}.content[{i}]", ctx)
            if isinstance(part, TextPart | ImagePart | DocumentPart):
                parts.append(part)
                continue
            # search_result, tool_reference …: the list is kept as it came; a search result
            # also stands as its text for other formats (``codecs._server_text``)
            carried_whole = True
            kind = part.kind if isinstance(part, ServerToolPart) else None
            flat = flatten_search_result(item) if kind == "search_result" else None
            if flat is not None:
                parts.append(_with_lost_fields(flat, item))
                continue
            opaque = True
            if item.get("type") == "tool_reference" and isinstance(item.get("tool_name"), str):
                referenced.append(item["tool_name"])
        if carried_whole:
            # data other formats report when something has no text form; a hint otherwise
            own.set("content" if opaque else SEARCH_RESULTS, list(content))
        if referenced:  # (ToolSearch) what a format without tool references gets instead
            parts.append(TextPart(text=reference_text(referenced)))
    elif "content" in b:
        own.empties(b, ("content",))
    is_error = b.get("is_error", False)
    if not isinstance(is_error, bool):  # stricter than opt_bool: ``null`` is refused too
        raise InvalidPayload(f"{where}.is_error: expected a boolean")
    return ToolResultPart(
        call_id=expect_str(b.get("tool_use_id"), f"{where}.tool_use_id"),
        content=tuple(parts),
        is_error=is_error,
        cache_control=cache_control(b, where),
        extras=own.extras(),
    )


def _with_lost_fields(flat: TextPart, block: Mapping[str, Any]) -> TextPart:
    """A search result's text, with what the text does not say (its citation switch, cache
    marker) as data another format's encoder reports."""
    rest = {k: block[k] for k in ("citations", "cache_control") if block.get(k) is not None}
    return TextPart(text=flat.text, extras={FORMAT: {"search_result": rest}} if rest else {})


def _decode_thinking(b: Mapping[str, Any], where: str, ctx: Context, answer: bool) -> ThinkingPart:
    text = expect_str(b.get("thinking", ""), f"{where}.thinking")
    signature = opt_str(b.get("signature"), f"{where}.signature")
    own = Own(b, THINKING_KEYS)
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
    if envelope.origin in DIALECT_ORIGINS:  # Chat reasoning_details or think tags; Gemini's
        return ThinkingPart(text=text, extras={**extras, **dialect_extras(envelope)})
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
