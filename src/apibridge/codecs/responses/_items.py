"""Responses items and content parts ↔ canonical parts (for requests, answers and streams).

Theory of operation
-------------------
A Responses conversation is a flat list of *items* (``message``, ``function_call``,
``function_call_output``, ``reasoning``, ``web_search_call`` …); the canonical model has turns
(:class:`~apibridge.model.Message`) holding *parts*. Decoding maps each item to the parts it
holds (a message item gives one part per content entry, every other item exactly one part);
:mod:`apibridge.codecs.responses` then folds consecutive items of the same side into one turn.
Encoding walks the parts and opens a new item wherever the previous one cannot take the part:
consecutive text-like parts (text, refusal, image, file) share one message item, every other
part is an item of its own.

Exactness for a same-format trip rests on a few ``_``-prefixed hints in ``extras["responses"]``:

* ``_item``: on the first part decoded from an item, the item's own fields that no part field
  holds (``id``, ``type``, ``status``, ``phase`` …); it also marks where a new item begins;
* ``_content_string``: the message content was a plain string, not a list of parts;
* ``_absent``: keys that this codec writes by default but that the original did not have
  (``detail`` on an image, ``annotations`` on ``output_text``, ``strict`` on a tool …);
* ``_sealed``: the reasoning envelope exactly as received, reused while it still says the same;
* ``_content_lengths``: the lengths of the ``reasoning_text`` pieces a reasoning text came in.

Reasoning follows the envelope table of ``docs/canonical.md``: Anthropic signatures and
redacted thinking travel sealed in ``encrypted_content``; an envelope is opened on decode, so
the canonical model only ever holds native values.

Output items the canonical answer does not name get ids derived from the response id and the
item's position (:class:`ItemIds`), so a streamed and a non-streamed encoding of the same
answer agree, and the ids stay stable from ``.added`` to ``.done`` to the final ``output``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import attrs

from apibridge.codecs._context import Context, expect_list, expect_obj, expect_str, new_id
from apibridge.codecs.envelope import Envelope, open_envelope, seal
from apibridge.codecs.responses._wire import (
    CALL_ITEMS,
    FORMAT,
    SERVER_TOOL_NAMES,
    USER_SIDE_ITEMS,
    absent_keys,
    decode_annotation,
    encode_annotation,
    finish,
    hints,
    lose_foreign,
    opt_str,
    pack,
    part_hints,
    split,
)
from apibridge.errors import InvalidPayload
from apibridge.model import (
    Citation,
    ContentPart,
    DocumentPart,
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
    "ItemIds",
    "decode_content",
    "decode_item",
    "decode_message",
    "decode_reasoning",
    "encode_content",
    "encode_item",
    "encode_parts",
    "encode_reasoning",
    "is_blank",
    "is_message",
    "is_textlike",
    "item_side",
    "new_message",
    "with_hints",
]

_DATA_URL = re.compile(r"data:([^;,]*);base64,(.*)", re.DOTALL)

#: Default file names for documents sent as ``file_data`` (OpenAI wants a name with it).
_DOC_NAMES: Mapping[str, str] = {
    "application/pdf": "document.pdf",
    "text/plain": "document.txt",
    "text/markdown": "document.md",
    "text/html": "document.html",
    "text/csv": "document.csv",
    "application/json": "document.json",
}


# ------------------------------------------------------------------------ content parts


def _data_url(value: str) -> tuple[str, str] | None:
    match = _DATA_URL.fullmatch(value)
    return (match.group(1), match.group(2)) if match else None


def decode_content(entry: Any, role: str, where: str) -> ContentPart:
    """One entry of a message's content list as a canonical part."""
    obj = expect_obj(entry, where)
    kind = expect_str(obj.get("type"), f"{where}.type")
    default_text = "output_text" if role == "assistant" else "input_text"
    if kind in ("input_text", "output_text"):
        extra = split(obj, ("type", "text", "annotations"))
        if kind != default_text:
            extra["_type"] = kind
        if obj.get("text") == "":
            extra["_kept"] = True  # an empty text that was sent stays (see ``is_blank``)
        citations: tuple[Citation, ...] = ()
        if kind == "output_text":
            anns = obj.get("annotations")
            if "annotations" not in obj:
                extra["_absent"] = ["annotations"]
            elif anns is not None:
                citations = tuple(
                    decode_annotation(a, f"{where}.annotations[{i}]")
                    for i, a in enumerate(expect_list(anns, f"{where}.annotations"))
                )
        return TextPart(
            text=expect_str(obj.get("text"), f"{where}.text"),
            citations=citations,
            extras=pack(extra),
        )
    if kind == "refusal":
        return RefusalPart(
            text=expect_str(obj.get("refusal"), f"{where}.refusal"),
            extras=pack(split(obj, ("type", "refusal"))),
        )
    if kind == "input_image":
        return _decode_image(obj, where)
    if kind == "input_file":
        return _decode_file(obj, where)
    # Audio and whatever comes next: carried opaquely in place.
    return ServerToolPart(kind=f"content.{kind}", raw=dict(obj), source_format=FORMAT)


