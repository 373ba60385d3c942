"""What every part of the Responses codec shares: the tables, the extras hints, stop reasons,
citations and usage.

Theory of operation
-------------------
``extras["responses"]`` holds two kinds of keys: data (fields the model does not map, written
back as they came) and ``_``-prefixed *spelling hints* that make a same-format trip exact
(they are never data, so :func:`lose_foreign` does not report another format's hints either).
:func:`split` collects the unmapped fields of a JSON object, :func:`finish` writes them back
and drops the ``_absent`` defaults (keys this codec writes unasked but the original lacked);
:func:`item_hint` is the ``_item`` hint of a part decoded from an item. Every module reports
another format's extras (:func:`lose_foreign`) and a ``cache_control`` (:func:`lose_cache`:
Responses caches prompts on its own) the same way, through these.

Stop reasons: ``status`` + ``incomplete_details.reason`` ↔ the canonical reason through the
tables below; a client tool call in a completed answer means ``tool_use``, a refusal part
``refusal``. Usage: Responses ``input_tokens`` include cached tokens (``Usage.from_openai``
going in, ``usage.total_input`` going out); the SDK requires every detail count, so an unknown
detail is written as 0, but usage without both main counts is left out (and reported).
Annotations are kept whole (``Citation.raw``); another format's citation with a URL becomes a
``url_citation`` over its whole text part.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from apibridge.codecs._context import Context, expect_obj, expect_str, int_or_none, str_or_none
from apibridge.model import (
    Citation,
    ContentPart,
    Extras,
    RefusalPart,
    ToolCallPart,
    Usage,
)

__all__ = [
    "CALL_ITEMS",
    "FORMAT",
    "INCOMPLETE_TO_STOP",
    "LOSSY_STOPS",
    "SERVER_TOOL_NAMES",
    "STATUS_TO_STOP",
    "STOP_TO_STATUS",
    "TOOL_NAME_MAX",
    "TOOL_NAMESPACES",
    "TOOL_NAME_RE",
    "USER_SIDE_ITEMS",
    "absent_keys",
    "decode_annotation",
    "decode_usage",
    "encode_annotation",
    "encode_usage",
    "finish",
    "has_foreign",
    "hints",
    "item_hint",
    "lose_cache",
    "lose_foreign",
    "pack",
    "part_hints",
    "split",
    "status_for_stop",
    "stop_for_status",
]

FORMAT = "responses"

TOOL_NAME_MAX = 64
#: Whether tools can be grouped in namespaces (``ToolNames`` flattens them where not).
TOOL_NAMESPACES: Final = True
#: One allowed character of a tool name (``ToolNames`` matches names and single characters).
TOOL_NAME_RE: re.Pattern[str] = re.compile(r"[A-Za-z0-9_-]+")

#: Output item types that are client tool calls (a turn holding one stops with ``tool_use``).
CALL_ITEMS: frozenset[str] = frozenset({"function_call", "custom_tool_call"})

#: Item types produced on the *user* side of the conversation (answers to calls). Every
#: other non-message item is assistant-side (calls, reasoning, server tool activity).
USER_SIDE_ITEMS: frozenset[str] = frozenset(
    {
        "function_call_output",
        "custom_tool_call_output",
        "computer_call_output",
        "local_shell_call_output",
        "shell_call_output",
        "apply_patch_call_output",
        "mcp_approval_response",
        "tool_search_output",
    }
)

#: Server item type → canonical tool name, where one is known.
SERVER_TOOL_NAMES: Mapping[str, str] = {
    "web_search_call": "web_search",
    "file_search_call": "file_search",
    "code_interpreter_call": "code_interpreter",
    "image_generation_call": "image_generation",
    "computer_call": "computer_use",
    "mcp_call": "mcp",
}

#: canonical stop reason → (status, incomplete_details.reason).
STOP_TO_STATUS: Mapping[str, tuple[str, str | None]] = {
    "end_turn": ("completed", None),
    "tool_use": ("completed", None),
    "refusal": ("completed", None),
    "stop_sequence": ("completed", None),
    "pause_turn": ("completed", None),
    "max_tokens": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
    "context_window_exceeded": ("incomplete", "max_output_tokens"),
    "error": ("failed", None),
}

#: Stop reasons that Responses can only approximate, and why.
LOSSY_STOPS: Mapping[str, str] = {
    "stop_sequence": "responses has no stop sequences, so the matched sequence cannot be said",
    "pause_turn": "responses has no paused turn; the answer is marked completed",
    "context_window_exceeded": "responses has no context-window stop; said as max_output_tokens",
}

#: incomplete_details.reason → canonical stop reason.
INCOMPLETE_TO_STOP: Mapping[str, str] = {
    "max_output_tokens": "max_tokens",
    "content_filter": "content_filter",
}

#: response status → canonical stop reason (``incomplete`` goes through the table above).
STATUS_TO_STOP: Mapping[str, str | None] = {
    "completed": "end_turn",
    "failed": "error",
    "cancelled": "error",
    "in_progress": None,
    "queued": None,
}

# ------------------------------------------------------------------------------- hints


def hints(extras: Extras) -> Mapping[str, Any]:
    """This format's entry of ``extras`` (data and hints), or an empty mapping."""
    if not extras:
        return _NO_HINTS  # the common case: nothing carried
    found = extras.get(FORMAT)
    if found is None:
        return _NO_HINTS
    return found if type(found) is dict or isinstance(found, Mapping) else _NO_HINTS


