"""Tool search across formats (issue 15, item 5).

* Codex's client-executed Responses ``tool_search`` tool reaches Anthropic and Chat upstreams as
  the function it is; ``tool_search_call`` / ``tool_search_output`` items of the history become
  tool calls and results there (the tools an output loaded are added to the upstream's tools);
  the upstream's calls of that function reach the client as ``tool_search_call`` items, whole
  and streamed.
* Claude Code's ToolSearch results (``tool_reference`` blocks) name the tools in text for
  OpenAI upstreams, and reach an Anthropic upstream unchanged.
* ``defer_loading`` crosses Anthropic ⇄ Responses where the target has a tool search to load the
  tool with; elsewhere the tool is sent loaded and the flag reported.

The SDK types are the oracles: every body is validated, streams go through the SDK's stream
helper and each event through ``ResponseStreamEvent``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.responses import ResponseStreamEvent, ResponseToolSearchCall
from pydantic import TypeAdapter
from tests.oracles import final_from_stream, validate_request, validate_response

import apibridge
from apibridge.codecs._tool_search import flat_tool_name

FIXTURES = Path(__file__).parent / "fixtures"
CODEX = json.loads((FIXTURES / "responses" / "codex_request.json").read_text())["body"]
CLAUDE_CODE = json.loads((FIXTURES / "anthropic" / "claude_code_request.json").read_text())["body"]
#: Codex's own tool_search tool, as captured.
TOOL_SEARCH = next(t for t in CODEX["tools"] if t["type"] == "tool_search")

CALENDAR = {
    "type": "namespace",
    "name": "mcp__calendar__",
    "description": "Calendar MCP server.",
    "tools": [
        {
            "type": "function",
            "name": "create_event",
            "description": "Create an event.",
            "defer_loading": True,
            "parameters": {"type": "object", "properties": {"title": {"type": "string"}}},
        }
    ],
}
SEARCH_CALL = {
    "type": "tool_search_call",
    "id": "tsc_1",
    "call_id": "call_s1",
    "execution": "client",
    "status": "completed",
    "arguments": {"query": "calendar create", "limit": 1},
}
SEARCH_OUTPUT = {
    "type": "tool_search_output",
    "call_id": "call_s1",
    "execution": "client",
    "status": "completed",
    "tools": [CALENDAR],
}
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def codex(*history: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(CODEX)
    body["input"] = [*body["input"], *history]
    return body


def tools_of(target: str, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The upstream request's client tools by name (Chat's unwrapped)."""
    listed = body.get("tools", [])
    if target == "chat":
        listed = [t["function"] for t in listed if t.get("type") == "function"]
    return {t["name"]: t for t in listed if "name" in t}


def sse_events(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in data.split(b"\n") if line.startswith(b"data: {")]


# ------------------------------------------------------------------- Codex: the tool


@pytest.mark.parametrize("target", ["anthropic", "chat"])
def test_fidelity_19_codex_tool_search_reaches_the_upstream_as_a_function(target: str) -> None:
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(codex(), source="responses", target=target, losses=losses)
    validate_request(target, body)
    tool = tools_of(target, body)["tool_search"]
    assert tool["description"] == TOOL_SEARCH["description"]
    key = "input_schema" if target == "anthropic" else "parameters"
    assert tool[key] == TOOL_SEARCH["parameters"]
    where = f"tools[{CODEX['tools'].index(TOOL_SEARCH)}]"
    assert [loss.field for loss in losses if loss.field.startswith(where)] == []


def test_responses_upstream_gets_codex_tool_search_and_items_unchanged() -> None:
    request = codex(SEARCH_CALL, SEARCH_OUTPUT)
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(request, source="responses", target="responses", losses=losses)
    validate_request("responses", body)
    assert body["tools"] == CODEX["tools"]  # the loaded tools stay in their output item
    assert body["input"][-2:] == [SEARCH_CALL, SEARCH_OUTPUT]


# --------------------------------------------------------------- Codex: the history


