"""Responses ``reasoning`` items ↔ canonical thinking parts, through the reasoning envelope.

Theory of operation
-------------------
A ``reasoning`` item has an id, ``summary`` texts, optional raw ``content``
(``reasoning_text`` pieces) and ``encrypted_content``. Decoding gives a
:class:`~apibridge.model.ThinkingPart` (summaries, the joined text, the native encrypted
content) or, for an Anthropic redacted block that travelled sealed, a
:class:`~apibridge.model.RedactedThinkingPart`. Reasoning follows the envelope table of
``docs/canonical.md``: Anthropic signatures and redacted thinking travel sealed in
``encrypted_content``; an envelope is opened on decode, so the canonical model only ever holds
native values, and the received envelope (``_sealed``) is reused on encode while it still says
the same. ``_content_lengths`` splits a reasoning text back into the pieces it came in;
``_outer_id`` keeps an item id that differs from the one its sealed value names.

Deliberately lossy: a thinking text from another format is said as summary 0 (a Responses
answer has no other place for it), a part with both encrypted content and a signature keeps
only the first (reported), and a request carries only reasoning that OpenAI produced
(:func:`is_openai_reasoning`; OpenAI rejects any other).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apibridge.codecs._context import Context, expect_list, expect_obj, expect_str, opt_str
from apibridge.codecs.envelope import (
    DIALECT_ORIGINS,
    Envelope,
    dialect_extras,
    dialect_seal,
    open_envelope,
    seal,
)
from apibridge.codecs.responses._wire import FORMAT, finish, hints, item_hint, lose_foreign, pack
from apibridge.model import RedactedThinkingPart, ThinkingPart

__all__ = ["decode_reasoning", "encode_reasoning", "is_openai_reasoning"]


def decode_reasoning(item: Mapping[str, Any], where: str) -> ThinkingPart | RedactedThinkingPart:
    """A ``reasoning`` item, with a reasoning envelope opened back to its native value."""
    extra: dict[str, Any] = item_hint(
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
    if env is not None and env.origin in DIALECT_ORIGINS:  # Chat or Gemini reasoning hints
        return ThinkingPart(
            text=text if pieces is not None else "",
            id=item_id,
            summary=summary,
            extras={**pack(extra), **dialect_extras(env)},
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
    elif (chat := dialect_seal(part.extras)) is not None:
        out["encrypted_content"] = chat  # Chat reasoning_details (or think tags), Gemini signature
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


def is_openai_reasoning(part: ThinkingPart | RedactedThinkingPart, own: Mapping[str, Any]) -> bool:
    """Whether ``part`` is reasoning an OpenAI Responses upstream produced: native encrypted
    content, or a reasoning item that came in as one (its id, received with no foreign value)."""
    if isinstance(part, RedactedThinkingPart):
        return False
    if part.encrypted_content is not None:
        return True
    received_as_item = part.id is not None or "id" in own.get("_absent", ())
    return part.signature is None and "_sealed" not in own and received_as_item
