"""Responses SSE streams → canonical events: the push-style stream decoder.

Theory of operation
-------------------
A Responses stream is typed events, each with a ``sequence_number`` counting from 0:
``response.created`` → ``response.in_progress`` → for each output item
``response.output_item.added`` → its sub-events → ``response.output_item.done`` (the complete
item) → exactly one terminal event, ``response.completed`` / ``response.incomplete`` /
``response.failed``, whose ``response.output`` repeats the items with the same ids. Sub-events:
message content parts (``content_part.added`` → ``output_text.delta``* /
``output_text.annotation.added`` / ``refusal.delta``* → ``…done`` → ``content_part.done``),
function call arguments and custom tool input (``….delta``* → ``….done``), reasoning summary
parts (``reasoning_summary_part.added`` → ``reasoning_summary_text.delta``* → ``….done`` →
``reasoning_summary_part.done``) and raw reasoning text (``reasoning_text.delta``/``.done``).

Each message content part and each other item is one canonical part, numbered
in order of opening. Deltas become :class:`PartDelta`; a ``….done`` whose text extends what
the deltas said (a server that sends few or no deltas) yields the rest as one more delta;
``output_item.done`` gives :class:`PartStop` with the finished part, decoded exactly as
:func:`~apibridge.codecs.responses.decode_response` decodes it, so the accumulated stream
equals the decoded answer. The terminal event gives :class:`MessageDelta` (stop reason,
usage, the response's extras) and :class:`MessageStop`; ``response.failed`` and ``error``
events give :class:`StreamError`. Unknown events are ignored, frames without ``event:`` lines
are read by their ``type``, ``[DONE]`` is ignored, and a stream that ends without a terminal
event yields a ``StreamError``. Bad input inside well-formed JSON yields a ``StreamError``,
never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from apibridge._json import loads
from apibridge._sse import SSEFrame
from apibridge.codecs._context import Context, expect_obj, int_or_none, new_id, str_or_none
from apibridge.codecs.responses._errors import failed_error
from apibridge.codecs.responses._items import (
    decode_item,
    decode_message,
    is_message,
    with_hints,
)
from apibridge.codecs.responses._response import response_hints
from apibridge.codecs.responses._wire import (
    FORMAT,
    decode_annotation,
    decode_usage,
    pack,
    part_hints,
    stop_for_status,
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
)

__all__ = ["StreamDecoder"]

_EARLY_END = "the stream ended before its terminal event (response.completed) arrived"


def _str(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    return value if isinstance(value, str) else ""


# --------------------------------------------------------------------------- decoding


class _Slot:
    """A canonical part being decoded: its index and what its deltas said so far."""

    __slots__ = ("chunks", "index", "part", "stopped", "summaries")

    def __init__(self, index: int, part: ContentPart) -> None:
        self.index = index
        self.part = part
        self.chunks: list[str] = []
        self.summaries: dict[int, list[str]] = {}
        self.stopped = False


class StreamDecoder:
    """Responses SSE frames in, canonical events out (``feed``/``close``)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._audio_lost = False
        self._started = False
        self._done = False
        self._next = 0
        self._slots: dict[tuple[int, int], _Slot] = {}
        self._per_item: dict[int, list[_Slot]] = {}  # output index → its slots
        self._items: dict[int, Mapping[str, Any]] = {}
        self._by_id: dict[str, int] = {}

    def feed(self, frame: SSEFrame) -> list[Event]:
        """Events for one frame; a frame that is not JSON ends the stream with an error."""
        if self._done:
            return []
        data = frame.data.strip()
        if not data or data == "[DONE]":
            return []
        try:
            event = loads(data)
        except InvalidPayload:
            return self._fail(ApiError.of("api_error", "the stream sent a frame that is not JSON"))
        if type(event) is not dict:  # what loads gives for an object (no ABC check per event)
            return []
        kind = event.get("type")
        if type(kind) is not str:
            kind = frame.event or ""
        text = _PLAIN_DELTAS.get(kind)
        if text is not None and self._started:
            plain = self._plain_delta(event, text)
            if plain is not None:
                return plain
        handler = _DECODE.get(kind)
        if handler is None:
            if kind.startswith("response.audio") and not self._audio_lost:
                self._audio_lost = True  # spoken output: no canonical part holds it
                self._ctx.lose("response.audio", "streamed audio output has no equivalent")
            return []
        out: list[Event] = []
        try:
            if not self._started and kind != "error":
                out = self._start(event.get("response"))
            return out + handler(self, event)
        except InvalidPayload as exc:  # bad values inside good JSON: a defined error
            return out + self._fail(exc.error)

    def close(self) -> list[Event]:
        """End of input: a stream without its terminal event ends with a ``StreamError``."""
        if self._done:
            return []
        self._done = True
        return [StreamError(error=ApiError.of("api_error", _EARLY_END, source_format=FORMAT))]

    def _plain_delta(self, event: dict[str, Any], text: bool) -> list[Event] | None:
        """The hot path: a text (``text``) or arguments delta of an opened part, with an
        integer ``output_index``, decoded as its handler decodes it with no helper calls;
        ``None`` leaves anything else to the handler."""
        index = event.get("output_index")
        if type(index) is not int:
            return None
        value = event.get("delta")
        if text:
            content = event.get("content_index")
            slot = self._slots.get((index, content if type(content) is int else 0))
            if slot is None:
                return None  # the handler opens it
            if event.get("logprobs"):
                return None  # the handler carries them
            if type(value) is not str or not value:
                return []
            slot.chunks.append(value)
            return [PartDelta(index=slot.index, field="text", value=value)]
        slot = self._slots.get((index, -1))
        if slot is None or type(value) is not str or not value:
            return []
        slot.chunks.append(value)
        return [PartDelta(index=slot.index, field="arguments", value=value)]

    # ---------------------------------------------------------------- helpers

    def _fail(self, error: ApiError) -> list[Event]:
        self._done = True
        return [StreamError(error=error)]

    def _start(self, response: Any) -> list[Event]:
        self._started = True
        obj = response if isinstance(response, Mapping) else {}
        request = self._ctx.request
        created = obj.get("created_at")
        model = str_or_none(obj.get("model"))
        tier = obj.get("service_tier")  # for a Chat client, whose every chunk says it
        return [
            MessageStart(
                id=_str(obj, "id") or new_id("resp_"),
                model=model if model is not None else (request.model if request else ""),
                usage=decode_usage(obj.get("usage"), "response.usage"),
                created=int(created) if isinstance(created, (int, float)) else None,
                extras=pack({"_echo": {"service_tier": tier}}) if tier is not None else {},
            )
        ]

    def _output_index(self, event: Mapping[str, Any]) -> int | None:
        index = int_or_none(event.get("output_index"))
        if index is None:
            index = self._by_id.get(_str(event, "item_id"))
        return index

    def _open(self, key: tuple[int, int], part: ContentPart) -> list[Event]:
        self._slots[key] = _Slot(index=self._next, part=part)
        self._per_item.setdefault(key[0], []).append(self._slots[key])
        self._next += 1
        return [PartStart(index=self._slots[key].index, part=part)]

    def _text_slot(
        self, event: Mapping[str, Any], refusal: bool
    ) -> tuple[_Slot | None, list[Event]]:
        """The slot of a message content part, opened on first sight if need be."""
        index = self._output_index(event)
        if index is None:
            return None, []
        key = (index, int_or_none(event.get("content_index")) or 0)
        if key in self._slots:
            return self._slots[key], []
        part: ContentPart = RefusalPart(text="") if refusal else TextPart(text="")
        opened = self._open(key, part)
        return self._slots[key], opened

    def _delta(self, slot: _Slot, field: Any, value: str, summary: int = 0) -> list[Event]:
        if not value:
            return []
        chunks = slot.summaries.setdefault(summary, []) if field == "summary" else slot.chunks
        chunks.append(value)
        return [PartDelta(index=slot.index, field=field, value=value, summary_index=summary)]

    def _rest(self, slot: _Slot, field: Any, final: Any, summary: int = 0) -> list[Event]:
        """What a ``….done`` says beyond the deltas, as one more delta."""
        if not isinstance(final, str):
            return []
        chunks = slot.summaries.get(summary, []) if field == "summary" else slot.chunks
        said = "".join(chunks)
        if len(final) > len(said) and final.startswith(said):
            return self._delta(slot, field, final[len(said) :], summary)
        return []

    def _item_slot(self, event: Mapping[str, Any]) -> _Slot | None:
        index = self._output_index(event)
        return None if index is None else self._slots.get((index, -1))

    # ---------------------------------------------------------------- events

    def _on_created(self, event: Mapping[str, Any]) -> list[Event]:
        return []  # _start already ran for the first lifecycle event; later ones add nothing

    def _on_item_added(self, event: Mapping[str, Any]) -> list[Event]:
        item = expect_obj(event.get("item"), "response.output_item.added.item")
        index = int_or_none(event.get("output_index"))
        index = len(self._items) if index is None else index
        self._items[index] = item
        if isinstance(item.get("id"), str):
            self._by_id[item["id"]] = index
        if is_message(item) or (index, -1) in self._slots:
            return []
        kind = item.get("type")
        part: ContentPart
        if kind in ("function_call", "custom_tool_call"):
            custom = kind == "custom_tool_call"
            part = ToolCallPart(
                id=_str(item, "call_id") or new_id("call_"),
                name=_str(item, "name"),
                arguments="",
                kind="custom" if custom else "function",
                item_id=str_or_none(item.get("id")),
                namespace=str_or_none(item.get("namespace")),
            )
            out = self._open((index, -1), part)
            return out + self._delta(
                self._slots[(index, -1)],
                "arguments",
                _str(item, "input" if custom else "arguments"),
            )
        if kind == "reasoning":
            part = ThinkingPart(id=str_or_none(item.get("id")))
        else:
            part = decode_item(item, "response.output_item.added.item")
        return self._open((index, -1), part)

    def _on_part_added(self, event: Mapping[str, Any]) -> list[Event]:
        index = self._output_index(event)
        part = event.get("part")
        if index is None or not isinstance(part, Mapping) or part.get("type") == "reasoning_text":
            return []
        if not is_message(self._items.get(index, {"type": "message"})):
            return []
        refusal = part.get("type") == "refusal"
        slot, out = self._text_slot(event, refusal)
        if slot is not None and out and int_or_none(event.get("content_index")) in (0, None):
            item_id = self._items.get(index, {}).get("id")
            if isinstance(item_id, str):  # lets an encoder of this format keep the id
                start = with_hints(slot.part, _item={"id": item_id})
                out = [PartStart(index=slot.index, part=start)]
        if slot is not None:
            out += self._rest(slot, "text", part.get("refusal" if refusal else "text"))
        return out

    def _on_text_delta(self, event: Mapping[str, Any]) -> list[Event]:
        slot, out = self._text_slot(event, refusal=False)
        if slot is None:
            return out
        deltas = self._delta(slot, "text", _str(event, "delta"))
        scores = event.get("logprobs")
        if deltas and isinstance(scores, list) and scores:
            # the tokens' log probabilities, for a Chat client (``PartDelta.logprobs``)
            logprobs = tuple(s for s in scores if isinstance(s, Mapping))
            value = _str(event, "delta")
            return [*out, PartDelta(index=slot.index, field="text", value=value, logprobs=logprobs)]
        return out + deltas

    def _on_text_done(self, event: Mapping[str, Any]) -> list[Event]:
        slot, out = self._text_slot(event, refusal=False)
        return out if slot is None else out + self._rest(slot, "text", event.get("text"))

    def _on_refusal_delta(self, event: Mapping[str, Any]) -> list[Event]:
        slot, out = self._text_slot(event, refusal=True)
        return out if slot is None else out + self._delta(slot, "text", _str(event, "delta"))

    def _on_refusal_done(self, event: Mapping[str, Any]) -> list[Event]:
        slot, out = self._text_slot(event, refusal=True)
        return out if slot is None else out + self._rest(slot, "text", event.get("refusal"))

    def _on_annotation(self, event: Mapping[str, Any]) -> list[Event]:
        if event.get("annotation") is None:
            return []
        slot, out = self._text_slot(event, refusal=False)
        if slot is None:
            return out
        cite = decode_annotation(event["annotation"], "response.output_text.annotation")
        return [*out, PartDelta(index=slot.index, field="citation", citation=cite)]

    def _on_args_delta(self, event: Mapping[str, Any]) -> list[Event]:
        slot = self._item_slot(event)
        return [] if slot is None else self._delta(slot, "arguments", _str(event, "delta"))

    def _on_args_done(self, event: Mapping[str, Any]) -> list[Event]:
        slot = self._item_slot(event)
        final = event.get("arguments", event.get("input"))
        return [] if slot is None else self._rest(slot, "arguments", final)

    def _on_summary_delta(self, event: Mapping[str, Any]) -> list[Event]:
        slot = self._item_slot(event)
        which = int_or_none(event.get("summary_index")) or 0
        return [] if slot is None else self._delta(slot, "summary", _str(event, "delta"), which)

    def _on_summary_done(self, event: Mapping[str, Any]) -> list[Event]:
        slot = self._item_slot(event)
        which = int_or_none(event.get("summary_index")) or 0
        return [] if slot is None else self._rest(slot, "summary", event.get("text"), which)

    def _on_reasoning_delta(self, event: Mapping[str, Any]) -> list[Event]:
        slot = self._item_slot(event)
        return [] if slot is None else self._delta(slot, "thinking", _str(event, "delta"))

    def _on_reasoning_done(self, event: Mapping[str, Any]) -> list[Event]:
        slot = self._item_slot(event)
        return [] if slot is None else self._rest(slot, "thinking", event.get("text"))

    def _on_item_done(self, event: Mapping[str, Any]) -> list[Event]:
        item = expect_obj(event.get("item"), "response.output_item.done.item")
        index = int_or_none(event.get("output_index"))
        if index is None:
            found = self._by_id.get(_str(item, "id"))
            index = found if found is not None else len(self._items)
        self._items.setdefault(index, item)
        return self._finish_item(index, item)

    def _finish_item(self, index: int, item: Mapping[str, Any]) -> list[Event]:
        """Stop every part of output item ``index`` with its final value."""
        where = f"output[{index}]"
        out: list[Event] = []
        if is_message(item):
            parts = decode_message(item, str(item.get("role", "assistant")), where)
            marker = part_hints(parts[0]).get("_empty") is True
            keys = [(index, -2)] if marker else []
            keys += [(index, n) for n in range(len(parts) - len(keys))]
        else:
            parts, keys = [decode_item(item, where)], [(index, -1)]
        for key, part in zip(keys, parts, strict=True):
            if key not in self._slots:
                out += self._open(key, part)
            slot = self._slots[key]
            if not slot.stopped:
                slot.stopped, slot.part = True, part
                out.append(PartStop(index=slot.index, part=part))
        for slot in self._per_item.get(index, ()):  # parts the final item no longer holds
            if not slot.stopped:
                slot.stopped = True
                out.append(PartStop(index=slot.index))
        return out

    def _on_terminal(self, event: Mapping[str, Any]) -> list[Event]:
        response = expect_obj(event.get("response"), f"{event.get('type')}.response")
        output = response.get("output")
        out: list[Event] = []
        if isinstance(output, list):
            # Items the stream never finished (or never streamed at all) end as the final
            # output says; a server may send nothing but the terminal event.
            for index, item in enumerate(output):
                here = self._per_item.get(index, [])
                if isinstance(item, Mapping) and (not here or not all(s.stopped for s in here)):
                    out += self._finish_item(index, item)
        for slot in self._slots.values():
            if not slot.stopped:
                slot.stopped = True
                out.append(PartStop(index=slot.index))
        self._done = True
        if event.get("type") == "response.failed":
            return [*out, StreamError(error=failed_error(response.get("error")))]
        parts = [s.part for s in sorted(self._slots.values(), key=lambda s: s.index)]
        stop = stop_for_status(response.get("status"), response.get("incomplete_details"), parts)
        extra = response_hints(response, stop)
        return [
            *out,
            MessageDelta(
                stop_reason=stop,
                usage=decode_usage(response.get("usage"), "response.usage"),
                extras=pack(extra),
            ),
            MessageStop(),
        ]

    def _on_error(self, event: Mapping[str, Any]) -> list[Event]:
        return self._fail(failed_error(event))


