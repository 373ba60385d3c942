"""Prompt-cache markers: Anthropic ``cache_control`` ⇄ OpenAI ``prompt_cache_breakpoint``.

Theory of operation
-------------------
Anthropic caches a prompt prefix up to each block marked ``cache_control: {"type":
"ephemeral", "ttl": "5m" | "1h"}`` (system blocks, message blocks, tools; ``anthropic`` 2.17
also has a top-level ``cache_control`` that marks the last cacheable block by itself). OpenAI
(``openai`` 3.63, gpt-5.6 and later) marks a prefix end with ``prompt_cache_breakpoint:
{"mode": "explicit", "ttl": "30m" | "12h"}`` on an input part (Chat ``text``, ``image_url``,
``input_audio``, ``file`` parts; Responses ``input_text``, ``input_image``, ``input_file``),
and ``prompt_cache_options.mode: "implicit"`` (its default) adds one automatic breakpoint at
the end. So a marked block is a marked part, and the top-level marker is implicit mode.

Canonical parts keep an Anthropic marker in ``cache_control``; the OpenAI decoders keep a
breakpoint in the part's ``extras`` under their format, as they did (a same-format trip is
untouched). Encoders of the other formats ask here:

* :func:`openai_breakpoint`: the breakpoint a Chat or Responses part gets, from its
  ``cache_control`` or from the other OpenAI format's breakpoint;
* :func:`anthropic_marker`: the ``cache_control`` an Anthropic block gets from an OpenAI
  breakpoint (the request's ``prompt_cache_options.ttl`` is the default lifetime).

Lifetimes: each side's default is the other's default (Anthropic ``5m`` and no ttl ⇄ OpenAI
``30m`` and no ttl, both written as no ttl) and the long ones meet: ``1h`` → ``12h`` (the
shortest OpenAI lifetime that covers an hour); ``12h`` → ``1h``, reported (Anthropic keeps a
marked prefix an hour at most).

Whether an upstream takes the markers is the conversion's ``cache_breakpoints`` setting
(``Context.cache_breakpoints``): ``None`` means the format's default, on for Anthropic (every
Anthropic-format server takes ``cache_control``: Claude Code sends it on every request) and
off for Chat and Responses, where explicit breakpoints are new (gpt-5.6 and later, the OpenAI
API itself) and other servers may reject them. When off, a marker is reported as lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from apibridge.codecs._context import Context

__all__ = [
    "BREAKPOINT",
    "TTL_TO_ANTHROPIC",
    "TTL_TO_OPENAI",
    "anthropic_marker",
    "breakpoints_on",
    "cache_options_for_anthropic",
    "is_marked",
    "openai_breakpoint",
    "top_level_marker",
]

#: the part field OpenAI marks a prefix end with.
BREAKPOINT: Final = "prompt_cache_breakpoint"

#: Anthropic marker ttl → OpenAI breakpoint ttl (``None``: the format's default, not written).
TTL_TO_OPENAI: Final[Mapping[str | None, str | None]] = {None: None, "5m": None, "1h": "12h"}

#: OpenAI breakpoint ttl → Anthropic marker ttl (``12h`` is longer than Anthropic keeps one).
TTL_TO_ANTHROPIC: Final[Mapping[str | None, str | None]] = {None: None, "30m": None, "12h": "1h"}

_ANTHROPIC: Final = "anthropic"
_CHAT: Final = "chat"
_RESPONSES: Final = "responses"
_OTHER_OPENAI: Final[Mapping[str, str]] = {_CHAT: _RESPONSES, _RESPONSES: _CHAT}
_NONE: Final[Mapping[str, Any]] = {}


def breakpoints_on(ctx: Context, target: str) -> bool:
    """Whether ``target`` gets cache markers in this conversion (see the module docstring)."""
    setting = ctx.cache_breakpoints
    return target == _ANTHROPIC if setting is None else setting


def is_marked(part: Any) -> bool:
    """Whether ``part`` carries a cache marker: its ``cache_control`` or an OpenAI breakpoint."""
    if getattr(part, "cache_control", None) is not None:
        return True
    extras: Mapping[str, Mapping[str, Any]] = getattr(part, "extras", _NONE)
    return bool(extras) and any(BREAKPOINT in _own(extras, fmt) for fmt in (_CHAT, _RESPONSES))


def _own(extras: Mapping[str, Mapping[str, Any]], fmt: str) -> Mapping[str, Any]:
    found = extras.get(fmt) if extras else None
    return found if isinstance(found, Mapping) else _NONE


def _without(
    extras: Mapping[str, Mapping[str, Any]], fmt: str, key: str
) -> Mapping[str, Mapping[str, Any]]:
    rest = {k: v for k, v in _own(extras, fmt).items() if k != key}
    out = {k: v for k, v in extras.items() if k != fmt}
    if rest:
        out[fmt] = rest
    return out


def openai_breakpoint(
    cache_control: Mapping[str, Any] | None,
    extras: Mapping[str, Mapping[str, Any]],
    target: str,
    ctx: Context,
    where: str,
) -> tuple[Mapping[str, Mapping[str, Any]], dict[str, Any] | None]:
    """The ``prompt_cache_breakpoint`` a ``target`` (Chat or Responses) input part gets, and
    the part's extras without the other OpenAI format's breakpoint it carries. An Anthropic
    marker the upstream does not take is reported; the other format's breakpoint is then left
    in the extras, where the encoder reports it with the rest."""
    on = breakpoints_on(ctx, target)
    if cache_control is not None:
        if not on:
            ctx.lose(
                f"{where}.cache_control",
                f"explicit cache breakpoints are off for this {target} upstream "
                "(cache_breakpoints)",
            )
            return extras, None
        return extras, _breakpoint_of(cache_control, ctx, where)
    if not extras or not on:
        return extras, None
    other = _OTHER_OPENAI[target]
    found = _own(extras, other).get(BREAKPOINT)
    if not isinstance(found, Mapping):
        return extras, None
    return _without(extras, other, BREAKPOINT), dict(found)


def _breakpoint_of(marker: Mapping[str, Any], ctx: Context, where: str) -> dict[str, Any]:
    ttl = marker.get("ttl")
    out: dict[str, Any] = {"mode": "explicit"}
    if (ttl is None or isinstance(ttl, str)) and ttl in TTL_TO_OPENAI:
        mapped = TTL_TO_OPENAI[ttl]
        if mapped is not None:
            out["ttl"] = mapped
    else:
        ctx.lose(f"{where}.cache_control.ttl", f"OpenAI has no cache lifetime {ttl!r}")
    for key in marker.keys() - {"type", "ttl"}:
        ctx.lose(f"{where}.cache_control.{key}", "an OpenAI cache breakpoint has no such field")
    return out


def anthropic_marker(
    cache_control: Mapping[str, Any] | None,
    extras: Mapping[str, Mapping[str, Any]],
    ctx: Context,
    where: str,
) -> tuple[Mapping[str, Mapping[str, Any]], dict[str, Any] | None]:
    """The ``cache_control`` an Anthropic block gets (its own, or one for a Chat or Responses
    breakpoint), and the part's extras without the breakpoint carried."""
    if cache_control is not None:
        return extras, dict(cache_control)
    if not extras:
        return extras, None
    for fmt in (_CHAT, _RESPONSES):
        found = _own(extras, fmt).get(BREAKPOINT)
        if isinstance(found, Mapping):
            if not breakpoints_on(ctx, _ANTHROPIC):
                return extras, None  # reported with the other foreign fields
            default = _request_ttl(ctx, fmt)
            marker = _marker_of(found, default, ctx, f"{where}.{BREAKPOINT}")
            return _without(extras, fmt, BREAKPOINT), marker
    return extras, None


