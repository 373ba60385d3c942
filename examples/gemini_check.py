"""Check a Gemini CLI set-up before you start Gemini CLI: send what it sends, see what comes back.

Gemini CLI (and any app on the ``google-genai`` SDK) speaks Gemini's ``generateContent``.
This program sends the gateway a request shaped like Gemini CLI's own (streamed with
``?alt=sse``, a system instruction, thoughts asked for with ``includeThoughts``, and its
``read_file`` and ``list_directory`` tools declared with ``parametersJsonSchema``) with the
``google-genai`` SDK. When the model calls a tool, the program answers the call the way
Gemini CLI would after running it, but without running anything, and sends the conversation
back, the model's turn exactly as received (thought signatures included), until the model
answers in text (at most ``--turns`` requests).

Needs: ``pip install 'apibridge[server]' google-genai``.

Run it against a gateway you started (``apibridge serve --upstream anthropic``)::

    python examples/gemini_check.py --gateway http://127.0.0.1:8080 --model claude-sonnet-4-5

or let it start one in front of your server (Ollama here; ``scripted=echo`` without a flag)::

    python examples/gemini_check.py --model qwen3-coder --upstream chat=http://127.0.0.1:11434/v1
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google import genai
from google.genai import types

sys.path.insert(0, str(Path(__file__).parent))
from gateway_process import check_main

TOOLS = [
    types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="read_file",
                description="Reads and returns the content of a specified file.",
                parameters_json_schema={
                    "type": "object",
                    "properties": {"absolute_path": {"type": "string"}},
                    "required": ["absolute_path"],
                },
            ),
            types.FunctionDeclaration(
                name="list_directory",
                description="Lists the names of files and subdirectories in a directory.",
                parameters_json_schema={
                    "type": "object",
                    "properties": {"path": {"type": "string"}},
                    "required": ["path"],
                },
            ),
        ]
    )
]

SYSTEM = "You are an interactive CLI agent specializing in software engineering tasks."


def tool_result(call: types.FunctionCall) -> dict[str, Any]:
    """What the program answers for a tool call instead of running it."""
    args = json.dumps(call.args or {}, sort_keys=True)
    return {"output": f"(not run by the check) {call.name} {args}"}


def describe(parts: list[types.Part]) -> list[str]:
    """A line per thought, call and text of a streamed turn (a stream's consecutive text
    parts, one per chunk, are one text)."""
    lines: list[str] = []
    text, thought = "", 0
    for part in parts:
        if part.thought:
            thought += len(part.text or "")
            continue
        if thought:
            lines.append(f"thought: {thought} characters")
            thought = 0
        if part.function_call is None:
            text += part.text or ""
            continue
        if text:
            lines.append(f"text: {text}")
            text = ""
        call = part.function_call
        signed = ", signed" if part.thought_signature else ""
        lines.append(f"tool call: {call.name} {json.dumps(call.args or {})}{signed}")
    if thought:
        lines.append(f"thought: {thought} characters")
    if text:
        lines.append(f"text: {text}")
    return lines


def check(base_url: str, model: str, prompt: str, *, turns: int = 4, key: str = "unused") -> Any:
    """Talk to the gateway at ``base_url`` as Gemini CLI does; return the final answer's text."""
    client = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base_url))
    config = types.GenerateContentConfig(
        system_instruction=SYSTEM,
        tools=TOOLS,
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=8192),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        temperature=0,
    )
    contents: list[types.Content] = [types.Content(role="user", parts=[types.Part(text=prompt)])]
    for turn in range(1, turns + 1):
        parts: list[types.Part] = []
        last = None
        for chunk in client.models.generate_content_stream(
            model=model, contents=contents, config=config
        ):
            last = chunk
            if chunk.candidates and chunk.candidates[0].content:
                parts.extend(chunk.candidates[0].content.parts or [])
        usage = last.usage_metadata if last is not None else None
        finish = last.candidates[0].finish_reason if last and last.candidates else None
        print(
            f"turn {turn}: finish_reason={finish} tokens in="
            f"{usage.prompt_token_count if usage else None} "
            f"out={usage.candidates_token_count if usage else None}"
        )
        calls = [p.function_call for p in parts if p.function_call is not None]
        for line in describe(parts):
            print(f"  {line}")
        if not calls:
            return "".join(p.text or "" for p in parts if not p.thought)
        # the model's turn goes back as received (thought signatures included)
        contents.append(types.Content(role="model", parts=parts))
        answers = [
            types.Part(
                function_response=types.FunctionResponse(
                    id=call.id, name=call.name, response=tool_result(call)
                )
            )
            for call in calls
        ]
        contents.append(types.Content(role="user", parts=answers))
    raise SystemExit(f"no text answer after {turns} requests")


def main(argv: Sequence[str] | None = None) -> int:
    return check_main(
        check,
        argv,
        description=__doc__.split("\n", 1)[0],
        gateway_help="root URL of a running gateway (GOOGLE_GEMINI_BASE_URL)",
        model="gemini-2.5-flash",
        prompt="List the files in the current directory.",
    )


if __name__ == "__main__":
    raise SystemExit(main())
