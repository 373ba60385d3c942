"""An OpenAI Agents SDK agent on any upstream, through apibridge.

The Agents SDK talks to an ``AsyncOpenAI`` client: point that client at the gateway's ``/v1``
and the agent runs on whatever the gateway routes its model to (Claude, a vLLM or Ollama
server, backboard.io), with its function tools, streamed or not. Two models are available:
``OpenAIResponsesModel`` (the gateway's ``/v1/responses``) and ``OpenAIChatCompletionsModel``
(``/v1/chat/completions``); both work through the gateway whatever the upstream speaks.

Needs: ``pip install 'apibridge[server]' openai-agents``.

Run it against a gateway you started (``apibridge serve --upstream anthropic=https://api.anthropic.com``
with ``ANTHROPIC_API_KEY`` set)::

    python examples/agents_sdk_app.py --gateway http://127.0.0.1:8080 --model claude-sonnet-4-5

or let it start one (``scripted=echo`` without a flag: the agent's question comes back)::

    python examples/agents_sdk_app.py --upstream chat=http://127.0.0.1:11434/v1 --model qwen3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import agents
from openai import AsyncOpenAI

sys.path.insert(0, str(Path(__file__).parent))
from gateway_process import serve


@agents.function_tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"Sunny, 21 degrees in {city}"


def build_agent(
    base_url: str, model: str, *, api: str = "responses", key: str = "unused"
) -> agents.Agent:
    """An agent with one function tool, on the gateway at ``base_url`` (its root URL)."""
    client = AsyncOpenAI(base_url=base_url + "/v1", api_key=key, max_retries=0, timeout=120)
    model_class = {
        "responses": agents.OpenAIResponsesModel,
        "chat": agents.OpenAIChatCompletionsModel,
    }[api]
    return agents.Agent(
        name="weather",
        instructions="Answer weather questions with the get_weather tool.",
        model=model_class(model=model, openai_client=client),
        tools=[get_weather],
    )


async def ask(agent: agents.Agent, question: str, *, stream: bool = False) -> str:
    """Run the agent once on ``question``; its final answer."""
    if not stream:
        result = await agents.Runner.run(agent, question)
        return str(result.final_output)
    streamed = agents.Runner.run_streamed(agent, question)
    async for event in streamed.stream_events():
        if event.type == "run_item_stream_event" and event.item.type == "tool_call_item":
            print(f"  tool call: {getattr(event.item.raw_item, 'name', '?')}")
    return str(streamed.final_output)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--gateway", help="root URL of a running gateway (without /v1)")
    where.add_argument(
        "--upstream",
        default="scripted=echo",
        help="start `apibridge serve --upstream SPEC` (default: scripted=echo)",
    )
    parser.add_argument("--model", default="claude-sonnet-4-5")
    parser.add_argument("--api", choices=("responses", "chat"), default="responses")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--question", default="What is the weather in Paris?")
    args = parser.parse_args(argv)
    agents.set_tracing_disabled(True)  # otherwise the SDK uploads traces to OpenAI

    def run(root: str) -> None:
        agent = build_agent(root, args.model, api=args.api)
        print(asyncio.run(ask(agent, args.question, stream=args.stream)))

    if args.gateway:
        run(args.gateway)
        return 0
    with serve(["--upstream", args.upstream]) as root:
        run(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
