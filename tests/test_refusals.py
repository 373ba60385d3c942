"""Fidelity class 24: a refusal stays a refusal in every direction (issue 11, item 1).

Claude's ``stop_reason: "refusal"`` (its classifier stopped the answer; ``stop_details`` may
explain why) reaches OpenAI clients as the refusal they read: a Responses ``refusal`` content
part (``response.refusal.delta`` / ``.done`` when streamed), a Chat ``message.refusal`` /
``delta.refusal`` with ``finish_reason: content_filter`` — or ``stop`` when the answer is
nothing but the refusal's words, as OpenAI writes its own. An OpenAI refusal (Chat
``refusal``, Responses ``refusal`` part) reaches a Claude client with ``stop_reason:
"refusal"``. Text Claude streamed before its refusal stays text: it was already sent as text
when the stop came. Every answer is checked with the SDK types, every stream with the SDK's
stream helper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import apibridge
from apibridge.errors import Loss
from oracles import final_from_stream, validate_response
from samples import sse

FIXTURES = Path(__file__).parent / "fixtures"
WHY = "The request asked for functional ransomware."


def _fixture(name: str) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return fixture


def _claude(text: str | None, details: dict[str, Any] | None) -> dict[str, Any]:
    """A Claude answer its classifier stopped, after ``text`` (or before any)."""
    body: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [] if text is None else [{"type": "text", "text": text}],
        "stop_reason": "refusal",
        "stop_sequence": None,
        "usage": {"input_tokens": 31, "output_tokens": 12},
    }
    if details is not None:
        body["stop_details"] = details
    return body


def _claude_stream(text: str | None, details: dict[str, Any] | None) -> bytes:
    """The same answer streamed: the text first, then the ``refusal`` stop."""
    message = {**_claude(None, None), "stop_reason": None}
    frames = [sse("message_start", {"type": "message_start", "message": message})]
    if text is not None:
        frames += [
            sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": text},
                },
            ),
            sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ]
    delta: dict[str, Any] = {"stop_reason": "refusal", "stop_sequence": None}
    if details is not None:
        delta["stop_details"] = details
    frames += [
        sse(
            "message_delta",
            {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 12}},
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(frames)


def _details(category: str | None, explanation: str | None) -> dict[str, Any]:
    return {"type": "refusal", "category": category, "explanation": explanation}


#: (text before the stop, stop_details): empty, cut text, explained, explained with a category
CLAUDE_REFUSALS = {
    "empty": (None, None),
    "after_text": ("Here is how to wri", None),
    "explained": (None, _details(None, WHY)),
    "after_text_explained_with_category": ("I can't help", _details("cyber", WHY)),
}


def _convert(body: dict[str, Any], source: str, target: str) -> tuple[dict[str, Any], list[str]]:
    losses: list[Loss] = []
    out = apibridge.convert_response(body, source=source, target=target, losses=losses)
    validate_response(target, out)
    return out, [loss.field for loss in losses]


def _stream(data: bytes, source: str, target: str) -> tuple[bytes, list[str]]:
    losses: list[Loss] = []
    out = b"".join(apibridge.convert_stream([data], source=source, target=target, losses=losses))
    return out, [loss.field for loss in losses]


def _events(data: bytes) -> list[dict[str, Any]]:
    return [
        json.loads(line[6:]) for line in data.decode().splitlines() if line.startswith("data: {")
    ]


def _expected(text: str | None, details: dict[str, Any] | None) -> tuple[str, str]:
    """The refusal's words and the Chat finish reason for one Claude refusal."""
    words = (details or {}).get("explanation") or ""
    # only words, no text: OpenAI's own shape of a refusal, which it finishes with ``stop``
    finish = "stop" if words and text is None else "content_filter"
    return words, finish


# ------------------------------------------------------------------- Claude → OpenAI


@pytest.mark.parametrize("case", CLAUDE_REFUSALS)
def test_fidelity_24_claude_refusal_reaches_responses_as_a_refusal_part(case: str) -> None:
    """A Claude refusal reached a Responses client as a plain completed message (or as an
    empty output): the message now ends with a ``refusal`` part holding the explanation."""
    text, details = CLAUDE_REFUSALS[case]
    words, _ = _expected(text, details)
    out, lost = _convert(_claude(text, details), "anthropic", "responses")
    (message,) = out["output"]
    expected = [] if text is None else [{"type": "output_text", "text": text, "annotations": []}]
    assert message["content"] == [*expected, {"type": "refusal", "refusal": words}]
    # the category has no OpenAI field: reported; an explanation alone travels whole
    assert ("response.stop_details" in lost) is bool(details and details["category"])


