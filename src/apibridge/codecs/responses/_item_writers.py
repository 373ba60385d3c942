"""The per-part writers of the Responses stream encoder: one canonical part → its output events.

Theory of operation
-------------------
The stream encoder (:mod:`~apibridge.codecs.responses._stream_encoder`) sees one part at a
time and hands it to a writer chosen by the part's type (:func:`writer_for`); the writer gets
the part's ``start``, each ``feed(delta)`` and the ``stop(final)``. What the writers share is
an :class:`~apibridge.codecs.responses._item_stream.ItemStream`: the sequence numbers, the
output items written so far (the terminal event's ``output``) and the message item open now.

* :class:`_TextWriter` (text, refusal): a content part of the current message item, opened at
  its first text or citation (a text part that never gets any emits nothing, unless its hints
  ask for an item of its own) → ``content_part.added`` → ``output_text.delta`` /
  ``output_text.annotation.added`` / ``refusal.delta`` → ``….done`` → ``content_part.done``.
  Consecutive text parts share a message item; an ``_item`` hint starts a new one.
* Every other part closes the message item and is an item of its own, added at its start:
  :class:`_CallWriter` (``function_call_arguments.delta`` or ``custom_tool_call_input.delta``),
  :class:`_ReasoningWriter` (``reasoning_summary_part.added`` →
  ``reasoning_summary_text.delta``; a reasoning text from another format is said as summary
  0, as in a non-streamed answer; if summaries come first the text goes to
  ``reasoning_text.delta``; signatures are held for ``encrypted_content``), and
  :class:`_ItemWriter` for the rest (server tool items, written whole by ``encode_item``).
* :class:`_LostWriter`: images, files and opaque content entries cannot be in an answer
  (reported; nothing is written).

A writer's ``stop`` takes the final part when the event has one of the same type (it is
authoritative: what the deltas did not say yet is written from it), else the part as its deltas
said; the item it ends with is the one ``encode_item``/``encode_content`` make for a
non-streamed answer, with the id decided at ``.added``.

A stream that fails (the upstream broke off, or ended without its terminal event) never stops
the part being written: its writer's ``cut`` writes no event, so its item (and the open
message item, ``ItemStream.cut_message``) stays open in the event stream, and puts in the
output what the deltas said, with status ``incomplete``, for the ``response.failed`` event. A
client that acts on ``output_item.done`` or ``function_call_arguments.done`` never sees a call
whose arguments were cut off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from apibridge.codecs._compaction import is_compaction
from apibridge.codecs._context import Context
from apibridge.codecs._logprobs import TokenScores
from apibridge.codecs.responses._content import encode_content
from apibridge.codecs.responses._item_stream import DeltaFrame, ItemStream
from apibridge.codecs.responses._items import (
    encode_item,
    is_blank,
    is_textlike,
)
from apibridge.codecs.responses._wire import FORMAT, encode_annotation, hints, part_hints
from apibridge.model import (
    Citation,
    ContentPart,
    PartDelta,
    RedactedThinkingPart,
    RefusalPart,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)

__all__ = ["Writer", "writer_for"]


class Writer:
    """Writes one canonical part; the base writes nothing."""

    def __init__(self, stream: ItemStream, index: int, part: ContentPart) -> None:
        self.stream = stream
        self.index = index
        self.part = part
        self.where = f"content[{index}]"
        self.chunks: list[str] = []  # what the deltas said of the part's main text

    def start(self) -> list[bytes]:
        """Frames when the part becomes current (what it starts with is written too)."""
        return []

    def feed(self, delta: PartDelta) -> list[bytes]:
        """Frames for one delta of the current part."""
        return []

    def stop(self, final: ContentPart | None) -> list[bytes]:
        """The closing frames, from ``final`` when it is of the part's type."""
        if final is None or type(final) is not type(self.part):
            final = self.accumulated()
        return self.finish(final)

    def accumulated(self) -> ContentPart:
        """The part as its deltas said."""
        return self.part

    def finish(self, final: ContentPart) -> list[bytes]:
        """The closing frames for the part's final value."""
        return []

    def cut(self) -> None:
        """The stream failed while this part was being written: no closing frames; the output
        gets the part as far as its deltas said (the base has nothing to put there)."""


def _rest(full: str, chunks: list[str]) -> str:
    """What ``full`` adds to the text already said (nothing when they disagree)."""
    said = "".join(chunks)
    return full[len(said) :] if len(full) > len(said) and full.startswith(said) else ""


