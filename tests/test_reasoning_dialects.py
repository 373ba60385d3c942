"""The reasoning dialects of Chat servers (issue 11): ``reasoning_content``, ``reasoning``,
OpenRouter's ``reasoning_details`` and ``<think>`` tags in ``content``, read in whole answers
and in streams (cut anywhere), written back in the dialect the upstream expects
(``Context.reasoning_field``), and replayed through another format's client with their
signatures and encrypted entries intact."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import apibridge
from apibridge import Exchange
from apibridge._sse import SSEFrame
from apibridge.codecs import Context, get_codec
from apibridge.codecs.chat._reasoning_dialects import ThinkSplitter, split_think
from apibridge.errors import Loss
from apibridge.model import (
    PartDelta,
    PartStart,
    PartStop,
    Response,
    TextPart,
    ThinkingPart,
    accumulate,
)
from oracles import final_from_stream, validate_request, validate_response

SIGNATURE = "EqQBCkgIARABGAIiQLt0f2cbm2sT7h+/=="  # opaque: every byte must come back
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"
ENCRYPTED = "gAAAAABo_encrypted_reasoning_blob=="

#: OpenRouter's answer from a Claude model: a signed text entry and a redacted one.
CLAUDE_DETAILS: list[dict[str, Any]] = [
    {
        "type": "reasoning.text",
        "text": "First, the units.",
        "signature": SIGNATURE,
        "format": "anthropic-claude-v1",
        "index": 0,
    },
    {"type": "reasoning.encrypted", "data": REDACTED, "format": "anthropic-claude-v1", "index": 1},
]
#: OpenRouter's answer from an OpenAI model: a summary and the encrypted reasoning.
OPENAI_DETAILS: list[dict[str, Any]] = [
    {
        "type": "reasoning.summary",
        "summary": "Checked the units.",
        "id": "rs_1",
        "format": "openai-responses-v1",
        "index": 0,
    },
    {
        "type": "reasoning.encrypted",
        "data": ENCRYPTED,
        "id": "rs_1",
        "format": "openai-responses-v1",
        "index": 1,
    },
]


def chat_answer(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def frames(chunks: list[dict[str, Any]]) -> list[SSEFrame]:
    return [SSEFrame(data=json.dumps(c)) for c in chunks] + [SSEFrame(data="[DONE]")]


def sse_bytes(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(f"data: {f.data}\n\n".encode() for f in frames(chunks))


def decode_whole(message: dict[str, Any], field: str | None = None) -> Response:
    ctx = Context(reasoning_field=field)
    return get_codec("chat").decode_response(chat_answer(message), ctx)


def decode_stream(deltas: list[dict[str, Any]], field: str | None = None) -> Response:
    decoder = get_codec("chat").StreamDecoder(Context(reasoning_field=field))
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk(d) for d in deltas] + [chunk({}, "stop")]
    events = [e for f in frames(chunks) for e in decoder.feed(f)] + decoder.close()
    return accumulate(events)


def streamed_content(content: str, cuts: list[int]) -> list[dict[str, Any]]:
    """``content`` as content deltas cut at ``cuts``."""
    edges = [0, *sorted(set(cuts)), len(content)]
    return [{"content": content[a:b]} for a, b in itertools.pairwise(edges) if b > a]


def anthropic_request(content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "How long is a furlong?"},
            {"role": "assistant", "content": content},
            {"role": "user", "content": "And in metres?"},
        ],
    }


def to_chat(body: dict[str, Any], client: str, field: str | None) -> tuple[dict[str, Any], list]:
    losses: list[Loss] = []
    exchange = Exchange.from_client(
        body, client=client, upstream="chat", losses=losses, reasoning_field=field
    )
    out = exchange.upstream_request()
    return out, [loss.field for loss in losses]


def assistant(chat_request: dict[str, Any]) -> dict[str, Any]:
    (message,) = [m for m in chat_request["messages"] if m["role"] == "assistant"]
    return message


# --------------------------------------------------------------------------- reading, whole


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_string_dialects_are_read_as_thinking(key: str) -> None:
    response = decode_whole({key: "Weigh it.", "content": "42"})
    assert response.content == (ThinkingPart(text="Weigh it."), TextPart(text="42"))


def test_reasoning_details_are_read_with_their_entries_whole() -> None:
    response = decode_whole(
        {"content": "42", "reasoning": "First, the units.", "reasoning_details": CLAUDE_DETAILS}
    )
    thinking, text = response.content
    assert isinstance(thinking, ThinkingPart)
    assert thinking.text == "First, the units."
    assert thinking.extras["chat"]["_details"] == CLAUDE_DETAILS
    assert text == TextPart(text="42")


def test_summary_entries_are_summaries() -> None:
    (thinking, _) = decode_whole({"content": "42", "reasoning_details": OPENAI_DETAILS}).content
    assert isinstance(thinking, ThinkingPart)
    assert (thinking.text, thinking.summary) == ("", ("Checked the units.",))


def test_think_tags_in_content_are_thinking_and_the_text_around_stays_text() -> None:
    response = decode_whole({"content": "Sure.<think>Units first.</think>\n\nA furlong."})
    assert [type(p) for p in response.content] == [TextPart, ThinkingPart, TextPart]
    assert [getattr(p, "text", None) for p in response.content] == [
        "Sure.",
        "Units first.",
        "\n\nA furlong.",
    ]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "reasoning_details"])
def test_think_tags_are_text_when_the_upstream_has_a_reasoning_parser(field: str) -> None:
    content = "Write <think>x</think> in the template."
    assert decode_whole({"content": content}, field).content == (TextPart(text=content),)


def test_malformed_reasoning_details_are_a_clear_error() -> None:
    with pytest.raises(apibridge.errors.InvalidPayload, match="reasoning_details"):
        decode_whole({"content": "x", "reasoning_details": [{"text": "no type"}]})


def test_a_chat_client_gets_each_dialect_back_as_it_came() -> None:
    for message in (
        {"content": "42", "reasoning": "r", "reasoning_details": CLAUDE_DETAILS},
        {"content": "a<think>b</think>c"},
        {"content": "42", "reasoning": "r"},
    ):
        body = chat_answer(message)
        out = apibridge.convert_response(body, source="chat", target="chat")
        assert out["choices"][0]["message"] == body["choices"][0]["message"]


# ------------------------------------------------------------------------- reading, streamed


def test_stream_deltas_of_each_string_dialect_agree_with_the_whole_answer() -> None:
    for key in ("reasoning_content", "reasoning"):
        deltas = [{key: "Weigh "}, {key: "it."}, {"content": "4"}, {"content": "2"}]
        whole = decode_whole({key: "Weigh it.", "content": "42"})
        assert decode_stream(deltas).content == whole.content


def _fragments(entries: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """OpenRouter's stream of ``entries``: text and summary in pieces of ``size`` characters,
    the signature last, with the plain ``reasoning`` mirror beside each text piece."""
    deltas: list[dict[str, Any]] = []
    for entry in entries:
        grows = {"reasoning.text": "text", "reasoning.summary": "summary"}.get(entry["type"])
        if grows is None:
            deltas.append({"reasoning_details": [entry]})
            continue
        head = {k: v for k, v in entry.items() if k not in (grows, "signature")}
        value = entry[grows]
        for at in range(0, max(len(value), 1), size):  # an empty entry still comes once
            piece = value[at : at + size]
            delta: dict[str, Any] = {"reasoning_details": [{**head, grows: piece}]}
            if grows == "text":
                delta["reasoning"] = piece
            deltas.append(delta)
        if "signature" in entry:
            sig = {"type": entry["type"], "signature": entry["signature"], "index": entry["index"]}
            deltas.append({"reasoning_details": [sig]})
    return deltas


@pytest.mark.parametrize("entries", [CLAUDE_DETAILS, OPENAI_DETAILS], ids=["claude", "openai"])
@pytest.mark.parametrize("size", [1, 3, 100])
def test_fidelity_28_streamed_reasoning_details_agree_with_the_whole_answer(
    entries: list[dict[str, Any]], size: int
) -> None:
    streamed = decode_stream([*_fragments(entries, size), {"content": "42"}])
    whole = decode_whole({"content": "42", "reasoning_details": entries})
    assert streamed.content == whole.content
    (thinking, _) = streamed.content
    assert isinstance(thinking, ThinkingPart)
    assert thinking.extras["chat"]["_details"] == entries  # the signature and data whole


ENTRIES = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("reasoning.text"), "text": st.text(max_size=12)},
            optional={"signature": st.text(min_size=1, max_size=8), "format": st.just("x")},
        ),
        st.fixed_dictionaries(
            {"type": st.just("reasoning.summary"), "summary": st.text(max_size=12)},
            optional={"id": st.just("rs_1")},
        ),
        st.fixed_dictionaries(
            {"type": st.just("reasoning.encrypted"), "data": st.text(min_size=1, max_size=8)}
        ),
    ),
    min_size=1,
    max_size=5,
).map(lambda entries: [{**e, "index": k} for k, e in enumerate(entries)])


@given(entries=ENTRIES, size=st.integers(min_value=1, max_value=6))
def test_any_streamed_reasoning_details_agree_with_the_whole_answer(
    entries: list[dict[str, Any]], size: int
) -> None:
    streamed = decode_stream([*_fragments(entries, size), {"content": "ok"}])
    whole = decode_whole({"content": "ok", "reasoning_details": entries})
    assert streamed.content == whole.content
    assert streamed.content[0].extras["chat"]["_details"] == entries


def test_an_encrypted_entry_alone_opens_a_thinking_part() -> None:
    decoder = get_codec("chat").StreamDecoder(Context())
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_details": [OPENAI_DETAILS[1]]}),
        chunk({"content": "42", "reasoning_details": []}),
        chunk({}, "stop"),
    ]
    events = [e for f in frames(chunks) for e in decoder.feed(f)]
    starts = [e for e in events if isinstance(e, PartStart)]
    assert [type(e.part) for e in starts] == [ThinkingPart, TextPart]
    (stop,) = [e for e in events if isinstance(e, PartStop) and e.index == starts[0].index]
    assert isinstance(stop.part, ThinkingPart)
    assert stop.part.extras["chat"]["_details"] == [OPENAI_DETAILS[1]]


def test_the_plain_mirror_beside_reasoning_details_is_not_read_twice() -> None:
    deltas = _fragments(CLAUDE_DETAILS, 4)
    (thinking,) = decode_stream(deltas).content
    assert isinstance(thinking, ThinkingPart)
    assert thinking.text == "First, the units."


CONTENTS = [
    "<think>Units first.</think>A furlong is 201 m.",
    "Sure. <think>a < b</think> and <thin k> stays text",
    "<think>cut off by the length limit",
    "no tags, a lone < and </think",
    "<think></think>empty block",
    "x<think>1</think>y<think>2</think>z",
]


@pytest.mark.parametrize("content", CONTENTS)
def test_fidelity_28_think_tags_cut_at_every_point_read_as_the_whole(content: str) -> None:
    whole = decode_whole({"content": content}).content
    for cut in range(1, len(content)):
        assert decode_stream(streamed_content(content, [cut])).content == whole, cut


PIECES = st.lists(
    st.sampled_from(["<think>", "</think>", "<", "<th", "ink>", "</", "a", "b c", "\n", "é"]),
    max_size=12,
).map("".join)


def reference(content: str) -> list[tuple[bool, str]]:
    """An independent reading of ``content``: a regular-expression split on the tags, where
    only the tag awaited (``<think>`` outside a block, ``</think>`` inside) switches."""
    out: list[tuple[bool, str]] = []
    inside = False
    for token in re.split(r"(<think>|</think>)", content):
        if token == ("</think>" if inside else "<think>"):
            inside = not inside
        elif token:
            if out and out[-1][0] == inside:
                out[-1] = (inside, out[-1][1] + token)
            else:
                out.append((inside, token))
    return out


@given(content=PIECES, cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=8))
def test_think_splitting_is_the_same_however_the_content_is_cut(
    content: str, cuts: list[int]
) -> None:
    splitter = ThinkSplitter()
    pieces: list[tuple[bool, str]] = []
    for delta in streamed_content(content, [c for c in cuts if c < len(content)]):
        pieces += splitter.feed(delta["content"])
    pieces += splitter.flush()
    joined: list[tuple[bool, str]] = []
    for thinking, text in pieces:
        if joined and joined[-1][0] == thinking:
            joined[-1] = (thinking, joined[-1][1] + text)
        else:
            joined.append((thinking, text))
    assert joined == reference(content)
    assert [(isinstance(p, ThinkingPart), p.text) for p in split_think(content)] == joined


@given(content=PIECES, cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=8))
def test_a_streamed_answer_agrees_with_the_whole_one(content: str, cuts: list[int]) -> None:
    whole = decode_whole({"content": content}).content if content else ()
    deltas = streamed_content(content, [c for c in cuts if c < len(content)])
    assert decode_stream(deltas).content == whole


# ---------------------------------------------------------------------------------- writing


THINKING_BLOCK = {"type": "thinking", "thinking": "Units first.", "signature": SIGNATURE}
TEXT_BLOCK = {"type": "text", "text": "A furlong is 201 m."}


def test_fidelity_28_each_reasoning_field_is_written_as_that_dialect() -> None:
    body = anthropic_request([THINKING_BLOCK, TEXT_BLOCK])
    out, _ = to_chat(body, "anthropic", "reasoning_content")
    assert assistant(out)["reasoning_content"] == "Units first."
    out, _ = to_chat(body, "anthropic", "reasoning")
    assert assistant(out)["reasoning"] == "Units first."
    assert "reasoning_content" not in assistant(out)
    out, _ = to_chat(body, "anthropic", "think")
    assert assistant(out)["content"] == "<think>Units first.</think>A furlong is 201 m."
    out, lost = to_chat(body, "anthropic", "reasoning_details")
    assert assistant(out)["reasoning_details"] == [
        {
            "type": "reasoning.text",
            "text": "Units first.",
            "signature": SIGNATURE,
            "format": "anthropic-claude-v1",
            "index": 0,
        }
    ]
    assert not [f for f in lost if "signature" in f]  # carried, not lost


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "think"])
def test_a_text_dialect_reports_the_signature_it_cannot_carry(field: str) -> None:
    _, lost = to_chat(anthropic_request([THINKING_BLOCK, TEXT_BLOCK]), "anthropic", field)
    assert "messages[1].content[0].signature" in lost


def test_redacted_thinking_travels_as_an_encrypted_entry() -> None:
    redacted = {"type": "redacted_thinking", "data": REDACTED}
    body = anthropic_request([THINKING_BLOCK, redacted, TEXT_BLOCK])
    out, lost = to_chat(body, "anthropic", "reasoning_details")
    assert assistant(out)["reasoning_details"][1] == {
        "type": "reasoning.encrypted",
        "data": REDACTED,
        "format": "anthropic-claude-v1",
        "index": 1,
    }
    assert lost == []
    _, lost = to_chat(body, "anthropic", "reasoning_content")
    assert "messages[1].content[1]" in lost


def test_openai_encrypted_reasoning_travels_as_an_encrypted_entry() -> None:
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": "q"},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Checked the units."}],
                "encrypted_content": ENCRYPTED,
            },
            {"role": "user", "content": "more"},
        ],
    }
    out, lost = to_chat(body, "responses", "reasoning_details")
    assert assistant(out)["reasoning_details"] == OPENAI_DETAILS
    assert lost == []


def test_without_a_reasoning_field_each_message_keeps_its_spelling() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a", "reasoning": "r1"},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "b", "reasoning_content": "r2"},
            {"role": "user", "content": "q3"},
        ],
    }
    out, _ = to_chat(body, "chat", None)
    assert out["messages"] == body["messages"]
    out, _ = to_chat(body, "chat", "reasoning_content")
    said = [m.get("reasoning_content") for m in out["messages"] if m["role"] == "assistant"]
    assert said == ["r1", "r2"]
    assert all("reasoning" not in m for m in out["messages"])


def test_convert_request_takes_the_reasoning_field() -> None:
    body = anthropic_request([THINKING_BLOCK, TEXT_BLOCK])
    out = apibridge.convert_request(
        body, source="anthropic", target="chat", reasoning_field="think", losses=[]
    )
    assert assistant(out)["content"].startswith("<think>Units first.</think>")
    with pytest.raises(ValueError, match="reasoning_field"):
        apibridge.convert_request(body, source="anthropic", target="chat", reasoning_field="x")


# ---------------------------------------------------------------------- through other clients


def _anthropic_answer(message: dict[str, Any]) -> dict[str, Any]:
    out = apibridge.convert_response(chat_answer(message), source="chat", target="anthropic")
    validate_response("anthropic", out)
    return out


@pytest.mark.parametrize("entries", [CLAUDE_DETAILS, OPENAI_DETAILS], ids=["claude", "openai"])
@pytest.mark.parametrize("field", [None, "reasoning_details"])
def test_fidelity_28_reasoning_details_replay_through_an_anthropic_client(
    entries: list[dict[str, Any]], field: str | None
) -> None:
    answer = _anthropic_answer({"content": "42", "reasoning_details": entries})
    thinking = answer["content"][0]
    assert thinking["type"] == "thinking"
    assert thinking["signature"].startswith("abr1.")
    body = anthropic_request(answer["content"])
    validate_request("anthropic", body)
    out, lost = to_chat(body, "anthropic", field)
    assert assistant(out)["reasoning_details"] == entries
    assert assistant(out)["content"] == "42"
    assert lost == []


def test_reasoning_details_replay_through_a_responses_client() -> None:
    message = {"content": "42", "reasoning_details": CLAUDE_DETAILS}
    answer = apibridge.convert_response(chat_answer(message), source="chat", target="responses")
    validate_response("responses", answer)
    body = {"model": "m", "input": [{"role": "user", "content": "q"}, *answer["output"]]}
    validate_request("responses", body)
    out, lost = to_chat(body, "responses", None)
    assert assistant(out)["reasoning_details"] == CLAUDE_DETAILS
    assert lost == []


def test_think_tags_replay_through_an_anthropic_client() -> None:
    content = "<think>Units first.</think>A furlong is 201 m."
    answer = _anthropic_answer({"content": content})
    assert [b["type"] for b in answer["content"]] == ["thinking", "text"]
    body = anthropic_request(answer["content"])
    out, lost = to_chat(body, "anthropic", None)
    assert assistant(out)["content"] == content
    assert lost == []
    out, _ = to_chat(body, "anthropic", "reasoning_content")
    assert assistant(out)["reasoning_content"] == "Units first."
    assert assistant(out)["content"] == "A furlong is 201 m."


# ------------------------------------------------------------------- a Chat client, streamed


def _chat_stream(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    data = b"".join(apibridge.convert_stream([sse_bytes(chunks)], source="chat", target="chat"))
    final_from_stream("chat", data)  # the SDK's stream helper takes it
    return [
        json.loads(line[6:])["choices"][0]["delta"]
        for line in data.decode().splitlines()
        if line.startswith("data: {") and json.loads(line[6:]).get("choices")
    ]


@pytest.mark.parametrize("content", CONTENTS)
def test_a_chat_client_streams_think_tags_as_they_came(content: str) -> None:
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk(d) for d in streamed_content(content, [3, 9, 17])] + [chunk({}, "stop")]
    deltas = _chat_stream(chunks)
    said = "".join(d.get("content") or "" for d in deltas)
    whole = apibridge.convert_response(
        chat_answer({"content": content}), source="chat", target="chat"
    )
    assert said == whole["choices"][0]["message"]["content"]  # stream and whole agree
    if content.count("<think>") == content.count("</think>") and "<think></think>" not in content:
        assert said == content  # exact, but for a block cut off by the end or an empty one


def test_a_chat_client_streams_reasoning_details_whole_at_the_part_end() -> None:
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk(d) for d in _fragments(CLAUDE_DETAILS, 4)]
    chunks += [chunk({"content": "42"}), chunk({}, "stop")]
    deltas = _chat_stream(chunks)
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == "First, the units."
    (entries,) = [d["reasoning_details"] for d in deltas if "reasoning_details" in d]
    assert entries == CLAUDE_DETAILS


@pytest.mark.parametrize("content", ["Let me check <", "<think>plan</think>Calling <", "a </"])
def test_a_tail_held_back_as_maybe_a_tag_stays_before_the_tool_call(content: str) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    whole = decode_whole({"content": content, "tool_calls": [call]})
    streamed = decode_stream([{"content": content}, {"tool_calls": [{"index": 0, **call}]}])
    assert streamed.content == whole.content
    assert streamed.content[-2] == TextPart(text=content.rsplit(">", 1)[-1])


def _replayed(target: str, chunks: list[dict[str, Any]]) -> tuple[dict[str, Any], list]:
    """The Chat upstream's stream through a ``target`` client (its SDK accumulating it), and
    that client's next request back to the upstream: the assistant message and the losses."""
    data = b"".join(apibridge.convert_stream([sse_bytes(chunks)], source="chat", target=target))
    final = final_from_stream(target, data)
    if target == "anthropic":
        content = [block.model_dump(exclude_none=True) for block in final.content]
        out, lost = to_chat(anthropic_request(content), "anthropic", None)
    else:
        items = [item.model_dump(exclude_none=True) for item in final.output]
        body = {"model": "m", "input": [{"role": "user", "content": "q"}, *items]}
        validate_request("responses", body)
        out, lost = to_chat(body, "responses", None)
    return assistant(out), lost


