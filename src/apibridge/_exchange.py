"""One client request and its answer, from a client format to an upstream format.

Theory of operation
-------------------
:class:`Exchange` is what the public ``convert_*`` functions and the server use. It is built
once, whole, by :meth:`Exchange.from_client`: the client's body is decoded into the canonical
request, an optional *policy* (the gateway's rename, beta fields, limits …) turns it into the
request the upstream gets, and only then is the reversible tool-name mapping
(:class:`ToolNames`) computed from that final request, for upstreams whose names are stricter
than the client's (OpenAI's 64 characters against Claude Code's long MCP names). The exchange
is frozen: nothing patches it afterwards. The codec context keeps the client's own decoded
request (``ctx.request``), which the answer's translation reads (stop sequences, tools, the
model name the client asked for).

Tool names are restored in exactly one place per kind of answer: :meth:`Exchange.decode_response`
and :meth:`Exchange.restore_response` for whole responses, and the :class:`EventDecoder` of
:meth:`Exchange.stream_decoder` for streams (wire frames in, client-named events out; or
canonical events from a transport that makes its own, through :meth:`EventDecoder.restore`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from apibridge._loss_words import in_client_words
from apibridge._sse import SSEDecoder, SSEFrame
from apibridge.codecs import Codec, Context, StreamDecoder, get_codec
from apibridge.codecs._error_bodies import is_error_answer
from apibridge.codecs._profiles import Profile
from apibridge.codecs._tool_search import flat_tool_name
from apibridge.codecs.gemini._parts import TEXT_SIGNATURE
from apibridge.codecs.gemini._response import answer_failure as gemini_failure
from apibridge.codecs.gemini._response import failure_of
from apibridge.codecs.responses import answer_failure
from apibridge.errors import ApiError, InvalidPayload, Loss, UpstreamError
from apibridge.model import (
    ContentPart,
    Event,
    MessageDelta,
    PartStart,
    PartStop,
    Request,
    Response,
    StreamError,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
)

__all__ = ["EventDecoder", "Exchange", "RequestPolicy", "StreamTranslator", "ToolNames"]

#: turns the decoded client request into the one the upstream gets, recording each change
#: in the context (the gateway's request policies).
RequestPolicy = Callable[[Request, Context], Request]


@attrs.frozen
class ToolNames:
    """A reversible map between client tool names and the names an upstream accepts.

    For an upstream without tool namespaces (``TOOL_NAMESPACES`` false: Anthropic, Chat,
    backboard), each member of a Responses ``namespace`` tool becomes a plain tool named
    :func:`flat_tool_name` (``<namespace>__<name>``, shortened like any other name the target
    rejects), calls in the history are sent under that name, and calls in the answer get their
    ``namespace`` and ``name`` back.

    Such an upstream has no client-executed tool search either: the client's ``tool_search``
    tool (``Tool(kind="tool_search")``) is sent as the function it is, and the upstream's
    calls of that function become tool-search calls again (:attr:`searches`).
    """

    to_upstream: Mapping[str, str] = attrs.field(factory=dict)
    to_client: Mapping[str, str] = attrs.field(factory=dict)
    #: ``(namespace, client name)`` → the upstream's flat name, for an upstream without namespaces.
    flat: Mapping[tuple[str, str], str] = attrs.field(factory=dict)
    #: upstream flat name → the client's namespace (its name is in :attr:`to_client`).
    namespaces: Mapping[str, str] = attrs.field(factory=dict)
    #: upstream names of the client's tool-search tools (also in :attr:`to_client`).
    searches: frozenset[str] = frozenset()

    @classmethod
    def for_target(cls, request: Request, target: Codec) -> ToolNames:
        """Shorten or sanitise every name ``target`` would reject; keep the others; flatten
        namespaced tools for a target without namespaces."""
        # Hot path (every request): each name is checked once, and only the few a target
        # rejects are sorted (the map's order) and shortened.
        names: set[str] = set()
        members: set[tuple[str, str]] = set()
        searches: set[str] = set()
        flatten = not target.TOOL_NAMESPACES
        for tool in request.tools:
            if tool.kind != "server":
                if tool.kind == "tool_search" and flatten:
                    searches.add(tool.name)
                if tool.namespace is not None and flatten:
                    members.add((tool.namespace, tool.name))
                else:
                    names.add(tool.name)
        for message in request.messages:
            for part in message.content:
                if isinstance(part, ToolCallPart):
                    if part.namespace is not None and flatten:
                        members.add((part.namespace, part.name))
                    else:
                        names.add(part.name)
        if not names and not members:
            return _NO_NAMES
        limit, allowed = target.TOOL_NAME_MAX, target.TOOL_NAME_RE.fullmatch
        rejected = [n for n in names if len(n) > limit or not allowed(n)]
        if not rejected and not members and not searches:
            return _NO_NAMES
        forward = {name: _shorten(name, target) for name in sorted(rejected)}
        back = {v: k for k, v in forward.items()}
        flat: dict[tuple[str, str], str] = {}
        namespaces: dict[str, str] = {}
        if members:
            taken = {forward.get(n, n) for n in names}
            for namespace, name in sorted(members):
                joined = flat_tool_name(namespace, name)
                upstream = _shorten(joined, target)
                if upstream in taken:  # a plain tool already has that name
                    upstream = _shorten(joined, target, force=True)
                taken.add(upstream)
                flat[(namespace, name)] = upstream
                back[upstream] = name
                namespaces[upstream] = namespace
        found = frozenset(forward.get(n, n) for n in searches)
        for name in searches:
            back.setdefault(forward.get(name, name), name)
        return cls(forward, back, flat, namespaces, found)

    @property
    def upstream_names(self) -> dict[str, str]:
        """Client name → upstream name, for the codecs (``Context.upstream_names``); a
        namespace member is listed under its own name unless a plain tool has that name."""
        if not self.flat:
            return dict(self.to_upstream)
        return {**{name: up for (_, name), up in self.flat.items()}, **self.to_upstream}

    def rename_request(self, request: Request) -> Request:
        """``request`` with every tool name as the upstream must see it."""
        if not self.to_upstream and not self.flat:
            return request
        tools = tuple(self._tool(t) for t in request.tools)
        messages = tuple(
            attrs.evolve(m, content=tuple(self._upstream_part(p) for p in m.content))
            for m in request.messages
        )
        up = self.to_upstream
        choice = request.tool_choice
        if choice is not None and self.flat:
            # A choice names a tool by its name alone: a namespace member's name means the
            # member unless a plain tool has that name.
            plain = {t.name: up.get(t.name, t.name) for t in request.tools if t.namespace is None}
            up = {**{name: flat for (_, name), flat in self.flat.items()}, **plain}
        if choice is not None and (choice.name or choice.allowed):
            choice = ToolChoice(
                mode=choice.mode,
                name=up.get(choice.name, choice.name) if choice.name else None,
                allowed=tuple(up.get(n, n) for n in choice.allowed) if choice.allowed else None,
                extras=choice.extras,
            )
        return attrs.evolve(request, tools=tools, messages=messages, tool_choice=choice)

    def _tool(self, tool: Tool) -> Tool:
        if tool.kind == "server":
            return tool
        if tool.namespace is not None and self.flat:
            flat = self.flat.get((tool.namespace, tool.name))
            if flat is not None:
                about, description = tool.namespace_description, tool.description
                if about:  # the namespace's description, said once per member
                    description = about if not description else f"{about}\n\n{description}"
                return attrs.evolve(
                    tool,
                    name=flat,
                    namespace=None,
                    namespace_description=None,
                    description=description,
                )
        name = self.to_upstream.get(tool.name)
        return tool if name is None else attrs.evolve(tool, name=name)

    def _upstream_part(self, part: ContentPart) -> ContentPart:
        if not isinstance(part, ToolCallPart):
            return part
        if part.namespace is not None and self.flat:
            flat = self.flat.get((part.namespace, part.name))
            if flat is not None:
                return attrs.evolve(part, name=flat, namespace=None)
        name = self.to_upstream.get(part.name)
        return part if name is None else attrs.evolve(part, name=name)

    def restore_response(self, response: Response) -> Response:
        """``response`` with the client's own tool names back."""
        if not self.to_client:
            return response
        content = tuple(self._client_part(p) for p in response.content)
        return attrs.evolve(response, content=content)

    def restore_event(self, event: Event) -> Event:
        """``event`` with the client's own tool names back."""
        if not self.to_client:
            return event
        if isinstance(event, PartStart):
            return attrs.evolve(event, part=self._client_part(event.part))
        if isinstance(event, PartStop) and event.part is not None:
            return attrs.evolve(event, part=self._client_part(event.part))
        return event

    def _client_part(self, part: ContentPart) -> ContentPart:
        if isinstance(part, ToolCallPart) and part.name in self.to_client:
            namespace = self.namespaces.get(part.name)
            if namespace is not None:
                return attrs.evolve(part, name=self.to_client[part.name], namespace=namespace)
            if part.name in self.searches and part.kind == "function":
                return attrs.evolve(part, name=self.to_client[part.name], kind="tool_search")
            return attrs.evolve(part, name=self.to_client[part.name])
        return part


