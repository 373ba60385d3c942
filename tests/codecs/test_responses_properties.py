"""Property tests for the Responses codec (Hypothesis, modest sizes).

* same-format round trip: ``encode(decode(x)) == x`` for generated requests and answers;
* stream trip: an answer written as a stream by the encoder and read back by the decoder
  folds to the same canonical answer;
* state x input: any sequence of canonical events drives the stream encoder to a valid stream
  with exactly one terminal event; any well-formed JSON frame leaves the stream decoder
  advancing or ending with a ``StreamError``, never raising.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from test_responses_stream import check_grammar, decode, encode

from apibridge._sse import SSEFrame
from apibridge.codecs import Context
from apibridge.codecs import responses as codec
from apibridge.errors import ERROR_KINDS, ApiError
from apibridge.model import (
    STOP_REASONS,
    Citation,
    Event,
    ImagePart,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    Ping,
    RedactedThinkingPart,
    RefusalPart,
    ServerToolPart,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
    accumulate,
)

text = st.text(max_size=12)
word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
ident = word.map(lambda w: f"id_{w}")
args = st.dictionaries(word, st.integers(-1000, 1000) | text, max_size=2).map(
    lambda d: orjson.dumps(d).decode()
)
maybe = st.booleans()


def optional(base: dict[str, Any], **extra: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``base`` with any subset of ``extra`` keys drawn."""
    return st.fixed_dictionaries(base, optional=extra)


# ------------------------------------------------------------------------------ requests

input_text = optional(
    {"type": st.just("input_text"), "text": text},
    prompt_cache_breakpoint=st.just({"mode": "explicit"}),
)
input_image = optional(
    {"type": st.just("input_image")},
    image_url=st.sampled_from(["https://example.com/a.png", "data:image/png;base64,iVBORw0KGgo="]),
    file_id=st.just("file-abc"),
    detail=st.sampled_from(["low", "high", "auto"]),
)
input_file = st.one_of(
    st.fixed_dictionaries({"type": st.just("input_file"), "file_id": st.just("file-1")}),
    st.fixed_dictionaries(
        {
            "type": st.just("input_file"),
            "filename": st.just("a.pdf"),
            "file_data": st.sampled_from(["data:application/pdf;base64,JVBE", "JVBERi0x"]),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("input_file"), "file_url": st.just("https://example.com/b.pdf")}
    ),
)
url_citation = st.fixed_dictionaries(
    {
        "type": st.just("url_citation"),
        "url": st.just("https://example.com"),
        "title": text,
        "start_index": st.integers(0, 5),
        "end_index": st.integers(5, 9),
    }
)
output_text = optional(
    {"type": st.just("output_text"), "text": text},
    annotations=st.lists(url_citation, max_size=2),
    logprobs=st.just([]),
)
refusal = st.fixed_dictionaries({"type": st.just("refusal"), "refusal": text})


def message(role: str, entry: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return optional(
        {"role": st.just(role), "content": text | st.lists(entry, max_size=3)},
        type=st.just("message"),
        id=ident,
        status=st.just("completed"),
    )


function_call = optional(
    {"type": st.just("function_call"), "call_id": ident, "name": word, "arguments": args},
    id=ident,
    status=st.just("completed"),
)
custom_call = optional(
    {"type": st.just("custom_tool_call"), "call_id": ident, "name": word, "input": text},
    id=ident,
)
function_output = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["function_call_output", "custom_tool_call_output"]),
        "call_id": ident,
        "output": text | st.lists(input_text | input_image, max_size=2),
    }
)
reasoning = optional(
    {
        "type": st.just("reasoning"),
        "summary": st.lists(
            st.fixed_dictionaries({"type": st.just("summary_text"), "text": text}), max_size=2
        ),
    },
    id=ident,
    encrypted_content=st.just("gAAAA-opaque"),
    content=st.lists(
        st.fixed_dictionaries({"type": st.just("reasoning_text"), "text": text}), max_size=2
    ),
)
web_search = st.fixed_dictionaries(
    {
        "type": st.just("web_search_call"),
        "id": ident,
        "status": st.just("completed"),
        "action": st.fixed_dictionaries({"type": st.just("search"), "query": text}),
    }
)
reference = st.fixed_dictionaries({"type": st.just("item_reference"), "id": ident})

