"""The reasoning dialects of Chat servers, read and written.

Theory of operation.

Chat-format servers spell an answer's reasoning four ways:

* ``reasoning_content``: a string (DeepSeek, vLLM before 0.10, Kimi, GLM, Qwen's API);
* ``reasoning``: a string (vLLM 0.10 and later, Ollama, Groq, OpenRouter's plain mirror);
* ``reasoning_details``: OpenRouter's list of typed entries: ``reasoning.text`` (``text``,
  ``signature``), ``reasoning.summary`` (``summary``) and ``reasoning.encrypted`` (``data``),
  each with optional ``id``, ``format`` (``anthropic-claude-v1``, ``openai-responses-v1``…) and
  ``index``; streamed as fragments of the same ``index`` that concatenate;
* ``<think>…</think>`` inside ``content`` (llama.cpp without a reasoning parser, some Qwen and
  DeepSeek-R1 deployments), possibly cut anywhere across stream chunks (:class:`ThinkSplitter`).

Reading: one :class:`ThinkingPart` per message for the string fields and for
``reasoning_details`` (its text the ``reasoning.text`` entries joined by a blank line, its
summaries the ``reasoning.summary`` entries, the entries themselves kept whole as the
``_details`` hint so they replay byte for byte), and for ``<think>`` tags a thinking part where
each block stood, with the ``_think`` hint. Text around a think block stays text. Tags are read
in answers only, and only while the upstream's dialect is unknown or ``think``
(``Context.reasoning_field``): a server with a reasoning parser means its ``<think>`` literally.

Writing (:class:`ReasoningWriter`): a request to a Chat upstream uses ``ctx.reasoning_field``
when set; otherwise (and in answers) each part keeps the spelling it came with: its own hint
(``_details``, ``_think``), then the message's ``_reasoning_key``, then ``reasoning_content``.
``reasoning_details`` carries every opaque value (an Anthropic signature as a ``reasoning.text``
signature, OpenAI encrypted reasoning and Claude redacted thinking as ``reasoning.encrypted``);
the string fields and think tags carry text only, and the rest is reported lost. Thinking parts
that came as ``reasoning_details`` reach other formats' clients through the reasoning envelope
(origin ``chat``, :func:`apibridge.codecs.envelope.dialect_seal`) and come back whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from apibridge.codecs._context import Context
from apibridge.codecs.chat._parts import is_trivial
from apibridge.codecs.chat._wire import FORMAT, hints, thinking_text
from apibridge.codecs.envelope import gemini_signature
from apibridge.errors import InvalidPayload
from apibridge.model import PartDelta, RedactedThinkingPart, TextPart, ThinkingPart

__all__ = [
    "CLOSE",
    "DETAILS",
    "DIALECTS",
    "KEY",
    "MIRROR",
    "OPEN",
    "THINK",
    "DetailsStream",
    "ReasoningWriter",
    "ThinkSplitter",
    "coalesce",
    "details_part",
    "read_details",
    "read_reasoning",
    "reads_think",
    "split_think",
    "think_part",
]

#: the values of ``Context.reasoning_field``.
DIALECTS: Final = ("reasoning_content", "reasoning", "reasoning_details", "think")
#: thinking-part hint: the ``reasoning_details`` entries it came as.
DETAILS: Final = "_details"
#: thinking-part hint: it came as ``<think>…</think>`` in ``content``.
THINK: Final = "_think"
#: message hint: the reasoning field the message spelled its reasoning with.
KEY: Final = "_reasoning_key"
#: message hint: the plain ``reasoning`` string a ``reasoning_details`` message also had.
MIRROR: Final = "_details_mirror"

OPEN: Final = "<think>"
CLOSE: Final = "</think>"
#: the format word OpenRouter gives entries holding each vendor's opaque values.
_ANTHROPIC_FORMAT: Final = "anthropic-claude-v1"
_OPENAI_FORMAT: Final = "openai-responses-v1"
#: the string field of each entry type (concatenated across stream fragments).
_GROWS: Final[Mapping[str, str]] = {
    "reasoning.text": "text",
    "reasoning.summary": "summary",
    "reasoning.encrypted": "data",
}


# ---------------------------------------------------------------------------------- reading


def read_details(raw: Any, where: str) -> list[dict[str, Any]]:
    """``reasoning_details`` as a list of entries (objects with a string ``type``)."""
    if not isinstance(raw, list):
        raise InvalidPayload(f"{where}: expected an array")
    out: list[dict[str, Any]] = []
    for k, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
            raise InvalidPayload(f"{where}[{k}]: expected an object with a string type")
        for key in ("text", "summary", "data", "signature"):
            value = entry.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidPayload(f"{where}[{k}].{key}: expected a string")
        out.append(dict(entry))
    return out


def _texts(entries: Sequence[Mapping[str, Any]]) -> tuple[str, tuple[str, ...]]:
    """The reasoning text (text entries joined by a blank line) and the summaries."""
    texts = [e["text"] for e in entries if e["type"] == "reasoning.text" and e.get("text")]
    summary = tuple(
        e["summary"] for e in entries if e["type"] == "reasoning.summary" and e.get("summary")
    )
    return "\n\n".join(texts), summary


def details_part(entries: list[dict[str, Any]]) -> ThinkingPart:
    """The thinking part ``reasoning_details`` entries make (kept whole as its hint)."""
    text, summary = _texts(entries)
    return ThinkingPart(text=text, summary=summary, extras={FORMAT: {DETAILS: entries}})


def read_reasoning(
    message: Mapping[str, Any], fields: dict[str, Any], where: str
) -> ThinkingPart | None:
    """The reasoning of an assistant message, from ``reasoning_details``, ``reasoning_content``
    or ``reasoning``; how it was spelled (and any field that disagrees) goes in ``fields``."""
    primary = message.get("reasoning_content")
    secondary = message.get("reasoning")
    raw = message.get("reasoning_details")
    if isinstance(raw, list) and raw:
        part = details_part(read_details(raw, f"{where}.reasoning_details"))
        fields[KEY] = "reasoning_details"
        said = thinking_text(part.text, part.summary)
        for key, value in (("reasoning_content", primary), ("reasoning", secondary)):
            if isinstance(value, str) and value == said:
                fields[MIRROR] = key  # OpenRouter's plain copy of the text, written back
            elif not is_trivial(value):
                fields[key] = value
        return part
    if not is_trivial(raw):
        fields["reasoning_details"] = raw
    if isinstance(primary, str) and primary:
        if isinstance(secondary, str) and secondary:
            if secondary == primary:
                fields["_reasoning_both"] = True
            else:
                fields["reasoning"] = secondary
        elif not is_trivial(secondary):
            fields["reasoning"] = secondary
        return ThinkingPart(text=primary)
    if not is_trivial(primary):
        fields["reasoning_content"] = primary
    if isinstance(secondary, str) and secondary:
        fields[KEY] = "reasoning"
        return ThinkingPart(text=secondary)
    if not is_trivial(secondary):
        fields["reasoning"] = secondary
    return None


def reads_think(ctx: Context) -> bool:
    """Whether an upstream's ``<think>`` tags in ``content`` are reasoning (its dialect is
    unknown, or ``think``)."""
    return ctx.reasoning_field in (None, "think")


def think_part(text: str) -> ThinkingPart:
    """A thinking part that came as a ``<think>`` block."""
    return ThinkingPart(text=text, extras={FORMAT: {THINK: True}})


def split_think(content: str) -> list[TextPart | ThinkingPart]:
    """``content`` with its ``<think>`` blocks as thinking parts (as a stream reads it)."""
    splitter = ThinkSplitter()
    pieces = splitter.feed(content) + splitter.flush()
    out: list[TextPart | ThinkingPart] = []
    for thinking, text in pieces:
        last = out[-1] if out else None
        if thinking and isinstance(last, ThinkingPart):
            out[-1] = think_part(last.text + text)
        elif not thinking and isinstance(last, TextPart):
            out[-1] = TextPart(text=last.text + text)
        else:
            out.append(think_part(text) if thinking else TextPart(text=text))
    return out


class ThinkSplitter:
    """``<think>…</think>`` in streamed content, cut anywhere: :meth:`feed` gives
    ``(thinking, text)`` pieces, holding back a tail that may be the start of a tag."""

    __slots__ = ("inside", "pending")

    def __init__(self) -> None:
        self.inside = False  # within a think block
        self.pending = ""  # held back: may begin the next tag

    @staticmethod
    def upstream(ctx: Context) -> ThinkSplitter | None:
        """A splitter for an upstream's stream, if its ``<think>`` tags are reasoning."""
        return ThinkSplitter() if reads_think(ctx) else None

    def quiet(self, text: str) -> bool:
        """Whether ``text`` is plain text with nothing held (the hot path, no tag in sight)."""
        return not self.inside and not self.pending and "<" not in text

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """The pieces ``text`` completes (empty ones left out)."""
        buffer = self.pending + text
        out: list[tuple[bool, str]] = []
        while True:
            tag = CLOSE if self.inside else OPEN
            at = buffer.find(tag)
            if at < 0:
                break
            if at:
                out.append((self.inside, buffer[:at]))
            buffer = buffer[at + len(tag) :]
            self.inside = not self.inside
        tag = CLOSE if self.inside else OPEN
        keep = 0
        for size in range(min(len(tag) - 1, len(buffer)), 0, -1):
            if buffer.endswith(tag[:size]):
                keep = size
                break
        self.pending = buffer[len(buffer) - keep :] if keep else ""
        if len(buffer) > keep:
            out.append((self.inside, buffer[: len(buffer) - keep]))
        return out

    def before(self, delta: Mapping[str, Any]) -> list[tuple[bool, str]]:
        """The held-back tail, when a stream ``delta`` brings a tool call or a refusal (which
        come after it); nothing otherwise (more content may complete the tag)."""
        return self.flush() if delta.get("tool_calls") or delta.get("refusal") else []

    def flush(self) -> list[tuple[bool, str]]:
        """The held-back tail, at the end of the content (a tag that never completed is text)."""
        held, self.pending = self.pending, ""
        return [(self.inside, held)] if held else []


