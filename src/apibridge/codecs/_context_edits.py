"""Context management across formats: Anthropic ``context_management`` edits ⇄ Responses
``context_management`` compaction, and the edits applied to the history for upstreams without.

Theory of operation
-------------------
Both settings stay where their codec put them, in the request's ``extras`` (Anthropic
``context_management`` in ``extras["anthropic"]``, the Responses list in
``extras["responses"]``), so a same-format trip is untouched. Each encoder calls
:func:`carry_context_management` first; for a client of another format it rewrites the
request for its target:

* Anthropic ``compact_20260112`` (server-side compaction) → Responses
  ``{"type": "compaction", "compact_threshold": trigger}``; ``instructions`` and
  ``pause_after_compaction`` have no Responses form (reported). A Chat upstream cannot compact
  (the history goes whole, reported).
* Responses ``compaction`` → Anthropic ``compact_20260112`` with an ``input_tokens`` trigger
  (its ``anthropic-beta`` flag asked for with ``Context.need_beta``); for a Chat upstream it
  is reported.
* Anthropic ``clear_thinking_20251015`` and ``clear_tool_uses_20250919`` have no form outside
  Anthropic: they are **applied to the history before sending** as Anthropic documents them,
  and each is reported (action ``applied before sending: …``) with what it cleared:

  - ``clear_thinking``: thinking (and redacted thinking) is removed from every assistant turn
    but the last ``keep.value`` turns that have thinking (default 1). ``keep: "all"`` (what
    Claude Code sends on every request) changes nothing, so it is not reported;
  - ``clear_tool_uses``: when the trigger is reached (``input_tokens``, estimated by
    :func:`apibridge.codecs._tokens.estimate_request_tokens`, default 100,000; or ``tool_uses``, the
    number of calls), the results of all but the last ``keep.value`` calls (default 3), calls
    to ``exclude_tools`` excepted, are replaced by :data:`CLEARED_RESULT`; with
    ``clear_tool_inputs`` (``true``, or a list of tool names) the calls' inputs become ``{}``.
    ``clear_at_least`` cancels the edit when it would clear fewer (estimated) tokens.

Anything else (an unknown edit type, a malformed value) is reported and not applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from apibridge.codecs._context import Context
from apibridge.codecs._tokens import estimate_request_tokens, estimate_text_tokens
from apibridge.model import (
    ContentPart,
    Message,
    RedactedThinkingPart,
    Request,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = [
    "CLEARED_INPUT",
    "CLEARED_RESULT",
    "CLEAR_THINKING",
    "CLEAR_TOOL_USES",
    "COMPACT",
    "COMPACT_BETA",
    "apply_clear_thinking",
    "apply_clear_tool_uses",
    "carry_context_management",
]

CLEAR_THINKING = "clear_thinking_20251015"
CLEAR_TOOL_USES = "clear_tool_uses_20250919"
COMPACT = "compact_20260112"

#: what a cleared tool result holds (Anthropic replaces it with placeholder text too).
CLEARED_RESULT = "[tool result cleared to save context]"
#: the arguments of a call whose input was cleared.
CLEARED_INPUT = "{}"

#: the ``anthropic-beta`` flag a compaction edit needs (``Context.need_beta``).
COMPACT_BETA = "compact-2026-01-12"

_KEY = "context_management"
_DEFAULT_TRIGGER = 100_000  # clear_tool_uses: input tokens
_DEFAULT_KEEP_TOOL_USES = 3
_DEFAULT_KEEP_THINKING = 1


def carry_context_management(request: Request, ctx: Context, target: str) -> Request:
    """``request`` with another format's context management carried to ``target``, or
    applied to the history and reported (see the module docstring)."""
    extras = request.extras
    if not extras:
        return request
    if target != "anthropic":
        edits = extras.get("anthropic", {}).get(_KEY)
        if edits is not None:
            return _from_anthropic(request, edits, ctx, target)
    if target != "responses":
        entries = extras.get("responses", {}).get(_KEY)
        if entries is not None:
            return _from_responses(request, entries, ctx, target)
    return request


# ------------------------------------------------------------------------- Anthropic → other


def _from_anthropic(request: Request, config: Any, ctx: Context, target: str) -> Request:
    where = f"request.{_KEY}"
    edits = config.get("edits") if isinstance(config, Mapping) else None
    if not isinstance(edits, list):
        ctx.lose(where, "not an object with an edits list")
        edits = []
    compaction: list[dict[str, Any]] = []
    for i, edit in enumerate(edits):
        place = f"{where}.edits[{i}]"
        kind = edit.get("type") if isinstance(edit, Mapping) else None
        if kind == CLEAR_THINKING:
            assert isinstance(edit, Mapping)
            request = apply_clear_thinking(request, edit, ctx, place, target)
        elif kind == CLEAR_TOOL_USES:
            assert isinstance(edit, Mapping)
            request = apply_clear_tool_uses(request, edit, ctx, place, target)
        elif kind == COMPACT and target == "responses":
            assert isinstance(edit, Mapping)
            compaction.append(_compaction_entry(edit, ctx, place))
        elif kind == COMPACT:
            ctx.lose(place, f"{target} upstreams cannot compact the context; history sent whole")
        else:
            ctx.lose(place, f"unknown context management edit {kind!r}; not applied")
    extras = _without_key(request.extras, "anthropic")
    if compaction:
        own = dict(extras.get(target, {}))
        own.setdefault(_KEY, compaction)
        extras[target] = own
    return attrs.evolve(request, extras=extras)


def _compaction_entry(edit: Mapping[str, Any], ctx: Context, place: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "compaction"}
    trigger = edit.get("trigger")
    value = trigger.get("value") if isinstance(trigger, Mapping) else None
    if isinstance(value, int):
        entry["compact_threshold"] = value
    elif trigger is not None:
        ctx.lose(f"{place}.trigger", "not an input_tokens trigger; the upstream's default applies")
    for key in ("instructions", "pause_after_compaction"):
        if edit.get(key) is not None:
            ctx.lose(f"{place}.{key}", "Responses compaction has no such setting")
    return entry


def apply_clear_thinking(
    request: Request, edit: Mapping[str, Any], ctx: Context, where: str, target: str
) -> Request:
    """``request`` with thinking cleared from all but the last ``keep`` assistant turns that
    have thinking; reported as applied."""
    keep = _keep(edit.get("keep"), "thinking_turns", _DEFAULT_KEEP_THINKING)
    if keep is None:
        ctx.lose(where, f"keep {edit.get('keep')!r} is not understood; not applied")
        return request
    if keep < 0:
        return request  # keep all: nothing to clear, nothing lost (Claude Code sends this)
    turns = [
        i
        for i, m in enumerate(request.messages)
        if m.role == "assistant"
        and any(isinstance(p, (ThinkingPart, RedactedThinkingPart)) for p in m.content)
    ]
    cleared = turns[: max(len(turns) - keep, 0)]
    messages = list(request.messages)
    for i in cleared:
        message = messages[i]
        content = tuple(
            p for p in message.content if not isinstance(p, (ThinkingPart, RedactedThinkingPart))
        )
        messages[i] = attrs.evolve(message, content=content)
    ctx.lose(
        where,
        f"{CLEAR_THINKING}: {target} upstreams have no context editing",
        f"applied before sending: thinking cleared from {len(cleared)} earlier assistant turn(s)",
    )
    if not cleared:
        return request
    gone = {i for i in cleared if not messages[i].content}  # turns of thinking alone
    kept = tuple(m for i, m in enumerate(messages) if i not in gone)
    return attrs.evolve(request, messages=kept)


def apply_clear_tool_uses(
    request: Request, edit: Mapping[str, Any], ctx: Context, where: str, target: str
) -> Request:
    """``request`` with old tool results (and inputs) cleared when the trigger is reached;
    reported as applied."""
    reason = f"{CLEAR_TOOL_USES}: {target} upstreams have no context editing"
    keep = _keep(edit.get("keep"), "tool_uses", _DEFAULT_KEEP_TOOL_USES)
    exclude = edit.get("exclude_tools") or ()
    inputs = edit.get("clear_tool_inputs")
    if inputs is None or inputs is False:
        inputs = ()
    if keep is None or not _names(exclude) or not (inputs is True or _names(inputs)):
        ctx.lose(where, f"{reason}; a setting is not understood, not applied")
        return request
    calls = [
        part
        for m in request.messages
        if m.role == "assistant"
        for part in m.content
        if isinstance(part, ToolCallPart)
    ]
    trigger = edit.get("trigger")
    kind, limit = _threshold(trigger, "input_tokens", _DEFAULT_TRIGGER)
    if kind == "tool_uses":
        reached = len(calls) > limit
    elif kind == "input_tokens":
        reached = estimate_request_tokens(request) > limit
    else:
        ctx.lose(where, f"{reason}; trigger {trigger!r} is not understood, not applied")
        return request
    if not reached:
        ctx.lose(where, reason, f"applied before sending: {kind} below {limit}, nothing cleared")
        return request
    # the calls carry the upstream's names where the exchange shortened them
    up = ctx.upstream_names
    exclude = {*exclude, *(up.get(n, n) for n in exclude)}
    named = () if inputs is True else {*inputs, *(up.get(n, n) for n in inputs)}
    candidates = [c for c in calls if c.name not in exclude]
    chosen = candidates[: max(len(candidates) - keep, 0)]
    clear_input = {c.id for c in chosen if inputs is True or c.name in named}
    ids = {c.id for c in chosen}
    saved = 0
    messages: list[Message] = []
    for message in request.messages:
        content: list[ContentPart] = []
        for part in message.content:
            if isinstance(part, ToolResultPart) and part.call_id in ids:
                saved += estimate_text_tokens(part.text)
                part = attrs.evolve(part, content=(TextPart(text=CLEARED_RESULT),))
            elif isinstance(part, ToolCallPart) and part.id in clear_input:
                saved += estimate_text_tokens(part.arguments)
                part = attrs.evolve(part, arguments=CLEARED_INPUT)
            content.append(part)
        messages.append(attrs.evolve(message, content=tuple(content)))
    _, least = _threshold(edit.get("clear_at_least"), "input_tokens", 0)
    if saved < least:
        ctx.lose(
            where,
            reason,
            f"applied before sending: would clear ~{saved} tokens, fewer than clear_at_least "
            f"{least}; nothing cleared",
        )
        return request
    ctx.lose(
        where,
        reason,
        f"applied before sending: {len(chosen)} tool use(s) cleared "
        f"({len(clear_input)} with their input), ~{saved} tokens",
    )
    return attrs.evolve(request, messages=tuple(messages))


def _keep(value: Any, unit: str, default: int) -> int | None:
    """The number of recent turns or uses ``keep`` preserves (``-1``: all), ``None`` if bad."""
    if value is None:
        return default
    if value == "all" or (isinstance(value, Mapping) and value.get("type") == "all"):
        return -1
    if isinstance(value, Mapping) and value.get("type") == unit:
        number = value.get("value")
        if isinstance(number, int) and number >= 0:
            return number
    return None


def _threshold(value: Any, unit: str, default: int) -> tuple[str | None, int]:
    """``(type, value)`` of a trigger-like object (``unit``, ``default`` when absent)."""
    if value is None:
        return unit, default
    if isinstance(value, Mapping):
        number = value.get("value")
        kind = value.get("type")
        if isinstance(kind, str) and isinstance(number, int):
            return kind, number
    return None, 0


def _names(value: Any) -> bool:
    """Whether ``value`` is a list of tool names (empty included)."""
    return isinstance(value, Sequence) and all(isinstance(n, str) for n in value)


# ------------------------------------------------------------------------- Responses → other


def _from_responses(request: Request, entries: Any, ctx: Context, target: str) -> Request:
    where = f"request.{_KEY}"
    extras = _without_key(request.extras, "responses")
    if not isinstance(entries, list):
        ctx.lose(where, "not a list")
        return attrs.evolve(request, extras=extras)
    edits: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        place = f"{where}[{i}]"
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        if kind != "compaction":
            ctx.lose(place, f"unknown context management entry {kind!r}")
        elif target != "anthropic":
            ctx.lose(place, f"{target} upstreams cannot compact the context; history sent whole")
        else:
            assert isinstance(entry, Mapping)
            edit: dict[str, Any] = {"type": COMPACT}
            threshold = entry.get("compact_threshold")
            if isinstance(threshold, int):
                edit["trigger"] = {"type": "input_tokens", "value": threshold}
            edits.append(edit)
    if edits:
        own = dict(extras.get(target, {}))
        own.setdefault(_KEY, {"edits": edits})
        extras[target] = own
        ctx.need_beta(COMPACT_BETA)  # the transport adds it to the client's own flags
    return attrs.evolve(request, extras=extras)


def _without_key(extras: Mapping[str, Mapping[str, Any]], fmt: str) -> dict[str, Mapping[str, Any]]:
    """``extras`` with ``fmt``'s ``context_management`` removed (it is handled here)."""
    out = dict(extras)
    rest = {k: v for k, v in extras.get(fmt, {}).items() if k != _KEY}
    if rest:
        out[fmt] = rest
    else:
        out.pop(fmt, None)
    return out
