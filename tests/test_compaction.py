"""Compaction across formats (issue 15, items 10 and 13): Anthropic ``compaction`` blocks and
Responses ``compaction`` items in answers, streams and history, and Anthropic's
``context_management.applied_edits``.

A compaction from one kind of upstream reaches a client of the other format in that format's
own compaction shape (the original sealed in the envelope) and comes back byte for byte in the
client's history; Chat clients and upstreams get the summary as text where there is one; what
cannot be carried is reported. Oracles: the SDKs' beta Anthropic types and stream helper, the
OpenAI Responses types and stream helper.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from anthropic.types.beta import BetaMessage
from tests.oracles import _mock_client, final_from_stream, validate_request, validate_response
from tests.samples import RESPONSES_MESSAGE, sse
from tests.test_context_management import validate_beta_anthropic

import apibridge

RESPONSES_COMPACTION: dict[str, Any] = {
    "id": "cmp_0a1b2c",
    "type": "compaction",
    "encrypted_content": "gAAAAABopaque-openai-compaction==",
    "created_by": "system",
}
ANTHROPIC_COMPACTION: dict[str, Any] = {
    "type": "compaction",
    "content": "The user asked to list files; ls showed a.py and b.py.",
    "encrypted_content": "EqQBCkYIBRgCopaque",
}
USAGE = {
    "input_tokens": 3,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 2,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 5,
}
_BASE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "model": "gpt-5.5",
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
}


def responses_answer() -> dict[str, Any]:
    return {
        **_BASE,
        "status": "completed",
        "output": [RESPONSES_COMPACTION, RESPONSES_MESSAGE],
        "usage": USAGE,
    }


def responses_stream() -> list[bytes]:
    """A Responses stream as OpenAI sends a compaction: an empty item, ``compacting``, done."""
    text = {"type": "output_text", "text": "hi", "annotations": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**_BASE, "status": "in_progress", "output": []}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**RESPONSES_COMPACTION, "encrypted_content": ""},
        },
        {"type": "response.compaction.compacting", "output_index": 0, "item_id": "cmp_0a1b2c"},
        {"type": "response.output_item.done", "output_index": 0, "item": RESPONSES_COMPACTION},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {**RESPONSES_MESSAGE, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            "output_index": 1,
            "item_id": "msg_1",
            "content_index": 0,
            "part": {**text, "text": ""},
        },
        {
            "type": "response.output_text.delta",
            "output_index": 1,
            "item_id": "msg_1",
            "content_index": 0,
            "delta": "hi",
            "logprobs": [],
        },
        {
            "type": "response.output_text.done",
            "output_index": 1,
            "item_id": "msg_1",
            "content_index": 0,
            "text": "hi",
            "logprobs": [],
        },
        {
            "type": "response.content_part.done",
            "output_index": 1,
            "item_id": "msg_1",
            "content_index": 0,
            "part": text,
        },
        {"type": "response.output_item.done", "output_index": 1, "item": RESPONSES_MESSAGE},
        {"type": "response.completed", "response": responses_answer()},
    ]
    return [sse(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events)]


def anthropic_answer(applied: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-6",
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "content": [ANTHROPIC_COMPACTION, {"type": "text", "text": "hi"}],
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }
    if applied is not None:
        body["context_management"] = {"applied_edits": applied}
    return body


APPLIED = [
    {"type": "clear_thinking_20251015", "cleared_input_tokens": 900, "cleared_thinking_turns": 2}
]


def anthropic_stream() -> list[bytes]:
    """An Anthropic stream as the API sends a compaction: an empty block, one delta."""
    start = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-6",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    held = {k: ANTHROPIC_COMPACTION[k] for k in ("content", "encrypted_content")}
    return [
        sse("message_start", {"type": "message_start", "message": start}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "compaction", "content": None},
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "compaction_delta", **held},
            },
        ),
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": "hi"},
            },
        ),
        sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 2},
                "context_management": {"applied_edits": APPLIED},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]


def beta_final(data: bytes) -> Any:
    """The beta SDK stream helper's final message over ``data`` (it knows compaction)."""
    client: anthropic.Anthropic = _mock_client("anthropic", data)
    with client.beta.messages.stream(
        model="m", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        for _ in stream:
            pass
        return stream.get_final_message()


def converted_answer(
    source: str, target: str, streamed: bool
) -> tuple[list[dict[str, Any]], dict[str, apibridge.Loss]]:
    """The answer's content blocks (Anthropic) or output items (Responses), validated."""
    losses: list[apibridge.Loss] = []
    if not streamed:
        body = responses_answer() if source == "responses" else anthropic_answer()
        out = apibridge.convert_response(body, source=source, target=target, losses=losses)
        if target == "anthropic":
            content = BetaMessage.model_validate(out).model_dump(mode="json", exclude_none=True)[
                "content"
            ]
            return content, {x.field: x for x in losses}
        validate_response(target, out)
        return out["output"], {x.field: x for x in losses}
    frames = responses_stream() if source == "responses" else anthropic_stream()
    data = b"".join(apibridge.convert_stream(frames, source=source, target=target, losses=losses))
    if target == "anthropic":
        final = beta_final(data).model_dump(mode="json", exclude_none=True)
        return final["content"], {x.field: x for x in losses}
    return final_from_stream(target, data).model_dump(mode="json", exclude_none=True)["output"], {
        x.field: x for x in losses
    }


# ---------------------------------------------------------------- carried and returned


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_fidelity_20_responses_compaction_reaches_a_claude_client_and_returns_byte_for_byte(
    streamed: bool,
) -> None:
    content, lost = converted_answer("responses", "anthropic", streamed)
    block = content[0]
    assert block["type"] == "compaction"
    assert block.get("content") is None  # Anthropic's no-op: nothing Claude could read
    assert not [f for f in lost if "content[0]" in f]
    history = {
        "model": "gpt-5.5",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "list the files"},
            {"role": "assistant", "content": content},
            {"role": "user", "content": "and now?"},
        ],
    }
    body = apibridge.convert_request(history, source="anthropic", target="responses", losses=[])
    validate_request("responses", body)
    assert body["input"][1] == RESPONSES_COMPACTION


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_fidelity_20_anthropic_compaction_reaches_a_responses_client_and_returns_byte_for_byte(
    streamed: bool,
) -> None:
    output, lost = converted_answer("anthropic", "responses", streamed)
    item = output[0]
    assert item["type"] == "compaction"
    assert item["id"].startswith("cmp_")
    assert not [f for f in lost if "content[0]" in f]
    history = {
        "model": "claude-opus-4-6",
        "input": [
            {"role": "user", "content": "list the files"},
            item,
            {"role": "user", "content": "and now?"},
        ],
    }
    validate_request("responses", history)
    body = apibridge.convert_request(history, source="responses", target="anthropic", losses=[])
    validate_beta_anthropic(body)
    assert body["messages"][1] == {"role": "assistant", "content": [ANTHROPIC_COMPACTION]}