class DetailsStream:
    """``reasoning_details`` fragments of a stream, joined into whole entries (fragments of one
    ``index`` and type concatenate their strings); :meth:`feed` gives the text and summary
    deltas they carry, as the whole answer reads them (:func:`details_part`)."""

    __slots__ = ("_by_index", "_last", "_summaries", "_texted", "entries")

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._by_index: dict[Any, dict[str, Any]] = {}
        self._summaries: dict[int, int] = {}  # id of a summary entry → its summary index
        self._texted: int | None = None  # id of the text entry that gave text last
        self._last: dict[str, Any] | None = None

    def feed(self, raw: Any, index: int, where: str) -> list[PartDelta]:
        """The deltas of one chunk's fragments, for the thinking part at ``index``."""
        out: list[PartDelta] = []
        for fragment in read_details(raw, where):
            kind = fragment["type"]
            key = fragment.get("index")
            entry = self._by_index.get(key) if isinstance(key, int) else None
            last = self._last
            if entry is None and key is None and last is not None and last["type"] == kind:
                entry = last  # a server that numbers nothing: the same entry grows
            if entry is None or entry["type"] != kind:
                entry = {}
                self.entries.append(entry)
                if isinstance(key, int):
                    self._by_index[key] = entry
            self._last = entry
            grows = _GROWS.get(kind)
            for name, value in fragment.items():
                if name in (grows, "signature") and isinstance(value, str):
                    entry[name] = (entry.get(name) or "") + value
                elif entry.get(name) is None:
                    entry[name] = value
            value = fragment.get(grows) if grows is not None else None
            if not isinstance(value, str) or not value:
                continue
            if kind == "reasoning.text":
                if self._texted is not None and self._texted != id(entry):
                    value = "\n\n" + value
                self._texted = id(entry)
                out.append(PartDelta(index=index, field="thinking", value=value))
            elif kind == "reasoning.summary":
                k = self._summaries.setdefault(id(entry), len(self._summaries))
                out.append(PartDelta(index=index, field="summary", value=value, summary_index=k))
        return out

    def part(self) -> ThinkingPart:
        """The whole thinking part the fragments made."""
        return details_part(self.entries)


