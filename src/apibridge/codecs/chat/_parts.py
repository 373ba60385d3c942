"""Chat message content parts ↔ canonical parts, and how a ``content`` value is spelled.

Theory of operation. A Chat ``content`` is a string, ``null``, absent, or a list of parts:
``text`` ↔ :class:`TextPart`, ``image_url`` ↔ :class:`ImagePart` (a base64 ``data:`` URL
becomes ``media_type`` + ``data``, any other URL stays a URL), ``file`` ↔
:class:`DocumentPart` (``file_data`` as a data URL, ``file_id``, ``filename``), ``refusal`` ↔
:class:`RefusalPart`. Other part types (``input_audio``, vendors' ``video_url``) are not
mapped: the caller carries them as ``unmapped_parts`` with their positions and
:func:`reinsert` puts them back. The encoder spells content the way compatible servers
accept most widely (one plain text part as a string) unless the ``_content`` hint kept
another spelling. Fields of a part that are not mapped ride in its ``extras["chat"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from apibridge.codecs._cache_markers import BREAKPOINT, openai_breakpoint
from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    expect_str,
    opt_str,
    part_words,
)
from apibridge.codecs.chat._wire import (
    ABSENT,
    FORMAT,
    apply_extras,
    content_kind,
    data_url,
    default_content_kind,
    hints,
    parse_data_url,
)
from apibridge.model import (
    ContentPart,
    DocumentPart,
    ImagePart,
    RefusalPart,
    TextPart,
    ToolResultPart,
)

__all__ = [
    "UNMAPPED",
    "content_hint",
    "decode_content",
    "encode_user_part",
    "is_trivial",
    "mark_last",
    "reinsert",
    "rest_fields",
    "spell",
    "text_item",
    "wrap",
]

#: the carried key for content parts the canonical model does not map, as ``[position, raw]``.
UNMAPPED: Final = "unmapped_parts"


def is_trivial(value: Any) -> bool:
    """A value that says nothing: ``null``, ``""`` or ``[]`` (kept only as a spelling hint)."""
    return value is None or value == "" or value == []


def wrap(fields: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {FORMAT: dict(fields)} if fields else {}


def rest_fields(obj: Mapping[str, Any], mapped: Sequence[str]) -> dict[str, Any]:
    """Keys of a nested object outside ``mapped``, plus mapped ones spelled ``null``."""
    return {k: v for k, v in obj.items() if k not in mapped or v is None}


# ------------------------------------------------------------------------------ content parts


def _decode_part(raw: Any, where: str) -> ContentPart | None:
    """One content part; ``None`` for a part type the canonical model does not map."""
    obj = expect_obj(raw, where)
    kind = expect_str(obj.get("type"), f"{where}.type")
    if kind == "text":
        text = expect_str(obj.get("text"), f"{where}.text")
        return TextPart(text=text, extras=wrap(rest_fields(obj, ("type", "text"))))
    if kind == "refusal":
        text = expect_str(obj.get("refusal"), f"{where}.refusal")
        fields = rest_fields(obj, ("type", "refusal"))
        fields["_in_content"] = True
        return RefusalPart(text=text, extras=wrap(fields))
    if kind == "image_url":
        return _decode_image(obj, where)
    if kind == "file":
        return _decode_file(obj, where)
    return None


def _decode_image(obj: Mapping[str, Any], where: str) -> ImagePart:
    fields = rest_fields(obj, ("type", "image_url"))
    raw = obj.get("image_url")
    if isinstance(raw, str):  # some clients send the URL itself
        fields["_url_string"] = True
        raw = {"url": raw}
    inner = expect_obj(raw, f"{where}.image_url")
    url = expect_str(inner.get("url"), f"{where}.image_url.url")
    detail = opt_str(inner.get("detail"), f"{where}.image_url.detail")
    nested = rest_fields(inner, ("url", "detail"))
    if nested:
        fields["image_url"] = nested
    parsed = parse_data_url(url)
    if parsed is not None:
        return ImagePart(media_type=parsed[0], data=parsed[1], detail=detail, extras=wrap(fields))
    return ImagePart(url=url, detail=detail, extras=wrap(fields))


def _decode_file(obj: Mapping[str, Any], where: str) -> DocumentPart:
    fields = rest_fields(obj, ("type", "file"))
    inner = expect_obj(obj.get("file"), f"{where}.file")
    file_data = opt_str(inner.get("file_data"), f"{where}.file.file_data")
    nested = rest_fields(inner, ("file_data", "file_id", "filename"))
    if nested:
        fields["file"] = nested
    media_type = data = None
    if file_data is not None:
        parsed = parse_data_url(file_data)
        if parsed is not None:
            media_type, data = parsed
        else:  # bare base64, as some clients send it
            data = file_data
            fields["_raw_file_data"] = True
    return DocumentPart(
        media_type=media_type,
        data=data,
        file_id=opt_str(inner.get("file_id"), f"{where}.file.file_id"),
        filename=opt_str(inner.get("filename"), f"{where}.file.filename"),
        extras=wrap(fields),
    )


def decode_content(value: Any, where: str) -> tuple[list[ContentPart], list[list[Any]]]:
    """Content parts of a message, and the unmapped parts as ``[position, raw]`` pairs."""
    if value is ABSENT or value is None:
        return [], []
    if isinstance(value, str):
        return ([TextPart(text=value)] if value else []), []
    parts: list[ContentPart] = []
    unmapped: list[list[Any]] = []
    for k, item in enumerate(expect_list(value, where)):
        part = _decode_part(item, f"{where}[{k}]")
        if part is None:
            unmapped.append([k, item])
        else:
            parts.append(part)
    return parts, unmapped


def content_hint(value: Any, null_when_empty: bool = False) -> str | None:
    """The ``_content`` hint: the raw spelling, when the encoder's default would differ."""
    if isinstance(value, list):
        items: list[Any] = value
    elif isinstance(value, str) and value:
        items = [{"type": "text", "text": value}]
    else:
        items = []
    kind = content_kind(value)
    default = default_content_kind(items, null_when_empty=null_when_empty)
    return kind if kind != default else None


