"""Request policies, applied once to the canonical request before the exchange is built: the
upstream's output limit clamps ``max_tokens`` and fits the thinking budget below it, for every
kind of upstream (backboard included)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import httpx

from apibridge import Exchange, _json
from apibridge._gateway._handler import Handler, HttpRequest
from apibridge._gateway._policy import limit_output
from apibridge.config import GatewayConfig, Retries, UpstreamConfig
from apibridge.transports.http import HttpTransport
from samples import RecordingTransport

JSON = {"content-type": "application/json"}


def transport(fmt: str = "chat", **config: Any) -> HttpTransport:
    upstream = UpstreamConfig(
        name="up",
        format=fmt,
        base_url="http://up.test/v1",
        api_keys=("sk-test-aaaaaaaaaaaaaaaa",),
        retries=Retries(attempts=2, backoff=0.001, backoff_max=0.002),
        **config,
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    return HttpTransport(upstream, client=client)


def limited(t: HttpTransport, client: str = "anthropic", **extra: Any) -> Exchange:
    """An exchange built with the gateway's output limits for ``t``'s upstream."""
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}
    policy = functools.partial(limit_output, upstream=t.config)
    return Exchange.from_client(body, client=client, upstream=t.config.format, policy=policy)


def test_limits_clamp_with_a_warning() -> None:
    t = transport(max_output_tokens=50)
    ex = limited(t, thinking={"type": "enabled", "budget_tokens": 2048}, max_tokens=4000)
    prepared = t.prepare(ex, stream=True)
    assert prepared.max_tokens == 50
    assert prepared.stream
    assert prepared.reasoning is not None
    assert prepared.reasoning.mode == "disabled"  # no room left for a thinking budget
    fields = [loss.field for loss in ex.losses]
    assert "max_tokens" in fields
    assert "thinking" in fields
    big = transport(max_output_tokens=3000)
    ex = limited(big, thinking={"type": "enabled", "budget_tokens": 4000}, max_tokens=8000)
    prepared = big.prepare(ex, stream=False)
    assert prepared.reasoning is not None
    assert prepared.reasoning.budget_tokens == 2999


def test_backboard_upstream_gets_the_max_tokens_clamp() -> None:
    """The output limit is a request policy now: a backboard upstream gets it too (the
    thinking budget is fitted below it), where before only HTTP upstreams did."""
    config = GatewayConfig.single(
        "backboard=http://backboard.test/api", api_key="bb-key", max_output_tokens=1500
    )
    recorder = RecordingTransport()
    handler = Handler(config, transports={"default": recorder})
    body = {
        "model": "gpt-4o",
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [{"role": "user", "content": "hi"}],
    }
    request = HttpRequest(method="POST", path="/v1/messages", headers=JSON, body=_json.dumps(body))
    response = asyncio.run(handler.handle(request))
    assert response.status == 200
    (exchange,) = recorder.exchanges
    assert exchange.request.max_tokens == 1500
    assert exchange.request.reasoning is not None
    assert exchange.request.reasoning.budget_tokens == 1499
    fields = [loss.field for loss in exchange.losses]
    assert "max_tokens" in fields
    assert "thinking.budget_tokens" in fields


def test_anthropic_upstream_without_max_tokens_gets_its_limit() -> None:
    ex = limited(transport("anthropic", max_output_tokens=700), client="chat")
    assert ex.request.max_tokens == 700
    assert ex.losses == []
    assert ex.upstream_request()["max_tokens"] == 700
    other = limited(transport("responses", max_output_tokens=700), client="chat")
    assert other.request.max_tokens is None
