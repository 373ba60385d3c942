"""Every client format x every upstream format, streamed and not: a tool round trip with
the official SDKs through the gateway served by uvicorn on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from calls import TOOL_RESULT, check_upstream_requests, round_trip
from servers import CLIENT_KEY, UPSTREAM_FORMATS, ScriptedUpstream

FORMATS = UPSTREAM_FORMATS


def tool_result_of(fmt: str, body: dict[str, Any]) -> tuple[str, str]:
    """(call id, result text) of the tool result closing ``body``, read in format ``fmt``."""
    if fmt == "gemini":
        last = body["contents"][-1]
        assert last["role"] == "user"
        result = next(p["functionResponse"] for p in last["parts"] if "functionResponse" in p)
        return result["id"], result["response"]["output"]
    if fmt == "anthropic":
        block = next(b for b in body["messages"][-1]["content"] if b["type"] == "tool_result")
        content = block["content"]
        text = content if isinstance(content, str) else "".join(p["text"] for p in content)
        return block["tool_use_id"], text
    if fmt == "chat":
        message = body["messages"][-1]
        assert message["role"] == "tool"
        content = message["content"]
        text = content if isinstance(content, str) else "".join(p["text"] for p in content)
        return message["tool_call_id"], text
    item = body["input"][-1]
    assert item["type"] == "function_call_output"
    output = item["output"]
    text = output if isinstance(output, str) else "".join(p["text"] for p in output)
    return item["call_id"], text


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream_format", FORMATS)
@pytest.mark.parametrize("client_format", FORMATS)
def test_fidelity_11_tool_round_trip_every_client_every_upstream(
    gateway: str,
    upstreams: dict[str, ScriptedUpstream],
    client_format: str,
    upstream_format: str,
    stream: bool,
) -> None:
    upstream = upstreams[upstream_format]
    text, call_id = round_trip(
        client_format, gateway, CLIENT_KEY, f"{upstream_format}-model", stream=stream
    )
    assert text == f"The tool said: {TOOL_RESULT}"
    check_upstream_requests(upstream, client_format, upstream_format, stream)
    # the upstream's own call id made the whole trip: to the client and back
    assert upstream.call_ids == [call_id]
    returned_id, result = tool_result_of(upstream_format, upstream.last_request())
    assert (returned_id, result) == (call_id, TOOL_RESULT)
    # the tool definition arrived in the upstream's format with its schema intact
    tools = upstream.requests[0]["body"]["tools"]
    if upstream_format == "gemini":  # always as JSON Schema, never the OpenAPI subset
        tools = tools[0]["functionDeclarations"]
        assert "parameters" not in tools[0]
    schema = tools[0].get("input_schema") or tools[0].get("parametersJsonSchema")
    schema = schema or tools[0].get("parameters") or tools[0]["function"]["parameters"]
    assert json.loads(json.dumps(schema))["required"] == ["city"]
