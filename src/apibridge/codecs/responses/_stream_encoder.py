"""Canonical events → Responses SSE bytes: the push-style stream encoder.

Theory of operation
-------------------
Every frame is ``event: <type>`` + ``data: {"type": <type>, "sequence_number": n, …}`` with
``n`` counting from 0 by 1. :class:`MessageStart` writes ``response.created`` and
``response.in_progress``. Items are then written one at a time, in order of opening: the events
go through a :class:`~apibridge.codecs._sequencer.PartSequencer`, which holds the parts that are
not current (interleaved parallel tool calls) until their turn and, at :class:`MessageStop`,
ends the parts never stopped, so the encoder sees one part at a time. A part becomes an item
the way :func:`~apibridge.codecs.responses._items.encode_parts` makes it for a non-streamed
answer (consecutive text parts share one message item; a text part that never gets text emits
nothing), and an item's id, decided at ``output_item.added``, is the id of its ``.done`` and of
the terminal event's ``output``; ids that the events do not give are derived from the response
id and the item's position, as for a non-streamed answer, so both encodings agree.

Text deltas → ``output_text.delta`` (citations → ``output_text.annotation.added``), refusal →
``refusal.delta``, tool call arguments → ``function_call_arguments.delta`` or
``custom_tool_call_input.delta``, reasoning summaries → ``reasoning_summary_text.delta`` (a
reasoning text from another format is said as summary 0, as in a non-streamed answer; if
summaries come first, the text goes to ``reasoning_text.delta``), signatures are held for the
item's ``encrypted_content``. :class:`MessageDelta` is held until :class:`MessageStop`, which
writes the one terminal event (``completed``, ``incomplete`` or ``failed`` by the stop
reason). A :class:`StreamError`, or ``close()`` before :class:`MessageStop`, finishes the item
being written (parts still held are dropped) and writes ``response.failed`` instead: exactly
one terminal event, always.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

from apibridge._json import dumps
from apibridge._sse import encode_comment, encode_frame
from apibridge.codecs._context import Context, new_id
from apibridge.codecs._sequencer import PartSequencer
from apibridge.codecs.responses._content import encode_content
from apibridge.codecs.responses._errors import FAILED_CODE_KINDS, KIND_FAILED_CODES
from apibridge.codecs.responses._items import (
    ItemIds,
    encode_item,
    is_blank,
    is_textlike,
    new_message,
)
from apibridge.codecs.responses._response import report_stop, response_object
from apibridge.codecs.responses._wire import (
    FORMAT,
    encode_annotation,
    encode_usage,
    hints,
    lose_foreign,
    part_hints,
    status_for_stop,
)
from apibridge.errors import ApiError
from apibridge.model import (
    Citation,
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

#: Response status → the terminal event that carries it.
TERMINAL_EVENTS: Mapping[str, str] = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}

_EARLY_END = "the upstream stream ended before the answer was complete"


@attrs.define
class _Pending:
    """The canonical part being written."""

    part: ContentPart
    where: str
    skipped: bool = False
    opened: bool = False  # text: content part added; others: item added
    item: dict[str, Any] | None = None  # non-text: the added item
    output_index: int = 0
    content_index: int = 0
    chunks: list[str] = attrs.field(factory=list)
    length: int = 0
    summaries: dict[int, list[str]] = attrs.field(factory=dict)
    signature: list[str] = attrs.field(factory=list)
    citations: list[Citation] = attrs.field(factory=list)
    thinking_as_summary: bool | None = None
    summary_parts: int = 0
    reasoning_open: bool = False


@attrs.define
class _Message:
    """The message item being written."""

    item_id: str
    output_index: int
    fields: dict[str, Any] | None
    content: list[dict[str, Any]] = attrs.field(factory=list)


class StreamEncoder:
    """Canonical events in, Responses SSE bytes out (``feed``/``close``).

    :attr:`final_response` is the response object of the ``response.completed`` (or
    ``response.incomplete``) event once it is written, as the client receives it: what a
    server stores for ``previous_response_id`` without parsing its own output again.
    """

    def __init__(self, ctx: Context) -> None:
        #: the terminal event's response object (``None`` until then, and for a failure).
        self.final_response: dict[str, Any] | None = None
        self._ctx = ctx
        self._seq = 0
        self._started = False
        self._finished = False
        self._id = ""
        self._model = ""
        self._created: int | float = 0
        self._ids = ItemIds(None)
        self._sequencer = PartSequencer()
        self._current: _Pending | None = None  # the part being written
        self._output: list[dict[str, Any]] = []
        self._msg: _Message | None = None
        self._stop: str | None = None
        self._stop_sequence: str | None = None
        self._usage: Usage | None = None
        self._extras: dict[str, Mapping[str, Any]] = {}

    # ------------------------------------------------------------------ public

    def feed(self, event: Event) -> list[bytes]:
        """Bytes for one canonical event (nothing once the stream has ended)."""
        if self._finished:
            return []
        if isinstance(event, Ping):  # no ping event in Responses: a comment keeps it alive
            return [encode_comment("ping")]
        out: list[bytes] = []
        if not self._started:
            if isinstance(event, MessageStart):
                return self._start(event)
            out += self._start(None)
        for sequential in self._sequencer.feed(event):
            if not self._finished:
                out += self._encode(sequential)
        return out

    def _encode(self, event: Event) -> list[bytes]:
        """Bytes for one event of the sequenced stream (parts one at a time)."""
        out: list[bytes] = []
        if isinstance(event, PartStart):
            out += self._part_start(event)
        elif isinstance(event, PartDelta):
            if self._current is not None:
                out += self._write_delta(self._current, event)
        elif isinstance(event, PartStop):
            out += self._part_stop(event)
        elif isinstance(event, MessageDelta):
            self._stop = event.stop_reason or self._stop
            self._stop_sequence = event.stop_sequence or self._stop_sequence
            self._usage = event.usage if self._usage is None else self._usage.merged(event.usage)
            self._extras.update(event.extras)
        elif isinstance(event, MessageStop):
            out += self._complete()
        elif isinstance(event, StreamError):
            out += self._fail(event.error)
        return out

    def close(self) -> list[bytes]:
        """End of input: an unfinished stream ends with ``response.failed``, exactly once."""
        if self._finished:
            return []
        out = [] if self._started else self._start(None)
        return out + self._fail(ApiError.of("api_error", _EARLY_END))

    # ----------------------------------------------------------------- framing

    def _emit(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return encode_frame(dumps(payload), event=kind)

    def _response(self, *, stop: str | None, in_progress: bool = False) -> dict[str, Any]:
        usage = None if in_progress else encode_usage(self._usage, self._ctx, "usage")
        body: dict[str, Any] = response_object(
            response_id=self._id,
            model=self._model,
            created=self._created,
            stop=stop,
            extras={} if in_progress else self._extras,
            output=[] if in_progress else list(self._output),
            usage=usage,
            ctx=self._ctx,
            in_progress=in_progress,
        )
        return body

    def _start(self, event: MessageStart | None) -> list[bytes]:
        self._started = True
        request = self._ctx.request
        self._id = event.id if event is not None else new_id("resp_")
        self._model = event.model if event is not None else (request.model if request else "")
        created = event.created if event is not None else None
        self._created = created if created is not None else int(time.time())
        self._ids = ItemIds(self._id)
        if event is not None:
            self._usage = event.usage
            self._extras.update(event.extras)
        body = self._response(stop=None, in_progress=True)
        return [
            self._emit("response.created", response=body),
            self._emit("response.in_progress", response=body),
        ]

    # ------------------------------------------------------------------- parts

    # The sequencer passes parts on one at a time: a start comes while no part is current,
    # deltas and the stop are those of the current part.

    def _part_start(self, event: PartStart) -> list[bytes]:
        """The part becomes current: what it starts with is written."""
        pending = _Pending(part=event.part, where=f"content[{event.index}]")
        self._current = pending
        part, out = pending.part, []
        if not is_textlike(part):
            out += self._close_message()
            out += self._add_item(pending, part)
        elif not isinstance(part, (TextPart, RefusalPart)):
            self._ctx.lose(pending.where, f"a {type(part).__name__} cannot appear in an answer")
            pending.skipped = True
        else:  # what the part starts with is written like any later delta
            out += self._write_text(pending, part.text) if part.text else []
            if isinstance(part, TextPart):
                for cite in part.citations:
                    out += self._write_citation(pending, cite)
        return out

    def _part_stop(self, event: PartStop) -> list[bytes]:
        pending, self._current = self._current, None
        return self._finish(pending, event.part) if pending is not None else []

    def _add_item(self, pending: _Pending, part: ContentPart) -> list[bytes]:
        """``output_item.added`` for a part that is an item of its own."""
        position = len(self._output)
        item: dict[str, Any] | None
        if isinstance(part, ToolCallPart):
            custom = part.kind == "custom"
            item_id = part.item_id or self._ids.make("ctc_" if custom else "fc_", position)
            item = {
                "id": item_id,
                "type": "custom_tool_call" if custom else "function_call",
                "status": "in_progress",
                "call_id": part.id,
                "name": part.name,
                "input" if custom else "arguments": "",
            }
        elif isinstance(part, (ThinkingPart, RedactedThinkingPart)):
            given = part.id if isinstance(part, ThinkingPart) else hints(part.extras).get("_id")
            item = {
                "id": given or self._ids.make("rs_", position),
                "type": "reasoning",
                "summary": [],
            }
        else:
            item = encode_item(part, self._ctx, pending.where, self._ids, position, output=True)
        if item is None:
            pending.skipped = True
            return []
        pending.item, pending.opened, pending.output_index = item, True, position
        self._output.append(item)
        out = [self._emit("response.output_item.added", output_index=position, item=item)]
        if isinstance(part, ToolCallPart) and part.arguments:
            out += self._write_args(pending, part.arguments)
        if isinstance(part, ThinkingPart):
            for index, text in enumerate(part.summary):
                start = PartDelta(index=0, field="summary", value=text, summary_index=index)
                out += self._write_thinking(pending, start)
            if part.text:
                out += self._write_thinking(
                    pending, PartDelta(index=0, field="thinking", value=part.text)
                )
        return out

    # ------------------------------------------------------------------ deltas

    def _write_delta(self, pending: _Pending, delta: PartDelta) -> list[bytes]:
        part = pending.part
        if pending.skipped:
            return []
        if isinstance(part, (TextPart, RefusalPart)):
            if delta.field == "citation" and delta.citation is not None:
                return self._write_citation(pending, delta.citation)
            return self._write_text(pending, delta.value) if delta.value else []
        if isinstance(part, ToolCallPart):
            return self._write_args(pending, delta.value) if delta.value else []
        if isinstance(part, ThinkingPart):
            return self._write_thinking(pending, delta)
        return []

    def _open_text(self, pending: _Pending) -> list[bytes]:
        if pending.opened:
            return []
        out: list[bytes] = []
        fields = part_hints(pending.part).get("_item")
        if self._msg is None or fields is not None:
            out += self._close_message()
            out += self._open_message(fields)
        msg = self._msg
        assert msg is not None
        pending.opened, pending.output_index = True, msg.output_index
        pending.content_index = len(msg.content)
        msg.content.append({})  # the slot this part fills when it is done
        refusal = isinstance(pending.part, RefusalPart)
        entry: dict[str, Any] = (
            {"type": "refusal", "refusal": ""}
            if refusal
            else {"type": "output_text", "text": "", "annotations": []}
        )
        out.append(self._emit("response.content_part.added", **self._where(pending), part=entry))
        return out

    def _open_message(self, fields: Mapping[str, Any] | None) -> list[bytes]:
        position = len(self._output)
        base = new_message("assistant", fields, self._ids, position)
        item_id = base.get("id") if isinstance(base.get("id"), str) else None
        item_id = item_id or self._ids.make("msg_", position)
        self._msg = _Message(
            item_id=item_id,
            output_index=position,
            fields=dict(fields) if fields is not None else None,
        )
        added: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self._output.append(added)
        return [self._emit("response.output_item.added", output_index=position, item=added)]

    def _close_message(self) -> list[bytes]:
        msg, self._msg = self._msg, None
        if msg is None:
            return []
        # Output messages always have these; the hint (which may be partial) overrides them.
        item = {
            **new_message("assistant", None, self._ids, msg.output_index),
            **(msg.fields or {}),
            "id": msg.item_id,
            "content": [c for c in msg.content if c],
        }
        self._output[msg.output_index] = item
        return [self._emit("response.output_item.done", output_index=msg.output_index, item=item)]

    def _where(self, pending: _Pending) -> dict[str, Any]:
        msg_id = self._msg.item_id if self._msg is not None else ""
        return {
            "item_id": msg_id,
            "output_index": pending.output_index,
            "content_index": pending.content_index,
        }

    def _write_text(self, pending: _Pending, text: str) -> list[bytes]:
        out = self._open_text(pending)
        pending.chunks.append(text)
        pending.length += len(text)
        if isinstance(pending.part, RefusalPart):
            out.append(self._emit("response.refusal.delta", **self._where(pending), delta=text))
        else:
            out.append(
                self._emit(
                    "response.output_text.delta", **self._where(pending), delta=text, logprobs=[]
                )
            )
        return out

    def _write_citation(self, pending: _Pending, cite: Citation) -> list[bytes]:
        if isinstance(pending.part, RefusalPart):
            return []
        out = self._open_text(pending)
        where = f"{pending.where}.citations[{len(pending.citations)}]"
        # reported once, when the finished part is encoded (``_finish_text``)
        annotation = encode_annotation(cite, pending.length, Context(), where)
        pending.citations.append(cite)
        if annotation is not None:
            index = len(pending.citations) - 1
            out.append(
                self._emit(
                    "response.output_text.annotation.added",
                    **self._where(pending),
                    annotation_index=index,
                    annotation=annotation,
                )
            )
        return out

    def _write_args(self, pending: _Pending, text: str) -> list[bytes]:
        assert isinstance(pending.part, ToolCallPart)
        assert pending.item is not None
        pending.chunks.append(text)
        kind = (
            "response.custom_tool_call_input.delta"
            if pending.part.kind == "custom"
            else "response.function_call_arguments.delta"
        )
        return [
            self._emit(
                kind, item_id=pending.item["id"], output_index=pending.output_index, delta=text
            )
        ]

    def _write_thinking(self, pending: _Pending, delta: PartDelta) -> list[bytes]:
        assert pending.item is not None
        if delta.field == "signature":
            pending.signature.append(delta.value)
            return []
        if delta.field not in ("thinking", "summary") or not delta.value:
            return []
        if pending.thinking_as_summary is None:
            pending.thinking_as_summary = delta.field == "thinking"
        ids = {"item_id": pending.item["id"], "output_index": pending.output_index}
        if delta.field == "summary":
            pending.summaries.setdefault(delta.summary_index, []).append(delta.value)
            if pending.thinking_as_summary:
                return []  # summary 0 already says the reasoning text; the item has the rest
            return self._write_summary(pending, ids, delta.summary_index, delta.value)
        pending.chunks.append(delta.value)
        if pending.thinking_as_summary:
            return self._write_summary(pending, ids, 0, delta.value)
        out = []
        if not pending.reasoning_open:
            pending.reasoning_open = True
            out.append(
                self._emit(
                    "response.content_part.added",
                    **ids,
                    content_index=0,
                    part={"type": "reasoning_text", "text": ""},
                )
            )
        out.append(
            self._emit("response.reasoning_text.delta", **ids, content_index=0, delta=delta.value)
        )
        return out

    def _write_summary(
        self, pending: _Pending, ids: dict[str, Any], which: int, text: str
    ) -> list[bytes]:
        out = []
        while pending.summary_parts <= which:  # summary parts open in order
            out.append(
                self._emit(
                    "response.reasoning_summary_part.added",
                    **ids,
                    summary_index=pending.summary_parts,
                    part={"type": "summary_text", "text": ""},
                )
            )
            pending.summary_parts += 1
        if text:
            out.append(
                self._emit(
                    "response.reasoning_summary_text.delta", **ids, summary_index=which, delta=text
                )
            )
        return out

    # ------------------------------------------------------------------ finish

    def _accumulated(self, pending: _Pending) -> ContentPart:
        """The part as its deltas said (its start was written as deltas too; joined once)."""
        part = pending.part
        said = "".join(pending.chunks)
        if isinstance(part, TextPart):
            return attrs.evolve(part, text=said, citations=tuple(pending.citations))
        if isinstance(part, RefusalPart):
            return attrs.evolve(part, text=said)
        if isinstance(part, ToolCallPart):
            return attrs.evolve(part, arguments=said)
        if isinstance(part, ThinkingPart):
            summary: list[str] = []
            for index in sorted(pending.summaries):
                summary.extend([""] * (index + 1 - len(summary)))
                summary[index] += "".join(pending.summaries[index])
            signature = part.signature
            if pending.signature:
                signature = (signature or "") + "".join(pending.signature)
            return attrs.evolve(part, text=said, summary=tuple(summary), signature=signature)
        return part

    def _finish(self, pending: _Pending, final: ContentPart | None) -> list[bytes]:
        """The closing events of a part, from its final value (``None``: as its deltas said)."""
        if pending.skipped:
            return []
        if final is None or type(final) is not type(pending.part):
            final = self._accumulated(pending)
        if isinstance(final, (TextPart, RefusalPart)):
            return self._finish_text(pending, final)
        item = pending.item
        if item is None:
            return []
        if isinstance(final, ToolCallPart):
            return self._finish_call(pending, final, item["id"])
        if isinstance(final, (ThinkingPart, RedactedThinkingPart)):
            return self._finish_reasoning(pending, final, item["id"])
        if isinstance(final, ServerToolPart) and final.source_format == FORMAT:
            item = dict(final.raw)
        return self._item_done(pending.output_index, item)

    def _item_done(self, position: int, item: dict[str, Any]) -> list[bytes]:
        self._output[position] = item
        return [self._emit("response.output_item.done", output_index=position, item=item)]

    def _finish_text(self, pending: _Pending, final: TextPart | RefusalPart) -> list[bytes]:
        own = hints(final.extras)
        if own.get("_empty"):  # a marker: a message item with these fields begins here
            return self._close_message() + self._open_message(own.get("_item"))
        if not pending.opened:
            if is_blank(final):
                return []
            pending.part = final  # its hints decide which message item it joins
        out = self._open_text(pending)
        said = "".join(pending.chunks)
        if len(final.text) > len(said) and final.text.startswith(said):
            out += self._write_text(pending, final.text[len(said) :])
        entry = encode_content(final, "assistant", self._ctx, pending.where) or {}
        if entry.get("type") == "output_text":
            entry.setdefault("annotations", [])  # stream events must carry them (SDK types)
        if isinstance(final, RefusalPart):
            out.append(
                self._emit("response.refusal.done", **self._where(pending), refusal=final.text)
            )
        else:
            out.append(
                self._emit(
                    "response.output_text.done",
                    **self._where(pending),
                    text=final.text,
                    logprobs=[],
                )
            )
        out.append(self._emit("response.content_part.done", **self._where(pending), part=entry))
        msg = self._msg
        if msg is not None:
            msg.content[pending.content_index] = entry
            if pending.content_index == 0 and isinstance(own.get("_item"), Mapping):
                msg.fields = dict(own["_item"])
        return out

    def _finish_call(self, pending: _Pending, final: ToolCallPart, item_id: str) -> list[bytes]:
        said = "".join(pending.chunks)
        out = []
        if len(final.arguments) > len(said) and final.arguments.startswith(said):
            out += self._write_args(pending, final.arguments[len(said) :])
        where = {"item_id": item_id, "output_index": pending.output_index}
        if final.kind == "custom":
            out.append(
                self._emit("response.custom_tool_call_input.done", **where, input=final.arguments)
            )
        else:
            out.append(
                self._emit(
                    "response.function_call_arguments.done", **where, arguments=final.arguments
                )
            )
        item = encode_item(
            final, self._ctx, pending.where, self._ids, pending.output_index, output=True
        )
        assert item is not None
        item["id"] = item_id
        return out + self._item_done(pending.output_index, item)

    def _finish_reasoning(
        self, pending: _Pending, final: ThinkingPart | RedactedThinkingPart, item_id: str
    ) -> list[bytes]:
        item = encode_item(
            final, self._ctx, pending.where, self._ids, pending.output_index, output=True
        )
        assert item is not None
        item["id"] = item_id
        ids = {"item_id": item_id, "output_index": pending.output_index}
        summaries = [str(s.get("text", "")) for s in item.get("summary", [])]
        out: list[bytes] = []
        for index in range(max(pending.summary_parts, len(summaries))):
            text = summaries[index] if index < len(summaries) else ""
            if index >= pending.summary_parts:
                out += self._write_summary(pending, ids, index, text)
            out.append(
                self._emit(
                    "response.reasoning_summary_text.done", **ids, summary_index=index, text=text
                )
            )
            out.append(
                self._emit(
                    "response.reasoning_summary_part.done",
                    **ids,
                    summary_index=index,
                    part={"type": "summary_text", "text": text},
                )
            )
        if pending.reasoning_open:
            content = item.get("content") or [{"text": "".join(pending.chunks)}]
            text = "".join(str(c.get("text", "")) for c in content)
            out.append(
                self._emit("response.reasoning_text.done", **ids, content_index=0, text=text)
            )
            out.append(
                self._emit(
                    "response.content_part.done",
                    **ids,
                    content_index=0,
                    part={"type": "reasoning_text", "text": text},
                )
            )
        return out + self._item_done(pending.output_index, item)

    # ---------------------------------------------------------------- the end

    def _complete(self) -> list[bytes]:
        """The one terminal event (the sequencer ended every part just before)."""
        out = self._close_message()
        report_stop(self._stop, self._stop_sequence, self._ctx)
        lose_foreign(self._ctx, self._extras, "response")
        body = self._response(stop=self._stop)
        self._finished = True
        status = body.get("status")  # a same-format hint may have left it out, or odd
        if not isinstance(status, str):
            status = status_for_stop(self._stop)[0]
        kind = TERMINAL_EVENTS.get(status, "response.completed")
        if kind != "response.failed":
            self.final_response = body
        return [*out, self._emit(kind, response=body)]

    def _fail(self, error: ApiError) -> list[bytes]:
        """Finish the item being written and end with ``response.failed``."""
        out: list[bytes] = []
        pending, self._current = self._current, None
        if pending is not None:
            out += self._finish(pending, None)
        out += self._close_message()
        code = error.code if error.code in FAILED_CODE_KINDS else None
        body = self._response(stop="error")
        body["status"] = "failed"
        body["incomplete_details"] = None
        body["error"] = {
            "code": code or KIND_FAILED_CODES.get(error.kind, "server_error"),
            "message": error.message,
        }
        self._finished = True
        return [*out, self._emit("response.failed", response=body)]