#: delta events of the hot path (``StreamDecoder._plain_delta``) → is it message text?
_PLAIN_DELTAS: Final[Mapping[str, bool]] = {
    "response.output_text.delta": True,
    "response.function_call_arguments.delta": False,
    "response.custom_tool_call_input.delta": False,
}

_DECODE: Mapping[str, Callable[[StreamDecoder, Mapping[str, Any]], list[Event]]] = {
    "response.created": StreamDecoder._on_created,
    "response.in_progress": StreamDecoder._on_created,
    "response.queued": StreamDecoder._on_created,
    "response.output_item.added": StreamDecoder._on_item_added,
    "response.content_part.added": StreamDecoder._on_part_added,
    "response.content_part.done": StreamDecoder._on_part_added,
    "response.output_text.delta": StreamDecoder._on_text_delta,
    "response.output_text.done": StreamDecoder._on_text_done,
    "response.output_text.annotation.added": StreamDecoder._on_annotation,
    "response.refusal.delta": StreamDecoder._on_refusal_delta,
    "response.refusal.done": StreamDecoder._on_refusal_done,
    "response.function_call_arguments.delta": StreamDecoder._on_args_delta,
    "response.function_call_arguments.done": StreamDecoder._on_args_done,
    "response.custom_tool_call_input.delta": StreamDecoder._on_args_delta,
    "response.custom_tool_call_input.done": StreamDecoder._on_args_done,
    "response.reasoning_summary_text.delta": StreamDecoder._on_summary_delta,
    "response.reasoning_summary_text.done": StreamDecoder._on_summary_done,
    "response.reasoning_text.delta": StreamDecoder._on_reasoning_delta,
    "response.reasoning_text.done": StreamDecoder._on_reasoning_done,
    "response.output_item.done": StreamDecoder._on_item_done,
    "response.completed": StreamDecoder._on_terminal,
    "response.incomplete": StreamDecoder._on_terminal,
    "response.failed": StreamDecoder._on_terminal,
    "error": StreamDecoder._on_error,
}
"""Event type → handler. ``content_part.done`` is handled as ``added`` (both open a part
that was not seen yet; the final value comes with ``output_item.done``)."""
