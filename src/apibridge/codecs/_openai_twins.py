"""Chat ⇄ Responses twin fields: the same setting under the same or a nearby name.

Theory of operation
-------------------
Both OpenAI APIs accept a handful of request settings the canonical model does not type
(it carries them, it does not translate them): ``moderation``, ``prompt_cache_key``,
``prompt_cache_retention``, ``prompt_cache_options``, ``service_tier``, ``store``, and
Chat's ``verbosity``, which Responses spells ``text.verbosity``. Each codec's decoder keeps
them in its own entry of ``extras`` as before, so a same-format trip is untouched; the
*other* OpenAI encoder reads them from there (:func:`request_twins`), writes them under its
own name, and leaves them out of its loss report (:func:`without_twins`). Anthropic and
backboard still report them as lost. Answers carry ``service_tier`` the same way
(:data:`ANSWER_TWINS`); a Responses answer keeps it in the ``_echo`` hint of echoed
request fields, a Chat answer in its ``_service_tier`` hint.

Which fields: those both ``openai`` SDK create-params types have with the same values
(checked against ``openai`` 3.60); a value one side lacks stays a reported loss: Responses'
``ultrafast`` tier, and its ``prompt_cache_options`` beyond Chat's (``prewarm``,
``comparison_response_id``, ``ttl: 12h``). Not carried here (reported): per-part
``prompt_cache_breakpoint`` markers and ``stream_options.include_obfuscation``.
``logprobs``/``top_logprobs`` and ``safety_identifier`` are canonical fields already
(``Request.logprobs``, ``Request.user``); the spelling of the latter crosses too
(:func:`user_field`), and a ``safety_identifier`` sent beside ``user`` is a twin.

An OpenAI answer's ``service_tier`` reaches an Anthropic client as ``usage.service_tier``
(:func:`anthropic_usage_tier`) where Anthropic has the word (``anthropic`` 2.17: ``standard``,
``priority``, ``batch``): ``default`` is ``standard``, ``priority`` is ``priority``; ``auto``,
``flex``, ``scale``, ``fast`` and ``ultrafast`` have none and are reported. Back the other
way (:func:`tier_from_anthropic`), ``standard`` is ``default`` and ``priority`` is
``priority`` for a Chat client; ``batch`` has no OpenAI word and stays a reported usage extra.

Requests: Anthropic's ``speed: fast`` is OpenAI's ``service_tier: fast`` (both SDKs have the
word) and back (:func:`fast_requested`, :func:`without_fast`); ``speed: standard`` has no
counterpart and stays reported. The request ``service_tier`` crosses where both have the
word (:func:`request_tier`): Anthropic ``auto`` (priority capacity when the organisation has
it) is OpenAI ``auto`` (the project's configured tier), Anthropic ``standard_only`` is OpenAI
``default``; OpenAI ``flex``, ``scale`` and ``priority`` have no Anthropic word (reported).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from apibridge.codecs._context import Context
from apibridge.model import Usage

__all__ = [
    "ANSWER_TWINS",
    "REQUEST_TWINS",
    "anthropic_usage_tier",
    "answer_twins",
    "fast_requested",
    "request_tier",
    "request_twins",
    "tier_from_anthropic",
    "user_field",
    "without_fast",
    "without_twins",
]

#: request fields both APIs have under the same name (Chat's ``verbosity`` is apart: it is
#: ``text.verbosity`` in Responses).
REQUEST_TWINS: Final = (
    "moderation",
    "prompt_cache_key",
    "prompt_cache_options",  # to Chat only in Chat's subset: ``mode``, ``ttl: 30m``
    "prompt_cache_retention",
    "safety_identifier",  # when ``user`` was sent too (else it is ``Request.user``)
    "service_tier",
    "store",
)

#: each format's spelling hint for a ``Request.user`` sent as ``safety_identifier``.
_USER_KEY_HINTS: Final[Mapping[str, str]] = {"chat": "_user_key", "responses": "_user_field"}

#: answer fields both APIs have under the same name.
ANSWER_TWINS: Final = ("service_tier",)

#: the service tiers Chat accepts (Responses has ``ultrafast`` too, which stays a loss).
_CHAT_SERVICE_TIERS: Final = frozenset({"auto", "default", "flex", "scale", "priority", "fast"})

#: the ``prompt_cache_options`` keys Chat has (its only ``ttl`` is ``30m``); Responses adds
#: ``prewarm``, ``comparison_response_id`` and ``ttl: 12h``.
_CHAT_CACHE_OPTIONS: Final = frozenset({"mode", "ttl"})

#: the Responses ``include`` entry that ``Request.logprobs`` already says.
_LOGPROBS_INCLUDE: Final = "message.output_text.logprobs"

#: OpenAI answer tiers that Anthropic's ``usage.service_tier`` has a word for.
_TO_ANTHROPIC_TIER: Final[Mapping[str, str]] = {"default": "standard", "priority": "priority"}

#: Anthropic ``usage.service_tier`` words that OpenAI answers have a tier for.
_FROM_ANTHROPIC_TIER: Final[Mapping[str, str]] = {"standard": "default", "priority": "priority"}

_ANTHROPIC: Final = "anthropic"
_CHAT: Final = "chat"
_RESPONSES: Final = "responses"
_NONE: Final[Mapping[str, Any]] = {}


def _entry(extras: Mapping[str, Mapping[str, Any]], fmt: str) -> Mapping[str, Any]:
    found = extras.get(fmt) if extras else None
    return found if isinstance(found, Mapping) else _NONE


def _carried(own: Mapping[str, Any], key: str, target: str) -> bool:
    """Whether ``target`` takes this twin's value as it is."""
    value = own.get(key)
    if value is None:
        return False
    if target != _CHAT:
        return True
    if key == "service_tier":
        return value in _CHAT_SERVICE_TIERS
    if key == "prompt_cache_options":
        return (
            isinstance(value, Mapping)
            and value.keys() <= _CHAT_CACHE_OPTIONS
            and value.get("ttl", "30m") == "30m"
        )
    return True


