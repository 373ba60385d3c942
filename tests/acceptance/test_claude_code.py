"""Claude Code (the real CLI) through apibridge to chat, responses and anthropic upstreams.

Each scenario runs ``claude -p ... --output-format json`` against the gateway, with the
upstream scripted turn by turn, and checks what the user sees (exit status, the ``result``
text) and every request the upstream received (SDK-valid, and carrying the tool calls, tool
output and reasoning the scenario is about).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from . import wire
from .clients import ClientRun, requires, run_claude
from .harness import Bridge, bridge
from .scripted import Call, Turn

pytestmark = [pytest.mark.acceptance, requires("claude")]

# A model Claude Code knows, with ``thinking: enabled`` and a budget (see docs/clients.md).
MODEL = "claude-sonnet-4-5"


def _claude(
    gateway: Bridge,
    prompt: str,
    workdir: Path,
    *,
    allowed_tools: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> ClientRun:
    return run_claude(
        gateway.url,
        prompt,
        workdir=workdir,
        model=MODEL,
        allowed_tools=allowed_tools,
        extra_env=extra_env,
        timeout=60,
    )


def _succeeded(run: ClientRun) -> dict[str, Any]:
    """The JSON result of a run that must have succeeded."""
    assert run.returncode == 0, run.summary()
    result: dict[str, Any] = run.json()
    assert result["is_error"] is False, run.summary()
    return result


def _bash(call_id: str, command: str) -> Call:
    arguments = json.dumps({"command": command, "description": "Print a marker"})
    return Call(id=call_id, name="Bash", arguments=arguments)


# ----------------------------------------------------------------------------- chat upstream


def test_chat_plain_answer(tmp_path: Path) -> None:
    answer = "The capital of France is Paris."
    with bridge("chat", [Turn(text=answer)]) as gateway:
        run = _claude(gateway, "What is the capital of France?", tmp_path)
        (body,) = gateway.upstream_bodies(1)
    assert _succeeded(run)["result"] == answer
    assert "What is the capital of France?" in wire.user_text("chat", body)
    assert body["stream"] is True
    assert {"Bash", "Read", "Edit", "Write"} <= set(wire.tool_names("chat", body))
    # Claude Code's system blocks arrive as the leading system message.
    assert body["messages"][0]["role"] in ("system", "developer")


def test_chat_bash_round_trip(tmp_path: Path) -> None:
    call = _bash("call_bash01", "echo bridge-bash-ok")
    script = [Turn(calls=(call,)), Turn(text="The command printed bridge-bash-ok.")]
    with bridge("chat", script) as gateway:
        run = _claude(gateway, "Run echo.", tmp_path, allowed_tools=["Bash(echo:*)"])
        first, second = gateway.upstream_bodies(2)
    assert _succeeded(run)["result"] == "The command printed bridge-bash-ok."
    (seen,) = wire.calls("chat", second)
    assert (seen.id, seen.name) == (call.id, "Bash")
    assert json.loads(seen.arguments) == json.loads(call.arguments)
    # The output Claude Code got by really running the command went back upstream.
    assert "bridge-bash-ok" in wire.results("chat", second)[call.id]
    assert wire.calls("chat", first) == []


def test_chat_read_round_trip(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("line one\nthe secret word is pelican\n")
    call = Call(id="call_read01", name="Read", arguments=json.dumps({"file_path": str(notes)}))
    script = [Turn(calls=(call,)), Turn(text="The secret word is pelican.")]
    with bridge("chat", script) as gateway:
        run = _claude(gateway, "Read notes.txt.", tmp_path, allowed_tools=["Read"])
        _, second = gateway.upstream_bodies(2)
    assert _succeeded(run)["result"] == "The secret word is pelican."
    assert "the secret word is pelican" in wire.results("chat", second)[call.id]


def test_chat_two_parallel_tool_calls(tmp_path: Path) -> None:
    calls = (_bash("call_par01", "echo first-marker"), _bash("call_par02", "echo second-marker"))
    # The upstream interleaves the two calls' argument fragments, as vLLM does.
    script = [Turn(calls=calls, interleave=True), Turn(text="Both ran.")]
    with bridge("chat", script) as gateway:
        run = _claude(gateway, "Run both.", tmp_path, allowed_tools=["Bash(echo:*)"])
        _, second = gateway.upstream_bodies(2)
    assert _succeeded(run)["result"] == "Both ran."
    seen = wire.calls("chat", second)
    assert [(c.id, json.loads(c.arguments)) for c in seen] == [
        (c.id, json.loads(c.arguments)) for c in calls
    ]
    results = wire.results("chat", second)
    assert "first-marker" in results["call_par01"]
    assert "second-marker" in results["call_par02"]
    # One assistant message holds both calls; the two tool messages follow it directly.
    roles = [m["role"] for m in second["messages"]]
    at = next(i for i, m in enumerate(second["messages"]) if m.get("tool_calls"))
    assert len(second["messages"][at]["tool_calls"]) == 2
    assert roles[at + 1 : at + 3] == ["tool", "tool"]


def test_chat_reasoning_content_and_tool_call(tmp_path: Path) -> None:
    thought = "The user wants a marker printed; echo is enough."
    call = _bash("call_rsn01", "echo reasoning-marker")
    script = [Turn(reasoning=thought, calls=(call,)), Turn(text="Printed it.")]
    with bridge("chat", script) as gateway:
        run = _claude(gateway, "Print a marker.", tmp_path, allowed_tools=["Bash(echo:*)"])
        _, second = gateway.upstream_bodies(2)
    assert _succeeded(run)["result"] == "Printed it."
    assert "reasoning-marker" in wire.results("chat", second)[call.id]
    # Claude Code sent the thinking block back; the chat upstream gets it as reasoning_content.
    assert [r.text for r in wire.reasoning("chat", second)] == [thought]


@pytest.mark.parametrize("retrier", ["client", "gateway"])
def test_chat_rate_limited_then_success(retrier: str, tmp_path: Path) -> None:
    script = [Turn(status=429, retry_after=0), Turn(text="Worth the wait.")]
    # Either the gateway passes the 429 on (in Anthropic's terms, with its retry-after) and
    # Claude Code retries, or the gateway retries itself and the client never sees it.
    client_retries = "2" if retrier == "client" else "0"
    with bridge("chat", script, retries=1 if retrier == "gateway" else 0) as gateway:
        run = _claude(
            gateway, "Hello?", tmp_path, extra_env={"CLAUDE_CODE_MAX_RETRIES": client_retries}
        )
        first, second = gateway.upstream_bodies(2)
    assert _succeeded(run)["result"] == "Worth the wait."
    assert first["messages"] == second["messages"]


def test_chat_rate_limit_reported_in_anthropic_terms(tmp_path: Path) -> None:
    with bridge("chat", [Turn(status=429, retry_after=0)]) as gateway:
        run = _claude(gateway, "Hello?", tmp_path)
        gateway.upstream_bodies(1)
    result = run.json()
    assert run.returncode != 0 or result["is_error"] is True, run.summary()
    assert result["api_error_status"] == 429, run.summary()


# ------------------------------------------------------------------------ responses upstream


def test_responses_plain_answer(tmp_path: Path) -> None:
    with bridge("responses", [Turn(text="Answer from a Responses upstream.")]) as gateway:
        run = _claude(gateway, "Say something.", tmp_path)
        (body,) = gateway.upstream_bodies(1)
    assert _succeeded(run)["result"] == "Answer from a Responses upstream."
    assert "Say something." in wire.user_text("responses", body)
    assert {"Bash", "Read"} <= set(wire.tool_names("responses", body))


def test_responses_encrypted_reasoning_comes_back(tmp_path: Path) -> None:
    thought = "Echo is the simplest way."
    encrypted = "gAAAAB-opaque-encrypted-reasoning-0123456789"
    call = _bash("call_resp01", "echo responses-marker")
    script = [
        Turn(reasoning=thought, signature=encrypted, calls=(call,)),
        Turn(text="Done via Responses."),
    ]
    with bridge("responses", script) as gateway:
        run = _claude(gateway, "Print a marker.", tmp_path, allowed_tools=["Bash(echo:*)"])
        _, second = gateway.upstream_bodies(2)
    assert _succeeded(run)["result"] == "Done via Responses."
    assert "responses-marker" in wire.results("responses", second)[call.id]
    # The encrypted reasoning travelled to Claude Code inside a signature and back, intact.
    (replayed,) = wire.reasoning("responses", second)
    assert replayed.opaque == encrypted
    assert replayed.text == thought


# ------------------------------------------------------------------------ anthropic upstream


def test_anthropic_signed_thinking_comes_back_intact(tmp_path: Path) -> None:
    thought = "Let me print the marker with echo."
    signature = "EqQBCkYIARgCIkB0ZXN0LXNpZ25hdHVyZS1ieXRlcy1mb3ItYWNjZXB0YW5jZQ=="
    call = Call(
        id="toolu_01Acc",
        name="Bash",
        arguments=json.dumps({"command": "echo anthropic-marker", "description": "marker"}),
    )
    script = [
        Turn(reasoning=thought, signature=signature, text="Running it.", calls=(call,)),
        Turn(text="Done via Anthropic."),
    ]
    with bridge("anthropic", script) as gateway:
        run = _claude(gateway, "Print a marker.", tmp_path, allowed_tools=["Bash(echo:*)"])
        first, second = gateway.upstream_bodies(2)
        beta = gateway.upstream_requests()[0].header("anthropic-beta") or ""
    assert _succeeded(run)["result"] == "Done via Anthropic."
    assert [(r.text, r.opaque) for r in wire.reasoning("anthropic", second)] == [
        (thought, signature)
    ]
    assert "anthropic-marker" in wire.results("anthropic", second)[call.id]
    # Same format: the request reaches Anthropic as Claude Code wrote it, betas included.
    assert "claude-code-20250219" in beta
    assert first["thinking"]["type"] == "enabled"
