"""A tiny MCP server over stdio offering one tool, for the client scenarios that need MCP.

Theory of operation
-------------------
MCP's stdio transport is JSON-RPC 2.0, one message per line on standard input and output.
This server answers ``initialize`` (protocol version echoed, a ``tools`` capability),
``tools/list`` (one tool, :data:`TOOL`), ``tools/call`` (the tool's text answer) and ``ping``;
notifications (no ``id``) are read and ignored, other requests get JSON-RPC's "method not
found". Every ``tools/call`` is appended, as one JSON line with its ``name`` and
``arguments``, to the file named by the first command-line argument, so a scenario can check
the client really ran the tool.

It needs nothing outside the standard library, so a client can start it with
``sys.executable`` and the path of this file. Run it as a script:
``python tests/acceptance/mcp_server.py /tmp/calls.jsonl``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: The one tool offered; its answer names the city so the scenario can look for it.
TOOL: dict[str, Any] = {
    "name": "lookup_weather",
    "description": "Current weather of a city.",
    "inputSchema": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name."}},
        "required": ["city"],
    },
    "annotations": {"readOnlyHint": True},
}
SERVER_NAME = "weather"


def command(calls: Path) -> list[str]:
    """The command line that starts this server logging its tool calls to ``calls``."""
    return [sys.executable, str(Path(__file__).resolve()), str(calls)]


def answer(city: str) -> str:
    """The tool's text for ``city``."""
    return f"weather-marker: 12 C and clear in {city}"


def _result(request: dict[str, Any], calls: Path) -> dict[str, Any] | None:
    method = request.get("method")
    params = request.get("params") or {}
    if method == "initialize":
        return {
            "protocolVersion": params.get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": SERVER_NAME, "version": "1.0.0"},
        }
    if method == "tools/list":
        return {"tools": [TOOL]}
    if method == "tools/call":
        arguments = params.get("arguments") or {}
        with calls.open("a") as log:
            log.write(json.dumps({"name": params.get("name"), "arguments": arguments}) + "\n")
        text = answer(str(arguments.get("city", "")))
        return {"content": [{"type": "text", "text": text}], "isError": False}
    if method == "ping":
        return {}
    return None


def main(calls: Path) -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if "id" not in request:
            continue  # a notification (``notifications/initialized`` …)
        result = _result(request, calls)
        if result is None:
            reply: dict[str, Any] = {
                "jsonrpc": "2.0",
                "id": request["id"],
                "error": {"code": -32601, "message": f"method not found: {request.get('method')}"},
            }
        else:
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": result}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
