"""The backboard transport against the fake server: threads, tools, streams, retries, keys."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from bb_helpers import (
    WEATHER_TOOL,
    Transports,
    assistant_turn,
    calls_of,
    chat,
    complete,
    exchange,
    folded,
    forwarded,
    msg,
    stream,
    stream_error,
    streamed_text,
    text_of,
    upstream,
)
from fake_backboard import FakeBackboard, Plan

from apibridge._exchange import Exchange
from apibridge.config import ConfigError, Retries, UpstreamConfig
from apibridge.errors import UpstreamError
from apibridge.model import Event, MessageStart, PartDelta, PartStart, Ping, ThinkingPart, Usage
from apibridge.store import MemoryStore
from apibridge.transports.backboard import BackboardTransport
from apibridge.transports.backboard._settings import settings_from_config

pytestmark = pytest.mark.anyio


# -------------------------------------------------------------------------- answers


@pytest.mark.parametrize("shape", ["legacy", "messages"])
@pytest.mark.parametrize("upper", [True, False])
async def test_complete_both_shapes_and_status_cases(
    fake: FakeBackboard, transports: Transports, shape: str, upper: bool
) -> None:
    fake.quirks.shape, fake.quirks.upper_status = shape, upper
    response = await complete(transports(), chat(msg("user", "hello")))
    assert text_of(response) == "Echo #1: hello"
    assert response.stop_reason == "end_turn"
    assert response.usage == Usage(
        input_tokens=51, output_tokens=4, cache_read_tokens=40, cache_write_tokens=10
    )


@pytest.mark.parametrize("cumulative", [True, False])
@pytest.mark.parametrize("accumulated", [True, False])
async def test_stream_text_with_the_cumulative_quirk(
    fake: FakeBackboard, transports: Transports, cumulative: bool, accumulated: bool
) -> None:
    fake.quirks.cumulative, fake.quirks.accumulated = cumulative, accumulated
    events = await stream(transports(), chat(msg("user", "a fairly long message")))
    assert streamed_text(events) == "Echo #1: a fairly long message"
    response = folded(events)
    assert response.usage is not None
    assert response.usage.total_input == 105


async def test_final_content_only_stream(fake: FakeBackboard, transports: Transports) -> None:
    fake.quirks.final_content_only = True
    events = await stream(transports(), chat(msg("user", "x")))
    assert text_of(folded(events)) == "Echo #1: x"


async def test_stream_and_complete_agree(fake: FakeBackboard, transports: Transports) -> None:
    transport = transports()
    body = chat(
        msg("system", "Be brief."),
        msg("user", "What is the weather in Oslo?"),
        tools=[WEATHER_TOOL],
    )
    whole = await complete(transport, body)
    streamed = folded(await stream(transport, body))
    assert [type(p) for p in streamed.content] == [type(p) for p in whole.content]
    assert text_of(streamed) == text_of(whole)
    assert [(c.name, c.arguments) for c in calls_of(streamed)] == [
        (c.name, c.arguments) for c in calls_of(whole)
    ]
    assert streamed.stop_reason == whole.stop_reason == "tool_use"
    assert streamed.usage == whole.usage


async def test_thinking_is_requested_and_streamed(
    fake: FakeBackboard, transports: Transports
) -> None:
    body = chat(msg("user", "ponder this"), reasoning_effort="high")
    events = await stream(transports(), body)
    response = folded(events)
    assert response.content[0] == ThinkingPart(text="Thinking about: ponder this")
    assert fake.recorded("message")[-1]["fields"]["thinking"] == {"effort": "high"}


async def test_image_goes_as_a_multipart_file(fake: FakeBackboard, transports: Transports) -> None:
    png = b"\x89PNG\r\n\x1a\n fake image"
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    body = chat(
        msg(
            "user",
            [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        )
    )
    response = await complete(transports(), body)
    assert text_of(response) == "Echo #1: What is this? | files: image-1.png (image/png)"
    sent = fake.recorded("message")[-1]
    assert sent["content_type"].startswith("multipart/form-data")
    assert sent["files"][0]["data"] == png
    assert sent["fields"]["memory"] == "off"


async def test_json_output(fake: FakeBackboard, transports: Transports) -> None:
    body = chat(msg("user", "give json"), response_format={"type": "json_object"})
    response = await complete(transports(), body)
    assert text_of(response) == '{"echo": "give json", "turn": 1}'


# -------------------------------------------------------------------------- conversations


@pytest.mark.parametrize("streamed", [False, True])
async def test_turn_two_lands_in_turn_ones_thread(
    fake: FakeBackboard, transports: Transports, streamed: bool
) -> None:
    transport = transports()
    history = [msg("system", "Be brief."), msg("user", "first")]
    first = await complete(transport, chat(*history))
    history += [assistant_turn(first), msg("user", "second")]
    if streamed:
        second_text = streamed_text(await stream(transport, chat(*history)))
    else:
        second_text = text_of(await complete(transport, chat(*history)))
    assert second_text == "Echo #2: second"
    sent = fake.recorded("message")
    assert sent[0]["fields"]["thread_id"] == sent[1]["fields"]["thread_id"]
    assert sent[1]["fields"]["content"] == "second"  # only the new turn
    assert sent[1]["fields"]["system_prompt"] == "Be brief."  # per turn: sent again
    assert len(fake.threads) == 1


async def test_explicit_conversation_id(fake: FakeBackboard, transports: Transports) -> None:
    transport = transports()
    headers = {"x-backboard-conversation-id": "conv-42"}
    await complete(transport, chat(msg("user", "one")), headers=headers)
    # A client that names its conversation may send just the newest message.
    response = await complete(transport, chat(msg("user", "two")), headers=headers)
    assert text_of(response) == "Echo #2: two"
    other = await complete(
        transport, chat(msg("user", "two")), headers={"x-conversation-id": "conv-43"}
    )
    assert text_of(other) == "Echo #1: two"
    meta = await complete(
        transport, chat(msg("user", "three"), metadata={"conversation_id": "conv-42"})
    )
    assert text_of(meta) == "Echo #3: three"


async def test_a_miss_replays_the_history_into_a_new_thread(
    fake: FakeBackboard, transports: Transports
) -> None:
    history = [
        msg("user", "first"),
        msg("assistant", "an answer from elsewhere"),
        msg("user", "second"),
    ]
    response = await complete(transports(), chat(*history))
    assert text_of(response).startswith("Echo #1: [Conversation History]\nUser: first\n")
    content = fake.recorded("message")[0]["fields"]["content"]
    assert "Assistant: an answer from elsewhere" in content
    assert content.endswith("[Current Message]\nsecond")


async def test_a_branched_conversation_gets_its_own_thread(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    first = await complete(transport, chat(msg("user", "start")))
    base = [msg("user", "start"), assistant_turn(first)]
    await complete(transport, chat(*base, msg("user", "branch A")))
    # The client regenerates from the same point: the thread already holds branch A.
    response = await complete(transport, chat(*base, msg("user", "branch B")))
    assert "branch A" not in text_of(response)
    assert text_of(response).startswith("Echo #1: [Conversation History]")
    assert len(fake.threads) == 2


async def test_concurrent_identical_requests_never_share_a_thread(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    first = await complete(transport, chat(msg("user", "hi")))
    body = chat(msg("user", "hi"), assistant_turn(first), msg("user", "again"))
    fake.quirks.chunk_delay = 0.05
    results = await asyncio.gather(complete(transport, body), complete(transport, body))
    threads = {r["fields"]["thread_id"] for r in fake.recorded("message")[1:]}
    assert len(threads) == 2
    assert sorted(text_of(r)[:8] for r in results) == ["Echo #1:", "Echo #2:"]


async def test_a_thread_deleted_upstream_is_replaced(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    first = await complete(transport, chat(msg("user", "hi")))
    fake.threads.clear()
    response = await complete(
        transport, chat(msg("user", "hi"), assistant_turn(first), msg("user", "more"))
    )
    assert text_of(response).startswith("Echo #1: [Conversation History]")


# -------------------------------------------------------------------------- tools


@pytest.mark.parametrize("streamed", [False, True])
async def test_parallel_tool_calls_round_trip(
    fake: FakeBackboard, transports: Transports, streamed: bool
) -> None:
    transport = transports()
    history = [msg("user", "What is the weather in Paris and Rome?")]
    body = chat(*history, tools=[WEATHER_TOOL])
    answer = folded(await stream(transport, body)) if streamed else await complete(transport, body)
    calls = calls_of(answer)
    assert [c.arguments for c in calls] == ['{"city": "Paris"}', '{"city": "Rome"}']
    assert answer.stop_reason == "tool_use"
    run = next(iter(fake.runs.values()))
    assert [c.id for c in calls] == [c["id"] for c in run.tool_calls]  # backboard's own ids
    history += [assistant_turn(answer)] + [
        msg("tool", f"{i * 10} C", tool_call_id=c.id) for i, c in enumerate(calls, 1)
    ]
    body = chat(*history, tools=[WEATHER_TOOL])
    final = folded(await stream(transport, body)) if streamed else await complete(transport, body)
    submitted = fake.recorded("tool_outputs")
    assert len(submitted) == 1  # all outputs in one call
    outputs = submitted[0]["body"]["tool_outputs"]
    assert [o["output"] for o in outputs] == ["10 C", "20 C"]
    assert submitted[0]["body"]["tools"][0]["function"]["name"] == "get_weather"
    assert text_of(final).startswith("Results: ")
    # and the conversation goes on in the same thread
    history += [assistant_turn(final), msg("user", "thanks")]
    last = await complete(transport, chat(*history, tools=[WEATHER_TOOL]))
    assert text_of(last) == "Echo #2: thanks"
    assert len(fake.threads) == 1


async def test_unanswered_calls_and_text_next_to_results(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    ex = exchange(chat(msg("user", "weather in Paris and Rome"), tools=[WEATHER_TOOL]))
    answer = await transport.complete(ex)
    first = calls_of(answer)[0]
    body = chat(
        msg("user", "weather in Paris and Rome"),
        assistant_turn(answer),
        msg("tool", "sunny", tool_call_id=first.id),
        msg("user", "Be quick."),
        tools=[WEATHER_TOOL],
    )
    ex = exchange(body)
    final = await transport.complete(ex)
    assert text_of(final).startswith("Results:")
    outputs = fake.recorded("tool_outputs")[0]["body"]["tool_outputs"]
    assert outputs[0]["output"] == "sunny\n\nBe quick."
    assert outputs[1]["output"].startswith("Error: the client sent no result")
    assert {loss.action for loss in ex.losses} >= {
        "appended to the last tool output",
        "sent an error output for the missing one",
    }


@pytest.mark.parametrize("streamed", [False, True])
async def test_fallback_tool_mode(
    fake: FakeBackboard, transports: Transports, streamed: bool
) -> None:
    fence = '```tool_call\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n```'

    def model(thread: Any, fields: dict[str, Any], files: Any) -> Plan:
        if "[Tool result" in fields["content"]:
            return Plan(text="It is mild in Oslo.")
        return Plan(text=f"Checking.\n{fence}\n{{not json}} and done.")

    fake.responder = model
    transport = transports(fallback_tool_models=["featherless/*"])
    history = [msg("user", "Weather in Oslo?")]
    body = chat(*history, model="featherless/tiny-llm", tools=[WEATHER_TOOL])
    answer = folded(await stream(transport, body)) if streamed else await complete(transport, body)
    sent = fake.recorded("message")[0]["fields"]
    assert "tools" not in sent
    assert "## get_weather" in sent["system_prompt"]
    assert [(c.name, c.arguments) for c in calls_of(answer)] == [("get_weather", '{"city":"Oslo"}')]
    assert text_of(answer) == "Checking.\n{not json} and done."
    assert answer.stop_reason == "tool_use"
    call = calls_of(answer)[0]
    history += [assistant_turn(answer), msg("tool", "12 C", tool_call_id=call.id)]
    final = await complete(
        transport, chat(*history, model="featherless/tiny-llm", tools=[WEATHER_TOOL])
    )
    assert text_of(final) == "It is mild in Oslo."
    second = fake.recorded("message")[1]["fields"]
    assert second["thread_id"] == sent["thread_id"]  # same thread: only the new turn
    assert second["content"] == "[Tool result for get_weather (id " + call.id + ")]\n12 C"


# -------------------------------------------------------------------------- failures


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_are_retried(
    fake: FakeBackboard, transports: Transports, status: int
) -> None:
    fake.fail("message", status=status, detail="upstream trouble")
    response = await complete(transports(), chat(msg("user", "x")))
    assert text_of(response) == "Echo #1: x"
    assert len(fake.recorded("message")) == 2


async def test_retries_run_out(fake: FakeBackboard, transports: Transports) -> None:
    fake.fail("message", status=503, detail="Service Unavailable", times=5)
    with pytest.raises(UpstreamError) as info:
        await complete(transports(), chat(msg("user", "x")))
    assert (info.value.error.status, info.value.error.kind) == (503, "unavailable")
    assert len(fake.recorded("message")) == 3  # the first try and two retries


async def test_rate_limit_moves_a_new_conversation_to_the_next_key(
    fake: FakeBackboard, transports: Transports
) -> None:
    fake.fail(
        "message",
        status=429,
        detail="Rate limit exceeded",
        key="bb-key-1",
        headers={"Retry-After": "7"},
    )
    response = await complete(transports(), chat(msg("user", "x")))
    assert text_of(response) == "Echo #1: x"
    assert [r["key"] for r in fake.recorded("message")] == ["bb-key-1", "bb-key-2"]
    fake.fail(
        "message", status=429, detail="Rate limit exceeded", times=2, headers={"Retry-After": "7"}
    )
    with pytest.raises(UpstreamError) as info:
        await complete(transports(), chat(msg("user", "y")))
    assert (info.value.error.kind, info.value.error.retry_after) == ("rate_limit", 7.0)


async def test_in_stream_error_before_content_is_retried_on_a_fresh_thread(
    fake: FakeBackboard, transports: Transports
) -> None:
    fake.fail("message", stream="before", detail="Upstream idle timeout exceeded")
    events = await stream(transports(), chat(msg("user", "x")))
    assert streamed_text(events) == "Echo #1: x"
    sent = fake.recorded("message")
    assert len(sent) == 2
    assert sent[0]["fields"]["thread_id"] != sent[1]["fields"]["thread_id"]


async def test_non_retryable_stream_error_is_raised_before_any_event(
    fake: FakeBackboard, transports: Transports
) -> None:
    fake.fail("message", stream="before", detail="Insufficient credits", event="run_failed")
    with pytest.raises(UpstreamError) as info:
        await stream(transports(), chat(msg("user", "x")))
    assert info.value.error.kind == "billing"


async def test_run_failure_mid_stream_ends_with_stream_error(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    fake.fail("message", stream="after", event="run_failed", detail="provider exploded")
    events = await stream(transport, chat(msg("user", "hello there")))
    assert streamed_text(events) == "Echo #"
    assert stream_error(events).message == "provider exploded"
    # The broken thread is not reused for the next turn.
    history = chat(msg("user", "hello there"), msg("assistant", "Echo #"), msg("user", "again"))
    response = await complete(transport, history)
    assert text_of(response).startswith("Echo #1: [Conversation History]")


async def test_cut_stream_ends_with_stream_error(
    fake: FakeBackboard, transports: Transports
) -> None:
    fake.fail("message", stream="cut")
    events = await stream(transports(), chat(msg("user", "hello there")))
    assert "stream closed unexpectedly" in stream_error(events).message


async def test_failed_non_stream_run_is_retried(
    fake: FakeBackboard, transports: Transports
) -> None:
    fake.fail("message", stream="after", detail="Upstream idle timeout exceeded")
    response = await complete(transports(), chat(msg("user", "x")))
    assert text_of(response) == "Echo #1: x"


async def test_bad_keys(fake: FakeBackboard, transports: Transports) -> None:
    with pytest.raises(UpstreamError) as info:
        await complete(transports(keys=("wrong-1", "wrong-2")), chat(msg("user", "x")))
    assert (info.value.error.kind, info.value.error.status) == ("authentication", 401)


# -------------------------------------------------------------------------- streams


async def test_cancel_when_the_client_goes_away(
    fake: FakeBackboard, transports: Transports
) -> None:
    fake.quirks.chunk_delay = 0.2
    transport = transports()
    events = transport.stream(exchange(chat(msg("user", "a long answer please"), stream=True)))
    async for event in events:
        if isinstance(event, PartDelta):
            break
    await events.aclose()
    assert len(fake.cancelled) == 1
    assert fake.runs[fake.cancelled[0]].status == "CANCELLED"


async def test_keepalive_before_the_first_event(
    fake: FakeBackboard, transports: Transports
) -> None:
    fake.quirks.first_delay = 0.5
    events = await stream(transports(keepalive=0.1), chat(msg("user", "x")))
    assert isinstance(events[0], MessageStart)
    assert isinstance(events[1], Ping)
    assert streamed_text(events) == "Echo #1: x"


async def test_late_run_ended_keeps_usage(fake: FakeBackboard, transports: Transports) -> None:
    fake.quirks.late_run_ended = 0.4
    events = await stream(transports(keepalive=0.1), chat(msg("user", "x")))
    assert any(isinstance(e, Ping) for e in events)
    assert folded(events).usage is not None


async def test_repeated_run_ended_and_a_stream_left_open(
    fake: FakeBackboard, transports: Transports
) -> None:
    fake.quirks.repeat_run_ended, fake.quirks.hold_open = True, 10.0
    started = time.monotonic()
    events = await stream(transports(end_grace=0.2), chat(msg("user", "x")))
    assert time.monotonic() - started < 5
    assert sum(isinstance(e, PartStart) for e in events) == 1
    assert folded(events).stop_reason == "end_turn"


# -------------------------------------------------------------------------- keys, assistants


async def test_new_conversations_rotate_keys_and_threads_stay_pinned(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    answers = [await complete(transport, chat(msg("user", f"conv {i}"))) for i in range(2)]
    first_keys = [r["key"] for r in fake.recorded("message")]
    assert sorted(first_keys) == ["bb-key-1", "bb-key-2"]
    for i, answer in enumerate(answers):
        await complete(
            transport, chat(msg("user", f"conv {i}"), assistant_turn(answer), msg("user", "more"))
        )
    later = fake.recorded("message")[2:]
    assert [r["key"] for r in later] == first_keys  # each thread keeps its key


async def test_failing_key_rests_then_returns(fake: FakeBackboard, transports: Transports) -> None:
    transport = transports(key_failures=2, key_cooldown=0.5)
    fake.fail("message", status=401, detail="Invalid API key", key="bb-key-1", times=2)
    for i in range(4):
        await complete(transport, chat(msg("user", f"c{i}")))
    tried = [r["key"] for r in fake.recorded("message")]
    assert tried.count("bb-key-1") == 2  # failed twice, then it rests
    await complete(transport, chat(msg("user", "c4")))
    await complete(transport, chat(msg("user", "c5")))
    assert [r["key"] for r in fake.recorded("message")][-2:] == ["bb-key-2", "bb-key-2"]
    await asyncio.sleep(0.6)
    keys = []
    for i in range(2):
        await complete(transport, chat(msg("user", f"d{i}")))
        keys.append(fake.recorded("message")[-1]["key"])
    assert "bb-key-1" in keys  # back after the cool-down


async def test_assistant_is_found_not_recreated(
    fake: FakeBackboard, transports: Transports
) -> None:
    for _ in range(3):  # three "restarts": new transports with empty stores
        transport = transports(store=MemoryStore(), keys=("bb-key-1",))
        await complete(transport, chat(msg("user", "x")))
    assert len(fake.recorded("create_assistant")) == 1
    assert len(fake.recorded("list_assistants")) == 3


async def test_thread_pool_warms_lazily(fake: FakeBackboard, transports: Transports) -> None:
    transport = transports(pool_size=2, keys=("bb-key-1",))
    assert fake.recorded("create_thread") == []  # nothing at start-up
    await complete(transport, chat(msg("user", "one")))
    for _ in range(50):
        if len(fake.recorded("create_thread")) >= 3:
            break
        await asyncio.sleep(0.02)
    assert len(fake.recorded("create_thread")) == 3  # one for the request, two pooled
    await complete(transport, chat(msg("user", "two")))
    pooled = {r["thread_id"] for r in fake.recorded("create_thread")[1:]}
    assert fake.recorded("message")[-1]["fields"]["thread_id"] in pooled


async def test_model_list_follows_pagination_and_is_cached(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    models = await transport.list_models()
    ids = [m["id"] for m in models]
    assert "openai/gpt-4o-mini" in ids
    assert "anthropic/claude-haiku-4" in ids
    assert len(ids) == 7
    assert all("/" in i for i in ids)
    calls = len(fake.recorded("models"))
    assert await transport.list_models() == models
    assert len(fake.recorded("models")) == calls


# -------------------------------------------------------------------------- settings


def test_settings_accept_the_earlier_proxys_strings(fake_url: str) -> None:
    settings = settings_from_config(
        upstream(
            fake_url,
            thread_ttl="3600",
            memory="auto",
            fallback_tool_models="a/*, b",
            web_search="true",
            pool_size="0",
            model_map={"fast": "openai/gpt-4o-mini"},
            llm_provider="anthropic",
        )
    )
    assert settings.thread_ttl == 3600
    assert settings.memory == "Auto"
    assert settings.fallback_tool_models == ("a/*", "b")
    assert settings.web_search == "Auto"
    assert settings.route_model("fast") == "openai/gpt-4o-mini"
    assert settings.route_model("claude-x") == "anthropic/claude-x"
    assert settings.uses_fallback_tools("a/tiny")
    assert not settings.uses_fallback_tools("c")
    assert "bb-key-1" not in repr(settings)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"thread_ttl": "soon"}, "thread_ttl"),
        ({"memory": "always"}, "memory"),
        ({"model_map": {"x": "no-slash"}}, "model_map.x"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_settings_name_the_option(fake_url: str, options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        settings_from_config(upstream(fake_url, **options))
    with pytest.raises(ConfigError, match="api_keys"):
        settings_from_config(upstream(fake_url, keys=()))


async def test_from_config_is_what_the_gateway_calls(fake_url: str) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        transport = BackboardTransport.from_config(
            upstream(fake_url), client=client, store=MemoryStore()
        )
        assert transport.settings.base_url == fake_url
        await transport.aclose()


async def test_fake_keeps_each_accounts_threads_private(
    fake: FakeBackboard, transports: Transports, fake_url: str
) -> None:
    import httpx

    await complete(transports(keys=("bb-key-1",)), chat(msg("user", "mine")))
    [thread_id] = fake.threads
    async with httpx.AsyncClient(base_url=fake_url) as http:
        own = await http.get(f"/threads/{thread_id}", headers={"X-API-Key": "bb-key-1"})
        other = await http.get(f"/threads/{thread_id}", headers={"X-API-Key": "bb-key-2"})
        anonymous = await http.get(f"/threads/{thread_id}")
    assert own.status_code == 200
    assert own.json()["messages"][0]["content"] == "mine"
    assert (other.status_code, other.json()) == (404, {"detail": "Thread not found"})
    assert anonymous.status_code == 401


async def test_a_thread_whose_key_was_removed_is_not_used(
    fake: FakeBackboard, transports: Transports
) -> None:
    store = MemoryStore()
    first = await complete(transports(keys=("bb-key-1",), store=store), chat(msg("user", "a")))
    # the operator replaced the key: the old account's thread is out of reach
    later = transports(keys=("bb-key-2",), store=store)
    response = await complete(
        later, chat(msg("user", "a"), assistant_turn(first), msg("user", "b"))
    )
    assert text_of(response).startswith("Echo #1: [Conversation History]")
    assert fake.recorded("message")[-1]["key"] == "bb-key-2"


@pytest.mark.parametrize("streamed", [False, True])
async def test_an_expired_run_replays_the_tool_round(
    fake: FakeBackboard, transports: Transports, streamed: bool
) -> None:
    transport = transports()
    ask = msg("user", "weather in Paris")
    answer = await complete(transport, chat(ask, tools=[WEATHER_TOOL]))
    fake.runs.clear()  # the run is gone upstream (expired)
    call = calls_of(answer)[0]
    body = chat(
        ask,
        assistant_turn(answer),
        msg("tool", "sunny", tool_call_id=call.id),
        tools=[WEATHER_TOOL],
    )
    final = folded(await stream(transport, body)) if streamed else await complete(transport, body)
    replayed = fake.recorded("message")[-1]["fields"]["content"]
    assert f"[Tool result for get_weather (id {call.id})]\nsunny" in replayed
    assert text_of(final).startswith("Echo #1: [Conversation History]")


async def test_comments_after_run_ended_do_not_hold_the_stream(
    fake: FakeBackboard, transports: Transports
) -> None:
    # The server keeps the stream open after run_ended, sending only SSE comments.
    fake.quirks.hold_open, fake.quirks.comment_every = 10.0, 0.05
    started = time.monotonic()
    events = await stream(transports(end_grace=0.3), chat(msg("user", "x")))
    assert time.monotonic() - started < 5
    assert streamed_text(events) == "Echo #1: x"
    assert folded(events).stop_reason == "end_turn"


async def test_a_busy_named_conversation_is_not_shared(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    headers = {"x-backboard-conversation-id": "busy-1"}
    await complete(transport, chat(msg("user", "one")), headers=headers)
    fake.quirks.chunk_delay = 0.05
    await asyncio.gather(
        complete(transport, chat(msg("user", "two")), headers=headers),
        complete(transport, chat(msg("user", "three")), headers=headers),
    )
    threads = [r["fields"]["thread_id"] for r in fake.recorded("message")]
    assert threads[1] != threads[2]  # never two runs at once on one thread
    assert threads[0] in threads[1:]


def _frame(data: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


class _BrokenStream(httpx.AsyncByteStream):
    """A backboard run that started (its id is known), then the connection broke before
    any text."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield _frame({"type": "run_started", "thread_id": "T1", "run_id": "R1"})
        raise httpx.ReadError("connection reset by peer")


