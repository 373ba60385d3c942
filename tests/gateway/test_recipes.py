"""The recipes' programs run as a user runs them: each starts ``apibridge serve`` (a real child
process on 127.0.0.1) in front of a scripted upstream on loopback, talks to it with the
client's own SDK, and the upstream records what reached it. The recipes' configuration files
load, and route as their pages say."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from servers import ScriptedUpstream

from apibridge.config import load_config
from oracles import validate_request

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
RECIPES = ROOT / "docs" / "recipes"
KEY = "sk-recipe-upstream-0123456789"


def load(name: str) -> ModuleType:
    """The example program ``examples/NAME.py`` as a module (registered, as an import would)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def child_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the gateway child inherits: the upstream key, nothing else of ours."""
    for name in list(os.environ):
        if name.startswith(("APIBRIDGE_", "OPENAI_", "ANTHROPIC_", "BBD_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("APIBRIDGE_UPSTREAM_KEY", KEY)


def upstream_of(
    fmt: str,
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
) -> tuple[ScriptedUpstream, str]:
    upstream, root = upstream_servers[fmt]
    upstream.reset()
    return upstream, f"{fmt}={root}" + ("" if fmt in ("anthropic", "gemini") else "/v1")


def checked_bodies(upstream: ScriptedUpstream, fmt: str, count: int) -> list[dict[str, Any]]:
    """Every request the upstream received: ``count`` of them, each valid for the SDK's type,
    with the gateway's key and no Anthropic beta header outside Anthropic."""
    assert len(upstream.requests) == count, [r["body"] for r in upstream.requests]
    for request in upstream.requests:
        validate_request(fmt, request["body"])
        headers = request["headers"]
        sent = (
            headers.get("x-api-key")
            or headers.get("x-goog-api-key")
            or headers.get("authorization", "").removeprefix("Bearer ")
        )
        assert sent == KEY
        if fmt != "anthropic":
            assert "anthropic-beta" not in headers
    return [r["body"] for r in upstream.requests]


