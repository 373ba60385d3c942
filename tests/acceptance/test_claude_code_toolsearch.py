"""Claude Code's ToolSearch through apibridge: a deferred MCP tool found, loaded and called.

With tool search on (``ENABLE_TOOL_SEARCH=true``; the default of the pinned version as well),
Claude Code does not declare MCP tools up front: it names them in a system reminder and
offers a ``ToolSearch`` tool. When the model calls ``ToolSearch``, Claude Code answers with a
``tool_result`` whose content is ``tool_reference`` blocks (one per tool found) and declares
the found tools, with ``defer_loading: true``, from the next request on; the model can then
call them. OpenAI formats have no ``tool_reference``: the gateway must name the tools in the
result's text, or the upstream model sees an empty tool output (issue 15, item 5).

Each scenario starts Claude Code with a real MCP server over stdio (``mcp_server.py``, which
logs every ``tools/call``) and scripts the upstream to call ``ToolSearch``, then the found tool
(only if it is declared to the upstream by then, as a real model can only call declared
tools), then answer. It checks that the round trip completed, that the ``ToolSearch`` result
reached the upstream naming the found tool, that Claude Code ran the MCP tool, and that the
tool's answer came back to the upstream.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import mcp_server, wire
from .clients import requires, run_claude
from .harness import bridge, call_if_declared
from .scripted import Call, Turn

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(90), requires("claude")]

MODEL = "claude-sonnet-4-5"
FOUND = f"mcp__{mcp_server.SERVER_NAME}__{mcp_server.TOOL['name']}"
"""The MCP tool's name in Claude Code (``mcp__<server>__<tool>``)."""

_PREFIX: dict[str, str] = {"anthropic": "toolu_", "chat": "call_", "responses": "call_"}


def _mcp_config(path: Path, calls: Path) -> Path:
    """Write Claude Code's ``--mcp-config`` file starting ``mcp_server.py`` over stdio."""
    executable, *args = mcp_server.command(calls)
    server = {"type": "stdio", "command": executable, "args": args}
    path.write_text(json.dumps({"mcpServers": {mcp_server.SERVER_NAME: server}}))
    return path


def _tool_references(body: dict[str, Any], call_id: str) -> list[str]:
    """Names in the ``tool_reference`` blocks of an Anthropic ``tool_result``."""
    for message in body["messages"]:
        if message["role"] != "user" or isinstance(message["content"], str):
            continue
        for block in message["content"]:
            if block["type"] == "tool_result" and block["tool_use_id"] == call_id:
                content = block["content"]
                return [b["tool_name"] for b in content if b["type"] == "tool_reference"]
    raise AssertionError(f"no tool_result for {call_id}")


@pytest.mark.parametrize("fmt", ["responses", "chat", "anthropic"])
def test_toolsearch_then_the_found_mcp_tool(fmt: str, tmp_path: Path) -> None:
    calls_log = tmp_path / "mcp-calls.jsonl"
    config = _mcp_config(tmp_path / "mcp.json", calls_log)
    search = Call(
        id=f"{_PREFIX[fmt]}search01",
        name="ToolSearch",
        arguments=json.dumps({"query": f"select:{FOUND}"}),
    )
    use = Call(id=f"{_PREFIX[fmt]}weather01", name=FOUND, arguments=json.dumps({"city": "Oslo"}))
    final = "Oslo: 12 C and clear."
    script = [Turn(calls=(search,)), call_if_declared(fmt, use), Turn(text=final)]
    workdir = tmp_path / "work"
    workdir.mkdir()
    with bridge(fmt, script) as gateway:
        run = run_claude(
            gateway.url,
            "What is the weather in Oslo?",
            workdir=workdir,
            model=MODEL,
            allowed_tools=[FOUND],
            extra_args=["--mcp-config", str(config)],
            extra_env={"ENABLE_TOOL_SEARCH": "true"},
            timeout=60,
        )
        first, second, third = gateway.upstream_bodies(3)

    # The round trip completed: Claude Code printed the upstream's last answer.
    assert run.returncode == 0, run.summary()
    result = run.json()
    assert result["is_error"] is False, run.summary()
    assert result["result"] == final, run.summary()

    # Turn 1: ToolSearch offered, the MCP tool deferred (not declared yet).
    assert "ToolSearch" in wire.tool_names(fmt, first)
    assert FOUND not in wire.tool_names(fmt, first)

    # Turn 2: the found tool is declared; Claude Code ran it with the upstream's arguments.
    assert FOUND in wire.tool_names(fmt, second)
    logged = [json.loads(line) for line in calls_log.read_text().splitlines()]
    assert logged == [{"name": mcp_server.TOOL["name"], "arguments": {"city": "Oslo"}}]
    # Turn 3 carries both calls and the tool's answer.
    assert [c.name for c in wire.calls(fmt, third)] == ["ToolSearch", FOUND]
    assert mcp_server.answer("Oslo") in wire.results(fmt, third)[use.id]

    # The ToolSearch result reached the upstream naming the tool it found.
    if fmt == "anthropic":
        # Same format: the tool_reference blocks go through as Claude Code sent them.
        assert _tool_references(second, search.id) == [FOUND]
        assert wire.tool_declaration(fmt, second, FOUND).get("defer_loading") is True
    else:
        for body in (second, third):
            assert FOUND in wire.results(fmt, body)[search.id]