@pytest.mark.parametrize("target", ["anthropic", "chat"])
def test_fidelity_19_tool_search_history_reaches_upstream_as_call_and_result(target: str) -> None:
    body = apibridge.convert_request(
        codex(SEARCH_CALL, SEARCH_OUTPUT), source="responses", target=target, losses=[]
    )
    validate_request(target, body)
    flat = flat_tool_name("mcp__calendar__", "create_event")
    if target == "anthropic":
        (use,) = body["messages"][-2]["content"]
        assert (use["type"], use["id"], use["name"]) == ("tool_use", "call_s1", "tool_search")
        assert use["input"] == SEARCH_CALL["arguments"]
        (result,) = body["messages"][-1]["content"]
        assert (result["type"], result["tool_use_id"]) == ("tool_result", "call_s1")
        text = result["content"]
    else:
        (call,) = body["messages"][-2]["tool_calls"]
        assert (call["id"], call["function"]["name"]) == ("call_s1", "tool_search")
        assert json.loads(call["function"]["arguments"]) == SEARCH_CALL["arguments"]
        result = body["messages"][-1]
        assert (result["role"], result["tool_call_id"]) == ("tool", "call_s1")
        text = result["content"]
    assert flat in text  # the output names the tools it loaded ...
    loaded = tools_of(target, body)[flat]  # ... which the upstream can now call
    assert loaded["description"] == "Calendar MCP server.\n\nCreate an event."
    assert "defer_loading" not in loaded  # loaded, not deferred


def test_a_tool_loaded_by_two_searches_is_declared_once() -> None:
    again = {**SEARCH_CALL, "id": "tsc_2", "call_id": "call_s2"}
    output = {**SEARCH_OUTPUT, "call_id": "call_s2"}
    body = apibridge.convert_request(
        codex(SEARCH_CALL, SEARCH_OUTPUT, again, output),
        source="responses",
        target="anthropic",
        losses=[],
    )
    names = [t["name"] for t in body["tools"] if "name" in t]
    assert names.count("mcp__calendar__create_event") == 1
    assert len(names) == len(set(names))


def test_a_call_to_a_loaded_namespace_tool_comes_back_with_its_namespace() -> None:
    request = codex(SEARCH_CALL, SEARCH_OUTPUT)
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_2",
                "name": "mcp__calendar__create_event",
                "input": {"title": "tea"},
            }
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }
    out = apibridge.convert_response(
        answer, source="anthropic", target="responses", request=request, losses=[]
    )
    validate_response("responses", out)
    (call,) = out["output"]
    assert (call["type"], call["namespace"], call["name"]) == (
        "function_call",
        "mcp__calendar__",
        "create_event",
    )


# ------------------------------------------------------- Codex: answers and streams


def anthropic_answer(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {"type": "text", "text": "Searching."},
            {"type": "tool_use", "id": "toolu_1", "name": "tool_search", "input": arguments},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }


def chat_answer(arguments: str) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "tool_search", "arguments": arguments},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


@pytest.mark.parametrize("source", ["anthropic", "chat"])
def test_fidelity_19_upstream_call_of_tool_search_is_a_tool_search_call(source: str) -> None:
    arguments = {"query": "calendar", "limit": 2}
    upstream = (
        anthropic_answer(arguments) if source == "anthropic" else chat_answer(json.dumps(arguments))
    )
    losses: list[apibridge.Loss] = []
    out = apibridge.convert_response(
        upstream, source=source, target="responses", request=codex(), losses=losses
    )
    parsed = validate_response("responses", out)
    call = parsed.output[-1]
    assert isinstance(call, ResponseToolSearchCall)
    assert (call.execution, call.status, call.arguments) == ("client", "completed", arguments)
    assert call.call_id == ("toolu_1" if source == "anthropic" else "call_1")
    assert losses == []
    # Codex sends the call back with its output: the upstream sees the call it made.
    item = out["output"][-1]
    output = {**SEARCH_OUTPUT, "call_id": item["call_id"]}
    body = apibridge.convert_request(
        codex(item, output), source="responses", target=source, losses=[]
    )
    validate_request(source, body)
    if source == "anthropic":
        (use,) = body["messages"][-2]["content"]
        assert (use["id"], use["name"], use["input"]) == ("toolu_1", "tool_search", arguments)
    else:
        (sent,) = body["messages"][-2]["tool_calls"]
        assert (sent["id"], sent["function"]["name"]) == ("call_1", "tool_search")
        assert json.loads(sent["function"]["arguments"]) == arguments


def anthropic_stream(arguments: str) -> bytes:
    start = anthropic_answer({})
    frames = [
        ("message_start", {"message": {**start, "content": [], "stop_reason": None}}),
        (
            "content_block_start",
            {
                "index": 0,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "tool_search",
                    "input": {},
                },
            },
        ),
        *[
            (
                "content_block_delta",
                {"index": 0, "delta": {"type": "input_json_delta", "partial_json": piece}},
            )
            for piece in (arguments[:5], arguments[5:])
        ],
        ("content_block_stop", {"index": 0}),
        (
            "message_delta",
            {"delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {}},
        ),
        ("message_stop", {}),
    ]
    return b"".join(
        f"event: {kind}\n".encode() + b"data: " + orjson.dumps({"type": kind, **data}) + b"\n\n"
        for kind, data in frames
    )


