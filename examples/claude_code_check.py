"""Check a Claude Code set-up before you start Claude Code: send what it sends, see what comes back.

Claude Code speaks the Anthropic Messages API. This program sends the gateway a request shaped
like Claude Code's own (``POST /v1/messages?beta=true``, streamed, its ``anthropic-beta``
values, a system prompt with cache markers, adaptive thinking with an effort, context
management, a JSON-string ``metadata.user_id``, and its ``Bash`` and ``Read`` tools) with the
``anthropic`` SDK. When the model calls a tool, the program answers the call the way Claude
Code would after running it, but without running anything, and sends the conversation back,
thinking blocks included, until the model answers in text (at most ``--turns`` requests).

Needs: ``pip install 'apibridge[server]' anthropic``.

Run it against a gateway you started (``apibridge serve --config examples/claude_code.toml``)::

    python examples/claude_code_check.py --gateway http://127.0.0.1:8080 --model claude-sonnet-4-5

or let it start one in front of your server (Ollama here; ``scripted=echo`` without a flag)::

    python examples/claude_code_check.py --model qwen3-coder \
        --upstream chat=http://127.0.0.1:11434/v1
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anthropic

sys.path.insert(0, str(Path(__file__).parent))
from gateway_process import check_main

#: What Claude Code 2.1 sends in ``anthropic-beta`` (see docs/clients.md).
BETAS = [
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
]

TOOLS: list[dict[str, Any]] = [
    {
        "name": "Bash",
        "description": "Executes a given bash command and returns its output.",
        "input_schema": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to execute"},
                "description": {"type": "string", "description": "What the command does"},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    },
    {
        "name": "Read",
        "description": "Reads a file from the local filesystem.",
        "input_schema": {
            "type": "object",
            "properties": {"file_path": {"type": "string"}},
            "required": ["file_path"],
            "additionalProperties": False,
        },
    },
]

SYSTEM: list[dict[str, Any]] = [
    {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cc_entrypoint=cli"},
    {
        "type": "text",
        "text": "You are Claude Code, Anthropic's official CLI for Claude.",
        "cache_control": {"type": "ephemeral"},
    },
    {
        "type": "text",
        "text": "You are an interactive CLI tool that helps users with software engineering tasks.",
        "cache_control": {"type": "ephemeral"},
    },
]


def tool_result(block: Any) -> str:
    """What the program answers for a tool call instead of running it."""
    return f"(not run by the check) {block.name} {json.dumps(block.input, sort_keys=True)}"


def check(base_url: str, model: str, prompt: str, *, turns: int = 4, key: str = "unused") -> Any:
    """Talk to the gateway at ``base_url`` as Claude Code does; return the final message."""
    client = anthropic.Anthropic(base_url=base_url, api_key=key, max_retries=0, timeout=120)
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>\nA check run.\n</system-reminder>"},
                {"type": "text", "text": prompt},
            ],
        }
    ]
    for turn in range(1, turns + 1):
        with client.beta.messages.stream(
            model=model,
            max_tokens=32000,
            system=SYSTEM,  # type: ignore[arg-type]
            messages=messages,  # type: ignore[arg-type]
            tools=TOOLS,  # type: ignore[arg-type]
            thinking={"type": "adaptive", "display": "omitted"},
            output_config={"effort": "medium"},
            context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            metadata={"user_id": json.dumps({"device_id": "check", "session_id": "check"})},
            betas=BETAS,
            extra_headers={"x-app": "cli"},
        ) as stream:
            message = stream.get_final_message()
        usage = message.usage
        print(
            f"turn {turn}: stop_reason={message.stop_reason} "
            f"tokens in={usage.input_tokens} out={usage.output_tokens}"
        )
        calls = [block for block in message.content if block.type == "tool_use"]
        for block in message.content:
            if block.type == "text":
                print(f"  text: {block.text}")
            elif block.type == "thinking":
                print(f"  thinking: {len(block.thinking)} characters, signed")
            elif block.type == "tool_use":
                print(f"  tool call: {block.name} {json.dumps(block.input)}")
        if not calls:
            return message
        # the assistant turn goes back as received (thinking and its signature included)
        content = [block.model_dump(exclude_none=True) for block in message.content]
        messages.append({"role": "assistant", "content": content})
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": c.id, "content": tool_result(c)}
                    for c in calls
                ],
            }
        )
    raise SystemExit(f"no text answer after {turns} requests")


def main(argv: Sequence[str] | None = None) -> int:
    return check_main(
        check,
        argv,
        description=__doc__.split("\n", 1)[0],
        gateway_help="root URL of a running gateway (ANTHROPIC_BASE_URL)",
        model="claude-sonnet-4-5",
        prompt="List the files in the current directory.",
        max_output_tokens=8192,
    )


if __name__ == "__main__":
    raise SystemExit(main())