def test_backboard_broken_attempt_run_cancelled_before_the_retry() -> None:
    """A backboard stream that breaks before its first content is retried on a fresh thread;
    the run of the broken attempt, which may still be generating upstream, is cancelled
    first instead of being left to run in the abandoned thread."""
    seen: list[str] = []
    threads = iter(("T1", "T2"))

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api")
        seen.append(f"{request.method} {path}")
        if path == "/assistants" and request.method == "GET":
            return httpx.Response(200, json=[{"name": "apibridge", "assistant_id": "A1"}])
        if path == "/assistants/A1/threads":
            return httpx.Response(200, json={"thread_id": next(threads)})
        if path == "/threads/messages":
            if orjson.loads(request.content)["thread_id"] == "T1":
                return httpx.Response(200, stream=_BrokenStream())
            ids = {"thread_id": "T2", "run_id": "R2"}
            body = _frame({"type": "content_streaming", "content": "hello", **ids})
            body += _frame(
                {"type": "run_ended", "status": "completed", "final_content": "hello", **ids}
            )
            return httpx.Response(200, content=body)
        if path.endswith("/cancel"):
            return httpx.Response(200, json={"cancelled": True})
        return httpx.Response(404, json={"detail": "not found"})

    config = UpstreamConfig(
        name="bb",
        format="backboard",
        base_url="http://backboard.test/api",
        api_keys=("bb-key-1",),
        retries=Retries(attempts=2),
        options={"backoff": 0.01, "backoff_max": 0.02, "pool_size": 0},
    )
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}

    async def scenario() -> list[Event]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            transport = BackboardTransport.from_config(config, client=client, store=MemoryStore())
            exchange = Exchange.from_client(body, client="chat", upstream="backboard")
            events = [e async for e in transport.stream(exchange)]
            await transport.aclose()
            return events

    events = asyncio.run(scenario())
    text = "".join(e.value for e in events if isinstance(e, PartDelta) and e.field == "text")
    assert text == "hello"
    cancel = "POST /threads/T1/runs/R1/cancel"
    assert cancel in seen
    sends = [i for i, line in enumerate(seen) if line == "POST /threads/messages"]
    assert len(sends) == 2
    assert sends[0] < seen.index(cancel) < sends[1]


