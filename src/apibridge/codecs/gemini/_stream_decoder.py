"""Gemini streams in: ``data: {GenerateContentResponse}`` chunks → canonical events.

Theory of operation
-------------------
*Grammar.* ``streamGenerateContent?alt=sse`` sends one ``GenerateContentResponse`` per SSE
frame; each holds only the new parts of the first candidate, ``usageMetadata`` grows chunk by
chunk and the last candidate chunk has ``finishReason``. There is no terminal event: the
stream ends after the finishing chunk. A failed stream ends with ``data: {"error": {...}}``
(Google's error envelope, read by ``_errors``). The JSON-array form (no ``alt=sse``) becomes
the same frames through ``_framing.ArrayReader``.

*Decoding.* The first chunk is ``MessageStart`` (``responseId``, ``modelVersion``, the usage known
so far). Text is one canonical part for as long as consecutive text parts come (thought text
likewise one thinking part); any other part ends it. A ``thoughtSignature`` on a thought part is
the thinking part's own and ends it (given in its final ``PartStop``: Gemini signs a thought at its
end); on a text part it ends the text and adds a carrier after it; on a function call it adds a
carrier before it (``_wire``). A function call comes whole: ``PartStart``, one ``arguments`` delta,
``PartStop``; media and other blocks come whole as well (``PartStart`` + ``PartStop``).
``finishReason`` ends the open part and gives ``MessageDelta`` (stop reason as ``_response`` maps
it, the usage so far); a refusal adds its ``RefusalPart`` (``finishMessage``) first; a prompt block
(``promptFeedback.blockReason``, no candidate) is a refusal too. A later chunk's usage gives
another ``MessageDelta``. The end of input after a finish is ``MessageStop``; before one it is a
cut stream, ``StreamError`` (kind ``api_error``). Fields of the candidate and the body that no
other format holds ride in the extras of the ``MessageDelta`` (as ``_response`` carries them); a
second candidate is reported once and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from apibridge._json import loads
from apibridge._sse import SSEFrame
from apibridge.codecs._context import Context, expect_list, expect_obj, new_id, opt_str
from apibridge.codecs.gemini._errors import decode_error
from apibridge.codecs.gemini._parts import TEXT_SIGNATURE, carrier, decode_part
from apibridge.codecs.gemini._response import (
    BLOCK_HINT,
    CREATE_TIME,
    FINISH_HINT,
    NO_INDEX,
    RESPONSE_ID_PREFIX,
    candidate_fields,
    created_of,
    decode_usage,
    needs_hint,
    refusal_of,
    stop_reason,
    top_fields,
)
from apibridge.codecs.gemini._wire import (
    FORMAT,
    REFUSAL_FINISHES,
    field,
    model_name,
)
from apibridge.errors import ApiError, InvalidPayload
from apibridge.model import (
    ContentPart,
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    RefusalPart,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)

__all__ = ["StreamDecoder"]


class StreamDecoder:
    """Gemini SSE frames in, canonical events out (see the module docstring)."""

    __slots__ = (
        "_ctx",
        "_done",
        "_fields",
        "_finished",
        "_has_calls",
        "_held_usage",
        "_next",
        "_open",
        "_open_kind",
        "_reported",
        "_signature",
        "_started",
        "_text",
        "_usage",
    )

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._started = False
        self._finished = False
        self._done = False
        self._next = 0
        self._open: int | None = None  # the index of the open text or thinking part
        self._open_kind = ""  # "text" or "thinking"
        self._text: list[str] = []  # the open thinking part's text (for its final part)
        self._signature: str | None = None  # the open thinking part's signature
        self._has_calls = False
        self._usage: Usage | None = None
        self._held_usage: Any = None  # the usage of the last plain chunk, not read yet
        self._fields: dict[str, Any] = {}
        self._reported: set[str] = set()

    def feed(self, frame: SSEFrame) -> list[Event]:
        """Events that ``frame`` completes; a malformed chunk ends the stream in an error."""
        if self._done:
            return []
        data = frame.data.strip()
        if not data:
            return []
        try:
            chunk = loads(data)
        except InvalidPayload:
            return self._fail("a chunk is not valid JSON")
        if not isinstance(chunk, dict):
            return self._fail("a chunk is not a JSON object")
        if "error" in chunk:
            self._done = True
            return [StreamError(error=decode_error(chunk, 0))]
        if self._open is not None:
            plain = self._plain(chunk)
            if plain is not None:
                return plain
        try:
            return self._chunk(chunk)
        except InvalidPayload as exc:
            return self._fail(str(exc))

    def close(self) -> list[Event]:
        """End of input: a finished stream stops; one that never finished is cut."""
        if self._done:
            return []
        if self._finished:
            self._done = True
            return [*self._end_open(), MessageStop()]
        return self._fail("the stream ended before any finishReason")

    def _fail(self, why: str) -> list[Event]:
        self._done = True
        message = f"invalid Gemini stream: {why}"
        if why.startswith("the stream ended"):
            message = f"the Gemini stream ended early: {why}"
        return [StreamError(error=ApiError.of("api_error", message, source_format=FORMAT))]

    def _report(self, where: str, reason: str, action: str = "dropped") -> None:
        if where not in self._reported:
            self._reported.add(where)
            self._ctx.lose(where, reason, action)

    def _extras(self) -> dict[str, Any]:
        return {FORMAT: dict(self._fields)} if self._fields else {}

    # ------------------------------------------------------------------------- chunks

    def _plain(self, chunk: dict[str, Any]) -> list[Event] | None:
        """The hot path: a chunk that only grows the open text or thinking part (one candidate
        with one ``text`` part, the usage so far), decoded with no helper calls; ``None``
        leaves anything else to ``_chunk``. Its usage is read when the next chunk that is not
        plain comes (the finishing one at the latest): Gemini's usage only grows."""
        candidates = chunk.get("candidates")
        if type(candidates) is not list or len(candidates) != 1:
            return None
        for key in chunk:
            if key not in _PLAIN_TOP:
                return None
        candidate = candidates[0]
        if type(candidate) is not dict or len(candidate) != 2 or candidate.get("index") != 0:
            return None
        content = candidate.get("content")
        if type(content) is not dict:
            return None
        parts = content.get("parts")
        if type(parts) is not list or len(parts) != 1 or content.get("role") != "model":
            return None
        part = parts[0]
        if type(part) is not dict:
            return None
        text = part.get("text")
        if type(text) is not str or not text:
            return None
        size = len(part)
        kind = (
            "text" if size == 1 else "thinking" if size == 2 and part.get("thought") is True else ""
        )
        if kind != self._open_kind or self._open is None:
            return None
        usage = chunk.get("usageMetadata")
        if usage is not None:
            self._held_usage = usage
        self._text.append(text)
        if kind == "thinking":
            return [PartDelta(index=self._open, field="thinking", value=text)]
        return [PartDelta(index=self._open, field="text", value=text)]

    def _chunk(self, chunk: Mapping[str, Any]) -> list[Event]:
        out: list[Event] = []
        held = self._held_usage
        if held is not None:  # a plain chunk's usage, read now
            self._held_usage = None
            grown = decode_usage(held, "usageMetadata")
            self._usage = grown if self._usage is None else self._usage.merged(grown)
        raw_usage = field(chunk, "usageMetadata")
        usage = None if raw_usage is None else decode_usage(raw_usage, "usageMetadata")
        if usage is not None:
            self._usage = usage if self._usage is None else self._usage.merged(usage)
        before = dict(self._fields)
        top_fields(chunk, self._fields)
        if not self._started:
            out.append(self._start(chunk))
        raw = field(chunk, "candidates")
        candidates = [] if raw is None else expect_list(raw, "candidates")
        if len(candidates) > 1:
            self._report("candidates", "a stream of several candidates", "kept the first")
        was_finished = self._finished
        if candidates:
            out.extend(self._candidate(expect_obj(candidates[0], "candidates[0]")))
        elif not self._finished:
            feedback = field(chunk, "promptFeedback")
            block = field(feedback, "blockReason") if isinstance(feedback, Mapping) else None
            if isinstance(block, str):
                self._fields[BLOCK_HINT] = block
                out.extend(self._refusal(field(feedback, "blockReasonMessage")))
                out.extend(self._finish("refusal"))
        if was_finished and (usage is not None or self._fields != before):
            out.append(MessageDelta(usage=self._usage, extras=self._extras()))
        return out

    def _start(self, chunk: Mapping[str, Any]) -> MessageStart:
        self._started = True
        ident = opt_str(field(chunk, "responseId"), "responseId")
        model = opt_str(field(chunk, "modelVersion"), "modelVersion")
        if isinstance(field(chunk, "createTime"), str):
            self._fields[CREATE_TIME] = field(chunk, "createTime")
        return MessageStart(
            id=ident or new_id(RESPONSE_ID_PREFIX),
            model=model_name(model) if model else "",
            usage=self._usage,
            created=created_of(chunk),
        )

    def _candidate(self, candidate: Mapping[str, Any]) -> list[Event]:
        out: list[Event] = []
        if self._finished:
            if field(candidate, "content") is not None:
                self._report("candidates[0].content", "content after the finishing chunk")
            return out
        candidate_fields(candidate, self._fields)
        if field(candidate, "index") is None:
            self._fields[NO_INDEX] = True
        else:
            self._fields.pop(NO_INDEX, None)
        content = field(candidate, "content")
        if content is not None:
            parts = field(expect_obj(content, "candidates[0].content"), "parts") or []
            for k, raw in enumerate(expect_list(parts, "candidates[0].content.parts")):
                out.extend(self._part(raw, f"candidates[0].content.parts[{k}]"))
        finish = opt_str(field(candidate, "finishReason"), "candidates[0].finishReason")
        if finish is None:
            return out
        stop = stop_reason(finish, self._has_calls)
        if needs_hint(stop, finish):
            self._fields[FINISH_HINT] = finish
        words = field(candidate, "finishMessage")
        if finish in REFUSAL_FINISHES:
            self._fields.pop("candidate.finishMessage", None)
            out.extend(self._refusal(words))
        out.extend(self._finish(stop))
        return out

    def _finish(self, stop: str | None) -> list[Event]:
        self._finished = True
        return [
            *self._end_open(),
            MessageDelta(stop_reason=stop, usage=self._usage, extras=self._extras()),
        ]

    def _refusal(self, words: Any) -> list[Event]:
        part = refusal_of(words)
        index = self._take()
        out: list[Event] = [*self._end_open(), PartStart(index=index, part=RefusalPart(text=""))]
        if part.text:
            out.append(PartDelta(index=index, field="text", value=part.text))
        out.append(PartStop(index=index))
        return out

    # -------------------------------------------------------------------------- parts

    def _take(self) -> int:
        index = self._next
        self._next += 1
        return index

    def _end_open(self) -> list[Event]:
        """Stop the open text or thinking part (a thinking part with its signature)."""
        index = self._open
        if index is None:
            return []
        self._open = None
        kind, self._open_kind = self._open_kind, ""
        text, self._text = self._text, []
        signature, self._signature = self._signature, None
        if kind == "thinking" and signature is not None:
            final = ThinkingPart(text="".join(text), extras={FORMAT: {SIGNATURE: signature}})
            return [PartStop(index=index, part=final)]
        if kind == "text" and signature is not None:  # a text's signature stays on it (_parts)
            signed = TextPart(text="".join(text), extras={FORMAT: {TEXT_SIGNATURE: signature}})
            return [PartStop(index=index, part=signed)]
        return [PartStop(index=index)]

    def _grow(self, kind: str, text: str) -> list[Event]:
        """More text of ``kind`` (``text`` or ``thinking``): the open part grows, or a new one
        opens (ending another kind's)."""
        out: list[Event] = []
        index = self._open
        if index is None or self._open_kind != kind:
            out.extend(self._end_open())
            index = self._take()
            self._open, self._open_kind = index, kind
            part: ContentPart = TextPart(text="") if kind == "text" else _thought()
            out.append(PartStart(index=index, part=part))
        if text:
            self._text.append(text)  # the whole text, for a signature at its stop
            if kind == "thinking":
                out.append(PartDelta(index=index, field="thinking", value=text))
            else:
                out.append(PartDelta(index=index, field="text", value=text))
        return out

    def _whole(self, part: ContentPart) -> list[Event]:
        """A part that comes whole: a function call, media, a server block, a carrier."""
        out = self._end_open()
        index = self._take()
        if isinstance(part, ToolCallPart):
            self._has_calls = True
            out.append(PartStart(index=index, part=attrs.evolve(part, arguments="")))
            out.append(PartDelta(index=index, field="arguments", value=part.arguments))
            out.append(PartStop(index=index))
        else:  # the whole part at its stop too: encoders read what they cannot carry there
            out.append(PartStart(index=index, part=part))
            out.append(PartStop(index=index, part=part))
        return out

    def _part(self, raw: Any, where: str) -> list[Event]:
        part = expect_obj(raw, where)
        text = field(part, "text")
        if not isinstance(text, str) or any(k not in _TEXT_KEYS for k in part):
            out: list[Event] = []
            for decoded in decode_part(part, where):  # whole parts, and text with metadata
                out.extend(self._whole(decoded))
            return out
        signature = opt_str(field(part, "thoughtSignature"), f"{where}.thoughtSignature")
        if field(part, "thought"):
            out = self._grow("thinking", text)
            if signature is not None:  # a thought's signature ends it
                self._signature = signature
                out.extend(self._end_open())
            return out
        if signature is None:
            return self._grow("text", text) if text else []
        # a signature on a text, or alone after one, signs that text and ends it (_parts);
        # alone after anything else it is a part of its own
        if text or self._open_kind == "text":
            out = self._grow("text", text)
            self._signature = signature
            return [*out, *self._end_open()]
        return [*self._end_open(), *self._whole(carrier(signature, alone=True))]


#: the fields of a chunk the hot path (``StreamDecoder._plain``) reads.
_PLAIN_TOP: Final = frozenset({"candidates", "modelVersion", "responseId", "usageMetadata"})

#: the fields of a text or thought part that streams as a growing part.
_TEXT_KEYS: Final = frozenset({"text", "thought", "thoughtSignature", "thought_signature"})

#: the hint of a thinking part that had no signature (``_parts``: sent back to Gemini).
SIGNATURE: Final = "_signature"


def _thought() -> ThinkingPart:
    return ThinkingPart(text="", extras={FORMAT: {"_thought": True}})
