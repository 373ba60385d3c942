"""One planned request to backboard (a *turn*), and its encoding.

Theory of operation
===================
:class:`Turn` is what the transport's planning decided for one client request:
send a new conversation (``new``: the whole transcript to a fresh thread), the new user turn
to a known thread (``message``), or the newest tool results to the run that waits for them
(``tool_outputs``); which thread, key and tool route. :func:`encode_turn` writes a turn's
message fields with the backboard codec (the tool names the upstream sees, or in fallback mode
the tools described in the prompt), and :func:`tool_payload` a ``submit-tool-outputs`` body:
every output the run waits for (an error output for each one the client left unanswered),
user text next to the results appended to the last output, and this turn's settings again,
because backboard keeps them per turn only. Every such change is recorded as a loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from apibridge._exchange import Exchange
from apibridge.codecs import backboard as codec
from apibridge.model import Message, Request, TextPart, ToolResultPart
from apibridge.transports.backboard._settings import BackboardSettings
from apibridge.transports.backboard._state import ThreadRef, ToolRoute
from apibridge.transports.backboard._tool_prompt import inline_tools

__all__ = [
    "MISSING_OUTPUT",
    "Turn",
    "answer_fields",
    "encode_turn",
    "tool_payload",
    "turn_start",
]

#: What an unanswered tool call gets as output, so that the run can go on.
MISSING_OUTPUT = "Error: the client sent no result for this tool call."


@attrs.define
class Turn:
    """One planned request to backboard (see the module docstring)."""

    exchange: Exchange
    request: Request  # the client's whole request, model routed, ``stream`` set
    conversation_id: str | None
    fallback: bool
    tenant: str  # whose conversation ids and tool calls these are (Forwarding.tenant)
    declared: frozenset[str]
    mode: str = "new"  # "new" | "message" | "tool_outputs"
    new_turn_start: int = 0
    ref: ThreadRef | None = None
    old_tip: str | None = None
    route: ToolRoute | None = None
    key: str | None = None
    accepted: bool = False


def turn_start(messages: Sequence[Message]) -> int:
    """Where the newest user turn (the trailing user messages) begins."""
    start = len(messages)
    while start > 0 and messages[start - 1].role == "user":
        start -= 1
    return start


def answer_fields(body: Any) -> Mapping[str, Any]:
    """The answer message of either non-stream shape."""
    if isinstance(body, Mapping) and isinstance(body.get("messages"), list) and body["messages"]:
        last = body["messages"][-1]
        return last if isinstance(last, Mapping) else {}
    return body if isinstance(body, Mapping) else {}


def encode_turn(turn: Turn, settings: BackboardSettings, *, whole: bool) -> dict[str, Any]:
    """The message fields of ``turn`` (the whole transcript, or only the new turn)."""
    exchange = turn.exchange
    request = turn.request
    # Fallback mode: tools go into the prompt; history calls and results become text.
    request = inline_tools(request) if turn.fallback else exchange.names.rename_request(request)
    if not whole:
        request = attrs.evolve(request, messages=request.messages[turn.new_turn_start :])
    fields = codec.encode_request(request, exchange.ctx)
    fields["memory"] = settings.memory
    if settings.web_search and "web_search" not in fields:
        fields["web_search"] = settings.web_search
    return fields


def tool_payload(turn: Turn, settings: BackboardSettings) -> dict[str, Any]:
    """``submit-tool-outputs`` body: every output of the run, plus this turn's settings."""
    assert turn.route is not None
    ctx = turn.exchange.ctx
    new = turn.request.messages[turn.new_turn_start :]
    results = [p for m in new for p in m.content if isinstance(p, ToolResultPart)]
    outputs = codec.encode_tool_outputs(results, ctx)
    texts = [p.text for m in new for p in m.content if isinstance(p, TextPart) and p.text.strip()]
    if texts and outputs:
        ctx.lose(
            "messages",
            "backboard takes no user text with tool outputs",
            "appended to the last tool output",
        )
        outputs[-1] = {
            **outputs[-1],
            "output": outputs[-1]["output"] + "\n\n" + "\n\n".join(texts),
        }
    for m in new:
        for part in m.content:
            if not isinstance(part, TextPart | ToolResultPart):
                ctx.lose(
                    "messages",
                    f"a {type(part).__name__} next to tool results "
                    "cannot go with backboard tool outputs",
                )
    answered = {o["tool_call_id"] for o in outputs}
    for call_id in turn.route.call_ids:
        if call_id not in answered:
            ctx.lose(
                f"tool_result[{call_id}]",
                "the client answered only some tool calls",
                "sent an error output for the missing one",
            )
            outputs.append({"tool_call_id": call_id, "output": MISSING_OUTPUT})
    fields = encode_turn(
        attrs.evolve(turn, request=attrs.evolve(turn.request, messages=())), settings, whole=True
    )
    payload: dict[str, Any] = {"tool_outputs": outputs}
    for field in ("tools", "thinking"):
        if field in fields:
            payload[field] = fields[field]
    return payload