@pytest.mark.parametrize("target", ["anthropic", "responses"])
@pytest.mark.parametrize("entries", [CLAUDE_DETAILS, OPENAI_DETAILS], ids=["claude", "openai"])
def test_fidelity_28_streamed_reasoning_details_replay_through_either_client(
    target: str, entries: list[dict[str, Any]]
) -> None:
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk(d) for d in _fragments(entries, 5)]
    chunks += [chunk({"content": "42"}), chunk({}, "stop")]
    message, lost = _replayed(target, chunks)
    assert message["reasoning_details"] == entries
    assert lost == []


@pytest.mark.parametrize("target", ["anthropic", "responses"])
def test_streamed_think_tags_replay_through_either_client(target: str) -> None:
    content = "<think>Units first.</think>A furlong is 201 m."
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk(d) for d in streamed_content(content, [4, 12, 30])] + [chunk({}, "stop")]
    message, lost = _replayed(target, chunks)
    assert message["content"] == content
    assert lost == []


def test_a_chat_clients_reasoning_details_reach_a_chat_upstream_as_they_came() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "42", "reasoning_details": OPENAI_DETAILS},
            {"role": "user", "content": "more"},
        ],
    }
    for field in (None, "reasoning_details"):
        out, lost = to_chat(body, "chat", field)
        assert out["messages"] == body["messages"]
        assert lost == []
    out, lost = to_chat(body, "chat", "reasoning_content")
    assert assistant(out)["reasoning_content"] == "Checked the units."  # the summary
    assert "messages[1].content[0].reasoning_details" in lost


