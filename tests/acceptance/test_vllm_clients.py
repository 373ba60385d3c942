"""Claude Code and Codex (the real CLIs) through apibridge to an upstream that behaves like vLLM.

The upstream is :class:`~.vllm_like.VllmLikeChat`: it refuses with a 400 whatever vLLM's
request model refuses, notes the fields vLLM would silently ignore, and answers in vLLM's
dialect (``chatcmpl-tool-`` call ids, ``reasoning`` or the older ``reasoning_content``).
Each scenario checks what the user sees (exit status, the answer) and that every request
reached the upstream whole: nothing vLLM would refuse, no field it would ignore beyond the
ones a scenario lists (:meth:`~.vllm_like.VllmBridge.accepted_bodies`), the tool call and its
real output in the history, and the reasoning replayed under one of vLLM's spellings. The
last scenarios make vLLM refuse (a context too small) and check that the user reads vLLM's
own words.

The gateway runs with a generic ``chat`` upstream; the assertions hold as well for a
vLLM server profile, which changes how things are spelled, not what arrives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import wire
from .clients import ClientRun, requires, run_claude, run_codex
from .scripted import Call, Turn
from .vllm_like import VllmBridge, vllm_bridge

pytestmark = pytest.mark.acceptance

# A model Claude Code knows, with ``thinking: enabled`` and a budget (see docs/clients.md).
CLAUDE_MODEL = "claude-sonnet-4-5"

# Both spellings vLLM has used for reasoning, answer and stream alike.
FIELDS = ["reasoning", "reasoning_content"]

# Fields the generic Chat upstream passes on from a Codex request that vLLM accepts but
# ignores (its request model has no such field; it only logs them): harmless, but nothing
# happens. A vLLM server profile need not send them.
CODEX_IGNORED_BY_VLLM = frozenset({"prompt_cache_key", "store", "verbosity", "web_search_options"})


def _replayed(body: dict[str, Any]) -> list[str]:
    """The reasoning texts of the request's assistant history, under either spelling."""
    return [
        text
        for m in body["messages"]
        if m["role"] == "assistant" and (text := m.get("reasoning") or m.get("reasoning_content"))
    ]


def _claude(gateway: VllmBridge, prompt: str, workdir: Path, allowed: list[str]) -> ClientRun:
    return run_claude(
        gateway.url, prompt, workdir=workdir, model=CLAUDE_MODEL, allowed_tools=allowed, timeout=60
    )


def _claude_result(run: ClientRun) -> str:
    assert run.returncode == 0, run.summary()
    result: dict[str, Any] = run.json()
    assert result["is_error"] is False, run.summary()
    return str(result["result"])


def _codex(gateway: VllmBridge, prompt: str, workdir: Path) -> str:
    run = run_codex(gateway.openai_url, prompt, workdir=workdir, timeout=60)
    assert run.returncode == 0, run.summary()
    assert not run.timed_out, run.summary()
    return run.stdout.strip()


@requires("claude")
@pytest.mark.parametrize("field", FIELDS)
def test_claude_code_bash_round_trip_with_reasoning(field: str, tmp_path: Path) -> None:
    thought = "Echo prints the marker; nothing else is needed."
    arguments = json.dumps({"command": "echo vllm-bash-ok", "description": "Print a marker"})
    call = Call(id="chatcmpl-tool-4f1c9a0e2b7d4e5f", name="Bash", arguments=arguments)
    script = [
        Turn(reasoning=thought, calls=(call,)),
        Turn(text="The command printed vllm-bash-ok."),
    ]
    with vllm_bridge(script, reasoning_field=field) as gateway:
        run = _claude(gateway, "Run echo.", tmp_path, ["Bash(echo:*)"])
        first, second = gateway.accepted_bodies(2)
    assert _claude_result(run) == "The command printed vllm-bash-ok."
    assert first["stream"] is True
    assert "Bash" in wire.tool_names("chat", first)
    (seen,) = wire.calls("chat", second)
    assert (seen.id, seen.name) == (call.id, "Bash")
    assert json.loads(seen.arguments) == json.loads(arguments)
    # Claude Code really ran the command; its output went back in a tool message.
    assert "vllm-bash-ok" in wire.results("chat", second)[call.id]
    # The thinking Claude Code got (from vLLM's reasoning field) came back with the call.
    assert _replayed(second) == [thought]


