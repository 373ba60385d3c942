"""Server profiles through the served gateway (issue 11): a Chat upstream on 127.0.0.1 gets
requests fitted to its profile, chosen by ``options.profile`` or detected from the ``owned_by``
of its ``GET /v1/models`` (asked once per upstream, whatever the number of requests; a failed
detection is ``generic`` and fails nothing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from servers import serve_asgi

from apibridge._gateway._profiles import Profiles
from apibridge.asgi import App as AsgiApp
from apibridge.config import ConfigError, GatewayConfig, load_config

#: a Responses client asking for what vLLM cannot take as it is.
BODY: dict[str, Any] = {
    "model": "qwen3",
    "input": "What is the weather?",
    "reasoning": {"effort": "xhigh"},
    "tools": [
        {"type": "function", "name": "get", "parameters": {"type": "object"}, "strict": True},
        {"type": "function", "name": "put", "parameters": {"type": "object"}},
    ],
    "tool_choice": {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "get"}],
    },
}


class ChatServer:
    """A Chat upstream that names its owner in ``GET /v1/models`` (or fails that, with
    ``models_status``) and records every chat request body."""

    def __init__(self, owner: str, models_status: int = 200) -> None:
        self.owner = owner
        self.models_status = models_status
        self.models_asked = 0
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET" and scope["path"] == "/v1/models":
            self.models_asked += 1
            entry = {"id": "qwen3", "object": "model", "created": 1, "owned_by": self.owner}
            await _reply(send, self.models_status, {"object": "list", "data": [entry]})
            return
        self.bodies.append(json.loads(raw))
        await _reply(
            send,
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": "qwen3",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Sunny."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            },
        )


async def _reply(send: Any, status: int, body: Any) -> None:
    head = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def _served(server: ChatServer, **options: Any) -> Iterator[str]:
    with serve_asgi(server) as upstream:
        config = GatewayConfig.single(f"chat={upstream}/v1", api_key="sk-up", options=options)
        with serve_asgi(AsgiApp(config)) as gateway:
            yield gateway


def _ask(gateway: str, times: int = 1) -> None:
    for _ in range(times):
        response = httpx.post(
            f"{gateway}/v1/responses",
            content=json.dumps(BODY),
            headers={"content-type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 200, response.text


def _fits_vllm(sent: dict[str, Any]) -> None:
    assert sent["reasoning_effort"] == "high"  # vLLM takes low, medium, high
    assert sent["tool_choice"] == "required"  # no allowed_tools at vLLM
    assert [t["function"]["name"] for t in sent["tools"]] == ["get"]
    assert all("strict" not in t["function"] for t in sent["tools"])


def test_profile_option_selects_vllm_without_asking_the_server() -> None:
    server = ChatServer(owner="someone")
    for gateway in _served(server, profile="vllm"):
        _ask(gateway, times=2)
    assert server.models_asked == 0
    for sent in server.bodies:
        _fits_vllm(sent)


def test_auto_detects_vllm_from_owned_by_once_per_upstream() -> None:
    server = ChatServer(owner="vllm")
    for gateway in _served(server, profile="auto"):
        _ask(gateway, times=3)
    assert server.models_asked == 1
    assert len(server.bodies) == 3
    for sent in server.bodies:
        _fits_vllm(sent)


def test_a_failed_detection_is_generic_and_fails_nothing() -> None:
    server = ChatServer(owner="vllm", models_status=500)
    for gateway in _served(server, profile="auto"):
        _ask(gateway, times=2)
    assert server.models_asked == 1
    for sent in server.bodies:  # generic: the allowed_tools shape, as every OpenAI server
        assert sent["tool_choice"]["type"] == "allowed_tools"


def test_without_the_option_a_local_server_is_not_asked() -> None:
    server = ChatServer(owner="vllm")
    for gateway in _served(server):
        _ask(gateway)
    assert server.models_asked == 0
    assert server.bodies[0]["tool_choice"]["type"] == "allowed_tools"


@pytest.mark.parametrize(
    ("fmt", "value"),
    [
        ("chat", "vllm2"),
        ("anthropic", "sglang"),
        ("responses", "vllm"),
        # formats without profiles take none at all: the backboard transport would refuse
        # the option on every request (500) instead of once at start-up
        ("backboard", "generic"),
        ("backboard", "auto"),
        ("responses", "auto"),
    ],
)
def test_an_unknown_profile_is_refused_at_start_up(fmt: str, value: str) -> None:
    config = GatewayConfig.single(f"{fmt}=http://127.0.0.1:9/v1", options={"profile": value})
    with pytest.raises(ConfigError, match=r"options\.profile"):
        Profiles(config)


def test_the_upstream_spec_names_a_profile_after_a_plus() -> None:
    config = GatewayConfig.single("chat+vllm=http://127.0.0.1:8000/v1")
    (upstream,) = config.upstreams.values()
    assert upstream.format == "chat"
    assert upstream.base_url == "http://127.0.0.1:8000/v1"
    assert upstream.options["profile"] == "vllm"
    assert Profiles(config).known["default"] is not None
    env = {"APIBRIDGE_UPSTREAM": "anthropic+deepseek=https://api.deepseek.com/anthropic"}
    (upstream,) = load_config(env=env).upstreams.values()
    assert (upstream.format, upstream.options["profile"]) == ("anthropic", "deepseek")


@pytest.mark.parametrize("spec", ["chat+=http://h/v1", "vllm=http://h/v1", "+vllm=http://h"])
def test_a_bad_profile_spelling_is_refused(spec: str) -> None:
    with pytest.raises(ConfigError):
        GatewayConfig.single(spec)