# ------------------------------------------------------------- found in review (regressions)


@pytest.mark.parametrize(
    "data",
    [
        '[{"text": "x"}]',  # an entry without a type
        '[{"type": "reasoning.text", "text": 5}]',  # a text that is not a string
        '{"type": "reasoning.text"}',  # not a list
    ],
)
@pytest.mark.parametrize("field", [None, "reasoning_content", "reasoning_details", "think"])
def test_a_forged_chat_envelope_is_ignored_not_a_crash(data: str, field: str | None) -> None:
    """A thinking signature is client input: a ``chat`` envelope whose entries are not
    ``reasoning_details`` entries is ignored like any envelope that does not decode (it was
    a KeyError, a 500 through the gateway)."""
    from apibridge.codecs.envelope import Envelope, seal

    signature = seal(Envelope(origin="chat", kind="details", data=data))
    thinking = {"type": "thinking", "thinking": "t", "signature": signature}
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [thinking, {"type": "text", "text": "a"}]},
            {"role": "user", "content": "more"},
        ],
    }
    out = apibridge.convert_request(
        body, source="anthropic", target="chat", reasoning_field=field, losses=[]
    )
    assert out["messages"][1]["content"] in ("a", "<think>t</think>a")
    for entry in out["messages"][1].get("reasoning_details", []):
        assert isinstance(entry.get("type"), str)