async def test_an_sse_event_over_the_size_limit_ends_the_stream_with_bad_gateway() -> None:
    from apibridge.model import StreamError
    from apibridge.transports.backboard._stream_reader import read_events

    async def body() -> AsyncIterator[bytes]:
        yield b"data: "  # a line that never ends, past the decoder's 8 MiB
        for _ in range(9):
            yield b"x" * (1 << 20)

    response = httpx.Response(200, content=body())
    decoder = exchange(chat(msg("user", "hi"), stream=True)).stream_decoder()
    settings = settings_from_config(upstream("http://127.0.0.1:9"))
    events = [event async for event in read_events(response, decoder, settings)]
    assert len(events) == 1
    assert isinstance(events[0], StreamError)
    assert events[0].error.kind == "bad_gateway"
    assert "larger than 8388608 bytes" in events[0].error.message
    assert response.is_closed


WEATHER_NAMESPACE = {
    "type": "namespace",
    "name": "weather",
    "description": "Weather service.",
    "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
}


@pytest.mark.parametrize("streamed", [False, True])
async def test_namespace_tools_reach_backboard_flattened_and_calls_come_back_namespaced(
    fake: FakeBackboard, transports: Transports, streamed: bool
) -> None:
    def model(thread: Any, fields: dict[str, Any], files: Any) -> Plan:
        names = [t["function"]["name"] for t in fields.get("tools") or []]
        assert names == ["weather__get_weather"]
        return Plan(tool_calls=(("weather__get_weather", {"city": "Oslo"}),))

    fake.responder = model
    body = {"model": "gpt-4o", "input": "Weather in Oslo?", "tools": [WEATHER_NAMESPACE]}
    transport = transports()
    if streamed:
        answer = folded(await stream(transport, body, client="responses"))
    else:
        answer = await complete(transport, body, client="responses")
    assert [(c.namespace, c.name) for c in calls_of(answer)] == [("weather", "get_weather")]


async def test_namespace_tools_in_fallback_tool_mode_are_a_reported_loss(
    fake: FakeBackboard, transports: Transports
) -> None:
    fake.responder = lambda thread, fields, files: Plan(text="No tools needed.")
    transport = transports(fallback_tool_models=["featherless/*"])
    body = {"model": "featherless/tiny-llm", "input": "hi", "tools": [WEATHER_NAMESPACE]}
    ex = exchange(body, client="responses")
    await transport.complete(ex, forwarded(None))
    assert "tools[].namespace" in [loss.field for loss in ex.losses]
