"""LiteLLM as a client of apibridge: its ``anthropic/`` and ``openai/`` providers.

LiteLLM is both a gateway and a client library; here it is the client. Its ``anthropic/``
provider posts to the gateway's ``/v1/messages`` (a chat upstream behind it), its
``openai/`` provider to ``/v1/chat/completions`` (an anthropic upstream behind it), and
``litellm.responses`` to ``/v1/responses``. Each must get the scripted answer, text or tool
call, streamed and not, through LiteLLM's own parsing.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from . import wire
from .harness import CLIENT_KEY, Bridge, bridge
from .scripted import Call, Turn

# LiteLLM downloads its model price list at import unless told to use its bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm

litellm.suppress_debug_info = True  # no "Provider List" banner for unknown model names

pytestmark = pytest.mark.acceptance

_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
_MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]

# provider prefix → (upstream format behind the gateway, the call id that upstream spells)
_PROVIDERS: dict[str, tuple[str, str]] = {
    "anthropic": ("chat", "call_lite01"),
    "openai": ("anthropic", "toolu_lite01"),
}


def _base(provider: str, gateway: Bridge) -> str:
    return gateway.url if provider == "anthropic" else gateway.openai_url


def _complete(provider: str, gateway: Bridge, *, stream: bool) -> tuple[str, list[Any]]:
    """(text, [(tool name, parsed arguments)]) of one ``litellm.completion`` call."""
    response = litellm.completion(
        model=f"{provider}/model-x",
        api_base=_base(provider, gateway),
        api_key=CLIENT_KEY,
        messages=_MESSAGES,
        tools=_TOOLS,
        max_tokens=512,
        stream=stream,
        num_retries=0,
    )
    if stream:
        chunks = list(response)
        response = litellm.stream_chunk_builder(chunks, messages=_MESSAGES)
    message = response.choices[0].message
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
    return message.content or "", calls


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("provider", sorted(_PROVIDERS))
def test_completion_text_and_tool_call(provider: str, stream: bool) -> None:
    upstream, call_id = _PROVIDERS[provider]
    call = Call(id=call_id, name="get_weather", arguments='{"city": "Paris"}')
    script = [Turn(text="Let me check.", calls=(call,)), Turn(text="Sunny in Paris.")]
    with bridge(upstream, script) as gateway:
        first = _complete(provider, gateway, stream=stream)
        second = _complete(provider, gateway, stream=stream)
        bodies = gateway.upstream_bodies(2)
    assert first == ("Let me check.", [("get_weather", {"city": "Paris"})])
    assert second == ("Sunny in Paris.", [])
    for body in bodies:
        assert wire.tool_names(upstream, body) == ["get_weather"]
        assert "What is the weather in Paris?" in wire.user_text(upstream, body)


@pytest.mark.parametrize("upstream", ["anthropic", "chat"])
def test_responses_api(upstream: str) -> None:
    with bridge(upstream, [Turn(text="Responses via LiteLLM.")]) as gateway:
        response = litellm.responses(
            model="openai/model-x",
            api_base=gateway.openai_url,
            api_key=CLIENT_KEY,
            input="Say something.",
            num_retries=0,
        )
        (body,) = gateway.upstream_bodies(1)
    text = "".join(
        part.text for item in response.output if item.type == "message" for part in item.content
    )
    assert text == "Responses via LiteLLM."
    assert "Say something." in wire.user_text(upstream, body)
