"""The reasoning envelope: opaque reasoning from one provider, carried through another's field.

A Claude client can only hold reasoning in a ``thinking`` block's ``signature``; a Responses
client only in a reasoning item's ``encrypted_content``. When the value came from the *other*
kind of upstream (or from one that signs nothing), apibridge wraps it:

``abr1.`` + base64url(JSON ``{"f": origin, "k": kind, "d": data, "i": id}``) with no padding

* ``f``: the origin: ``anthropic`` (a Claude signature or redacted thinking), ``responses``
  (OpenAI encrypted reasoning), ``chat`` (a Chat upstream's reasoning whose spelling must
  replay), ``gemini`` (a Gemini ``thoughtSignature``), ``none`` (reasoning from a model that
  signs nothing, such as a Chat upstream's ``reasoning_content``);
* ``k``: ``signature``, ``redacted`` or ``encrypted``; ``compaction`` for a compaction block or
  item (:mod:`apibridge.codecs._compaction`), whose ``d`` is the original block or item as JSON;
  for origin ``chat``, ``details`` (``d``: OpenRouter's ``reasoning_details`` entries as JSON,
  signatures and encrypted entries included) or ``think`` (it came as ``<think>`` tags); for
  origin ``gemini``, ``signature`` (a thought part's) or ``carrier`` (a signature that rode on
  a function call or a text part: ``apibridge.codecs.gemini._wire``);
* ``d``: the original opaque value, byte for byte (absent for ``none``);
* ``i``: the original reasoning item id (Responses), when there was one.

Version 1 is this layout; a decoder that meets another ``abrN.`` prefix leaves the value
opaque. Codecs unwrap an envelope on decode, so the canonical model always holds native
values, and a value returns to its own kind of upstream exactly as it left it. Reasoning whose
origin is not Anthropic is never sent to an Anthropic upstream as a signed thinking block.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import attrs

from apibridge import _json

__all__ = [
    "DIALECT_ORIGINS",
    "PREFIX",
    "Envelope",
    "dialect_extras",
    "dialect_seal",
    "gemini_signature",
    "open_envelope",
    "seal",
]

PREFIX = "abr1."

#: origins whose envelope opens into spelling hints of that format (``extras[origin]``), not
#: into a native field of the canonical thinking part.
DIALECT_ORIGINS = frozenset({"chat", "gemini"})


@attrs.frozen(kw_only=True)
class Envelope:
    """A decoded envelope (see the module docstring for the fields)."""

    origin: str
    kind: str
    data: str | None = None
    id: str | None = None


def seal(envelope: Envelope) -> str:
    """The envelope as a string fit for ``signature`` or ``encrypted_content``."""
    body: dict[str, str] = {"f": envelope.origin, "k": envelope.kind}
    if envelope.data is not None:
        body["d"] = envelope.data
    if envelope.id is not None:
        body["i"] = envelope.id
    return PREFIX + base64.urlsafe_b64encode(_json.dumps(body)).rstrip(b"=").decode()


def open_envelope(value: str | None) -> Envelope | None:
    """The envelope in ``value``, or ``None`` when it is a native (or foreign) opaque value."""
    if not value or not value.startswith(PREFIX):
        return None
    raw = value[len(PREFIX) :]
    try:
        body = _json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("f"), str):
        return None
    return Envelope(
        origin=body["f"], kind=str(body.get("k", "")), data=body.get("d"), id=body.get("i")
    )


def dialect_seal(extras: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The envelope of a thinking part whose own format's hints must replay (a Chat
    ``reasoning_details`` list or ``<think>`` tags; a Gemini thought signature), or ``None``
    (see ``codecs.chat._reasoning_dialects`` and ``codecs.gemini._wire``)."""
    own = extras.get("chat")
    if own:
        details = own.get("_details")
        if isinstance(details, list):
            return seal(Envelope(origin="chat", kind="details", data=_json.dumps_str(details)))
        if own.get("_think"):
            return seal(Envelope(origin="chat", kind="think"))
    signature = gemini_signature(extras)
    if signature is not None:
        carrier = bool(extras["gemini"].get("_carrier"))
        return seal(
            Envelope(origin="gemini", kind="carrier" if carrier else "signature", data=signature)
        )
    return None


def gemini_signature(extras: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The Gemini ``thoughtSignature`` a thinking part holds, if any."""
    own = extras.get("gemini")
    signature = own.get("_signature") if own else None
    return signature if isinstance(signature, str) else None


def dialect_extras(envelope: Envelope) -> dict[str, Mapping[str, Any]]:
    """The hints a ``chat`` or ``gemini`` envelope held, for the thinking part it came back on."""
    if envelope.origin == "gemini":
        if envelope.data is None or envelope.kind not in ("signature", "carrier"):
            return {}
        hints: dict[str, Any] = {"_signature": envelope.data}
        if envelope.kind == "carrier":
            hints["_carrier"] = True
        return {"gemini": hints}
    if envelope.origin != "chat":
        return {}
    if envelope.kind == "think":
        return {"chat": {"_think": True}}
    if envelope.kind == "details" and envelope.data is not None:
        try:
            details = _json.loads(envelope.data)
        except ValueError:
            return {}
        if isinstance(details, list) and all(_is_entry(e) for e in details):
            return {"chat": {"_details": details}}
    return {}


def _is_entry(entry: Any) -> bool:
    """Whether ``entry`` is a ``reasoning_details`` entry as the Chat codec reads them: an
    object with a string ``type`` whose text fields are strings (an envelope is client input:
    one that is not is ignored, like any envelope that does not decode)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        return False
    fields = (entry.get(key) for key in ("text", "summary", "data", "signature"))
    return all(value is None or isinstance(value, str) for value in fields)