# --------------------------------------------------------------------------- message text


class _TextWriter(Writer):
    """A text or refusal part: one content part of the current message item."""

    def __init__(self, stream: ItemStream, index: int, part: ContentPart) -> None:
        super().__init__(stream, index, part)
        self.at: dict[str, Any] = {}  # item_id, output_index, content_index once opened
        self.length = 0
        self.citations: list[Citation] = []
        self.annotations: list[dict[str, Any]] = []  # the annotations said so far
        self.delta_frame: DeltaFrame | None = None  # its text deltas, once opened
        self.scores = TokenScores()  # its tokens' log probabilities, when the upstream scores

    def start(self) -> list[bytes]:
        part = self.part
        assert isinstance(part, TextPart | RefusalPart)
        out = self._text(part.text) if part.text else []
        if isinstance(part, TextPart):
            for cite in part.citations:
                out += self._cite(cite)
        return out

    def feed(self, delta: PartDelta) -> list[bytes]:
        if delta.field == "citation" and delta.citation is not None:
            return self._cite(delta.citation)
        value = delta.value
        if not value:
            return []
        frame = self.delta_frame
        if frame is None or delta.logprobs:  # not opened yet, or scored tokens
            return self._text(value, delta.logprobs)
        self.chunks.append(value)
        self.length += len(value)
        return [self.stream.emit_delta(frame, value)]

    def _open(self) -> list[bytes]:
        """``content_part.added`` (after a new message item, where one begins)."""
        if self.at:
            return []
        stream, out = self.stream, []
        fields = part_hints(self.part).get("_item")
        if stream.msg is None or fields is not None:
            out += stream.close_message()
            out += stream.open_message(fields)
        msg = stream.msg
        assert msg is not None
        self.at = {
            "item_id": msg.item_id,
            "output_index": msg.output_index,
            "content_index": len(msg.content),
        }
        msg.content.append({})  # the slot this part fills when it is done
        entry: dict[str, Any]
        if isinstance(self.part, RefusalPart):
            entry = {"type": "refusal", "refusal": ""}
            self.delta_frame = DeltaFrame("response.refusal.delta", self.at, {})
        else:
            entry = {"type": "output_text", "text": "", "annotations": []}
            self.delta_frame = DeltaFrame("response.output_text.delta", self.at, {"logprobs": []})
        out.append(stream.emit("response.content_part.added", **self.at, part=entry))
        return out

    def _text(self, text: str, logprobs: tuple[Mapping[str, Any], ...] = ()) -> list[bytes]:
        out = self._open()
        self.chunks.append(text)
        self.length += len(text)
        frame = self.delta_frame
        assert frame is not None  # made by _open
        if logprobs and isinstance(self.part, TextPart):  # the general (slower) path
            scores = self.scores.add(logprobs)
            return [*out, self.stream.emit(frame.kind, **self.at, delta=text, logprobs=scores)]
        out.append(self.stream.emit_delta(frame, text))
        return out

    def _cite(self, cite: Citation) -> list[bytes]:
        if isinstance(self.part, RefusalPart):
            return []
        out = self._open()
        where = f"{self.where}.citations[{len(self.citations)}]"
        # reported once, when the finished part is encoded (``finish``)
        annotation = encode_annotation(cite, self.length, Context(), where)
        self.citations.append(cite)
        if annotation is not None:
            self.annotations.append(annotation)
            out.append(
                self.stream.emit(
                    "response.output_text.annotation.added",
                    **self.at,
                    annotation_index=len(self.citations) - 1,
                    annotation=annotation,
                )
            )
        return out

    def accumulated(self) -> ContentPart:
        said = "".join(self.chunks)
        if isinstance(self.part, TextPart):
            return attrs.evolve(self.part, text=said, citations=tuple(self.citations))
        assert isinstance(self.part, RefusalPart)
        return attrs.evolve(self.part, text=said)

    def finish(self, final: ContentPart) -> list[bytes]:
        assert isinstance(final, TextPart | RefusalPart)
        stream = self.stream
        own = hints(final.extras)
        if own.get("_empty"):  # a marker: a message item with these fields begins here
            return stream.close_message() + stream.open_message(own.get("_item"))
        if not self.at:
            if is_blank(final):
                return []
            self.part = final  # its hints decide which message item it joins
        out = self._open()
        rest = _rest(final.text, self.chunks)
        if rest:
            out += self._text(rest)
        entry = encode_content(final, "assistant", stream.ctx, self.where) or {}
        said = self.scores.finish(entry)  # (and the annotations stream events must carry)
        if isinstance(final, RefusalPart):
            out.append(stream.emit("response.refusal.done", **self.at, refusal=final.text))
        else:
            out.append(
                stream.emit("response.output_text.done", **self.at, text=final.text, logprobs=said)
            )
        out.append(stream.emit("response.content_part.done", **self.at, part=entry))
        msg = stream.msg
        if msg is not None:
            msg.content[self.at["content_index"]] = entry
            if self.at["content_index"] == 0 and isinstance(own.get("_item"), Mapping):
                msg.fields = dict(own["_item"])
        return out

    def cut(self) -> None:
        msg = self.stream.msg
        if not self.at or msg is None:
            return
        said = "".join(self.chunks)
        entry: dict[str, Any]
        if isinstance(self.part, RefusalPart):
            entry = {"type": "refusal", "refusal": said}
        else:
            entry = {"type": "output_text", "text": said, "annotations": list(self.annotations)}
        msg.content[self.at["content_index"]] = entry


