"""Hypothesis properties of the Anthropic codec over generated Messages payloads.

* same-format round trip: ``encode(decode(x)) == x`` for generated requests and responses,
  every spelling and unknown field included;
* what the encoders write validates with the official SDK types;
* a generated answer, streamed through the stream encoder and decoded again, accumulates to
  the answer itself, and the SDK's accumulator agrees with ``encode_response``.

Sizes are kept modest (the ``ci`` profile runs 100 examples per property).
"""

from __future__ import annotations

import itertools
from typing import Any

import attrs
from hypothesis import assume, given
from hypothesis import strategies as st
from test_anthropic import check_stream_against_sdk, decode_sse, encode_events, normalised

from apibridge.codecs import anthropic as codec
from apibridge.codecs._context import Context
from apibridge.codecs.anthropic import _wire as wire
from apibridge.model import (
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    RedactedThinkingPart,
    Response,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    accumulate,
)
from oracles import validate_response

# ------------------------------------------------------------------------------ values

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,15}", fullmatch=True)
opaque = st.from_regex(r"[A-Za-z0-9+/]{8,24}={0,2}", fullmatch=True)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | words
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(words, json_values, max_size=3)
#: Unknown fields a future API version might add (never a known field's name).
unknown = st.dictionaries(st.from_regex(r"x_[a-z]{1,6}", fullmatch=True), json_values, max_size=2)
cache = st.sampled_from([{"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}])


@st.composite
def optional(
    draw: st.DrawFn, base: dict[str, Any], **fields: st.SearchStrategy[Any]
) -> dict[str, Any]:
    """``base`` with a random subset of ``fields`` and maybe some unknown fields."""
    out = dict(base)
    for key, strategy in fields.items():
        if draw(st.booleans()):
            out[key] = draw(strategy)
    out.update(draw(unknown))
    return out


citations = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("char_location"),
            "cited_text": words,
            "document_index": st.integers(0, 3),
            "document_title": words | st.none(),
            "start_char_index": st.integers(0, 50),
            "end_char_index": st.integers(50, 99),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("web_search_result_location"),
            "cited_text": words,
            "url": st.just("https://example.com/x"),
            "title": words | st.none(),
            "encrypted_index": opaque,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("search_result_location"),
            "cited_text": words,
            "source": words,
            "title": words | st.none(),
            "search_result_index": st.integers(0, 3),
            "start_block_index": st.integers(0, 3),
            "end_block_index": st.integers(0, 3),
        }
    ),
)


@st.composite
def text_block(draw: st.DrawFn) -> dict[str, Any]:
    block = draw(
        optional(
            {"type": "text"},
            citations=st.lists(citations, max_size=2) | st.none(),
            cache_control=cache | st.none(),
        )
    )
    block["text"] = draw(words)
    return block


sources_image = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("base64"),
            "media_type": st.sampled_from(["image/png", "image/jpeg"]),
            "data": opaque,
        }
    ),
    st.fixed_dictionaries({"type": st.just("url"), "url": st.just("https://example.com/a.png")}),
    st.fixed_dictionaries({"type": st.just("file"), "file_id": names}),
)
sources_document = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("base64"), "media_type": st.just("application/pdf"), "data": opaque}
    ),
    st.fixed_dictionaries(
        {"type": st.just("text"), "media_type": st.just("text/plain"), "data": words}
    ),
    st.fixed_dictionaries({"type": st.just("url"), "url": st.just("https://example.com/a.pdf")}),
    st.fixed_dictionaries({"type": st.just("file"), "file_id": names}),
    st.fixed_dictionaries(
        {
            "type": st.just("content"),
            "content": st.lists(
                st.fixed_dictionaries({"type": st.just("text"), "text": words}), max_size=2
            )
            | words,
        }
    ),
)


@st.composite
def image_block(draw: st.DrawFn) -> dict[str, Any]:
    return draw(optional({"type": "image", "source": draw(sources_image)}, cache_control=cache))


