"""The Anthropic Messages wire vocabulary that every module of the codec shares.

Theory of operation
-------------------
Requests (``_request``), answers (``_response``), content blocks (``_block_decoder``,
``_block_encoder``), request options (``_options``) and the stream codecs
(``_stream_decoder``, ``_stream_encoder``) speak in the same names, hints, citations, usage
objects and stop reasons; this module holds that vocabulary once, as module-level tables and
pure functions, and imports nothing else from the package (it is the bottom layer; the error
envelope is ``_errors``).

* **Spelling hints and unknown fields**: each wire object's unmapped fields go to the
  canonical value's ``extras["anthropic"]`` (:class:`Own` collects them); ``_``-prefixed keys
  there are hints (:data:`DEFAULTS`: fields present with an empty value the model cannot tell
  from absence; :data:`CONTENT_STRING` and friends) that keep a same-format round trip
  exact. :func:`finish` writes them back, and reports other formats' extras as losses.
* **Citations**: native ones are carried whole. A foreign citation with a URL becomes, in an
  answer, a ``web_search_result_location`` whose ``encrypted_index`` seals the original in a
  reasoning-style envelope (kind ``citation``), so it comes back intact; to an Anthropic
  upstream (which verifies citations) it is dropped with a loss.
* **Usage**: ``input_tokens`` excludes the cache, as the canonical model does; unknown
  numbers stay ``None`` (0 only where the SDK type requires a number).
* **Stop reasons**: the tables below, both ways; any tool call in an answer means
  ``tool_use`` unless the turn was cut short.
* **Refusals**: Claude's ``refusal`` stop decodes to the ``refusal`` stop reason *and* a
  :class:`~apibridge.model.RefusalPart` at the end of the answer holding
  ``stop_details.explanation`` (or no words), so that OpenAI clients get the refusal part
  they read (:func:`refusal_part`). The part is marked with :data:`REFUSAL_STOP` and is no
  block when encoded again; ``stop_details`` comes back whole (:func:`keep_stop_details`).
  Text Claude wrote before the stop stays text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from apibridge import _json
from apibridge.codecs._context import Context, expect_obj, expect_str, opt_int
from apibridge.codecs.envelope import Envelope, open_envelope, seal
from apibridge.errors import InvalidPayload
from apibridge.model import Citation, Extras, RefusalPart, Usage

__all__ = [
    "ABSENT",
    "CONTENT_LIST",
    "CONTENT_STRING",
    "DEFAULTS",
    "EMPTY_TEXT",
    "FORMAT",
    "INTERRUPTED",
    "MESSAGE_KEYS",
    "REFUSAL_STOP",
    "ROLES_FROM_WIRE",
    "SEARCH_RESULTS",
    "STOP_DETAILS",
    "STOP_REASON_FROM_WIRE",
    "STOP_REASON_TO_WIRE",
    "TOOL_NAME_MAX",
    "TOOL_NAMESPACES",
    "TOOL_NAME_RE",
    "Own",
    "absent_keys",
    "cache_control",
    "decode_citation",
    "decode_stop_reason",
    "decode_usage",
    "encode_citation",
    "encode_stop_reason",
    "encode_stop_sequence",
    "encode_usage",
    "finish",
    "foreign_data",
    "is_empty",
    "json_text",
    "keep_stop_details",
    "lose_foreign",
    "own_of",
    "refusal_part",
]

FORMAT: Final = "anthropic"
TOOL_NAME_MAX: Final = 128
#: Whether tools can be grouped in namespaces (``ToolNames`` flattens them where not).
TOOL_NAMESPACES: Final = False
#: One character Anthropic allows in a tool name (``ToolNames`` matches whole names too).
TOOL_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]+")

#: hint: ``{field: value}`` of fields the body held with a value the model cannot tell from
#: absence (``null``, ``[]``, ``false``); the encoder writes them back.
DEFAULTS: Final = "_defaults"
#: hint: a message or tool result ``content`` was a plain string.
CONTENT_STRING: Final = "_content_string"
#: hint: a tool result ``content`` was a list (even of one text block, or empty).
CONTENT_LIST: Final = "_content_list"
#: hint: fields the encoder always writes that the body did not have.
ABSENT: Final = "_absent"
#: hint: an Anthropic body held this empty text block (others' empty text parts are dropped:
#: Anthropic rejects empty text blocks in requests, and a stream never opens one).
EMPTY_TEXT: Final = "_empty_text"
#: hint: a tool result ``content`` list with ``search_result`` blocks, kept as it came (the
#: canonical parts hold their text, see ``codecs._server_text``).
SEARCH_RESULTS: Final = "_search_results"

#: hint on a :class:`~apibridge.model.RefusalPart`: this codec made it of a ``refusal`` stop
#: (its text is ``stop_details.explanation``); encoded again, it is no block.
REFUSAL_STOP: Final = "_refusal_stop"
#: hint: the answer's ``stop_details`` when it says no more than the refusal part carries
#: (a ``category`` stays a field, which other formats report lost).
STOP_DETAILS: Final = "_stop_details"

# ------------------------------------------------------------------------------ tables

#: Anthropic message ``role`` → canonical role (``system`` only leniently, between turns).
ROLES_FROM_WIRE: Final[Mapping[str, str]] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
}

#: The fields of a Message object (an answer, or a stream's ``message_start.message``) that
#: the model maps; the others are kept in ``extras["anthropic"]``.
MESSAGE_KEYS: Final = frozenset(
    {"id", "type", "role", "content", "model", "stop_reason", "stop_sequence", "usage"}
)

#: Anthropic ``stop_reason`` → canonical stop reason.
STOP_REASON_FROM_WIRE: Final[Mapping[str, str]] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "pause_turn": "pause_turn",
    "refusal": "refusal",
    "model_context_window_exceeded": "context_window_exceeded",
}

#: canonical stop reason → Anthropic ``stop_reason`` (the inverse, plus ``content_filter``,
#: which Claude reports as a refusal). Anything else becomes ``end_turn`` with a loss.
STOP_REASON_TO_WIRE: Final[Mapping[str, str]] = {
    **{canonical: wire for wire, canonical in STOP_REASON_FROM_WIRE.items()},
    "content_filter": "refusal",
}

#: Stop reasons that cut a turn short: a tool call under one of these is not ``tool_use``
#: (it may be truncated), so the reason is kept.
INTERRUPTED: Final = frozenset(
    {"max_tokens", "refusal", "pause_turn", "context_window_exceeded", "content_filter"}
)

_USAGE_KEYS: Final = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens_details",
    }
)


# ------------------------------------------------------------------------------ refusals


def refusal_part(stop_details: Any) -> RefusalPart:
    """The refusal part of Claude's ``refusal`` stop: ``stop_details.explanation`` or no words.

    Anthropic's classifier adds no refusal message of its own (its "Streaming refusals"
    page); the explanation, where ``stop_details`` has one, is what an OpenAI ``refusal``
    holds.
    """
    words = stop_details.get("explanation") if isinstance(stop_details, Mapping) else None
    return RefusalPart(
        text=words if isinstance(words, str) else "", extras={FORMAT: {REFUSAL_STOP: True}}
    )


def keep_stop_details(own: dict[str, Any]) -> None:
    """Turn ``stop_details`` into the :data:`STOP_DETAILS` hint when all it says (its type,
    its explanation) travels as the refusal part; a category stays a field (reported)."""
    details = own.get("stop_details")
    if not isinstance(details, Mapping):
        return
    words = details.get("explanation")
    if (words is None or isinstance(words, str)) and all(  # other words stay (reported)
        value is None for key, value in details.items() if key not in ("type", "explanation")
    ):
        own[STOP_DETAILS] = own.pop("stop_details")


# ------------------------------------------------------------------------ extras helpers


class Own:
    """The fields of one wire object that the model does not map, plus its spelling hints."""

    __slots__ = ("data",)

    def __init__(self, body: Mapping[str, Any], known: frozenset[str]) -> None:
        # One set comparison for the common case (every field known) instead of a loop.
        self.data: dict[str, Any] = (
            {} if body.keys() <= known else {k: v for k, v in body.items() if k not in known}
        )

    def set(self, key: str, value: Any = True) -> None:
        """Keep ``value`` under ``key``: a spelling hint (``_`` first) or a field kept whole."""
        self.data[key] = value

    def empties(self, body: Mapping[str, Any], keys: Iterable[str]) -> None:
        """Remember which of ``keys`` the body held as ``null``, ``[]`` or ``false``."""
        for key in keys:
            if key in body and is_empty(body[key]):
                self.data.setdefault(DEFAULTS, {})[key] = body[key]

    def absent(self, body: Mapping[str, Any], keys: Iterable[str]) -> None:
        """Remember which of ``keys`` (always written by the encoder) the body lacked."""
        missing = [k for k in keys if k not in body]
        if missing:
            self.data[ABSENT] = missing

    def extras(self) -> Extras:
        """The ``extras`` mapping for the canonical value (empty when nothing to keep)."""
        return {FORMAT: self.data} if self.data else {}


def is_empty(value: Any) -> bool:
    """Whether ``value`` is one the model stores as its default (``None``, ``[]``, ``false``)."""
    return value is None or value is False or (isinstance(value, list) and not value)


def own_of(extras: Extras) -> Mapping[str, Any]:
    """This format's part of ``extras``."""
    return extras.get(FORMAT) or {}