@pytest.mark.parametrize("case", CLAUDE_REFUSALS)
def test_fidelity_24_claude_refusal_reaches_chat_as_message_refusal(case: str) -> None:
    text, details = CLAUDE_REFUSALS[case]
    words, finish = _expected(text, details)
    out, _ = _convert(_claude(text, details), "anthropic", "chat")
    (choice,) = out["choices"]
    assert choice["message"]["refusal"] == words
    assert choice["message"]["content"] == text  # ``null`` beside a refusal, as OpenAI's
    assert choice["finish_reason"] == finish


@pytest.mark.parametrize("case", CLAUDE_REFUSALS)
def test_fidelity_24_streamed_claude_refusal_reaches_responses_with_refusal_events(
    case: str,
) -> None:
    """Streamed: the text already sent stays ``output_text``; the stop opens a ``refusal``
    part, with ``response.refusal.delta`` for its words and ``response.refusal.done``."""
    text, details = CLAUDE_REFUSALS[case]
    words, _ = _expected(text, details)
    out, lost = _stream(_claude_stream(text, details), "anthropic", "responses")
    final = final_from_stream("responses", out)
    assert final.status == "completed"
    (message,) = final.output
    kinds = [(c.type, c.text if c.type == "output_text" else c.refusal) for c in message.content]
    assert kinds == [*([("output_text", text)] if text else []), ("refusal", words)]
    events = _events(out)
    deltas = [e["delta"] for e in events if e["type"] == "response.refusal.delta"]
    assert "".join(deltas) == words
    (done,) = [e for e in events if e["type"] == "response.refusal.done"]
    assert done["refusal"] == words
    assert ("stream.stop_details" in lost or "response.stop_details" in lost) is bool(
        details and details["category"]
    )


@pytest.mark.parametrize("case", CLAUDE_REFUSALS)
def test_fidelity_24_streamed_claude_refusal_reaches_chat_as_delta_refusal(case: str) -> None:
    text, details = CLAUDE_REFUSALS[case]
    words, finish = _expected(text, details)
    out, _ = _stream(_claude_stream(text, details), "anthropic", "chat")
    final = final_from_stream("chat", out)
    (choice,) = final.choices
    assert choice.message.refusal == words
    assert (choice.message.content or None) == text
    assert choice.finish_reason == finish
    refusals = [
        c["delta"]["refusal"]
        for e in _events(out)
        for c in e.get("choices", [])
        if "refusal" in c.get("delta", {})
    ]
    assert refusals  # a wordless refusal is said too: ``refusal: ""``
    assert "".join(refusals) == words


def test_fidelity_24_recorded_claude_refusal_to_openai_clients() -> None:
    """The recorded refusal (Anthropic's "Streaming refusals" page), whole and streamed."""
    whole = _fixture("anthropic/response_refusal.json")["body"]
    out, _ = _convert(whole, "anthropic", "responses")
    assert out["output"][0]["content"][-1] == {"type": "refusal", "refusal": WHY}
    stream = _fixture("anthropic/stream_refusal.json")["sse"].encode()
    final = final_from_stream("chat", _stream(stream, "anthropic", "chat")[0])
    assert final.choices[0].message.refusal == WHY
    assert final.choices[0].finish_reason == "content_filter"


@pytest.mark.parametrize("case", CLAUDE_REFUSALS)
def test_fidelity_24_claude_refusal_comes_back_to_claude_unchanged(case: str) -> None:
    """The refusal part is the stop again: no extra block, ``stop_details`` whole."""
    text, details = CLAUDE_REFUSALS[case]
    body = _claude(text, details)
    out, lost = _convert(body, "anthropic", "anthropic")
    assert out == body
    assert lost == []
    streamed, lost = _stream(_claude_stream(text, details), "anthropic", "anthropic")
    final = final_from_stream("anthropic", streamed)
    assert final.model_dump(exclude_none=True)["content"] == body["content"]
    assert final.stop_reason == "refusal"
    assert final.stop_details == (
        None if details is None else final.stop_details.__class__(**details)
    )
    assert lost == []


# ------------------------------------------------------------------- OpenAI → Claude

OPENAI_REFUSALS = {
    "chat": "chat/response_refusal.json",
    "responses": "responses/response_refusal.json",
}
OPENAI_STREAMED = {
    "chat": "chat/stream_refusal.json",
    "responses": "responses/stream_refusal.json",
}


