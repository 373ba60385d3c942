"""Check a Codex CLI set-up before you start Codex: send what it sends, see what comes back.

Codex CLI speaks the OpenAI Responses API. This program sends the gateway a request shaped like
Codex's own (``POST /v1/responses``, streamed, ``store: false``, encrypted reasoning asked for,
the system prompt as a ``developer`` message, its ``exec_command`` function tool and its
free-form ``apply_patch`` custom tool) with the ``openai`` SDK, and reads the stream the way
Codex does: the answer is the items of ``response.output_item.done`` events, and a stream
without ``response.completed`` is an error. When the model calls a tool, the program answers
the call without running anything and sends the whole conversation back, reasoning items
included (Codex keeps no state on the server), until the model answers in text.

Needs: ``pip install 'apibridge[server]' openai``.

Run it against a gateway you started::

    python examples/codex_check.py --gateway http://127.0.0.1:8080 --model claude-sonnet-4-5

or let it start one (Claude here, with ``ANTHROPIC_API_KEY`` set; ``scripted=echo`` without a
flag)::

    python examples/codex_check.py --model claude-sonnet-4-5 \
        --upstream anthropic=https://api.anthropic.com
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openai

sys.path.insert(0, str(Path(__file__).parent))
from gateway_process import check_main

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Runs a command in a PTY, returning output or a session ID.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "cmd": {"type": "string", "description": "Shell command to execute."},
                "workdir": {"type": "string"},
            },
            "required": ["cmd"],
            "additionalProperties": False,
        },
    },
    {
        "type": "custom",
        "name": "apply_patch",
        "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool.",
    },
]


def tool_output(item: Any) -> dict[str, Any]:
    """The output item Codex would send after running ``item``; nothing is run here."""
    if item.type == "custom_tool_call":
        return {
            "type": "custom_tool_call_output",
            "call_id": item.call_id,
            "output": f"(not run by the check) apply_patch, {len(item.input)} characters",
        }
    return {
        "type": "function_call_output",
        "call_id": item.call_id,
        "output": f"(not run by the check) {item.name} {item.arguments}",
    }


def check(base_url: str, model: str, prompt: str, *, turns: int = 4, key: str = "unused") -> str:
    """Talk to the gateway at ``base_url`` as Codex does; return the final answer's text."""
    client = openai.OpenAI(base_url=base_url + "/v1", api_key=key, max_retries=0, timeout=120)
    session = str(uuid.uuid4())
    history: list[dict[str, Any]] = [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "You are Codex, a coding agent."}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": prompt}],
        },
    ]
    for turn in range(1, turns + 1):
        items: list[Any] = []
        completed = None
        stream = client.responses.create(
            model=model,
            input=history,  # type: ignore[arg-type]
            tools=TOOLS,  # type: ignore[arg-type]
            tool_choice="auto",
            parallel_tool_calls=True,
            reasoning={"effort": "medium"},
            store=False,
            stream=True,
            include=["reasoning.encrypted_content"],
            prompt_cache_key=session,
            extra_headers={"originator": "codex_exec", "session-id": session},
        )
        for event in stream:
            if event.type == "response.output_item.done":
                items.append(event.item)
            elif event.type == "response.completed":
                completed = event.response
            elif event.type in ("response.failed", "error"):
                raise SystemExit(f"turn {turn}: the stream failed: {event}")
        if completed is None:
            raise SystemExit(f"turn {turn}: stream closed before response.completed")
        usage = completed.usage
        print(
            f"turn {turn}: status={completed.status} "
            f"tokens in={usage.input_tokens if usage else '?'} "
            f"out={usage.output_tokens if usage else '?'}"
        )
        calls = [i for i in items if i.type in ("function_call", "custom_tool_call")]
        text = ""
        for item in items:
            if item.type == "message":
                text = "".join(p.text for p in item.content if p.type == "output_text")
                print(f"  text: {text}")
            elif item.type == "reasoning":
                kept = "kept" if item.encrypted_content else "none"
                print(f"  reasoning: encrypted_content {kept}")
            elif item.type == "function_call":
                print(f"  tool call: {item.name} {item.arguments}")
            elif item.type == "custom_tool_call":
                print(f"  custom tool call: {item.name} {json.dumps(item.input)}")
        if not calls:
            return text
        history += [item.model_dump(exclude_none=True) for item in items]
        history += [tool_output(call) for call in calls]
    raise SystemExit(f"no text answer after {turns} requests")


def main(argv: Sequence[str] | None = None) -> int:
    return check_main(
        check,
        argv,
        description=__doc__.split("\n", 1)[0],
        gateway_help="root URL of a running gateway (without /v1)",
        model="claude-sonnet-4-5",
        prompt="Say hello, then list the files here.",
    )


if __name__ == "__main__":
    raise SystemExit(main())
