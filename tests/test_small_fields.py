"""Fidelity class 21: the small fields that crossed silently (issue 15, item 12) are carried
where the target has a home for them and reported where it has none.

Web search context size and location, a plain-text document's title/context/citations, Chat's
audio and predicted-output token counts, ``system_fingerprint`` and adaptive thinking without
an effort. Every converted body is checked with the official SDK types first."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import apibridge
from apibridge.errors import Loss
from oracles import final_from_stream, validate_request
from samples import answer, sse

PARIS = {"city": "Paris", "region": "IDF", "country": "FR", "timezone": "Europe/Paris"}


def _request(body: dict[str, Any], source: str, target: str) -> tuple[dict[str, Any], list[str]]:
    losses: list[Loss] = []
    out = apibridge.convert_request(body, source=source, target=target, losses=losses)
    validate_request(target, out)
    return out, [loss.field for loss in losses]


def _stream(chunks: list[dict[str, Any]], target: str) -> tuple[bytes, list[str]]:
    data = b"".join(sse(None, c) for c in chunks) + b"data: [DONE]\n\n"
    losses: list[Loss] = []
    out = b"".join(apibridge.convert_stream([data], source="chat", target=target, losses=losses))
    return out, [loss.field for loss in losses]


# ------------------------------------------------------------------------------ web search


def _chat_web_search(size: str) -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": "news?"}],
        "web_search_options": {
            "search_context_size": size,
            "user_location": {"type": "approximate", "approximate": PARIS},
        },
    }


@pytest.mark.parametrize("size", ["low", "medium", "high"])
def test_fidelity_21_chat_web_search_options_reach_the_responses_tool(size: str) -> None:
    """``search_context_size`` was dropped silently and the nested Chat location passed on in
    a shape the Responses tool does not have; both now land in the tool's own fields."""
    out, lost = _request(_chat_web_search(size), "chat", "responses")
    (tool,) = out["tools"]
    assert tool == {
        "type": "web_search",
        "search_context_size": size,
        "user_location": {"type": "approximate", **PARIS},
    }
    assert lost == []
    back, lost = _request(out, "responses", "chat")
    assert back["web_search_options"] == _chat_web_search(size)["web_search_options"]
    assert lost == []


def test_fidelity_21_chat_web_search_location_reaches_anthropic() -> None:
    """The nested Chat location became ``{"type": "approximate"}`` alone on Anthropic; the
    place now crosses, and the context size (no Anthropic field) is reported."""
    out, lost = _request(_chat_web_search("high"), "chat", "anthropic")
    (tool,) = out["tools"]
    assert tool["user_location"] == {"type": "approximate", **PARIS}
    assert "tools[0].search_context_size" in lost


def test_fidelity_21_other_web_search_settings_to_responses_are_reported() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "news?"}],
        "tools": [
            {
                "type": "web_search_20250305",
                "name": "web_search",
                "max_uses": 3,
                "blocked_domains": ["x.test"],
                "allowed_domains": ["a.test"],
                "user_location": {"type": "approximate", "city": "Paris"},
            }
        ],
    }
    out, lost = _request(body, "anthropic", "responses")
    assert out["tools"] == [
        {
            "type": "web_search",
            "filters": {"allowed_domains": ["a.test"]},
            "user_location": {"type": "approximate", "city": "Paris"},
        }
    ]
    assert {"tools[0].max_uses", "tools[0].blocked_domains"} <= set(lost)


# ----------------------------------------------------------------------- text documents


@pytest.mark.parametrize(
    ("extra", "lost"),
    [
        ({}, set()),
        ({"title": "Notes"}, {"title"}),
        ({"context": "from the wiki"}, {"context"}),
        ({"citations": {"enabled": True}}, {"citations"}),
        ({"citations": {"enabled": False}}, set()),
        (
            {"title": "T", "context": "C", "citations": {"enabled": True}},
            {"title", "context", "citations"},
        ),
    ],
)
def test_fidelity_21_plain_text_document_fields_to_responses_are_reported(
    extra: dict[str, Any], lost: set[str]
) -> None:
    """A plain-text document's title, context and citation switch vanished on the way to
    Responses (``input_text`` has none of them and ``input_file`` takes no plain text)."""
    doc = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "The sky is blue."},
        **extra,
    }
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": [doc, {"type": "text", "text": "colour?"}]}],
    }
    out, fields = _request(body, "anthropic", "responses")
    assert out["input"][0]["content"][0] == {"type": "input_text", "text": "The sky is blue."}
    where = "messages[0].content[0]"
    assert where in fields  # the document itself became text
    assert {f[len(where) + 1 :] for f in fields if f.startswith(where + ".")} == lost


# ---------------------------------------------------------------------------------- usage

_DETAILS = {
    "usage.prompt_tokens_details.audio_tokens": 4,
    "usage.completion_tokens_details.audio_tokens": 1,
    "usage.completion_tokens_details.accepted_prediction_tokens": 2,
    "usage.completion_tokens_details.rejected_prediction_tokens": 3,
}