def _decode_image(obj: Mapping[str, Any], where: str) -> ImagePart:
    extra = split(obj, ("type", "image_url", "file_id", "detail"))
    absent = absent_keys(obj, ("detail",))
    if absent:
        extra["_absent"] = absent
    url = opt_str(obj.get("image_url"), f"{where}.image_url")
    media_type = data = None
    if url is not None and (parsed := _data_url(url)) is not None:
        media_type, data = parsed
        url = None
    return ImagePart(
        url=url,
        media_type=media_type,
        data=data,
        file_id=opt_str(obj.get("file_id"), f"{where}.file_id"),
        detail=opt_str(obj.get("detail"), f"{where}.detail"),
        extras=pack(extra),
    )


def _decode_file(obj: Mapping[str, Any], where: str) -> DocumentPart:
    extra = split(obj, ("type", "file_data", "file_id", "file_url", "filename"))
    raw = opt_str(obj.get("file_data"), f"{where}.file_data")
    media_type = data = None
    if raw is not None:
        parsed = _data_url(raw)
        if parsed is None:
            data, extra["_raw_file_data"] = raw, True
        else:
            media_type, data = parsed
    return DocumentPart(
        media_type=media_type,
        data=data,
        url=opt_str(obj.get("file_url"), f"{where}.file_url"),
        file_id=opt_str(obj.get("file_id"), f"{where}.file_id"),
        filename=opt_str(obj.get("filename"), f"{where}.filename"),
        extras=pack(extra),
    )


def _lose_cache(part: Any, ctx: Context, where: str) -> None:
    if getattr(part, "cache_control", None) is not None:
        ctx.lose(f"{where}.cache_control", "responses caches prompts on its own")


def encode_content(part: ContentPart, role: str, ctx: Context, where: str) -> dict[str, Any] | None:
    """A text-like part as a message content entry (``None``: it cannot be held; reported)."""
    assistant = role == "assistant"
    if isinstance(part, ServerToolPart):
        return dict(part.raw)
    if isinstance(part, TextPart):
        own = hints(part.extras)
        kind = own.get("_type") or ("output_text" if assistant else "input_text")
        out: dict[str, Any] = {"type": kind, "text": part.text}
        if kind == "output_text":
            anns = (
                encode_annotation(c, len(part.text), ctx, f"{where}.citations[{i}]")
                for i, c in enumerate(part.citations)
            )
            out["annotations"] = [a for a in anns if a is not None]
        elif part.citations:
            ctx.lose(f"{where}.citations", "input text cannot carry citations")
    elif isinstance(part, RefusalPart):
        if not assistant:
            ctx.lose(where, f"a refusal cannot appear in a {role} message")
            return None
        out = {"type": "refusal", "refusal": part.text}
    elif isinstance(part, ImagePart):
        if assistant:
            ctx.lose(where, "responses assistant messages cannot hold images")
            return None
        out = _encode_image(part)
    else:
        assert isinstance(part, DocumentPart)
        if assistant:
            ctx.lose(where, "responses assistant messages cannot hold files")
            return None
        out = _encode_file(part, ctx, where)
    _lose_cache(part, ctx, where)
    lose_foreign(ctx, part.extras, where)
    finish(out, part.extras)
    return out


