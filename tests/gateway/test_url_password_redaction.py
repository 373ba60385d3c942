"""Secrets in an upstream's URL (``https://user:password@host``) stay out of the config's
repr, the start-up log and the admin view."""

from __future__ import annotations

import asyncio
import logging

import pytest

from apibridge import _json
from apibridge._cli_serve import _describe
from apibridge._gateway._handler import Handler, HttpRequest
from apibridge.config import GatewayConfig, ServerConfig, UpstreamConfig
from apibridge.transports.scripted import ScriptedTransport


def test_upstream_url_password_hidden_from_repr_log_and_admin_view(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An upstream reached through ``https://user:password@host`` keeps the password out of
    the config's repr, the start-up log and the admin view."""
    secret = "pr0xy-s3cret"
    upstream = UpstreamConfig(
        name="proxied", format="chat", base_url=f"https://bob:{secret}@proxy.example/v1"
    )
    config = GatewayConfig(
        upstreams={"proxied": upstream}, server=ServerConfig(admin_key="admin-key-1")
    )
    assert secret not in repr(upstream)
    assert secret not in repr(config)
    with caplog.at_level(logging.INFO, logger="apibridge"):
        _describe(config, 1)
    assert "proxy.example" in caplog.text
    assert secret not in caplog.text

    handler = Handler(config, transports={"proxied": ScriptedTransport()})
    request = HttpRequest(method="GET", path="/admin/state", headers={"x-admin-key": "admin-key-1"})
    response = asyncio.run(handler.handle(request))
    assert response.status == 200
    assert secret not in response.body.decode()
    assert _json.loads(response.body)["upstreams"][0]["base_url"] == (
        "https://bob:***@proxy.example/v1"
    )