def _chat_usage(scale: int) -> dict[str, Any]:
    return {
        "prompt_tokens": 10,
        "completion_tokens": 9,
        "total_tokens": 19,
        "prompt_tokens_details": {"audio_tokens": 4 * scale, "cached_tokens": 0},
        "completion_tokens_details": {
            "audio_tokens": 1 * scale,
            "accepted_prediction_tokens": 2 * scale,
            "rejected_prediction_tokens": 3 * scale,
            "reasoning_tokens": 0,
        },
    }


def _chat_answer(usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "system_fingerprint": "fp_abc",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ok"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage,
    }


@pytest.mark.parametrize("target", ["anthropic", "responses"])
def test_fidelity_21_chat_audio_and_prediction_counts_are_reported(target: str) -> None:
    """Neither Anthropic nor Responses usage has audio or predicted-output counts: each
    non-zero count is reported by name (a zero says nothing and is not)."""
    _, lost = answer(_chat_answer(_chat_usage(1)), "chat", target)
    assert {f for f in lost if f.startswith("usage.")} == set(_DETAILS)
    _, lost = answer(_chat_answer(_chat_usage(0)), "chat", target)
    assert not [f for f in lost if f.startswith("usage.")]


def test_fidelity_21_chat_usage_details_survive_chat_to_chat() -> None:
    out, lost = answer(_chat_answer(_chat_usage(1)), "chat", "chat")
    assert out["usage"] == _chat_usage(1)
    assert out["system_fingerprint"] == "fp_abc"
    assert lost == []


def _chunks() -> list[dict[str, Any]]:
    head = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "system_fingerprint": "fp_abc",
    }
    return [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**head, "choices": [], "usage": _chat_usage(1)},
    ]


@pytest.mark.parametrize("target", ["anthropic", "responses"])
def test_fidelity_21_streamed_chat_usage_details_and_fingerprint_are_reported(
    target: str,
) -> None:
    """In streams too (the Anthropic ``message_delta`` usage kept only its own fields)."""
    data, lost = _stream(_chunks(), target)
    final_from_stream(target, data)
    usage_lost = {f.split("usage.", 1)[1] for f in lost if "usage." in f}
    assert usage_lost == {f[len("usage.") :] for f in _DETAILS}
    assert any(f.endswith("system_fingerprint") for f in lost)


def test_fidelity_21_streamed_chat_fingerprint_and_usage_reach_a_chat_client() -> None:
    data, lost = _stream(_chunks(), "chat")
    completion = final_from_stream("chat", data)
    assert completion.system_fingerprint == "fp_abc"
    frames = [json.loads(line[6:]) for line in data.decode().splitlines() if line[6:7] == "{"]
    assert all(f["system_fingerprint"] == "fp_abc" for f in frames)
    assert frames[-1]["usage"] == _chat_usage(1)
    assert lost == []


@pytest.mark.parametrize("target", ["anthropic", "responses"])
def test_fidelity_21_system_fingerprint_is_reported_to_other_clients(target: str) -> None:
    """Only Chat answers have a ``system_fingerprint``; another client is told it is lost."""
    _, lost = answer(_chat_answer(_chat_usage(0)), "chat", target)
    assert "response.system_fingerprint" in lost


# ------------------------------------------------------------------------ adaptive thinking


def test_fidelity_21_adaptive_thinking_without_effort_to_chat_is_reported() -> None:
    """Adaptive thinking says "decide yourself" at Anthropic's default effort (high): Chat has
    no such word, so no ``reasoning_effort`` goes (the server's default), and that is said."""
    body = {
        "model": "claude-opus-4-6",
        "max_tokens": 100,
        "thinking": {"type": "adaptive"},
        "messages": [{"role": "user", "content": "hi"}],
    }
    out, lost = _request(body, "anthropic", "chat")
    assert "reasoning_effort" not in out
    assert "thinking" in lost  # the client's own field
    with_effort = {**body, "output_config": {"effort": "low"}}
    out, lost = _request(with_effort, "anthropic", "chat")
    assert out["reasoning_effort"] == "low"
    assert "thinking" not in lost


# ------------------------------------------------------------------------- streamed logprobs

_TOKENS = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=6),
        st.floats(min_value=-20, max_value=0, allow_nan=False),
    ),
    min_size=1,
    max_size=5,
)


def _scored(token: str, logprob: float) -> dict[str, Any]:
    utf8 = list(token.encode())
    top = {"token": token, "logprob": logprob, "bytes": utf8}
    return {"token": token, "logprob": logprob, "bytes": utf8, "top_logprobs": [top]}


def _chat_scored_stream(tokens: list[tuple[str, float]]) -> list[dict[str, Any]]:
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunks = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    for token, logprob in tokens:
        scores = {"content": [_scored(token, logprob)], "refusal": None}
        choice = {"index": 0, "delta": {"content": token}, "logprobs": scores}
        chunks.append({**head, "choices": [choice]})
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return chunks