def test_a_refusal_after_a_think_block_streams_the_finish_its_whole_answer_has() -> None:
    """``<think>`` text written back into ``content`` is reasoning, not an answer: a refusal
    after it is OpenAI's refusal shape in a stream as in the whole answer (``stop``)."""
    request = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
    deltas = [{"content": "<think>hm</think>"}, {"refusal": "no"}]
    chunks = [chunk({"role": "assistant", "content": ""})] + [chunk(d) for d in deltas]
    chunks.append(chunk({}, "stop"))
    streamed = b"".join(
        apibridge.convert_stream(
            [sse_bytes(chunks)], source="chat", target="chat", request=request, losses=[]
        )
    )
    finishes = [
        c["choices"][0]["finish_reason"]
        for f in streamed.split(b"\n\n")
        if f.startswith(b"data: {")
        for c in [json.loads(f[6:])]
        if c["choices"] and c["choices"][0].get("finish_reason")
    ]
    whole = apibridge.convert_response(
        chat_answer({"role": "assistant", "content": "<think>hm</think>", "refusal": "no"}),
        source="chat",
        target="chat",
        request=request,
        losses=[],
    )
    assert finishes == [whole["choices"][0]["finish_reason"]] == ["stop"]


def test_the_scores_of_a_lone_angle_bracket_token_are_kept() -> None:
    """A ``<`` token may open a ``<think>`` tag, so the splitter holds it back: its log
    probabilities go with it when it turns out to be text (they were dropped, and reported
    as reasoning's)."""

    def scored(text: str) -> dict[str, Any]:
        entry = {"token": text, "logprob": -0.1, "bytes": list(text.encode()), "top_logprobs": []}
        out = chunk({"content": text})
        out["choices"][0]["logprobs"] = {"content": [entry]}
        return out

    decoder = get_codec("chat").StreamDecoder(ctx := Context())
    chunks = [chunk({"role": "assistant", "content": ""}), scored("a"), scored("<")]
    chunks += [scored("b"), chunk({}, "stop")]
    events = [e for f in frames(chunks) for e in decoder.feed(f)] + decoder.close()
    tokens = [s["token"] for e in events if isinstance(e, PartDelta) for s in e.logprobs]
    text = "".join(e.value for e in events if isinstance(e, PartDelta) and e.field == "text")
    assert text == "a<b"
    assert tokens == ["a", "<", "b"]
    assert ctx.losses == []


def test_plain_reasoning_beside_open_reasoning_details_is_in_the_final_part() -> None:
    """OpenRouter sends ``reasoning`` beside ``reasoning_details``; a chunk with only the
    plain text still belongs to the open part, whole as well as in its deltas."""
    decoder = get_codec("chat").StreamDecoder(ctx := Context())
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning": "a", "reasoning_details": [{"type": "reasoning.text", "text": "a"}]}),
        chunk({"reasoning": "b"}),
        chunk({"content": "done"}),
        chunk({}, "stop"),
    ]
    events = [e for f in frames(chunks) for e in decoder.feed(f)] + decoder.close()
    streamed = "".join(
        e.value for e in events if isinstance(e, PartDelta) and e.field == "thinking"
    )
    (final,) = [e.part for e in events if isinstance(e, PartStop) and e.part is not None]
    assert isinstance(final, ThinkingPart)
    assert streamed == final.text == "ab"
    assert ctx.losses == []