#: the hints of a value that carries none (never written to).
_NO_HINTS: Final[Mapping[str, Any]] = {}


def has_foreign(extras: Extras) -> bool:
    """Whether ``extras`` hold a data field of another format (what :func:`lose_foreign`
    reports); spelling hints (``_`` keys) are not data."""
    for fmt, fields in extras.items():
        if fmt != FORMAT and isinstance(fields, Mapping):
            for key in fields:
                if not str(key).startswith("_"):
                    return True
    return False


def part_hints(part: ContentPart) -> Mapping[str, Any]:
    """This format's extras of a part (server-tool parts have none)."""
    extras = getattr(part, "extras", None)
    return hints(extras) if isinstance(extras, Mapping) else {}


def pack(fields: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"responses": fields}``, or ``{}`` when there are none."""
    return {FORMAT: dict(fields)} if fields else {}


def lose_foreign(ctx: Context, extras: Extras, where: str) -> None:
    """Report the extras of other formats (their spelling hints are not data: skipped)."""
    if not extras or not has_foreign(extras):
        return  # the common case: nothing to report
    foreign = {
        fmt: {k: v for k, v in fields.items() if not str(k).startswith("_")}
        for fmt, fields in extras.items()
        if fmt != FORMAT and isinstance(fields, Mapping)
    }
    ctx.lose_extras(foreign, FORMAT, where)


def split(obj: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    """The fields of ``obj`` this codec does not map: unknown keys, and known keys set to
    ``null`` (canonical ``None`` means *absent*, so an explicit ``null`` rides as data)."""
    names = known if isinstance(known, frozenset) else frozenset(known)
    return {k: v for k, v in obj.items() if v is None or k not in names}


def finish(out: dict[str, Any], extras: Extras, *, item: Mapping[str, Any] | None = None) -> None:
    """Write this format's data extras back into ``out`` and drop the ``_absent`` defaults."""
    own = hints(extras)
    for key, value in own.items():
        if not key.startswith("_"):
            out[key] = value
    if item:
        out.update(item)
    for key in own.get("_absent", ()):
        out.pop(key, None)


def absent_keys(obj: Mapping[str, Any], defaults: Iterable[str]) -> list[str]:
    """The keys of ``defaults`` that ``obj`` lacks (for the ``_absent`` hint)."""
    return [k for k in defaults if k not in obj]


def item_hint(obj: Mapping[str, Any], mapped: Iterable[str]) -> dict[str, Any]:
    """The ``_item`` hint of a part decoded from item ``obj``: the item's own fields that no
    part field holds (``mapped`` names those that one does)."""
    return {"_item": split(obj, mapped)}


def lose_cache(part: Any, ctx: Context, where: str) -> None:
    """Report a ``cache_control`` (Responses caches prompts on its own, with no marker)."""
    if getattr(part, "cache_control", None) is not None:
        ctx.lose(f"{where}.cache_control", "responses caches prompts on its own")


# ------------------------------------------------------------------------------ stops


def stop_for_status(status: Any, incomplete: Any, parts: Sequence[ContentPart]) -> str | None:
    """The canonical stop reason of a response with this status and output."""
    if status == "incomplete":
        reason = incomplete.get("reason") if isinstance(incomplete, Mapping) else None
        if not isinstance(reason, str):
            return "max_tokens"
        return INCOMPLETE_TO_STOP.get(reason, reason)
    if status == "completed":
        if any(isinstance(p, ToolCallPart) for p in parts):
            return "tool_use"
        if any(isinstance(p, RefusalPart) for p in parts):
            return "refusal"
        return "end_turn"
    if isinstance(status, str):
        return STATUS_TO_STOP.get(status)
    return None


def status_for_stop(stop: str | None) -> tuple[str, dict[str, Any] | None]:
    """``(status, incomplete_details)`` for a canonical stop reason (unknown → completed)."""
    status, reason = STOP_TO_STATUS.get(stop or "end_turn", ("completed", None))
    return status, ({"reason": reason} if reason is not None else None)


# --------------------------------------------------------------------------- citations


def decode_annotation(ann: Any, where: str) -> Citation:
    """One ``output_text`` annotation as a :class:`Citation` (the original kept whole)."""
    obj = expect_obj(ann, where)
    kind = expect_str(obj.get("type"), f"{where}.type")
    return Citation(
        kind=kind,
        url=str_or_none(obj.get("url")),
        title=next((obj[k] for k in ("title", "filename") if isinstance(obj.get(k), str)), None),
        start_index=obj.get("start_index") if isinstance(obj.get("start_index"), int) else None,
        end_index=obj.get("end_index") if isinstance(obj.get("end_index"), int) else None,
        raw=dict(obj),
        source_format=FORMAT,
    )