def test_streamed_and_whole_answers_agree() -> None:
    for source, target in (("responses", "anthropic"), ("anthropic", "responses")):
        whole, _ = converted_answer(source, target, streamed=False)
        streamed, _ = converted_answer(source, target, streamed=True)
        key = "encrypted_content"
        assert whole[0][key] == streamed[0][key]


def test_fidelity_20_same_format_anthropic_stream_keeps_the_compaction_and_the_applied_edits() -> (
    None
):
    data = b"".join(
        apibridge.convert_stream(anthropic_stream(), source="anthropic", target="anthropic")
    )
    final = beta_final(data)
    assert final.content[0].model_dump(exclude_none=True) == ANTHROPIC_COMPACTION
    assert final.context_management is not None
    assert final.context_management.model_dump()["applied_edits"] == APPLIED


# ----------------------------------------------------------------------- Chat clients


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_fidelity_20_a_chat_client_gets_the_summary_as_text(streamed: bool) -> None:
    losses: list[apibridge.Loss] = []
    if streamed:
        data = b"".join(
            apibridge.convert_stream(
                anthropic_stream(), source="anthropic", target="chat", losses=losses
            )
        )
        message = final_from_stream("chat", data).choices[0].message
    else:
        out = apibridge.convert_response(
            anthropic_answer(), source="anthropic", target="chat", losses=losses
        )
        message = validate_response("chat", out).choices[0].message
    assert message.content == ANTHROPIC_COMPACTION["content"] + "\n\nhi"
    assert [x.action for x in losses if x.field.endswith("content[0]")] == [
        "sent as text: its summary"
    ]


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_chat_client_is_told_of_an_openai_compaction(streamed: bool) -> None:
    losses: list[apibridge.Loss] = []
    if streamed:
        data = b"".join(
            apibridge.convert_stream(
                responses_stream(), source="responses", target="chat", losses=losses
            )
        )
        message = final_from_stream("chat", data).choices[0].message
    else:
        out = apibridge.convert_response(
            responses_answer(), source="responses", target="chat", losses=losses
        )
        message = validate_response("chat", out).choices[0].message
    assert message.content == "hi"
    assert [x.action for x in losses if x.field.endswith("content[0]")] == ["dropped"]


