"""Chat Completions streams in: ``data:`` chunks → canonical events (:class:`StreamDecoder`).

Theory of operation.

*Grammar.* A Chat stream is a role chunk (``delta: {"role": "assistant", "content": ""}``),
then deltas (``content``, reasoning, ``refusal``, ``tool_calls``
entries keyed by ``index``: id, type and name on a call's first fragment, ``arguments``
after), one chunk with ``finish_reason``, a usage chunk (``choices: []``) when the client asked
``stream_options.include_usage``, then ``data: [DONE]``. Every chunk carries the same ``id``,
``created`` and ``model``. A failed stream ends with ``data: {"error": {...}}``.

*Decoding.* The first chunk with choices (or usage) is ``MessageStart``; an earlier chunk
without either (Azure's ``prompt_filter_results`` preamble) only lends its fields to it.
Reasoning, text and refusal are single-stream parts: a new kind of part starts when its first
delta arrives and the previous single-stream part stops. ``reasoning_details`` fragments join
into whole entries (in the thinking part's ``PartStop``); ``<think>`` blocks in ``content`` are
thinking parts however chunks cut the tags (``_reasoning_dialects``). Tool calls may
interleave (calls 0 and 1 alternating, several calls in one chunk); each stays open until
``finish_reason``. A call opens when its name is known (arguments that come first are held);
a function call to a client's free-form tool that the encoder sent as a function
(``{"input": string}``) opens as a ``custom`` call whose fragments are held and given,
unwrapped, when the call ends; an id that never comes is generated, one that comes late is
given in the final ``PartStop``. An upstream that re-sends the *cumulative* arguments instead
of a delta is detected by prefix (a fragment that repeats all the arguments so far and can
itself start a JSON document) and only the new suffix is emitted. An index reused with a new
id starts a new call. ``finish_reason`` stops every open part and gives ``MessageDelta`` (with
usage when it came on or before that chunk, as DeepSeek sends it; Groq's ``x_groq.usage``
counts too); a later usage chunk gives another ``MessageDelta``. ``[DONE]`` — or the end of
input after a finish chunk — is ``MessageStop``; an ``error`` chunk is ``StreamError`` (read by
``codecs._openai_errors``); an end without ``finish_reason`` is ``StreamError`` (kind
``api_error``). Several choices, streamed audio and logprobs are reported once each and
dropped (deliberately lossy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal

from apibridge._json import loads
from apibridge._sse import SSEFrame
from apibridge.codecs._context import Context, expect_list, expect_obj, new_id, opt_int, opt_str
from apibridge.codecs._custom_tools import unwrap_call
from apibridge.codecs._logprobs import chunk_scores_refusal, chunk_text_logprobs
from apibridge.codecs.chat._errors import decode_error
from apibridge.codecs.chat._reasoning_dialects import DetailsStream, ThinkSplitter, think_part
from apibridge.codecs.chat._wire import (
    FORMAT,
    decode_annotation,
    decode_usage,
    json_prefix,
    stop_for,
    wrapped_custom_names,
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
    Usage,
)

__all__ = ["StreamDecoder"]

_Field = Literal["text", "thinking"]

#: single-stream delta field → the canonical part it grows and the PartDelta field.
_SINGLE: Final[Mapping[str, tuple[Callable[[], ContentPart], _Field]]] = {
    "thinking": (lambda: ThinkingPart(text=""), "thinking"),
    "think": (lambda: think_part(""), "thinking"),  # a <think> block in the content
    "text": (lambda: TextPart(text=""), "text"),
    "refusal": (lambda: RefusalPart(text=""), "text"),
}

#: delta field of the hot path (``StreamDecoder._plain``) → the single-stream slot it grows and
#: the PartDelta field.
_PLAIN: Final[Mapping[str, tuple[str, _Field]]] = {
    "content": ("text", "text"),
    "reasoning_content": ("thinking", "thinking"),
    "reasoning": ("thinking", "thinking"),
}

#: delta fields that carry the answer (reported when they come after ``finish_reason``).
_ANSWER_KEYS: Final = frozenset(
    {"content", "reasoning_content", "reasoning", "reasoning_details", "tool_calls"}
)
#: chunk fields that describe the stream itself rather than the answer.
_CHUNK_KEYS: Final = frozenset(
    {"id", "object", "created", "model", "choices", "usage", "system_fingerprint"}
    | {"service_tier", "obfuscation"}
)
#: chunk fields carried from the first chunk, whose later changes are reported.
_LATE_KEYS: Final = ("service_tier", "system_fingerprint")


class _Call:
    """One streamed tool call, as far as it has arrived.

    The arguments are kept as fragments and joined when read: appending to one growing
    string copies it on every fragment (quadratic in a long streamed argument)."""

    __slots__ = (
        "announced_id",
        "id",
        "index",
        "kind",
        "name",
        "parts",
        "real_id",
        "size",
        "wrapped",
    )

    def __init__(self, kind: Literal["function", "custom"]) -> None:
        self.kind = kind
        self.id: str | None = None
        self.real_id = False  # the id came from upstream (not generated)
        self.name = ""
        self.parts: list[str] = []  # the arguments (or custom input) as they arrived
        self.size = 0  # their length so far
        self.index: int | None = None  # canonical part index, once opened
        self.announced_id: str | None = None  # the id its PartStart carried
        self.wrapped = False  # a function call standing in for a client's free-form tool

    @property
    def args(self) -> str:
        """The arguments so far."""
        parts = self.parts
        if len(parts) > 1:
            joined = "".join(parts)
            self.parts = [joined]
            return joined
        return parts[0] if parts else ""


class StreamDecoder:
    """Chat SSE frames in, canonical events out (see the module docstring)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._started = False
        self._finished = False  # finish_reason seen
        self._refused = False  # some refusal text seen
        self._done = False  # terminal event given
        self._preamble: dict[str, Any] = {}
        self._first: dict[str, Any] = {}  # the first chunk's service tier and fingerprint
        self._next = 0
        self._open: list[int] = []
        self._slots: dict[str, int | None] = dict.fromkeys(_SINGLE)
        self._calls: dict[Any, _Call] = {}
        self._order: list[_Call] = []
        self._last_key: Any = None
        self._usage: Usage | None = None
        self._reported: set[str] = set()
        self._wrapped = wrapped_custom_names(ctx)
        self._think = ThinkSplitter.upstream(ctx)
        self._details: DetailsStream | None = None  # the open part's reasoning_details
        self._held_scores: tuple[Mapping[str, Any], ...] = ()  # of a held-back content tail

    def feed(self, frame: SSEFrame) -> list[Event]:
        """Events that ``frame`` completes; a malformed chunk ends the stream with an error."""
        if self._done:
            return []
        data = frame.data.strip()
        if not data:
            return []
        if data == "[DONE]":
            if self._finished:
                self._done = True
                return [MessageStop()]
            return self._fail("[DONE] arrived before any finish_reason")
        try:
            chunk = loads(data)
        except InvalidPayload:
            return self._fail("a chunk is not valid JSON")
        is_obj = type(chunk) is dict  # what loads gives for an object (no ABC check per chunk)
        if frame.event == "error" or (is_obj and chunk.get("error")):
            self._done = True
            return [StreamError(error=decode_error(chunk, 0))]
        if not is_obj:
            return self._fail("a chunk is not a JSON object")
        try:
            return self._chunk(chunk)
        except InvalidPayload as exc:
            self._done = True
            return [StreamError(error=exc.error)]

    def close(self) -> list[Event]:
        """End of input: a finished stream stops (``[DONE]`` is optional), any other fails."""
        if self._done:
            return []
        if self._finished:
            self._done = True
            return [MessageStop()]
        return self._fail("the stream ended before any finish_reason")

    def _fail(self, why: str) -> list[Event]:
        self._done = True
        message = f"the chat stream ended early: {why}"
        return [StreamError(error=ApiError.of("api_error", message, source_format=FORMAT))]

    def _report(self, field: str, reason: str, action: str = "dropped") -> None:
        if field not in self._reported:
            self._reported.add(field)
            self._ctx.lose(field, reason, action)

    def _chunk(self, chunk: Mapping[str, Any]) -> list[Event]:
        raw_choices = chunk.get("choices")
        raw_usage = chunk.get("usage")
        if (
            raw_usage is None
            and self._started
            and type(raw_choices) is list
            and len(raw_choices) == 1
            and "x_groq" not in chunk
        ):
            # The chunk of nearly every token: one choice, no usage, the stream under way.
            choice = raw_choices[0]
            if type(choice) is not dict:
                choice = expect_obj(choice, "choices[0]")
            if choice.get("index", 0) != 0:
                self._report("choices", "a chat stream with several choices", "kept the first")
                return []
            plain = self._plain(choice)
            return self._choice(choice) if plain is None else plain
        choices = [] if raw_choices is None else expect_list(raw_choices, "choices")
        groq = chunk.get("x_groq")
        if raw_usage is None and isinstance(groq, Mapping):
            raw_usage = groq.get("usage")  # Groq sends streamed usage inside ``x_groq``
        usage = None if raw_usage is None else decode_usage(raw_usage, "usage")
        out: list[Event] = []
        if not self._started:
            self._preamble.update(
                (k, v) for k, v in chunk.items() if k not in _CHUNK_KEYS and v is not None
            )
            if not choices and usage is None:
                return out  # a preamble (Azure's prompt filter results): wait for the answer
            # vLLM's ``continuous_usage_stats`` counts the prompt from the first chunk on
            out.append(self._start(chunk, usage))
        else:
            self._later_fields(chunk)
        was_finished = self._finished
        if usage is not None:
            self._usage = usage if self._usage is None else self._usage.merged(usage)
        for k, raw in enumerate(choices):
            choice = expect_obj(raw, f"choices[{k}]")
            if choice.get("index", 0) != 0:
                self._report("choices", "a chat stream with several choices", "kept the first")
                continue
            out.extend(self._choice(choice))
        if usage is not None and was_finished:
            out.append(MessageDelta(usage=self._usage))
        return out

    def _later_fields(self, chunk: Mapping[str, Any]) -> None:
        """Report a chunk-level field (``moderation``…) that arrives after the first chunk:
        the first chunk's fields are carried, a later one's new value has no place (a field
        every chunk repeats with the same value says nothing new)."""
        for key, value in chunk.items():
            if key in _LATE_KEYS:  # said at the start: a new value later has no place
                if value is not None and self._first.get(key) != value:
                    self._first[key] = value
                    self._report(key, "a chat stream field after the first chunk")
                continue
            if key in _CHUNK_KEYS or key == "x_groq" or value is None:
                continue
            if self._preamble.get(key) != value:
                self._report(key, "a chat stream field after the first chunk")

    def _start(self, chunk: Mapping[str, Any], usage: Usage | None) -> MessageStart:
        self._started = True
        self._first = {key: chunk.get(key) for key in _LATE_KEYS}
        fields = dict(self._preamble)
        if isinstance(chunk.get("service_tier"), str):
            fields["_service_tier"] = chunk["service_tier"]
        if isinstance(chunk.get("system_fingerprint"), str):
            # data, not a spelling hint: a client of another format is told it is lost
            fields["system_fingerprint"] = chunk["system_fingerprint"]
        chunk_id = opt_str(chunk.get("id"), "id")
        return MessageStart(
            id=chunk_id or new_id("chatcmpl-"),
            model=opt_str(chunk.get("model"), "model") or "",
            created=opt_int(chunk.get("created"), "created"),
            usage=usage,
            extras={FORMAT: fields} if fields else {},
        )

    def _plain(self, choice: dict[str, Any]) -> list[Event] | None:
        """The hot path: a choice whose delta says one thing (role and nulls say nothing) that
        grows an open part: text, reasoning, or one fragment of an open tool call's
        arguments. Decoded as ``_choice`` decodes it, with no helper calls; ``None`` leaves
        anything else to ``_choice``."""
        delta = choice.get("delta")
        if (
            type(delta) is not dict
            or self._finished
            or choice.get("finish_reason") is not None
            or choice.get("logprobs") is not None
        ):
            return None
        said = ""  # the one field of the delta that says something
        for key, value in delta.items():
            if value is None or key == "role":
                continue
            if said:
                return None
            said = key
        if said == "tool_calls":
            calls = delta[said]
            if type(calls) is not list or len(calls) != 1:
                return None
            return self._plain_fragment(calls[0])
        grows = _PLAIN.get(said)
        value = delta.get(said)
        if grows is None or type(value) is not str:
            return None
        if said == "content" and self._think is not None and not self._think.quiet(value):
            return None  # maybe a <think> tag: ``_choice`` reads it
        if grows[0] == "thinking" and self._details is not None:
            return None  # beside open reasoning_details: ``_choice`` adds it to its entries
        index = self._slots[grows[0]]
        if index is None:
            return None
        return [PartDelta(index=index, field=grows[1], value=value)] if value else []

    def _plain_fragment(self, fragment: Any) -> list[Event] | None:
        """``_tool`` for the fragment of nearly every tool-call chunk: more arguments of an
        open function call (``{"index": i, "function": {"arguments": …}}``); ``None`` leaves
        anything else (and a fragment that may be a cumulative snapshot) to ``_tool``."""
        if type(fragment) is not dict or len(fragment) != 2:
            return None
        key = fragment.get("index")
        spec = fragment.get("function")
        if type(key) is not int or type(spec) is not dict or len(spec) != 1:
            return None
        text = spec.get("arguments")
        call = self._calls.get(key)
        if type(text) is not str or call is None or call.index is None:
            return None
        if call.size and len(text) >= call.size:
            return None  # it may repeat the arguments so far: ``_tool`` decides
        self._last_key = key
        if not text:
            return []
        call.parts.append(text)
        call.size += len(text)
        return [] if call.wrapped else [PartDelta(index=call.index, field="arguments", value=text)]

    def _choice(self, choice: Mapping[str, Any]) -> list[Event]:
        # Per token: plain lookups and exact type checks; a place name is built only for
        # an error (through the ``opt_*`` readers, which word it).
        delta = choice.get("delta")
        if type(delta) is not dict:
            delta = {} if delta is None else expect_obj(delta, "choices[0].delta")
        if self._finished:
            if any(delta.get(k) for k in _ANSWER_KEYS):
                self._report("delta", "content arrived after finish_reason")
            return []
        out: list[Event] = []
        think = self._think
        if think is not None and think.pending:  # a tail held back came before a call
            out.extend(self._content(think.before(delta), ()))
        slots = self._slots
        details = delta.get("reasoning_details")
        if details:  # OpenRouter: its plain ``reasoning`` beside it is the same text
            out.extend(self._reason_details(details))
        value = None if details else delta.get("reasoning_content")
        if value is not None and type(value) is not str:
            opt_str(value, "choices[0].delta.reasoning_content")
        if not value and not details:
            # vLLM in transition sends both spellings of the same text: the second is read
            # only when the first says nothing.
            value = delta.get("reasoning")
            if value is not None and type(value) is not str:
                opt_str(value, "choices[0].delta.reasoning")
        if value:
            index = slots["thinking"]
            if index is None:
                out.extend(self._grow("thinking", value))
            elif self._details is not None:  # beside open reasoning_details: one of its entries
                out.extend(self._reason_details([{"type": "reasoning.text", "text": value}]))
            else:
                out.append(PartDelta(index=index, field="thinking", value=value))
        value = delta.get("content")
        if value is not None and type(value) is not str:
            opt_str(value, "choices[0].delta.content")
        scores = chunk_text_logprobs(choice.get("logprobs"))
        if value and think is not None and not think.quiet(value):
            out.extend(self._content(think.feed(value), scores))
            scores = ()
        elif value:
            index = slots["text"]
            if index is None:
                out.extend(self._grow("text", value, scores))
            else:
                out.append(PartDelta(index=index, field="text", value=value, logprobs=scores))
            scores = ()  # carried
        value = delta.get("refusal")
        if value is not None:
            if type(value) is not str:
                opt_str(value, "choices[0].delta.refusal")
            if value:
                self._refused = True  # a ``stop`` finish then says ``refusal``
                out.extend(self._grow("refusal", value))
        calls = delta.get("tool_calls")
        if calls is not None:
            if type(calls) is not list:
                expect_list(calls, "choices[0].delta.tool_calls")
            for k, call in enumerate(calls):
                out.extend(self._tool(call, k))
        legacy = delta.get("function_call")
        if legacy is not None and isinstance(legacy, Mapping):
            raw = {"index": "function_call", "type": "function", "function": legacy}
            out.extend(self._tool(raw, None))
        annotations = delta.get("annotations")
        if annotations is not None:
            out.extend(self._cite(expect_list(annotations, "choices[0].delta.annotations")))
        if delta.get("audio") is not None:
            self._report("audio", "streamed audio is not carried")
        if scores or chunk_scores_refusal(choice.get("logprobs")):
            # only the log probabilities of text travel (PartDelta.logprobs)
            self._report("logprobs", "streamed logprobs of a refusal or no text are not carried")
        finish = choice.get("finish_reason")
        if finish is not None:
            out.extend(
                self._finish(
                    opt_str(finish, "choices[0].finish_reason") or "", choice.get("stop_reason")
                )
            )
        return out

    def _reason_details(self, raw: Any) -> list[Event]:
        """``reasoning_details`` fragments: the thinking part they open (even with no text)."""
        out: list[Event] = []
        index = self._slots["thinking"]
        if index is None or self._details is None:
            out.extend(self._close_single())
            self._slots["thinking"] = index = self._open_part()
            self._details = DetailsStream()
            out.append(PartStart(index=index, part=ThinkingPart(text="")))
        out.extend(self._details.feed(raw, index, "choices[0].delta.reasoning_details"))
        return out

    def _content(
        self, pieces: list[tuple[bool, str]], scores: tuple[Mapping[str, Any], ...]
    ) -> list[Event]:
        """Content through the ``<think>`` splitter; scores of a held-back tail wait for it."""
        if self._held_scores:
            scores, self._held_scores = (*self._held_scores, *scores), ()
        out: list[Event] = []
        for thinking, text in pieces:
            if thinking:
                out.extend(self._grow("think", text))
            else:
                out.extend(self._grow("text", text, scores))
                scores = ()
        if scores and self._think is not None and self._think.pending:
            self._held_scores = scores
        elif scores:
            self._report("logprobs", "streamed logprobs of reasoning in <think> tags")
        return out

    def _grow(
        self, kind: str, value: str, logprobs: tuple[Mapping[str, Any], ...] = ()
    ) -> list[Event]:
        out: list[Event] = []
        index = self._slots[kind]
        if index is None:
            out.extend(self._close_single())
            index = self._open_part()
            self._slots[kind] = index
            out.append(PartStart(index=index, part=_SINGLE[kind][0]()))
        out.append(PartDelta(index=index, field=_SINGLE[kind][1], value=value, logprobs=logprobs))
        return out

    def _open_part(self) -> int:
        index = self._next
        self._next += 1
        self._open.append(index)
        return index

    def _close_single(self) -> list[Event]:
        """Stop the open text, thinking or refusal part (a new kind of part begins)."""
        out: list[Event] = []
        for kind, index in self._slots.items():
            if index is not None:
                self._open.remove(index)
                final = None
                if kind == "thinking" and self._details is not None:
                    final, self._details = self._details.part(), None  # whole entries
                out.append(PartStop(index=index, part=final))
                self._slots[kind] = None
        return out

    def _key(self, call: Mapping[str, Any]) -> Any:
        """The call a fragment belongs to: its ``index``, or for servers that send none, a new
        call when a new id appears and the last call otherwise."""
        index = call.get("index")
        if isinstance(index, int | str) and not isinstance(index, bool):
            return index
        fresh = call.get("id")
        last = self._calls.get(self._last_key)
        if last is not None and (not fresh or fresh == last.id):
            return self._last_key
        return f"call{len(self._order)}"

    def _tool(self, raw: Any, k: int | None) -> list[Event]:
        """One ``tool_calls`` fragment (``k``: its position; ``None``: the legacy
        ``function_call``)."""
        fragment = raw if type(raw) is dict else expect_obj(raw, _call_where(k))
        key = self._key(fragment)
        custom = fragment.get("type") == "custom" or (
            "custom" in fragment and "function" not in fragment
        )
        kind: Literal["function", "custom"] = "custom" if custom else "function"
        spec = fragment.get(kind)
        if type(spec) is not dict:
            spec = {} if spec is None else expect_obj(spec, f"{_call_where(k)}.{kind}")
        name = spec.get("name")
        if name is not None and type(name) is not str:
            opt_str(name, f"{_call_where(k)}.{kind}.name")
        text_key = "input" if custom else "arguments"
        text = spec.get(text_key)
        if text is not None and type(text) is not str:
            opt_str(text, f"{_call_where(k)}.{kind}.{text_key}")
        call_id = fragment.get("id")
        if call_id is not None and type(call_id) is not str:
            opt_str(call_id, f"{_call_where(k)}.id")
        call = self._calls.get(key)
        if call is not None and call_id and call.real_id and call_id != call.id:
            call = None  # the index was reused for the next call (seen from some servers)
        out: list[Event] = []
        if call is None:
            out.extend(self._close_single())
            call = _Call(kind)
            self._calls[key] = call
            self._order.append(call)
        self._last_key = key
        if call_id and not call.real_id:
            call.id, call.real_id = call_id, True
        if name and not call.name:
            call.name = name
        new = ""
        if text:
            # A cumulative snapshot repeats all that came before: keep only the new suffix.
            # (Only a fragment at least as long as the arguments so far can repeat them.)
            new = text
            if kind == "function" and call.size and len(text) >= call.size:
                so_far = call.args
                if text.startswith(so_far) and json_prefix(text):
                    new = text[call.size :]
            if new:
                call.parts.append(new)
                call.size += len(new)
        if call.index is None:
            if call.name:
                out.extend(self._open_call(call))
        elif new and not call.wrapped:
            out.append(PartDelta(index=call.index, field="arguments", value=new))
        return out

    def _open_call(self, call: _Call) -> list[Event]:
        if call.id is None:
            call.id = new_id("call_")
        call.index = self._open_part()
        call.announced_id = call.id
        call.wrapped = call.kind == "function" and call.name in self._wrapped
        kind: Literal["function", "custom"] = "custom" if call.wrapped else call.kind
        part = ToolCallPart(id=call.id, name=call.name, arguments="", kind=kind)
        out: list[Event] = [PartStart(index=call.index, part=part)]
        if call.args and not call.wrapped:  # a wrapped call's input waits for its end
            out.append(PartDelta(index=call.index, field="arguments", value=call.args))
        return out

    def _cite(self, annotations: Sequence[Any]) -> list[Event]:
        index = self._slots["text"]
        if index is None:
            self._report("annotations", "annotations arrived with no text to attach them to")
            return []
        return [
            PartDelta(
                index=index,
                field="citation",
                citation=decode_annotation(a, f"choices[0].delta.annotations[{k}]"),
            )
            for k, a in enumerate(annotations)
        ]

    def _finish(self, finish: str, stop_string: Any) -> list[Event]:
        out: list[Event] = []
        if self._think is not None:
            out.extend(self._content(self._think.flush(), ()))  # a tag cut by the end: text
        for call in self._order:
            if call.index is None:
                self._ctx.lose(
                    "tool_calls.function.name", "the upstream never sent the tool's name", "empty"
                )
                out.extend(self._open_call(call))
        out.extend(self._close_single())
        by_index = {c.index: c for c in self._order}
        for index in sorted(self._open):
            opened = by_index.get(index)
            final = None
            if opened is not None and opened.wrapped:
                whole = unwrap_call(
                    ToolCallPart(id=opened.id or "", name=opened.name, arguments=opened.args),
                    self._wrapped,
                )
                if whole.arguments:
                    out.append(PartDelta(index=index, field="arguments", value=whole.arguments))
                if opened.id != opened.announced_id:
                    final = whole
            elif opened is not None and opened.id != opened.announced_id:
                final = ToolCallPart(
                    id=opened.id or "", name=opened.name, arguments=opened.args, kind=opened.kind
                )
            out.append(PartStop(index=index, part=final))
        self._open.clear()
        self._finished = True
        stop = stop_for(finish, bool(self._order), stop_string, has_refusal=self._refused)
        sequence = stop_string if isinstance(stop_string, str) else None
        out.append(MessageDelta(stop_reason=stop, stop_sequence=sequence, usage=self._usage))
        return out


def _call_where(k: int | None) -> str:
    """Where a tool-call fragment sits, for an error message."""
    if k is None:
        return "choices[0].delta.function_call"
    return f"choices[0].delta.tool_calls[{k}]"