def spell(items: list[Any], hint: Any, null_when_empty: bool = False) -> Any:
    """Content ``items`` in the spelling ``hint`` asks for (or the default one)."""
    kind = (
        hint
        if isinstance(hint, str)
        else default_content_kind(items, null_when_empty=null_when_empty)
    )
    if not items:
        return {"absent": ABSENT, "null": None, "list": []}.get(kind, "")
    if (
        kind == "string"
        and len(items) == 1
        and items[0].get("type") == "text"
        and len(items[0]) == 2
    ):
        return items[0]["text"]
    return items


def reinsert(items: list[Any], unmapped: Any) -> None:
    if isinstance(unmapped, list):
        for position, raw in sorted(unmapped, key=lambda pair: int(pair[0])):
            items.insert(int(position), raw)


def text_item(part: TextPart, ctx: Context, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "text", "text": part.text}
    apply_extras(out, hints(part.extras))
    mark(out, part, ctx, where)
    return out


def mark(
    out: dict[str, Any], part: TextPart | ImagePart | DocumentPart, ctx: Context, where: str
) -> None:
    """Report ``part``'s foreign extras, and write its cache marker (Anthropic's or the
    Responses one) as ``prompt_cache_breakpoint`` where this upstream takes them."""
    extras, breakpoint = openai_breakpoint(part.cache_control, part.extras, FORMAT, ctx, where)
    ctx.lose_extras(extras, FORMAT, where)
    if breakpoint is not None:
        out[BREAKPOINT] = breakpoint


