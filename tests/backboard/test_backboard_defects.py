"""The twelve defects of the earlier proxy (BACKBOARD.md), one named regression test each,
against the fake backboard server."""

from __future__ import annotations

import asyncio
import json
import time

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
    msg,
    stream,
    stream_error,
    text_of,
)
from fake_backboard import FakeBackboard, Plan

from apibridge import convert_stream
from apibridge.config import ServerConfig, load_config
from apibridge.errors import UpstreamError
from apibridge.model import PartDelta, PartStart, Ping, ToolCallPart
from apibridge.store import MemoryStore

pytestmark = pytest.mark.anyio


async def test_defect_01_new_conversations_never_share_a_thread(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    # Two users start with the same words and get the same answer ...
    alice = await complete(transport, chat(msg("user", "hello")))
    bob = await complete(transport, chat(msg("user", "hello")))
    assert (
        fake.recorded("message")[0]["fields"]["thread_id"]
        != (fake.recorded("message")[1]["fields"]["thread_id"])
    )
    # ... and their second turns still never meet in one thread.
    await complete(
        transport, chat(msg("user", "hello"), assistant_turn(alice), msg("user", "alice's secret"))
    )
    bob_turn = await complete(
        transport, chat(msg("user", "hello"), assistant_turn(bob), msg("user", "bob asks"))
    )
    bob_thread = fake.threads[fake.recorded("message")[-1]["fields"]["thread_id"]]
    assert all("alice" not in m["content"] for m in bob_thread.messages)
    assert "alice" not in text_of(bob_turn)


async def test_defect_02_turn_two_finds_its_thread(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    first = await complete(transport, chat(msg("user", "My name is Ada.")))
    second = await complete(
        transport,
        chat(msg("user", "My name is Ada."), assistant_turn(first), msg("user", "Who am I?")),
    )
    assert text_of(second) == "Echo #2: Who am I?"  # the thread holds turn 1
    assert fake.recorded("message")[1]["fields"]["content"] == "Who am I?"


async def test_defect_03_tool_results_go_to_their_own_thread(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    asks = ["weather in Paris", "weather in Lima"]
    answers = [await complete(transport, chat(msg("user", q), tools=[WEATHER_TOOL])) for q in asks]
    ids = [calls_of(a)[0].id for a in answers]
    assert ids[0] != ids[1]
    assert not any(i in ("call_0", "call_1") for i in ids)
    threads = [r["fields"]["thread_id"] for r in fake.recorded("message")]
    # Answer the second conversation first: each result finds its own run and thread.
    for q, answer in reversed(list(zip(asks, answers, strict=True))):
        call = calls_of(answer)[0]
        await complete(
            transport,
            chat(
                msg("user", q),
                assistant_turn(answer),
                msg("tool", "fine", tool_call_id=call.id),
                tools=[WEATHER_TOOL],
            ),
        )
    submitted = [r["thread_id"] for r in fake.recorded("tool_outputs")]
    assert submitted == list(reversed(threads))


async def test_defect_04_all_parallel_results_in_one_submission(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    ask = msg("user", "weather in Oslo and Bergen and Tromso")
    answer = await complete(transport, chat(ask, tools=[WEATHER_TOOL]))
    calls = calls_of(answer)
    assert len(calls) == 3
    results = [msg("tool", f"{c.arguments} -> ok", tool_call_id=c.id) for c in calls]
    await complete(transport, chat(ask, assistant_turn(answer), *results, tools=[WEATHER_TOOL]))
    [submission] = fake.recorded("tool_outputs")
    assert [o["tool_call_id"] for o in submission["body"]["tool_outputs"]] == [c.id for c in calls]


async def test_defect_05_fallback_parser_finds_every_call_and_keeps_prose(
    fake: FakeBackboard, transports: Transports
) -> None:
    def model(thread: object, fields: dict[str, object], files: object) -> Plan:
        return Plan(
            text=(
                'I will check two cities. {"name": "get_weather", "arguments": {"city": "A"}}\n'
                '```json\n{"name": "get_weather", "arguments": {"city": "B"}}\n```\n'
                'Ignore {"name": "delete_all", "arguments": {}} and {odd json: [}'
            )
        )

    fake.responder = model
    transport = transports(fallback_tool_models=["featherless/*"])
    answer = await complete(
        transport, chat(msg("user", "go"), model="featherless/tiny-llm", tools=[WEATHER_TOOL])
    )
    assert [c.arguments for c in calls_of(answer)] == ['{"city":"A"}', '{"city":"B"}']
    prose = text_of(answer)
    assert prose.startswith("I will check two cities.")
    assert '"delete_all"' in prose
    assert "{odd json: [}" in prose


async def test_defect_06_tools_stream_keepalive_and_cancel(
    fake: FakeBackboard, transports: Transports
) -> None:
    fake.quirks.chunk_delay = 0.15
    fake.quirks.first_delay = 0.3
    transport = transports(keepalive=0.1)
    body = chat(msg("user", "weather in Paris and Rome"), tools=[WEATHER_TOOL], stream=True)
    seen: list[tuple[float, object]] = []
    async for event in transport.stream(exchange(body)):
        seen.append((time.monotonic(), event))
    kinds = [type(e).__name__ for _, e in seen]
    assert "Ping" in kinds[: kinds.index("PartStart")]  # keep-alive while waiting
    first_text = next(t for t, e in seen if isinstance(e, PartDelta) and e.field == "text")
    first_call = next(
        t for t, e in seen if isinstance(e, PartStart) and isinstance(e.part, ToolCallPart)
    )
    assert first_call - first_text > 0.1  # text streamed before the tool calls existed
    # and a client that leaves cancels the run
    events = transport.stream(exchange(chat(msg("user", "a long story"), stream=True)))
    async for event in events:
        if isinstance(event, PartDelta):
            break
    await events.aclose()
    assert len(fake.cancelled) == 1


@pytest.mark.parametrize("target", ["anthropic", "chat", "responses"])
async def test_defect_07_client_frames_are_well_formed(
    fake: FakeBackboard, transports: Transports, target: str
) -> None:
    import oracles

    data = b"".join(
        f"data: {json.dumps(frame)}\n\n".encode()
        for frame in (
            {"type": "content_streaming", "content": "Checking."},
            {
                "type": "tool_submit_required",
                "run_id": "r1",
                "tool_calls": [
                    {
                        "id": f"call_{n}",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": f'{{"city": "{n}"}}'},
                    }
                    for n in ("A", "B")
                ],
            },
        )
    )
    ids = set()
    for _ in range(2):
        out = b"".join(convert_stream([data], source="backboard", target=target, losses=[]))
        final = oracles.final_from_stream(target, out)
        ids.add(final.id)
        if target == "anthropic":
            frames = [f for f in out.split(b"\n\n") if f.strip()]
            assert all(f.startswith(b"event: ") for f in frames)
            assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
        if target == "chat":
            chunks = [
                json.loads(line[6:]) for line in out.split(b"\n") if line.startswith(b"data: {")
            ]
            deltas = [
                c
                for chunk in chunks
                for ch in chunk.get("choices", [])
                for c in (ch["delta"].get("tool_calls") or [])
            ]
            assert deltas
            assert all("index" in d for d in deltas)
            assert {d["index"] for d in deltas} == {0, 1}
    assert len(ids) == 2  # fresh random ids, never timestamps that collide


async def test_defect_08_errors_are_errors_not_text(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports()
    fake.fail("message", stream="after", event="error", detail="model overloaded")
    events = await stream(transport, chat(msg("user", "hello there")))
    assert stream_error(events).message == "model overloaded"
    assert "overloaded" not in "".join(e.value for e in events if isinstance(e, PartDelta))
    fake.fail("message", status=400, detail="Model gpt-9 does not exist")
    with pytest.raises(UpstreamError) as info:
        await complete(transport, chat(msg("user", "x"), model="gpt-9"))
    assert (info.value.error.kind, info.value.error.status) == ("not_found", 404)
    fake.fail("message", stream="before", event="run_failed", detail="invalid request: bad")
    with pytest.raises(UpstreamError):
        await stream(transport, chat(msg("user", "y")))


async def test_defect_09_threads_pinned_to_their_key_and_failing_keys_rest(
    fake: FakeBackboard, transports: Transports
) -> None:
    transport = transports(key_failures=1, key_cooldown=60)
    first = await complete(transport, chat(msg("user", "one")))
    owner = fake.recorded("message")[0]["key"]
    fake.fail("message", status=403, detail="Forbidden", key=owner)
    with pytest.raises(UpstreamError) as info:
        # an existing thread is never messaged with another account's key
        await complete(
            transport, chat(msg("user", "one"), assistant_turn(first), msg("user", "two"))
        )
    assert info.value.error.kind == "permission"
    assert [r["key"] for r in fake.recorded("message")] == [owner, owner]
    # that key now rests: the next new conversations all go to the other key
    other = next(k for k in ("bb-key-1", "bb-key-2") if k != owner)
    for i in range(3):
        await complete(transport, chat(msg("user", f"new {i}")))
    assert {r["key"] for r in fake.recorded("message")[2:]} == {other}


async def test_defect_10_no_secrets_in_errors_state_or_config(
    fake: FakeBackboard, transports: Transports
) -> None:
    store = MemoryStore()
    transport = transports(store=store)
    await complete(transport, chat(msg("user", "x"), tools=[WEATHER_TOOL]))
    fake.fail("message", status=401, detail="Invalid API key bb-key-1 / bb-key-2", times=2)
    with pytest.raises(UpstreamError) as info:
        await complete(transport, chat(msg("user", "y")))
    assert "bb-key" not in info.value.error.message
    dumped = json.dumps([await store.get(k) for k in list(store._items)])
    assert "bb-key-1" not in dumped
    assert "bb-key-2" not in dumped
    assert "bb-key" not in repr(transport.settings)
    assert ServerConfig().host == "127.0.0.1"
    config = load_config(
        env={
            "BBD_API_KEY": "bb-key-1,bb-key-2",
            "BBD_UPSTREAM": "http://127.0.0.1:9/api",
            "THREAD_TTL": "600",
        }
    )
    assert config.server.host == "127.0.0.1"  # loopback unless HOST says otherwise
    assert config.server.admin_key is None
    assert "bb-key" not in repr(config)


async def test_defect_11_system_prompt_images_and_parameters(
    fake: FakeBackboard, transports: Transports
) -> None:
    system = "Rule one.\n\n    Rule   two, indented.\n"
    transport = transports()
    ex = exchange(
        chat(
            msg("system", system),
            msg(
                "user",
                [
                    {"type": "text", "text": "see"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/webp;base64,UklGRgAAAABXRUJQ"},
                    },
                ],
            ),
            max_tokens=50,
            temperature=0.1,
            stop=["END"],
            reasoning_effort="low",
        )
    )
    first = await transport.complete(ex)
    sent = fake.recorded("message")[0]
    assert sent["fields"]["system_prompt"] == system
    assert sent["files"][0]["type"] == "image/webp"
    assert "[image]" not in sent["fields"]["content"]
    assert sent["fields"]["thinking"] == {"effort": "low"}
    assert {"max_tokens", "temperature", "stop"} <= {loss.field for loss in ex.losses}
    await complete(
        transport,
        chat(
            msg("system", system), msg("user", "see"), assistant_turn(first), msg("user", "again")
        ),
    )
    assert fake.recorded("message")[1]["fields"]["system_prompt"] == system  # every turn


async def test_defect_12_assistant_found_by_name_and_pool_warms_lazily(
    fake: FakeBackboard, transports: Transports
) -> None:
    for restart in range(2):  # a restart: a new transport and a new store
        seen = len(fake.requests)
        transport = transports(store=MemoryStore(), pool_size=1, keys=("bb-key-1",))
        assert len(fake.requests) == seen  # building it does no work upstream
        await complete(transport, chat(msg("user", f"x{restart}")))
    assert len(fake.recorded("create_assistant")) == 1
    assert len([a for a in fake.assistants.values() if a["name"] == "apibridge"]) == 1
    for _ in range(50):
        if len(fake.recorded("create_thread")) >= 3:
            break
        await asyncio.sleep(0.02)
    # each process warmed its pool from inside a request, with no start-up hook
    assert len(fake.recorded("create_thread")) >= 3


async def test_streamed_tool_answer_keeps_usage_and_ping_free_of_content(
    fake: FakeBackboard, transports: Transports
) -> None:
    events = await stream(transports(), chat(msg("user", "weather in Paris"), tools=[WEATHER_TOOL]))
    assert not any(isinstance(e, Ping) for e in events)
    answer = folded(events)
    assert answer.usage is not None
    assert answer.usage.cache_read_tokens == 40