def _encode_image(part: ImagePart) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "input_image"}
    if part.data is not None:
        out["image_url"] = f"data:{part.media_type or 'image/png'};base64,{part.data}"
    elif part.url is not None:
        out["image_url"] = part.url
    if part.file_id is not None:
        out["file_id"] = part.file_id
    # The SDK's request type requires ``detail``; the API's own default is ``auto``.
    out["detail"] = part.detail or "auto"
    return out


def _encode_file(part: DocumentPart, ctx: Context, where: str) -> dict[str, Any]:
    own = hints(part.extras)
    if part.text is not None and part.data is None and part.url is None and part.file_id is None:
        ctx.lose(where, "responses files cannot be plain text", "sent as input_text")
        return {"type": "input_text", "text": part.text}
    out: dict[str, Any] = {"type": "input_file"}
    if part.data is not None:
        if own.get("_raw_file_data") or part.media_type is None:
            out["file_data"] = part.data
        else:
            out["file_data"] = f"data:{part.media_type};base64,{part.data}"
    if part.url is not None:
        out["file_url"] = part.url
    if part.file_id is not None:
        out["file_id"] = part.file_id
    name = part.filename or part.title
    if name is None and part.data is not None:
        name = _DOC_NAMES.get(part.media_type or "", "document")
    if name is not None:
        out["filename"] = name
    if part.context is not None:
        ctx.lose(f"{where}.context", "responses files have no context field")
    if part.citations_enabled:
        ctx.lose(f"{where}.citations_enabled", "responses files have no citation switch")
    return out


# ------------------------------------------------------------------------------- items


def with_hints(part: ContentPart, **more: Any) -> ContentPart:
    """``part`` with hints added (server-tool parts, which have no extras, stay as they are)."""
    if isinstance(part, ServerToolPart):
        return part
    extras = {**part.extras, FORMAT: {**part_hints(part), **more}}
    # ``evolve`` is typed per class; the union of part classes all have ``extras``.
    updated: ContentPart = attrs.evolve(cast(Any, part), extras=extras)
    return updated


def decode_message(item: Mapping[str, Any], role: str, where: str) -> list[ContentPart]:
    """The parts of a message item; the first carries the item's own fields (``_item``)."""
    item_fields = split(item, ("role", "content"))
    content = item.get("content")
    if isinstance(content, str):
        own = {"_item": item_fields, "_content_string": True}
        return [TextPart(text=content, extras=pack(own))]
    entries = expect_list(content, f"{where}.content")
    parts = [decode_content(e, role, f"{where}.content[{j}]") for j, e in enumerate(entries)]
    if not parts or isinstance(parts[0], ServerToolPart):
        # Nothing to carry the item's fields: an empty marker part opens the item.
        return [TextPart(text="", extras=pack({"_item": item_fields, "_empty": True})), *parts]
    return [with_hints(parts[0], _item=item_fields), *parts[1:]]


def is_message(item: Mapping[str, Any]) -> bool:
    """Whether ``item`` is a message (``type: "message"``, or a bare ``role``)."""
    return item.get("type") == "message" or ("type" not in item and "role" in item)


def item_side(item: Mapping[str, Any]) -> str:
    """The conversation side of a non-message item: ``user`` or ``assistant``."""
    kind = item.get("type")
    return "user" if kind in USER_SIDE_ITEMS else "assistant"


def _item_hint(obj: Mapping[str, Any], mapped: Iterable[str]) -> dict[str, Any]:
    return {"_item": split(obj, mapped)}