@st.composite
def document_block(draw: st.DrawFn) -> dict[str, Any]:
    base = {"type": "document", "source": draw(sources_document)}
    return draw(
        optional(
            base,
            title=words | st.none(),
            context=words | st.none(),
            citations=st.fixed_dictionaries({"enabled": st.booleans()}),
            cache_control=cache,
        )
    )


@st.composite
def tool_use_block(draw: st.DrawFn) -> dict[str, Any]:
    base = {
        "type": "tool_use",
        "id": "toolu_" + draw(names),
        "name": draw(names),
        "input": draw(json_objects),
    }
    return draw(optional(base, cache_control=cache))


@st.composite
def tool_result_block(draw: st.DrawFn) -> dict[str, Any]:
    base: dict[str, Any] = {"type": "tool_result", "tool_use_id": "toolu_" + draw(names)}
    content = st.one_of(
        words,
        st.lists(st.one_of(text_block(), image_block(), document_block()), max_size=3),
        st.lists(
            st.fixed_dictionaries({"type": st.just("tool_reference"), "tool_name": names}),
            min_size=1,
            max_size=1,
        ),
    )
    return draw(optional(base, content=content, is_error=st.booleans(), cache_control=cache))


@st.composite
def thinking_block(draw: st.DrawFn) -> dict[str, Any]:
    return {"type": "thinking", "thinking": draw(words), "signature": draw(opaque)}


server_blocks = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("server_tool_use"),
            "id": st.just("srvtoolu_01"),
            "name": st.sampled_from(["web_search", "web_fetch", "code_execution"]),
            "input": json_objects,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("web_search_tool_result"),
            "tool_use_id": st.just("srvtoolu_01"),
            "content": st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.just("web_search_result"),
                        "url": st.just("https://e.x"),
                        "title": words,
                        "encrypted_content": opaque,
                        "page_age": words | st.none(),
                    }
                ),
                max_size=2,
            ),
        }
    ),
    st.fixed_dictionaries({"type": st.just("container_upload"), "file_id": names}),
    st.fixed_dictionaries({"type": st.just("future_block"), "payload": json_values}),
)
redacted = st.builds(lambda d: {"type": "redacted_thinking", "data": d}, opaque)

user_blocks = st.one_of(
    text_block(), image_block(), document_block(), tool_result_block(), server_blocks
)
assistant_blocks = st.one_of(
    text_block(), tool_use_block(), thinking_block(), redacted, server_blocks
)


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 4))):
        role = (
            draw(st.sampled_from(["system"]))
            if draw(st.integers(0, 9)) == 0
            else ("user" if i % 2 == 0 else "assistant")
        )
        blocks = (
            text_block()
            if role == "system"
            else (user_blocks if role == "user" else assistant_blocks)
        )
        content = draw(words | st.lists(blocks, max_size=3))
        out.append(draw(optional({"role": role, "content": content})))
    return out


