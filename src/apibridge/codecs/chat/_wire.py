"""Pieces of the OpenAI Chat Completions wire format shared by the request, response and
stream halves of the ``chat`` codec: the constants and mapping tables (finish reasons, tool
names), spelling hints, data URLs, usage, tool calls, annotations, and the error body (read
and written by ``codecs._openai_errors``, shared with ``responses``).

Theory of operation. Everything here is a pure function over plain JSON values. Decoding is
lenient (a field of the wrong type raises :class:`~apibridge.errors.InvalidPayload` naming it,
an unknown field is carried in ``extras["chat"]``); encoding produces what the newest
``openai`` SDK types accept. Spelling hints are ``extras["chat"]`` keys starting with ``_``:

* ``_trivial``: keys the sender spelled as ``null`` (or an empty list, or ``"stream": false``)
  that carry nothing; the encoder writes them back with ``setdefault`` so the same-format trip
  is exact, and no other format reports them;
* ``_content``: how a message spelled its ``content`` (``absent``, ``null``, ``empty``,
  ``string``, ``list``) when that differs from what the encoder writes by default;
* ``_custom`` (:data:`CHAT_CUSTOM`): a ``custom`` tool, or a ``custom`` call in a request's
  history, that a Chat client sent as such. Only these go out as Chat ``custom`` tools and
  calls; a free-form tool from any other format goes out as a function tool taking
  ``{"input": string}`` (``codecs._custom_tools``), since vLLM, Ollama and most compatible
  servers accept function tools only.

See ``apibridge.codecs.chat`` for the whole codec.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from apibridge._json import dumps_str, loads
from apibridge.codecs._context import (
    Context,
    expect_obj,
    expect_str,
    new_id,
    opt_int,
    opt_str,
)
from apibridge.codecs._custom_tools import custom_tool_names, wrap_input
from apibridge.errors import InvalidPayload
from apibridge.model import Citation, ContentPart, RefusalPart, TextPart, Tool, ToolCallPart, Usage

__all__ = [
    "ABSENT",
    "CHAT_CUSTOM",
    "FINISH_TO_STOP",
    "FORMAT",
    "STOP_TO_FINISH",
    "TOOL_NAME_MAX",
    "TOOL_NAMESPACES",
    "TOOL_NAME_RE",
    "apply_extras",
    "content_kind",
    "data_url",
    "decode_annotation",
    "decode_tool_call",
    "decode_usage",
    "default_content_kind",
    "encode_citation",
    "encode_tool_call",
    "encode_usage",
    "finish_for",
    "flat_grammar",
    "hints",
    "is_chat_custom",
    "json_prefix",
    "nested_grammar",
    "now",
    "openai_refusal",
    "parse_data_url",
    "stop_for",
    "thinking_text",
    "wrapped_custom_names",
]

FORMAT: Final = "chat"

#: OpenAI's limit on function names: 64 characters of ``[a-zA-Z0-9_-]``.
TOOL_NAME_MAX: Final = 64
#: Whether tools can be grouped in namespaces (``ToolNames`` flattens them where not).
TOOL_NAMESPACES: Final = False
#: One allowed tool-name character (``ToolNames`` matches whole names and single characters).
TOOL_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]+")

#: hint: a ``custom`` tool (or a request's ``custom`` call) that a Chat client sent as such.
CHAT_CUSTOM: Final = "_custom"

#: Chat ``finish_reason`` → canonical stop reason. Unknown values pass through unchanged.
FINISH_TO_STOP: Final[Mapping[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",  # the legacy single-function spelling
    "content_filter": "content_filter",
    "insufficient_system_resource": "error",  # DeepSeek: the server ran out of capacity
}

#: canonical stop reason → Chat ``finish_reason``.
STOP_TO_FINISH: Final[Mapping[str, str]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    # Claude's ``refusal`` stop is its safety classifier stopping the output: Chat calls
    # that ``content_filter``.
    "refusal": "content_filter",
    "context_window_exceeded": "length",
    # No Chat word for these two: the stream did end, so ``stop`` (with a recorded loss).
    "pause_turn": "stop",
    "error": "stop",
}

#: canonical stop reasons whose Chat spelling loses meaning (reported when encoded).
_INEXACT_STOPS: Final = frozenset({"pause_turn", "error"})

#: Chat ``finish_reason`` values that cut the turn short: a tool call under one of them may be
#: truncated, so the reason is kept rather than said as ``tool_use`` (docs/canonical.md).
_CUT_SHORT_FINISHES: Final = frozenset({"length", "content_filter"})

#: canonical stop reasons that cut the turn short and have a Chat word of their own: kept
#: (``length``, ``content_filter``) even when the answer holds a tool call.
_CUT_SHORT_STOPS: Final = frozenset(
    {"max_tokens", "context_window_exceeded", "content_filter", "refusal"}
)

_DATA_URL: Final = re.compile(r"data:([^;,]+);base64,(.*)", re.DOTALL)


class _Absent:
    """The marker for a key that was not in the JSON object at all."""


ABSENT: Final = _Absent()


# ------------------------------------------------------------------------------ small values


def hints(extras: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    """The ``chat`` part of ``extras`` (spelling hints and carried fields)."""
    return extras.get(FORMAT, {})


def now() -> int:
    """The ``created`` timestamp for answers whose source had none (Chat requires one)."""
    return int(time.time())


def apply_extras(out: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Write carried fields back into ``out``: data keys as they were, ``_trivial`` keys only
    where the encoder wrote nothing (other ``_`` hints are read by the caller)."""
    for key, value in fields.items():
        if key == "_trivial":
            for name, trivial in value.items():
                out.setdefault(name, trivial)
        elif not key.startswith("_"):
            out[key] = value


