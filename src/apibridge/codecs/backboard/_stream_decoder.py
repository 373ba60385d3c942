"""The backboard stream decoder: ``type``-tagged SSE events → canonical events.

Theory of operation
===================

``content_streaming`` → text deltas; ``reasoning_streaming`` → thinking deltas
(``reasoning_ended`` closes the thinking part); ``tool_call_ready`` and
``tool_submit_required`` → whole tool calls (backboard streams no argument deltas; a call seen
in both is emitted once); ``run_ended``/``message_complete`` → the end of a run;
``run_failed``, ``run_cancelled``, ``error`` and a ``run_ended`` whose status is neither
completed nor requires-action → ``StreamError``. Statuses compare case-insensitively.
``user_message`` echoes and ``tool_call_start`` notices carry nothing to translate; an event
type this version does not know is reported once as a loss and ignored.

Quirks handled on purpose:

* some servers send the *cumulative* text in ``content``; the decoder detects it (the second
  chunk starts with all the text so far and is longer) and emits only the new suffix, and it
  prefers ``accumulated_content``/``accumulated_reasoning`` when present;
* the final ``content``/``final_content`` of ``run_ended`` fills in text that never streamed;
* ``run_ended`` may repeat (same run: later usage wins) or belong to a run that resumed in the
  same stream (distinct runs: usage is summed), so a ``run_ended`` does not end the message:
  :meth:`StreamDecoder.close` does, once the transport saw the stream end;
* ``tool_submit_required`` ends the message at once (``tool_use``): the run pauses until the
  client's tool outputs come back in another request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from apibridge._json import loads
from apibridge._sse import SSEFrame
from apibridge.codecs._context import Context, expect_list, expect_str, new_id, opt_str
from apibridge.codecs._custom_tools import custom_tool_names
from apibridge.codecs.backboard._errors import error_from_message, error_message
from apibridge.codecs.backboard._wire import (
    FORMAT,
    RUNNING_STATUSES,
    STATUS_STOP,
    add_usage,
    decode_tool_call,
    usage_from,
)
from apibridge.errors import ApiError, InvalidPayload
from apibridge.model import (
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)

__all__ = ["StreamDecoder"]


class _Growing:
    """Text that may arrive as deltas or as cumulative snapshots (the backboard quirk)."""

    __slots__ = ("mode", "seen")

    def __init__(self) -> None:
        self.seen = ""
        self.mode: Literal["unknown", "delta", "cumulative"] = "unknown"

    def delta(self, content: str, accumulated: Any) -> str:
        if isinstance(accumulated, str):
            # The server says what the whole text is: trust it over ``content``.
            self.mode = "delta"
            if accumulated.startswith(self.seen):
                new = accumulated[len(self.seen) :]
                self.seen = accumulated
                return new
        if self.mode == "unknown" and self.seen:
            grows = content.startswith(self.seen) and len(content) > len(self.seen)
            self.mode = "cumulative" if grows else "delta"
        if self.mode == "cumulative":
            if content.startswith(self.seen):
                new = content[len(self.seen) :]
                self.seen = content
                return new
            # A snapshot that does not extend the text: the server restarted it.
            self.seen += content
            return content
        self.seen += content
        return content

    def rest_of(self, final: Any) -> str:
        """The part of a run's final text that never streamed ('' when none or unrelated)."""
        if isinstance(final, str) and final.startswith(self.seen):
            return final[len(self.seen) :]
        return ""


#: Event types that carry nothing to translate.
_IGNORED_TYPES: frozenset[str] = frozenset(
    {"user_message", "tool_call_start", "run_started", "message_start", "ping", "keepalive"}
)
_END_TYPES: frozenset[str] = frozenset({"run_ended", "message_complete"})
_FAIL_TYPES: frozenset[str] = frozenset({"run_failed", "error"})


