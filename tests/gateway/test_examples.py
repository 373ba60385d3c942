"""The examples run: the ASGI app mounted in Starlette and FastAPI, the WSGI app mounted in
Flask and beside Django, the sample configuration file loads."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from calls import anthropic_client, openai_client
from servers import ScriptedUpstream, serve_asgi, serve_wsgi

from apibridge.config import load_config

EXAMPLES = Path(__file__).parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would (Django imports its URLconf by name)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def env(upstream_servers: dict[str, tuple[ScriptedUpstream, str]]) -> dict[str, str]:
    _, root = upstream_servers["chat"]
    return {"APIBRIDGE_UPSTREAM": f"chat={root}/v1", "APIBRIDGE_UPSTREAM_KEY": "k"}


def exercise(root: str) -> None:
    """The host's own route, and both SDKs through the mounted gateway."""
    assert httpx.get(root + "/").json() == {"hello": "from the host application"}
    gateway = root + "/llm"
    message = anthropic_client(gateway, "any").messages.create(
        model="m", max_tokens=20, messages=[{"role": "user", "content": "ping"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from chat! You said: ping"
    chunks = openai_client(gateway, "any").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "pong"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from chat! You said: pong"


def test_starlette_mount(env: dict[str, str]) -> None:
    app = load("starlette_mount").build(env)
    with serve_asgi(app) as root:
        exercise(root)


def test_flask_mount(env: dict[str, str]) -> None:
    app, bridge = load("flask_mount").build(env)
    with serve_wsgi(app) as root:
        exercise(root)
    bridge.close()


def test_fastapi_mount(env: dict[str, str]) -> None:
    pytest.importorskip("fastapi")
    app = load("fastapi_mount").build(env)
    with serve_asgi(app) as root:
        exercise(root)


def test_django_mount(env: dict[str, str]) -> None:
    pytest.importorskip("django")
    module = load("django_mount")
    module.gateway.close()  # the one built at import, from this process's environment
    app, bridge = module.build(env)
    with serve_wsgi(app) as root:
        exercise(root)
        # Django still answers everything outside the prefix, including its own 404
        assert httpx.get(root + "/llmx").status_code == 404
    bridge.close()


def test_offline_default() -> None:
    app = load("starlette_mount").build({})
    with serve_asgi(app) as root:
        answer = openai_client(root + "/llm", "any").responses.create(model="m", input="hi")
        assert answer.output_text == "echo: hi"


def test_sample_config() -> None:
    config = load_config(EXAMPLES / "apibridge.toml", env={"ANTHROPIC_API_KEY": "sk-x"})
    assert set(config.upstreams) == {"local", "anthropic", "demo"}
    assert config.route("claude-haiku-4-5") == (config.upstreams["local"], "qwen3:8b")
    assert config.route("claude-opus-4-1") == (config.upstreams["anthropic"], "claude-opus-4-1")
