"""Chat Completions streams out: canonical events → ``data:`` chunks (:class:`StreamEncoder`).

Theory of operation. The reverse of ``_stream_decoder`` (whose docstring gives the chunk
grammar): a role chunk on ``MessageStart`` (or before the first event, if that is not one),
then one delta chunk per ``PartDelta`` (text as ``content``, thinking as
``reasoning_content``, a Chat upstream's ``<think>`` block as it came in ``content`` and its
``reasoning_details`` entries whole at the part's stop, refusals as ``refusal``, tool calls as
``tool_calls`` entries numbered in the order they start). Chat can interleave every part kind,
so nothing is buffered except citations (sent as one ``annotations`` delta before the finish
chunk, with offsets into the content once each text part is complete) and the
``MessageDelta`` information (held until ``MessageStop``, which writes the finish chunk, the
usage chunk when the client asked for it, then ``[DONE]``). A final part in ``PartStop`` may
hold what no delta sent (Responses'
``output_item.done``): the rest is written then. ``Ping`` is an SSE comment.

*Deliberately lossy.* Parts Chat cannot carry (images, server-tool blocks, redacted thinking)
and signatures are reported once each. *Errors.* A ``StreamError`` is an error chunk in the
OpenAI envelope (``codecs._openai_errors``) and ``[DONE]``; ``close()`` on an unfinished
stream writes the same, exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from apibridge._json import dumps
from apibridge._sse import encode_comment, encode_frame
from apibridge.codecs._compaction import chat_text, is_compaction
from apibridge.codecs._context import Context, new_id
from apibridge.codecs._logprobs import chat_logprob
from apibridge.codecs._openai_errors import encode_error
from apibridge.codecs._openai_twins import answer_twins, tier_from_anthropic
from apibridge.codecs._phase import lose_phase
from apibridge.codecs.chat._reasoning_dialects import CLOSE, DETAILS, OPEN, THINK
from apibridge.codecs.chat._wire import (
    FORMAT,
    encode_citation,
    encode_usage,
    finish_for,
    hints,
    now,
    thinking_text,
)
from apibridge.codecs.envelope import gemini_signature
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
    RefusalPart,
    ServerToolPart,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)

__all__ = ["StreamEncoder"]

#: the end of a delta chunk's choice, after its ``delta``.
_CHOICE_TAIL: Final = b'"logprobs":null,"finish_reason":null'

_DONE: Final = encode_frame("[DONE]")

#: encoder part kind → the PartDelta field that grows it.
_GROWS: Final[Mapping[str, str]] = {
    "text": "text",
    "refusal": "text",
    "thinking": "thinking",
    "think": "thinking",  # a <think> block in the content
    "tool": "arguments",
}


class StreamEncoder:
    """Canonical events in, Chat SSE bytes out (see the module docstring)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._head: dict[str, Any] | None = None
        self._closed = False
        self._kinds: dict[int, str] = {}  # part index → text, thinking, refusal, tool, other
        self._tools: dict[int, tuple[int, str]] = {}  # part index → (chat index, kind)
        self._sent: dict[int, int] = {}  # characters sent per part
        self._text_start: dict[int, int] = {}
        self._compactions: dict[int, ContentPart] = {}  # held until their stop
        self._content_len = 0
        self._citations: dict[int, list[Citation]] = {}
        self._annotations: list[dict[str, Any]] = []
        self._summary_at: dict[int, int] = {}
        self._full_thinking: set[int] = set()
        self._thought = False  # some reasoning text was sent already
        self._separate: set[int] = set()  # thinking parts that begin with a blank line
        self._reported: set[str] = set()
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._usage: Usage | None = None
        self._include_usage = _wants_usage(ctx)
        # The bytes of a delta chunk around its ``delta`` object, serialised once per stream:
        # a token's chunk is then one small ``dumps`` (compact JSON concatenates exactly).
        self._before = b""
        self._after = b"," + _CHOICE_TAIL + b"}]}\n\n"
        # … and around the value of a text delta (``{"content": value}``)
        self._before_text = b""
        self._after_text = b"}" + self._after

    def feed(self, event: Event) -> list[bytes]:
        """Chunks for ``event``; nothing once the stream has ended."""
        if self._closed:
            return []
        if type(event) is PartDelta and self._head is not None:  # most events: straight there
            return self._part_delta(event)
        if isinstance(event, StreamError):
            return self._error(event.error)
        if isinstance(event, Ping):  # Chat has no ping chunk: a comment keeps the line alive
            return [encode_comment("ping")]
        out: list[bytes] = []
        if self._head is None:
            out.append(self._start(event if isinstance(event, MessageStart) else None))
            if isinstance(event, MessageStart):
                return out
        out.extend(_DISPATCH[type(event)](self, event))
        return out

    def close(self) -> list[bytes]:
        """End of input: an unfinished stream gets an error chunk and ``[DONE]``, once."""
        if self._closed:
            return []
        message = "the upstream stream ended before the answer was complete"
        return self._error(ApiError.of("api_error", message))

    def _report(self, field: str, reason: str, action: str = "dropped") -> None:
        if field not in self._reported:
            self._reported.add(field)
            self._ctx.lose(field, reason, action)

    def _start(self, event: MessageStart | None) -> bytes:
        carried: Mapping[str, Any] = {}
        head: dict[str, Any] = {"id": new_id("chatcmpl-"), "object": "chat.completion.chunk"}
        head["created"], head["model"] = now(), ""
        if event is not None:
            carried = hints(event.extras)
            head["id"], head["model"] = event.id, event.model
            if event.created is not None:
                head["created"] = event.created
            self._usage = event.usage
            self._ctx.lose_extras(event.extras, FORMAT, "stream")
            for key in carried:
                if not key.startswith("_") and key != "system_fingerprint":
                    self._report(f"stream.{key}", "a chat stream carries no such field")
        self._head = head
        for key in ("system_fingerprint", "service_tier"):
            if f"_{key}" in carried:
                self._head[key] = carried[f"_{key}"]
        if "system_fingerprint" in carried:  # carried as data (see the chat stream decoder)
            self._head["system_fingerprint"] = carried["system_fingerprint"]
        if event is not None:
            tier = tier_from_anthropic(event.usage)[1]
            if tier is not None:
                head.setdefault("service_tier", tier)
        if event is not None and "responses" in event.extras:
            for key, value in answer_twins(event.extras, FORMAT, self._ctx).items():
                head.setdefault(key, value)
        self._before = b"data: " + dumps(head)[:-1] + b',"choices":[{"index":0,"delta":'
        self._before_text = self._before + b'{"content":'
        return self._frame({"role": "assistant", "content": ""})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        """A chunk with ``delta`` and no finish: as :meth:`_frame` writes it, built faster."""
        return self._before + dumps(delta) + self._after

    def _frame(self, delta: dict[str, Any], **choice: Any) -> bytes:
        body = {
            **(self._head or {}),
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None, **choice}
            ],
        }
        return encode_frame(dumps(body))

    def _error(self, error: ApiError) -> list[bytes]:
        self._closed = True
        return [encode_frame(dumps(encode_error(error)[1])), _DONE]

    def _part_start(self, event: PartStart) -> list[bytes]:
        index, part = event.index, event.part
        self._sent[index] = 0
        if isinstance(part, ToolCallPart):
            self._kinds[index] = "tool"
            self._tools[index] = (len(self._tools), part.kind)
            self._sent[index] = len(part.arguments)
            key, field = _tool_fields(part.kind)
            first = {
                "index": self._tools[index][0],
                "id": part.id,
                "type": key,
                key: {"name": part.name, field: part.arguments},
            }
            if part.item_id is not None:
                self._report(f"content[{index}].item_id", "chat tool calls have no item id")
            return [self._frame({"tool_calls": [first]})]
        initial = ""
        opening: list[bytes] = []
        if isinstance(part, ThinkingPart) and hints(part.extras).get(THINK):
            self._kinds[index] = "think"  # a Chat upstream's <think> block, written as it came
            self._content_len += len(OPEN)
            opening.append(self._delta({"content": OPEN}))
            initial = part.text
        elif isinstance(part, TextPart):
            self._kinds[index] = "text"
            self._text_start[index] = self._content_len
            self._citations[index] = list(part.citations)
            initial = part.text
        elif isinstance(part, ThinkingPart):
            self._kinds[index] = "thinking"
            if self._thought:
                self._separate.add(index)  # as the whole answer joins reasoning parts
            initial = part.text
        elif isinstance(part, RefusalPart):
            self._kinds[index] = "refusal"
            initial = part.text
            if not initial:  # OpenAI opens a refusal with ``""``; a wordless one is just that
                return [self._delta({"refusal": ""})]
        elif is_compaction(part):
            self._kinds[index] = "compaction"  # whole only at its stop: see _part_stop
            self._compactions[index] = part
        else:
            self._kinds[index] = "other"
            kind = type(part).__name__
            self._report(f"content[{index}]", f"a chat stream cannot carry a {kind}")
        return opening + self._grow(index, initial) if initial else opening

    def _grow(self, index: int, value: str) -> list[bytes]:
        kind = self._kinds[index]
        self._sent[index] += len(value)
        if kind in ("text", "think"):
            self._content_len += len(value)
            return [self._delta({"content": value})]
        if kind == "thinking":
            self._thought = True
            if index in self._separate:
                self._separate.discard(index)
                value = "\n\n" + value
            return [self._delta({"reasoning_content": value})]
        if kind == "refusal":
            return [self._delta({"refusal": value})]
        position, tool_kind = self._tools[index]
        key, field = _tool_fields(tool_kind)
        return [self._delta({"tool_calls": [{"index": position, key: {field: value}}]})]

    def _part_delta(self, event: PartDelta) -> list[bytes]:
        index = event.index
        kind = self._kinds.get(index)
        if kind == "text" and event.field == "text":  # the token of nearly every chunk
            value = event.value
            if not value:
                return []
            self._sent[index] += len(value)
            self._content_len += len(value)
            if event.logprobs:  # the upstream scored these tokens: the chunk says so too
                scores = [chat_logprob(entry) for entry in event.logprobs]
                return [
                    self._frame({"content": value}, logprobs={"content": scores, "refusal": None})
                ]
            try:
                encoded = dumps(value)
            except ValueError:  # a lone surrogate: left to the general path, which fails as ever
                return [self._delta({"content": value})]
            return [self._before_text + encoded + self._after_text]
        if kind is None:
            self._report(f"content[{index}]", "a delta for a part that never started")
            return []
        if kind == "other":
            return []
        if event.field == "citation":
            if event.citation is not None and kind == "text":
                pending = self._citations.get(index)
                if pending is None:  # its part stopped: its annotations are written already
                    self._report(f"content[{index}].citations", "a citation after its part ended")
                else:
                    pending.append(event.citation)
            return []
        if event.field == "signature":
            self._report(f"content[{index}].signature", "chat reasoning has no signature")
            return []
        if event.field == "summary":
            if kind != "thinking" or index in self._full_thinking:
                return []
            previous = self._summary_at.setdefault(index, event.summary_index)
            self._summary_at[index] = event.summary_index
            value = ("\n\n" if previous != event.summary_index else "") + event.value
            return self._grow(index, value) if value else []
        if event.field != _GROWS[kind]:
            self._report(f"content[{index}].{event.field}", f"a {kind} part has no such field")
            return []
        if kind == "thinking":
            self._full_thinking.add(index)
        return self._grow(index, event.value) if event.value else []

    def _part_stop(self, event: PartStop) -> list[bytes]:
        index, final = event.index, event.part
        kind = self._kinds.get(index)
        if final is not None:
            lose_phase(self._ctx, (final,), "chat", f"stream.content[{index}]")
        out: list[bytes] = []
        if kind == "compaction":
            part = final if final is not None else self._compactions[index]
            del self._compactions[index]
            assert isinstance(part, ServerToolPart)
            text = chat_text(part, f"content[{index}]", self._ctx)
            if text is not None:  # sent as the text it holds
                self._kinds[index] = kind = "text"
                self._text_start[index] = self._content_len
                out.extend(self._grow(index, text))
        if final is not None and kind in ("text", "thinking", "think", "refusal", "tool"):
            # A final value may hold what no delta sent (Responses' ``output_item.done``).
            full = _full_value(final)
            if len(full) > self._sent[index]:
                out.extend(self._grow(index, full[self._sent[index] :]))
            if isinstance(final, TextPart) and final.citations and not self._citations.get(index):
                self._citations[index] = list(final.citations)
            if isinstance(final, ThinkingPart) and (
                final.signature or final.encrypted_content or gemini_signature(final.extras)
            ):
                self._report(f"content[{index}].signature", "chat reasoning has no signature")
            details = hints(final.extras).get(DETAILS) if isinstance(final, ThinkingPart) else None
            if isinstance(details, list):  # OpenRouter's entries, whole, signatures and all
                out.append(self._delta({"reasoning_details": details}))
        if kind == "think":
            self._content_len += len(CLOSE)
            out.append(self._delta({"content": CLOSE}))
        if kind == "text":
            self._flush_citations(index)
        return out

    def _flush_citations(self, index: int) -> None:
        base = self._text_start[index]
        for k, citation in enumerate(self._citations.pop(index, [])):
            where = f"content[{index}].citations[{k}]"
            encoded = encode_citation(citation, base, self._content_len - base, self._ctx, where)
            if encoded is not None:
                self._annotations.append(encoded)

    def _message_delta(self, event: MessageDelta) -> list[bytes]:
        self._stop_reason = event.stop_reason or self._stop_reason
        self._stop_sequence = event.stop_sequence or self._stop_sequence
        if event.usage is not None:
            self._usage = event.usage if self._usage is None else self._usage.merged(event.usage)
        self._ctx.lose_extras(event.extras, FORMAT, "stream")
        return []

    def _message_stop(self, event: MessageStop) -> list[bytes]:
        out: list[bytes] = []
        for index in list(self._citations):
            self._flush_citations(index)  # text parts that were never stopped
        if self._annotations:
            out.append(self._frame({"annotations": self._annotations}))
        # OpenAI's shape of a refusal: refusal text, no text content (see ``openai_refusal``;
        # a <think> block written into ``content`` is reasoning, not an answer)
        sent = [(kind, self._sent[i]) for i, kind in self._kinds.items()]
        refusal = not any(n for kind, n in sent if kind == "text") and any(
            n for kind, n in sent if kind == "refusal"
        )
        finish = (
            finish_for(self._stop_reason, bool(self._tools), self._ctx, has_refusal=refusal)
            or "stop"
        )
        extra = {"stop_reason": self._stop_sequence} if self._stop_sequence else {}
        out.append(self._frame({}, finish_reason=finish, **extra))
        if self._include_usage and self._usage is not None:
            usage = encode_usage(
                tier_from_anthropic(self._usage)[0] or self._usage, self._ctx, "stream.usage"
            )
            out.append(encode_frame(dumps({**(self._head or {}), "choices": [], "usage": usage})))
        out.append(_DONE)
        self._closed = True
        return out

    def _ignore(self, event: Event) -> list[bytes]:
        return []  # a keep-alive, or a second MessageStart: nothing to write


def _tool_fields(kind: str) -> tuple[str, str]:
    return ("custom", "input") if kind == "custom" else ("function", "arguments")


def _full_value(part: ContentPart) -> str:
    if isinstance(part, TextPart | RefusalPart):
        return part.text
    if isinstance(part, ThinkingPart):
        return thinking_text(part.text, part.summary)
    if isinstance(part, ToolCallPart):
        return part.arguments
    return ""


def _wants_usage(ctx: Context) -> bool:
    """Whether to write the usage chunk: a Chat client gets it only when it asked
    (``stream_options.include_usage``); with no client request known, whenever usage is."""
    if ctx.request is None:
        return True
    options = hints(ctx.request.extras).get("stream_options")
    return isinstance(options, Mapping) and options.get("include_usage") is True


#: canonical event type → the encoder step that handles it.
_DISPATCH: Final[Mapping[type, Callable[[StreamEncoder, Any], list[bytes]]]] = {
    MessageStart: StreamEncoder._ignore,
    PartStart: StreamEncoder._part_start,
    PartDelta: StreamEncoder._part_delta,
    PartStop: StreamEncoder._part_stop,
    MessageDelta: StreamEncoder._message_delta,
    MessageStop: StreamEncoder._message_stop,
}