@pytest.mark.parametrize("source", ["chat", "responses"])
def test_fidelity_24_openai_refusal_reaches_claude_with_a_refusal_stop(source: str) -> None:
    """A Chat ``message.refusal`` reached a Claude client as text ending in ``end_turn``; it
    is now Claude's own shape of a refusal: the words as text, ``stop_reason: refusal``."""
    fixture = _fixture(OPENAI_REFUSALS[source])
    out, lost = _convert(fixture["body"], source, "anthropic")
    words = "I'm sorry, I cannot assist with that request."
    assert out["content"] == [{"type": "text", "text": words}]
    assert out["stop_reason"] == "refusal"
    assert not [field for field in lost if field.startswith("content")]


@pytest.mark.parametrize("source", ["chat", "responses"])
def test_fidelity_24_streamed_openai_refusal_reaches_claude_with_a_refusal_stop(
    source: str,
) -> None:
    fixture = _fixture(OPENAI_STREAMED[source])
    out, lost = _stream(fixture["sse"].encode(), source, "anthropic")
    final = final_from_stream("anthropic", out)
    assert final.stop_reason == "refusal"
    assert [block.type for block in final.content] == ["text"]
    assert final.content[0].text.startswith("I'm sorry")
    assert not [field for field in lost if field.startswith("content")]


def test_fidelity_24_openai_refusal_under_another_stop_is_reported_to_claude() -> None:
    """A refusal that did not end the answer (here cut by ``length``) cannot be told from text
    by a Claude client: sent as text, and reported, whole and streamed."""
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "I can't"},
                "finish_reason": "length",
            }
        ],
    }
    out, lost = _convert(body, "chat", "anthropic")
    assert out["stop_reason"] == "max_tokens"
    assert "content[0]" in lost
    chunks = [
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [c]}
        for c in (
            {
                "index": 0,
                "delta": {"role": "assistant", "refusal": "I can't"},
                "finish_reason": None,
            },
            {"index": 0, "delta": {}, "finish_reason": "length"},
        )
    ]
    data = b"".join(sse(None, c) for c in chunks) + b"data: [DONE]\n\n"
    streamed, lost = _stream(data, "chat", "anthropic")
    assert final_from_stream("anthropic", streamed).stop_reason == "max_tokens"
    assert "content[0]" in lost


# ------------------------------------------------------------------- Chat ⇄ Responses


@pytest.mark.parametrize(("source", "target"), [("chat", "responses"), ("responses", "chat")])
def test_fidelity_24_openai_refusal_between_chat_and_responses(source: str, target: str) -> None:
    """Between the two OpenAI APIs a refusal stays a refusal, whole and streamed, and Chat
    finishes it with ``stop`` as OpenAI does."""
    out, lost = _convert(_fixture(OPENAI_REFUSALS[source])["body"], source, target)
    streamed, _ = _stream(_fixture(OPENAI_STREAMED[source])["sse"].encode(), source, target)
    final = final_from_stream(target, streamed)
    if target == "chat":
        assert out["choices"][0]["message"]["refusal"].startswith("I'm sorry")
        assert out["choices"][0]["message"]["content"] is None
        assert out["choices"][0]["finish_reason"] == "stop"
        assert final.choices[0].message.refusal.startswith("I'm sorry")
        assert final.choices[0].finish_reason == "stop"
    else:
        assert out["status"] == "completed"
        assert [c["type"] for c in out["output"][0]["content"]] == ["refusal"]
        assert final.status == "completed"
        assert [c.type for c in final.output[0].content] == ["refusal"]
        assert any(e["type"] == "response.refusal.done" for e in _events(streamed))
    assert not [field for field in lost if "refusal" in field or field.startswith("content")]


def test_fidelity_24_chat_refusal_reads_as_the_refusal_stop() -> None:
    """The Chat codec now reads ``finish_reason: stop`` over a refusal as the ``refusal``
    stop (as the Responses codec reads a completed refusal part), and writes it back as it
    came."""
    from apibridge.codecs import Context, chat

    body = _fixture("chat/response_refusal.json")["body"]
    decoded = chat.decode_response(body, Context())
    assert decoded.stop_reason == "refusal"
    assert chat.encode_response(decoded, Context()) == body


@pytest.mark.parametrize("target", ["chat", "responses"])
def test_fidelity_24_an_explanation_that_is_not_words_is_reported_not_dropped(
    target: str,
) -> None:
    """``stop_details.explanation`` that is no string cannot be the refusal's words: it is
    reported with ``stop_details`` (it used to vanish into a hint only Claude clients read)."""
    body = _claude("partial", {"type": "refusal", "explanation": {"x": 1}})
    _, lost = _convert(body, "anthropic", target)
    assert "response.stop_details" in lost