def request_twins(extras: Mapping[str, Mapping[str, Any]], target: str) -> dict[str, Any]:
    """The twin settings the *other* OpenAI format's client sent, named as ``target``
    (``chat`` or ``responses``) names them (``verbosity`` is ``text.verbosity`` there:
    the key ``verbosity`` stands for it)."""
    source = _RESPONSES if target == _CHAT else _CHAT
    own = _entry(extras, source)
    if not own:
        return {}
    found = {key: own[key] for key in REQUEST_TWINS if _carried(own, key, target)}
    if source == _CHAT:
        verbosity = own.get("verbosity")
    else:
        text = own.get("text")
        verbosity = text.get("verbosity") if isinstance(text, Mapping) else None
    if verbosity is not None:
        found["verbosity"] = verbosity
    return found


def user_field(extras: Mapping[str, Mapping[str, Any]], target: str) -> str:
    """The field ``Request.user`` goes in when the other OpenAI format's client sent it as
    ``safety_identifier`` (its successor, in both APIs): that spelling, else ``user``."""
    source = _RESPONSES if target == _CHAT else _CHAT
    if _entry(extras, source).get(_USER_KEY_HINTS[source]) == "safety_identifier":
        return "safety_identifier"
    return "user"


def answer_twins(
    extras: Mapping[str, Mapping[str, Any]], target: str, ctx: Context
) -> dict[str, Any]:
    """The twin fields of an answer from the other OpenAI format, for ``target``; a value
    ``target`` does not have is reported. A Chat answer keeps them as ``_service_tier``
    hints, a Responses answer in its ``_echo`` hint."""
    if target == _CHAT:
        echo = _entry(extras, _RESPONSES).get("_echo")
        own: Mapping[str, Any] = echo if isinstance(echo, Mapping) else _NONE
        found = {}
        for key in ANSWER_TWINS:
            if _carried(own, key, target):
                found[key] = own[key]
            elif own.get(key) is not None:
                ctx.lose(f"response.{key}", f"chat has no {key} {own[key]!r}")
        return found
    own = _entry(extras, _CHAT)
    return {key: own[f"_{key}"] for key in ANSWER_TWINS if own.get(f"_{key}") is not None}


def anthropic_usage_tier(
    extras: Mapping[str, Mapping[str, Any]], ctx: Context, where: str
) -> str | None:
    """An OpenAI answer's ``service_tier`` (a Chat answer's ``_service_tier`` hint, or a
    Responses answer's ``_echo``) as Anthropic's ``usage.service_tier`` word; a tier Anthropic
    has no word for is reported and gives ``None``."""
    tier = _entry(extras, _CHAT).get("_service_tier")
    if tier is None:
        echo = _entry(extras, _RESPONSES).get("_echo")
        tier = echo.get("service_tier") if isinstance(echo, Mapping) else None
    if tier is None:
        return None
    word = _TO_ANTHROPIC_TIER.get(tier) if isinstance(tier, str) else None
    if word is None:
        ctx.lose(f"{where}.service_tier", f"anthropic has no service tier {tier!r}")
    return word