#: the map of a request whose every tool name the upstream accepts (frozen: one serves all).
_NO_NAMES: Final = ToolNames()


def _shorten(name: str, target: Codec, *, force: bool = False) -> str:
    """A deterministic, collision-resistant name that ``target`` accepts (``force``: with the
    digest even when the name is accepted as it is)."""
    clean = "".join(c if target.TOOL_NAME_RE.fullmatch(c) else "_" for c in name)
    if len(clean) <= target.TOOL_NAME_MAX and clean == name and not force:
        return clean
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return clean[: target.TOOL_NAME_MAX - 9] + "_" + digest


@attrs.frozen
class Exchange:
    """Translate one request from ``client`` format to ``upstream`` format, and its answer back.

    Build it with :meth:`from_client`; read :attr:`losses` for what could not be carried.
    """

    client: Codec
    upstream: Codec
    #: the canonical request as the upstream gets it (policies applied), client tool names.
    request: Request
    names: ToolNames
    ctx: Context

    @classmethod
    def from_client(
        cls,
        body: Mapping[str, Any],
        *,
        client: str,
        upstream: str,
        strict: bool = False,
        losses: list[Loss] | None = None,
        policy: RequestPolicy | None = None,
        claude_models: Sequence[tuple[str, Mapping[str, Any]]] = (),
        cache_breakpoints: bool | None = None,
        reasoning_efforts: tuple[str, ...] | None = None,
        reasoning_field: str | None = None,
        profile: Profile | None = None,
    ) -> Exchange:
        """Decode the client's request ``body`` (in format ``client``).

        ``policy``, when given, turns the decoded request into the one the upstream gets
        (recording its changes in the context) before the exchange is built.
        ``claude_models`` overrides the Claude model table for this upstream
        (:func:`apibridge.codecs._claude_models.overrides_from_options`).
        ``cache_breakpoints`` says whether the upstream takes prompt-cache markers (Anthropic
        ``cache_control`` ⇄ OpenAI ``prompt_cache_breakpoint``); ``None`` is the upstream
        format's default: on for Anthropic, off for Chat and Responses.
        ``reasoning_efforts`` are the ``reasoning_effort`` words a Chat upstream takes
        (``None``: ``low``, ``medium``, ``high``, which every compatible server accepts).
        ``reasoning_field`` is how a Chat upstream spells reasoning in the history it is sent
        (:class:`apibridge.codecs._context.Context`; ``None``: as each message came).
        ``profile`` is the upstream's server profile (:mod:`apibridge.codecs._profiles`): the
        request sent is fitted to what that server family accepts.
        """
        client_codec, upstream_codec = get_codec(client), get_codec(upstream)
        ctx = Context(
            strict=strict,
            losses=losses,
            claude_models=claude_models,
            cache_breakpoints=cache_breakpoints,
            reasoning_efforts=reasoning_efforts,
            reasoning_field=reasoning_field,
            profile=profile,
        )
        if type(body) is not dict and not isinstance(body, Mapping):
            raise InvalidPayload("the request body must be a JSON object")
        decoded = client_codec.decode_request(body, ctx)
        ctx.request = decoded
        if policy is None:
            request = decoded
        else:
            start = len(ctx.losses)
            request = policy(decoded, ctx)
            if len(ctx.losses) > start:
                in_client_words(ctx.losses, start, client)
        names = ToolNames.for_target(request, upstream_codec)
        ctx.upstream_names = names.upstream_names
        return cls(client_codec, upstream_codec, request, names, ctx)

    @property
    def losses(self) -> list[Loss]:
        """Everything that could not be carried exactly, in order."""
        return self.ctx.losses

    def upstream_request(self, request: Request | None = None) -> dict[str, Any]:
        """The request in the upstream's format (``request`` overrides the decoded one).

        What it loses is named in the client's words (:mod:`apibridge._loss_words`)."""
        losses = self.ctx.losses
        start = len(losses)
        body = self.upstream.encode_request(
            self.names.rename_request(request or self.request), self.ctx
        )
        if len(losses) > start:
            in_client_words(losses, start, self.client.FORMAT)
        return body

    def decode_response(self, body: Mapping[str, Any]) -> Response:
        """The upstream's answer, canonical, with the client's tool names restored.

        Raises :class:`~apibridge.errors.UpstreamError` for an error body
        (:meth:`answer_error`), and for a failed Responses answer (or a Gemini answer that
        ended in the model's failure, such as ``MALFORMED_FUNCTION_CALL``) to a client of
        another format, which has no failed answer to say it with.
        """
        if not isinstance(body, Mapping):
            raise InvalidPayload("the response body must be a JSON object")
        error = self.answer_error(body)
        if error is not None:
            raise UpstreamError(error)
        response = self.upstream.decode_response(body, self.ctx)
        if response.stop_reason == "error" and self.client is not self.upstream:
            fmt = self.upstream.FORMAT
            failure = (
                answer_failure(response)
                if fmt == "responses"
                else gemini_failure(response)
                if fmt == "gemini"
                else None
            )
            if failure is not None:
                raise UpstreamError(failure)
        return self.names.restore_response(response)

    def answer_error(self, body: Mapping[str, Any]) -> ApiError | None:
        """The error an answer ``body`` sent with a success status is, else ``None``: an
        error body is the error it says in every client format, its status from its own type
        or code (:func:`apibridge.codecs._error_bodies.is_error_answer`). A backboard
        answer's ``error`` is its codec's to read (a failed run)."""
        if self.upstream.FORMAT == "backboard" or not is_error_answer(body):
            return None
        return self.upstream.decode_error(body, 0)

    def restore_response(self, response: Response) -> Response:
        """A canonical answer made with the upstream's tool names, with the client's back."""
        return self.names.restore_response(response)

    def client_response(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The upstream's non-streamed answer in the client's format."""
        return self.client.encode_response(self.decode_response(body), self.ctx)

    def stream_decoder(self) -> EventDecoder:
        """A push-style decoder of the upstream's stream: client-named canonical events."""
        return EventDecoder(self)

    def stream(self) -> StreamTranslator:
        """A push-style translator for the upstream's SSE bytes."""
        return StreamTranslator(self)


class EventDecoder:
    """Upstream SSE frames in, canonical events with the client's tool names out.

    ``feed(frame) -> list[Event]`` and ``close() -> list[Event]`` decode the upstream's wire
    format (:attr:`wire` is the format's own decoder, for transports that read its state);
    :meth:`restore` takes events a transport produced itself (canonical upstreams).
    """

    def __init__(self, exchange: Exchange) -> None:
        #: the upstream format's own stream decoder.
        self.wire: StreamDecoder = exchange.upstream.StreamDecoder(exchange.ctx)
        self._names = exchange.names
        # a Gemini stream that ends in the model's failure is an in-band error for a client of
        # another format (as its unstreamed answer is an error: Exchange.decode_response), and
        # a text's signature, which no other format holds, is reported (as encode_response does)
        self.failures = exchange.upstream.FORMAT == "gemini" and exchange.client.FORMAT != "gemini"
        self._failed = False
        self._ctx = exchange.ctx
        self._client = exchange.client.FORMAT

    def feed(self, frame: SSEFrame) -> list[Event]:
        """The events ``frame`` completes."""
        events = self.wire.feed(frame)
        return self.restore(self._fail(events) if self.failures else events)

    def close(self) -> list[Event]:
        """The end of the upstream stream: what the decoder still holds."""
        events = self.wire.close()
        return self.restore(self._fail(events) if self.failures else events)

    def _fail(self, events: list[Event]) -> list[Event]:
        """``events`` with a failed end (stop ``error``) as the ``StreamError`` it states."""
        if self._failed:
            return []
        for i, event in enumerate(events):
            if isinstance(event, PartStop) and isinstance(event.part, TextPart):
                own = event.part.extras.get("gemini")
                if own and TEXT_SIGNATURE in own:
                    self._ctx.lose(
                        f"content[{event.index}].{TEXT_SIGNATURE}",
                        f"gemini field has no {self._client} equivalent",
                    )
            if isinstance(event, MessageDelta) and event.stop_reason == "error":
                self._failed = True
                error = failure_of(event.extras.get("gemini") or {})
                return [*events[:i], StreamError(error=error)]
        return events

    def restore(self, events: Iterable[Event]) -> list[Event]:
        """``events`` with the client's tool names back."""
        names = self._names
        if not names.to_client:
            return events if isinstance(events, list) else list(events)
        return [names.restore_event(e) for e in events]


class StreamTranslator:
    """Upstream SSE bytes in, client SSE bytes out: ``feed(bytes) -> list[bytes]``, ``close()``.

    Also usable one level down: :meth:`feed_events` takes canonical events.
    """

    def __init__(self, exchange: Exchange) -> None:
        self._frames = SSEDecoder()
        self._decoder = exchange.stream_decoder()
        self._encoder = exchange.client.StreamEncoder(exchange.ctx)
        # Per frame, the upstream's decoder itself when no tool name needs restoring and no
        # failed end needs saying (the per-event path: no extra pass, no intermediate list).
        direct = not exchange.names.to_client and not self._decoder.failures
        self._decode: Callable[[SSEFrame], list[Event]] = (
            self._decoder.wire.feed if direct else self._decoder.feed
        )

    def feed(self, chunk: bytes) -> list[bytes]:
        """Translate the frames ``chunk`` completes."""
        out: list[bytes] = []
        decode, encode = self._decode, self._encoder.feed
        for frame in self._frames.feed(chunk):
            for event in decode(frame):
                out += encode(event)
        return out

    def feed_events(self, events: list[Event]) -> list[bytes]:
        """Encode canonical ``events`` (upstream tool names) for the client."""
        return self._encode(self._decoder.restore(events))

    def _encode(self, events: list[Event]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            out.extend(self._encoder.feed(event))
        return out

    def close(self) -> list[bytes]:
        """End of the upstream stream: flush, and close the client stream properly."""
        out: list[bytes] = []
        for frame in self._frames.close():
            out.extend(self._encode(self._decoder.feed(frame)))
        out.extend(self._encode(self._decoder.close()))
        out.extend(self._encoder.close())
        return out
