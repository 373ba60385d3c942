"""Issue 15, items 8 and 9 through the gateway, against real upstreams on loopback: the
fast-mode beta an Anthropic upstream needs for another client's ``service_tier: fast``, and
each upstream's ``options.cache_breakpoints`` (prompt-cache markers carried or reported)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest
from servers import CLIENT_KEY, ScriptedUpstream, make_config, serve_asgi

from apibridge._gateway._handler import Handler
from apibridge.asgi import App as AsgiApp
from apibridge.codecs.anthropic._request import FAST_MODE_BETA
from apibridge.config import ConfigError, GatewayConfig, UpstreamConfig

ENDPOINT = {
    "anthropic": "/v1/messages",
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
}
AUTH = {"x-api-key": CLIENT_KEY}
FAST: dict[str, dict[str, Any]] = {
    "chat": {
        "model": "anthropic-model",
        "messages": [{"role": "user", "content": "hi"}],
        "service_tier": "fast",
    },
    "responses": {"model": "anthropic-model", "input": "hi", "service_tier": "fast"},
}


def _post(url: str, fmt: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        url + ENDPOINT[fmt], json=body, headers={**AUTH, **(headers or {})}, timeout=20
    )


@pytest.mark.parametrize("client", ["chat", "responses"])
def test_fidelity_17_fast_tier_reaches_anthropic_with_its_beta_header(
    gateway: str, upstreams: dict[str, ScriptedUpstream], client: str
) -> None:
    response = _post(gateway, client, FAST[client])
    assert response.status_code == 200, response.text
    sent = upstreams["anthropic"].requests[-1]
    assert sent["body"]["speed"] == "fast"
    assert sent["headers"]["anthropic-beta"] == FAST_MODE_BETA


def test_fast_mode_beta_joins_the_clients_own_betas(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    own = "interleaved-thinking-2025-05-14"
    response = _post(gateway, "chat", FAST["chat"], {"anthropic-beta": own})
    assert response.status_code == 200, response.text
    sent = upstreams["anthropic"].requests[-1]
    assert sent["headers"]["anthropic-beta"] == f"{own},{FAST_MODE_BETA}"


def test_no_beta_header_without_fast_mode(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    body = {**FAST["chat"], "service_tier": "default"}
    assert _post(gateway, "chat", body).status_code == 200
    sent = upstreams["anthropic"].requests[-1]
    assert "anthropic-beta" not in sent["headers"]
    assert sent["body"]["service_tier"] == "standard_only"


# ------------------------------------------------------------- options.cache_breakpoints

MARKED = {
    "model": "chat-model",
    "max_tokens": 64,
    "system": [{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": "hi"}],
}


def _with_option(config: GatewayConfig, upstream: str, value: Any) -> GatewayConfig:
    changed = attrs.evolve(config.upstreams[upstream], options={"cache_breakpoints": value})
    return attrs.evolve(config, upstreams={**config.upstreams, upstream: changed})


@pytest.fixture(scope="module")
def marking_gateway(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
) -> Iterator[str]:
    """A gateway whose ``chat`` upstream takes cache breakpoints (the option set)."""
    roots = {fmt: root for fmt, (_, root) in upstream_servers.items()}
    config = _with_option(make_config(roots, client_keys=(CLIENT_KEY,)), "chat", True)
    with serve_asgi(AsgiApp(config)) as url:
        yield url


def test_fidelity_18_cache_markers_reach_an_upstream_that_takes_them(
    marking_gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    response = _post(marking_gateway, "anthropic", MARKED)
    assert response.status_code == 200, response.text
    system = upstreams["chat"].last_request()["messages"][0]
    assert system["content"] == [
        {"type": "text", "text": "rules", "prompt_cache_breakpoint": {"mode": "explicit"}}
    ]


def test_cache_markers_are_reported_for_an_upstream_that_does_not_take_them(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    response = _post(gateway, "anthropic", MARKED)  # a chat upstream on 127.0.0.1: off
    assert response.status_code == 200, response.text
    assert "prompt_cache_breakpoint" not in str(upstreams["chat"].last_request())


def _upstream(fmt: str, base_url: str, **options: Any) -> UpstreamConfig:
    return UpstreamConfig(name="u", format=fmt, base_url=base_url, options=options)


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        (_upstream("chat", "https://api.openai.com/v1"), True),
        (_upstream("responses", "https://api.openai.com/v1"), True),
        (_upstream("chat", "http://127.0.0.1:8000/v1"), None),  # the format's default: off
        (_upstream("anthropic", "https://api.anthropic.com"), None),  # the default: on
        (_upstream("chat", "https://api.openai.com/v1", cache_breakpoints=False), False),
        (_upstream("chat", "http://vllm.local/v1", cache_breakpoints=True), True),
    ],
)
def test_cache_breakpoints_default_and_setting(upstream: UpstreamConfig, expected: bool) -> None:
    handler = Handler(GatewayConfig(upstreams={"u": upstream}, routes=()))
    assert handler.cache_breakpoints["u"] is expected


def test_a_bad_cache_breakpoints_setting_fails_at_start_up() -> None:
    upstream = _upstream("chat", "https://api.openai.com/v1", cache_breakpoints="yes")
    with pytest.raises(ConfigError, match=r"upstreams\.u\.options\.cache_breakpoints"):
        Handler(GatewayConfig(upstreams={"u": upstream}, routes=()))