input_item = st.one_of(
    message("user", input_text | input_image | input_file),
    message("developer", input_text),
    message("system", input_text),
    message("assistant", output_text | refusal),
    function_call,
    custom_call,
    function_output,
    reasoning,
    web_search,
    reference,
)
tool = st.one_of(
    optional(
        {"type": st.just("function"), "name": word},
        description=text,
        parameters=st.just({"type": "object"}),
        strict=maybe,
    ),
    optional(
        {"type": st.just("custom"), "name": word},
        format=st.just({"type": "grammar", "syntax": "lark", "definition": "start: x"}),
    ),
    st.just({"type": "web_search", "search_context_size": "low"}),
    st.just({"type": "file_search", "vector_store_ids": ["vs_1"]}),
)
tool_choice = st.one_of(
    st.sampled_from(["auto", "none", "required"]),
    st.builds(lambda n: {"type": "function", "name": n}, word),
    st.builds(lambda n: {"type": "custom", "name": n}, word),
    st.just({"type": "file_search"}),
    st.builds(
        lambda m, n: {
            "type": "allowed_tools",
            "mode": m,
            "tools": [{"type": "function", "name": n}],
        },
        st.sampled_from(["auto", "required"]),
        word,
    ),
)
text_config = optional(
    {},
    format=st.one_of(
        st.just({"type": "text"}),
        st.just({"type": "json_object"}),
        optional(
            {"type": st.just("json_schema"), "name": word, "schema": st.just({})},
            strict=maybe,
            description=text,
        ),
    ),
    verbosity=st.sampled_from(["low", "medium", "high"]),
)
requests = optional(
    {"model": word},
    input=text | st.lists(input_item, max_size=6),
    instructions=text,
    tools=st.lists(tool, max_size=3),
    tool_choice=tool_choice,
    parallel_tool_calls=maybe,
    temperature=st.floats(0, 2),
    top_p=st.floats(0, 1),
    max_output_tokens=st.integers(1, 10_000),
    top_logprobs=st.integers(0, 5),
    reasoning=optional(
        {},
        effort=st.sampled_from(["none", "minimal", "low", "high"]),
        summary=st.sampled_from(["auto", "concise"]),
    ),
    text=text_config,
    stream=maybe,
    store=maybe,
    include=st.lists(
        st.sampled_from(["reasoning.encrypted_content", "message.output_text.logprobs"]),
        max_size=2,
        unique=True,
    ),
    metadata=st.dictionaries(word, text, max_size=2),
    user=word,
    safety_identifier=word,
    previous_response_id=ident,
    x_vendor=st.integers(-1000, 1000),
)


@given(requests)
def test_request_round_trip(body: dict[str, Any]) -> None:
    ctx = Context()
    assert codec.encode_request(codec.decode_request(body, ctx), ctx) == body
    assert ctx.losses == []


# ------------------------------------------------------------------------------- answers