def decode_item(item: Mapping[str, Any], where: str) -> ContentPart:
    """A non-message item as its one canonical part."""
    kind = expect_str(item.get("type"), f"{where}.type")
    if kind in CALL_ITEMS:
        custom = kind == "custom_tool_call"
        field = "input" if custom else "arguments"
        mapped = ("type", "call_id", "name", field, "id")
        extra = _item_hint(item, mapped)
        absent = absent_keys(item, ("id", "status"))
        if absent:  # an answer's calls are written with both unless they came without
            extra["_absent"] = absent
        return ToolCallPart(
            id=opt_str(item.get("call_id"), f"{where}.call_id") or new_id("call_"),
            name=expect_str(item.get("name"), f"{where}.name"),
            arguments=expect_str(item.get(field, ""), f"{where}.{field}"),
            kind="custom" if custom else "function",
            item_id=opt_str(item.get("id"), f"{where}.id"),
            extras=pack(extra),
        )
    if kind in ("function_call_output", "custom_tool_call_output"):
        return _decode_result(item, kind, where)
    if kind == "reasoning":
        return decode_reasoning(item, where)
    return ServerToolPart(
        kind=kind,
        raw=dict(item),
        source_format=FORMAT,
        tool=SERVER_TOOL_NAMES.get(kind),
        id=item.get("id") if isinstance(item.get("id"), str) else None,
    )


def _decode_result(item: Mapping[str, Any], kind: str, where: str) -> ToolResultPart:
    extra = _item_hint(item, ("type", "call_id", "output"))
    output = item.get("output")
    content: tuple[TextPart | ImagePart | DocumentPart, ...]
    if isinstance(output, str):
        content, extra["_output_string"] = (TextPart(text=output),), True
    else:
        parts = []
        for i, entry in enumerate(expect_list(output, f"{where}.output")):
            part = decode_content(entry, "user", f"{where}.output[{i}]")
            if not isinstance(part, (TextPart, ImagePart, DocumentPart)):
                raise InvalidPayload(f"{where}.output[{i}]: not a text, image or file part")
            parts.append(part)
        content = tuple(parts)
    return ToolResultPart(
        call_id=expect_str(item.get("call_id"), f"{where}.call_id"),
        content=content,
        kind="custom" if kind == "custom_tool_call_output" else "function",
        extras=pack(extra),
    )


def decode_reasoning(item: Mapping[str, Any], where: str) -> ThinkingPart | RedactedThinkingPart:
    """A ``reasoning`` item, with a reasoning envelope opened back to its native value."""
    extra: dict[str, Any] = _item_hint(
        item, ("type", "id", "summary", "content", "encrypted_content")
    )
    summary = tuple(
        expect_str(expect_obj(s, f"{where}.summary[{i}]").get("text"), f"{where}.summary[{i}]")
        for i, s in enumerate(expect_list(item.get("summary", []), f"{where}.summary"))
    )
    absent = [k for k in ("id", "summary") if k not in item]
    if absent:
        extra["_absent"] = absent
    pieces: list[str] | None = None
    if item.get("content") is not None:
        pieces = [
            expect_str(expect_obj(c, f"{where}.content[{i}]").get("text"), f"{where}.content")
            for i, c in enumerate(expect_list(item["content"], f"{where}.content"))
        ]
        extra["_content_lengths"] = [len(p) for p in pieces]
    item_id = opt_str(item.get("id"), f"{where}.id")
    sealed = opt_str(item.get("encrypted_content"), f"{where}.encrypted_content")
    env = open_envelope(sealed)
    if env is not None:
        extra["_sealed"] = sealed
    text = "".join(pieces) if pieces is not None else ""
    if env is not None and env.origin == "anthropic" and env.kind == "redacted":
        if summary:
            extra["_summary"] = list(summary)
        return RedactedThinkingPart(data=env.data or "", extras=pack({**extra, "_id": item_id}))
    if env is not None and env.origin == "anthropic":
        # A Claude signature covers the thinking text, which went out as the summary.
        return ThinkingPart(
            text=text if pieces is not None else "".join(summary),
            signature=env.data or "",
            id=item_id,
            summary=summary,
            extras=pack(extra),
        )
    native = sealed if env is None else (env.data if env.origin == FORMAT else None)
    if env is not None and env.origin == FORMAT and env.id and env.id != item_id:
        extra["_outer_id"] = item_id  # the sealed value names its own item; keep this one
    return ThinkingPart(
        text=text,
        encrypted_content=native,
        id=(env.id if env is not None and env.origin == FORMAT else None) or item_id,
        summary=summary,
        extras=pack(extra),
    )


