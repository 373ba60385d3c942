"""A cut upstream stream never announces an item as finished (docs/fidelity.md, row 23).

Recorded upstream streams of every upstream format are cut inside text, inside tool-call
arguments and inside reasoning (they end there, without their terminal event) and go through
:func:`apibridge.convert_stream` and :func:`apibridge.aconvert_stream` to every client format;
:func:`cut_streams.check_cut_stream` checks what each client sees, with the SDKs' stream
helpers as oracles. backboard streams a tool call whole (``tool_call_ready``,
``tool_submit_required``: no argument deltas), so a backboard stream cannot end inside one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import apibridge
from apibridge._sse import SSEDecoder
from cut_streams import check_cut_stream, cut_point, keep_frames

FIXTURES = Path(__file__).parent / "fixtures"

#: (upstream format, where the cut is) → a recorded stream of that format with such a part.
SOURCES = {
    ("anthropic", "text"): "anthropic/stream_tool_use_thinking.json",
    ("anthropic", "arguments"): "anthropic/stream_tool_use_thinking.json",
    ("anthropic", "reasoning"): "anthropic/stream_tool_use_thinking.json",
    ("chat", "text"): "chat/stream_deepseek_reasoning_usage_on_finish.json",
    ("chat", "arguments"): "chat/stream_parallel_tool_calls.json",
    ("chat", "reasoning"): "chat/stream_deepseek_reasoning_usage_on_finish.json",
    ("responses", "text"): "responses/stream_reasoning_summaries.json",
    ("responses", "arguments"): "responses/stream_parallel_tool_calls_interleaved.json",
    ("responses", "reasoning"): "responses/stream_reasoning_summaries.json",
    ("backboard", "text"): "backboard/reasoning.sse",
    ("backboard", "reasoning"): "backboard/reasoning.sse",
}
CLIENTS = ("anthropic", "chat", "responses")


def _recorded(name: str) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    return json.loads(raw)["sse"].encode() if name.endswith(".json") else raw


def _cut(upstream: str, inside: str) -> tuple[bytes, str]:
    whole = _recorded(SOURCES[upstream, inside])
    count, said = cut_point(whole, upstream, inside)
    return keep_frames(whole, count), said


@pytest.mark.filterwarnings("ignore::apibridge.ConversionWarning")
@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(("upstream", "inside"), list(SOURCES))
def test_fidelity_23_cut_stream_leaves_no_item_completed_in_any_client_format(
    client: str, upstream: str, inside: str
) -> None:
    data, said = _cut(upstream, inside)
    out = b"".join(apibridge.convert_stream([data], source=upstream, target=client))
    check_cut_stream(client, out, inside, said)


@pytest.mark.filterwarnings("ignore::apibridge.ConversionWarning")
@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("upstream", ["anthropic", "chat", "responses"])
def test_cut_stream_byte_by_byte_through_aconvert_stream_leaves_no_item_completed(
    client: str, upstream: str
) -> None:
    data, said = _cut(upstream, "arguments")

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(len(data)):
            yield data[i : i + 1]

    async def run() -> bytes:
        stream = apibridge.aconvert_stream(chunks(), source=upstream, target=client)
        return b"".join([out async for out in stream])

    check_cut_stream(client, asyncio.run(run()), "arguments", said)


@pytest.mark.filterwarnings("ignore::apibridge.ConversionWarning")
@pytest.mark.parametrize("client", CLIENTS)
def test_stream_ending_after_its_stop_reason_but_before_message_stop_still_fails(
    client: str,
) -> None:
    """Everything but ``message_stop``: each block was stopped (and is said done), the answer
    was not (no ``finish_reason``, no ``message_stop``, no ``response.completed``)."""
    whole = _recorded(SOURCES["anthropic", "arguments"])
    count = len([f for f in whole.decode().split("\n\n") if f.strip()]) - 1
    data = keep_frames(whole, count)
    assert b"message_delta" in data
    assert b"message_stop" not in data
    out = b"".join(apibridge.convert_stream([data], source="anthropic", target=client))
    frames = [(f.event, f.data) for f in SSEDecoder().feed(out)]
    if client == "responses":
        events = [json.loads(d) for _, d in frames]
        assert events[-1]["type"] == "response.failed"
        calls = [i for i in events[-1]["response"]["output"] if i["type"] == "function_call"]
        assert [c["status"] for c in calls] == ["completed", "completed"]  # both were stopped
        done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
        assert [json.loads(e["arguments"])["location"] for e in done] == [
            "San Francisco, CA",
            "New York, NY",
        ]
    elif client == "chat":
        chunks = [json.loads(d) for _, d in frames if d != "[DONE]"]
        assert "error" in chunks[-1]
        assert not [c for k in chunks for c in k.get("choices", []) if c["finish_reason"]]
    else:
        names = [name for name, _ in frames]
        assert names[-1] == "error"
        assert "message_delta" not in names
        assert "message_stop" not in names


@pytest.mark.filterwarnings("ignore::apibridge.ConversionWarning")
@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("inside", ["text", "arguments", "reasoning"])
def test_chat_stream_done_without_finish_reason_leaves_no_item_completed(
    client: str, inside: str
) -> None:
    """``data: [DONE]`` is not Chat's terminal event: a stream that says it without any
    ``finish_reason`` ended early all the same."""
    data, said = _cut("chat", inside)
    out = b"".join(
        apibridge.convert_stream([data + b"data: [DONE]\n\n"], source="chat", target=client)
    )
    check_cut_stream(client, out, inside, said)
