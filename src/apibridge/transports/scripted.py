"""The scripted transport: canned canonical answers, in-process, for tests and offline demos.

Theory of operation
-------------------
:class:`ScriptedTransport` never touches the network. Each call takes the next *reply* from
its script (or asks its ``responder`` when the script is empty) and answers with it:

* a :class:`~apibridge.model.Response` is returned whole by ``complete`` and turned into a
  plausible event stream by ``stream`` (see :func:`events_for`: text arrives a few words per
  event, tool-call arguments in a few fragments, every part opened, grown and stopped);
* a sequence of events is streamed as given by ``stream`` and folded with
  :func:`~apibridge.model.accumulate` by ``complete``;
* an :class:`~apibridge.errors.ApiError` is raised as
  :class:`~apibridge.errors.UpstreamError` before any event;
* a callable gets the request (as the upstream would see it: tool names already mapped) and
  returns any of the above.

``delay`` seconds pass between streamed events, so tests can watch a stream arrive piece by
piece and demos look alive. Every request seen is kept in :attr:`ScriptedTransport.requests`.
The built-in ``echo`` script (``apibridge serve --upstream scripted=echo``) answers each
request by repeating its last user text. It speaks canonical events (``KINDS["scripted"]``), so
the exchange's upstream side is the client's own format; tool names come back to the client's
through the exchange, as for every transport.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, TypeAlias

import anyio
import attrs

from apibridge._exchange import Exchange
from apibridge.codecs._context import new_id
from apibridge.codecs._tokens import estimate_request_tokens, estimate_text_tokens
from apibridge.config import UpstreamConfig
from apibridge.errors import ApiError, UpstreamError
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
    Request,
    Response,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
    accumulate,
)
from apibridge.transports._protocol import NO_FORWARDING, Forwarding

__all__ = ["Reply", "ScriptedTransport", "echo", "events_for"]

Reply: TypeAlias = Response | Sequence[Event] | ApiError
"""What a script step answers with."""

Step: TypeAlias = Reply | Callable[[Request], Reply]

_WORDS = re.compile(r"\S+\s*|\s+")


def _chunks(text: str, words: int) -> list[str]:
    pieces = _WORDS.findall(text)
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)] or [text]


def events_for(response: Response, *, words_per_event: int = 3) -> list[Event]:
    """A plausible stream for ``response``; ``accumulate`` of it gives ``response`` back."""
    usage = response.usage
    start_usage = Usage(input_tokens=usage.input_tokens) if usage is not None else None
    events: list[Event] = [
        MessageStart(
            id=response.id,
            model=response.model,
            usage=start_usage,
            created=response.created,
            extras=response.extras,
        )
    ]
    for index, part in enumerate(response.content):
        events.extend(_part_events(index, part, words_per_event))
    events.append(
        MessageDelta(
            stop_reason=response.stop_reason, stop_sequence=response.stop_sequence, usage=usage
        )
    )
    events.append(MessageStop())
    return events


def _part_events(index: int, part: ContentPart, words: int) -> list[Event]:
    events: list[Event] = []
    if isinstance(part, TextPart):
        events.append(PartStart(index=index, part=attrs.evolve(part, text="", citations=())))
        events.extend(
            PartDelta(index=index, field="text", value=c) for c in _chunks(part.text, words)
        )
        events.extend(PartDelta(index=index, field="citation", citation=c) for c in part.citations)
    elif isinstance(part, RefusalPart):
        events.append(PartStart(index=index, part=attrs.evolve(part, text="")))
        events.extend(
            PartDelta(index=index, field="text", value=c) for c in _chunks(part.text, words)
        )
    elif isinstance(part, ToolCallPart):
        events.append(PartStart(index=index, part=attrs.evolve(part, arguments="")))
        size = max(len(part.arguments) // 3, 1)
        events.extend(
            PartDelta(index=index, field="arguments", value=part.arguments[i : i + size])
            for i in range(0, len(part.arguments), size)
        )
    elif isinstance(part, ThinkingPart):
        events.append(
            PartStart(index=index, part=attrs.evolve(part, text="", signature=None, summary=()))
        )
        events.extend(
            PartDelta(index=index, field="thinking", value=c) for c in _chunks(part.text, words)
        )
        events.extend(
            PartDelta(index=index, field="summary", value=s, summary_index=i)
            for i, s in enumerate(part.summary)
        )
        if part.signature is not None:
            events.append(PartDelta(index=index, field="signature", value=part.signature))
    else:
        events.append(PartStart(index=index, part=part))
    # the final value rides on the stop, so decoders that keep it (Responses) get it exactly
    events.append(PartStop(index=index, part=part))
    return events


def echo(request: Request) -> Response:
    """The ``echo`` script: repeat the last user text (offline demos, smoke tests)."""
    text = ""
    for message in reversed(request.messages):
        if message.role == "user":
            text = " ".join(p.text for p in message.content if isinstance(p, TextPart))
            break
    answer = f"echo: {text}" if text else "echo: (no text)"
    return Response(
        id=new_id("msg_"),
        model=request.model,
        content=(TextPart(text=answer),),
        stop_reason="end_turn",
        usage=Usage(
            input_tokens=estimate_request_tokens(request),
            output_tokens=estimate_text_tokens(answer),
        ),
    )


#: scripts that ``format = "scripted"`` upstreams can name in ``base_url``.
SCRIPTS: dict[str, Callable[[Request], Reply]] = {"echo": echo}


def _events(reply: Reply) -> list[Event]:
    if isinstance(reply, ApiError):  # pragma: no cover - _reply raises these
        raise UpstreamError(reply)
    if isinstance(reply, Response):
        return events_for(reply)
    return list(reply)


class ScriptedTransport:
    """Answers from a script (see the module docstring).

    Args:
        script: replies (or callables making them) used in order, one per call.
        responder: answers calls once the script is used up; without one, such a call fails
            with an ``api_error``.
        delay: seconds between streamed events.
    """

    def __init__(
        self,
        script: Iterable[Step] = (),
        *,
        responder: Callable[[Request], Reply] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.script: deque[Step] = deque(script)
        self.responder = responder
        self.delay = delay
        self.requests: list[Request] = []

    @classmethod
    def from_config(
        cls, config: UpstreamConfig, *, client: Any = None, store: Any = None
    ) -> ScriptedTransport:
        """A transport for a ``scripted`` upstream: ``base_url`` names a script (``echo``)."""
        script = SCRIPTS.get(config.base_url)
        if script is None:
            raise ValueError(
                f"upstreams.{config.name}.base_url: no script named {config.base_url!r} "
                f"(known: {', '.join(SCRIPTS)})"
            )
        return cls(responder=script, delay=float(config.options.get("delay", 0.0)))

    def add(self, *steps: Step) -> None:
        """Append replies to the script."""
        self.script.extend(steps)

    def _reply(self, exchange: Exchange, stream: bool) -> Reply:
        request = exchange.names.rename_request(attrs.evolve(exchange.request, stream=stream))
        self.requests.append(request)
        step: Step | None = self.script.popleft() if self.script else self.responder
        if step is None:
            raise UpstreamError(ApiError.of("api_error", "the scripted upstream has no reply left"))
        reply = step(request) if callable(step) else step
        if isinstance(reply, ApiError):
            raise UpstreamError(reply)
        return reply

    async def complete(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> Response:
        """See :meth:`apibridge.transports.Transport.complete`."""
        reply = self._reply(exchange, stream=False)
        response = reply if isinstance(reply, Response) else accumulate(_events(reply))
        return exchange.restore_response(response)

    async def stream(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> AsyncIterator[Event]:
        """See :meth:`apibridge.transports.Transport.stream`."""
        reply = self._reply(exchange, stream=True)
        events = exchange.stream_decoder().restore(_events(reply))
        if events and isinstance(events[0], StreamError):
            raise UpstreamError(events[0].error)
        for i, event in enumerate(events):
            if i and self.delay:
                await anyio.sleep(self.delay)
            yield event

    async def aclose(self) -> None:
        """Nothing to release."""