class _LostWriter(Writer):
    """A text-like part an answer cannot hold (image, file, content entry): reported, unsaid."""

    def start(self) -> list[bytes]:
        self.stream.ctx.lose(self.where, f"a {type(self.part).__name__} cannot appear in an answer")
        return []

    def stop(self, final: ContentPart | None) -> list[bytes]:
        return []


# ------------------------------------------------------------------------ items of their own


class _ItemWriter(Writer):
    """A part that is an item of its own: ``output_item.added`` at its start (after the message
    item is closed), ``output_item.done`` at its stop. This base writes server tool items whole
    (``None`` from ``encode_item``: the part cannot be carried, reported there)."""

    def __init__(self, stream: ItemStream, index: int, part: ContentPart) -> None:
        super().__init__(stream, index, part)
        self.item: dict[str, Any] | None = None
        self.output_index = 0
        self.delta_frame: DeltaFrame | None = None  # the frame of its deltas, once the first comes

    def start(self) -> list[bytes]:
        stream = self.stream
        out = stream.close_message()
        position = len(stream.output)
        item = self.added_item(position)
        if item is None:
            return out
        self.item, self.output_index = item, position
        out.append(stream.add_item(item))
        return out + self.begin()

    def added_item(self, position: int) -> dict[str, Any] | None:
        """The item as ``output_item.added`` says it."""
        stream = self.stream
        return encode_item(self.part, stream.ctx, self.where, stream.ids, position, output=True)

    def begin(self) -> list[bytes]:
        """What the part starts with, written after ``output_item.added``."""
        return []

    def finish(self, final: ContentPart) -> list[bytes]:
        item = self.item
        if item is None:
            return []
        if isinstance(final, ServerToolPart) and final.source_format == FORMAT:
            item = dict(final.raw)
        elif is_compaction(final):  # another format's block is whole only now
            item = self.final_item(final, item["id"])
        return self.stream.item_done(self.output_index, item)

    def cut(self) -> None:
        if self.item is not None:
            self.stream.output[self.output_index] = self.cut_item(self.item)

    def cut_item(self, added: dict[str, Any]) -> dict[str, Any]:
        """The item as far as its deltas said (a server tool item: as it was added), its
        status the one its type has for "not finished"."""
        if "status" not in added:
            return added
        return {**added, "status": _CUT_STATUS.get(added.get("type"), "incomplete")}

    def final_item(self, final: ContentPart, item_id: str) -> dict[str, Any]:
        """``final`` as ``encode_item`` makes it, with the id said at ``.added``."""
        stream = self.stream
        item = encode_item(final, stream.ctx, self.where, stream.ids, self.output_index, True)
        assert item is not None
        item["id"] = item_id
        return item


