"""Cut upstream streams, and what a client of each format may see of them.

An upstream stream *cut* is one that ends before its terminal event (no ``finish_reason``, no
``message_stop``, no ``response.completed``, no backboard ``run_ended``), cleanly or not. The
part being written when it ended was never finished, so no client may be told it was:

* **responses**: the stream ends with ``response.failed``; the items still open get no
  ``.done`` event of any kind (no ``output_item.done``, no ``function_call_arguments.done``
  with arguments cut mid-JSON) and are ``incomplete`` in the failed response's ``output``,
  holding what was said of them. The openai SDK's ``responses.stream`` helper runs to the end
  without an error and shows no finished item for them.
* **chat**: the error chunk then ``[DONE]``; no chunk has a ``finish_reason``. The openai SDK's
  ``chat.completions.stream`` helper raises ``APIError`` at the error chunk without having
  said the cut part done (``content.done``, or ``tool_calls.function.arguments.done`` after
  the call's last fragment).
* **anthropic**: ``event: error`` last; the block being written gets no
  ``content_block_stop``, and there is no ``message_delta`` / ``message_stop``. The anthropic
  SDK's ``messages.stream`` helper raises ``APIStatusError`` without a stop event for it.

:func:`cut_point` finds where to cut a whole upstream stream (reading it with apibridge's own
decoder, as tooling: it only picks the place); :func:`check_cut_stream` checks a client's bytes.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai

from apibridge._sse import SSEDecoder
from apibridge.codecs import Context, get_codec
from apibridge.model import PartDelta, PartStop
from oracles import events_from_stream

__all__ = ["INSIDE", "check_cut_stream", "cut_point"]

#: where a stream is cut → the canonical delta fields that grow that part.
INSIDE: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "arguments": ("arguments",),
    "reasoning": ("thinking", "summary"),
}

#: where a stream is cut → the Responses item, Anthropic block and Chat delta field it is in.
_ITEM = {"text": "message", "arguments": "function_call", "reasoning": "reasoning"}
_BLOCK = {"text": "text", "arguments": "tool_use", "reasoning": "thinking"}


def _whole_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def cut_point(data: bytes, upstream: str, inside: str) -> tuple[int, str]:
    """How many frames of the ``upstream`` stream ``data`` to keep so that it ends inside a
    part of kind ``inside`` that has said something (for arguments: not yet whole JSON), and
    what that part said by then."""
    fields = INSIDE[inside]
    decoder = get_codec(upstream).StreamDecoder(Context())
    sse = SSEDecoder()
    said: dict[int, str] = {}
    stopped: set[int] = set()
    for count, frame in enumerate([*sse.feed(data), *sse.close()], start=1):
        for event in decoder.feed(frame):
            if isinstance(event, PartDelta) and event.field in fields and event.value:
                said[event.index] = said.get(event.index, "") + event.value
            elif isinstance(event, PartStop):
                stopped.add(event.index)
        for index, text in said.items():
            if index not in stopped and not (inside == "arguments" and _whole_json(text)):
                return count, text
    raise AssertionError(f"no place inside {inside} in this {upstream} stream")


def keep_frames(data: bytes, count: int) -> bytes:
    """The first ``count`` frames of an SSE stream whose frames end with a blank line."""
    text = data.decode().replace("\r\n", "\n")
    frames = [f for f in text.split("\n\n") if f.strip()]
    assert len(frames) > count, "the cut must drop the terminal event"
    return ("\n\n".join(frames[:count]) + "\n\n").encode()


def _frames(data: bytes) -> list[tuple[str | None, str]]:
    sse = SSEDecoder()
    return [(f.event, f.data) for f in [*sse.feed(data), *sse.close()]]


def check_cut_stream(fmt: str, data: bytes, inside: str, said: str) -> None:
    """``data``, a ``fmt`` client's stream of an upstream cut ``inside`` a part that had said
    ``said``, ends in ``fmt``'s in-band error without calling any open item finished."""
    {"anthropic": _check_anthropic, "chat": _check_chat, "responses": _check_responses}[fmt](
        data, inside, said
    )


# ---------------------------------------------------------------------------- per format


