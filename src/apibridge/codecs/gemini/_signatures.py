"""Gemini thought signatures on canonical parts: carriers, their folding, and the reasoning
envelope in ``thoughtSignature`` (for ``_parts``; the conventions are ``_wire``'s).

Theory of operation
-------------------
A ``thoughtSignature`` on a part that is not a thought is a *carrier* (:func:`carrier`): a
thinking part with no text, holding the signature in ``extras["gemini"]``, placed before the
function call it signed, or after any other part it signed (``_after``), or standing alone
(``_alone``: Gemini's ``{"text": "", "thoughtSignature": …}``). Encoding folds a carrier back
(:func:`fold`): into the part written before it when marked ``_after`` or when no call follows,
else into the call that follows, else as a part of its own.

Reasoning of another model reaches a Gemini client as a thought whose ``thoughtSignature`` is
that reasoning's envelope (:mod:`apibridge.codecs.envelope`) in base64
(:func:`answer_signature`: the field holds base64 bytes and the SDK refuses anything else);
:func:`opened_signature` finds it again in a request (the SDK sends it back URL-safe) and
:func:`foreign_thought` gives back that model's own part.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

from apibridge.codecs.envelope import (
    PREFIX,
    Envelope,
    dialect_extras,
    dialect_seal,
    gemini_signature,
    open_envelope,
    seal,
)
from apibridge.codecs.gemini._wire import FORMAT
from apibridge.model import (
    ContentPart,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)

__all__ = [
    "ALONE",
    "TEXT_SIGNATURE",
    "answer_signature",
    "carrier",
    "fold",
    "foldable",
    "foreign_thought",
    "is_carrier",
    "opened_signature",
    "signature_of",
    "signed_text",
    "signs_text",
    "std_base64",
]


def std_base64(data: str) -> str:
    """``data`` in the standard base64 alphabet (the SDK writes bytes URL-safe)."""
    if "-" in data or "_" in data:
        return data.replace("-", "+").replace("_", "/")
    return data


def carrier(signature: str, *, after: bool = False, alone: bool = False) -> ThinkingPart:
    """The thinking part that carries a signature which rode on a non-thought part (``after``
    it), or came as a part of its own (``alone``: ``{"text": "", "thoughtSignature": …}``)."""
    hints: dict[str, Any] = {"_signature": signature, "_carrier": True}
    if after:
        hints["_after"] = True
    if alone:
        hints["_alone"] = True
    return ThinkingPart(extras={FORMAT: hints})


def is_carrier(part: ContentPart) -> bool:
    """Whether ``part`` is a carrier (a signature with no reasoning of its own)."""
    if not isinstance(part, ThinkingPart) or part.text or part.summary:
        return False
    own = part.extras.get(FORMAT)
    return bool(own and own.get("_carrier")) and gemini_signature(part.extras) is not None


def signature_of(part: ContentPart) -> str | None:
    """The Gemini signature a canonical thinking part holds, if any."""
    return gemini_signature(part.extras) if isinstance(part, ThinkingPart) else None


def answer_signature(part: ThinkingPart | RedactedThinkingPart) -> str | None:
    """The ``thoughtSignature`` a Gemini client receives for reasoning of another model: its
    opaque value in the reasoning envelope, base64-encoded (the field holds base64 bytes, and
    the SDK refuses anything else); ``None`` for reasoning that nothing signs."""
    if isinstance(part, RedactedThinkingPart):
        sealed: str | None = seal(Envelope(origin="anthropic", kind="redacted", data=part.data))
    elif part.signature is not None:
        sealed = seal(Envelope(origin="anthropic", kind="signature", data=part.signature))
    elif part.encrypted_content is not None:
        sealed = seal(
            Envelope(origin="responses", kind="encrypted", data=part.encrypted_content, id=part.id)
        )
    else:
        sealed = dialect_seal(part.extras) if part.extras else None
    return None if sealed is None else base64.b64encode(sealed.encode()).decode()


_SEALED_HEAD: Final = base64.b64encode(PREFIX.encode()).decode()[:6]


def opened_signature(signature: str | None) -> Envelope | None:
    """The reasoning envelope a ``thoughtSignature`` holds (see :func:`answer_signature`; the
    SDK sends it back URL-safe), or ``None`` for Gemini's own signatures."""
    if signature is None or not signature.replace("-", "+").replace("_", "/").startswith(
        _SEALED_HEAD
    ):
        return None
    try:
        raw = base64.b64decode(std_base64(signature) + "=" * (-len(signature) % 4))
        return open_envelope(raw.decode())
    except (ValueError, UnicodeDecodeError):
        return None


def foreign_thought(text: str, envelope: Envelope, hints: dict[str, Any]) -> ContentPart:
    """A thought part whose signature is another model's reasoning, as that model's part."""
    own: dict[str, Mapping[str, Any]] = {FORMAT: dict(hints)} if hints else {}
    if envelope.origin == "anthropic" and envelope.kind == "redacted":
        return RedactedThinkingPart(data=envelope.data or "", extras=own)
    if envelope.origin == "anthropic":
        return ThinkingPart(text=text, signature=envelope.data or "", extras=own)
    if envelope.origin == "responses":
        return ThinkingPart(text=text, encrypted_content=envelope.data, id=envelope.id, extras=own)
    extras = {**own, **dialect_extras(envelope)}
    return ThinkingPart(text=text, extras=extras)


def foldable(wire: Mapping[str, Any]) -> bool:
    """Whether a written part can take the signature of a carrier that follows it."""
    return (
        "thoughtSignature" not in wire
        and not wire.get("thought")
        and any(k in wire for k in ("text", "inlineData", "fileData"))
    )


def fold(part: ContentPart, out: list[dict[str, Any]], following: ContentPart | None) -> str | None:
    """Put a carrier's signature on its part: the one written before it (a carrier marked
    ``_after``, or one with no call next), else the call that follows (returned, to be set
    when that call is written), else a part of its own."""
    signature = signature_of(part) or ""
    own = part.extras.get(FORMAT) if isinstance(part, ThinkingPart) else None
    after = bool(own and own.get("_after"))
    before_call = isinstance(following, ToolCallPart)
    if own and own.get("_alone"):
        out.append({"text": "", "thoughtSignature": signature})
        return None
    if out and foldable(out[-1]) and (after or not before_call):
        out[-1]["thoughtSignature"] = signature
        return None
    if before_call:
        return signature
    out.append({"text": "", "thoughtSignature": signature})
    return None


#: a text part's ``thoughtSignature``, kept on the text (``extras["gemini"]``); ``ALONE``: it
#: came as a part of its own right after the text (``{"text": "", "thoughtSignature": …}``).
TEXT_SIGNATURE: Final = "thoughtSignature"
ALONE: Final = "_signature_alone"


def signs_text(part: ContentPart, before: ContentPart) -> bool:
    """Whether ``part`` is a lone signature that signs the unsigned text ``before`` it."""
    if not isinstance(before, TextPart) or TEXT_SIGNATURE in before.extras.get(FORMAT, {}):
        return False
    own = part.extras.get(FORMAT, {}) if isinstance(part, ThinkingPart) else {}
    return bool(own.get("_alone")) and signature_of(part) is not None


def signed_text(text: TextPart, signature: str | None) -> TextPart:
    """``text`` signed by a signature that came alone right after it (written back so)."""
    own = {**text.extras.get(FORMAT, {}), TEXT_SIGNATURE: signature, ALONE: True}
    return TextPart(text=text.text, extras={**text.extras, FORMAT: own})