@pytest.mark.usefixtures("child_env")
def test_claude_code_check_on_a_chat_server(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """What Claude Code sends, through the gateway, to an OpenAI-compatible server: the Bash
    call comes back whole, its result goes upstream as a tool message, the text answer ends."""
    upstream, spec = upstream_of("chat", upstream_servers)
    load("claude_code_check").main(["--upstream", spec, "--model", "qwen3-coder"])
    out = capsys.readouterr().out
    first, second = checked_bodies(upstream, "chat", 2)
    assert first["model"] == "qwen3-coder"
    assert first["stream"] is True
    assert [t["function"]["name"] for t in first["tools"]] == ["Bash", "Read"]
    # Claude Code asks for 32000; the recipe's --max-output-tokens 8192 clamps it
    assert (first.get("max_completion_tokens") or first.get("max_tokens")) == 8192
    assert "You are Claude Code" in json.dumps(first["messages"][0])
    assert second["messages"][-1]["role"] == "tool"
    assert second["messages"][-1]["content"].startswith("(not run by the check) Bash")
    assert "tool call: Bash" in out
    assert "text: The tool said: (not run by the check) Bash" in out


@pytest.mark.usefixtures("child_env")
@pytest.mark.parametrize("fmt", ["anthropic", "chat"])
def test_gemini_check_on_claude_or_a_chat_server(
    fmt: str,
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What Gemini CLI sends (the google-genai SDK, streamed, its read_file and list_directory
    tools, thoughts asked for), through the gateway, to Claude or a chat server: the call
    comes back as a functionCall, its functionResponse goes upstream as the tool's result,
    and the text answer ends the check."""
    upstream, spec = upstream_of(fmt, upstream_servers)
    load("gemini_check").main(["--upstream", spec, "--model", "qwen3-coder"])
    out = capsys.readouterr().out
    first, second = checked_bodies(upstream, fmt, 2)
    assert first["model"] == "qwen3-coder"
    assert first["stream"] is True
    names = [t.get("name") or t.get("function", {}).get("name") for t in first["tools"]]
    assert names == ["read_file", "list_directory"]
    assert "interactive CLI agent" in json.dumps(first["system"] if fmt == "anthropic" else first)
    assert "(not run by the check) read_file" in json.dumps(second)
    assert "tool call: read_file" in out
    assert "text: The tool said: (not run by the check) read_file" in out


@pytest.mark.usefixtures("child_env")
def test_claude_code_check_on_gemini(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """What Claude Code sends, through the gateway, to Gemini (the recipe's other half): the
    Bash call comes back whole, and goes back to Gemini with its id and its thought signature
    on the functionCall part, its result as the functionResponse."""
    upstream, spec = upstream_of("gemini", upstream_servers)
    load("claude_code_check").main(["--upstream", spec, "--model", "gemini-2.5-pro"])
    out = capsys.readouterr().out
    first, second = checked_bodies(upstream, "gemini", 2)
    assert [r["path"] for r in upstream.requests] == [
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    ] * 2
    names = [f["name"] for t in first["tools"] for f in t["functionDeclarations"]]
    assert names == ["Bash", "Read"]
    model_turn, results = second["contents"][-2:]
    call = next(p for p in model_turn["parts"] if "functionCall" in p)
    assert call["functionCall"]["name"] == "Bash"
    assert call["thoughtSignature"]  # Gemini 3 refuses a call that lost its signature
    response = results["parts"][0]["functionResponse"]
    assert response["id"] == call["functionCall"]["id"]
    assert "(not run by the check) Bash" in json.dumps(response["response"])
    assert "tool call: Bash" in out
    assert "text: The tool said: (not run by the check) Bash" in out


@pytest.mark.usefixtures("child_env")
@pytest.mark.parametrize("fmt", ["anthropic", "chat"])
def test_codex_check(
    fmt: str,
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What Codex CLI sends, through the gateway, to Claude or a chat-only server: the
    exec_command call comes back as a function_call item, the whole conversation is replayed
    with its output, and the stream ends with response.completed."""
    upstream, spec = upstream_of(fmt, upstream_servers)
    load("codex_check").main(["--upstream", spec, "--model", "claude-sonnet-4-5"])
    out = capsys.readouterr().out
    first, second = checked_bodies(upstream, fmt, 2)
    assert first["stream"] is True
    names = [t.get("name") or t.get("function", {}).get("name") for t in first["tools"]]
    assert names[:2] == ["exec_command", "apply_patch"]
    assert "You are Codex" in json.dumps(first["system"] if fmt == "anthropic" else first)
    assert "(not run by the check) exec_command" in json.dumps(second)
    assert "tool call: exec_command" in out
    assert "text: The tool said: (not run by the check) exec_command" in out


@pytest.mark.usefixtures("child_env")
@pytest.mark.parametrize(("api", "stream"), [("responses", False), ("chat", True)])
def test_agents_sdk_app_on_claude(
    api: str,
    stream: bool,
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An Agents SDK agent on a Claude upstream: the SDK runs the function tool the model
    called, and the function's real return value reaches the upstream."""
    pytest.importorskip("agents")
    upstream, spec = upstream_of("anthropic", upstream_servers)
    args = ["--upstream", spec, "--api", api] + (["--stream"] if stream else [])
    load("agents_sdk_app").main(args)
    out = capsys.readouterr().out
    _, second = checked_bodies(upstream, "anthropic", 2)
    results = [
        block
        for message in second["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "tool_result"
    ]
    assert "Sunny, 21 degrees in Paris" in json.dumps(results)
    assert out.strip().endswith("The tool said: Sunny, 21 degrees in Paris")


def _toml_fences(page: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_claude_code_config_routes_claude_names_to_the_local_model() -> None:
    config = load_config(EXAMPLES / "claude_code.toml", env={})
    local = config.upstreams["local"]
    assert local.format == "chat"
    assert local.max_output_tokens == 8192
    assert config.route("claude-sonnet-4-5") == (local, "qwen3-coder")
    assert config.route("claude-haiku-4-5") == (local, "qwen3:8b")
    assert config.route("qwen3-coder") == (local, "qwen3-coder")


def test_the_gemini_configs_route_as_the_recipe_says() -> None:
    config = load_config(EXAMPLES / "gemini_cli.toml", env={"ANTHROPIC_API_KEY": "k"})
    claude, local = config.upstreams["claude"], config.upstreams["local"]
    assert (claude.format, local.format) == ("anthropic", "chat")
    assert config.route("gemini-2.5-pro") == (claude, "claude-sonnet-4-5")
    assert config.route("gemini-2.5-flash") == (claude, "claude-sonnet-4-5")
    assert config.route("gemini-2.5-flash-lite") == (local, "qwen3:8b")
    assert config.route("qwen3-coder") == (local, "qwen3-coder")
    config = load_config(EXAMPLES / "claude_code_gemini.toml", env={"GEMINI_API_KEY": "k"})
    gemini = config.upstreams["gemini"]
    assert gemini.format == "gemini"
    assert gemini.api_keys == ("k",)
    assert config.route("claude-sonnet-4-5") == (gemini, "gemini-2.5-pro")
    assert config.route("claude-haiku-4-5") == (gemini, "gemini-2.5-flash")
    assert config.route("gemini-3-pro-preview") == (gemini, "gemini-3-pro-preview")


def test_the_codex_pages_two_upstream_config_routes_by_name(tmp_path: Path) -> None:
    (block,) = [b for b in _toml_fences(RECIPES / "codex.md") if "[upstreams." in b]
    path = tmp_path / "codex.toml"
    path.write_text(block, encoding="utf-8")
    config = load_config(path, env={"ANTHROPIC_API_KEY": "x"})
    assert config.route("claude-sonnet-4-5") == (config.upstreams["claude"], "claude-sonnet-4-5")
    assert config.route("qwen3-coder") == (config.upstreams["local"], "qwen3-coder")


def test_the_migration_pages_routes_keep_the_clients_model_names(tmp_path: Path) -> None:
    page = ROOT / "docs" / "migrating-from-openai-api-bridge.md"
    block = next(b for b in _toml_fences(page) if "[[routes]]" in b)
    path = tmp_path / "migrating.toml"
    path.write_text(block, encoding="utf-8")
    config = load_config(path, env={"BRIDGE_API_KEY": "k", "GROQ_API_KEY": "g"})
    assert config.server.client_keys == ("k",)
    assert config.route("llama-main/qwen3") == (config.upstreams["llama-main"], "qwen3")
    groq = config.upstreams["groq"]
    assert config.route("groq/llama-3.3-70b-versatile") == (groq, "llama-3.3-70b-versatile")


def test_codex_config_points_at_the_gateway() -> None:
    codex = tomllib.loads((EXAMPLES / "codex_config.toml").read_text(encoding="utf-8"))
    provider = codex["model_providers"][codex["model_provider"]]
    assert provider["base_url"] == "http://127.0.0.1:8080/v1"
    assert provider["wire_api"] == "responses"


def test_every_gateway_config_on_the_recipe_pages_loads(tmp_path: Path) -> None:
    """A TOML block that configures the gateway (it has ``[upstreams.…]``) is a valid config
    (on the recipe pages and the migration page); one for Codex (``model_providers``) has what
    Codex needs."""
    seen = 0
    pages = [*sorted(RECIPES.glob("*.md")), ROOT / "docs" / "migrating-from-openai-api-bridge.md"]
    for page in pages:
        for block in _toml_fences(page):
            if "--8<--" in block:
                continue  # an included file, tested above
            seen += 1
            if "[upstreams." in block:
                env = {name: "x" for name in re.findall(r'_env = "(\w+)"', block)}
                path = tmp_path / f"{page.stem}-{seen}.toml"
                path.write_text(block, encoding="utf-8")
                config = load_config(path, env=env)
                assert config.upstreams, page.name
            else:
                parsed = tomllib.loads(block)
                if "model_providers" in parsed:
                    for provider in parsed["model_providers"].values():
                        assert provider["wire_api"] == "responses", page.name
                        assert provider["base_url"].endswith("/v1"), page.name
    assert seen >= 3
