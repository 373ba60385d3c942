"""Losses are logged, never silent, and a client that repeats them does not flood the log."""

from __future__ import annotations

import logging

import anthropic
import pytest
from servers import CLIENT_KEY, ScriptedUpstream, serve_asgi

from apibridge.asgi import App
from apibridge.config import GatewayConfig

REQUEST = {
    "model": "chat-model",
    "max_tokens": 50,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": "hi"}],
}


def test_first_loss_of_a_kind_warns_repeats_go_to_debug(
    gateway_config: GatewayConfig,
    upstreams: dict[str, ScriptedUpstream],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="apibridge.gateway")
    with serve_asgi(App(gateway_config)) as root:  # a fresh process-like gateway
        claude = anthropic.Anthropic(api_key=CLIENT_KEY, base_url=root, max_retries=0)
        for _ in range(3):
            claude.messages.create(**REQUEST)  # type: ignore[arg-type]
    cache = [r for r in caplog.records if "cache_control" in r.getMessage()]
    assert [r.levelno for r in cache] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert "repeats are logged at debug level" in cache[0].getMessage()
