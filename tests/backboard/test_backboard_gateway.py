"""End to end: the official SDKs (Claude, Chat, Responses) through the gateway to the fake
backboard server, everything on loopback."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from bb_helpers import FAST_OPTIONS, KEYS
from fake_backboard import FakeBackboard, serve

from apibridge.asgi import App
from apibridge.config import GatewayConfig, Retries, Route, UpstreamConfig

WEATHER = {
    "name": "get_weather",
    "description": "Current weather of a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
CHAT_WEATHER = {
    "type": "function",
    "function": {
        "name": WEATHER["name"],
        "description": WEATHER["description"],
        "parameters": WEATHER["input_schema"],
    },
}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n tiny").decode()


@pytest.fixture(scope="module")
def gateway(fake_server: tuple[FakeBackboard, str]) -> Iterator[str]:
    _, url = fake_server
    upstream = UpstreamConfig(
        name="bb",
        format="backboard",
        base_url=url,
        api_keys=KEYS,
        retries=Retries(attempts=2, backoff=0.01, backoff_max=0.05),
        options={**FAST_OPTIONS, "key_cooldown": 0.2},
    )
    config = GatewayConfig(upstreams={"bb": upstream}, routes=(Route(pattern="*", upstream="bb"),))
    with serve(App(config), lifespan="on") as root:
        yield root


@pytest.fixture
def claude(gateway: str, fake: FakeBackboard) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="client", base_url=gateway, max_retries=0)


@pytest.fixture
def oai(gateway: str, fake: FakeBackboard) -> openai.OpenAI:
    return openai.OpenAI(api_key="client", base_url=gateway + "/v1", max_retries=0)


def last_fields(fake: FakeBackboard) -> dict[str, Any]:
    fields: dict[str, Any] = fake.recorded("message")[-1]["fields"]
    return fields


# ------------------------------------------------------------------------------ Claude


def test_claude_text_and_multi_turn(claude: anthropic.Anthropic, fake: FakeBackboard) -> None:
    history: list[Any] = [{"role": "user", "content": "hello"}]
    first = claude.messages.create(
        model="claude-sonnet-4", max_tokens=200, system="Be brief.", messages=history
    )
    assert first.content[0].type == "text"
    assert first.content[0].text == "Echo #1: hello"
    assert first.usage.input_tokens == 51
    assert first.usage.cache_read_input_tokens == 40
    assert last_fields(fake)["llm_provider"] == "anthropic"
    history += [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": "and again"},
    ]
    with claude.messages.stream(
        model="claude-sonnet-4", max_tokens=200, system="Be brief.", messages=history
    ) as stream:
        text = stream.get_final_text()
    assert text == "Echo #2: and again"
    assert last_fields(fake)["content"] == "and again"
    assert len(fake.threads) == 1


def test_claude_parallel_tools_round_trip(claude: anthropic.Anthropic, fake: FakeBackboard) -> None:
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris and Rome?"}]
    with claude.messages.stream(
        model="claude-sonnet-4", max_tokens=200, tools=[WEATHER], messages=history
    ) as stream:
        answer = stream.get_final_message()
    uses = [b for b in answer.content if b.type == "tool_use"]
    assert answer.stop_reason == "tool_use"
    assert [u.input for u in uses] == [{"city": "Paris"}, {"city": "Rome"}]
    history += [
        {"role": "assistant", "content": answer.content},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": u.id, "content": f"{20 + i} C"}
                for i, u in enumerate(uses)
            ],
        },
    ]
    final = claude.messages.create(
        model="claude-sonnet-4", max_tokens=200, tools=[WEATHER], messages=history
    )
    assert final.content[0].type == "text"
    assert final.content[0].text.startswith("Results: ")
    [submission] = fake.recorded("tool_outputs")
    assert [o["output"] for o in submission["body"]["tool_outputs"]] == ["20 C", "21 C"]


def test_claude_thinking_and_image(claude: anthropic.Anthropic, fake: FakeBackboard) -> None:
    answer = claude.messages.create(
        model="claude-sonnet-4",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                    {"type": "text", "text": "Describe it"},
                ],
            }
        ],
    )
    assert [b.type for b in answer.content] == ["thinking", "text"]
    assert answer.content[1].text.endswith("| files: image-1.png (image/png)")
    assert last_fields(fake)["thinking"] == {"budget_tokens": 2048}
    assert fake.recorded("message")[-1]["files"][0]["type"] == "image/png"


def test_claude_errors(claude: anthropic.Anthropic, fake: FakeBackboard) -> None:
    fake.fail("message", status=400, detail="Model claude-x does not exist")
    with pytest.raises(anthropic.NotFoundError, match="does not exist"):
        claude.messages.create(
            model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    fake.fail("message", stream="after", event="run_failed", detail="provider exploded")
    with (
        pytest.raises(anthropic.APIError, match="provider exploded"),
        claude.messages.stream(
            model="claude-sonnet-4",
            max_tokens=10,
            messages=[{"role": "user", "content": "a long one"}],
        ) as s,
    ):
        s.get_final_message()


# -------------------------------------------------------------------------------- Chat


def test_chat_text_stream_and_multi_turn(oai: openai.OpenAI, fake: FakeBackboard) -> None:
    history: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    first = oai.chat.completions.create(model="gpt-4o", messages=history)
    assert first.choices[0].message.content == "Echo #1: hello"
    assert first.usage is not None
    assert first.usage.prompt_tokens == 101
    history += [
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "second"},
    ]
    with oai.chat.completions.stream(model="gpt-4o", messages=history) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Echo #2: second"
    assert last_fields(fake)["content"] == "second"


def test_chat_parallel_tools_round_trip(oai: openai.OpenAI, fake: FakeBackboard) -> None:
    history: list[Any] = [{"role": "user", "content": "weather in Oslo and Bergen"}]
    with oai.chat.completions.stream(
        model="gpt-4o", messages=history, tools=[CHAT_WEATHER]
    ) as stream:
        for _ in stream:
            pass
        answer = stream.get_final_completion()
    message = answer.choices[0].message
    assert answer.choices[0].finish_reason == "tool_calls"
    assert [c.function.arguments for c in message.tool_calls or []] == [
        '{"city": "Oslo"}',
        '{"city": "Bergen"}',
    ]
    history.append(message.model_dump(exclude_none=True))
    history += [
        {"role": "tool", "tool_call_id": c.id, "content": "cold"} for c in message.tool_calls or []
    ]
    final = oai.chat.completions.create(model="gpt-4o", messages=history, tools=[CHAT_WEATHER])
    assert (final.choices[0].message.content or "").startswith("Results: ")
    assert len(fake.recorded("tool_outputs")[0]["body"]["tool_outputs"]) == 2


def test_chat_reasoning_image_and_errors(oai: openai.OpenAI, fake: FakeBackboard) -> None:
    answer = oai.chat.completions.create(
        model="gpt-4o",
        reasoning_effort="medium",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is it"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG}},
                ],
            }
        ],
    )
    assert "files: image-1.png" in (answer.choices[0].message.content or "")
    assert last_fields(fake)["thinking"] == {"effort": "medium"}
    fake.fail(
        "message", status=429, detail="Rate limit exceeded", times=2, headers={"Retry-After": "3"}
    )
    with pytest.raises(openai.RateLimitError) as info:
        oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert info.value.response.headers.get("retry-after") == "3"


# --------------------------------------------------------------------------- Responses


def test_responses_text_stream_and_tools(oai: openai.OpenAI, fake: FakeBackboard) -> None:
    first = oai.responses.create(model="gpt-4o", instructions="Be brief.", input="hello")
    assert first.output_text == "Echo #1: hello"
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather.",
        "parameters": WEATHER["input_schema"],
    }
    items: list[Any] = [{"role": "user", "content": "weather in Lima and Quito"}]
    with oai.responses.stream(model="gpt-4o", input=items, tools=[tool]) as stream:
        for _ in stream:
            pass
        answer = stream.get_final_response()
    calls = [o for o in answer.output if o.type == "function_call"]
    assert [c.arguments for c in calls] == ['{"city": "Lima"}', '{"city": "Quito"}']
    items += [o.model_dump(exclude_none=True) for o in answer.output]
    items += [
        {"type": "function_call_output", "call_id": c.call_id, "output": "warm"} for c in calls
    ]
    final = oai.responses.create(model="gpt-4o", input=items, tools=[tool])
    assert final.output_text.startswith("Results: ")
    assert len(fake.recorded("tool_outputs")) == 1
    fake.fail("message", stream="before", event="error", detail="Insufficient credits")
    with pytest.raises(openai.APIStatusError) as info:
        oai.responses.create(model="gpt-4o", input="x", stream=False)
    assert info.value.status_code == 402


# -------------------------------------------------------------------------------- WSGI


def test_wsgi_app_warms_the_pool_and_keeps_threads(
    fake_server: tuple[FakeBackboard, str], fake: FakeBackboard
) -> None:
    import io
    import json
    import time
    import wsgiref.util

    from apibridge.wsgi import App as WsgiApp

    upstream = UpstreamConfig(
        name="bb",
        format="backboard",
        base_url=fake_server[1],
        api_keys=KEYS[:1],
        options={**FAST_OPTIONS, "pool_size": 2},
    )
    app = WsgiApp(
        GatewayConfig(upstreams={"bb": upstream}, routes=(Route(pattern="*", upstream="bb"),))
    )

    def post(body: dict[str, Any]) -> dict[str, Any]:
        raw = json.dumps(body).encode()
        environ: dict[str, Any] = {}
        wsgiref.util.setup_testing_defaults(environ)
        environ.update(
            REQUEST_METHOD="POST",
            PATH_INFO="/v1/chat/completions",
            CONTENT_TYPE="application/json",
            CONTENT_LENGTH=str(len(raw)),
        )
        environ["wsgi.input"] = io.BytesIO(raw)
        status: list[str] = []
        out = b"".join(app(environ, lambda s, h, *a: status.append(s)))
        assert status[0].startswith("200"), out
        answer: dict[str, Any] = json.loads(out)
        return answer

    try:
        assert fake.requests == []  # nothing happens before the first request
        first = post({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        text = first["choices"][0]["message"]["content"]
        deadline = time.monotonic() + 5
        while len(fake.recorded("create_thread")) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(fake.recorded("create_thread")) == 3  # the pool refilled in the background
        second = post(
            {
                "model": "gpt-4o",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": "again"},
                ],
            }
        )
        assert second["choices"][0]["message"]["content"] == "Echo #2: again"
    finally:
        app.close()
