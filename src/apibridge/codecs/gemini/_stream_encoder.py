"""Gemini streams out: canonical events → ``data: {GenerateContentResponse}`` frames.

Theory of operation
-------------------
The reverse of ``_stream_decoder`` (whose docstring gives the grammar). Every frame is a whole
``GenerateContentResponse`` (``types.GenerateContentResponse`` accepts each) holding only new
parts of one candidate, with ``modelVersion`` and ``responseId``; frames end in CRLF CRLF, as
Google's do. Events pass a :class:`~apibridge.codecs._sequencer.PartSequencer` first, so parts
never interleave (a Chat stream's parallel calls come one after another).

Text and thought text are written as they come, one frame per delta (``{"text": …}``,
``{"text": …, "thought": true}``), each held until the next one is ready (or a ``Ping`` comes),
so that the finishing chunk carries the last content as Gemini's does: a chunk with no part
makes a ``google-genai`` chat session drop the turn from its history, and an empty text part
would come back in that history (Gemini refuses empty text); the finish has an empty text only
when there is nothing else to finish on. A function call is written whole at its ``PartStop``
(Gemini streams calls whole), media and Gemini's own blocks too; such whole parts wait for the
next frame (the next text, or the final frame), so that parallel calls share one chunk as
Gemini sends them and the last one rides on the finishing chunk. Signatures are placed as in
``_parts`` (``_wire``): a thought's own signature on an empty thought part at its stop (with
the rest of its text, if the final part held more than was streamed); a carrier's on the
function call that follows it, else on an empty text part of its own. Reasoning another
provider signed is shown as thought text; its signature is reported lost.

``MessageDelta`` values are held until ``MessageStop``, which writes the finishing chunk: the
waiting parts, ``finishReason`` (``_response.finish_reason``: a function call means ``STOP``),
a refusal's words as ``finishMessage``, the carried candidate fields and the cumulative
``usageMetadata``. A refusal with nothing before it whose source was a blocked Gemini prompt
is written as ``promptFeedback.blockReason`` again. A ``StreamError`` — or ``close()`` before
``MessageStop`` — writes one ``data: {"error": {…}}`` frame (Google's envelope) and ends the
stream; later events write nothing. ``Ping`` writes the held chunk, if any, and nothing else:
``google-genai`` parses every SSE frame as JSON (a comment fails it) and a chunk with no part
spoils its chat history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from apibridge._json import dumps
from apibridge.codecs._context import Context
from apibridge.codecs._sequencer import PartSequencer
from apibridge.codecs.gemini._errors import encode_error
from apibridge.codecs.gemini._parts import TEXT_SIGNATURE, encode_part, is_carrier, signature_of
from apibridge.codecs.gemini._response import (
    BLOCK_HINT,
    CREATE_TIME,
    NO_INDEX,
    answer_view,
    encode_usage,
    finish_reason,
)
from apibridge.codecs.gemini._signatures import answer_signature
from apibridge.codecs.gemini._wire import BLOCK_REASONS, FORMAT
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
    RefusalPart,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)

__all__ = ["StreamEncoder", "frame"]

_END: Final = b"\r\n\r\n"


def frame(body: Mapping[str, Any]) -> bytes:
    """One SSE frame as Google writes it: ``data: {json}`` and CRLF CRLF."""
    return b"data: " + dumps(body) + _END


class StreamEncoder:
    """Canonical events in, Gemini SSE frames out (see the module docstring)."""

    __slots__ = (
        "_carrier",
        "_closed",
        "_ctx",
        "_full",
        "_has_calls",
        "_held",
        "_id",
        "_kinds",
        "_last",
        "_model",
        "_own",
        "_parts",
        "_pending",
        "_refusal",
        "_reported",
        "_sent",
        "_seq",
        "_started",
        "_stop",
        "_summary_at",
        "_template",
        "_usage",
        "_wrote",
    )

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._seq = PartSequencer()
        self._closed = False
        self._started = False
        self._id = ""
        self._model = ""
        self._own: dict[str, Any] = {}  # the answer's Gemini fields and hints
        self._usage: Usage | None = None
        self._stop: str | None = None
        self._kinds: dict[int, str] = {}
        self._parts: dict[int, ContentPart] = {}  # each part as its events said so far
        self._sent: dict[int, int] = {}  # characters of text written per part
        self._held: dict[int, list[str]] = {}  # a call's argument fragments; signature deltas
        self._full: set[int] = set()  # thinking parts that streamed their full text
        self._summary_at: dict[int, int] = {}  # the summary a thinking part writes now
        self._pending: list[dict[str, Any]] = []  # whole parts waiting for the next frame
        self._carrier: tuple[str, bool] | None = None  # (signature, after) of a carrier
        self._refusal: list[str] | None = None
        self._has_calls = False
        self._wrote = False  # some part was written (a prompt block has none)
        self._reported: set[str] = set()
        self._template: dict[bool, tuple[bytes, bytes]] = {}  # see ``_ends``
        self._last: list[dict[str, Any]] | None = None  # the last chunk's parts, not written

    # ------------------------------------------------------------------------- events

    def feed(self, event: Event) -> list[bytes]:
        """Frames for ``event``; nothing once the stream has ended."""
        if self._closed:
            return []
        if isinstance(event, StreamError):
            return self._error(event.error)
        if isinstance(event, Ping):
            # A Gemini client reads every frame as JSON (google-genai fails on an SSE comment)
            # and a chunk without parts spoils a google-genai chat's history: the held chunk,
            # if any, goes out now instead.
            return self._emit()
        out: list[bytes] = []
        for ready in self._seq.feed(event):
            out.extend(self._event(ready))
        return out

    def close(self) -> list[bytes]:
        """End of input: an unfinished stream gets an in-band error frame, once."""
        if self._closed:
            return []
        message = "the upstream stream ended before the answer was complete"
        return self._error(ApiError.of("api_error", message))

    def _event(self, event: Event) -> list[bytes]:
        if isinstance(event, PartDelta):
            return self._delta(event)
        if isinstance(event, PartStart):
            return self._start_part(event)
        if isinstance(event, PartStop):
            return self._stop_part(event)
        if isinstance(event, MessageStart):
            self._message_start(event)
        elif isinstance(event, MessageDelta):
            self._message_delta(event)
        elif isinstance(event, MessageStop):
            return self._message_stop()
        return []

    def _report(self, where: str, reason: str, action: str = "dropped") -> None:
        if where not in self._reported:
            self._reported.add(where)
            self._ctx.lose(where, reason, action)

    def _error(self, error: ApiError) -> list[bytes]:
        out = self._emit()  # what was said before the failure
        self._closed = True
        return [*out, frame(encode_error(error)[1])]

    # ------------------------------------------------------------------------ message

    def _message_start(self, event: MessageStart) -> None:
        if self._started:
            return
        self._started = True
        self._id, self._model = event.id, event.model
        self._usage = event.usage
        self._own.update(event.extras.get(FORMAT, {}))
        self._ctx.lose_extras(event.extras, FORMAT, "stream")

    def _message_delta(self, event: MessageDelta) -> None:
        self._stop = event.stop_reason or self._stop
        if event.stop_sequence is not None:
            self._report("stream.stop_sequence", "Gemini does not say which stop sequence matched")
        if event.usage is not None:
            self._usage = event.usage if self._usage is None else self._usage.merged(event.usage)
        self._own.update(event.extras.get(FORMAT, {}))
        self._ctx.lose_extras(event.extras, FORMAT, "stream")
        self._template.clear()  # the chunk's fields may have changed

    def _tail(self, body: dict[str, Any]) -> dict[str, Any]:
        body["modelVersion"] = self._model
        body["responseId"] = self._id
        if isinstance(self._own.get(CREATE_TIME), str):
            body["createTime"] = self._own[CREATE_TIME]
        return body

    def _chunk(self, parts: list[dict[str, Any]]) -> bytes:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if not self._own.get(NO_INDEX):
            candidate["index"] = 0
        return frame(self._tail({"candidates": [candidate]}))

    def _write(self, part: dict[str, Any]) -> list[bytes]:
        """Hold a chunk of the waiting whole parts and ``part``, writing the one held before
        (the last chunk is held until the stream ends, so that the finish rides on it)."""
        out = self._emit()
        self._wrote = True
        self._last = [*self._pending, part]
        self._pending.clear()
        return out

    def _emit(self) -> list[bytes]:
        """The held chunk, written now; a chunk of one text is put together from its ends
        (:meth:`_ends`), which is the chunk of nearly every token."""
        held = self._last
        if held is None:
            return []
        self._last = None
        if len(held) == 1:
            part = held[0]
            text, size = part.get("text"), len(part)
            if isinstance(text, str) and (size == 1 or (size == 2 and part.get("thought"))):
                try:
                    encoded = dumps(text)
                except ValueError:  # a lone surrogate: the general path fails as ever
                    encoded = b""
                if encoded:
                    head, tail = self._ends(size == 2)
                    return [head + encoded + tail]
        return [self._chunk(held)]

    def _message_stop(self) -> list[bytes]:
        self._flush_carrier()
        own = self._own
        words = "".join(self._refusal) if self._refusal is not None else None
        block = own.get(BLOCK_HINT)
        body: dict[str, Any]
        held = self._last or []
        self._last = None
        if isinstance(block, str) and block in BLOCK_REASONS and not self._wrote:
            if self._pending:
                self._report("stream.content", "a blocked prompt has no answer", "dropped")
            feedback: dict[str, Any] = {"blockReason": block}
            if words:
                feedback["blockReasonMessage"] = words
            body = {"promptFeedback": feedback}
        else:
            stop = self._stop
            if words is not None and stop not in ("refusal", "content_filter"):
                stop = "refusal"
            if stop is None and self._has_calls:
                stop = "tool_use"
            parts = [*held, *self._pending]
            candidate: dict[str, Any] = {}
            if parts or stop not in ("refusal", "content_filter"):
                # (a chunk with no part spoils a google-genai chat's history: an empty text)
                candidate["content"] = {"parts": parts or [{"text": ""}], "role": "model"}
            candidate["finishReason"] = finish_reason(stop, own, self._ctx)
            if words:
                candidate["finishMessage"] = words
            if not own.get(NO_INDEX):
                candidate["index"] = 0
            for key, value in own.items():
                if key.startswith("candidate."):
                    candidate.setdefault(key[len("candidate.") :], value)
            body = {"candidates": [candidate]}
        feedback_fields = {
            k[len("promptFeedback.") :]: v
            for k, v in own.items()
            if k.startswith("promptFeedback.")
        }
        if feedback_fields:
            body.setdefault("promptFeedback", {}).update(feedback_fields)
        if self._usage is not None:
            body["usageMetadata"] = encode_usage(self._usage, self._ctx, "stream.usage")
        for key, value in own.items():
            if not key.startswith("_") and "." not in key and key != "other_candidates":
                body.setdefault(key, value)
        if "other_candidates" in own:
            self._report("stream.other_candidates", "a Gemini stream carries one candidate")
        self._pending.clear()
        self._closed = True
        return [frame(self._tail(body))]

    # -------------------------------------------------------------------------- parts

    def _start_part(self, event: PartStart) -> list[bytes]:
        index, part = event.index, event.part
        self._parts[index] = part
        self._sent[index] = 0
        if is_carrier(part):
            self._kinds[index] = "carrier"
            return []
        if self._carrier is not None and not (
            isinstance(part, ToolCallPart) and not self._carrier[1]
        ):
            self._flush_carrier()
        if isinstance(part, TextPart):
            self._kinds[index] = "text"
            return self._text(index, part.text)
        if isinstance(part, ThinkingPart):
            self._kinds[index] = "thinking"
            if part.text:
                self._full.add(index)
            return self._text(index, part.text or "\n\n".join(part.summary))
        if isinstance(part, RefusalPart):
            self._kinds[index] = "refusal"
            if self._refusal is None:
                self._refusal = []
            self._refusal.append(part.text)
            return []
        if isinstance(part, ToolCallPart):
            self._kinds[index] = "call"
            self._has_calls = True
            return []
        self._kinds[index] = "whole"
        return []

    def _text(self, index: int, value: str) -> list[bytes]:
        if not value:
            return []
        self._sent[index] += len(value)
        if self._kinds[index] == "thinking":
            return self._write({"text": value, "thought": True})
        return self._write({"text": value})

    def _ends(self, thought: bool) -> tuple[bytes, bytes]:
        """The bytes of a one-text chunk around its text (as :meth:`_chunk` writes it), made
        once per stream and kind: a token's chunk is then one small ``dumps``."""
        ends = self._template.get(thought)
        if ends is None:
            part: dict[str, Any] = (
                {"text": "\x00", "thought": True} if thought else {"text": "\x00"}
            )
            head, tail = self._chunk([part]).split(b'"\\u0000"', 1)
            ends = self._template[thought] = (head, tail)
        return ends

    def _delta(self, event: PartDelta) -> list[bytes]:
        index = event.index
        kind = self._kinds.get(index)
        if kind is None:
            return []
        field = event.field
        if kind == "text" and field == "text":
            if event.logprobs:
                self._report("stream.logprobs", "the Gemini stream writer keeps no logprobs")
            return self._text(index, event.value)
        if kind == "call" and field == "arguments":
            self._held.setdefault(index, []).append(event.value)
            return []
        if kind == "thinking":
            if field == "thinking":
                self._full.add(index)
                return self._text(index, event.value)
            if field == "summary" and index not in self._full:  # summaries, when no full text
                previous = self._summary_at.setdefault(index, event.summary_index)
                self._summary_at[index] = event.summary_index
                joint = "\n\n" if previous != event.summary_index and self._sent[index] else ""
                return self._text(index, joint + event.value)
            if field == "signature":
                self._held.setdefault(index, []).append(event.value)
            return []
        if kind == "refusal" and field == "text" and self._refusal is not None:
            self._refusal.append(event.value)
            return []
        if field == "citation" and kind == "text":
            self._report(
                f"stream.content[{index}].citations", "a Gemini text part holds no citations"
            )
        return []

    def _stop_part(self, event: PartStop) -> list[bytes]:
        index = event.index
        kind = self._kinds.get(index)
        if kind is None:
            return []
        part = event.part if event.part is not None else self._final(index, kind)
        where = f"stream.content[{index}]"
        if kind == "text":
            text = part.text if isinstance(part, TextPart) else ""
            rest = text[self._sent[index] :]
            own = part.extras.get(FORMAT) if isinstance(part, TextPart) else None
            signature = own.get(TEXT_SIGNATURE) if own else None
            if isinstance(signature, str):  # the text's signature, on its last piece
                self._sent[index] += len(rest)
                return self._write({"text": rest, TEXT_SIGNATURE: signature})
            return self._text(index, rest)
        if kind == "thinking" and is_carrier(part) and not self._sent[index]:
            kind = "carrier"  # its signature came at its stop (a Claude or Responses client's)
        if kind == "carrier":
            signature = signature_of(part)
            if signature is not None and isinstance(part, ThinkingPart):
                self._flush_carrier()
                own = part.extras.get(FORMAT, {})
                self._carrier = (signature, bool(own.get("_after") or own.get("_alone")))
            return []
        if kind == "thinking":
            return self._stop_thinking(index, part, where)
        if kind == "refusal":
            if isinstance(part, RefusalPart) and self._refusal is not None:
                said = "".join(self._refusal)
                if len(part.text) > len(said) and part.text.startswith(said):
                    self._refusal.append(part.text[len(said) :])
            return []
        if kind == "call":
            return self._stop_call(part, where)
        viewed = answer_view(part, self._ctx, where)
        encoded = encode_part(viewed, self._ctx, where, answer=True)
        if encoded is not None:
            self._wrote = True
            self._pending.append(encoded)
        return []

    def _final(self, index: int, kind: str) -> ContentPart:
        """The part as its deltas made it (no final part came): a call's whole arguments; a
        text or thinking part's text was written as it came, so its start is enough."""
        part = self._parts[index]
        if kind == "call" and isinstance(part, ToolCallPart):
            return attrs.evolve(part, arguments=part.arguments + "".join(self._held.pop(index, [])))
        return part

    def _stop_thinking(self, index: int, part: ContentPart, where: str) -> list[bytes]:
        if not isinstance(part, ThinkingPart):
            return []
        text = part.text or "\n\n".join(part.summary)
        rest = text[self._sent[index] :]
        signature = signature_of(part)
        held = "".join(self._held.pop(index, []))
        if signature is None and (part.signature or part.encrypted_content or held):
            # another model's reasoning: its opaque value rides the thought's signature as the
            # base64 reasoning envelope, and comes back in the client's history (_parts)
            signed = part if part.signature or part.encrypted_content else None
            signature = answer_signature(signed or attrs.evolve(part, signature=held))
        if signature is None:
            if not rest and not self._sent[index] and part.extras.get(FORMAT, {}).get("_thought"):
                return self._write({"text": "", "thought": True})  # an empty Gemini thought
            return self._text(index, rest)
        self._sent[index] += len(rest)
        return self._write({"text": rest, "thought": True, "thoughtSignature": signature})

    def _stop_call(self, part: ContentPart, where: str) -> list[bytes]:
        if not isinstance(part, ToolCallPart):
            return []
        encoded = encode_part(part, self._ctx, where)
        if encoded is None:
            return []
        if self._carrier is not None:
            encoded.setdefault("thoughtSignature", self._carrier[0])
            self._carrier = None
        self._wrote = True
        self._pending.append(encoded)
        return []

    def _flush_carrier(self) -> None:
        if self._carrier is not None:
            self._pending.append({"text": "", "thoughtSignature": self._carrier[0]})
            self._wrote = True
            self._carrier = None
