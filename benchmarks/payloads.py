"""The payloads every benchmark uses, generated deterministically from a seed.

A *coding-agent conversation* is what Claude Code, Codex CLI and their kin send: a long system
prompt, a dozen tools with JSON Schemas, and turns of user text, assistant text with tool calls
(sometimes with a signed thinking block) and tool results holding file contents or command
output. The generator writes it in the Anthropic format; the Chat and Responses versions of the
same conversation are made by apibridge itself, once, before anything is timed, so every
direction converts the same content.

Responses, streams and errors are generated the same way, in the Chat format first.
:func:`write_all` writes every payload under a directory as plain bytes, which is what the
timing workers read (they may run in another venv without apibridge installed).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
CLAUDE_CODE = ROOT / "tests" / "fixtures" / "anthropic" / "claude_code_request.json"
SEED = 20251204

_VOCABULARY = (
    "the function returns a list of paths that match the pattern and the test fails because "
    "self config value None import os sys json def class return if else for while try except "
    "raise yield async await lambda with open read write parse encode decode request response "
    "stream event token model message content tool result error status header body cache key "
    "index offset length buffer chunk frame schema field value type name id args kwargs "
    "update "
)
_WORDS = tuple(_VOCABULARY.split())

_PATHS = ("src/app/server.py", "src/app/models.py", "tests/test_api.py", "README.md", "setup.cfg")


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def _code(rng: random.Random, lines: int) -> str:
    out = []
    for number in range(1, lines + 1):
        indent = "    " * rng.randint(0, 3)
        out.append(f"{number:>5}\t{indent}{_text(rng, rng.randint(2, 9))}")
    return "\n".join(out)


def _schema(rng: random.Random, fields: int) -> dict[str, Any]:
    properties = {
        f"{rng.choice(_WORDS)}_{i}": {
            "type": rng.choice(("string", "integer", "boolean")),
            "description": _text(rng, rng.randint(5, 20)),
        }
        for i in range(fields)
    }
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties)[:1],
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }


def coding_agent_conversation(
    seed: int = SEED, *, messages: int = 120, result_lines: int = 22, tools: int = 12
) -> dict[str, Any]:
    """An Anthropic Messages request of a coding agent mid-session (``messages`` turns).

    Every third message triple is: the user (or a tool result) → assistant text + tool_use →
    tool_result. ``result_lines`` sets the size of file contents and command output.
    """
    rng = random.Random(seed)
    tool_list = [
        {
            "name": name,
            "description": _text(rng, rng.randint(30, 120)),
            "input_schema": _schema(rng, rng.randint(2, 6)),
        }
        for name in (
            "Read",
            "Edit",
            "Write",
            "Bash",
            "Grep",
            "Glob",
            "TodoWrite",
            "WebFetch",
            "Task",
            "NotebookEdit",
            "mcp__github__create_pull_request",
            "mcp__github__list_issues",
        )[:tools]
    ]
    convo: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": _text(rng, 40)}]}
    ]
    turn = 0
    while len(convo) < messages:
        turn += 1
        tool = rng.choice(tool_list)
        call_id = f"toolu_{seed % 10000:04d}{turn:05d}"
        arguments = {"file_path": rng.choice(_PATHS), "command": _text(rng, rng.randint(3, 12))}
        blocks: list[dict[str, Any]] = []
        if rng.random() < 0.2:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": _text(rng, rng.randint(20, 60)),
                    "signature": "sig" + "A" * 60,
                }
            )
        blocks.append({"type": "text", "text": _text(rng, rng.randint(8, 40))})
        blocks.append({"type": "tool_use", "id": call_id, "name": tool["name"], "input": arguments})
        convo.append({"role": "assistant", "content": blocks})
        result: Any = _code(rng, rng.randint(result_lines // 2, result_lines * 3 // 2))
        if rng.random() < 0.3:
            result = [{"type": "text", "text": result}]
        content: list[dict[str, Any]] = [
            {
                "type": "tool_result",
                "tool_use_id": call_id,
                "content": result,
                **({"is_error": True} if rng.random() < 0.05 else {}),
            }
        ]
        if rng.random() < 0.25:
            content.append({"type": "text", "text": _text(rng, rng.randint(5, 30))})
        convo.append({"role": "user", "content": content})
    convo = convo[:messages]
    if convo[-1]["role"] != "user":
        convo.append({"role": "user", "content": _text(rng, 12)})
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "system": [
            {
                "type": "text",
                "text": "You are a coding agent. " + _text(rng, 300),
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "messages": convo,
        "tools": tool_list,
        "tool_choice": {"type": "auto"},
        "temperature": 1,
        "metadata": {"user_id": "user_bench"},
        "stream": True,
    }


def chat_turn(seed: int = SEED) -> dict[str, Any]:
    """A 1 KB Anthropic request: a system prompt and one short exchange."""
    rng = random.Random(seed)
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": "You are a helpful assistant. " + _text(rng, 40),
        "messages": [
            {"role": "user", "content": _text(rng, 50)},
            {"role": "assistant", "content": _text(rng, 30)},
            {"role": "user", "content": _text(rng, 25)},
        ],
        "temperature": 0.7,
    }


def claude_code_request() -> dict[str, Any]:
    """The real Claude Code request captured on loopback (its ``body``)."""
    body: dict[str, Any] = orjson.loads(CLAUDE_CODE.read_bytes())["body"]
    return body


def requests(*, quick: bool = False) -> dict[str, dict[str, Any]]:
    """The request payloads, in the Anthropic format, by label (``quick``: no 1.1 MB one)."""
    found = {
        "1 KB chat turn": chat_turn(),
        "110 KB coding agent": coding_agent_conversation(messages=120),
        "1.1 MB coding agent": coding_agent_conversation(messages=1360),
        "Claude Code (real)": claude_code_request(),
    }
    if quick:
        del found["1.1 MB coding agent"], found["110 KB coding agent"]
    return found


def chat_response(seed: int = SEED, *, paragraphs: int = 1, tool_calls: int = 0) -> dict[str, Any]:
    """A non-streamed Chat Completions answer: text, optionally tool calls, usage."""
    rng = random.Random(seed)
    calls = [
        {
            "id": f"call_{i:04d}",
            "type": "function",
            "function": {
                "name": rng.choice(("Read", "Edit", "Bash")),
                "arguments": orjson.dumps(
                    {"file_path": rng.choice(_PATHS), "new_string": _code(rng, 60)}
                ).decode(),
            },
        }
        for i in range(tool_calls)
    ]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "\n\n".join(_text(rng, 120) for _ in range(paragraphs)),
    }
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1764800000,
        "model": "bench-model",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1000},
        },
    }


def responses() -> dict[str, dict[str, Any]]:
    """The response payloads, in the Chat format, by label."""
    return {
        "1 KB answer": chat_response(paragraphs=1),
        "110 KB answer, 20 tool calls": chat_response(paragraphs=62, tool_calls=20),
    }


def chat_stream(seed: int = SEED, *, text_deltas: int = 200, argument_deltas: int = 60) -> bytes:
    """A streamed Chat answer: text deltas, one tool call in argument pieces, usage, [DONE]."""
    rng = random.Random(seed)
    head = b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764800000,'
    head += b'"model":"bench-model","choices":'

    def frame(choices: list[Any], usage: Any = None) -> bytes:
        extra = b',"usage":' + orjson.dumps(usage) if usage else b""
        return head + orjson.dumps(choices) + extra + b"}\n\n"

    frames = [
        frame([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
    ]
    for _ in range(text_deltas):
        piece = " " + " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
        frames.append(frame([{"index": 0, "delta": {"content": piece}, "finish_reason": None}]))
    frames.append(
        frame(
            [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_0001",
                                "type": "function",
                                "function": {"name": "Edit", "arguments": ""},
                            }
                        ]
                    },
                    "finish_reason": None,
                }
            ]
        )
    )
    arguments = orjson.dumps({"file_path": "src/app/server.py", "new_string": _code(rng, 20)})
    step = max(1, len(arguments) // argument_deltas + 1)
    for start in range(0, len(arguments), step):
        piece = arguments[start : start + step].decode()
        frames.append(
            frame(
                [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]},
                        "finish_reason": None,
                    }
                ]
            )
        )
    frames.append(frame([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]))
    frames.append(
        frame([], {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500})
    )
    frames.append(b"data: [DONE]\n\n")
    return b"".join(frames)


CHAT_ERROR = {
    "error": {
        "message": "Rate limit reached for requests per min. Please try again in 20s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}

CLIENT_FORMATS = ("anthropic", "chat", "responses")
UPSTREAM_FORMATS = ("anthropic", "chat", "responses", "backboard")


def slug(label: str) -> str:
    """A file-name-safe form of a payload label."""
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")


def write_all(
    directory: Path, *, quick: bool = False, sections: frozenset[str] = frozenset(("all",))
) -> dict[str, Any]:
    """Write every payload under ``directory``; return an index of what was written.

    ``sections`` limits it to some of request, response, stream, error. ``quick``: only the
    1 KB and Claude Code requests. Index: ``{"requests": {label: {format: path}},
    "responses": {label: {format: path}}, "streams": {format: {"path": path, "events": n}},
    "errors": {format: path}}``.
    """
    import apibridge

    directory.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {"requests": {}, "responses": {}, "streams": {}, "errors": {}}

    def put(name: str, data: bytes) -> str:
        path = directory / name
        path.write_bytes(data)
        return str(path)

    wanted = sections if "all" not in sections else {"request", "response", "stream", "error"}
    for label, body in requests(quick=quick).items() if "request" in wanted else ():
        formats = {"anthropic": put(f"request-{slug(label)}-anthropic.json", orjson.dumps(body))}
        for fmt in ("chat", "responses"):
            converted = apibridge.convert_request(body, source="anthropic", target=fmt, losses=[])
            formats[fmt] = put(f"request-{slug(label)}-{fmt}.json", orjson.dumps(converted))
        index["requests"][label] = formats
    for label, body in responses().items() if "response" in wanted else ():
        formats = {"chat": put(f"response-{slug(label)}-chat.json", orjson.dumps(body))}
        for fmt in ("anthropic", "responses"):
            converted = apibridge.convert_response(body, source="chat", target=fmt, losses=[])
            formats[fmt] = put(f"response-{slug(label)}-{fmt}.json", orjson.dumps(converted))
        index["responses"][label] = formats
    stream = chat_stream()
    for fmt in CLIENT_FORMATS:
        data = (
            stream
            if fmt == "chat"
            else b"".join(apibridge.convert_stream([stream], source="chat", target=fmt, losses=[]))
        )
        events = sum(1 for part in data.split(b"\n\n") if part.strip())
        index["streams"][fmt] = {"path": put(f"stream-{fmt}.sse", data), "events": events}
    for fmt in CLIENT_FORMATS if "error" in wanted else ():
        _, body = (
            (429, CHAT_ERROR)
            if fmt == "chat"
            else apibridge.convert_error(CHAT_ERROR, 429, source="chat", target=fmt)
        )
        index["errors"][fmt] = put(f"error-{fmt}.json", orjson.dumps(body))
    return index
