"""Small answers and helpers the answer-conversion tests share (issue 15's twin, tier and
tool-usage tests): one Responses message item, an SSE frame writer, and a conversion whose
output is validated with the SDK types before the test looks at it."""

from __future__ import annotations

import json
from typing import Any

import apibridge
from apibridge import Exchange
from apibridge.errors import Loss
from apibridge.model import Response
from apibridge.transports import NO_FORWARDING, Forwarding
from apibridge.transports.scripted import ScriptedTransport, echo
from oracles import validate_response

#: a completed Responses assistant message saying "hi".
RESPONSES_MESSAGE: dict[str, Any] = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "hi", "annotations": []}],
}


def answer(body: dict[str, Any], source: str, target: str) -> tuple[dict[str, Any], list[str]]:
    """``body`` converted, validated as a ``target`` answer, with the fields reported lost."""
    losses: list[Loss] = []
    out = apibridge.convert_response(body, source=source, target=target, losses=losses)
    validate_response(target, out)
    return out, [loss.field for loss in losses]


def sse(event: str | None, data: dict[str, Any]) -> bytes:
    """One SSE frame: an optional ``event:`` line and ``data`` as JSON."""
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + json.dumps(data).encode() + b"\n\n"


class RecordingTransport(ScriptedTransport):
    """A scripted upstream that answers with ``echo`` and keeps every exchange it was given
    (what a gateway test inspects: ``exchange.upstream_request()``, ``exchange.ctx.losses``)."""

    def __init__(self) -> None:
        super().__init__(responder=echo)
        self.exchanges: list[Exchange] = []

    async def complete(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> Response:
        self.exchanges.append(exchange)
        return await super().complete(exchange, forwarding)