output_message = st.fixed_dictionaries(
    {
        "id": ident,
        "type": st.just("message"),
        "status": st.just("completed"),
        "role": st.just("assistant"),
        "content": st.lists(output_text | refusal, max_size=3),
    }
)
output_item = st.one_of(
    output_message,
    optional(
        {
            "type": st.just("function_call"),
            "id": ident,
            "call_id": ident,
            "name": word,
            "arguments": args,
            "status": st.just("completed"),
        }
    ),
    optional(
        {
            "type": st.just("custom_tool_call"),
            "id": ident,
            "call_id": ident,
            "name": word,
            "input": text,
        },
        status=st.just("completed"),
    ),
    optional(
        {
            "type": st.just("reasoning"),
            "id": ident,
            "summary": st.lists(
                st.fixed_dictionaries({"type": st.just("summary_text"), "text": text}), max_size=2
            ),
        },
        encrypted_content=st.just("gAAAA-opaque"),
    ),
    web_search,
)
counts = st.integers(0, 1000)
usage = st.builds(
    lambda i, c, o, r: {
        "input_tokens": i + c,
        "input_tokens_details": {"cached_tokens": c, "cache_write_tokens": 0},
        "output_tokens": o,
        "output_tokens_details": {"reasoning_tokens": r},
        "total_tokens": i + c + o,
    },
    counts,
    counts,
    counts,
    counts,
)
status = st.sampled_from(
    [
        ("completed", None),
        ("incomplete", {"reason": "max_output_tokens"}),
        ("incomplete", {"reason": "content_filter"}),
        ("in_progress", None),
    ]
)
answers = st.builds(
    lambda base, st_, extra: {**base, "status": st_[0], "incomplete_details": st_[1], **extra},
    st.fixed_dictionaries(
        {
            "id": ident,
            "object": st.just("response"),
            "created_at": st.integers(1, 2**31),
            "error": st.none(),
            "model": word,
            "output": st.lists(output_item, max_size=4),
            "tools": st.just([]),
            "tool_choice": st.just("auto"),
            "parallel_tool_calls": maybe,
            "usage": st.none() | usage,
        }
    ),
    status,
    optional(
        {},
        temperature=st.floats(0, 2),
        store=maybe,
        metadata=st.just({}),
        x_vendor=st.integers(-1000, 1000),
        service_tier=st.just("default"),
    ),
)


@given(answers)
def test_answer_round_trip(body: dict[str, Any]) -> None:
    ctx = Context()
    assert codec.encode_response(codec.decode_response(body, ctx), ctx) == body


