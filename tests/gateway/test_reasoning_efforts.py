"""Issue 15, item 3 for Chat upstreams: ``xhigh`` and ``max`` reach the OpenAI API's own Chat
endpoint unchanged; other Chat servers (vLLM declares exactly ``low``/``medium``/``high``) get
the nearest of those, reported; ``options.reasoning_efforts`` says what an upstream takes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apibridge import _json
from apibridge._gateway._handler import Handler, HttpRequest
from apibridge.config import ConfigError, GatewayConfig
from apibridge.errors import Loss
from oracles import validate_request
from samples import RecordingTransport


def _sent(base_url: str, body: dict[str, Any], **options: Any) -> tuple[dict[str, Any], list[Loss]]:
    """What a Chat upstream at ``base_url`` gets for a Responses client's ``body``."""
    config = GatewayConfig.single(f"chat={base_url}", api_key="sk-test", options=options)
    recorder = RecordingTransport()
    handler = Handler(config, transports={"default": recorder})
    request = HttpRequest(
        method="POST",
        path="/v1/responses",
        headers={"content-type": "application/json"},
        body=_json.dumps(body),
    )
    response = asyncio.run(handler.handle(request))
    assert response.status == 200, response.body
    (exchange,) = recorder.exchanges
    sent = exchange.upstream_request()
    validate_request("chat", sent)
    return sent, list(exchange.ctx.losses)


@pytest.mark.parametrize("word", ["xhigh", "max", "minimal"])
def test_fidelity_16_every_openai_effort_reaches_the_openai_chat_endpoint(word: str) -> None:
    body = {"model": "gpt-5.5", "input": "hi", "reasoning": {"effort": word}}
    sent, losses = _sent("https://api.openai.com/v1", body)
    assert sent["reasoning_effort"] == word
    assert not [loss for loss in losses if loss.field == "reasoning.effort"]


@pytest.mark.parametrize(("word", "nearest"), [("xhigh", "high"), ("max", "high")])
def test_other_chat_servers_get_the_nearest_common_effort_reported(word: str, nearest: str) -> None:
    body = {"model": "qwen3", "input": "hi", "reasoning": {"effort": word}}
    sent, losses = _sent("http://127.0.0.1:8000/v1", body)
    assert sent["reasoning_effort"] == nearest
    (loss,) = [loss for loss in losses if loss.field == "reasoning.effort"]
    assert loss.action == f"sent as reasoning_effort {nearest!r}"


def test_an_upstreams_own_effort_words_are_used() -> None:
    body = {"model": "m", "input": "hi", "reasoning": {"effort": "max"}}
    sent, losses = _sent(
        "http://127.0.0.1:8000/v1", body, reasoning_efforts=["low", "medium", "high", "xhigh"]
    )
    assert sent["reasoning_effort"] == "xhigh"
    (loss,) = [loss for loss in losses if loss.field == "reasoning.effort"]
    assert loss.reason.startswith("this chat upstream accepts reasoning_effort low, medium")


@pytest.mark.parametrize("value", [["huge"], "high", [], [3]])
def test_a_bad_effort_list_fails_at_start_up(value: Any) -> None:
    config = GatewayConfig.single(
        "chat=http://127.0.0.1:8000/v1", api_key="k", options={"reasoning_efforts": value}
    )
    with pytest.raises(ConfigError, match=r"options\.reasoning_efforts"):
        Handler(config, transports={"default": RecordingTransport()})
