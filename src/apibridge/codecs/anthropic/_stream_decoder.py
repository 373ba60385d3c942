"""Anthropic Messages streams, decoding: SSE frames → canonical events.

Theory of operation
-------------------
The wire grammar is ``message_start`` → for each content block ``content_block_start``,
``content_block_delta`` …, ``content_block_stop`` (one block open at a time, indexes 0, 1 …
in order, one block type per index) → ``message_delta`` (stop reason, cumulative usage) →
``message_stop``; ``ping`` may come anywhere and ``error`` ends a failed stream.

:class:`StreamDecoder` maps that one for one onto ``MessageStart``,
``PartStart``/``PartDelta``/``PartStop``, ``MessageDelta``, ``MessageStop``, ``Ping`` and
``StreamError`` (dispatch table ``_DECODE``). Frames may lack their ``event:`` line (the JSON
``type`` decides), unknown event and delta types are ignored, and a malformed frame or one out
of order ends the stream with a ``StreamError``. A few values only make sense whole, so they
are held until their block stops: a thinking block's ``signature`` (it may be a reasoning
envelope to open), a server tool's ``input``, the input of a client ``custom`` tool
(unwrapped from ``{"input": …}``). A tool call whose fragments were all empty gets ``{}`` as
arguments. Usage and unknown message fields are merged as they arrive, so the extras of each
``MessageDelta`` hold everything seen so far (``accumulate`` keeps the latest).

The encoding side is ``_stream_encoder``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from apibridge import _json
from apibridge._sse import SSEFrame
from apibridge.codecs._context import Context, expect_obj, expect_str, new_id, opt_int, opt_str
from apibridge.codecs._custom_tools import custom_tool_names, unwrap_input
from apibridge.codecs.anthropic._block_decoder import (
    THINKING_KEYS,
    TOOL_USE_KEYS,
    decode_block,
    decode_text,
    server_part,
    thinking_part,
)
from apibridge.codecs.anthropic._errors import decode_error
from apibridge.codecs.anthropic._wire import (
    FORMAT,
    MESSAGE_KEYS,
    Own,
    cache_control,
    decode_citation,
    decode_stop_reason,
    decode_usage,
    json_text,
    keep_stop_details,
    own_of,
    refusal_part,
)
from apibridge.codecs.envelope import open_envelope
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
    Ping,
    StreamError,
    ThinkingPart,
    ToolCallPart,
)

__all__ = ["StreamDecoder"]

_DELTA_KEYS: Final = frozenset({"stop_reason", "stop_sequence"})


# ----------------------------------------------------------------------------------- decode


class _Block:
    """A content block the decoder has open."""

    __slots__ = ("args_seen", "custom", "extras", "held", "index", "kind", "start", "text")

    def __init__(
        self,
        index: int,
        kind: str,
        start: Mapping[str, Any],
        extras: Any = None,
        custom: bool = False,
    ) -> None:
        self.index = index  # canonical index
        self.kind = kind
        self.start = start
        self.extras = extras
        self.custom = custom
        self.args_seen = False
        self.held: list[str] = []  # input JSON or signature, kept until stop
        self.text: list[str] = []  # thinking text, in case an envelope opens


class StreamDecoder:
    """Anthropic SSE frames in, canonical events out (``feed(frame)``, ``close()``)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._started = False
        self._done = False
        self._blocks: dict[int, _Block] = {}
        self._next = 0
        self._message_own: dict[str, Any] = {}
        self._usage_own: dict[str, Any] = {}
        self._custom = custom_tool_names(ctx)
        self._refused = False  # the refusal part of a ``refusal`` stop was given

    def feed(self, frame: SSEFrame) -> list[Event]:
        """Events that ``frame`` completes; a malformed frame ends the stream in an error."""
        if self._done:
            return []
        try:
            data = _json.loads(frame.data)
        except InvalidPayload:
            if not frame.data.strip():
                return []
            return self._fail(f"a {frame.event or 'data'} frame is not JSON")
        if not isinstance(data, dict):
            return []
        kind = data.get("type")
        if kind == "content_block_delta" and self._started:
            events = self._plain_delta(data)
            if events is not None:
                return events
        handler = _DECODE.get(kind if isinstance(kind, str) else frame.event or "")
        if handler is None:
            return []  # a type this version does not know: nothing to translate
        try:
            return handler(self, data)
        except InvalidPayload as exc:
            return self._fail(str(exc))

    def close(self) -> list[Event]:
        """End of input; a stream without ``message_stop`` yields a ``StreamError``."""
        if self._done:
            return []
        self._done = True
        error = ApiError.of(
            "api_error", "the stream ended before message_stop", source_format=FORMAT
        )
        return [StreamError(error=error)]

    def _fail(self, message: str) -> list[Event]:
        self._done = True
        error = ApiError.of(
            "api_error", f"invalid Anthropic stream: {message}", source_format=FORMAT
        )
        return [StreamError(error=error)]

    def _require_start(self, kind: str) -> None:
        if not self._started:
            raise InvalidPayload(f"{kind} before message_start")

    # ------------------------------------------------------------------ message events

    def _message_start(self, data: Mapping[str, Any]) -> list[Event]:
        if self._started:
            return []  # a repeated start carries nothing new
        message = expect_obj(data.get("message"), "message_start.message")
        self._started = True
        own = Own(message, MESSAGE_KEYS)
        self._message_own.update(own.data)
        usage = None
        if message.get("usage") is not None:
            usage = decode_usage(message["usage"], "message_start.message.usage")
            self._usage_own.update(own_of(usage.extras))
        ident = message.get("id")
        model = message.get("model")
        return [
            MessageStart(
                id=ident if isinstance(ident, str) and ident else new_id("msg_"),
                model=model if isinstance(model, str) else "",
                usage=usage,
                extras=own.extras(),
            )
        ]

    def _message_delta(self, data: Mapping[str, Any]) -> list[Event]:
        self._require_start("message_delta")
        delta = expect_obj(data.get("delta", {}), "message_delta.delta")
        fields = Own(delta, _DELTA_KEYS).data
        stop = decode_stop_reason(delta.get("stop_reason"), "message_delta.delta.stop_reason")
        out: list[Event] = []
        if stop == "refusal" and not self._refused:  # its words (or none) as a refusal part
            self._refused = True
            keep_stop_details(fields)
            part = refusal_part(delta.get("stop_details"))
            index = self._next
            self._next += 1
            out.append(PartStart(index=index, part=attrs.evolve(part, text="")))
            if part.text:
                out.append(PartDelta(index=index, field="text", value=part.text))
            out.append(PartStop(index=index))
        self._message_own.update(fields)
        edits = data.get("context_management")  # beta: the edits the upstream applied
        if edits is not None:
            self._message_own["context_management"] = edits
        usage = None
        if data.get("usage") is not None:
            fresh = decode_usage(data["usage"], "message_delta.usage")
            # Later numbers win in ``accumulate``; the extras must hold everything seen so far.
            self._usage_own.update(own_of(fresh.extras))
            usage = attrs.evolve(
                fresh, extras={FORMAT: dict(self._usage_own)} if self._usage_own else {}
            )
        sequence = delta.get("stop_sequence")
        out.append(
            MessageDelta(
                stop_reason=stop,
                stop_sequence=opt_str(sequence, "message_delta.delta.stop_sequence"),
                usage=usage,
                extras={FORMAT: dict(self._message_own)} if self._message_own else {},
            )
        )
        return out

    def _message_stop(self, data: Mapping[str, Any]) -> list[Event]:
        self._require_start("message_stop")
        events: list[Event] = []
        for wire_index in sorted(self._blocks):  # blocks left open: closed for the client
            events.extend(self._stop_block(wire_index))
        self._done = True
        events.append(MessageStop())
        return events

    def _ping(self, data: Mapping[str, Any]) -> list[Event]:
        return [Ping()]

    def _error(self, data: Mapping[str, Any]) -> list[Event]:
        self._done = True
        return [StreamError(error=decode_error(data, 0))]

    # -------------------------------------------------------------------- block events

    def _block_start(self, data: Mapping[str, Any]) -> list[Event]:
        self._require_start("content_block_start")
        wire_index = opt_int(data.get("index"), "content_block_start.index")
        if wire_index is None:
            raise InvalidPayload("content_block_start.index: missing")
        if wire_index in self._blocks:
            raise InvalidPayload(f"content_block_start.index: block {wire_index} is open")
        where = f"content_block_start[{wire_index}].content_block"
        block = expect_obj(data.get("content_block"), where)
        kind = expect_str(block.get("type"), f"{where}.type")
        state = _Block(index=self._next, kind=kind, start=block)
        part = self._start_part(state, block, where)
        self._next += 1
        self._blocks[wire_index] = state
        return [PartStart(index=state.index, part=part)]

    def _start_part(self, state: _Block, block: Mapping[str, Any], where: str) -> ContentPart:
        if state.kind == "tool_use":
            name = expect_str(block.get("name"), f"{where}.name")
            ident = block.get("id")
            state.custom = name in self._custom
            own = Own(block, TOOL_USE_KEYS)
            state.extras = own.extras()
            return ToolCallPart(
                id=ident if isinstance(ident, str) and ident else new_id("toolu_"),
                name=name,
                arguments="",
                kind="custom" if state.custom else "function",
                cache_control=cache_control(block, where),
                extras=state.extras,
            )
        if state.kind == "thinking":
            text = expect_str(block.get("thinking", ""), f"{where}.thinking")
            signature = opt_str(block.get("signature"), f"{where}.signature")
            state.extras = Own(block, THINKING_KEYS).extras()
            state.text.append(text)
            if signature:
                state.held.append(signature)
            return ThinkingPart(text=text, extras=state.extras)
        if state.kind == "server_tool_use":
            return server_part(block)
        if state.kind == "text":
            return decode_text(block, where, mark_empty=False)
        return decode_block(block, where, self._ctx, answer=True)

    def _block_delta(self, data: Mapping[str, Any]) -> list[Event]:
        self._require_start("content_block_delta")
        wire_index = opt_int(data.get("index"), "content_block_delta.index")
        state = self._blocks.get(wire_index) if wire_index is not None else None
        if state is None:
            return []  # a delta for no open block: nothing it could extend
        where = f"content_block_delta[{wire_index}].delta"
        delta = expect_obj(data.get("delta"), where)
        kind = delta.get("type")
        index = state.index
        if kind == "text_delta" and state.kind == "text":
            text = expect_str(delta.get("text"), f"{where}.text")
            return [PartDelta(index=index, field="text", value=text)] if text else []
        if kind == "input_json_delta" and state.kind in ("tool_use", "server_tool_use"):
            fragment = expect_str(delta.get("partial_json"), f"{where}.partial_json")
            if state.custom or state.kind == "server_tool_use":
                state.held.append(fragment)
                return []
            if not fragment:
                return []
            state.args_seen = True
            return [PartDelta(index=index, field="arguments", value=fragment)]
        if kind == "thinking_delta" and state.kind == "thinking":
            text = expect_str(delta.get("thinking"), f"{where}.thinking")
            state.text.append(text)
            return [PartDelta(index=index, field="thinking", value=text)] if text else []
        if kind == "compaction_delta" and state.kind == "compaction":
            # the summary and its opaque value arrive here; the block is whole at its stop
            for key in ("content", "encrypted_content"):
                if delta.get(key) is not None:
                    state.extras = {**(state.extras or {}), key: delta[key]}
            return []
        if kind == "signature_delta" and state.kind == "thinking":
            state.held.append(expect_str(delta.get("signature"), f"{where}.signature"))
            return []
        if kind == "citations_delta" and state.kind == "text":
            citation = decode_citation(delta.get("citation"), f"{where}.citation")
            return [PartDelta(index=index, field="citation", citation=citation)]
        return []  # a delta type this version does not know, or one foreign to the block

    def _plain_delta(self, data: dict[str, Any]) -> list[Event] | None:
        """The hot path: a well-formed text, arguments or thinking delta of an open block,
        decoded with no helper calls; ``None`` leaves anything else to ``_block_delta``."""
        wire_index = data.get("index")
        delta = data.get("delta")
        if type(wire_index) is not int or type(delta) is not dict:
            return None
        state = self._blocks.get(wire_index)
        if state is None:
            return None
        kind = delta.get("type")
        if kind == "text_delta":
            value = delta.get("text")
            if state.kind != "text" or type(value) is not str:
                return None
            return [PartDelta(index=state.index, field="text", value=value)] if value else []
        if kind == "input_json_delta":
            value = delta.get("partial_json")
            if state.kind != "tool_use" or state.custom or type(value) is not str:
                return None
            if not value:
                return []
            state.args_seen = True
            return [PartDelta(index=state.index, field="arguments", value=value)]
        if kind == "thinking_delta":
            value = delta.get("thinking")
            if state.kind != "thinking" or type(value) is not str:
                return None
            state.text.append(value)
            return [PartDelta(index=state.index, field="thinking", value=value)] if value else []
        return None

    def _block_stop(self, data: Mapping[str, Any]) -> list[Event]:
        self._require_start("content_block_stop")
        wire_index = opt_int(data.get("index"), "content_block_stop.index")
        if wire_index is None or wire_index not in self._blocks:
            return []
        return self._stop_block(wire_index)

    def _stop_block(self, wire_index: int) -> list[Event]:
        state = self._blocks.pop(wire_index)
        index = state.index
        if state.kind == "tool_use":
            return [*self._finish_tool(state), PartStop(index=index)]
        if state.kind == "server_tool_use":
            raw = dict(state.start)
            value = _parse_object("".join(state.held))
            if value is not None:
                raw["input"] = value
            return [PartStop(index=index, part=server_part(raw))]
        if state.kind == "compaction" and state.extras:
            part = decode_block(
                {**state.start, **state.extras}, "compaction", self._ctx, answer=True
            )
            return [PartStop(index=index, part=part)]
        if state.kind == "thinking":
            signature = "".join(state.held)
            if open_envelope(signature) is not None:
                part = thinking_part("".join(state.text), signature, state.extras)
                return [PartStop(index=index, part=part)]
            if signature:
                return [
                    PartDelta(index=index, field="signature", value=signature),
                    PartStop(index=index),
                ]
        return [PartStop(index=index)]

    def _finish_tool(self, state: _Block) -> list[Event]:
        start_input = state.start.get("input")
        if state.custom:
            text = "".join(state.held) or json_text(start_input or {})
            unwrapped = unwrap_input(text)
            arguments = text if unwrapped is None else unwrapped
            return [PartDelta(index=state.index, field="arguments", value=arguments)]
        if state.args_seen:
            return []
        # No fragment (or only empty ones): the start's input, ``{}`` at the least.
        value = start_input if isinstance(start_input, Mapping) else {}
        return [PartDelta(index=state.index, field="arguments", value=json_text(value))]


def _parse_object(text: str) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = _json.loads(text)
    except InvalidPayload:
        return None
    return value if isinstance(value, dict) else None


_DECODE: Final[Mapping[str, Callable[[StreamDecoder, Mapping[str, Any]], list[Event]]]] = {
    "message_start": StreamDecoder._message_start,
    "content_block_start": StreamDecoder._block_start,
    "content_block_delta": StreamDecoder._block_delta,
    "content_block_stop": StreamDecoder._block_stop,
    "message_delta": StreamDecoder._message_delta,
    "message_stop": StreamDecoder._message_stop,
    "ping": StreamDecoder._ping,
    "error": StreamDecoder._error,
}