def content_kind(value: Any) -> str:
    """How a ``content`` value is spelled: ``absent``, ``null``, ``empty``, ``string``, ``list``."""
    if value is ABSENT:
        return "absent"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "string" if value else "empty"
    return "list"


def default_content_kind(items: Sequence[Any], *, null_when_empty: bool = False) -> str:
    """The spelling the encoder picks for content ``items`` (wire parts).

    One plain text part is a string (what every compatible server accepts); nothing at all is
    ``null`` beside an assistant's tool calls (``null_when_empty``) and ``""`` otherwise;
    anything else a list of parts.
    """
    if not items:
        return "null" if null_when_empty else "empty"
    if len(items) == 1 and _plain_text(items[0]):
        return "string"
    return "list"


def _plain_text(item: Any) -> bool:
    return (
        isinstance(item, Mapping)
        and item.get("type") == "text"
        and set(item) == {"type", "text"}
        and isinstance(item.get("text"), str)
        and bool(item["text"])
    )


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``(media_type, base64 data)`` of a ``data:…;base64,…`` URL, else ``None``."""
    match = _DATA_URL.fullmatch(url)
    return (match.group(1), match.group(2)) if match else None


def data_url(media_type: str, data: str) -> str:
    """A base64 data URL."""
    return f"data:{media_type};base64,{data}"


def flat_grammar(chat_format: Mapping[str, Any]) -> dict[str, Any]:
    """A Chat custom-tool format in the canonical (Responses) shape: Chat nests a grammar's
    ``syntax`` and ``definition`` under ``grammar``, Responses writes them beside ``type``."""
    grammar = chat_format.get("grammar")
    plain = set(chat_format) == {"type", "grammar"} and chat_format["type"] == "grammar"
    if plain and isinstance(grammar, Mapping) and "type" not in grammar:
        return {"type": "grammar", **grammar}
    return dict(chat_format)  # any other spelling is carried as it is


def nested_grammar(canonical: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical (Responses) grammar format as Chat spells it."""
    if canonical.get("type") == "grammar" and "grammar" not in canonical:
        inner = {k: v for k, v in canonical.items() if k not in ("type", "grammar")}
        if inner:
            return {"type": "grammar", "grammar": inner}
    return dict(canonical)


def thinking_text(text: str, summary: Sequence[str]) -> str:
    """What a Chat ``reasoning_content`` carries: the reasoning, or else its summaries."""
    return text if text else "\n\n".join(summary)


# ------------------------------------------------------------------------------ stop reasons


def stop_for(
    finish: str | None, has_tool_calls: bool, stop_string: Any, *, has_refusal: bool = False
) -> str | None:
    """The canonical stop reason for a Chat ``finish_reason``.

    A tool call in the answer means ``tool_use`` (Ollama and vLLM say ``stop``) unless the
    turn was cut short (``length``, ``content_filter``: the call may be truncated); vLLM's
    ``stop_reason`` string names the stop sequence that matched. A ``stop`` over a refusal
    (``has_refusal``: the message's ``refusal`` is set) is the canonical ``refusal``, as the
    Responses codec reads a completed refusal part.
    """
    if has_tool_calls and finish not in _CUT_SHORT_FINISHES:
        return "tool_use"
    if finish is None:
        return None
    if finish == "stop" and has_refusal:
        return "refusal"
    if finish == "stop" and isinstance(stop_string, str):
        return "stop_sequence"
    return FINISH_TO_STOP.get(finish, finish)