def _sealed(own: Mapping[str, Any], wanted: Envelope, fallback: str | None = None) -> str:
    """The received envelope string while it still says ``wanted`` (origin and data);
    otherwise ``fallback`` (a native value) or a fresh seal."""
    previous = own.get("_sealed")
    if isinstance(previous, str):
        opened = open_envelope(previous)
        if opened is not None and (opened.origin, opened.data) == (wanted.origin, wanted.data):
            return previous
    return fallback if fallback is not None else seal(wanted)


def encode_reasoning(
    part: ThinkingPart | RedactedThinkingPart, item_id: str, ctx: Context, where: str
) -> dict[str, Any]:
    """A thinking part as a ``reasoning`` item (envelope table of ``docs/canonical.md``)."""
    own = hints(part.extras)
    out: dict[str, Any] = {"type": "reasoning", "id": item_id, "summary": []}
    if isinstance(part, RedactedThinkingPart):
        out["summary"] = [{"type": "summary_text", "text": s} for s in own.get("_summary", ())]
        out["encrypted_content"] = _sealed(
            own, Envelope(origin="anthropic", kind="redacted", data=part.data)
        )
        lose_foreign(ctx, part.extras, where)
        finish(out, part.extras, item=own.get("_item"))
        return out
    lengths = own.get("_content_lengths")
    summary = part.summary or ((part.text,) if part.text and lengths is None else ())
    out["summary"] = [{"type": "summary_text", "text": s} for s in summary]
    if lengths is not None:
        out["content"] = [
            {"type": "reasoning_text", "text": t} for t in _resplit(part.text, lengths)
        ]
    previous = open_envelope(own.get("_sealed"))
    if part.encrypted_content is not None:
        out["encrypted_content"] = _sealed(
            own,
            Envelope(origin=FORMAT, kind="encrypted", data=part.encrypted_content),
            fallback=part.encrypted_content,
        )
        if part.signature is not None:
            ctx.lose(f"{where}.signature", "a part cannot carry two opaque reasoning values")
    elif part.signature is not None:
        out["encrypted_content"] = _sealed(
            own, Envelope(origin="anthropic", kind="signature", data=part.signature)
        )
    elif previous is not None and previous.origin == "none":
        out["encrypted_content"] = own["_sealed"]
    if "_outer_id" in own and out.get("encrypted_content") == own.get("_sealed"):
        out["id"] = own["_outer_id"]
    lose_foreign(ctx, part.extras, where)
    finish(out, part.extras, item=own.get("_item"))
    return out


def _resplit(text: str, lengths: Sequence[Any]) -> list[str]:
    sizes = [n for n in lengths if isinstance(n, int) and n >= 0]
    if len(sizes) != len(lengths) or sum(sizes) != len(text):
        return [text]
    pieces, start = [], 0
    for n in sizes:
        pieces.append(text[start : start + n])
        start += n
    return pieces


def _encode_result(part: ToolResultPart, ctx: Context, where: str) -> dict[str, Any]:
    own = hints(part.extras)
    kind = "custom_tool_call_output" if part.kind == "custom" else "function_call_output"
    out: dict[str, Any] = {"type": kind, "call_id": part.call_id}
    texts_only = all(isinstance(p, TextPart) for p in part.content)
    if texts_only and len(part.content) <= 1 and (own.get("_output_string") or not own):
        out["output"] = part.text
        for i, p in enumerate(part.content):
            _lose_cache(p, ctx, f"{where}.content[{i}]")
    else:
        entries = (
            encode_content(p, "user", ctx, f"{where}.content[{i}]")
            for i, p in enumerate(part.content)
        )
        out["output"] = [e for e in entries if e is not None]
    if part.is_error:
        ctx.lose(
            f"{where}.is_error",
            "responses tool outputs have no error flag",
            "sent as a normal output",
        )
    _lose_cache(part, ctx, where)
    lose_foreign(ctx, part.extras, where)
    finish(out, part.extras, item=own.get("_item"))
    return out


