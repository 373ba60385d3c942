"""Responses message content entries ↔ canonical text-like parts (text, refusal, image, file).

Theory of operation
-------------------
A message item's ``content`` is a list of entries: ``input_text``/``output_text`` ↔
:class:`~apibridge.model.TextPart` (annotations ↔ citations), ``refusal`` ↔
:class:`~apibridge.model.RefusalPart`, ``input_image`` ↔ :class:`~apibridge.model.ImagePart`,
``input_file`` ↔ :class:`~apibridge.model.DocumentPart` (``data:`` URLs split into media type and
base64 data and joined back). Any other entry (audio, whatever comes next) is carried whole as
an opaque :class:`~apibridge.model.ServerToolPart` of kind ``content.<type>``. The same entries
are the ``output`` of a tool result. Hints make a same-format trip exact: ``_type`` (a text
entry of the other role's type), ``_kept`` (an empty text that was sent), ``_absent``
(``detail``, ``annotations`` the original lacked), ``_raw_file_data`` (file data that was not a
data URL). Deliberately lossy: assistant messages hold no images or files, user messages no
refusals or citations, a plain-text document is sent as ``input_text``, and
``cache_control``, a document's ``context`` and its citation switch have no field (all reported).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from apibridge.codecs._cache_markers import BREAKPOINT, openai_breakpoint
from apibridge.codecs._context import Context, expect_list, expect_obj, expect_str, opt_str
from apibridge.codecs.responses._wire import (
    FORMAT,
    absent_keys,
    decode_annotation,
    encode_annotation,
    finish,
    hints,
    lose_cache,
    lose_foreign,
    pack,
    split,
)
from apibridge.model import (
    Citation,
    ContentPart,
    DocumentPart,
    ImagePart,
    RefusalPart,
    ServerToolPart,
    TextPart,
)

__all__ = ["MARKABLE", "decode_content", "encode_content"]

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


#: the content types that take a ``prompt_cache_breakpoint`` (``openai`` 3.63).
MARKABLE: Final = frozenset({"input_text", "input_image", "input_file"})


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
    extras = part.extras
    if out["type"] in MARKABLE:
        marker = getattr(part, "cache_control", None)
        extras, breakpoint = openai_breakpoint(marker, extras, FORMAT, ctx, where)
        if breakpoint is not None:
            out[BREAKPOINT] = breakpoint
    else:
        lose_cache(part, ctx, where)
    lose_foreign(ctx, extras, where)
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
        # No input_file field holds plain text (file_data is base64 of a file the API parses),
        # and input_text has no title, context or citation switch: each is reported.
        ctx.lose(where, "responses files cannot be plain text", "sent as input_text")
        for field, value in (("title", part.title), ("context", part.context)):
            if value is not None:
                ctx.lose(f"{where}.{field}", f"responses input_text has no {field}")
        if part.citations_enabled:
            ctx.lose(f"{where}.citations", "responses cannot cite a plain-text document")
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