def finish_for(
    stop: str | None,
    has_tool_calls: bool,
    ctx: Context | None = None,
    *,
    has_refusal: bool = False,
) -> str | None:
    """The Chat ``finish_reason`` for a canonical stop reason (``ctx`` records inexact ones).

    A tool call means ``tool_calls``, unless the turn was cut short (as OpenAI says it: a
    truncated call comes with ``length``). A ``refusal`` stop in OpenAI's shape of a refusal
    (``has_refusal``: refusal text and no other text, :func:`openai_refusal`) is ``stop``, as
    OpenAI itself finishes a message whose ``refusal`` is set; Claude's classifier stop that
    cut text short, or said no word, is ``content_filter``."""
    if has_tool_calls and stop not in _CUT_SHORT_STOPS:
        return "tool_calls"
    if stop is None:
        return None
    if stop == "refusal" and has_refusal:
        return "stop"
    if stop in STOP_TO_FINISH:
        if ctx is not None and stop in _INEXACT_STOPS:
            ctx.lose("stop_reason", f"chat has no {stop!r} finish reason", "sent as 'stop'")
        return STOP_TO_FINISH[stop]
    if ctx is not None:
        ctx.lose("stop_reason", f"unknown stop reason {stop!r}", "passed on as is")
    return stop


def openai_refusal(parts: Sequence[ContentPart]) -> bool:
    """Whether an answer is a refusal as OpenAI writes one: refusal text, no other text.

    Claude's refusal stop (``stop_details.explanation`` as the refusal part, or no word at
    all) after text it had already streamed is not: that text was cut short.
    """
    refused = False
    for part in parts:
        if isinstance(part, TextPart) and part.text:
            return False
        if isinstance(part, RefusalPart) and part.text:
            refused = True
    return refused


# ------------------------------------------------------------------------------------- usage


def decode_usage(raw: Any, where: str) -> Usage:
    """A Chat ``usage`` object as canonical :class:`Usage` (OpenAI counts include the cache).

    DeepSeek reports cache hits as ``prompt_cache_hit_tokens``; the raw object is kept as the
    ``_raw`` hint so that a same-format trip writes back every detail field it had.
    """
    obj = expect_obj(raw, where)
    prompt = opt_int(obj.get("prompt_tokens"), f"{where}.prompt_tokens")
    completion = opt_int(obj.get("completion_tokens"), f"{where}.completion_tokens")
    cached = cache_write = reasoning = None
    prompt_details = obj.get("prompt_tokens_details")
    if isinstance(prompt_details, Mapping):
        cached = opt_int(
            prompt_details.get("cached_tokens"), f"{where}.prompt_tokens_details.cached_tokens"
        )
        cache_write = opt_int(
            prompt_details.get("cache_write_tokens"),
            f"{where}.prompt_tokens_details.cache_write_tokens",
        )
    if cached is None:
        cached = opt_int(obj.get("prompt_cache_hit_tokens"), f"{where}.prompt_cache_hit_tokens")
    completion_details = obj.get("completion_tokens_details")
    if isinstance(completion_details, Mapping):
        reasoning = opt_int(
            completion_details.get("reasoning_tokens"),
            f"{where}.completion_tokens_details.reasoning_tokens",
        )
    usage = Usage.from_openai(prompt, completion, cached, reasoning, cache_write)
    fields: dict[str, Any] = {"_raw": dict(obj)}
    for outer, inner in _UNMAPPED_DETAILS:
        details = obj.get(outer)
        value = details.get(inner) if isinstance(details, Mapping) else None
        if value:  # a count other formats have no field for (0, the usual value, says nothing)
            fields[f"{outer}.{inner}"] = value
    return attrs.evolve(usage, extras={FORMAT: fields})


#: Chat usage details no other format has a field for (audio, image, predicted outputs); a
#: non-zero count rides as data in the usage extras, so another format's encoder reports it.
#: (``text_tokens`` is what remains of the totals, which are carried.)
_UNMAPPED_DETAILS: Final = (
    ("prompt_tokens_details", "audio_tokens"),
    ("prompt_tokens_details", "image_tokens"),
    ("completion_tokens_details", "audio_tokens"),
    ("completion_tokens_details", "accepted_prediction_tokens"),
    ("completion_tokens_details", "rejected_prediction_tokens"),
)


def _numbers(usage: Usage) -> tuple[int | None, ...]:
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
    )