def _encode_call(
    part: ToolCallPart, item_id: str | None, ctx: Context, where: str, output: bool
) -> dict[str, Any]:
    own = hints(part.extras)
    custom = part.kind == "custom"
    out: dict[str, Any] = {"type": "custom_tool_call" if custom else "function_call"}
    if item_id is not None:
        out["id"] = item_id
    if output:
        out["status"] = "completed"
    out["call_id"] = part.id
    out["name"] = part.name
    out["input" if custom else "arguments"] = part.arguments
    _lose_cache(part, ctx, where)
    lose_foreign(ctx, part.extras, where)
    finish(out, part.extras, item=own.get("_item"))
    return out


def _foreign_server_item(
    part: ServerToolPart, item_id: str, ctx: Context, where: str
) -> dict[str, Any] | None:
    """Another format's server-tool block as a Responses item, where one maps."""
    raw = part.raw
    if part.tool == "web_search" and raw.get("type") == "server_tool_use":
        action: dict[str, Any] = {"type": "search"}
        query = raw.get("input", {}).get("query") if isinstance(raw.get("input"), Mapping) else None
        if isinstance(query, str):
            action["query"] = query
        return {"type": "web_search_call", "id": item_id, "status": "completed", "action": action}
    ctx.lose(where, f"{part.source_format} {part.kind} block has no responses equivalent")
    return None


# ------------------------------------------------------------------------------ groups


class ItemIds:
    """Ids for output items the canonical answer does not name.

    Derived from the response id and the item's position, so two encodings of one answer
    (streamed and not) give the same ids; ``None`` as the response id means *input* items,
    which need no id except where the API requires one (reasoning).
    """

    def __init__(self, response_id: str | None) -> None:
        self.response_id = response_id

    def make(self, prefix: str, position: int) -> str:
        """The id of the item at ``position`` (``prefix`` such as ``msg_``)."""
        if self.response_id is None:
            return new_id(prefix)
        digest = hashlib.sha256(f"{self.response_id}/{position}".encode()).hexdigest()
        return prefix + digest[:48]

    def optional(self, prefix: str, position: int) -> str | None:
        """An id where the item may go without one (input items)."""
        return None if self.response_id is None else self.make(prefix, position)


_TEXTLIKE = (TextPart, RefusalPart, ImagePart, DocumentPart)


def is_textlike(part: ContentPart) -> bool:
    """Whether ``part`` lives inside a message item's content list."""
    if isinstance(part, ServerToolPart):
        return part.source_format == FORMAT and part.kind.startswith("content.")
    return isinstance(part, _TEXTLIKE)


def is_blank(part: ContentPart) -> bool:
    """A text part that never got text and carries nothing of ours: never emitted."""
    return (
        isinstance(part, TextPart)
        and not part.text
        and not part.citations
        and not hints(part.extras)
    )


def new_message(
    role: str, item: Mapping[str, Any] | None, ids: ItemIds, position: int
) -> dict[str, Any]:
    """An empty message item: with the hinted fields, or the defaults.

    Output messages carry an id and a status. So do assistant messages in a request that
    hold a list: the SDK types allow ``output_text`` only in that full form (a lone plain text
    becomes the short ``content`` string form instead, see :func:`_close_string`).
    """
    if item is not None:
        return {**item, "role": role, "content": []}
    msg_id = ids.optional("msg_", position)
    if msg_id is None and role == "assistant":
        msg_id = ids.make("msg_", position)
    if msg_id is None:
        return {"type": "message", "role": role, "content": []}
    return {"id": msg_id, "type": "message", "status": "completed", "role": role, "content": []}