def _request_ttl(ctx: Context, fmt: str) -> Any:
    request = ctx.request
    options = _own(request.extras, fmt).get("prompt_cache_options") if request else None
    return options.get("ttl") if isinstance(options, Mapping) else None


def _marker_of(
    breakpoint: Mapping[str, Any], default_ttl: Any, ctx: Context, field: str
) -> dict[str, Any]:
    ttl = breakpoint.get("ttl", default_ttl)
    out: dict[str, Any] = {"type": "ephemeral"}
    if (ttl is None or isinstance(ttl, str)) and ttl in TTL_TO_ANTHROPIC:
        mapped = TTL_TO_ANTHROPIC[ttl]
        if mapped is not None:
            out["ttl"] = mapped
            if mapped != ttl:
                ctx.lose(
                    f"{field}.ttl",
                    f"Anthropic keeps a cached prefix {mapped} at most",
                    f"sent as {mapped}",
                )
    else:
        ctx.lose(f"{field}.ttl", f"Anthropic has no cache lifetime {ttl!r}")
    for key in breakpoint.keys() - {"mode", "ttl"}:
        ctx.lose(f"{field}.{key}", "an Anthropic cache marker has no such field")
    return out


def top_level_marker(
    extras: Mapping[str, Mapping[str, Any]], target: str, ctx: Context
) -> tuple[Mapping[str, Mapping[str, Any]], dict[str, Any] | None]:
    """An Anthropic request's top-level ``cache_control`` (automatic caching) as ``target``'s
    ``prompt_cache_options`` (implicit mode, with the lifetime), and the extras without it.
    Reported when the upstream takes no breakpoints (OpenAI's implicit caching, its default,
    still applies there)."""
    marker = _own(extras, _ANTHROPIC).get("cache_control")
    if not isinstance(marker, Mapping):
        return extras, None
    rest = _without(extras, _ANTHROPIC, "cache_control")
    if not breakpoints_on(ctx, target):
        ctx.lose(
            "request.cache_control",
            f"prompt_cache_options are off for this {target} upstream (cache_breakpoints); "
            "it caches implicitly by default",
        )
        return rest, None
    options = _breakpoint_of(marker, ctx, "request")
    options["mode"] = "implicit"
    if target == _CHAT and options.get("ttl", "30m") != "30m":
        ctx.lose("request.cache_control.ttl", "chat caches for 30m", "sent without a ttl")
        del options["ttl"]
    return rest, options