client_tool = st.builds(
    lambda name, schema, extra: {"name": name, "input_schema": schema, **extra},
    names,
    st.fixed_dictionaries({"type": st.just("object"), "properties": json_objects}),
    st.fixed_dictionaries(
        {},
        optional={
            "description": words,
            "strict": st.booleans(),
            "cache_control": cache,
            "type": st.just("custom"),
            "defer_loading": st.booleans(),
        },
    ),
)
server_tool = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("web_search_20250305"), "name": st.just("web_search")},
        optional={"max_uses": st.integers(1, 5), "allowed_domains": st.lists(words, max_size=2)},
    ),
    st.fixed_dictionaries({"type": st.just("bash_20250124"), "name": st.just("bash")}),
    st.fixed_dictionaries(
        {"type": st.just("code_execution_20250825"), "name": st.just("code_execution")}
    ),
)
tool_choice = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["auto", "any"])},
        optional={"disable_parallel_tool_use": st.booleans()},
    ),
    st.fixed_dictionaries(
        {"type": st.just("tool"), "name": names},
        optional={"disable_parallel_tool_use": st.booleans()},
    ),
    st.just({"type": "none"}),
)
thinking = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("enabled"), "budget_tokens": st.integers(1024, 32000)},
        optional={"display": st.sampled_from(["summarized", "omitted"])},
    ),
    st.just({"type": "adaptive"}),
    st.just({"type": "disabled"}),
    st.just({"type": "between_tools"}),
)
output_config = st.fixed_dictionaries(
    {},
    optional={
        "effort": st.sampled_from(["low", "medium", "high", "xhigh", "max"]),
        "format": st.fixed_dictionaries({"type": st.just("json_schema"), "schema": json_objects}),
        "x_new": json_values,
    },
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    base = {
        "model": draw(names),
        "messages": draw(messages()),
        "max_tokens": draw(st.integers(1, 64000)),
    }
    return draw(
        optional(
            base,
            system=words | st.lists(text_block(), max_size=3),
            temperature=st.floats(0, 1),
            top_p=st.floats(0, 1),
            top_k=st.integers(1, 500),
            stop_sequences=st.lists(words, max_size=3),
            stream=st.booleans(),
            tools=st.lists(client_tool | server_tool, max_size=3),
            tool_choice=tool_choice,
            thinking=thinking,
            output_config=output_config,
            metadata=st.fixed_dictionaries({}, optional={"user_id": words | st.none()}),
            service_tier=st.sampled_from(["auto", "standard_only"]),
            context_management=json_objects,
        )
    )


usage = st.fixed_dictionaries(
    {"input_tokens": st.integers(0, 10**6), "output_tokens": st.integers(0, 10**5)},
    optional={
        "cache_creation_input_tokens": st.integers(0, 10**6) | st.none(),
        "cache_read_input_tokens": st.integers(0, 10**6) | st.none(),
        "cache_creation": st.fixed_dictionaries(
            {
                "ephemeral_5m_input_tokens": st.integers(0, 99),
                "ephemeral_1h_input_tokens": st.integers(0, 99),
            }
        ),
        "server_tool_use": st.fixed_dictionaries(
            {"web_search_requests": st.integers(0, 9), "web_fetch_requests": st.integers(0, 9)}
        ),
        "service_tier": st.sampled_from(["standard", "priority", "batch"]),
        "output_tokens_details": st.fixed_dictionaries({"thinking_tokens": st.integers(0, 999)}),
    },
)


@st.composite
def responses(draw: st.DrawFn) -> dict[str, Any]:
    base = {
        "id": "msg_" + draw(names),
        "type": "message",
        "role": "assistant",
        "model": draw(names),
        "content": draw(st.lists(assistant_blocks, max_size=4)),
        "stop_reason": draw(st.sampled_from(sorted(codec.STOP_REASON_FROM_WIRE))),
        "stop_sequence": draw(st.none() | words.filter(bool)),
        "usage": draw(usage),
    }
    return draw(optional(base, container=st.none(), stop_details=st.none()))


# -------------------------------------------------------------------------- properties


@given(body=requests())
def test_request_round_trip_is_exact(body: dict[str, Any]) -> None:
    ctx = Context()
    out = codec.encode_request(codec.decode_request(body, ctx), ctx)
    assert out == body
    assert ctx.losses == []


@given(body=responses())
def test_response_round_trip_is_exact(body: dict[str, Any]) -> None:
    ctx = Context()
    out = codec.encode_response(codec.decode_response(body, ctx), ctx)
    if any(b["type"] == "tool_use" for b in body["content"]) and body["stop_reason"] not in (
        "max_tokens",
        "refusal",
        "pause_turn",
        "model_context_window_exceeded",
    ):
        body = {**body, "stop_reason": "tool_use"}  # a tool call always means tool_use
    assert out == body
    assert ctx.losses == []


@given(body=requests())
def test_foreign_path_requests_validate(body: dict[str, Any]) -> None:
    """Decoded and re-encoded *as if from another API* (normalised turns), the request is
    still one the SDK accepts whenever the original was well-formed enough to send."""
    request = codec.decode_request(body, Context())
    ctx = Context()
    out = codec.encode_request(attrs.evolve(request, extras={}), ctx)
    assert all(m["role"] in ("user", "assistant") for m in out["messages"])
    roles = [m["role"] for m in out["messages"]]
    assert all(a != b for a, b in itertools.pairwise(roles))  # merged turns
    for message in out["messages"]:
        if isinstance(message["content"], list) and message["role"] == "user":
            kinds = [b["type"] for b in message["content"]]
            assert kinds == sorted(kinds, key=lambda k: k != "tool_result")


def _events(response: Response) -> list[Event]:
    """A canonical stream for ``response``: each part opened empty, then grown."""
    events: list[Event] = [MessageStart(id=response.id, model=response.model, usage=response.usage)]
    for i, part in enumerate(response.content):
        if isinstance(part, TextPart):
            events.append(PartStart(index=i, part=attrs.evolve(part, text="", citations=())))
            events.extend(PartDelta(index=i, field="citation", citation=c) for c in part.citations)
            events.extend(
                PartDelta(index=i, field="text", value=part.text[j : j + 3])
                for j in range(0, len(part.text), 3)
            )
            events.append(PartStop(index=i))
        elif isinstance(part, ToolCallPart):
            events.append(PartStart(index=i, part=attrs.evolve(part, arguments="")))
            events.extend(
                PartDelta(index=i, field="arguments", value=part.arguments[j : j + 4])
                for j in range(0, len(part.arguments), 4)
            )
            events.append(PartStop(index=i))
        elif isinstance(part, ThinkingPart):
            events.append(PartStart(index=i, part=attrs.evolve(part, text="", signature=None)))
            events.append(PartDelta(index=i, field="thinking", value=part.text))
            events.append(PartDelta(index=i, field="signature", value=part.signature or ""))
            events.append(PartStop(index=i))
        else:
            events.extend([PartStart(index=i, part=part), PartStop(index=i)])
    events.append(
        MessageDelta(stop_reason=response.stop_reason, stop_sequence=response.stop_sequence)
    )
    events.append(MessageStop())
    return events


def _visible(response: Response) -> Response:
    """Empty text parts leave no block, unless an Anthropic body really had one."""
    kept = tuple(
        p
        for p in response.content
        if not isinstance(p, TextPart)
        or p.text
        or p.citations
        or wire.own_of(p.extras).get(wire.EMPTY_TEXT)
    )
    reason = response.stop_reason
    if any(isinstance(p, ToolCallPart) for p in kept) and reason not in wire.INTERRUPTED:
        reason = "tool_use"  # a tool call always means tool_use (FIDELITY 2)
    return attrs.evolve(response, content=kept, stop_reason=reason, usage=None, extras={})


def _without_hints(response: Response) -> Response:
    """Part extras differ between a body (its spelling hints) and a stream (none)."""
    plain = (TextPart, ToolCallPart, ThinkingPart, RedactedThinkingPart)
    content = tuple(
        attrs.evolve(p, extras={}) if isinstance(p, plain) else p for p in response.content
    )
    return attrs.evolve(response, content=content)


@given(body=responses())
def test_streamed_answer_decodes_to_the_answer(body: dict[str, Any]) -> None:
    # The SDK's message type only knows the documented block types.
    assume(all(b["type"] != "future_block" for b in body["content"]))
    response = codec.decode_response(body, Context())
    events = _events(response)
    check_stream_against_sdk(events)
    again = accumulate(decode_sse([encode_events(events)]))
    expected = _visible(response)
    got = attrs.evolve(again, usage=None, extras={})
    assert normalised(_without_hints(got)) == normalised(_without_hints(expected))
    assert all(
        not isinstance(p, ServerToolPart) or p.source_format == "anthropic" for p in got.content
    )


@given(body=responses())
def test_encoded_responses_validate(body: dict[str, Any]) -> None:
    assume(all(b["type"] != "future_block" for b in body["content"]))  # unknown to the SDK
    validate_response(
        "anthropic", codec.encode_response(codec.decode_response(body, Context()), Context())
    )