def absent_keys(extras: Extras) -> frozenset[str]:
    """The keys the :data:`ABSENT` hint lists."""
    value = own_of(extras).get(ABSENT)
    return frozenset(value) if isinstance(value, list) else frozenset()


def foreign_data(extras: Extras) -> bool:
    """Whether ``extras`` hold a data field of another format (what :func:`lose_foreign`
    reports); their ``_`` hints are spelling, never data."""
    for fmt, fields in extras.items():
        if fmt != FORMAT:
            for key in fields:
                if not key.startswith("_"):
                    return True
    return False


def lose_foreign(ctx: Context, extras: Extras, where: str) -> None:
    """Report the other formats' extras (their ``_`` hints are spelling, never data)."""
    if not extras or not foreign_data(extras):
        return  # the common case: nothing foreign to report
    foreign = {
        fmt: {k: v for k, v in fields.items() if not k.startswith("_")}
        for fmt, fields in extras.items()
        if fmt != FORMAT
    }
    ctx.lose_extras(foreign, FORMAT, where)


def finish(out: dict[str, Any], extras: Extras, ctx: Context, where: str) -> dict[str, Any]:
    """``out`` completed with this format's unknown fields and hinted defaults.

    Mapped values win over extras of the same name; other formats' extras are reported.
    """
    if not extras:
        return out  # the common case: nothing to write back or report
    for key, value in own_of(extras).items():
        if key == DEFAULTS and isinstance(value, Mapping):
            for field, default in value.items():
                out.setdefault(field, default)
        elif not key.startswith("_"):
            out.setdefault(key, value)
    lose_foreign(ctx, extras, where)
    return out