def chat_stream(arguments: str) -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"

    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "tool_search"}}
    return b"".join(
        [
            chunk({"role": "assistant"}),
            chunk({"tool_calls": [first]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[:4]}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[4:]}}]}),
            chunk({}, "tool_calls"),
            b"data: [DONE]\n\n",
        ]
    )


@pytest.mark.parametrize("source", ["anthropic", "chat"])
def test_fidelity_19_streamed_call_of_tool_search_streams_a_tool_search_call(source: str) -> None:
    arguments = {"query": "calendar", "limit": 2}
    text = json.dumps(arguments)
    upstream = anthropic_stream(text) if source == "anthropic" else chat_stream(text)
    streamed = b"".join(
        apibridge.convert_stream(
            [upstream], source=source, target="responses", request=codex(), losses=[]
        )
    )
    events = sse_events(streamed)
    for event in events:
        EVENTS.validate_python(event)  # each one a ResponseStreamEvent of the SDK
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    item_events = [e for e in events if e["type"].startswith("response.output_item")]
    assert [(e["type"], e["item"]["type"]) for e in item_events] == [
        ("response.output_item.added", "tool_search_call"),
        ("response.output_item.done", "tool_search_call"),
    ]
    added, done = (e["item"] for e in item_events)
    assert added["id"] == done["id"]
    assert (added["status"], added["arguments"]) == ("in_progress", {})
    assert (done["status"], done["arguments"], done["execution"]) == (
        "completed",
        arguments,
        "client",
    )
    # a function call's argument events would make Codex look for a function_call item
    assert not [e for e in events if "arguments" in e["type"]]
    final = final_from_stream("responses", streamed)
    (call,) = final.output
    assert isinstance(call, ResponseToolSearchCall)
    assert (call.id, call.arguments) == (done["id"], arguments)
    # the same answer, not streamed, says the same call
    whole = apibridge.convert_response(
        anthropic_answer(arguments) if source == "anthropic" else chat_answer(text),
        source=source,
        target="responses",
        request=codex(),
    )
    assert whole["output"][-1]["arguments"] == arguments


def test_a_tool_search_call_from_a_responses_upstream_reaches_codex_unchanged() -> None:
    answer = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "m",
        "status": "completed",
        "output": [SEARCH_CALL],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    out = apibridge.convert_response(
        answer, source="responses", target="responses", request=codex(), losses=[]
    )
    validate_response("responses", out)
    assert out["output"] == [SEARCH_CALL]


def test_a_streamed_tool_search_call_from_a_responses_upstream_reaches_codex_unchanged() -> None:
    rid = "resp_1"
    shell = {
        "id": rid,
        "object": "response",
        "created_at": 1,
        "model": "m",
        "status": "in_progress",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    added = {**SEARCH_CALL, "status": "in_progress", "arguments": {}}
    frames = [
        {"type": "response.created", "response": shell},
        {"type": "response.output_item.added", "output_index": 0, "item": added},
        {"type": "response.output_item.done", "output_index": 0, "item": SEARCH_CALL},
        {
            "type": "response.completed",
            "response": {**shell, "status": "completed", "output": [SEARCH_CALL]},
        },
    ]
    upstream = b"".join(
        f"event: {f['type']}\n".encode()
        + b"data: "
        + orjson.dumps({**f, "sequence_number": n})
        + b"\n\n"
        for n, f in enumerate(frames)
    )
    streamed = b"".join(
        apibridge.convert_stream(
            [upstream], source="responses", target="responses", request=codex(), losses=[]
        )
    )
    final = final_from_stream("responses", streamed)
    (call,) = final.output
    assert isinstance(call, ResponseToolSearchCall)
    assert call.model_dump(exclude_none=True) == SEARCH_CALL


# ------------------------------------------------------- Claude Code: tool_reference


def claude_code_history() -> dict[str, Any]:
    body = copy.deepcopy(CLAUDE_CODE)
    body["messages"] = [
        *body["messages"],
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_ts",
                    "name": "ToolSearch",
                    "input": {"query": "select:WebFetch,WebSearch", "max_results": 5},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_ts",
                    "content": [
                        {"type": "tool_reference", "tool_name": "WebFetch"},
                        {"type": "tool_reference", "tool_name": "WebSearch"},
                    ],
                }
            ],
        },
    ]
    return body


