"""Claude Code and Codex CLI through apibridge to backboard.io (the project's faithful fake).

backboard is stateful (assistants, threads, runs), so a tool round trip is two different
upstream calls: a message that ends with the run asking for tool calls, then the tool
outputs submitted to that run. The fake answers the second with ``Results: <id>=<output>``,
so the client's final answer holds the output of the command the client really ran: proof
that the call reached the client and its result reached the same backboard run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from apibridge.asgi import App
from apibridge.config import GatewayConfig, Retries, Route, Timeouts, UpstreamConfig
from backboard.fake_backboard import FakeBackboard, Plan, serve

from .clients import requires, run_claude, run_codex
from .recorder import LoopbackServer

pytestmark = pytest.mark.acceptance

_KEY = "bb-key-1"
# Quick settings: no pre-created threads, short waits after the run ends.
_OPTIONS: dict[str, Any] = {"pool_size": 0, "end_grace": 0.2, "llm_provider": "anthropic"}

Responder = Callable[[Any, dict[str, Any], list[dict[str, Any]]], Plan]


@contextmanager
def _backboard_bridge(responder: Responder) -> Iterator[tuple[str, FakeBackboard]]:
    """apibridge (its root URL) in front of a fake backboard answering with ``responder``."""
    fake = FakeBackboard((_KEY,))
    fake.responder = responder
    with serve(fake.app) as fake_url:
        upstream = UpstreamConfig(
            name="bb",
            format="backboard",
            base_url=fake_url,
            api_keys=(_KEY,),
            retries=Retries(attempts=0),
            timeouts=Timeouts(connect=5.0, first_byte=30.0, idle=30.0),
            options=_OPTIONS,
        )
        config = GatewayConfig(
            upstreams={"bb": upstream}, routes=(Route(pattern="*", upstream="bb"),)
        )
        with LoopbackServer(App(config)) as gateway:
            yield gateway.url, fake


def _answer(text: str) -> Responder:
    return lambda thread, fields, files: Plan(text=text)


def _call_once(name: str, arguments: dict[str, Any]) -> Responder:
    """Ask for one tool call (the fake answers the submitted output by itself)."""
    return lambda thread, fields, files: Plan(tool_calls=((name, arguments),))


def _messages(fake: FakeBackboard) -> list[dict[str, Any]]:
    return fake.recorded("message")


@requires("claude")
def test_claude_code_plain_answer(tmp_path: Path) -> None:
    with _backboard_bridge(_answer("Hello from backboard.")) as (url, fake):
        run = run_claude(url, "Greet me.", workdir=tmp_path, model="claude-sonnet-4-5")
        (message,) = _messages(fake)
    assert run.returncode == 0, run.summary()
    assert run.json()["result"] == "Hello from backboard."
    assert "Greet me." in message["fields"]["content"]


@requires("claude")
def test_claude_code_bash_round_trip(tmp_path: Path) -> None:
    command = {"command": "echo backboard-bash-marker", "description": "Print a marker"}
    with _backboard_bridge(_call_once("Bash", command)) as (url, fake):
        run = run_claude(
            url,
            "Run echo.",
            workdir=tmp_path,
            model="claude-sonnet-4-5",
            allowed_tools=["Bash(echo:*)"],
        )
        (message,) = _messages(fake)
        (outputs,) = fake.recorded("tool_outputs")
    assert run.returncode == 0, run.summary()
    result = run.json()
    assert result["is_error"] is False, run.summary()
    assert "backboard-bash-marker" in result["result"]
    assert "Bash" in [t["function"]["name"] for t in message["fields"]["tools"]]
    assert "backboard-bash-marker" in json.dumps(outputs)


@requires("codex")
def test_codex_plain_answer(tmp_path: Path) -> None:
    with _backboard_bridge(_answer("Codex via backboard.")) as (url, fake):
        run = run_codex(f"{url}/v1", "Say hello.", workdir=tmp_path)
        (message,) = _messages(fake)
    assert run.returncode == 0, run.summary()
    assert run.stdout.strip() == "Codex via backboard."
    assert "Say hello." in message["fields"]["content"]


@requires("codex")
def test_codex_exec_command_round_trip(tmp_path: Path) -> None:
    arguments = {"cmd": "echo backboard-exec-marker"}
    with _backboard_bridge(_call_once("exec_command", arguments)) as (url, fake):
        run = run_codex(f"{url}/v1", "Run echo.", workdir=tmp_path)
        (outputs,) = fake.recorded("tool_outputs")
    assert run.returncode == 0, run.summary()
    assert "backboard-exec-marker" in run.stdout
    assert "backboard-exec-marker" in json.dumps(outputs)
