"""Fidelity class 26: usage in a Chat stream's first chunk (issue 11, item 4).

vLLM with ``stream_options: {"include_usage": true, "continuous_usage_stats": true}`` puts a
``usage`` object in every chunk, the prompt counted from the first one on. That first count is
now the canonical ``MessageStart`` usage, so a Claude client's ``message_start`` says the input
tokens (it said 0) and the final numbers stay those of the last chunk. Checked with the SDKs'
stream helpers."""

from __future__ import annotations

import json
from typing import Any

import pytest

import apibridge
from apibridge.codecs import Context, chat
from apibridge.model import MessageStart
from oracles import final_from_stream
from samples import sse

PROMPT = 17


def _usage(completion: int, cached: int = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": PROMPT,
        "completion_tokens": completion,
        "total_tokens": PROMPT + completion,
    }
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return usage


def _chunk(
    delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    chunk: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "Qwen/Qwen3-8B",
        "choices": choices,
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _continuous(cached: int = 0) -> bytes:
    """vLLM's continuous usage: every chunk counts the prompt and the tokens so far."""
    chunks = [
        _chunk({"role": "assistant", "content": ""}, usage=_usage(0, cached)),
        _chunk({"content": "Hel"}, usage=_usage(1, cached)),
        _chunk({"content": "lo"}, usage=_usage(2, cached)),
        _chunk({}, "stop", usage=_usage(2, cached)),
        _chunk(None, usage=_usage(2, cached)),  # the include_usage chunk
    ]
    return b"".join(sse(None, c) for c in chunks) + b"data: [DONE]\n\n"


def _at_the_end_only() -> bytes:
    """OpenAI's ``include_usage``: one usage chunk after the finish."""
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Hello"}),
        _chunk({}, "stop"),
        _chunk(None, usage=_usage(2)),
    ]
    return b"".join(sse(None, c) for c in chunks) + b"data: [DONE]\n\n"


def _message_start(data: bytes) -> dict[str, Any]:
    first = data.decode().split("\n\n", 1)[0]
    assert first.startswith("event: message_start")
    start: dict[str, Any] = json.loads(first.split("data: ", 1)[1])
    return start


@pytest.mark.parametrize("cached", [0, 5])
def test_fidelity_26_message_start_carries_the_first_chunks_input_tokens(cached: int) -> None:
    """The first chunk's prompt count reaches ``message_start`` (Anthropic's input excludes
    cache reads, as ever), and the final usage is the last chunk's."""
    out = b"".join(
        apibridge.convert_stream([_continuous(cached)], source="chat", target="anthropic")
    )
    usage = _message_start(out)["message"]["usage"]
    assert usage["input_tokens"] == PROMPT - cached
    assert usage.get("cache_read_input_tokens", 0) == cached
    final = final_from_stream("anthropic", out)
    assert final.usage.input_tokens == PROMPT - cached
    assert final.usage.output_tokens == 2


def test_fidelity_26_usage_only_at_the_end_still_starts_at_zero() -> None:
    """Without a count in the first chunk nothing is known at the start: 0 (the SDK needs a
    number), the real numbers in ``message_delta``."""
    out = b"".join(
        apibridge.convert_stream([_at_the_end_only()], source="chat", target="anthropic")
    )
    assert _message_start(out)["message"]["usage"]["input_tokens"] == 0
    final = final_from_stream("anthropic", out)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (PROMPT, 2)


@pytest.mark.parametrize("target", ["chat", "responses"])
def test_fidelity_26_continuous_usage_totals_stay_right_for_openai_clients(target: str) -> None:
    out = b"".join(apibridge.convert_stream([_continuous()], source="chat", target=target))
    final = final_from_stream(target, out)
    if target == "chat":
        assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (PROMPT, 2)
    else:
        assert (final.usage.input_tokens, final.usage.output_tokens) == (PROMPT, 2)


def test_fidelity_26_the_decoder_starts_with_the_first_count() -> None:
    from apibridge._sse import SSEDecoder

    frames = SSEDecoder()
    decoder = chat.StreamDecoder(Context())
    events = [e for f in [*frames.feed(_continuous()), *frames.close()] for e in decoder.feed(f)]
    start = events[0]
    assert isinstance(start, MessageStart)
    assert start.usage is not None
    assert (start.usage.input_tokens, start.usage.output_tokens) == (PROMPT, 0)
