"""The scripted upstream answers are what the official SDKs accept.

The gateway scenarios trust :mod:`.scripted` to speak each format the way the real services
do; these checks hold it to the SDKs' response models and stream accumulators, so a failing
scenario points at the gateway, not at the script.
"""

from __future__ import annotations

import json

import orjson
import pytest

from oracles import final_from_stream, validate_response

from .scripted import Call, Turn, render

pytestmark = pytest.mark.acceptance

_ARGS = '{"city": "Paris", "units": "metric"}'
TURNS: dict[str, Turn] = {
    "text": Turn(text="Hello there, general."),
    "tool": Turn(text="Checking.", calls=(Call(id="call_1", name="get_weather", arguments=_ARGS),)),
    "reasoning": Turn(
        reasoning="The user wants weather twice.",
        calls=(
            Call(id="call_1", name="get_weather", arguments=_ARGS),
            Call(id="call_2", name="get_weather", arguments='{"city": "Rome"}'),
        ),
        interleave=True,
    ),
    "tool_search": Turn(
        calls=(
            Call(id="call_s", name="tool_search", arguments='{"query": "weather"}', search=True),
        )
    ),
}


def _calls(fmt: str, final: object) -> list[tuple[str, str, object]]:
    """(id, name, parsed arguments) of every tool call in an SDK object."""
    data = final.model_dump()  # type: ignore[attr-defined]
    if fmt == "anthropic":
        return [
            (b["id"], b["name"], b["input"]) for b in data["content"] if b["type"] == "tool_use"
        ]
    if fmt == "chat":
        calls = data["choices"][0]["message"].get("tool_calls") or []
        return [
            (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls
        ]
    found = []
    for o in data["output"]:
        if o["type"] == "function_call":
            found.append((o["call_id"], o["name"], json.loads(o["arguments"])))
        elif o["type"] == "tool_search_call":  # a client-executed tool search
            found.append((o["call_id"], "tool_search", o["arguments"]))
    return found


def _text(fmt: str, final: object) -> str:
    data = final.model_dump()  # type: ignore[attr-defined]
    if fmt == "anthropic":
        return "".join(b["text"] for b in data["content"] if b["type"] == "text")
    if fmt == "chat":
        return data["choices"][0]["message"]["content"] or ""
    return "".join(
        c["text"] for o in data["output"] if o["type"] == "message" for c in o["content"]
    )


@pytest.mark.parametrize("name", sorted(TURNS))
@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_stream_and_body_agree_with_the_sdks(fmt: str, name: str) -> None:
    turn = TURNS[name]
    status, _, body = render(fmt, turn, model="m", stream=False)
    assert status == 200
    whole = validate_response(fmt, orjson.loads(body))
    status, headers, data = render(fmt, turn, model="m", stream=True)
    assert ("content-type", "text/event-stream") in headers
    streamed = final_from_stream(fmt, data)
    expected = [(c.id, c.name, json.loads(c.arguments)) for c in turn.calls]
    assert _calls(fmt, whole) == expected
    assert _calls(fmt, streamed) == expected
    assert _text(fmt, whole) == _text(fmt, streamed) == turn.text


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_errors_carry_status_and_retry_hint(fmt: str) -> None:
    status, headers, body = render(fmt, Turn(status=429, retry_after=3), model="m", stream=True)
    assert status == 429
    assert ("retry-after", "3") in headers
    error = orjson.loads(body)["error"]
    assert error["type"] in ("rate_limit_error", "rate_limit_exceeded")