def mark_last(
    items: list[Any], part: ToolResultPart, ctx: Context, where: str
) -> Mapping[str, Mapping[str, Any]]:
    """Write a tool result's cache marker on the last of its ``items`` (the prefix ends with
    the result) where this upstream takes breakpoints; the result's extras left to report."""
    extras, breakpoint = openai_breakpoint(part.cache_control, part.extras, FORMAT, ctx, where)
    if breakpoint is not None:
        if items and isinstance(items[-1], Mapping):
            items[-1] = {**items[-1], BREAKPOINT: breakpoint}
        else:
            ctx.lose(f"{where}.cache_control", "the chat tool message has no part to mark")
    return extras


def _encode_image(part: ImagePart, ctx: Context, where: str) -> dict[str, Any] | None:
    carried = hints(part.extras)
    if part.url is not None:
        url = part.url
    elif part.data is not None:
        if part.media_type is None:
            ctx.lose(f"{where}.media_type", "the image's media type is unknown", "sent as PNG")
        url = data_url(part.media_type or "image/png", part.data)
    else:
        ctx.lose(where, "chat images are URLs or data URLs, not uploaded files", "dropped")
        return None
    inner: dict[str, Any] = {"url": url}
    if part.detail is not None:
        inner["detail"] = part.detail
    nested = carried.get("image_url")
    if isinstance(nested, Mapping):
        inner.update(nested)
    out: dict[str, Any] = {
        "type": "image_url",
        "image_url": url if carried.get("_url_string") else inner,
    }
    apply_extras(out, {k: v for k, v in carried.items() if k != "image_url"})
    mark(out, part, ctx, where)
    return out


def _encode_document(part: DocumentPart, ctx: Context, where: str) -> dict[str, Any] | None:
    """A document as a ``file`` part (data URL or file id), a plain-text document as a text
    part; every field that does not fit the chosen form is reported."""
    carried = hints(part.extras)
    inner: dict[str, Any] = {}
    if part.data is not None:
        if carried.get("_raw_file_data") or part.media_type is None:
            inner["file_data"] = part.data
        else:
            inner["file_data"] = data_url(part.media_type, part.data)
    if part.file_id is not None:
        inner["file_id"] = part.file_id
    unused = {"url": part.url, "text": part.text, "context": part.context, "title": part.title}
    if part.filename is not None:
        inner["filename"] = part.filename
    elif part.title is not None and inner:
        inner["filename"] = part.title  # the title is the document's name: carried here
        unused["title"] = None
    out: dict[str, Any] | None
    if inner:
        nested = carried.get("file")
        if isinstance(nested, Mapping):
            inner.update(nested)
        out = {"type": "file", "file": inner}
        apply_extras(out, {k: v for k, v in carried.items() if k != "file"})
    elif part.text is not None:
        ctx.lose(where, "chat has no plain-text documents", "sent as a text part")
        out = {"type": "text", "text": part.text}
        unused["text"] = None
    else:
        ctx.lose(where, "chat file parts take data or a file id, not a URL", "dropped")
        return None
    for name, value in unused.items():
        if value is not None:
            ctx.lose(f"{where}.{name}", f"a chat {out['type']} part has no {name}", "dropped")
    if part.citations_enabled is not None:
        ctx.lose(f"{where}.citations", "chat cannot cite documents", "dropped")
    mark(out, part, ctx, where)
    return out


def encode_user_part(part: ContentPart, ctx: Context, where: str) -> dict[str, Any] | None:
    """A part of a user (or system) message as a Chat content part; ``None`` when lost."""
    if isinstance(part, TextPart):
        if part.citations:
            ctx.lose(f"{where}.citations", "chat user text carries no citations", "dropped")
        return text_item(part, ctx, where)
    if isinstance(part, ImagePart):
        return _encode_image(part, ctx, where)
    if isinstance(part, DocumentPart):
        return _encode_document(part, ctx, where)
    ctx.lose(where, f"a chat user message cannot hold {part_words(part)}", "dropped")
    return None
