"""Bring your own key: an upstream with ``forward_client_key`` receives each client's own key
(and never the operator's when the client presented one); others never see a client's key."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import attrs
import openai
import pytest
from servers import ScriptedUpstream, base_url, serve_asgi, upstream_key

from apibridge._gateway._http import forwarding
from apibridge.asgi import App
from apibridge.config import ConfigError, GatewayConfig, Route, UpstreamConfig, load_config


@pytest.fixture
def byok_gateway(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
    upstreams: dict[str, ScriptedUpstream],
) -> Iterator[str]:
    configs = {
        fmt: UpstreamConfig(
            name=fmt,
            format=fmt,
            base_url=base_url(fmt, root),
            api_keys=(upstream_key(fmt),),
            forward_client_key=True,
        )
        for fmt, (_, root) in upstream_servers.items()
    }
    routes = tuple(Route(pattern=f"{fmt}-model", upstream=fmt) for fmt in configs)
    with serve_asgi(App(GatewayConfig(upstreams=configs, routes=routes))) as root:
        yield root


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_each_clients_own_key_reaches_the_upstream(
    byok_gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    for user_key in ("sk-user-one", "sk-user-two"):
        claude = anthropic.Anthropic(api_key=user_key, base_url=byok_gateway, max_retries=0)
        claude.messages.create(
            model=f"{fmt}-model", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
        oai = openai.OpenAI(api_key=user_key, base_url=byok_gateway + "/v1", max_retries=0)
        oai.chat.completions.create(
            model=f"{fmt}-model", messages=[{"role": "user", "content": "hi"}]
        )
    seen = [r["headers"] for r in upstreams[fmt].requests]
    assert len(seen) == 4
    for headers, user_key in zip(seen, ["sk-user-one"] * 2 + ["sk-user-two"] * 2, strict=True):
        presented = headers.get("x-api-key") or headers.get("authorization", "")
        assert presented.endswith(user_key)
        assert upstream_key(fmt) not in str(headers)


def test_a_client_without_a_key_gets_the_configured_one(
    byok_gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    import httpx

    answer = httpx.post(
        byok_gateway + "/v1/chat/completions",
        json={"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]},
        timeout=20,
    )
    assert answer.status_code == 200, answer.text
    assert upstreams["chat"].requests[-1]["headers"]["authorization"] == (
        f"Bearer {upstream_key('chat')}"
    )


def test_without_the_setting_a_clients_key_is_never_forwarded(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    from servers import CLIENT_KEY

    oai = openai.OpenAI(api_key=CLIENT_KEY, base_url=gateway + "/v1", max_retries=0)
    oai.chat.completions.create(model="chat-model", messages=[{"role": "user", "content": "hi"}])
    headers = upstreams["chat"].requests[-1]["headers"]
    assert CLIENT_KEY not in str(headers)
    assert headers["authorization"] == f"Bearer {upstream_key('chat')}"


def test_setting_from_the_environment() -> None:
    env = {"APIBRIDGE_UPSTREAM": "chat=http://127.0.0.1:9/v1", "APIBRIDGE_FORWARD_CLIENT_KEY": "1"}
    assert load_config(env=env).upstreams["default"].forward_client_key is True
    with pytest.raises(ConfigError, match="forward_client_key"):
        UpstreamConfig(
            name="bb", format="backboard", base_url="http://127.0.0.1:9", forward_client_key=True
        )


def test_forwarded_client_key_travels_beside_the_exchange_and_never_in_a_repr() -> None:
    upstream = UpstreamConfig(
        name="u", format="chat", base_url="http://up.test/v1", forward_client_key=True
    )
    secret = "sk-client-own-key-123456"
    headers = {"authorization": f"Bearer {secret}", "x-team": "blue", "cookie": "c=1"}
    forwarded = forwarding(upstream, headers)
    assert forwarded.key == secret
    assert forwarded.headers == {"x-team": "blue"}  # credentials never reach a transport
    assert secret not in repr(forwarded)
    closed = attrs.evolve(upstream, forward_client_key=False)
    assert forwarding(closed, headers).key is None