# ---------------------------------------------------------------------------------- writing


def _opaque(entries: Sequence[Mapping[str, Any]]) -> bool:
    return any(e.get("signature") or e.get("data") or e["type"] not in _GROWS for e in entries)


class ReasoningWriter:
    """The reasoning of one assistant message, in the dialect each part is written in."""

    __slots__ = ("ctx", "details", "dialect", "key", "mirror", "strings", "think")

    def __init__(self, ctx: Context, carried: Mapping[str, Any], *, request: bool) -> None:
        self.ctx = ctx
        field = ctx.reasoning_field if request else None
        self.dialect = field if field in DIALECTS else None
        key = carried.get(KEY)
        self.key = key if key in DIALECTS else "reasoning_content"
        self.mirror = carried.get(MIRROR)
        self.strings: list[str] = []  # for reasoning_content / reasoning
        self.details: list[dict[str, Any]] = []
        self.think = False  # a think block went into the content items

    def _spelling(self, own: Mapping[str, Any]) -> str:
        if self.dialect is not None:
            return self.dialect
        if isinstance(own.get(DETAILS), list):
            return "reasoning_details"
        if own.get(THINK):
            return "think"
        return self.key

    def add(self, part: ThinkingPart | RedactedThinkingPart, items: list[Any], where: str) -> int:
        """Take ``part``; a think block goes into the content ``items`` (its length returned,
        for the offsets of citations after it)."""
        own = hints(part.extras)
        spelling = self._spelling(own)
        self.ctx.lose_extras(part.extras, FORMAT, where)
        if spelling == "reasoning_details":
            self.details.extend(self._entries(part, own))
            return 0
        if isinstance(part, RedactedThinkingPart):
            self.ctx.lose(where, "chat cannot carry redacted thinking", "dropped")
            return 0
        self._lose_opaque(part, own, where, spelling)
        text = thinking_text(part.text, part.summary)
        if not text:
            return 0
        if spelling == "think":
            self.think = True
            block = OPEN + text + CLOSE
            items.append({"type": "text", "text": block})
            return len(block)
        self.strings.append(text)
        return 0

    def _entries(
        self, part: ThinkingPart | RedactedThinkingPart, own: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        entries = own.get(DETAILS)
        if isinstance(entries, list) and all(isinstance(e, Mapping) for e in entries):
            return [dict(e) for e in entries]  # as they came, byte for byte
        base = len(self.details)
        if isinstance(part, RedactedThinkingPart):
            data = {"type": "reasoning.encrypted", "data": part.data, "format": _ANTHROPIC_FORMAT}
            return [{**data, "index": base}]
        out: list[dict[str, Any]] = []
        if part.text or part.signature is not None:
            entry: dict[str, Any] = {"type": "reasoning.text", "text": part.text}
            if part.signature is not None:
                entry["signature"] = part.signature
                entry["format"] = _ANTHROPIC_FORMAT
            out.append(entry)
        for summary in part.summary:
            entry = {"type": "reasoning.summary", "summary": summary}
            out.append(entry if part.encrypted_content is None else {**entry, "id": part.id})
        if part.encrypted_content is not None:
            out.append(
                {
                    "type": "reasoning.encrypted",
                    "data": part.encrypted_content,
                    "id": part.id,
                    "format": _OPENAI_FORMAT,
                }
            )
            if part.summary:
                for entry in out[-1 - len(part.summary) : -1]:
                    entry["format"] = _OPENAI_FORMAT
        return [{**entry, "index": base + k} for k, entry in enumerate(out)]

    def _lose_opaque(
        self, part: ThinkingPart, own: Mapping[str, Any], where: str, spelling: str
    ) -> None:
        """Report the opaque reasoning values a text dialect cannot carry."""
        if part.signature is not None or gemini_signature(part.extras) is not None:
            self.ctx.lose(f"{where}.signature", "chat reasoning has no signature", "dropped")
        if part.encrypted_content is not None:
            self.ctx.lose(
                f"{where}.encrypted_content", "chat reasoning has no encrypted form", "dropped"
            )
        entries = own.get(DETAILS)
        if isinstance(entries, list) and _opaque(entries):
            self.ctx.lose(
                f"{where}.reasoning_details",
                f"chat {spelling} carries reasoning text only (signatures, encrypted entries)",
                "dropped",
            )

    def write(self, out: dict[str, Any], carried: Mapping[str, Any]) -> None:
        """Put the reasoning fields in the message ``out``."""
        if self.strings:
            if self.dialect in ("reasoning_content", "reasoning"):
                key = self.dialect
            elif self.key in ("reasoning_content", "reasoning"):
                key = self.key
            else:
                key = "reasoning_content"
            out[key] = joined = "\n\n".join(self.strings)
            if self.dialect is None and carried.get("_reasoning_both"):
                out["reasoning"] = joined
        if self.details:
            out["reasoning_details"] = self.details
            if isinstance(self.mirror, str) and self.mirror not in out and self.dialect is None:
                text, summary = _texts(self.details)
                out[self.mirror] = thinking_text(text, summary)


def coalesce(items: list[Any]) -> None:
    """Join runs of bare text items (think blocks beside the text around them) into one."""
    k = 1
    while k < len(items):
        before, item = items[k - 1], items[k]
        if _bare(before) and _bare(item):
            items[k - 1] = {"type": "text", "text": before["text"] + item["text"]}
            del items[k]
        else:
            k += 1


def _bare(item: Any) -> bool:
    return (
        isinstance(item, Mapping)
        and item.get("type") == "text"
        and len(item) == 2
        and isinstance(item.get("text"), str)
    )