# --------------------------------------------------------------------------- history


def claude_history(block: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "go on"},
            {"role": "assistant", "content": [block, {"type": "text", "text": "Done."}]},
            {"role": "user", "content": "next"},
        ],
    }


@pytest.mark.parametrize("target", ["chat", "responses"])
def test_a_claude_clients_compaction_reaches_openai_upstreams_as_its_summary(target: str) -> None:
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(
        claude_history(ANTHROPIC_COMPACTION), source="anthropic", target=target, losses=losses
    )
    validate_request(target, body)
    text = json.dumps(body)
    assert ANTHROPIC_COMPACTION["content"] in text
    assert ANTHROPIC_COMPACTION["encrypted_content"] not in text
    assert [x.action for x in losses] == ["sent as text: its summary"]


@pytest.mark.parametrize("target", ["chat", "responses"])
def test_a_failed_compaction_is_left_out_and_reported(target: str) -> None:
    losses: list[apibridge.Loss] = []
    failed = {"type": "compaction", "content": None}
    body = apibridge.convert_request(
        claude_history(failed), source="anthropic", target=target, losses=losses
    )
    validate_request(target, body)
    assert '"compaction"' not in json.dumps(body)
    assert [x.field for x in losses] == ["messages[1].content[0]"]


@pytest.mark.parametrize("target", ["anthropic", "chat"])
def test_codexs_compaction_is_reported_where_nobody_can_read_it(target: str) -> None:
    history = {"model": "m", "input": [RESPONSES_COMPACTION, {"role": "user", "content": "next"}]}
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(history, source="responses", target=target, losses=losses)
    assert RESPONSES_COMPACTION["encrypted_content"] not in json.dumps(body)
    assert "messages[0].content[0]" in [x.field for x in losses]


@pytest.mark.parametrize("fmt", ["anthropic", "responses"])
def test_same_format_compaction_history_is_untouched(fmt: str) -> None:
    if fmt == "anthropic":
        history: dict[str, Any] = claude_history(ANTHROPIC_COMPACTION)
    else:
        history = {
            "model": "m",
            "input": [RESPONSES_COMPACTION, {"role": "user", "content": "next"}],
        }
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(history, source=fmt, target=fmt, losses=losses)
    assert body == history
    assert not losses


# ---------------------------------------------------------------------- applied edits


@pytest.mark.parametrize("target", ["chat", "responses"])
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_fidelity_20_the_edits_an_anthropic_upstream_applied_are_reported(
    target: str, streamed: bool
) -> None:
    losses: list[apibridge.Loss] = []
    if streamed:
        b"".join(
            apibridge.convert_stream(
                anthropic_stream(), source="anthropic", target=target, losses=losses
            )
        )
    else:
        apibridge.convert_response(
            anthropic_answer(APPLIED), source="anthropic", target=target, losses=losses
        )
    reported = [x for x in losses if x.field.endswith("context_management")]
    assert len(reported) == 1
    assert "clear_thinking_20251015" in reported[0].reason


def test_an_envelope_that_does_not_hold_a_compaction_is_left_as_it_came() -> None:
    from apibridge.codecs.envelope import Envelope, seal

    forged = seal(Envelope(origin="responses", kind="compaction", data="not json"))
    block = {"type": "compaction", "content": "summary", "encrypted_content": forged}
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(
        claude_history(block), source="anthropic", target="anthropic", losses=losses
    )
    assert body["messages"][1]["content"][0] == block
    assert not losses