def cache_options_for_anthropic(
    extras: Mapping[str, Mapping[str, Any]], ctx: Context
) -> tuple[Mapping[str, Mapping[str, Any]], dict[str, Any] | None]:
    """A Chat or Responses request's ``prompt_cache_options`` for an Anthropic upstream: the
    top-level ``cache_control`` for ``mode: implicit`` (automatic caching), nothing for
    ``mode: explicit`` (Anthropic caches only at markers) with the ``ttl`` applied to the
    markers (:func:`anthropic_marker`); the extras without what was carried. Other fields
    (``prewarm``, ``comparison_response_id``) stay and are reported."""
    if not breakpoints_on(ctx, _ANTHROPIC):
        return extras, None
    for fmt in (_CHAT, _RESPONSES):
        options = _own(extras, fmt).get("prompt_cache_options")
        if not isinstance(options, Mapping):
            continue
        rest = {k: v for k, v in options.items() if k not in ("mode", "ttl")}
        marker = None
        if options.get("mode") == "implicit":
            marker = _marker_of({}, options.get("ttl"), ctx, "request.prompt_cache_options")
        elif options.get("mode") not in (None, "explicit"):
            rest["mode"] = options["mode"]
        out = _without(extras, fmt, "prompt_cache_options")
        if rest:
            out = {**out, fmt: {**_own(out, fmt), "prompt_cache_options": rest}}
        return out, marker
    return extras, None