def encode_item(
    part: ContentPart, ctx: Context, where: str, ids: ItemIds, position: int, output: bool
) -> dict[str, Any] | None:
    """A part that is an item of its own (``None``: it cannot be carried; reported)."""
    if isinstance(part, ToolCallPart):
        prefix = "ctc_" if part.kind == "custom" else "fc_"
        return _encode_call(
            part, part.item_id or ids.optional(prefix, position), ctx, where, output
        )
    if isinstance(part, (ThinkingPart, RedactedThinkingPart)):
        own = hints(part.extras)
        given = part.id if isinstance(part, ThinkingPart) else own.get("_id")
        if not output and not _openai_reasoning(part, own):
            # OpenAI rejects reasoning it did not produce (an unknown id, foreign encrypted
            # content): in a request, only its own items go back (DESIGN.md, FIDELITY 3)
            ctx.lose(where, "reasoning from another provider cannot be sent to OpenAI", "omitted")
            return None
        return encode_reasoning(part, given or ids.make("rs_", position), ctx, where)
    if isinstance(part, ServerToolPart):
        if part.source_format == FORMAT:
            return dict(part.raw)
        return _foreign_server_item(part, part.id or ids.make("ws_", position), ctx, where)
    if isinstance(part, ToolResultPart) and not output:
        return _encode_result(part, ctx, where)
    ctx.lose(where, f"a {type(part).__name__} cannot appear in a responses answer")
    return None


def _openai_reasoning(part: ThinkingPart | RedactedThinkingPart, own: Mapping[str, Any]) -> bool:
    """Whether ``part`` is reasoning an OpenAI Responses upstream produced: native encrypted
    content, or a reasoning item that came in as one (its id, received with no foreign value)."""
    if isinstance(part, RedactedThinkingPart):
        return False
    if part.encrypted_content is not None:
        return True
    received_as_item = part.id is not None or "id" in own.get("_absent", ())
    return part.signature is None and "_sealed" not in own and received_as_item


def encode_parts(
    parts: Sequence[ContentPart],
    role: str,
    ctx: Context,
    where: str,
    ids: ItemIds,
    *,
    output: bool = False,
    start: int = 0,
) -> list[dict[str, Any]]:
    """Items for the parts of one turn: text-like runs share a message item."""
    items: list[dict[str, Any]] = []
    msg: dict[str, Any] | None = None
    as_string: bool | None = False
    for i, part in enumerate(parts):
        at = f"{where}[{i}]"
        if not is_textlike(part):
            _close_string(msg, as_string)
            msg = None
            item = encode_item(part, ctx, at, ids, start + len(items), output)
            if item is not None:
                items.append(item)
            continue
        if is_blank(part):
            continue
        own = part_hints(part)
        entry = None if own.get("_empty") else encode_content(part, role, ctx, at)
        if entry is None and not own.get("_empty"):
            continue
        if msg is None or "_item" in own:
            _close_string(msg, as_string)
            msg = new_message(role, own.get("_item"), ids, start + len(items))
            as_string = bool(own.get("_content_string"))
            if "_item" not in own and not output and role == "assistant":
                as_string = None  # another format's assistant text: the short form if it fits
            items.append(msg)
        if entry is not None:
            msg["content"].append(entry)
    _close_string(msg, as_string)
    return items


def _close_string(msg: dict[str, Any] | None, as_string: bool | None) -> None:
    """Turn a one-entry content list into the plain string form: always when it was received
    so (``True``), or when the entry is plain text without annotations (``None``)."""
    if msg is None or as_string is False:
        return
    content = msg["content"]
    if len(content) != 1:
        return
    entry = content[0]
    plain = set(entry) <= {"type", "text", "annotations"} and not entry.get("annotations")
    if as_string and plain and "text" in entry:
        msg["content"] = entry["text"]
    elif as_string is None and plain and entry["type"] == "output_text":
        msg.pop("id", None)
        msg.pop("status", None)
        msg["content"] = entry["text"]