class _CallWriter(_ItemWriter):
    """A tool call: ``function_call`` or ``custom_tool_call``, its arguments as deltas."""

    def added_item(self, position: int) -> dict[str, Any]:
        part = self.part
        assert isinstance(part, ToolCallPart)
        custom = part.kind == "custom"
        item: dict[str, Any] = {
            "id": part.item_id or self.stream.ids.make("ctc_" if custom else "fc_", position),
            "type": "custom_tool_call" if custom else "function_call",
            "status": "in_progress",
            "call_id": part.id,
            "name": part.name,
            "input" if custom else "arguments": "",
        }
        if part.namespace is not None:
            item["namespace"] = part.namespace
        return item

    def begin(self) -> list[bytes]:
        assert isinstance(self.part, ToolCallPart)
        return self._args(self.part.arguments) if self.part.arguments else []

    def feed(self, delta: PartDelta) -> list[bytes]:
        value = delta.value
        if not value:
            return []
        frame = self.delta_frame
        if frame is None:
            return self._args(value)
        self.chunks.append(value)
        return [self.stream.emit_delta(frame, value)]

    def _args(self, text: str) -> list[bytes]:
        assert isinstance(self.part, ToolCallPart)
        assert self.item is not None
        self.chunks.append(text)
        frame = self.delta_frame
        if frame is None:
            kind = _ARGS_DELTA[self.part.kind == "custom"]
            fields = {"item_id": self.item["id"], "output_index": self.output_index}
            frame = self.delta_frame = DeltaFrame(kind, fields, {})
        return [self.stream.emit_delta(frame, text)]

    def accumulated(self) -> ContentPart:
        assert isinstance(self.part, ToolCallPart)
        return attrs.evolve(self.part, arguments="".join(self.chunks))

    def cut_item(self, added: dict[str, Any]) -> dict[str, Any]:
        field = "input" if added["type"] == "custom_tool_call" else "arguments"
        return {**added, "status": "incomplete", field: "".join(self.chunks)}

    def finish(self, final: ContentPart) -> list[bytes]:
        assert isinstance(final, ToolCallPart)
        assert self.item is not None
        item_id = self.item["id"]
        rest = _rest(final.arguments, self.chunks)
        out = self._args(rest) if rest else []
        where = {"item_id": item_id, "output_index": self.output_index}
        if final.kind == "custom":
            out.append(
                self.stream.emit(
                    "response.custom_tool_call_input.done", **where, input=final.arguments
                )
            )
        else:
            out.append(
                self.stream.emit(
                    "response.function_call_arguments.done", **where, arguments=final.arguments
                )
            )
        return out + self.stream.item_done(self.output_index, self.final_item(final, item_id))


#: Item type → its status when the stream fails before it is done, where its type has no
#: ``incomplete`` (the SDK's ``ResponseOutputItem`` types).
_CUT_STATUS: Final[Mapping[Any, str]] = {
    "image_generation_call": "failed",
    "apply_patch_call": "in_progress",
    "apply_patch_call_output": "failed",
}

#: custom call? → the event its argument deltas are.
_ARGS_DELTA: Final[Mapping[bool, str]] = {
    True: "response.custom_tool_call_input.delta",
    False: "response.function_call_arguments.delta",
}