def json_text(value: Any) -> str:
    """Compact JSON text of a parsed value (tool input), as the raw ``arguments``."""
    return _json.dumps_str(value)


def cache_control(block: Mapping[str, Any], where: str) -> Mapping[str, Any] | None:
    """A block's ``cache_control`` object (``None`` when absent or null)."""
    value = block.get("cache_control")
    return None if value is None else expect_obj(value, f"{where}.cache_control")


# ------------------------------------------------------------------------------ citations


def decode_citation(value: Any, where: str) -> Citation:
    """One Anthropic citation; a foreign citation this codec carried is restored as it was."""
    cite = expect_obj(value, where)
    kind = expect_str(cite.get("type"), f"{where}.type")
    if kind == "web_search_result_location":
        carried = _open_citation(cite.get("encrypted_index"))
        if carried is not None:
            return carried
    url = cite.get("url") if kind != "search_result_location" else cite.get("source")
    title = cite.get("title") if "title" in cite else cite.get("document_title")
    cited = cite.get("cited_text")
    return Citation(
        kind=kind,
        url=url if isinstance(url, str) else None,
        title=title if isinstance(title, str) else None,
        cited_text=cited if isinstance(cited, str) else None,
        raw=dict(cite),
        source_format=FORMAT,
    )


def _open_citation(index: Any) -> Citation | None:
    envelope = open_envelope(index if isinstance(index, str) else None)
    if envelope is None or envelope.kind != "citation" or envelope.data is None:
        return None
    try:
        fields = _json.loads(envelope.data)
    except InvalidPayload:
        return None
    if not isinstance(fields, dict) or not isinstance(fields.get("kind"), str):
        return None
    raw = fields.get("raw")
    return Citation(
        kind=fields["kind"],
        url=fields.get("url"),
        title=fields.get("title"),
        cited_text=fields.get("cited_text"),
        start_index=fields.get("start_index"),
        end_index=fields.get("end_index"),
        raw=raw if isinstance(raw, dict) else {},
        source_format=envelope.origin,
    )


