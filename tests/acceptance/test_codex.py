"""Codex CLI (the real CLI, Responses only) through apibridge to chat and anthropic upstreams.

Each scenario runs ``codex exec`` against the gateway with the upstream scripted turn by
turn, and checks what the user sees (exit status, the answer on standard output, files the
agent created) and every request the upstream received (SDK-valid, with the tool calls, tool
output and reasoning the scenario is about).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import wire
from .clients import ClientRun, requires, run_codex
from .harness import Bridge, bridge
from .recorder import Step
from .scripted import Call, Turn

pytestmark = [pytest.mark.acceptance, requires("codex")]

UPSTREAMS = ["chat", "anthropic"]

# Call ids as each upstream format spells them.
_CALL_PREFIX: dict[str, str] = {"chat": "call_", "anthropic": "toolu_"}


def _codex(gateway: Bridge, prompt: str, workdir: Path, *, sandbox: str | None = None) -> ClientRun:
    return run_codex(gateway.openai_url, prompt, workdir=workdir, sandbox=sandbox, timeout=60)


def _succeeded(run: ClientRun) -> str:
    """The answer printed by a run that must have succeeded."""
    assert run.returncode == 0, run.summary()
    assert not run.timed_out, run.summary()
    return run.stdout.strip()


def _exec(fmt: str, command: str, n: int = 1) -> Call:
    return Call(
        id=f"{_CALL_PREFIX[fmt]}exec{n:02d}",
        name="exec_command",
        arguments=json.dumps({"cmd": command}),
    )


def _apply_patch(fmt: str, patch: str) -> Step:
    """A turn calling ``apply_patch`` the way the gateway declared it to the upstream.

    Codex declares ``apply_patch`` as a Responses ``custom`` (free-form) tool. The gateway
    offers it to chat and anthropic upstreams as a function tool with one string parameter
    that holds the free-form text (vLLM, Ollama and most Chat servers reject Chat ``custom``
    tools). The scripted model calls it in whichever form it was offered (a Chat ``custom``
    declaration would get a Chat ``custom`` call), as a real model would.
    """
    call_id = f"{_CALL_PREFIX[fmt]}patch01"

    def step(body: dict[str, Any]) -> Turn:
        declared = wire.tool_declaration(fmt, body, "apply_patch")
        if fmt == "chat" and declared["type"] == "custom":
            call = Call(id=call_id, name="apply_patch", arguments=patch, custom=True)
            return Turn(calls=(call,))
        schema = (
            declared["input_schema"] if fmt == "anthropic" else declared["function"]["parameters"]
        )
        (parameter,) = schema["properties"]
        arguments = json.dumps({parameter: patch})
        return Turn(calls=(Call(id=call_id, name="apply_patch", arguments=arguments),))

    return step


@pytest.mark.parametrize("fmt", UPSTREAMS)
def test_plain_answer(fmt: str, tmp_path: Path) -> None:
    answer = f"Hello from a {fmt} upstream."
    with bridge(fmt, [Turn(text=answer)]) as gateway:
        run = _codex(gateway, "Say hello.", tmp_path)
        (body,) = gateway.upstream_bodies(1)
    assert _succeeded(run) == answer
    assert "Say hello." in wire.user_text(fmt, body)
    assert {"exec_command", "apply_patch"} <= set(wire.tool_names(fmt, body))


@pytest.mark.parametrize("fmt", UPSTREAMS)
def test_exec_command_round_trip(fmt: str, tmp_path: Path) -> None:
    call = _exec(fmt, "echo codex-exec-marker")
    script = [Turn(calls=(call,)), Turn(text="The command printed codex-exec-marker.")]
    with bridge(fmt, script) as gateway:
        run = _codex(gateway, "Run echo.", tmp_path)
        _, second = gateway.upstream_bodies(2)
    assert _succeeded(run) == "The command printed codex-exec-marker."
    (seen,) = wire.calls(fmt, second)
    assert (seen.id, seen.name) == (call.id, "exec_command")
    assert json.loads(seen.arguments) == json.loads(call.arguments)
    assert "codex-exec-marker" in wire.results(fmt, second)[call.id]


@pytest.mark.parametrize("fmt", UPSTREAMS)
def test_apply_patch_creates_the_file(fmt: str, tmp_path: Path) -> None:
    patch = (
        "*** Begin Patch\n"
        "*** Add File: greeting.txt\n"
        "+hello from apply_patch\n"
        "+second line\n"
        "*** End Patch\n"
    )
    script: list[Step] = [_apply_patch(fmt, patch), Turn(text="Created greeting.txt.")]
    with bridge(fmt, script) as gateway:
        run = _codex(gateway, "Create greeting.txt.", tmp_path, sandbox="workspace-write")
        first, second = gateway.upstream_bodies(2)
    assert _succeeded(run) == "Created greeting.txt."
    assert (tmp_path / "greeting.txt").read_text() == "hello from apply_patch\nsecond line\n"
    if fmt == "chat":
        # vLLM, Ollama and most compatible servers accept function tools only.
        assert {tool["type"] for tool in first["tools"]} == {"function"}
    (seen,) = wire.calls(fmt, second)
    assert seen.name == "apply_patch"
    assert json.loads(seen.arguments) == {"input": patch}  # the history as it was offered
    assert "greeting.txt" in wire.results(fmt, second)[seen.id]


@pytest.mark.parametrize("fmt", UPSTREAMS)
def test_reasoning_replayed_on_turn_two(fmt: str, tmp_path: Path) -> None:
    thought = "A quick echo shows the shell works."
    signature = "EpMBCkYIBRgCKkDzY29kZXgtYWNjZXB0YW5jZS1zaWduYXR1cmU="
    call = _exec(fmt, "echo reasoning-turn-one")
    script = [
        Turn(reasoning=thought, signature=signature, calls=(call,)),
        Turn(text="Reasoning kept."),
    ]
    with bridge(fmt, script) as gateway:
        run = _codex(gateway, "Check the shell.", tmp_path)
        _, second = gateway.upstream_bodies(2)
    assert _succeeded(run) == "Reasoning kept."
    replayed = wire.reasoning(fmt, second)
    assert [r.text for r in replayed] == [thought]
    if fmt == "anthropic":
        # Codex carried the signature inside encrypted_content and sent it back unchanged.
        assert replayed[0].opaque == signature