def _check_responses(data: bytes, inside: str, said: str) -> None:
    events = [json.loads(d) for _, d in _frames(data)]
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "response.failed", kinds[-3:]
    assert not {"response.completed", "response.incomplete"} & set(kinds)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    output = events[-1]["response"]["output"]
    done = {e["item"]["id"] for e in events if e["type"] == "response.output_item.done"}
    open_items = [item for item in output if item["id"] not in done]
    assert open_items, output
    assert {item["status"] for item in open_items} == {"incomplete"}
    open_ids = {item["id"] for item in open_items}
    for event in events:
        if event["type"].endswith(".done"):
            assert event.get("item_id", event.get("item", {}).get("id")) not in open_ids, event
        if event["type"] == "response.function_call_arguments.done":
            assert _whole_json(event["arguments"]), event  # only finished calls are done
    (cut,) = [item for item in open_items if item["type"] == _ITEM[inside]]
    assert _said_of_item(cut) == said
    # the openai SDK's helper: no error, no finished item for what is open, the failure last
    sdk_events, error = events_from_stream("responses", data)
    assert error is None
    assert sdk_events[-1].type == "response.failed"
    assert not [
        e
        for e in sdk_events
        if e.type in ("response.output_item.done", "response.function_call_arguments.done")
        and getattr(getattr(e, "item", None), "id", getattr(e, "item_id", None)) in open_ids
    ]
    statuses = {item.id: item.status for item in sdk_events[-1].response.output}
    assert {statuses[i] for i in open_ids} == {"incomplete"}


def _said_of_item(item: dict[str, Any]) -> str:
    if item["type"] == "function_call":
        return str(item["arguments"])
    if item["type"] == "message":
        return "".join(c.get("text", c.get("refusal", "")) for c in item["content"])
    summary = "".join(s["text"] for s in item.get("summary", []))
    return summary + "".join(c["text"] for c in item.get("content") or [])


def _check_chat(data: bytes, inside: str, said: str) -> None:
    frames = [d for _, d in _frames(data)]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(d) for d in frames[:-1]]
    assert "error" in chunks[-1], chunks[-2:]
    choices = [c for chunk in chunks[:-1] for c in chunk.get("choices", [])]
    assert [c["finish_reason"] for c in choices if c["finish_reason"] is not None] == []
    deltas = [c["delta"] for c in choices]
    if inside == "arguments":
        calls: dict[int, str] = {}
        for delta in deltas:
            for call in delta.get("tool_calls") or []:
                function = call.get("function") or {}
                calls[call["index"]] = calls.get(call["index"], "") + function.get("arguments", "")
        (cut_index,) = [index for index, arguments in calls.items() if arguments == said]
    else:
        key = "content" if inside == "text" else "reasoning_content"
        assert "".join(d.get(key) or "" for d in deltas) == said
    # the openai SDK's helper: an APIError at the error chunk, the cut part never said done
    sdk_events, error = events_from_stream("chat", data)
    assert isinstance(error, openai.APIError), error
    kinds = {e.type for e in sdk_events}
    if inside == "text":
        assert "content.done" not in kinds
    if inside == "arguments":
        # (the helper says a call done when the next index shows up, its guess for a Chat
        # stream that interleaves calls; after the cut call's last fragment nothing may)
        last = max(
            at
            for at, e in enumerate(sdk_events)
            if e.type == "tool_calls.function.arguments.delta" and e.index == cut_index
        )
        assert not [
            e
            for e in sdk_events[last:]
            if e.type == "tool_calls.function.arguments.done" and e.index == cut_index
        ]


def _check_anthropic(data: bytes, inside: str, said: str) -> None:
    frames = _frames(data)
    names = [name for name, _ in frames]
    assert names[-1] == "error", names[-3:]
    assert not {"message_delta", "message_stop"} & set(names)
    payloads = [json.loads(d) for _, d in frames]
    starts = {
        p["index"]: p["content_block"] for p in payloads if p["type"] == "content_block_start"
    }
    stops = {p["index"] for p in payloads if p["type"] == "content_block_stop"}
    cut = max(starts)
    assert cut not in stops
    assert starts[cut]["type"] == _BLOCK[inside]
    key = {"text": "text", "arguments": "partial_json", "reasoning": "thinking"}[inside]
    streamed = "".join(
        p["delta"].get(key, "")
        for p in payloads
        if p["type"] == "content_block_delta" and p["index"] == cut
    )
    assert streamed == said
    # the anthropic SDK's helper: an APIStatusError at the error event, no stop for the block
    sdk_events, error = events_from_stream("anthropic", data)
    assert isinstance(error, anthropic.APIStatusError), error
    assert not [e for e in sdk_events if e.type == "content_block_stop" and e.index == cut]
    assert not [e for e in sdk_events if e.type in ("message_delta", "message_stop")]