def _responses_scored_stream(tokens: list[tuple[str, float]]) -> bytes:
    response = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": "in_progress",
        "model": "m",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    at = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "content": []},
        },
        {
            "type": "response.content_part.added",
            **at,
            "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
        },
    ]
    for token, logprob in tokens:
        top = [{"token": token, "logprob": logprob}]
        score = {"token": token, "logprob": logprob, "top_logprobs": top}
        events.append(
            {"type": "response.output_text.delta", **at, "delta": token, "logprobs": [score]}
        )
    text = "".join(t for t, _ in tokens)
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    done = {**message, "status": "completed", "content": [part]}
    events += [
        {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {
            "type": "response.completed",
            "response": {**response, "status": "completed", "output": [done]},
        },
    ]
    return b"".join(sse(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events))


@settings(max_examples=40, deadline=None)
@given(tokens=_TOKENS)
def test_fidelity_21_streamed_responses_logprobs_reach_a_chat_client(
    tokens: list[tuple[str, float]],
) -> None:
    """``output_text.delta`` logprobs were dropped silently on the way to a Chat client; each
    chunk now scores its tokens (``bytes`` are the token's UTF-8 bytes, as Chat defines)."""
    losses: list[Loss] = []
    data = b"".join(
        apibridge.convert_stream(
            [_responses_scored_stream(tokens)], source="responses", target="chat", losses=losses
        )
    )
    completion = final_from_stream("chat", data)
    scored = completion.choices[0].logprobs.content
    assert [(s.token, s.logprob, s.bytes) for s in scored] == [
        (t, lp, list(t.encode())) for t, lp in tokens
    ]
    assert [[(t.token, t.logprob) for t in s.top_logprobs] for s in scored] == [
        [(t, lp)] for t, lp in tokens
    ]
    assert not [loss for loss in losses if "logprobs" in loss.field]


@settings(max_examples=40, deadline=None)
@given(tokens=_TOKENS)
def test_fidelity_21_streamed_chat_logprobs_reach_a_responses_client(
    tokens: list[tuple[str, float]],
) -> None:
    """Chat chunk logprobs were reported lost; they now ride on the Responses text deltas and
    fill the finished part (``output_text.done``, the final ``output``)."""
    data, lost = _stream(_chat_scored_stream(tokens), "responses")
    assert "logprobs" not in lost
    frames = [json.loads(line[6:]) for line in data.decode().splitlines() if line[6:7] == "{"]
    deltas = [f for f in frames if f["type"] == "response.output_text.delta"]
    assert [d["logprobs"] for d in deltas] == [
        [{"token": t, "logprob": lp, "top_logprobs": [{"token": t, "logprob": lp}]}]
        for t, lp in tokens
    ]
    final = final_from_stream("responses", data)
    scored = final.output[0].content[0].logprobs
    assert [(s.token, s.logprob, s.bytes) for s in scored] == [
        (t, lp, list(t.encode())) for t, lp in tokens
    ]


def test_fidelity_21_streamed_chat_logprobs_stay_for_a_chat_client() -> None:
    tokens = [("Hel", -0.5), ("lo", -0.25)]
    data, lost = _stream(_chat_scored_stream(tokens), "chat")
    completion = final_from_stream("chat", data)
    assert [s.token for s in completion.choices[0].logprobs.content] == ["Hel", "lo"]
    assert lost == []


def test_fidelity_21_streamed_responses_logprobs_stay_for_a_responses_client() -> None:
    """A Responses stream re-encoded for a Responses client wrote ``"logprobs": []`` on every
    delta whatever the upstream said; the scores now stay."""
    tokens = [("Hel", -0.5), ("lo", -0.25)]
    losses: list[Loss] = []
    data = b"".join(
        apibridge.convert_stream(
            [_responses_scored_stream(tokens)],
            source="responses",
            target="responses",
            losses=losses,
        )
    )
    frames = [json.loads(line[6:]) for line in data.decode().splitlines() if line[6:7] == "{"]
    deltas = [f for f in frames if f["type"] == "response.output_text.delta"]
    assert [d["logprobs"][0]["token"] for d in deltas] == ["Hel", "lo"]
    final = final_from_stream("responses", data)
    assert [s.token for s in final.output[0].content[0].logprobs] == ["Hel", "lo"]
    assert losses == []


@pytest.mark.parametrize("source", ["chat", "responses"])
def test_fidelity_21_streamed_logprobs_are_reported_to_an_anthropic_client(source: str) -> None:
    """Scored deltas reached an Anthropic client with the scores dropped silently (the ledger
    found it); the text streams and the loss is said once."""
    tokens = [("Hel", -0.5), ("lo", -0.25)]
    if source == "chat":
        chunks = _chat_scored_stream(tokens)
        upstream = b"".join(sse(None, c) for c in chunks) + b"data: [DONE]\n\n"
    else:
        upstream = _responses_scored_stream(tokens)
    losses: list[Loss] = []
    data = b"".join(
        apibridge.convert_stream([upstream], source=source, target="anthropic", losses=losses)
    )
    message = final_from_stream("anthropic", data)
    assert message.content[0].text == "Hello"
    assert [loss.field for loss in losses if "logprobs" in loss.field] == ["logprobs"]
