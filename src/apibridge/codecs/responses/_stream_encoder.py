"""Canonical events → Responses SSE bytes: the push-style stream encoder (the driver).

Theory of operation
-------------------
Every frame is ``event: <type>`` + ``data: {"type": <type>, "sequence_number": n, …}`` with
``n`` counting from 0 by 1. :class:`MessageStart` writes ``response.created`` and
``response.in_progress`` (an event before it starts the stream with a fresh id). Items are then
written one at a time, in order of opening: the events go through a
:class:`~apibridge.codecs._sequencer.PartSequencer`, which holds the parts that are not current
(interleaved parallel tool calls) until their turn and, at :class:`MessageStop`, ends the parts
never stopped, so the encoder sees one part at a time and hands it to its writer
(:mod:`~apibridge.codecs.responses._item_writers`: one writer per part kind). A part becomes
an item the way :func:`~apibridge.codecs.responses._items.encode_parts` makes it for a
non-streamed answer, and an item's id, decided at ``output_item.added``, is the id of its
``.done`` and of the terminal event's ``output``; ids that the events do not give are derived
from the response id and the item's position, as for a non-streamed answer, so both encodings
agree.

:class:`MessageDelta` is held until :class:`MessageStop`, which writes the one terminal event
(``completed``, ``incomplete`` or ``failed`` by the stop reason). A :class:`StreamError`, or
``close()`` before :class:`MessageStop`, writes ``response.failed`` instead: exactly one
terminal event, always. What the upstream never finished is not said finished: the item being
written and the open message item get no ``.done`` event (a client that runs a tool call at
``output_item.done`` would run one cut off mid-arguments), and the failed response's ``output``
has them as far as their deltas got, with status ``incomplete``; parts still held are dropped.
Items left open before ``response.failed`` are what the API's own mid-stream failures look like,
and what the openai SDK's stream helper takes (it finalises only ``response.completed``). A
failure is said with the few codes the SDK allows (``_openai_errors.encode_failed``). Responses
has no ping event: a :class:`Ping` is an SSE comment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from apibridge._sse import encode_comment
from apibridge.codecs._context import Context, new_id
from apibridge.codecs._openai_twins import tier_from_anthropic
from apibridge.codecs._sequencer import PartSequencer
from apibridge.codecs._tool_usage import tool_usage_of
from apibridge.codecs.responses._errors import encode_failed
from apibridge.codecs.responses._item_stream import ItemStream
from apibridge.codecs.responses._item_writers import Writer
from apibridge.codecs.responses._items import ItemIds
from apibridge.codecs.responses._response import report_stop, response_object
from apibridge.codecs.responses._search_writer import part_writer
from apibridge.codecs.responses._wire import encode_usage, lose_foreign, status_for_stop
from apibridge.errors import ApiError
from apibridge.model import (
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    Ping,
    StreamError,
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
        self._stream = ItemStream(ctx)
        self._started = False
        self._finished = False
        self._id = ""
        self._model = ""
        self._created: int | float = 0
        self._sequencer = PartSequencer()
        self._current: Writer | None = None  # the part being written
        self._stop: str | None = None
        self._stop_sequence: str | None = None
        self._usage: Usage | None = None
        self._extras: dict[str, Mapping[str, Any]] = {}

    def feed(self, event: Event) -> list[bytes]:
        """Bytes for one canonical event (nothing once the stream has ended)."""
        if self._finished:
            return []
        writer = self._current
        if type(event) is PartDelta and writer is not None and event.index == writer.index:
            # The hot path: a delta of the part being written. The sequencer would pass it
            # on unchanged (the part being written is its current part) and remember nothing.
            return writer.feed(event)
        if isinstance(event, Ping):  # no ping event in Responses: a comment keeps it alive
            return [encode_comment("ping")]
        out: list[bytes] = []
        if not self._started:
            if isinstance(event, MessageStart):
                return self._start(event)
            out += self._start(None)
        for sequential in self._sequencer.feed(event):
            handler = _ENCODE.get(type(sequential))
            if handler is not None and not self._finished:
                out += handler(self, sequential)
        return out

    def close(self) -> list[bytes]:
        """End of input: an unfinished stream ends with ``response.failed``, exactly once."""
        if self._finished:
            return []
        out = [] if self._started else self._start(None)
        return out + self._fail(ApiError.of("api_error", _EARLY_END))

    # ------------------------------------------------------------------ message

    def _response(self, *, stop: str | None, in_progress: bool = False) -> dict[str, Any]:
        plain, tier = tier_from_anthropic(self._usage)
        tool_usage = None
        if plain is not None and not in_progress:
            rest, tool_usage = tool_usage_of(plain.extras, self._ctx, "usage")
            if tool_usage is not None:
                plain = attrs.evolve(plain, extras=rest)
        usage = None if in_progress else encode_usage(plain, self._ctx, "usage")
        body = response_object(
            response_id=self._id,
            model=self._model,
            created=self._created,
            stop=stop,
            extras={} if in_progress else self._extras,
            output=[] if in_progress else list(self._stream.output),
            usage=usage,
            ctx=self._ctx,
            in_progress=in_progress,
        )
        if tier is not None:  # an Anthropic answer's usage.service_tier
            body["service_tier"] = tier
        if tool_usage is not None:  # an Anthropic answer's usage.server_tool_use
            body.setdefault("tool_usage", tool_usage)
        return body

    def _start(self, event: MessageStart | None) -> list[bytes]:
        self._started = True
        request = self._ctx.request
        self._id = event.id if event is not None else new_id("resp_")
        self._model = event.model if event is not None else (request.model if request else "")
        created = event.created if event is not None else None
        self._created = created if created is not None else int(time.time())
        self._stream.ids = ItemIds(self._id)
        if event is not None:
            self._usage = event.usage
            self._extras.update(event.extras)
        body = self._response(stop=None, in_progress=True)
        emit = self._stream.emit
        return [
            emit("response.created", response=body),
            emit("response.in_progress", response=body),
        ]

    def _message_delta(self, event: MessageDelta) -> list[bytes]:
        self._stop = event.stop_reason or self._stop
        self._stop_sequence = event.stop_sequence or self._stop_sequence
        self._usage = event.usage if self._usage is None else self._usage.merged(event.usage)
        self._extras.update(event.extras)
        return []

    def _message_stop(self, event: MessageStop) -> list[bytes]:
        """The one terminal event (the sequencer ended every part just before)."""
        out = self._stream.close_message()
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
        return [*out, self._stream.emit(kind, response=body)]

    def _error(self, event: StreamError) -> list[bytes]:
        return self._fail(event.error)

    def _fail(self, error: ApiError) -> list[bytes]:
        """End with ``response.failed``, the items still open left open (``incomplete`` in its
        ``output``)."""
        writer, self._current = self._current, None
        if writer is not None:
            writer.cut()
        self._stream.cut_message()
        body = self._response(stop="error")
        body["status"] = "failed"
        body["incomplete_details"] = None
        body["error"] = encode_failed(error)
        self._finished = True
        return [self._stream.emit("response.failed", response=body)]

    # -------------------------------------------------------------------- parts

    # The sequencer passes parts on one at a time: a start comes while no part is current,
    # deltas and the stop are those of the current part.

    def _part_start(self, event: PartStart) -> list[bytes]:
        self._current = part_writer(event.part)(self._stream, event.index, event.part)
        return self._current.start()

    def _part_delta(self, event: PartDelta) -> list[bytes]:
        return self._current.feed(event) if self._current is not None else []

    def _part_stop(self, event: PartStop) -> list[bytes]:
        writer, self._current = self._current, None
        return writer.stop(event.part) if writer is not None else []


#: Event type → handler (``MessageStart`` after the start, and ``Ping``, never get here).
_ENCODE: Final[Mapping[type, Callable[[StreamEncoder, Any], list[bytes]]]] = {
    PartStart: StreamEncoder._part_start,
    PartDelta: StreamEncoder._part_delta,
    PartStop: StreamEncoder._part_stop,
    MessageDelta: StreamEncoder._message_delta,
    MessageStop: StreamEncoder._message_stop,
    StreamError: StreamEncoder._error,
}