def tier_from_anthropic(usage: Usage | None) -> tuple[Usage | None, str | None]:
    """An Anthropic answer's ``usage.service_tier`` as an OpenAI ``service_tier``, and the
    usage without it. A tier OpenAI has no word for (``batch``) stays in the usage's extras,
    where the usage encoder reports it."""
    if usage is None:
        return None, None
    own = _entry(usage.extras, _ANTHROPIC)
    tier = own.get("service_tier")
    word = _FROM_ANTHROPIC_TIER.get(tier) if isinstance(tier, str) else None
    if word is None:
        return usage, None
    rest = {k: v for k, v in own.items() if k != "service_tier"}
    extras = {k: v for k, v in usage.extras.items() if k != _ANTHROPIC}
    if rest:
        extras[_ANTHROPIC] = rest
    return attrs.evolve(usage, extras=extras), word


#: where each format asks for fast inference: Anthropic ``speed``, OpenAI ``service_tier``.
_FAST_KEYS: Final[Mapping[str, str]] = {
    _ANTHROPIC: "speed",
    _CHAT: "service_tier",
    _RESPONSES: "service_tier",
}
_FAST: Final = "fast"


def fast_requested(extras: Mapping[str, Mapping[str, Any]], target: str) -> bool:
    """Whether a client of another format than ``target`` asked for fast inference
    (Anthropic ``speed: fast`` or OpenAI ``service_tier: fast``) that ``target`` says in its
    own field (Chat ⇄ Responses is a twin already: see :func:`request_twins`)."""
    sources = (_CHAT, _RESPONSES) if target == _ANTHROPIC else (_ANTHROPIC,)
    return any(_entry(extras, fmt).get(_FAST_KEYS[fmt]) == _FAST for fmt in sources)


def without_fast(
    extras: Mapping[str, Mapping[str, Any]], target: str
) -> Mapping[str, Mapping[str, Any]]:
    """A request's ``extras`` without the other formats' fast setting ``target`` carries
    (:func:`fast_requested`), so that it is not reported."""
    if not fast_requested(extras, target):
        return extras
    out = dict(extras)
    for fmt, key in _FAST_KEYS.items():
        own = _entry(extras, fmt)
        if fmt != target and own.get(key) == _FAST:
            out[fmt] = {k: v for k, v in own.items() if k != key}
    return out


#: request ``service_tier`` words across: OpenAI → Anthropic, and Anthropic → OpenAI.
_TIER_TO_ANTHROPIC: Final[Mapping[str, str]] = {"auto": "auto", "default": "standard_only"}
_TIER_FROM_ANTHROPIC: Final[Mapping[str, str]] = {v: k for k, v in _TIER_TO_ANTHROPIC.items()}


def request_tier(
    extras: Mapping[str, Mapping[str, Any]], target: str
) -> tuple[Mapping[str, Mapping[str, Any]], str | None]:
    """Another format's request ``service_tier`` as ``target``'s word (Anthropic ⇄ OpenAI;
    see the module docstring), and the extras without it; a tier with no word stays in the
    extras, where the encoder reports it."""
    if target == _ANTHROPIC:
        sources: tuple[str, ...] = (_CHAT, _RESPONSES)
        table = _TIER_TO_ANTHROPIC
    else:
        sources, table = (_ANTHROPIC,), _TIER_FROM_ANTHROPIC
    for fmt in sources:
        own = _entry(extras, fmt)
        tier = own.get("service_tier")
        word = table.get(tier) if isinstance(tier, str) else None
        if word is not None:
            rest = {k: v for k, v in own.items() if k != "service_tier"}
            out = {k: v for k, v in extras.items() if k != fmt}
            if rest:
                out[fmt] = rest
            return out, word
    return extras, None


def without_twins(
    extras: Mapping[str, Mapping[str, Any]], target: str
) -> Mapping[str, Mapping[str, Any]]:
    """A request's ``extras`` without the twin fields ``target`` carries (what is left is
    reported)."""
    source = _RESPONSES if target == _CHAT else _CHAT
    own = _entry(extras, source)
    if not own:
        return extras
    rest = {k: v for k, v in own.items() if k not in REQUEST_TWINS or not _carried(own, k, target)}
    include = own.get("include")
    if isinstance(include, list) and _LOGPROBS_INCLUDE in include:
        # said by ``Request.logprobs``; the other entries are still reported
        left = [entry for entry in include if entry != _LOGPROBS_INCLUDE]
        if left:
            rest["include"] = left
        else:
            del rest["include"]
    if source == _CHAT:
        if own.get("verbosity") is not None:
            del rest["verbosity"]
    elif isinstance(own.get("text"), Mapping):
        text = {k: v for k, v in own["text"].items() if k != "verbosity" or v is None}
        if text:
            rest["text"] = text
        else:
            del rest["text"]
    return {**extras, source: rest}
