"""Responses ``namespace`` tools (Codex groups an MCP server's tools so; issue 15, item 4).

Upstreams without namespaces (Anthropic, Chat, backboard) get each member as a plain tool named
``<namespace>__<name>`` (shortened like any name the target rejects); calls in the history are
sent under that name, and calls in answers and streams get their ``namespace`` and ``name``
back. A Responses upstream gets the namespaces unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.oracles import final_from_stream, validate_request, validate_response

import apibridge
from apibridge._exchange import flat_tool_name
from apibridge.codecs import get_codec
from apibridge.model import Request, Response, Tool, ToolCallPart

CRM = {
    "type": "namespace",
    "name": "crm",
    "description": "Customer records.",
    "tools": [
        {
            "type": "function",
            "name": "find",
            "description": "Find a customer.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            "strict": False,
        },
        {"type": "custom", "name": "note", "description": "Write a free-form note."},
    ],
}
GITHUB = {
    "type": "namespace",
    "name": "mcp__github__",
    "description": "GitHub MCP server.",
    "tools": [{"type": "function", "name": "list_issues", "parameters": {"type": "object"}}],
}
SHELL = {"type": "function", "name": "shell", "parameters": {"type": "object"}, "strict": False}


def codex_request(*history: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "m",
        "input": [{"role": "user", "content": "find Ada"}, *history],
        "tools": [SHELL, CRM, GITHUB],
        "stream": True,
        "store": False,
    }


def anthropic_answer(*calls: tuple[str, str, object]) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {"type": "tool_use", "id": i, "name": n, "input": args} for i, n, args in calls
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }


def chat_stream(calls: list[tuple[str, str, str]]) -> bytes:
    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        body = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"

    parts = [chunk({"role": "assistant"})]
    for i, (call_id, name, arguments) in enumerate(calls):
        first = {"index": i, "id": call_id, "type": "function", "function": {"name": name}}
        parts.append(chunk({"tool_calls": [first]}))
        parts.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": arguments}}]}))
    return b"".join([*parts, chunk({}, "tool_calls"), b"data: [DONE]\n\n"])


def calls_of(output: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    return [(o["type"], o.get("namespace"), o["name"]) for o in output]


def test_flat_tool_name_joins_namespace_and_name_once() -> None:
    assert flat_tool_name("crm", "find") == "crm__find"
    assert flat_tool_name("mcp__github__", "list_issues") == "mcp__github__list_issues"


@pytest.mark.parametrize("target", ["anthropic", "chat"])
def test_namespace_tools_reach_anthropic_and_chat_upstreams_as_functions(target: str) -> None:
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(
        codex_request(), source="responses", target=target, losses=losses
    )
    validate_request(target, body)
    tools = body["tools"]
    if target == "chat":
        tools = [t["function"] for t in tools]
    assert [t["name"] for t in tools] == [
        "shell",
        "crm__find",
        "crm__note",
        "mcp__github__list_issues",
    ]
    # the namespace's description is said with each member
    assert tools[1]["description"] == "Customer records.\n\nFind a customer."
    assert tools[2]["description"] == "Customer records.\n\nWrite a free-form note."
    assert tools[3]["description"] == "GitHub MCP server."
    assert [loss.field for loss in losses if "tools" in loss.field] == []


def test_namespace_restored_on_calls_in_answers_and_streams() -> None:
    request = codex_request()
    # a whole answer from an Anthropic upstream
    answer = anthropic_answer(
        ("t1", "crm__find", {"q": "Ada"}),
        ("t2", "crm__note", {"input": "called Ada"}),
        ("t3", "mcp__github__list_issues", {}),
        ("t4", "shell", {}),
    )
    out = apibridge.convert_response(
        answer, source="anthropic", target="responses", request=request, losses=[]
    )
    validate_response("responses", out)
    assert calls_of(out["output"]) == [
        ("function_call", "crm", "find"),
        ("custom_tool_call", "crm", "note"),
        ("function_call", "mcp__github__", "list_issues"),
        ("function_call", None, "shell"),
    ]
    assert out["output"][1]["input"] == "called Ada"
    # a stream from a Chat upstream
    streamed = b"".join(
        apibridge.convert_stream(
            [chat_stream([("c1", "crm__find", '{"q":"Ada"}'), ("c2", "shell", "{}")])],
            source="chat",
            target="responses",
            request=request,
            losses=[],
        )
    )
    final = final_from_stream("responses", streamed)
    assert [(o.type, o.namespace, o.name) for o in final.output] == [
        ("function_call", "crm", "find"),
        ("function_call", None, "shell"),
    ]
    added = [
        orjson.loads(line[6:])["item"]
        for line in streamed.split(b"\n")
        if line.startswith(b"data: ") and b"output_item.added" in line
    ]
    assert [(i.get("namespace"), i["name"]) for i in added] == [("crm", "find"), (None, "shell")]
    assert b"crm__find" not in streamed


@pytest.mark.parametrize("target", ["anthropic", "chat"])
def test_namespaced_call_in_history_reaches_upstream_flattened(target: str) -> None:
    call = {
        "type": "function_call",
        "call_id": "c1",
        "namespace": "crm",
        "name": "find",
        "arguments": '{"q":"Ada"}',
    }
    output = {"type": "function_call_output", "call_id": "c1", "output": "Ada Lovelace"}
    body = apibridge.convert_request(
        codex_request(call, output), source="responses", target=target, losses=[]
    )
    validate_request(target, body)
    if target == "anthropic":
        (use,) = body["messages"][1]["content"]
        assert (use["type"], use["id"], use["name"]) == ("tool_use", "c1", "crm__find")
        (result,) = body["messages"][2]["content"]
        assert result["tool_use_id"] == "c1"
    else:
        (sent,) = body["messages"][1]["tool_calls"]
        assert (sent["id"], sent["function"]["name"]) == ("c1", "crm__find")
        assert body["messages"][2]["tool_call_id"] == "c1"


def test_a_namespaced_call_of_a_namespace_no_longer_offered_is_still_flattened() -> None:
    call = {
        "type": "function_call",
        "call_id": "c1",
        "namespace": "old",
        "name": "gone",
        "arguments": "{}",
    }
    output = {"type": "function_call_output", "call_id": "c1", "output": "done"}
    body = apibridge.convert_request(
        codex_request(call, output), source="responses", target="chat", losses=[]
    )
    assert body["messages"][1]["tool_calls"][0]["function"]["name"] == "old__gone"


def test_responses_upstream_keeps_namespace_tools_and_calls() -> None:
    call = {
        "type": "function_call",
        "call_id": "c1",
        "namespace": "crm",
        "name": "find",
        "arguments": "{}",
    }
    output = {"type": "function_call_output", "call_id": "c1", "output": "ok"}
    request = codex_request(call, output)
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(request, source="responses", target="responses", losses=losses)
    assert body["tools"] == request["tools"]
    assert body["input"][1] == call
    assert losses == []
    answer = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "m",
        "status": "completed",
        "output": [
            {
                "type": "function_call",
                "id": "fc_1",
                "status": "completed",
                "call_id": "c2",
                "namespace": "crm",
                "name": "find",
                "arguments": "{}",
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    out = apibridge.convert_response(
        answer, source="responses", target="responses", request=request, losses=[]
    )
    assert out["output"] == answer["output"]


def test_flat_names_a_target_rejects_are_shortened_and_restored() -> None:
    namespace = "mcp__a_very_long_server_name_for_testing__"
    request = {
        "model": "m",
        "input": "go",
        "tools": [
            {
                "type": "namespace",
                "name": namespace,
                "description": "",
                "tools": [{"type": "function", "name": "an_even_longer_tool_name_here"}],
            },
            # a plain tool already named as the member would be flattened
            {"type": "function", "name": "crm__find"},
            CRM,
        ],
    }
    exchange = apibridge.Exchange.from_client(request, client="responses", upstream="chat")
    names = [t["function"]["name"] for t in exchange.upstream_request()["tools"]]
    long_flat, plain, crm_find, crm_note = names
    assert len(long_flat) <= 64 < len(namespace + "an_even_longer_tool_name_here")
    assert long_flat.startswith(namespace)
    assert plain == "crm__find"
    assert crm_find != plain
    assert crm_find.startswith("crm__find_")
    assert crm_note == "crm__note"
    upstream_stream = chat_stream(
        [("c1", long_flat, "{}"), ("c2", crm_find, "{}"), ("c3", plain, "{}")]
    )
    streamed = b"".join(
        apibridge.convert_stream(
            [upstream_stream], source="chat", target="responses", request=request, losses=[]
        )
    )
    final = final_from_stream("responses", streamed)
    assert [(o.namespace, o.name) for o in final.output] == [
        (namespace, "an_even_longer_tool_name_here"),
        ("crm", "find"),
        (None, "crm__find"),
    ]


def test_tool_names_flatten_only_for_targets_without_namespaces() -> None:
    request = Request(
        model="m",
        messages=(),
        tools=(Tool(name="find", namespace="crm"),),
    )
    chat = apibridge.ToolNames.for_target(request, get_codec("chat"))
    responses = apibridge.ToolNames.for_target(request, get_codec("responses"))
    assert chat.flat == {("crm", "find"): "crm__find"}
    assert responses.flat == {}
    restored = chat.restore_response(
        Response(
            id="r", model="m", content=(ToolCallPart(id="c", name="crm__find", arguments="{}"),)
        )
    )
    (part,) = restored.content
    assert isinstance(part, ToolCallPart)
    assert (part.namespace, part.name) == ("crm", "find")


def test_a_tool_choice_naming_a_namespace_member_names_its_flat_tool() -> None:
    request = {
        **codex_request(),
        "tool_choice": {"type": "function", "name": "find"},
    }
    body = apibridge.convert_request(request, source="responses", target="anthropic", losses=[])
    assert body["tool_choice"] == {"type": "tool", "name": "crm__find"}
    plain = {**request, "tool_choice": {"type": "function", "name": "shell"}}
    body = apibridge.convert_request(plain, source="responses", target="chat", losses=[])
    assert body["tool_choice"] == {"type": "function", "function": {"name": "shell"}}
