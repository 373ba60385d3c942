"""Codex CLI with an MCP server's tools through apibridge to Anthropic and Chat upstreams.

Codex offers an MCP server's tools as members of a Responses ``namespace`` tool
(``mcp__<server>``) when its model is outside its own catalogue. Neither Anthropic nor Chat
has namespaces: the gateway flattens each member to a function tool
``mcp__<server>__<tool>`` and gives the call its ``namespace`` and ``name`` back on the way
to Codex (issue 15, item 4).

For its catalogue models (``gpt-5.5``) Codex defers MCP tools instead: it declares a
client-executed ``tool_search`` tool, answers the model's ``tool_search_call`` with a
``tool_search_output`` item holding the found ``namespace`` tools, and never lists them in
``tools``. The gateway offers ``tool_search`` as the function it is and must make the found
tools callable for the upstream model (issue 15, item 5).

Each scenario starts Codex with a real MCP server over stdio (``mcp_server.py``, which logs
every ``tools/call``), scripts the upstream to call the flattened tool (after a tool search
for the deferred case; each call is made only if the request declares the tool, as a real
model can call declared tools only), then checks that the upstream was offered the flattened
tool, that Codex ran the MCP tool with the model's arguments, that the tool's answer reached
the upstream in the next request as the result of that call, and that Codex printed the
final answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import mcp_server, wire
from .clients import requires, run_codex
from .harness import bridge, call_if_declared
from .scripted import Call, Turn

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(90), requires("codex")]

# A model outside Codex's catalogue: Codex then lists MCP tools as ``namespace`` tools.
MODEL = "claude-sonnet-4-5"
# A model of Codex's catalogue: Codex then defers MCP tools behind ``tool_search``.
CATALOGUE_MODEL = "gpt-5.5"
NAMESPACE = f"mcp__{mcp_server.SERVER_NAME}"
FLAT_NAME = f"{NAMESPACE}__{mcp_server.TOOL['name']}"

_PREFIX: dict[str, str] = {"anthropic": "toolu_", "chat": "call_"}


def _mcp_config(calls: Path) -> str:
    """The ``config.toml`` table that makes Codex start ``mcp_server.py`` over stdio."""
    executable, *args = mcp_server.command(calls)
    return (
        f"[mcp_servers.{mcp_server.SERVER_NAME}]\n"
        f"command = {json.dumps(executable)}\n"
        f"args = {json.dumps(args)}\n"
        "startup_timeout_sec = 20\n"
        "tool_timeout_sec = 20\n"
    )


def _parameters(fmt: str, declared: dict[str, Any]) -> dict[str, Any]:
    if fmt == "anthropic":
        return dict(declared["input_schema"])
    return dict(declared["function"]["parameters"])


@pytest.mark.parametrize("fmt", ["anthropic", "chat"])
def test_mcp_namespace_tool_round_trip(fmt: str, tmp_path: Path) -> None:
    calls_log = tmp_path / "mcp-calls.jsonl"
    call = Call(id=f"{_PREFIX[fmt]}mcp01", name=FLAT_NAME, arguments=json.dumps({"city": "Oslo"}))
    final = "Oslo: 12 C and clear."
    script = [call_if_declared(fmt, call), Turn(text=final)]
    workdir = tmp_path / "work"
    with bridge(fmt, script) as gateway:
        run = run_codex(
            gateway.openai_url,
            "What is the weather in Oslo?",
            workdir=workdir,
            model=MODEL,
            extra_config=_mcp_config(calls_log),
            timeout=60,
        )
        first, second = gateway.upstream_bodies(2)

    # Codex finished with the upstream's final answer.
    assert run.returncode == 0, run.summary()
    assert run.stdout.strip() == final, run.summary()

    # The upstream was offered the namespace member as a plain function tool.
    declared = wire.tool_declaration(fmt, first, FLAT_NAME)
    if fmt == "chat":
        assert declared["type"] == "function"
    assert _parameters(fmt, declared)["properties"] == mcp_server.TOOL["inputSchema"]["properties"]
    assert not [n for n in wire.tool_names(fmt, first) if n == mcp_server.TOOL["name"]]

    # Codex ran the MCP tool (the server logged the call) with the model's arguments.
    logged = [json.loads(line) for line in calls_log.read_text().splitlines()]
    assert logged == [{"name": mcp_server.TOOL["name"], "arguments": {"city": "Oslo"}}]

    # Turn 2: the call is in the history under the flat name, its result is the tool's text.
    (seen,) = wire.calls(fmt, second)
    assert (seen.id, seen.name) == (call.id, FLAT_NAME)
    assert json.loads(seen.arguments) == {"city": "Oslo"}
    assert mcp_server.answer("Oslo") in wire.results(fmt, second)[call.id]


@pytest.mark.parametrize("fmt", ["anthropic", "chat"])
def test_mcp_tool_found_by_tool_search(fmt: str, tmp_path: Path) -> None:
    calls_log = tmp_path / "mcp-calls.jsonl"
    search = Call(
        id=f"{_PREFIX[fmt]}search01", name="tool_search", arguments=json.dumps({"query": "weather"})
    )
    use = Call(id=f"{_PREFIX[fmt]}mcp01", name=FLAT_NAME, arguments=json.dumps({"city": "Oslo"}))
    final = "Found it: 12 C and clear in Oslo."
    script = [call_if_declared(fmt, search), call_if_declared(fmt, use), Turn(text=final)]
    with bridge(fmt, script) as gateway:
        run = run_codex(
            gateway.openai_url,
            "What is the weather in Oslo?",
            workdir=tmp_path / "work",
            model=CATALOGUE_MODEL,
            extra_config=_mcp_config(calls_log),
            timeout=60,
        )
        bodies = gateway.upstream_bodies()

    # Codex finished with the upstream's final answer (else: which tool was not declared).
    assert run.returncode == 0, run.summary()
    assert run.stdout.strip() == final, run.summary()
    first, second, third = bodies

    # Turn 1: tool_search offered as a function tool; the MCP tool deferred.
    declared = wire.tool_declaration(fmt, first, "tool_search")
    if fmt == "chat":
        assert declared["type"] == "function"
    assert FLAT_NAME not in wire.tool_names(fmt, first)

    # Turn 2: Codex's search result reached the upstream naming the tool, now callable.
    assert mcp_server.TOOL["name"] in wire.results(fmt, second)[search.id]
    found = wire.tool_declaration(fmt, second, FLAT_NAME)
    assert _parameters(fmt, found)["properties"] == mcp_server.TOOL["inputSchema"]["properties"]

    # Codex ran the MCP tool; turn 3 carries both calls and the tool's answer.
    logged = [json.loads(line) for line in calls_log.read_text().splitlines()]
    assert logged == [{"name": mcp_server.TOOL["name"], "arguments": {"city": "Oslo"}}]
    assert [c.name for c in wire.calls(fmt, third)] == ["tool_search", FLAT_NAME]
    assert mcp_server.answer("Oslo") in wire.results(fmt, third)[use.id]
