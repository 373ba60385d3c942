"""The canonical model: one superset of the four wire formats — requests, content parts,
responses, usage and stream events.

Every codec decodes its wire format into these values and encodes from them (the docs page
"The canonical model" gives the conventions). The model keeps what any format can say
(thinking signatures, redacted thinking, encrypted reasoning, cache control, citations,
documents, server-tool blocks, refusals, logprobs) and, per format, the fields it does not
understand (``extras``), so that a same-format round trip is lossless. Use it one level below
the ``convert_*`` functions, for instance to look at a stream as events::

    from apibridge.codecs import Context, get_codec
    from apibridge.model import PartDelta, accumulate

    codec = get_codec("chat")
    decoder = codec.StreamDecoder(Context())
    events = [event for frame in frames for event in decoder.feed(frame)] + decoder.close()
    answer = accumulate(events)

Design rules (see STYLE.md):

* values are ``attrs.frozen(kw_only=True)``, complete when built, tuples rather than lists;
* opaque JSON (schemas, tool arguments, unknown fields) is carried as plain ``dict``/``str``
  and never structured: type what is translated, not what is carried;
* ``None`` means *unknown*: usage numbers are never invented.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeAlias

import attrs

__all__ = [
    "STOP_REASONS",
    "Citation",
    "ContentPart",
    "DocumentPart",
    "Event",
    "Extras",
    "ImagePart",
    "Message",
    "MessageDelta",
    "MessageStart",
    "MessageStop",
    "OutputFormat",
    "PartDelta",
    "PartStart",
    "PartStop",
    "Ping",
    "ReasoningConfig",
    "RedactedThinkingPart",
    "RefusalPart",
    "Request",
    "Response",
    "ServerToolPart",
    "StopReason",
    "StreamError",
    "TextPart",
    "ThinkingPart",
    "Tool",
    "ToolCallPart",
    "ToolChoice",
    "ToolResultPart",
    "Usage",
    "accumulate",
]

JSON: TypeAlias = Any
"""Any JSON value, carried opaquely."""

Extras: TypeAlias = Mapping[str, Mapping[str, JSON]]
"""Unknown fields per wire format: ``{"chat": {"seed": 3}}``.

Only the codec of that format reads them back; a codec of another format reports each key
as a loss (``ConversionWarning``) instead of dropping it silently.
"""


StopReason: TypeAlias = str
"""Why the model stopped, in canonical words.