class StreamDecoder:
    """backboard SSE frames → canonical events (push-style: ``feed(frame)``, ``close()``).

    Attributes the transport reads: :attr:`thread_id`, :attr:`run_id` (the run that paused
    for tool outputs, or the last run seen), :attr:`tool_calls` (the calls awaiting outputs),
    :attr:`ended` (a run ended; more may follow until the stream closes), :attr:`done` (the
    message is over: stop reading) and :attr:`produced_content` (a part was emitted, so a
    retry is no longer possible).
    """

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._custom = custom_tool_names(ctx)
        self._started = False
        self._next_index = 0
        self._open: tuple[int, str] | None = None  # (index, "text" | "thinking")
        self._text = _Growing()
        self._reasoning = _Growing()
        self._emitted_calls: set[str] = set()
        self._run_usage: dict[str, Usage | None] = {}
        self._ended_runs: set[str] = set()
        self._activity_since_end = False
        self._last_end = ""
        self._stop_reason: str | None = None
        self._unknown_types: set[str] = set()
        self.thread_id: str | None = None
        self.run_id: str | None = None
        self.message_id: str | None = None
        self.tool_calls: list[ToolCallPart] = []
        self.ended = False
        self.done = False
        self.produced_content = False

    # -- helpers

    def _start(self, data: Mapping[str, Any]) -> list[Event]:
        if self._started:
            return []
        self._started = True
        message_id = data.get("message_id")
        self.message_id = message_id if isinstance(message_id, str) else new_id("msg_")
        model = self._ctx.request.model if self._ctx.request is not None else ""
        return [MessageStart(id=self.message_id, model=model)]

    def _close_open(self) -> list[Event]:
        if self._open is None:
            return []
        index = self._open[0]
        self._open = None
        return [PartStop(index=index)]

    def _open_part(self, kind: str) -> tuple[int, list[Event]]:
        if self._open is not None and self._open[1] == kind:
            return self._open[0], []
        events = self._close_open()
        index = self._next_index
        self._next_index += 1
        self._open = (index, kind)
        part = TextPart(text="") if kind == "text" else ThinkingPart(text="")
        events.append(PartStart(index=index, part=part))
        self.produced_content = True
        return index, events

    def _text_delta(self, value: str) -> list[Event]:
        if not value:
            return []
        index, events = self._open_part("text")
        events.append(PartDelta(index=index, field="text", value=value))
        return events

    def _thinking_delta(self, value: str) -> list[Event]:
        if not value:
            return []
        index, events = self._open_part("thinking")
        events.append(PartDelta(index=index, field="thinking", value=value))
        return events

    def _calls(self, raw_calls: Any, where: str) -> list[Event]:
        events = self._close_open()
        for i, raw in enumerate(expect_list(raw_calls, where)):
            call = decode_tool_call(raw, f"{where}[{i}]", self._custom)
            if call.id in self._emitted_calls:
                continue
            self._emitted_calls.add(call.id)
            self.tool_calls.append(call)
            index = self._next_index
            self._next_index += 1
            events.append(PartStart(index=index, part=attrs.evolve(call, arguments="")))
            if call.arguments:
                events.append(PartDelta(index=index, field="arguments", value=call.arguments))
            events.append(PartStop(index=index))
            self.produced_content = True
        return events

    def _usage_total(self) -> Usage | None:
        total: Usage | None = None
        for usage in self._run_usage.values():
            total = add_usage(total, usage)
        return total

    def _note_usage(self, data: Mapping[str, Any], run: str) -> None:
        usage = usage_from(data, "event")
        if usage is not None:
            # The same run reported twice: the later numbers win, field by field.
            earlier = self._run_usage.get(run)
            self._run_usage[run] = usage if earlier is None else earlier.merged(usage)

    def _finish(self) -> list[Event]:
        events = self._close_open()
        stop = self._stop_reason or "end_turn"
        if self.tool_calls:
            stop = "tool_use"
        events.append(MessageDelta(stop_reason=stop, usage=self._usage_total()))
        events.append(MessageStop())
        self.done = True
        return events

    def _fail(self, error: ApiError) -> list[Event]:
        self.done = True
        return [StreamError(error=error)]

    # -- the push interface

    def begin(self) -> list[Event]:
        """Start the message now (``MessageStart``) if no frame has yet: the transport needs a
        started message before it can send a keep-alive."""
        return self._start({})

    def feed(self, frame: SSEFrame) -> list[Event]:
        """The canonical events one backboard SSE frame completes."""
        if self.done or not frame.data.strip() or frame.data.strip() == "[DONE]":
            return []
        try:
            data = loads(frame.data)
        except InvalidPayload:
            return self._fail(
                ApiError.of(
                    "bad_gateway",
                    f"backboard sent an event that is not JSON: {frame.data[:200]!r}",
                    source_format=FORMAT,
                )
            )
        if not isinstance(data, Mapping):
            return self._fail(
                ApiError.of(
                    "bad_gateway",
                    "backboard sent an event that is not a JSON object",
                    source_format=FORMAT,
                )
            )
        try:
            return self._dispatch(data)
        except InvalidPayload as exc:
            return self._fail(ApiError.of("bad_gateway", str(exc), source_format=FORMAT))

    def _dispatch(self, data: Mapping[str, Any]) -> list[Event]:
        kind = data.get("type")
        kind = kind if isinstance(kind, str) else (frame_event_type(data) or "")
        if isinstance(data.get("thread_id"), str):
            self.thread_id = data["thread_id"]
        if isinstance(data.get("run_id"), str):
            self.run_id = data["run_id"]
        if kind in _IGNORED_TYPES:
            return []
        if kind in _FAIL_TYPES:
            message = error_message(data) or "the backboard run failed"
            return self._fail(error_from_message(message, None))
        if kind == "run_cancelled":
            return self._fail(
                ApiError.of("api_error", "the backboard run was cancelled", source_format=FORMAT)
            )
        if kind == "reasoning_ended":
            if self._open is not None and self._open[1] == "thinking":
                return self._close_open()
            return []
        handler = _HANDLERS.get(kind)
        if handler is None:
            if kind not in self._unknown_types:
                self._unknown_types.add(kind)
                self._ctx.lose(
                    f"stream.{kind or '?'}", "backboard event type not translated", "ignored"
                )
            return []
        events = self._start(data)
        events.extend(handler(self, data))
        return events

    def _on_content(self, data: Mapping[str, Any]) -> list[Event]:
        self._mark_activity()
        content = opt_str(data.get("content"), "content_streaming.content") or ""
        return self._text_delta(self._text.delta(content, data.get("accumulated_content")))

    def _on_reasoning(self, data: Mapping[str, Any]) -> list[Event]:
        self._mark_activity()
        content = data.get("content")
        if content is None:
            content = data.get("reasoning") or ""
        content = expect_str(content, "reasoning_streaming.content")
        return self._thinking_delta(
            self._reasoning.delta(content, data.get("accumulated_reasoning"))
        )

    def _on_tool_ready(self, data: Mapping[str, Any]) -> list[Event]:
        self._mark_activity()
        return self._calls([data.get("tool_call")], "tool_call_ready.tool_call")

    def _on_submit_required(self, data: Mapping[str, Any]) -> list[Event]:
        events = self._calls(data.get("tool_calls") or [], "tool_submit_required.tool_calls")
        self._note_usage(data, self.run_id or "")
        if not self.tool_calls:
            raise InvalidPayload("tool_submit_required: no tool calls")
        events.extend(self._finish())
        return events

    def _on_end(self, data: Mapping[str, Any]) -> list[Event]:
        run = data.get("run_id") if isinstance(data.get("run_id"), str) else None
        if run is not None:
            repeat = run in self._ended_runs
            key = run
        else:
            # No run id: an end with nothing in between repeats the previous one.
            repeat = self.ended and not self._activity_since_end
            key = self._last_end if repeat else f"#{len(self._ended_runs)}"
        raw_status = data.get("status") or "completed"
        status = raw_status.lower() if isinstance(raw_status, str) else "?"
        if status in RUNNING_STATUSES:
            return []
        if status not in STATUS_STOP:
            message = error_message(data) or f"the backboard run ended with status {raw_status}"
            return self._fail(error_from_message(message, None))
        self._note_usage(data, key)
        if repeat:
            return []
        final = data.get("final_content")
        if not isinstance(final, str):
            final = data.get("content")
        events = self._text_delta(self._text.rest_of(final))
        if status == "requires_action":
            # The calls come (or came) in tool_submit_required; end once they are known.
            if self.tool_calls:
                events.extend(self._finish())
            return events
        self._ended_runs.add(key)
        self._last_end = key
        self.ended = True
        self._activity_since_end = False
        self._stop_reason = STATUS_STOP[status]
        # A run that resumes in the same stream streams its own text from the start.
        self._text = _Growing()
        self._reasoning = _Growing()
        return events

    def _mark_activity(self) -> None:
        self._activity_since_end = True

    def close(self) -> list[Event]:
        """End of the stream: finish the message, or fail if it never finished."""
        if self.done:
            return []
        if self.ended:
            return self._finish()
        message = (
            "stream closed unexpectedly before the backboard run ended"
            if self._started
            else "stream closed unexpectedly before any backboard event"
        )
        return self._fail(ApiError.of("bad_gateway", message, source_format=FORMAT))


def frame_event_type(data: Mapping[str, Any]) -> str | None:
    """The event type of a frame that has no ``type`` (``event`` key, as some proxies write)."""
    value = data.get("event")
    return value if isinstance(value, str) else None


_HANDLERS: Mapping[str, Any] = {
    "content_streaming": StreamDecoder._on_content,
    "reasoning_streaming": StreamDecoder._on_reasoning,
    "tool_call_ready": StreamDecoder._on_tool_ready,
    "tool_submit_required": StreamDecoder._on_submit_required,
    "run_ended": StreamDecoder._on_end,
    "message_complete": StreamDecoder._on_end,
}
