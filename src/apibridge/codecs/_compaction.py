"""Compaction across formats: Anthropic ``compaction`` blocks ⇄ Responses ``compaction`` items.

Theory of operation
-------------------
Both are a :class:`~apibridge.model.ServerToolPart` of kind ``compaction`` holding the block or
item whole (``raw``), so a same-format trip is exact; no other canonical value is needed. An
Anthropic block holds the summary as text (``content``) beside opaque values; a Responses
item holds only ``encrypted_content``, readable by OpenAI alone. So:

=========================  ==================================  ================================
from                       to an answer of another format      to a request (history) upstream
=========================  ==================================  ================================
Anthropic block            Responses: a ``compaction`` item,   Responses, Chat: the summary as
                           ``encrypted_content`` = envelope    assistant text (reported); a
                           (the block); Chat: the summary as   failed compaction (no summary)
                           text (reported)                     is left out (reported)
Responses item             Anthropic: a ``compaction`` block,  Anthropic, Chat: left out
                           ``content`` null (what Anthropic    (reported): nobody else can read
                           treats as a no-op) and              OpenAI's encrypted summary
                           ``encrypted_content`` = envelope
                           (the item); Chat: reported
=========================  ==================================  ================================

The envelope is the reasoning envelope (:mod:`apibridge.codecs.envelope`) with kind
``compaction`` and the original block or item as JSON text in ``d``; the decoders open it
(:func:`compaction_part`), so the block or item returns byte for byte to its own kind of
upstream when the client sends its history back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apibridge import _json
from apibridge.codecs._context import Context
from apibridge.codecs.envelope import Envelope, open_envelope, seal
from apibridge.errors import InvalidPayload
from apibridge.model import ContentPart, ServerToolPart

__all__ = [
    "KIND",
    "add_chat_summary",
    "anthropic_block",
    "chat_text",
    "compaction_part",
    "is_compaction",
    "responses_item",
    "summary",
]

KIND = "compaction"


def is_compaction(part: ContentPart) -> bool:
    """Whether ``part`` is a compaction block or item (of any format)."""
    return isinstance(part, ServerToolPart) and part.kind == KIND


def summary(part: ServerToolPart) -> str | None:
    """The compaction's text form: an Anthropic block's summary (``None`` for a Responses
    item, whose summary is encrypted, or for a failed compaction)."""
    text = part.raw.get("content") if part.source_format == "anthropic" else None
    return text if isinstance(text, str) and text else None


def compaction_part(raw: Mapping[str, Any], fmt: str) -> ServerToolPart:
    """The part for a ``compaction`` block or item of format ``fmt``: the other format's
    original when its ``encrypted_content`` is an envelope apibridge sealed."""
    sealed = open_envelope(_str(raw.get("encrypted_content")))
    if sealed is not None and sealed.kind == KIND and sealed.data is not None:
        try:
            original = _json.loads(sealed.data)
        except InvalidPayload:
            original = None  # not ours after all: the value stays as it came
        if isinstance(original, dict):
            return ServerToolPart(
                kind=KIND,
                raw=original,
                source_format=sealed.origin,
                id=_str(original.get("id")),
            )
    return ServerToolPart(kind=KIND, raw=dict(raw), source_format=fmt, id=_str(raw.get("id")))


def anthropic_block(part: ServerToolPart, where: str, ctx: Context, *, answer: bool) -> Any:
    """A Responses compaction item as an Anthropic block (answers; ``None`` in requests)."""
    if not answer:
        ctx.lose(where, "an OpenAI compaction is encrypted for OpenAI only", "omitted")
        return None
    return {"type": KIND, "content": None, "encrypted_content": _sealed(part)}


def responses_item(
    part: ServerToolPart, item_id: str, where: str, ctx: Context, *, output: bool
) -> dict[str, Any] | None:
    """An Anthropic compaction block as a Responses item: a ``compaction`` item in answers,
    the summary as an assistant message in requests (reported); ``None`` when neither."""
    if output:
        return {"type": KIND, "id": item_id, "encrypted_content": _sealed(part)}
    text = summary(part)
    if text is None:
        ctx.lose(where, "a compaction that failed (no summary) carries nothing", "omitted")
        return None
    ctx.lose(where, "responses cannot read an Anthropic compaction", "sent as text: its summary")
    return {"type": "message", "role": "assistant", "content": text}


def chat_text(part: ServerToolPart, where: str, ctx: Context) -> str | None:
    """The text a Chat message holds for a compaction: its summary and a blank line
    (reported), or ``None`` (reported)."""
    text = summary(part)
    if text is None:
        ctx.lose(where, f"chat has no form for a {part.source_format} compaction", "dropped")
        return None
    ctx.lose(where, "chat has no compaction block", "sent as text: its summary")
    return text + "\n\n"  # kept apart from the text that follows in the one content string


def add_chat_summary(
    items: list[dict[str, Any]], part: ContentPart, where: str, ctx: Context
) -> int:
    """Append a compaction's :func:`chat_text` to a Chat message's ``items`` as a text item;
    the number of characters added."""
    assert isinstance(part, ServerToolPart)
    text = chat_text(part, where, ctx)
    if text is None:
        return 0
    items.append({"type": "text", "text": text})
    return len(text)


def _sealed(part: ServerToolPart) -> str:
    data = _json.dumps_str(dict(part.raw))
    return seal(Envelope(origin=part.source_format, kind=KIND, data=data))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