``end_turn``, ``max_tokens``, ``stop_sequence``, ``tool_use``, ``pause_turn``, ``refusal``,
``content_filter``, ``context_window_exceeded``, ``error``; any other string is an upstream
value this version does not know, passed on with a warning by the encoders.
"""

STOP_REASONS: frozenset[str] = frozenset(
    {
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "content_filter",
        "context_window_exceeded",
        "error",
    }
)


# --------------------------------------------------------------------------------- content


@attrs.frozen(kw_only=True)
class Citation:
    """A source the text cites: an Anthropic citation or an OpenAI annotation.

    ``kind`` is the source's own type (``url_citation``, ``char_location``,
    ``web_search_result_location``, ``file_citation`` …); ``raw`` keeps the whole original
    object so that a same-format trip restores it exactly.
    """

    kind: str
    url: str | None = None
    title: str | None = None
    cited_text: str | None = None
    start_index: int | None = None
    end_index: int | None = None
    raw: Mapping[str, JSON] = attrs.field(factory=dict)
    source_format: str | None = None


@attrs.frozen(kw_only=True)
class TextPart:
    """Plain text, with the citations that annotate it."""

    text: str
    citations: tuple[Citation, ...] = ()
    cache_control: Mapping[str, JSON] | None = None
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ImagePart:
    """An image, by URL, by base64 data (``media_type`` + ``data``) or by uploaded file id."""

    url: str | None = None
    media_type: str | None = None
    data: str | None = None
    file_id: str | None = None
    detail: str | None = None
    cache_control: Mapping[str, JSON] | None = None
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class DocumentPart:
    """A document (PDF, plain text, any file): base64 ``data``, ``url``, ``text`` or ``file_id``."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    text: str | None = None
    file_id: str | None = None
    filename: str | None = None
    title: str | None = None
    context: str | None = None
    citations_enabled: bool | None = None
    cache_control: Mapping[str, JSON] | None = None
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ToolCallPart:
    """A call the model makes to a client tool.

    ``arguments`` is the raw JSON text of the arguments for ``kind="function"``, or the
    free-form input of a Responses ``custom`` tool for ``kind="custom"``. It is kept as text
    so that the exact bytes survive (no re-serialisation). ``kind="tool_search"``: a call of
    a client-executed tool search (Responses ``tool_search_call``; see :class:`Tool`).
    """

    id: str
    name: str
    arguments: str
    kind: Literal["function", "custom", "tool_search"] = "function"
    item_id: str | None = None
    #: the Responses ``namespace`` of the called tool (see :attr:`Tool.namespace`).
    namespace: str | None = None
    cache_control: Mapping[str, JSON] | None = None
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ToolResultPart:
    """The client's answer to a tool call, in a user turn; ``kind="tool_search"``: a
    Responses ``tool_search_output``, its text naming the tools it loaded (see :class:`Tool`)."""

    call_id: str
    content: tuple[TextPart | ImagePart | DocumentPart, ...] = ()
    is_error: bool = False
    kind: Literal["function", "custom", "tool_search"] = "function"
    cache_control: Mapping[str, JSON] | None = None
    extras: Extras = attrs.field(factory=dict)

    @property
    def text(self) -> str:
        """The text parts of the result, joined (what a text-only target receives)."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@attrs.frozen(kw_only=True)
class ThinkingPart:
    """Model reasoning: Claude ``thinking``, Chat ``reasoning_content``, Responses ``reasoning``.

    Native opaque values stay native: ``signature`` is an Anthropic signature,
    ``encrypted_content`` (with ``id``) is OpenAI's encrypted reasoning. Codecs wrap a value
    that their format cannot hold in the reasoning envelope (see ``apibridge.envelope``) and
    unwrap it on the way back, so each value returns byte for byte to its own kind of upstream.
    ``summary`` holds Responses reasoning summaries; ``text`` the full reasoning text.
    """

    text: str = ""
    signature: str | None = None
    encrypted_content: str | None = None
    id: str | None = None
    summary: tuple[str, ...] = ()
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class RedactedThinkingPart:
    """Claude ``redacted_thinking``: encrypted reasoning only Anthropic can read."""

    data: str
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class RefusalPart:
    """An OpenAI refusal (the model declined; text explains why)."""

    text: str
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ServerToolPart:
    """A server-side tool block: Anthropic ``server_tool_use`` / ``web_search_tool_result``,
    Responses ``web_search_call`` and the like.

    ``kind`` is the block's own type, ``raw`` the whole original block (carried opaquely).
    ``tool`` names the canonical tool (``web_search``) where one is known.
    """

    kind: str
    raw: Mapping[str, JSON]
    source_format: str
    tool: str | None = None
    id: str | None = None


ContentPart: TypeAlias = (
    TextPart
    | ImagePart
    | DocumentPart
    | ToolCallPart
    | ToolResultPart
    | ThinkingPart
    | RedactedThinkingPart
    | RefusalPart
    | ServerToolPart
)


@attrs.frozen(kw_only=True)
class Message:
    """One turn of the conversation.

    ``role`` is ``user``, ``assistant``, ``system`` or ``developer``. Tool results are
    :class:`ToolResultPart` values inside a ``user`` message (as in Claude); the Chat and
    Responses codecs split and merge them. A ``system``/``developer`` message only appears
    here when it is *not* leading (leading ones go to ``Request.system``).
    """

    role: str
    content: tuple[ContentPart, ...]
    name: str | None = None
    extras: Extras = attrs.field(factory=dict)


# --------------------------------------------------------------------------------- request


@attrs.frozen(kw_only=True)
class Tool:
    """A tool the model may call.

    ``kind`` is ``function`` (JSON-schema ``parameters``), ``custom`` (Responses free-form,
    optional grammar ``format``) or ``server`` (a provider-run tool such as web search:
    ``server_type`` gives its canonical name, ``raw`` the original definition).

    ``namespace`` names the Responses ``namespace`` tool the tool is a member of (Codex groups
    an MCP server's tools so); ``namespace_description`` is that namespace's description.
    Members of one namespace are consecutive in ``Request.tools``. Formats without namespaces
    get each member as a plain tool under a flattened name (see ``apibridge.ToolNames``).
    ``kind="tool_search"``: Codex's client-run Responses ``tool_search``, a function where the
    target has none. ``defer_loading``: the tool is loaded only when a tool search finds it.
    """

    name: str
    kind: Literal["function", "custom", "server", "tool_search"] = "function"
    namespace: str | None = None
    namespace_description: str | None = None
    description: str | None = None
    parameters: Mapping[str, JSON] | None = None
    strict: bool | None = None
    format: Mapping[str, JSON] | None = None
    server_type: str | None = None
    raw: Mapping[str, JSON] | None = None
    source_format: str | None = None
    defer_loading: bool | None = None
    cache_control: Mapping[str, JSON] | None = None
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ToolChoice:
    """Which tools the model may or must call.

    ``mode``: ``auto`` (may), ``any`` (must call some tool; OpenAI ``required``), ``none``,
    ``tool`` (must call ``name``). ``allowed`` restricts the set (OpenAI ``allowed_tools``).
    """

    mode: Literal["auto", "any", "none", "tool"] = "auto"
    name: str | None = None
    allowed: tuple[str, ...] | None = None
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ReasoningConfig:
    """Reasoning settings.

    ``mode``: ``enabled`` (with ``budget_tokens`` and/or ``effort``), ``adaptive`` (the model
    decides), ``disabled``. ``effort`` is ``minimal``/``low``/``medium``/``high``/``xhigh``;
    ``summary`` the Responses summary setting.
    """

    mode: Literal["enabled", "adaptive", "disabled"] = "enabled"
    budget_tokens: int | None = None
    effort: str | None = None
    summary: str | None = None


@attrs.frozen(kw_only=True)
class OutputFormat:
    """Structured output: ``text``, ``json_object`` or ``json_schema`` (``name``, ``schema``)."""

    kind: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: Mapping[str, JSON] | None = None
    strict: bool | None = None
    description: str | None = None


@attrs.frozen(kw_only=True)
class Request:
    """A client request in canonical form."""

    model: str
    messages: tuple[Message, ...]
    system: tuple[TextPart, ...] = ()
    system_role: str = "system"
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    reasoning: ReasoningConfig | None = None
    output_format: OutputFormat | None = None
    user: str | None = None
    metadata: Mapping[str, JSON] | None = None
    stream: bool = False
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    extras: Extras = attrs.field(factory=dict)


# -------------------------------------------------------------------------------- response


@attrs.frozen(kw_only=True)
class Usage:
    """Token counts with Anthropic semantics for input; ``None`` where unknown.

    ``input_tokens`` *excludes* cache reads and writes (Anthropic's meaning). OpenAI's
    ``prompt_tokens``/``input_tokens`` include cached tokens: that is :attr:`total_input`.
    ``reasoning_tokens`` are part of ``output_tokens``.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    extras: Extras = attrs.field(factory=dict)

    @property
    def total_input(self) -> int | None:
        """All prompt tokens, cached or not (OpenAI's ``prompt_tokens``)."""
        if self.input_tokens is None:
            return None
        return self.input_tokens + (self.cache_read_tokens or 0) + (self.cache_write_tokens or 0)

    @property
    def total(self) -> int | None:
        """Input (all of it) plus output, when both are known."""
        total_in = self.total_input
        if total_in is None or self.output_tokens is None:
            return None
        return total_in + self.output_tokens

    def merged(self, newer: Usage | None) -> Usage:
        """This usage updated with the known numbers of ``newer``."""
        if newer is None:
            return self
        return Usage(
            input_tokens=_pick(newer.input_tokens, self.input_tokens),
            output_tokens=_pick(newer.output_tokens, self.output_tokens),
            cache_read_tokens=_pick(newer.cache_read_tokens, self.cache_read_tokens),
            cache_write_tokens=_pick(newer.cache_write_tokens, self.cache_write_tokens),
            reasoning_tokens=_pick(newer.reasoning_tokens, self.reasoning_tokens),
            extras={**self.extras, **newer.extras},
        )

    @classmethod
    def from_openai(
        cls,
        prompt_tokens: int | None,
        output_tokens: int | None,
        cached_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        cache_write_tokens: int | None = None,
    ) -> Usage:
        """Build from OpenAI numbers, where the prompt count includes cached tokens."""
        uncached = None
        if prompt_tokens is not None:
            uncached = max(prompt_tokens - (cached_tokens or 0) - (cache_write_tokens or 0), 0)
        return cls(
            input_tokens=uncached,
            output_tokens=output_tokens,
            cache_read_tokens=cached_tokens,
            cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens,
        )


def _pick(new: int | None, old: int | None) -> int | None:
    return old if new is None else new


@attrs.frozen(kw_only=True)
class Response:
    """A complete (non-streamed) model answer."""

    id: str
    model: str
    content: tuple[ContentPart, ...]
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None
    created: int | None = None
    extras: Extras = attrs.field(factory=dict)


# ---------------------------------------------------------------------------------- events


@attrs.frozen(kw_only=True)
class MessageStart:
    """The answer begins. ``usage`` holds what is known this early (often the input)."""

    id: str
    model: str
    usage: Usage | None = None
    created: int | None = None
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class PartStart:
    """A content part opens at ``index`` (0, 1, 2 … in order of opening).

    ``part`` carries what is known at the start: a tool call's id and name with empty
    ``arguments``, an empty text, a thinking part with no text yet. Parts may interleave
    (parallel tool calls in Chat): deltas name the part they extend.
    """

    index: int
    part: ContentPart


@attrs.frozen(kw_only=True)
class PartDelta:
    """More of the part at ``index``. ``field`` says what grows: ``text`` (text, refusal),
    ``arguments`` (tool call JSON or custom input), ``thinking`` (reasoning text), ``signature``
    (thinking signature, set whole), ``summary`` (a Responses reasoning summary text;
    ``summary_index`` says which), ``citation`` (a whole ``citation``). ``logprobs`` scores a text
    delta's tokens (Chat's shape).
    """

    index: int
    field: Literal["text", "arguments", "thinking", "signature", "summary", "citation"]
    value: str = ""
    citation: Citation | None = None
    summary_index: int = 0
    logprobs: tuple[Mapping[str, JSON], ...] = ()


@attrs.frozen(kw_only=True)
class PartStop:
    """The part at ``index`` is complete.

    ``part`` is its final value where the decoder has it (Responses ``output_item.done``);
    otherwise ``None`` and the accumulated deltas are the value.
    """

    index: int
    part: ContentPart | None = None


@attrs.frozen(kw_only=True)
class MessageDelta:
    """The stop reason and/or usage became known (may come more than once)."""

    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None
    extras: Extras = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class MessageStop:
    """The answer is complete."""


@attrs.frozen(kw_only=True)
class Ping:
    """A keep-alive with no content."""


@attrs.frozen(kw_only=True)
class StreamError:
    """The stream failed; ``error`` is an :class:`apibridge.errors.ApiError`."""

    error: Any


Event: TypeAlias = (
    MessageStart
    | PartStart
    | PartDelta
    | PartStop
    | MessageDelta
    | MessageStop
    | Ping
    | StreamError
)


# ------------------------------------------------------------------------------ accumulate


def _grow(part: ContentPart, delta: PartDelta) -> ContentPart:
    """``part`` extended by ``delta`` (pure; used by :func:`accumulate` and encoders)."""
    field, value = delta.field, delta.value
    if isinstance(part, TextPart):
        if field == "citation" and delta.citation is not None:
            return attrs.evolve(part, citations=(*part.citations, delta.citation))
        return attrs.evolve(part, text=part.text + value)
    if isinstance(part, RefusalPart):
        return attrs.evolve(part, text=part.text + value)
    if isinstance(part, ToolCallPart):
        return attrs.evolve(part, arguments=part.arguments + value)
    if isinstance(part, ThinkingPart):
        if field == "signature":
            return attrs.evolve(part, signature=(part.signature or "") + value)
        if field == "summary":
            summary = list(part.summary)
            while len(summary) <= delta.summary_index:
                summary.append("")
            summary[delta.summary_index] += value
            return attrs.evolve(part, summary=tuple(summary))
        return attrs.evolve(part, text=part.text + value)
    return part


def accumulate(events: Iterable[Event]) -> Response:
    """Fold a canonical event stream into the :class:`Response` it describes.

    Raises :class:`apibridge.errors.UpstreamError` when the stream carries a
    :class:`StreamError`, and :class:`apibridge.errors.InvalidPayload` when it never started.
    """
    from apibridge.errors import InvalidPayload, UpstreamError

    start: MessageStart | None = None
    parts: dict[int, ContentPart] = {}
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None
    extras: dict[str, Mapping[str, JSON]] = {}
    for event in events:
        if isinstance(event, MessageStart):
            start = event
            usage = event.usage
            extras.update(event.extras)
        elif isinstance(event, PartStart):
            parts[event.index] = event.part
        elif isinstance(event, PartDelta):
            if event.index in parts:
                parts[event.index] = _grow(parts[event.index], event)
        elif isinstance(event, PartStop):
            if event.part is not None:
                parts[event.index] = event.part
        elif isinstance(event, MessageDelta):
            stop_reason = event.stop_reason or stop_reason
            stop_sequence = event.stop_sequence or stop_sequence
            usage = event.usage if usage is None else usage.merged(event.usage)
            extras.update(event.extras)
        elif isinstance(event, StreamError):
            raise UpstreamError(event.error)
    if start is None:
        raise InvalidPayload("the stream ended before the message started")
    return Response(
        id=start.id,
        model=start.model,
        content=tuple(parts[i] for i in sorted(parts)),
        stop_reason=stop_reason,
        stop_sequence=stop_sequence,
        usage=usage,
        created=start.created,
        extras=extras,
    )