def _annotated(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as the SDK types want a streamed answer: every output_text annotated."""
    for item in body["output"]:
        for entry in item.get("content") or []:
            if entry.get("type") == "output_text":
                entry.setdefault("annotations", [])
    return body


@given(answers.map(_annotated))
def test_answer_survives_a_trip_through_our_own_stream(body: dict[str, Any]) -> None:
    if body["status"] == "in_progress":
        body = {**body, "status": "completed"}
    response = codec.decode_response(body, Context())
    events: list[Event] = [
        MessageStart(id=response.id, model=response.model, created=response.created)
    ]
    for index, part in enumerate(response.content):
        events += [PartStart(index=index, part=part), PartStop(index=index, part=part)]
    events += [
        MessageDelta(
            stop_reason=response.stop_reason, usage=response.usage, extras=response.extras
        ),
        MessageStop(),
    ]
    data = encode(events)
    payload = check_grammar(data)
    assert payload[-1]["response"]["output"] == body["output"]
    assert accumulate(decode([data])) == response


# ------------------------------------------------------------------------- state x input

parts = st.one_of(
    st.builds(TextPart, text=text),
    st.builds(RefusalPart, text=text),
    st.builds(
        ToolCallPart,
        id=ident,
        name=word,
        arguments=st.just("") | args,
        kind=st.sampled_from(["function", "custom"]),
    ),
    st.builds(
        ThinkingPart,
        text=text,
        signature=st.none() | word,
        summary=st.lists(text, max_size=2).map(tuple),
    ),
    st.builds(RedactedThinkingPart, data=word),
    st.just(
        ServerToolPart(
            kind="web_search_call",
            source_format="responses",
            raw={
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"type": "search"},
            },
        )
    ),
    st.just(
        ServerToolPart(
            kind="server_tool_use",
            source_format="anthropic",
            tool="web_search",
            raw={"type": "server_tool_use", "input": {"query": "q"}},
        )
    ),
    st.builds(ImagePart, url=st.just("https://example.com/i.png")),
)
index = st.integers(0, 3)
events = st.one_of(
    st.builds(MessageStart, id=ident, model=word),
    st.builds(PartStart, index=index, part=parts),
    st.builds(
        PartDelta,
        index=index,
        field=st.sampled_from(["text", "arguments", "thinking", "signature", "summary"]),
        value=text,
        summary_index=st.integers(0, 2),
    ),
    st.builds(
        PartDelta,
        index=index,
        field=st.just("citation"),
        citation=st.builds(Citation, kind=word, url=st.none() | st.just("https://e.x")),
    ),
    st.builds(PartStop, index=index, part=st.none() | parts),
    st.builds(
        MessageDelta,
        stop_reason=st.none() | st.sampled_from(sorted(STOP_REASONS)),
        usage=st.none() | st.builds(Usage, input_tokens=counts, output_tokens=counts),
    ),
    st.builds(MessageStop),
    st.builds(Ping),
    st.builds(
        lambda k, m: StreamError(error=ApiError.of(k, m)),
        st.sampled_from(sorted(ERROR_KINDS)),
        text,
    ),
)


@given(st.lists(events, max_size=14))
def test_encoder_any_event_sequence_gives_one_valid_stream(sequence: list[Event]) -> None:
    check_grammar(encode(sequence))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 5) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(word, inner, max_size=3),
    max_leaves=8,
)
event_types = st.sampled_from(
    [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_text.delta",
        "response.output_text.done",
        "response.output_text.annotation.added",
        "response.refusal.delta",
        "response.refusal.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.custom_tool_call_input.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.output_item.done",
        "response.completed",
        "response.incomplete",
        "response.failed",
        "error",
        "response.unknown",
    ]
)
items = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "message",
                "function_call",
                "custom_tool_call",
                "reasoning",
                "web_search_call",
                "mystery",
            ]
        )
    },
    optional={
        "id": word | json_values,
        "role": st.just("assistant"),
        "name": word | json_values,
        "call_id": word,
        "arguments": text | json_values,
        "content": json_values,
        "summary": json_values,
    },
)
frames = st.fixed_dictionaries(
    {"type": event_types},
    optional={
        "output_index": st.integers(-1, 3) | json_values,
        "content_index": st.integers(0, 2) | json_values,
        "summary_index": st.integers(0, 2) | json_values,
        "item_id": word | json_values,
        "item": items | json_values,
        "part": json_values,
        "delta": text | json_values,
        "text": text | json_values,
        "arguments": text | json_values,
        "annotation": json_values,
        "response": st.fixed_dictionaries(
            {},
            optional={
                "id": word | json_values,
                "status": json_values,
                "output": st.lists(items, max_size=2) | json_values,
                "usage": json_values,
                "error": json_values,
            },
        )
        | json_values,
        "code": json_values,
        "message": json_values,
    },
)


@given(st.lists(frames, max_size=12))
def test_decoder_never_raises_on_well_formed_json(sequence: list[dict[str, Any]]) -> None:
    decoder = codec.StreamDecoder(Context())
    out: list[Event] = []
    for frame in sequence:
        out += decoder.feed(SSEFrame(data=orjson.dumps(frame).decode()))
    out += decoder.close()
    ends = [e for e in out if isinstance(e, (StreamError, MessageStop))]
    assert len(ends) == 1
    assert out[-1] is ends[0]


@given(st.lists(events.filter(lambda e: not isinstance(e, PartStop | MessageStop)), max_size=14))
def test_stream_failing_before_any_part_stops_says_nothing_done(sequence: list[Event]) -> None:
    """No part stopped, the answer never finished: not one ``.done`` event, whatever came (a
    failure, or an end without one), and every item ``incomplete`` in ``response.failed``."""
    payload = check_grammar(encode(sequence))
    assert payload[-1]["type"] == "response.failed"
    assert not [e["type"] for e in payload if e["type"].endswith(".done")]
    assert {i.get("status") for i in payload[-1]["response"]["output"]} <= {"incomplete"}
