"""The OpenAI Agents SDK through apibridge to an anthropic upstream, with a function tool.

The agent runs on both of the SDK's OpenAI models: ``OpenAIResponsesModel`` (the gateway's
``/v1/responses``) and ``OpenAIChatCompletionsModel`` (``/v1/chat/completions``), streamed
and not. The scripted Claude upstream calls the agent's tool, the SDK runs the Python
function, and the final answer must come back; the second upstream request must carry the
function's real return value as the tool result.
"""

from __future__ import annotations

import asyncio
from typing import Any

import agents
import pytest
from openai import AsyncOpenAI

from . import wire
from .harness import CLIENT_KEY, Bridge, bridge
from .scripted import Call, Turn

pytestmark = pytest.mark.acceptance

_ANSWER = "It is sunny and 21 degrees in Paris."
_CALL = Call(id="toolu_01Weather", name="get_weather", arguments='{"city": "Paris"}')


def _agent(kind: str, gateway: Bridge, seen: list[str]) -> Any:
    """An agent with one function tool, on the ``kind`` model, pointed at the gateway."""

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        seen.append(city)
        return f"Sunny, 21 degrees in {city}"

    client = AsyncOpenAI(base_url=gateway.openai_url, api_key=CLIENT_KEY, max_retries=0)
    model_class = {
        "responses": agents.OpenAIResponsesModel,
        "chat": agents.OpenAIChatCompletionsModel,
    }[kind]
    return agents.Agent(
        name="weather",
        instructions="Answer weather questions with the get_weather tool.",
        model=model_class(model="claude-sonnet-4-5", openai_client=client),
        tools=[get_weather],
    )


async def _run(agent: Any, *, stream: bool) -> str:
    if not stream:
        result = await agents.Runner.run(agent, "What is the weather in Paris?")
        return str(result.final_output)
    streamed = agents.Runner.run_streamed(agent, "What is the weather in Paris?")
    async for _ in streamed.stream_events():
        pass
    return str(streamed.final_output)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("kind", ["responses", "chat"])
def test_agent_tool_call_through_anthropic_upstream(kind: str, stream: bool) -> None:
    agents.set_tracing_disabled(True)  # offline: no trace upload
    seen: list[str] = []
    script = [Turn(calls=(_CALL,)), Turn(text=_ANSWER)]
    with bridge("anthropic", script) as gateway:
        answer = asyncio.run(_run(_agent(kind, gateway, seen), stream=stream))
        first, second = gateway.upstream_bodies(2)
    assert answer == _ANSWER
    assert seen == ["Paris"]
    tool = wire.tool_declaration("anthropic", first, "get_weather")
    assert tool["input_schema"]["properties"]["city"]["type"] == "string"
    assert "get_weather tool" in str(first["system"])
    (call,) = wire.calls("anthropic", second)
    assert call.id == _CALL.id
    assert "Sunny, 21 degrees in Paris" in wire.results("anthropic", second)[_CALL.id]