def encode_citation(
    cite: Citation, text: str, *, answer: bool, ctx: Context, where: str
) -> dict[str, Any] | None:
    """An Anthropic citation for ``cite`` (``text`` is the cited block's text), or ``None``."""
    if cite.source_format == FORMAT and cite.raw:
        return dict(cite.raw)
    if not answer:
        ctx.lose(where, "a citation from another API cannot be verified by Anthropic")
        return None
    if cite.url is None:
        ctx.lose(where, f"a {cite.kind} citation has no Anthropic equivalent")
        return None
    cited = cite.cited_text
    if cited is None:
        start, end = cite.start_index, cite.end_index
        cited = text[start:end] if start is not None and end is not None else ""
    carried = {
        "kind": cite.kind,
        "url": cite.url,
        "title": cite.title,
        "cited_text": cite.cited_text,
        "start_index": cite.start_index,
        "end_index": cite.end_index,
        "raw": dict(cite.raw),
    }
    # The original citation rides in ``encrypted_index`` so a Claude client that sends the
    # text back returns it to its own API unchanged.
    index = seal(
        Envelope(origin=cite.source_format or "none", kind="citation", data=json_text(carried))
    )
    return {
        "type": "web_search_result_location",
        "cited_text": cited,
        "url": cite.url,
        "title": cite.title,
        "encrypted_index": index,
    }


# ------------------------------------------------------------------------------------ usage


def decode_usage(value: Any, where: str) -> Usage:
    """An Anthropic ``usage`` object (``input_tokens`` already excludes the cache)."""
    body = expect_obj(value, where)
    own = Own(body, _USAGE_KEYS)
    own.empties(body, _USAGE_KEYS)
    reasoning = None
    details = body.get("output_tokens_details")
    if details is not None:
        details = expect_obj(details, f"{where}.output_tokens_details")
        reasoning = opt_int(
            details.get("thinking_tokens"), f"{where}.output_tokens_details.thinking_tokens"
        )
        rest = {k: v for k, v in details.items() if k != "thinking_tokens"}
        if rest or reasoning is None:
            own.set("output_tokens_details", rest)
    return Usage(
        input_tokens=opt_int(body.get("input_tokens"), f"{where}.input_tokens"),
        output_tokens=opt_int(body.get("output_tokens"), f"{where}.output_tokens"),
        cache_write_tokens=opt_int(
            body.get("cache_creation_input_tokens"), f"{where}.cache_creation_input_tokens"
        ),
        cache_read_tokens=opt_int(
            body.get("cache_read_input_tokens"), f"{where}.cache_read_input_tokens"
        ),
        reasoning_tokens=reasoning,
        extras=own.extras(),
    )


def encode_usage(
    usage: Usage | None, ctx: Context, where: str, *, delta: bool = False
) -> dict[str, Any]:
    """An Anthropic ``usage`` object.

    The SDK requires ``input_tokens`` and ``output_tokens``: an unknown number is written
    as 0 there (in a ``message_delta`` only ``output_tokens`` is required), every other
    unknown number is left out.
    """
    usage = usage or Usage()
    out: dict[str, Any] = {}
    if usage.input_tokens is not None or not delta:
        out["input_tokens"] = usage.input_tokens or 0
    if usage.cache_write_tokens is not None:
        out["cache_creation_input_tokens"] = usage.cache_write_tokens
    if usage.cache_read_tokens is not None:
        out["cache_read_input_tokens"] = usage.cache_read_tokens
    out["output_tokens"] = usage.output_tokens or 0
    if usage.reasoning_tokens is not None:
        rest = own_of(usage.extras).get("output_tokens_details")
        out["output_tokens_details"] = {
            **(rest if isinstance(rest, Mapping) else {}),
            "thinking_tokens": usage.reasoning_tokens,
        }
    return finish(out, usage.extras, ctx, where)


# ----------------------------------------------------------------------------- stop reason


def decode_stop_reason(value: Any, where: str) -> str | None:
    """A canonical stop reason (an unknown one passes through as it is)."""
    return None if value is None else STOP_REASON_FROM_WIRE.get(expect_str(value, where), value)


def encode_stop_reason(reason: str | None, has_tool_call: bool, ctx: Context) -> str:
    """Anthropic's ``stop_reason``: ``tool_use`` whenever a call was made and not cut short."""
    if has_tool_call and reason not in INTERRUPTED:
        return "tool_use"
    if reason is None:
        return "end_turn"  # the answer is complete; nothing says it stopped otherwise
    wire = STOP_REASON_TO_WIRE.get(reason)
    if wire is None:
        ctx.lose("stop_reason", f"Anthropic has no stop reason {reason!r}", "sent as end_turn")
        return "end_turn"
    return wire


def encode_stop_sequence(reason: str | None, sequence: str | None, ctx: Context) -> str | None:
    """The matched stop sequence; when an upstream did not say which, the request's only one."""
    if sequence is not None or reason != "stop_sequence" or ctx.request is None:
        return sequence
    return ctx.request.stop[0] if len(ctx.request.stop) == 1 else None