def encode_usage(usage: Usage, ctx: Context, where: str = "usage") -> dict[str, Any]:
    """Canonical usage as a Chat ``usage`` object: ``prompt_tokens`` includes cached tokens.

    Unknown numbers are left out, never written as zeros.
    """
    raw = hints(usage.extras).get("_raw")
    if isinstance(raw, Mapping):
        try:
            if _numbers(decode_usage(raw, where)) == _numbers(usage):
                return dict(raw)
        except InvalidPayload:
            pass  # a damaged hint: rebuild from the numbers below
    ctx.lose_extras(usage.extras, FORMAT, where)
    out: dict[str, Any] = {}
    if usage.total_input is not None:
        out["prompt_tokens"] = usage.total_input
    if usage.output_tokens is not None:
        out["completion_tokens"] = usage.output_tokens
    if usage.total is not None:
        out["total_tokens"] = usage.total
    prompt_details: dict[str, int] = {}
    if usage.cache_read_tokens is not None:
        prompt_details["cached_tokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens is not None:
        prompt_details["cache_write_tokens"] = usage.cache_write_tokens
    if prompt_details:
        out["prompt_tokens_details"] = prompt_details
    if usage.reasoning_tokens is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    own = hints(usage.extras)
    for outer, inner in _UNMAPPED_DETAILS:
        value = own.get(f"{outer}.{inner}")
        if value is not None:  # the numbers changed (a stream's later usage): details kept
            out.setdefault(outer, {})[inner] = value
    return out


# -------------------------------------------------------------------------------- tool calls

_CALL_KEYS: Final = frozenset({"id", "type", "function", "custom"})


def decode_tool_call(raw: Any, where: str, *, request: bool = False) -> ToolCallPart:
    """One entry of an assistant ``tool_calls`` list (``function`` or ``custom``); in a
    request's history a ``custom`` call is marked as the client's own (:data:`CHAT_CUSTOM`)."""
    obj = expect_obj(raw, where)
    extras = {k: v for k, v in obj.items() if k not in _CALL_KEYS}
    kind_name = obj.get("type", ABSENT)
    if kind_name is ABSENT:
        extras["_type_absent"] = True
        kind_name = "custom" if "custom" in obj and "function" not in obj else "function"
    if kind_name == "custom":
        key, text_key = "custom", "input"
    elif kind_name == "function":
        key, text_key = "function", "arguments"
    else:
        raise InvalidPayload(f"{where}.type: unknown tool call type {kind_name!r}")
    inner = expect_obj(obj.get(key), f"{where}.{key}")
    name = expect_str(inner.get("name"), f"{where}.{key}.name")
    text = inner.get(text_key, "")
    if isinstance(text, Mapping) and key == "function":
        # Some clients send the arguments as an object; keep the spelling, carry the text.
        extras["_arguments_object"] = True
        text = dumps_str(text)
    text = expect_str(text, f"{where}.{key}.{text_key}")
    inner_rest = {k: v for k, v in inner.items() if k not in ("name", text_key)}
    if inner_rest:
        extras[key] = inner_rest
    call_id = obj.get("id")
    if call_id is None:
        extras["_no_id"] = True
        call_id = new_id("call_")
    if request and key == "custom":
        extras[CHAT_CUSTOM] = True
    return ToolCallPart(
        id=expect_str(call_id, f"{where}.id"),
        name=name,
        arguments=text,
        kind="custom" if key == "custom" else "function",
        extras={FORMAT: extras} if extras else {},
    )


def encode_tool_call(
    part: ToolCallPart, ctx: Context, where: str, *, wrap: bool = False
) -> dict[str, Any]:
    """A :class:`ToolCallPart` as a Chat ``tool_calls`` entry; with ``wrap`` (a request's
    history from another format), a ``custom`` call becomes a function call with
    ``{"input": text}`` arguments, as its tool became a function tool."""
    carried = hints(part.extras)
    out: dict[str, Any] = {} if carried.get("_no_id") else {"id": part.id}
    if part.kind == "custom" and wrap:
        key = "function"
        arguments: Any = dumps_str(wrap_input(part.arguments))
        inner: dict[str, Any] = {"name": part.name, "arguments": arguments}
        carried = {k: v for k, v in carried.items() if k != "custom"}
    elif part.kind == "custom":
        key = "custom"
        inner = {"name": part.name, "input": part.arguments}
    else:
        key = "function"
        arguments = part.arguments
        if carried.get("_arguments_object"):
            try:
                arguments = loads(part.arguments)
            except InvalidPayload:
                arguments = part.arguments
        inner = {"name": part.name, "arguments": arguments}
    if not carried.get("_type_absent"):
        out["type"] = key
    nested = carried.get(key)
    if isinstance(nested, Mapping):
        inner.update(nested)
    out[key] = inner
    apply_extras(out, {k: v for k, v in carried.items() if k != key})
    ctx.lose_extras(part.extras, FORMAT, where)
    if part.item_id is not None:
        ctx.lose(f"{where}.item_id", "chat tool calls have no item id", "dropped")
    if part.cache_control is not None:
        ctx.lose(f"{where}.cache_control", "chat has no cache breakpoints here", "dropped")
    return out


def is_chat_custom(tool: Tool) -> bool:
    """Whether ``tool`` is a ``custom`` tool a Chat client declared (it stays one)."""
    return tool.kind == "custom" and bool(hints(tool.extras).get(CHAT_CUSTOM))


def wrapped_custom_names(ctx: Context) -> frozenset[str]:
    """Names of the client's free-form tools the encoder sent as function tools taking
    ``{"input": string}``: every ``custom`` tool but a Chat client's own. Calls to them in
    an answer are unwrapped again."""
    return custom_tool_names(ctx, keep=lambda t: not is_chat_custom(t))


# ------------------------------------------------------------------------------- annotations


def decode_annotation(raw: Any, where: str) -> Citation:
    """A message ``annotations`` entry as a :class:`Citation` (``raw`` keeps it whole)."""
    obj = expect_obj(raw, where)
    kind = expect_str(obj.get("type"), f"{where}.type")
    if kind == "url_citation":
        inner = expect_obj(obj.get("url_citation"), f"{where}.url_citation")
        return Citation(
            kind=kind,
            url=opt_str(inner.get("url"), f"{where}.url_citation.url"),
            title=opt_str(inner.get("title"), f"{where}.url_citation.title"),
            start_index=opt_int(inner.get("start_index"), f"{where}.url_citation.start_index"),
            end_index=opt_int(inner.get("end_index"), f"{where}.url_citation.end_index"),
            raw=dict(obj),
            source_format=FORMAT,
        )
    return Citation(kind=kind, raw=dict(obj), source_format=FORMAT)


#: where a Claude ``search_result_location`` citation points in the request's content blocks.
_CLAUDE_POSITIONS: Final = ("search_result_index", "start_block_index", "end_block_index")


def encode_citation(
    citation: Citation, base: int, length: int, ctx: Context, where: str
) -> dict[str, Any] | None:
    """A citation on text that starts at ``base`` in the message content and is ``length``
    characters long, as a Chat annotation (``None``, with a loss, when Chat cannot hold it).

    A citation without offsets of its own (Claude's web-search citations) spans its text.
    """
    if citation.source_format == FORMAT and citation.raw:
        out = dict(citation.raw)
        inner = out.get("url_citation")
        if base and isinstance(inner, Mapping):
            shifted = dict(inner)
            for key in ("start_index", "end_index"):
                if isinstance(shifted.get(key), int):
                    shifted[key] += base
            out["url_citation"] = shifted
        return out
    if citation.url is None:
        ctx.lose(where, f"chat annotations cite URLs only, not {citation.kind}", "dropped")
        return None
    if citation.cited_text:
        ctx.lose(f"{where}.cited_text", "url_citation has no quoted text")
    if citation.raw and citation.raw.get("encrypted_index") is not None:
        ctx.lose(f"{where}.encrypted_index", "Claude's search-result handle has no chat place")
    for key in _CLAUDE_POSITIONS:  # a search_result_location's place in Claude's content
        if citation.raw and citation.raw.get(key) is not None:
            ctx.lose(f"{where}.{key}", "a url_citation has no search-result position")
    start = citation.start_index if citation.kind == "url_citation" else None
    end = citation.end_index if citation.kind == "url_citation" else None
    return {
        "type": "url_citation",
        "url_citation": {
            "url": citation.url,
            "title": citation.title if citation.title is not None else citation.url,
            "start_index": base + (start if start is not None else 0),
            "end_index": base + (end if end is not None else length),
        },
    }


def json_prefix(text: str) -> bool:
    """Whether ``text`` can be the start of a JSON document: read alone, it never closes a
    bracket it did not open. A cumulative snapshot always can; a delta that merely repeats
    the text so far (``{"a":`` then ``{"a":1}}``, a nested object) usually cannot."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth < 0:
                return False
    return True
