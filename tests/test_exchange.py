"""``Exchange``: tool names an upstream rejects are shortened on the way out and restored on
the way back (FIDELITY 15), in answers and streams, for function and free-form tools alike."""

from __future__ import annotations

import orjson

import apibridge

LONG = "mcp__a_very_long_server_name_for_testing__and_an_even_longer_tool_name_here"


def chat_answer(name: str, arguments: str) -> dict[str, object]:
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }


def chat_stream(name: str, fragments: list[str]) -> bytes:
    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        body = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"

    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": name}}
    parts = [chunk({"role": "assistant", "tool_calls": [first]})]
    parts += [
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": f}}]}) for f in fragments
    ]
    return b"".join([*parts, chunk({}, "tool_calls"), b"data: [DONE]\n\n"])


def test_fidelity_15_long_mcp_tool_names_are_shortened_and_restored() -> None:
    request = {
        "model": "m",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "go"}],
        "tools": [{"name": LONG, "input_schema": {"type": "object"}}],
    }
    exchange = apibridge.Exchange.from_client(request, client="anthropic", upstream="chat")
    sent = exchange.upstream_request()["tools"][0]["function"]["name"]
    assert len(LONG) > 64 >= len(sent)
    assert sent.startswith(LONG[:20])
    answer = exchange.client_response(chat_answer(sent, '{"x": 1}'))
    assert answer["content"][0]["name"] == LONG
    assert answer["content"][0]["input"] == {"x": 1}
    streamed = b"".join(
        apibridge.convert_stream(
            [chat_stream(sent, ['{"x"', ": 1}"])],
            source="chat",
            target="anthropic",
            request=request,
            losses=[],
        )
    )
    assert f'"name":"{LONG}"'.encode() in streamed
    assert sent.encode() not in streamed


def test_a_renamed_free_form_tool_is_still_unwrapped() -> None:
    request = {
        "model": "m",
        "input": "patch it",
        "tools": [{"type": "custom", "name": "apply.patch", "description": "Apply a patch"}],
    }
    exchange = apibridge.Exchange.from_client(request, client="responses", upstream="chat")
    sent = exchange.upstream_request()["tools"][0]["function"]["name"]
    assert sent != "apply.patch"
    wrapped = orjson.dumps({"input": "*** Begin Patch\n"}).decode()
    out = exchange.client_response(chat_answer(sent, wrapped))["output"]
    assert [(o["type"], o["name"], o["input"]) for o in out] == [
        ("custom_tool_call", "apply.patch", "*** Begin Patch\n")
    ]
    streamed = b"".join(
        apibridge.convert_stream(
            [chat_stream(sent, [wrapped[:9], wrapped[9:]])],
            source="chat",
            target="responses",
            request=request,
            losses=[],
        )
    )
    assert b'"type":"custom_tool_call"' in streamed
    assert b'"input":"*** Begin Patch\\n"' in streamed
