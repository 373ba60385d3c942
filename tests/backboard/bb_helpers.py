"""Small helpers shared by the backboard transport tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from apibridge import Exchange
from apibridge.config import Retries, Timeouts, UpstreamConfig
from apibridge.model import (
    Event,
    PartDelta,
    Ping,
    Response,
    StreamError,
    TextPart,
    ToolCallPart,
    accumulate,
)
from apibridge.store import MemoryStore
from apibridge.transports import Forwarding
from apibridge.transports.backboard import BackboardTransport

KEYS = ("bb-key-1", "bb-key-2")

#: Quick settings for tests: tiny backoffs, short timers.
FAST_OPTIONS: dict[str, Any] = {
    "backoff": 0.01,
    "backoff_max": 0.02,
    "pool_size": 0,
    "end_grace": 0.3,
    "keepalive": 5.0,
    "key_cooldown": 30.0,
}


def upstream(url: str, *, keys: tuple[str, ...] = KEYS, **options: Any) -> UpstreamConfig:
    """A backboard upstream config for the fake at ``url``."""
    return UpstreamConfig(
        name="bb",
        format="backboard",
        base_url=url,
        api_keys=keys,
        retries=Retries(attempts=2),
        timeouts=Timeouts(connect=5.0, first_byte=20.0, idle=20.0),
        options={**FAST_OPTIONS, **options},
    )


class Transports:
    """Builds transports over one httpx client and one store (as one gateway process would)."""

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self.url = url
        self.client = client
        self.store = MemoryStore()
        self.made: list[BackboardTransport] = []

    def __call__(self, **options: Any) -> BackboardTransport:
        keys = options.pop("keys", KEYS)
        store = options.pop("store", self.store)
        transport = BackboardTransport.from_config(
            upstream(self.url, keys=keys, **options), client=self.client, store=store
        )
        self.made.append(transport)
        return transport


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def chat(*messages: Mapping[str, Any], model: str = "gpt-4o", **kw: Any) -> dict[str, Any]:
    """A Chat Completions request body."""
    return {"model": model, "messages": list(messages), **kw}


def msg(role: str, content: Any, **kw: Any) -> dict[str, Any]:
    return {"role": role, "content": content, **kw}


def exchange(body: Mapping[str, Any], *, client: str = "chat") -> Exchange:
    return Exchange.from_client(body, client=client, upstream="backboard")


def forwarded(headers: Mapping[str, str] | None) -> Forwarding:
    """The client headers the gateway passes on beside the exchange."""
    return Forwarding(headers=dict(headers or {}))


async def complete(
    transport: BackboardTransport,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    **kw: Any,
) -> Response:
    return await transport.complete(exchange(body, **kw), forwarded(headers))


async def stream(
    transport: BackboardTransport,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    **kw: Any,
) -> list[Event]:
    ex = exchange({**body, "stream": True}, **kw)
    return [e async for e in transport.stream(ex, forwarded(headers))]


def text_of(response: Response) -> str:
    return "".join(p.text for p in response.content if isinstance(p, TextPart))


def calls_of(response: Response) -> list[ToolCallPart]:
    return [p for p in response.content if isinstance(p, ToolCallPart)]


def folded(events: list[Event]) -> Response:
    """The response a stream describes (keep-alives dropped)."""
    return accumulate([e for e in events if not isinstance(e, Ping)])


def streamed_text(events: list[Event]) -> str:
    return "".join(e.value for e in events if isinstance(e, PartDelta) and e.field == "text")


def stream_error(events: list[Event]) -> Any:
    last = events[-1]
    assert isinstance(last, StreamError), events
    return last.error


def assistant_turn(response: Response) -> dict[str, Any]:
    """The Chat assistant message a client sends back for ``response``."""
    calls = calls_of(response)
    turn: dict[str, Any] = {"role": "assistant", "content": text_of(response) or None}
    if calls:
        turn["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls
        ]
    return turn
