"""Web pages cannot drive an open gateway (issue 14, item 5): JSON content type, ``Host`` and
``Origin`` checks, CORS only when configured.

The gateway here is the default set-up the attack aims at: loopback, no client key. Every
request goes through the real ASGI app under uvicorn on 127.0.0.1 (one WSGI case too), and
every refusal is checked as the client's own SDK reads an error, with nothing sent upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import httpx
import pytest
from calls import ENDPOINT, FORMATS, anthropic_client, body_for, openai_client
from servers import ScriptedUpstream, make_config, serve_asgi, serve_wsgi

from apibridge.asgi import App as AsgiApp
from apibridge.wsgi import App as WsgiApp
from oracles import validate_error

JSON = {"content-type": "application/json"}
MODEL = {"anthropic": "anthropic-model", "chat": "chat-model", "responses": "responses-model"}


@contextmanager
def open_gateway(roots: dict[str, str], **server: Any) -> Iterator[str]:
    """The gateway with no client key, on loopback, ``server`` settings changed."""
    config = make_config(roots)
    config = attrs.evolve(config, server=attrs.evolve(config.server, **server))
    with serve_asgi(AsgiApp(config)) as url:
        yield url


@pytest.fixture
def roots(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
    upstreams: dict[str, ScriptedUpstream],
) -> dict[str, str]:
    return {fmt: root for fmt, (_, root) in upstream_servers.items()}


@pytest.fixture
def gateway_open(roots: dict[str, str]) -> Iterator[str]:
    with open_gateway(roots) as url:
        yield url


def _post(url: str, fmt: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
    body = httpx.Request("POST", "/", json=body_for(fmt, MODEL[fmt])).content
    return httpx.post(url + ENDPOINT[fmt], content=body, headers=headers, timeout=20, **kw)


def _nothing_sent(upstreams: dict[str, ScriptedUpstream]) -> None:
    assert all(not u.requests for u in upstreams.values())


# ------------------------------------------------------------------- content type


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_text_plain_post_is_refused_with_415_in_the_clients_format(
    gateway_open: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    # what a page's fetch(..., {method: "POST", body: JSON.stringify(...)}) sends: no preflight
    response = _post(gateway_open, fmt, {"content-type": "text/plain;charset=UTF-8"})
    assert response.status_code == 415
    validate_error(fmt, 415, response.json())
    assert "application/json" in response.text
    _nothing_sent(upstreams)


@pytest.mark.parametrize(
    "content_type", ["", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_a_post_without_a_json_content_type_is_refused(
    gateway_open: str, upstreams: dict[str, ScriptedUpstream], content_type: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = _post(gateway_open, "anthropic", headers)
    assert response.status_code == 415
    validate_error("anthropic", 415, response.json())
    _nothing_sent(upstreams)


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_a_json_content_type_with_parameters_is_accepted(
    gateway_open: str, content_type: str
) -> None:
    response = _post(gateway_open, "chat", {"content-type": content_type})
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------- Host


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_rebound_host_name_is_refused_with_403(
    gateway_open: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    # DNS rebinding: the page's own name now resolves to 127.0.0.1, and the browser says so
    port = gateway_open.rsplit(":", 1)[1]
    response = _post(gateway_open, fmt, {**JSON, "host": f"attacker.example:{port}"})
    assert response.status_code == 403
    validate_error(fmt, 403, response.json())
    assert "allowed_hosts" in response.text
    _nothing_sent(upstreams)


def test_a_rebound_host_cannot_read_models_or_stored_responses(gateway_open: str) -> None:
    for path in ("/v1/models", "/v1/responses/resp_123", "/v1/responses/resp_123/input_items"):
        response = httpx.get(gateway_open + path, headers={"host": "rebind.example"})
        assert response.status_code == 403, path


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}", "127.0.0.2"]
)
def test_loopback_host_names_are_accepted(gateway_open: str, host: str) -> None:
    port = gateway_open.rsplit(":", 1)[1]
    response = _post(gateway_open, "chat", {**JSON, "host": host.format(port=port)})
    assert response.status_code == 200, response.text


def test_configured_allowed_hosts_are_accepted_and_others_refused(roots: dict[str, str]) -> None:
    with open_gateway(roots, allowed_hosts=("gateway.example", ".corp.example")) as url:
        for host, status in (
            ("gateway.example", 200),
            ("gateway.example:8080", 200),
            ("llm.corp.example", 200),
            ("corp.example", 200),
            ("localhost", 200),
            ("evilcorp.example", 403),
            ("gateway.example.evil", 403),
        ):
            response = _post(url, "chat", {**JSON, "host": host})
            assert response.status_code == status, host


def test_a_wildcard_allowed_host_turns_the_check_off(roots: dict[str, str]) -> None:
    with open_gateway(roots, allowed_hosts=("*",)) as url:
        assert _post(url, "chat", {**JSON, "host": "anything.example"}).status_code == 200


def test_a_gateway_bound_to_all_interfaces_checks_host_only_when_told(
    roots: dict[str, str],
) -> None:
    with open_gateway(roots, host="0.0.0.0", allow_open=True) as url:
        assert _post(url, "chat", {**JSON, "host": "llm.example"}).status_code == 200
    with open_gateway(roots, host="0.0.0.0", allowed_hosts=("llm.example",)) as url:
        assert _post(url, "chat", {**JSON, "host": "llm.example"}).status_code == 200
        assert _post(url, "chat", {**JSON, "host": "0.0.0.0"}).status_code == 200
        assert _post(url, "chat", {**JSON, "host": "other.example"}).status_code == 403


# ------------------------------------------------------------------- Origin and CORS


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_browser_origin_is_refused_without_cors(
    gateway_open: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    response = _post(gateway_open, fmt, {**JSON, "origin": "https://evil.example"})
    assert response.status_code == 403
    validate_error(fmt, 403, response.json())
    assert "cors_origins" in response.text
    assert "access-control-allow-origin" not in response.headers
    _nothing_sent(upstreams)


def test_a_page_cannot_read_the_model_list_or_health_cross_origin(gateway_open: str) -> None:
    for path in ("/v1/models", "/health", "/"):
        response = httpx.get(gateway_open + path, headers={"origin": "null"})
        assert response.status_code == 403, path


def test_a_preflight_is_refused_without_cors(gateway_open: str) -> None:
    response = httpx.options(
        gateway_open + "/v1/messages",
        headers={
            "origin": "https://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, x-api-key",
        },
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


def test_a_configured_origin_gets_a_preflight_and_cors_headers(
    roots: dict[str, str], upstreams: dict[str, ScriptedUpstream]
) -> None:
    origin = "https://app.example"
    with open_gateway(roots, cors_origins=(origin,)) as url:
        pre = httpx.options(
            url + "/v1/messages",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type, anthropic-version",
            },
        )
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == origin
        assert pre.headers["access-control-allow-methods"] == "POST"
        assert pre.headers["access-control-allow-headers"] == "content-type, anthropic-version"
        assert int(pre.headers["access-control-max-age"]) > 0
        _nothing_sent(upstreams)

        ok = _post(url, "anthropic", {**JSON, "origin": origin})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == origin
        assert "request-id" in ok.headers["access-control-expose-headers"]
        assert ok.headers["vary"] == "Origin"

        # errors carry the headers too, so the page can read what went wrong
        missing = httpx.post(
            url + "/v1/chat/completions",
            json=body_for("chat", "no-such-model"),
            headers={"origin": origin},
        )
        assert missing.status_code == 404
        assert missing.headers["access-control-allow-origin"] == origin

        stream = httpx.post(
            url + "/v1/chat/completions",
            json=body_for("chat", "chat-model", stream=True),
            headers={"origin": origin},
        )
        assert stream.status_code == 200
        assert stream.headers["access-control-allow-origin"] == origin

        other = _post(url, "chat", {**JSON, "origin": "https://other.example"})
        assert other.status_code == 403


def test_any_origin_with_a_wildcard(roots: dict[str, str]) -> None:
    with open_gateway(roots, cors_origins=("*",)) as url:
        response = _post(url, "chat", {**JSON, "origin": "https://whatever.example"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://whatever.example"


# ------------------------------------------------------------------- real clients still pass


@pytest.mark.parametrize("stream", [False, True])
def test_the_official_sdks_pass_the_checks(gateway_open: str, stream: bool) -> None:
    seen: list[httpx.Request] = []
    hooks = {"request": [seen.append]}
    messages = [{"role": "user", "content": "hello there"}]
    claude = anthropic_client(gateway_open, "unused")
    claude._client.event_hooks = hooks
    with claude:
        if stream:
            with claude.messages.stream(
                model="anthropic-model", max_tokens=32, messages=messages
            ) as s:
                assert s.get_final_message().content
        else:
            assert claude.messages.create(
                model="anthropic-model", max_tokens=32, messages=messages
            ).content
    gpt = openai_client(gateway_open, "unused")
    gpt._client.event_hooks = hooks
    with gpt:
        chat = gpt.chat.completions.create(model="chat-model", messages=messages, stream=stream)
        if stream:
            assert list(chat)
        reply = gpt.responses.create(model="responses-model", input="hi", stream=stream)
        if stream:
            assert list(reply)
    # what they sent: a JSON content type, a loopback Host, no Origin
    assert len(seen) == 3
    for request in seen:
        assert request.headers["content-type"].startswith("application/json")
        assert request.headers["host"].startswith("127.0.0.1:")
        assert "origin" not in request.headers


# ------------------------------------------------------------------- WSGI


def test_the_wsgi_app_refuses_the_same(
    roots: dict[str, str], upstreams: dict[str, ScriptedUpstream]
) -> None:
    app = WsgiApp(make_config(roots))
    try:
        with serve_wsgi(app) as url:
            assert _post(url, "chat", {"content-type": "text/plain"}).status_code == 415
            assert _post(url, "chat", {**JSON, "host": "attacker.example"}).status_code == 403
            blocked = _post(url, "chat", {**JSON, "origin": "https://evil.example"})
            assert blocked.status_code == 403
            validate_error("chat", 403, blocked.json())
            _nothing_sent(upstreams)
            assert _post(url, "chat", JSON).status_code == 200
    finally:
        app.close()


# ------------------------------------------------------------------- mounted


def test_a_mounted_app_checks_host_against_its_own_configuration() -> None:
    """Mounted in Starlette under uvicorn, the app cannot see where the host server listens:
    its own ``server.host`` (loopback by default) and ``allowed_hosts`` decide."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from apibridge.config import GatewayConfig, ServerConfig

    default = AsgiApp(upstream="scripted=echo")
    named = AsgiApp(
        GatewayConfig.single("scripted=echo", server=ServerConfig(allowed_hosts=("llm.example",)))
    )
    host_app = Starlette(routes=[Mount("/a", app=default), Mount("/b", app=named)])
    body = body_for("chat", "m")
    with serve_asgi(host_app) as url:
        for mount, host, status in (
            ("/a", "localhost", 200),
            ("/a", "llm.example", 403),
            ("/b", "llm.example", 200),
            ("/b", "other.example", 403),
        ):
            response = httpx.post(
                url + mount + "/v1/chat/completions", json=body, headers={"host": host}
            )
            assert response.status_code == status, (mount, host)
            if status == 403:
                validate_error("chat", 403, response.json())