@requires("claude")
def test_claude_code_reasoning_answer(tmp_path: Path) -> None:
    thought = "Paris has been the capital since the tenth century."
    answer = "The capital of France is Paris."
    with vllm_bridge([Turn(reasoning=thought, text=answer)]) as gateway:
        run = _claude(gateway, "What is the capital of France?", tmp_path, [])
        (body,) = gateway.accepted_bodies(1)
    assert _claude_result(run) == answer
    assert "What is the capital of France?" in wire.user_text("chat", body)
    # Claude Code asked for thinking with a budget; vLLM takes only low/medium/high.
    assert body.get("reasoning_effort") in (None, "low", "medium", "high")


@requires("claude")
def test_claude_code_fits_a_32k_model_with_an_output_cap(tmp_path: Path) -> None:
    # Claude Code asks for 32000 output tokens on top of a ~22k-token prompt: a vLLM model
    # with a 32K context refuses that (400). The upstream's max_output_tokens is the fix.
    with vllm_bridge(
        [Turn(text="It fits.")], max_model_len=32768, max_output_tokens=8192
    ) as gateway:
        run = _claude(gateway, "Say whether it fits.", tmp_path, [])
        (body,) = gateway.accepted_bodies(1)
    assert _claude_result(run) == "It fits."
    assert (body.get("max_completion_tokens") or body["max_tokens"]) <= 8192


@requires("codex")
@pytest.mark.parametrize("field", FIELDS)
def test_codex_exec_command_round_trip_with_reasoning(field: str, tmp_path: Path) -> None:
    thought = "A quick echo shows the shell works."
    call = Call(
        id="chatcmpl-tool-9b2e7c1d0a3f4b6c",
        name="exec_command",
        arguments=json.dumps({"cmd": "echo vllm-exec-ok"}),
    )
    script = [Turn(reasoning=thought, calls=(call,)), Turn(text="The shell printed vllm-exec-ok.")]
    with vllm_bridge(script, reasoning_field=field) as gateway:
        answer = _codex(gateway, "Check the shell.", tmp_path)
        first, second = gateway.accepted_bodies(2, tolerated=CODEX_IGNORED_BY_VLLM)
    assert answer == "The shell printed vllm-exec-ok."
    # Codex's free-form apply_patch reached vLLM as a function tool (vLLM has no custom tools).
    assert {"exec_command", "apply_patch"} <= set(wire.tool_names("chat", first))
    assert {tool["type"] for tool in first["tools"]} == {"function"}
    (seen,) = wire.calls("chat", second)
    assert (seen.id, seen.name) == (call.id, "exec_command")
    assert json.loads(seen.arguments) == json.loads(call.arguments)
    assert "vllm-exec-ok" in wire.results("chat", second)[call.id]
    assert _replayed(second) == [thought]


@requires("codex")
def test_codex_reasoning_answer(tmp_path: Path) -> None:
    thought = "Two and two make four."
    with vllm_bridge([Turn(reasoning=thought, text="2 + 2 = 4.")]) as gateway:
        answer = _codex(gateway, "What is 2 + 2?", tmp_path)
        (body,) = gateway.accepted_bodies(1, tolerated=CODEX_IGNORED_BY_VLLM)
    assert answer == "2 + 2 = 4."
    assert "What is 2 + 2?" in wire.user_text("chat", body)
    assert body.get("reasoning_effort") in (None, "low", "medium", "high")


# ---------------------------------------------------------------------- vLLM's refusals


@requires("claude")
@pytest.mark.parametrize("envelope", ["nested", "flat"])
def test_claude_code_shows_vllms_context_refusal(envelope: str, tmp_path: Path) -> None:
    # Without an output cap, Claude Code's 32000 output tokens do not fit a 32K model: vLLM
    # answers 400 (in either envelope) and Claude Code reports the provider's own words.
    with vllm_bridge([Turn(text="unused")], envelope=envelope, max_model_len=32768) as gateway:
        run = _claude(gateway, "Say hi.", tmp_path, [])
        refusals = list(gateway.upstream.refusals)
    result = run.json()
    assert run.returncode != 0 or result["is_error"] is True, run.summary()
    assert result["api_error_status"] == 400, run.summary()
    assert "maximum context length is 32768 tokens" in result["result"], run.summary()
    assert len(refusals) == 1


@requires("codex")
@pytest.mark.parametrize("envelope", ["nested", "flat"])
def test_codex_shows_vllms_context_refusal(envelope: str, tmp_path: Path) -> None:
    with vllm_bridge([Turn(text="unused")], envelope=envelope, max_model_len=4096) as gateway:
        run = run_codex(gateway.openai_url, "Say hi.", workdir=tmp_path, timeout=60)
        refusals = list(gateway.upstream.refusals)
    assert run.returncode != 0, run.summary()
    assert not run.timed_out, run.summary()
    assert "maximum context length is 4096 tokens" in run.stderr, run.summary()
    assert len(refusals) == 1
