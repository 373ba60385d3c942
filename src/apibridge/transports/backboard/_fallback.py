"""Fallback tool mode on the answer side: tool calls parsed out of a model's text.

Theory of operation
===================

For models without native tool calling, the request's tools are described in the prompt
(:func:`~apibridge.transports.backboard._tool_prompt.inline_tools`). Their answers are plain
text; these adapters turn the calls written in that text into canonical :class:`ToolCallPart`
values with fresh ids, for a whole :class:`Response` (:func:`parse_response`) and for a stream
of events (:class:`FallbackStream`).

The stream adapter passes every event through except text: each text delta goes through a
:class:`~apibridge.transports.backboard._tool_prompt.CallScanner`, which lets prose out at once
and holds back what may be a call. When the text part stops, what was held is parsed: the rest
of the prose goes out as one more delta, and the calls are emitted as tool-call parts (new
indexes after every index the upstream used) just before the message's final ``MessageDelta``,
whose stop reason becomes ``tool_use``. Both adapters use the same scanner, so a streamed answer
accumulates to exactly the non-streamed one.
"""

from __future__ import annotations

from collections.abc import Collection

import attrs

from apibridge.codecs._context import new_id
from apibridge.model import (
    ContentPart,
    Event,
    MessageDelta,
    PartDelta,
    PartStart,
    PartStop,
    Response,
    TextPart,
    ToolCallPart,
)
from apibridge.transports.backboard._tool_prompt import CallScanner, ParsedCall, parse_tool_calls

__all__ = ["FallbackStream", "parse_response"]


def _call_part(call: ParsedCall) -> ToolCallPart:
    return ToolCallPart(id=new_id("call_"), name=call.name, arguments=call.arguments)


def parse_response(response: Response, declared: Collection[str]) -> Response:
    """``response`` with the tool calls written in its text turned into tool-call parts."""
    content: list[ContentPart] = []
    calls: list[ToolCallPart] = []
    for part in response.content:
        if not isinstance(part, TextPart):
            content.append(part)
            continue
        parsed = parse_tool_calls(part.text, declared)
        if parsed.text:
            content.append(attrs.evolve(part, text=parsed.text))
        calls.extend(_call_part(c) for c in parsed.calls)
    if not calls:
        return response
    return attrs.evolve(response, content=(*content, *calls), stop_reason="tool_use")


class FallbackStream:
    """Push-style: canonical events in, the same events with parsed tool calls out.

    Parts are re-indexed in order of opening, because a text part that turns out to hold
    nothing but calls is never opened (no empty blocks).
    """

    def __init__(self, declared: Collection[str]) -> None:
        self._declared = frozenset(declared)
        self._scanners: dict[int, CallScanner] = {}
        self._pending: dict[int, PartStart] = {}  # text parts not opened yet
        self._index: dict[int, int] = {}  # upstream index → emitted index
        self._count = 0
        self._calls: list[ToolCallPart] = []
        self._made_calls = False

    def _open(self, start: PartStart) -> PartStart:
        self._index[start.index] = self._count
        self._count += 1
        return attrs.evolve(start, index=self._index[start.index])

    def _text(self, index: int, value: str) -> list[Event]:
        out: list[Event] = []
        if not value:
            return out
        if index in self._pending:
            out.append(self._open(self._pending.pop(index)))
        out.append(PartDelta(index=self._index[index], field="text", value=value))
        return out

    def feed(self, event: Event) -> list[Event]:
        """The events ``event`` becomes."""
        if isinstance(event, PartStart):
            if isinstance(event.part, TextPart) and not event.part.text:
                self._scanners[event.index] = CallScanner(self._declared)
                self._pending[event.index] = event
                return []
            return [self._open(event)]
        if isinstance(event, PartDelta):
            if event.index in self._scanners and event.field == "text":
                return self._text(event.index, self._scanners[event.index].feed(event.value))
            if event.index in self._index:
                return [attrs.evolve(event, index=self._index[event.index])]
            return []
        if isinstance(event, PartStop):
            out: list[Event] = []
            if event.index in self._scanners:
                rest = self._scanners.pop(event.index).finish()
                self._calls.extend(_call_part(c) for c in rest.calls)
                out.extend(self._text(event.index, rest.text))
                self._pending.pop(event.index, None)
            if event.index in self._index:
                out.append(attrs.evolve(event, index=self._index[event.index]))
            return out
        if isinstance(event, MessageDelta):
            out = self._flush()
            if self._made_calls:
                event = attrs.evolve(event, stop_reason="tool_use")
            out.append(event)
            return out
        return [event]

    def _flush(self) -> list[Event]:
        out: list[Event] = []
        for index in sorted(self._scanners):
            out.extend(self.feed(PartStop(index=index)))
        for call in self._calls:
            index = self._count
            self._count += 1
            out.append(PartStart(index=index, part=attrs.evolve(call, arguments="")))
            out.append(PartDelta(index=index, field="arguments", value=call.arguments))
            out.append(PartStop(index=index))
            self._made_calls = True
        self._calls = []
        return out