@pytest.mark.parametrize("target", ["responses", "chat"])
def test_fidelity_19_tool_reference_results_name_tools_for_openai_upstreams(target: str) -> None:
    body = apibridge.convert_request(
        claude_code_history(), source="anthropic", target=target, losses=[]
    )
    validate_request(target, body)
    if target == "responses":
        (output,) = [i for i in body["input"] if i.get("type") == "function_call_output"]
        text = output["output"]
        assert output["call_id"] == "toolu_ts"
    else:
        (output,) = [m for m in body["messages"] if m["role"] == "tool"]
        text = output["content"]
        assert output["tool_call_id"] == "toolu_ts"
    assert isinstance(text, str)
    assert "WebFetch" in text
    assert "WebSearch" in text


def test_tool_reference_results_reach_an_anthropic_upstream_unchanged() -> None:
    request = claude_code_history()
    body = apibridge.convert_request(request, source="anthropic", target="anthropic", losses=[])
    validate_request("anthropic", body)
    assert body["messages"][-1] == request["messages"][-1]


# ------------------------------------------------------------------- defer_loading


def anthropic_request(*tools: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {"name": "Read", "description": "Read a file.", "input_schema": {"type": "object"}},
            {
                "name": "WebFetch",
                "description": "Fetch a URL.",
                "input_schema": {"type": "object"},
                "defer_loading": True,
            },
            *tools,
        ],
    }


def test_fidelity_19_defer_loading_crosses_to_responses_with_a_tool_search_and_back() -> None:
    search = {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"}
    request = anthropic_request(search)
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(request, source="anthropic", target="responses", losses=losses)
    validate_request("responses", body)
    read, fetch, hosted = body["tools"]
    assert "defer_loading" not in read
    assert fetch["defer_loading"] is True
    assert hosted == {"type": "tool_search"}
    assert not [loss for loss in losses if "tools" in loss.field]
    # and back: a Responses request with deferred function tools and the hosted search
    back = apibridge.convert_request(body, source="responses", target="anthropic", losses=[])
    validate_request("anthropic", back)
    assert [t.get("defer_loading") for t in back["tools"]] == [None, True, None]
    assert back["tools"][2] == search


def test_defer_loading_without_a_responses_tool_search_is_sent_loaded_and_reported() -> None:
    # Claude Code: its ToolSearch is a plain function, which cannot load a deferred
    # Responses tool; the tool is sent loaded so that the model can call it.
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(
        CLAUDE_CODE, source="anthropic", target="responses", losses=losses
    )
    validate_request("responses", body)
    assert not [t for t in body["tools"] if "defer_loading" in t]
    deferred = [i for i, t in enumerate(CLAUDE_CODE["tools"]) if t.get("defer_loading")]
    assert deferred
    reported = [loss.field for loss in losses if loss.field.endswith(".defer_loading")]
    assert reported == [f"tools[{i}].defer_loading" for i in deferred]


@pytest.mark.parametrize("source", ["anthropic", "responses"])
def test_defer_loading_to_chat_is_reported(source: str) -> None:
    request: dict[str, Any] = anthropic_request()
    if source == "responses":
        request = {
            "model": "m",
            "input": "hi",
            "tools": [
                {"type": "function", "name": "Read", "parameters": {"type": "object"}},
                {
                    "type": "function",
                    "name": "WebFetch",
                    "parameters": {"type": "object"},
                    "defer_loading": True,
                },
                {"type": "tool_search"},
            ],
        }
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(request, source=source, target="chat", losses=losses)
    validate_request("chat", body)
    assert "WebFetch" in tools_of("chat", body)
    assert "defer_loading" not in json.dumps(body)
    assert [loss.field for loss in losses if "defer_loading" in loss.field] == [
        "tools[1].defer_loading"
    ]


def test_defer_loading_stays_on_a_same_format_trip() -> None:
    request = anthropic_request()
    assert apibridge.convert_request(request, source="anthropic", target="anthropic") == request
    responses = {
        "model": "m",
        "input": "hi",
        "tools": [
            {
                "type": "function",
                "name": "WebFetch",
                "parameters": {"type": "object"},
                "strict": False,
                "defer_loading": True,
            }
        ],
    }
    assert apibridge.convert_request(responses, source="responses", target="responses") == responses


def test_codex_client_tool_search_cannot_load_deferred_anthropic_tools() -> None:
    request = {
        "model": "m",
        "input": "hi",
        "tools": [
            TOOL_SEARCH,
            {
                "type": "function",
                "name": "WebFetch",
                "parameters": {"type": "object"},
                "defer_loading": True,
            },
        ],
    }
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(request, source="responses", target="anthropic", losses=losses)
    validate_request("anthropic", body)
    assert [t.get("defer_loading") for t in body["tools"]] == [None, None]
    assert [loss.field for loss in losses if "defer_loading" in loss.field] == [
        "tools[1].defer_loading"
    ]
