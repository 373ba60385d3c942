"""Anthropic Messages streams, encoding: canonical events → SSE bytes.

Theory of operation
-------------------
:class:`StreamEncoder` writes the grammar described in ``_stream_decoder`` from
canonical events, which may interleave parts (parallel tool calls in a Chat stream). They go
through a :class:`~apibridge.codecs._sequencer.PartSequencer` first, which holds the parts that
are not current and releases them in order of opening (ending, at ``MessageStop``, those never
stopped), so the encoder sees one part at a time: one block is open at a time and block
indexes count 0, 1 … in order. One writer per part kind (``_WRITERS``): text is opened lazily,
at its first text, so a part that never got any leaves no empty block; thinking gets its
signature (native or a reasoning envelope) at its stop; tool calls stream their argument
fragments exactly as they came (a custom tool's input wrapped as ``{"input": "…"}``, escaped
piece by piece); server-tool blocks are written whole at their stop. A ``PartStop`` with a
final part is authoritative, as in ``accumulate``: what the deltas did not say yet is written
from it.

``MessageDelta`` values are held until ``MessageStop``; ``message_delta`` then carries the
stop reason and the cumulative usage (numbers unknown at ``message_start`` arrive here; none
is ever invented). The first ``StreamError``, or ``close()`` before ``MessageStop``, writes
one ``event: error`` and ends the stream (the block being written is left open, parts still
held are dropped); later events write nothing. Work per event is proportional to the event:
text is never re-serialised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from apibridge import _json
from apibridge._sse import encode_frame
from apibridge.codecs._context import Context, new_id, part_words
from apibridge.codecs._openai_twins import anthropic_usage_tier
from apibridge.codecs._phase import lose_phase
from apibridge.codecs._sequencer import PartSequencer
from apibridge.codecs._tool_usage import server_tool_use_of
from apibridge.codecs.anthropic._block_encoder import (
    answer_signature,
    encode_part,
    encode_server_part,
    tool_id,
)
from apibridge.codecs.anthropic._errors import encode_error
from apibridge.codecs.anthropic._wire import (
    EMPTY_TEXT,
    FORMAT,
    REFUSAL_STOP,
    STOP_DETAILS,
    encode_citation,
    encode_stop_reason,
    encode_stop_sequence,
    encode_usage,
    finish,
    json_text,
    lose_foreign,
    own_of,
)
from apibridge.errors import ApiError
from apibridge.model import (
    ContentPart,
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    Ping,
    RedactedThinkingPart,
    RefusalPart,
    ServerToolPart,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)

__all__ = ["StreamEncoder"]


# ----------------------------------------------------------------------------------- encode


def _frame(event: str, payload: Mapping[str, Any]) -> bytes:
    return encode_frame(_json.dumps(payload), event=event)


class _Writer:
    """Writes one canonical part as (at most) one Anthropic content block."""

    def __init__(self, encoder: StreamEncoder, index: int, part: ContentPart) -> None:
        self.enc = encoder
        self.index = index
        self.part = part
        self.where = f"content[{index}]"
        self.wire: int | None = None
        self._delta_kind = ""
        self._delta_head = b""  # the bytes of a delta frame up to its value (hot path)

    def open(self, block: Mapping[str, Any]) -> list[bytes]:
        """The ``content_block_start`` frame; the block takes the next wire index."""
        self.wire = self.enc.take_index()
        return [
            _frame(
                "content_block_start",
                {"type": "content_block_start", "index": self.wire, "content_block": block},
            )
        ]

    def delta(self, payload: Mapping[str, Any]) -> bytes:
        """A ``content_block_delta`` frame for this block."""
        return _frame(
            "content_block_delta",
            {"type": "content_block_delta", "index": self.wire, "delta": payload},
        )

    def delta_string(self, kind: str, key: str, value: str) -> bytes:
        """``delta({"type": kind, key: value})`` for a string ``value`` of an open block: the
        same bytes, put together from a head made once per block and kind (the hot path)."""
        try:
            encoded = _json.dumps(value)
        except ValueError:  # a lone surrogate: left to the general path, which fails as ever
            return self.delta({"type": kind, key: value})
        if kind != self._delta_kind:
            self._delta_kind = kind
            self._delta_head = (
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
                + _json.dumps(self.wire)
                + b',"delta":{"type":'
                + _json.dumps(kind)
                + b","
                + _json.dumps(key)
                + b":"
            )
        return self._delta_head + encoded + b"}}\n\n"

    def close(self) -> list[bytes]:
        """The ``content_block_stop`` frame, if the block was opened."""
        if self.wire is None:
            return []
        return [_frame("content_block_stop", {"type": "content_block_stop", "index": self.wire})]

    def start(self) -> list[bytes]:
        """Frames when the part becomes current."""
        return []

    def feed(self, event: PartDelta) -> list[bytes]:
        """Frames for one delta of the current part."""
        return []

    def stop(self, final: ContentPart | None) -> list[bytes]:
        """Frames that end the part (``final`` is its complete value, when known)."""
        return self.close()


class _TextWriter(_Writer):
    """``text`` blocks, opened at the first text so an empty part leaves nothing."""

    def __init__(self, encoder: StreamEncoder, index: int, part: ContentPart) -> None:
        super().__init__(encoder, index, part)
        self.chunks: list[str] = []

    def start(self) -> list[bytes]:
        if isinstance(self.part, RefusalPart):  # a loss unless the stop says ``refusal``
            self.enc.refusal_at = self.where
        out = self._text(self.part.text) if isinstance(self.part, TextPart | RefusalPart) else []
        if isinstance(self.part, TextPart):
            for citation in self.part.citations:
                out.extend(
                    self._cite(PartDelta(index=self.index, field="citation", citation=citation))
                )
        return out

    def _ensure_open(self) -> list[bytes]:
        if self.wire is not None:
            return []
        block: dict[str, Any] = {"type": "text", "text": ""}
        if isinstance(self.part, TextPart) and self.part.cache_control is not None:
            block["cache_control"] = dict(self.part.cache_control)
        return self.open(finish(block, _extras(self.part), self.enc.ctx, self.where))

    def _text(self, text: str) -> list[bytes]:
        if not text:
            return []
        self.chunks.append(text)
        if self.wire is not None:
            return [self.delta_string("text_delta", "text", text)]
        return [*self._ensure_open(), self.delta_string("text_delta", "text", text)]

    def _cite(self, event: PartDelta) -> list[bytes]:
        if event.citation is None:
            return []
        where = f"{self.where}.citations"
        cite = encode_citation(
            event.citation, "".join(self.chunks), answer=True, ctx=self.enc.ctx, where=where
        )
        if cite is None:
            return []
        return [*self._ensure_open(), self.delta({"type": "citations_delta", "citation": cite})]

    def feed(self, event: PartDelta) -> list[bytes]:
        field = event.field
        if field == "text":
            value = event.value
            if event.logprobs and not self.enc.logprobs_lost:  # scored tokens: no home here
                self.enc.logprobs_lost = True
                self.enc.ctx.lose("logprobs", "Anthropic returns no log probabilities")
            if value and self._delta_kind == "text_delta":  # open, its delta head made: the
                try:  # hot path, as ``_text`` and ``delta_string`` write it
                    encoded = _json.dumps(value)
                except ValueError:  # a lone surrogate: the general path fails as ever
                    return self._text(value)
                self.chunks.append(value)
                return [self._delta_head + encoded + b"}}\n\n"]
            return self._text(value)
        if field == "citation":
            return self._cite(event)
        return []

    def stop(self, final: ContentPart | None) -> list[bytes]:
        out: list[bytes] = []
        if isinstance(final, TextPart | RefusalPart):
            out.extend(self._text(_rest(final.text, self.chunks)))
        part = final if isinstance(final, TextPart | RefusalPart) else self.part
        if self.wire is None and own_of(_extras(part)).get(EMPTY_TEXT):
            out.extend(self._ensure_open())  # an empty block an Anthropic body really had
        return [*out, *self.close()]


class _ThinkingWriter(_Writer):
    """``thinking`` blocks: text or summaries as ``thinking_delta``, the signature at stop."""

    def __init__(self, encoder: StreamEncoder, index: int, part: ContentPart) -> None:
        super().__init__(encoder, index, part)
        self.chunks: list[str] = []
        self.signature: list[str] = []
        self.source: str | None = None  # "thinking" or "summary": the first one seen wins
        self.summary_index = 0

    def start(self) -> list[bytes]:
        part = self.part
        block = {"type": "thinking", "thinking": "", "signature": ""}
        out = self.open(finish(block, _extras(part), self.enc.ctx, self.where))
        if isinstance(part, ThinkingPart):
            if part.text:
                out.extend(self._thinking("thinking", part.text))
            for i, text in enumerate(part.summary):
                out.extend(self._summary(i, text))
        return out

    def _thinking(self, source: str, text: str) -> list[bytes]:
        if self.source not in (None, source):
            self.enc.ctx.lose(f"{self.where}.{source}", "a thinking block holds one text")
            return []
        self.source = source
        if not text:
            return []
        self.chunks.append(text)
        return [self.delta_string("thinking_delta", "thinking", text)]

    def _summary(self, index: int, text: str) -> list[bytes]:
        if index != self.summary_index and self.chunks and self.source == "summary":
            text = "\n\n" + text  # summaries joined as in ``thinking_text``
        self.summary_index = index
        return self._thinking("summary", text)

    def feed(self, event: PartDelta) -> list[bytes]:
        if event.field == "thinking":
            return self._thinking("thinking", event.value)
        if event.field == "summary":
            return self._summary(event.summary_index, event.value)
        if event.field == "signature":
            self.signature.append(event.value)
        return []

    def stop(self, final: ContentPart | None) -> list[bytes]:
        part = self.part if isinstance(self.part, ThinkingPart) else ThinkingPart()
        out: list[bytes] = []
        if isinstance(final, ThinkingPart):
            part = final
            if final.text and self.source != "summary":
                out.extend(self._thinking("thinking", _rest(final.text, self.chunks)))
            elif final.summary and self.source != "thinking":
                out.extend(
                    self._thinking("summary", _rest("\n\n".join(final.summary), self.chunks))
                )
        if final is None:  # a final part is authoritative (as in ``accumulate``)
            part = attrs.evolve(part, signature="".join(self.signature) or part.signature)
        sealed = answer_signature(part)
        out.append(self.delta({"type": "signature_delta", "signature": sealed}))
        return [*out, *self.close()]


class _ToolWriter(_Writer):
    """``tool_use`` blocks: ``input_json_delta`` fragments that concatenate to the arguments."""

    def __init__(self, encoder: StreamEncoder, index: int, part: ContentPart) -> None:
        super().__init__(encoder, index, part)
        self.chunks: list[str] = []
        self.custom = isinstance(part, ToolCallPart) and part.kind == "custom"

    def start(self) -> list[bytes]:
        assert isinstance(self.part, ToolCallPart)
        ident = tool_id(self.part.id, f"{self.where}.id", self.enc.ctx, answer=True)
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": ident,
            "name": self.part.name,
            "input": {},
        }
        if self.part.cache_control is not None:
            block["cache_control"] = dict(self.part.cache_control)
        block = finish(block, self.part.extras, self.enc.ctx, self.where)
        self.enc.tool_call = True
        return [*self.open(block), *self._args(self.part.arguments)]

    def _args(self, text: str) -> list[bytes]:
        if not text:
            return []
        fragment = text
        if self.custom:  # free-form input, wrapped as {"input": "…"} one escaped piece at a time
            fragment = _json.dumps_str(text)[1:-1]
            if not self.chunks:
                fragment = '{"input":"' + fragment
        self.chunks.append(text)
        return [self.delta_string("input_json_delta", "partial_json", fragment)]

    def feed(self, event: PartDelta) -> list[bytes]:
        return self._args(event.value) if event.field == "arguments" else []

    def stop(self, final: ContentPart | None) -> list[bytes]:
        out: list[bytes] = []
        if isinstance(final, ToolCallPart):
            out.extend(self._args(_rest(final.arguments, self.chunks)))
        if self.custom:
            tail = '"}' if self.chunks else '{"input":""}'
            out.append(self.delta({"type": "input_json_delta", "partial_json": tail}))
        elif not self.chunks:  # no arguments at all: an empty object, said explicitly
            out.append(self.delta({"type": "input_json_delta", "partial_json": "{}"}))
        return [*out, *self.close()]


class _BlockWriter(_Writer):
    """Blocks complete at their start (``redacted_thinking``) or only at their stop (server
    tools, whose input and results arrive whole); ``None`` blocks are dropped with a loss."""

    def start(self) -> list[bytes]:
        if isinstance(self.part, RedactedThinkingPart):
            return self.open(encode_part(self.part, self.where, self.enc.ctx, answer=True) or {})
        return []

    def stop(self, final: ContentPart | None) -> list[bytes]:
        if isinstance(self.part, RedactedThinkingPart):
            return self.close()
        part = final if isinstance(final, ServerToolPart) else self.part
        block = None
        if isinstance(part, ServerToolPart):
            block = encode_server_part(part, self.where, self.enc.ctx, answer=True)
        else:
            self.enc.ctx.lose(self.where, f"an answer cannot hold {part_words(part)}")
        if block is None:
            return []
        if block.get("type") == "compaction":
            # As Anthropic streams it: the summary and its opaque value in one delta.
            held: dict[str, Any] = {
                k: block[k] for k in ("content", "encrypted_content") if block.get(k) is not None
            }
            start = {k: v for k, v in block.items() if k not in ("content", "encrypted_content")}
            out = self.open({**start, "content": None})
            if held:
                out.append(self.delta({"type": "compaction_delta", **held}))
            return [*out, *self.close()]
        if block.get("type") not in ("server_tool_use", "tool_use"):
            return [*self.open(block), *self.close()]
        # As Anthropic streams it: the input arrives as JSON after an empty start.
        value = block.get("input")
        out = self.open({**block, "input": {}})
        if value:
            text = json_text(value)
            out.append(self.delta({"type": "input_json_delta", "partial_json": text}))
        return [*out, *self.close()]


def _extras(part: ContentPart) -> Mapping[str, Any]:
    """The extras of ``part`` (server parts have none)."""
    return {} if isinstance(part, ServerToolPart) else part.extras


def _rest(full: str, chunks: list[str]) -> str:
    """What ``full`` adds to the text already sent (nothing when they disagree)."""
    sent = "".join(chunks)
    return full[len(sent) :] if full.startswith(sent) else ""


_WRITERS: Final[Mapping[type, type[_Writer]]] = {
    TextPart: _TextWriter,
    RefusalPart: _TextWriter,
    ThinkingPart: _ThinkingWriter,
    ToolCallPart: _ToolWriter,
}


class StreamEncoder:
    """Canonical events in, Anthropic SSE bytes out (``feed(event)``, ``close()``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tool_call = False
        #: whether streamed log probabilities were reported lost (once per stream)
        self.logprobs_lost = False
        self._started = False
        self._finished = False
        self._sequencer = PartSequencer()
        self._current: _Writer | None = None  # the part being written
        self._wire = 0
        self._start_own: Mapping[str, Any] = {}
        self._start_usage: Usage | None = None
        self._usage: Usage | None = None
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._delta_extras: dict[str, dict[str, Any]] = {}
        #: where a refusal part went out as text (a loss unless the stop says ``refusal``)
        self.refusal_at: str | None = None

    def take_index(self) -> int:
        """The next wire block index (blocks open one at a time, so in order)."""
        self._wire += 1
        return self._wire - 1

    def feed(self, event: Event) -> list[bytes]:
        """Frames for ``event``; nothing once the stream has ended."""
        writer = self._current
        if type(event) is PartDelta and writer is not None and event.index == writer.index:
            # The hot path: a delta of the part being written. The sequencer would pass it
            # on unchanged (the part being written is its current part) and remember nothing.
            return [] if self._finished else writer.feed(event)
        out: list[bytes] = []
        for sequential in self._sequencer.feed(event):
            if self._finished:
                break
            if type(sequential) is PartDelta:  # the hot path: straight to the current part
                if self._current is not None:
                    out.extend(self._current.feed(sequential))
                continue
            handler = _ENCODE.get(type(sequential))
            if handler is not None:
                out.extend(handler(self, sequential))
        return out

    def close(self) -> list[bytes]:
        """End of input: a stream without ``MessageStop`` ends with one ``event: error``."""
        if self._finished:
            return []
        error = ApiError.of(
            "api_error", "the upstream stream ended before the message was complete"
        )
        return self._error(StreamError(error=error))

    # --------------------------------------------------------------------- message

    def _message_start(self, event: MessageStart) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        self._start_usage = self._usage = event.usage
        self._start_own = own_of(event.extras)
        message: dict[str, Any] = {
            "id": event.id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": event.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": encode_usage(event.usage, self.ctx, "message_start.usage"),
        }
        tier = anthropic_usage_tier(event.extras, self.ctx, "message_start.usage")
        if tier is not None:
            message["usage"].setdefault("service_tier", tier)
        message = finish(message, event.extras, self.ctx, "message_start")
        return [_frame("message_start", {"type": "message_start", "message": message})]

    def _implicit_start(self) -> list[bytes]:
        if self._started:
            return []
        model = self.ctx.request.model if self.ctx.request is not None else ""
        return self._message_start(MessageStart(id=new_id("msg_"), model=model))

    def _message_delta(self, event: MessageDelta) -> list[bytes]:
        self._stop_reason = event.stop_reason or self._stop_reason
        self._stop_sequence = event.stop_sequence or self._stop_sequence
        if event.usage is not None:
            self._usage = self._usage.merged(event.usage) if self._usage else event.usage
        for fmt, fields in event.extras.items():
            self._delta_extras.setdefault(fmt, {}).update(fields)
        return []

    def _message_stop(self, event: MessageStop) -> list[bytes]:
        out = self._implicit_start()  # the sequencer ended every part just before
        reason = encode_stop_reason(self._stop_reason, self.tool_call, self.ctx)
        delta: dict[str, Any] = {
            "stop_reason": reason,
            "stop_sequence": encode_stop_sequence(self._stop_reason, self._stop_sequence, self.ctx),
        }
        said = self._delta_extras.get(FORMAT, {})
        edits = said.get("context_management")  # a field of the event, not of its delta
        if edits is not None:
            said = {k: v for k, v in said.items() if k != "context_management"}
        if said.get(STOP_DETAILS) is not None:  # what the refusal part did not say
            delta["stop_details"] = said[STOP_DETAILS]
        _add_new(delta, said, self._start_own)
        if self.refusal_at is not None and self._stop_reason != "refusal":
            self.ctx.lose(self.refusal_at, "Anthropic has no refusal block", "sent as a text block")
        extras, server_tools = server_tool_use_of(self._delta_extras, self.ctx, "message_delta")
        lose_foreign(self.ctx, extras, "message_delta")
        usage = self._usage or Usage()
        started = self._start_usage.extras if self._start_usage else {}
        # Only what the start did not already say goes in the delta's usage extras (another
        # format's fields too: the encoder reports those, once).
        usage_extras: dict[str, Mapping[str, Any]] = {}
        for fmt, fields in usage.extras.items():
            before = started.get(fmt, {})
            new = {k: v for k, v in fields.items() if before.get(k) != v}
            if new:
                usage_extras[fmt] = new
        body = encode_usage(
            attrs.evolve(usage, extras=usage_extras),
            self.ctx,
            "message_delta.usage",
            delta=True,
        )
        if server_tools is not None:  # a Responses answer's ``tool_usage``
            body.setdefault("server_tool_use", server_tools)
        self._finished = True
        last: dict[str, Any] = {"type": "message_delta", "delta": delta, "usage": body}
        if edits is not None:
            last["context_management"] = edits
        return [
            *out,
            _frame("message_delta", last),
            _frame("message_stop", {"type": "message_stop"}),
        ]

    def _ping(self, event: Ping) -> list[bytes]:
        return [_frame("ping", {"type": "ping"})]

    def _error(self, event: StreamError) -> list[bytes]:
        self._finished = True
        error = event.error
        if not isinstance(error, ApiError):
            error = ApiError.of("api_error", str(error))
        return [_frame("error", encode_error(error)[1])]

    # ------------------------------------------------------------------------ parts

    # The sequencer passes parts on one at a time: a start comes while no part is current,
    # deltas and the stop are those of the current part.

    def _part_start(self, event: PartStart) -> list[bytes]:
        out = self._implicit_start()
        writer_type = _WRITERS.get(type(event.part), _BlockWriter)
        if isinstance(event.part, RefusalPart) and own_of(event.part.extras).get(REFUSAL_STOP):
            writer_type = _Writer  # made of a ``refusal`` stop: that stop again, no block
        self._current = writer_type(self, event.index, event.part)
        return [*out, *self._current.start()]

    def _part_delta(self, event: PartDelta) -> list[bytes]:
        return self._current.feed(event) if self._current is not None else []

    def _part_stop(self, event: PartStop) -> list[bytes]:
        writer, self._current = self._current, None
        if event.part is not None:
            lose_phase(self.ctx, (event.part,), "anthropic", f"stream.content[{event.index}]")
        return writer.stop(event.part) if writer is not None else []


def _add_new(target: dict[str, Any], fields: Mapping[str, Any], said: Mapping[str, Any]) -> None:
    """Fields that ``said`` does not already hold with the same value (hints excluded)."""
    for key, value in fields.items():
        if not key.startswith("_") and said.get(key, _MISSING) != value:
            target.setdefault(key, value)


_MISSING: Final = object()

_ENCODE: Final[Mapping[type, Callable[[StreamEncoder, Any], list[bytes]]]] = {
    MessageStart: StreamEncoder._message_start,
    MessageDelta: StreamEncoder._message_delta,
    MessageStop: StreamEncoder._message_stop,
    Ping: StreamEncoder._ping,
    StreamError: StreamEncoder._error,
    PartStart: StreamEncoder._part_start,
    PartDelta: StreamEncoder._part_delta,
    PartStop: StreamEncoder._part_stop,
}