class _ReasoningWriter(_ItemWriter):
    """A thinking or redacted thinking part: a ``reasoning`` item."""

    def __init__(self, stream: ItemStream, index: int, part: ContentPart) -> None:
        super().__init__(stream, index, part)
        self.summaries: dict[int, list[str]] = {}
        self.signature: list[str] = []
        self.thinking_as_summary: bool | None = None  # decided by the first text seen
        self.summary_parts = 0
        self.reasoning_open = False
        self.ids: dict[str, Any] = {}  # item_id and output_index once added
        self.text_frame: DeltaFrame | None = None  # its reasoning_text deltas, once the first comes
        self.summary_frames: dict[int, DeltaFrame] = {}  # its summary deltas, by summary index

    def added_item(self, position: int) -> dict[str, Any]:
        part = self.part
        assert isinstance(part, ThinkingPart | RedactedThinkingPart)
        given = part.id if isinstance(part, ThinkingPart) else hints(part.extras).get("_id")
        item_id = given or self.stream.ids.make("rs_", position)
        self.ids = {"item_id": item_id, "output_index": position}
        return {"id": item_id, "type": "reasoning", "summary": []}

    def begin(self) -> list[bytes]:
        part, out = self.part, []
        if isinstance(part, ThinkingPart):
            for index, text in enumerate(part.summary):
                out += self._reasoning("summary", text, index)
            if part.text:
                out += self._reasoning("thinking", part.text, 0)
        return out

    def feed(self, delta: PartDelta) -> list[bytes]:
        if not isinstance(self.part, ThinkingPart):
            return []
        return self._reasoning(delta.field, delta.value, delta.summary_index)

    def _reasoning(self, field: str, value: str, summary_index: int) -> list[bytes]:
        if field == "signature":
            self.signature.append(value)
            return []
        if field not in ("thinking", "summary") or not value:
            return []
        if self.thinking_as_summary is None:
            self.thinking_as_summary = field == "thinking"
        if field == "summary":
            self.summaries.setdefault(summary_index, []).append(value)
            if self.thinking_as_summary:
                return []  # summary 0 already says the reasoning text; the item has the rest
            return self._summary(summary_index, value)
        self.chunks.append(value)
        if self.thinking_as_summary:
            return self._summary(0, value)
        out = []
        emit = self.stream.emit
        if not self.reasoning_open:
            self.reasoning_open = True
            out.append(
                emit(
                    "response.content_part.added",
                    **self.ids,
                    content_index=0,
                    part={"type": "reasoning_text", "text": ""},
                )
            )
        frame = self.text_frame
        if frame is None:
            fields = {**self.ids, "content_index": 0}
            frame = self.text_frame = DeltaFrame("response.reasoning_text.delta", fields, {})
        out.append(self.stream.emit_delta(frame, value))
        return out

    def _summary(self, which: int, text: str) -> list[bytes]:
        out = []
        emit = self.stream.emit
        while self.summary_parts <= which:  # summary parts open in order
            out.append(
                emit(
                    "response.reasoning_summary_part.added",
                    **self.ids,
                    summary_index=self.summary_parts,
                    part={"type": "summary_text", "text": ""},
                )
            )
            self.summary_parts += 1
        if text:
            frame = self.summary_frames.get(which)
            if frame is None:
                fields = {**self.ids, "summary_index": which}
                frame = DeltaFrame("response.reasoning_summary_text.delta", fields, {})
                self.summary_frames[which] = frame
            out.append(self.stream.emit_delta(frame, text))
        return out

    def accumulated(self) -> ContentPart:
        part = self.part
        if not isinstance(part, ThinkingPart):
            return part
        summary: list[str] = []
        for index in sorted(self.summaries):
            summary.extend([""] * (index + 1 - len(summary)))
            summary[index] += "".join(self.summaries[index])
        signature = part.signature
        if self.signature:
            signature = (signature or "") + "".join(self.signature)
        return attrs.evolve(
            part, text="".join(self.chunks), summary=tuple(summary), signature=signature
        )

    def cut_item(self, added: dict[str, Any]) -> dict[str, Any]:
        said = "".join(self.chunks)
        if self.thinking_as_summary:  # the reasoning text was said as summary 0
            summaries = {0: said}
        else:
            summaries = {index: "".join(texts) for index, texts in self.summaries.items()}
        item = {
            **added,
            "status": "incomplete",
            "summary": [
                {"type": "summary_text", "text": summaries.get(index, "")}
                for index in range(self.summary_parts)
            ],
        }
        if self.reasoning_open:
            item["content"] = [{"type": "reasoning_text", "text": said}]
        return item

    def finish(self, final: ContentPart) -> list[bytes]:
        assert self.item is not None
        item = self.final_item(final, self.item["id"])
        emit, ids = self.stream.emit, self.ids
        summaries = [str(s.get("text", "")) for s in item.get("summary", [])]
        out: list[bytes] = []
        for index in range(max(self.summary_parts, len(summaries))):
            text = summaries[index] if index < len(summaries) else ""
            if index >= self.summary_parts:
                out += self._summary(index, text)
            out.append(
                emit("response.reasoning_summary_text.done", **ids, summary_index=index, text=text)
            )
            out.append(
                emit(
                    "response.reasoning_summary_part.done",
                    **ids,
                    summary_index=index,
                    part={"type": "summary_text", "text": text},
                )
            )
        if self.reasoning_open:
            content = item.get("content") or [{"text": "".join(self.chunks)}]
            text = "".join(str(c.get("text", "")) for c in content)
            out.append(emit("response.reasoning_text.done", **ids, content_index=0, text=text))
            out.append(
                emit(
                    "response.content_part.done",
                    **ids,
                    content_index=0,
                    part={"type": "reasoning_text", "text": text},
                )
            )
        return out + self.stream.item_done(self.output_index, item)


_WRITERS: Final[Mapping[type, type[Writer]]] = {
    TextPart: _TextWriter,
    RefusalPart: _TextWriter,
    ToolCallPart: _CallWriter,
    ThinkingPart: _ReasoningWriter,
    RedactedThinkingPart: _ReasoningWriter,
}


def writer_for(part: ContentPart) -> type[Writer]:
    """The writer of ``part``: by its type; other text-like parts are lost, the rest are items."""
    found = _WRITERS.get(type(part))
    if found is not None:
        return found
    return _LostWriter if is_textlike(part) else _ItemWriter