#: where a Claude ``search_result_location`` citation points in the request's content blocks.
_CLAUDE_POSITIONS: Final = ("search_result_index", "start_block_index", "end_block_index")


def encode_annotation(
    cite: Citation, text_length: int, ctx: Context, where: str
) -> dict[str, Any] | None:
    """A citation as an annotation: our own verbatim, another format's as a ``url_citation``."""
    if cite.source_format == FORMAT and cite.raw:
        return dict(cite.raw)
    if cite.url is None:
        ctx.lose(where, f"{cite.kind} citation has no URL, which responses annotations need")
        return None
    if cite.cited_text:
        ctx.lose(f"{where}.cited_text", "url_citation has no quoted text")
    if cite.raw and cite.raw.get("encrypted_index") is not None:
        ctx.lose(f"{where}.encrypted_index", "Claude's search-result handle has no place here")
    for key in _CLAUDE_POSITIONS:  # a search_result_location's place in Claude's content
        if cite.raw and cite.raw.get(key) is not None:
            ctx.lose(f"{where}.{key}", "a url_citation has no search-result position")
    # A citation without a position covers the whole text part it annotates.
    return {
        "type": "url_citation",
        "url": cite.url,
        "title": cite.title or "",
        "start_index": cite.start_index if cite.start_index is not None else 0,
        "end_index": cite.end_index if cite.end_index is not None else text_length,
    }


# ------------------------------------------------------------------------------- usage

#: Usage keys this codec writes by default (paths; ``_absent`` names the missing ones).
_USAGE_DEFAULTS = (
    "input_tokens_details",
    "input_tokens_details.cached_tokens",
    "input_tokens_details.cache_write_tokens",
    "output_tokens_details",
    "output_tokens_details.reasoning_tokens",
    "total_tokens",
)


def decode_usage(value: Any, where: str) -> Usage | None:
    """Responses usage (``input_tokens`` includes cached tokens) with Anthropic semantics."""
    if value is None:
        return None
    obj = expect_obj(value, where)
    extra: dict[str, Any] = split(
        obj,
        (
            "input_tokens",
            "output_tokens",
            "total_tokens",
            "input_tokens_details",
            "output_tokens_details",
        ),
    )
    details = {}
    for key, known in (
        ("input_tokens_details", ("cached_tokens", "cache_write_tokens")),
        ("output_tokens_details", ("reasoning_tokens",)),
    ):
        sub = obj.get(key)
        details[key] = sub if isinstance(sub, Mapping) else {}
        rest = split(details[key], known)
        if rest:
            extra[key] = rest
    absent = [p for p in _USAGE_DEFAULTS if not _has_path(obj, p)]
    if absent:
        extra["_absent"] = absent
    input_tokens = int_or_none(obj.get("input_tokens"))
    output_tokens = int_or_none(obj.get("output_tokens"))
    usage = Usage.from_openai(
        input_tokens,
        output_tokens,
        cached_tokens=int_or_none(details["input_tokens_details"].get("cached_tokens")),
        reasoning_tokens=int_or_none(details["output_tokens_details"].get("reasoning_tokens")),
        cache_write_tokens=int_or_none(details["input_tokens_details"].get("cache_write_tokens")),
    )
    if usage.total_input != input_tokens:
        extra["_input_tokens"] = input_tokens
    if "total_tokens" in obj and obj["total_tokens"] != usage.total:
        extra["_total_tokens"] = obj["total_tokens"]
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        extras=pack(extra),
    )


def _has_path(obj: Mapping[str, Any], path: str) -> bool:
    head, _, tail = path.partition(".")
    if head not in obj:
        return False
    return not tail or (isinstance(obj[head], Mapping) and tail in obj[head])


def encode_usage(usage: Usage | None, ctx: Context, where: str) -> dict[str, Any] | None:
    """Responses usage, or ``None`` when the counts it needs are unknown (reported)."""
    if usage is None:
        return None
    lose_foreign(ctx, usage.extras, where)
    total_input = usage.total_input
    if total_input is None or usage.output_tokens is None:
        if total_input is not None or usage.output_tokens is not None:
            ctx.lose(where, "responses usage needs both input and output counts", "omitted")
        return None
    own = hints(usage.extras)
    # The SDK's usage type requires every detail count: an unknown detail is said as 0.
    out: dict[str, Any] = {
        "input_tokens": own.get("_input_tokens", total_input),
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens or 0,
            "cache_write_tokens": usage.cache_write_tokens or 0,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": own.get("_total_tokens", total_input + usage.output_tokens),
    }
    for key, value in own.items():
        if key.startswith("_"):
            continue
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key].update(value)  # unknown detail counts
        else:
            out[key] = value
    for path in own.get("_absent", ()):
        head, _, tail = path.partition(".")
        if tail and isinstance(out.get(head), dict):
            out[head].pop(tail, None)
        elif not tail:
            out.pop(head, None)
    return out
