"""Property tests for the ``chat`` codec: same-format round trips over generated payloads,
every stream state-by-input for the decoder and the encoder, chunking invariance and
stream/non-stream agreement over generated event streams."""

from __future__ import annotations

import json
import string
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai._models import construct_type
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from apibridge._sse import SSEDecoder, SSEFrame
from apibridge.codecs import Context, chat
from apibridge.errors import ApiError
from apibridge.model import (
    Citation,
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    Ping,
    RedactedThinkingPart,
    RefusalPart,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
    accumulate,
)

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

text = st.text(alphabet=string.ascii_letters + string.digits + " .,-_é😀\n", max_size=12)
nonempty = text.filter(bool)
name = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=8)
scalar = st.none() | st.booleans() | st.integers(-5, 5) | text
json_value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(name, inner, max_size=3),
    max_leaves=6,
)
unknown_key = st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=6).map(
    lambda s: "x_" + s
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value, ``None``, or absent (the marker ``...``)."""
    return st.one_of(strategy, st.none(), st.just(...))


def build(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not ...}


# ------------------------------------------------------------------------------ requests

text_part = st.builds(
    lambda t, extra: {"type": "text", "text": t, **extra},
    text,
    st.dictionaries(unknown_key, json_value, max_size=1),
)
image_url = st.one_of(
    st.just("https://example.com/a.png"),
    st.builds(
        lambda d: f"data:image/png;base64,{d}",
        st.text(alphabet=string.ascii_letters + "+/=", max_size=8),
    ),
)
image_part = st.one_of(
    st.builds(
        lambda url, detail, extra: {
            "type": "image_url",
            "image_url": build(url=url, detail=detail, **extra),
        },
        image_url,
        st.sampled_from(["low", "high", "auto", None, ...]),
        st.dictionaries(unknown_key, json_value, max_size=1),
    ),
    image_url.map(
        lambda url: {"type": "image_url", "image_url": url}
    ),  # some clients send the URL itself
)
file_part = st.builds(
    lambda data, file_id, filename, extra: {
        "type": "file",
        "file": build(file_data=data, file_id=file_id, filename=filename, **extra),
    },
    st.sampled_from(["data:application/pdf;base64,JVBERi0=", "JVBERi0=", ...]),
    st.sampled_from(["file-abc", ...]),
    st.sampled_from(["a.pdf", ...]),
    st.dictionaries(unknown_key, json_value, max_size=1),
)
audio_part = st.just({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}})
user_content = st.one_of(
    text,
    st.none(),
    st.just(...),
    st.lists(st.one_of(text_part, image_part, file_part, audio_part), max_size=4),
)
system_content = st.one_of(
    text, st.lists(text_part, max_size=3), st.lists(image_part, min_size=1, max_size=1)
)


@st.composite
def tool_call(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {
            "id": "call_" + draw(name),
            "type": "function",
            "function": {
                "name": draw(name),
                "arguments": draw(st.sampled_from(["{}", '{"a": 1}', "", "{bad"])),
            },
        }
    return {
        "id": "call_" + draw(name),
        "type": "custom",
        "custom": {"name": draw(name), "input": draw(text)},
    }


@st.composite
def assistant_message(draw: st.DrawFn) -> dict[str, Any]:
    content = draw(
        st.one_of(
            text,
            st.none(),
            st.just(...),
            st.lists(
                st.one_of(text_part, st.builds(lambda r: {"type": "refusal", "refusal": r}, text)),
                max_size=3,
            ),
        )
    )
    thought = draw(maybe(text))
    message = build(
        role="assistant",
        content=content,
        refusal=draw(maybe(text)),
        tool_calls=draw(st.one_of(st.just(...), st.just([]), st.lists(tool_call(), max_size=3))),
        reasoning_content=thought,
        reasoning=draw(
            st.one_of(st.just(...), st.none(), text, st.just(thought), st.just({"summary": "s"}))
        ),
        name=draw(st.one_of(st.just(...), name)),
    )
    if draw(st.booleans()):
        message["function_call"] = draw(st.sampled_from([None, {"name": "f", "arguments": "{}"}]))
    if content and not isinstance(content, str) and draw(st.booleans()):
        message["reasoning_content"] = {"not": "text"}
    if content and draw(st.booleans()):
        message["annotations"] = [
            {
                "type": "url_citation",
                "url_citation": {
                    "url": "https://a",
                    "title": "A",
                    "start_index": 0,
                    "end_index": 1,
                },
            },
            {"type": "file_citation", "file_citation": {"file_id": "f"}},
        ]
    message.update(draw(st.dictionaries(unknown_key, json_value, max_size=1)))
    return message


@st.composite
def chat_request(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 2))):
        messages.append(
            build(
                role=draw(st.sampled_from(["system", "developer"])),
                content=draw(system_content),
                name=draw(st.one_of(st.just(...), name)),
            )
        )
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["user", "assistant", "tool", "system", "function"]))
        if kind == "assistant":
            messages.append(draw(assistant_message()))
        elif kind == "tool":
            tool_content = draw(
                st.one_of(
                    text, st.just(...), st.lists(st.one_of(text_part, audio_part), max_size=2)
                )
            )
            extra = draw(
                st.dictionaries(st.sampled_from(["name", "x_meta"]), st.none() | name, max_size=1)
            )
            messages.append(
                build(role="tool", tool_call_id="call_" + draw(name), content=tool_content, **extra)
            )
        elif kind == "function":
            messages.append({"role": "function", "name": draw(name), "content": draw(text)})
        else:
            extra = draw(st.dictionaries(unknown_key, st.none() | json_value, max_size=1))
            messages.append(
                build(
                    role=kind,
                    content=draw(user_content),
                    name=draw(st.one_of(st.just(...), st.none(), name)),
                    **extra,
                )
            )
    tool_names = draw(st.lists(name, unique=True, max_size=3))
    kinds = {n: draw(st.sampled_from(["function", "custom"])) for n in tool_names}
    tools = [
        build(
            type=draw(st.sampled_from(["function", "function", ...])),
            function=build(
                name=n,
                description=draw(st.one_of(st.just(...), text)),
                parameters=draw(st.sampled_from([..., {"type": "object"}])),
                strict=draw(st.sampled_from([..., True, None])),
                **draw(st.dictionaries(unknown_key, json_value, max_size=1)),
            ),
        )
        if kinds[n] == "function"
        else {
            "type": "custom",
            "custom": build(name=n, format=draw(st.sampled_from([..., {"type": "text"}]))),
        }
        for n in tool_names
    ]
    if draw(st.booleans()):
        tools.append(
            {"type": "retrieval", "retrieval": {"index": "docs"}}
        )  # a vendor's own tool type
    choice: Any = draw(st.sampled_from(["auto", "none", "required", ...]))
    if tool_names and draw(st.booleans()):
        picked = draw(st.sampled_from(tool_names))
        spelled = draw(st.sampled_from([kinds[picked], "function"]))  # the kind may disagree
        choice = {"type": spelled, spelled: {"name": picked}}
        if draw(st.booleans()):
            allowed = draw(st.lists(st.sampled_from(tool_names), min_size=1, max_size=3))
            choice = {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": draw(st.sampled_from(["auto", "required"])),
                    "tools": [{"type": kinds[a], kinds[a]: {"name": a}} for a in allowed],
                },
            }
    schema_format = st.builds(
        lambda n, strict, desc, schema: {
            "type": "json_schema",
            "json_schema": build(name=n, schema=schema, strict=strict, description=desc),
        },
        name,
        st.sampled_from([..., True, False]),
        st.sampled_from([..., "d"]),
        st.sampled_from([{"type": "object"}, ..., None]),
    )
    body = build(
        model=draw(name),
        messages=messages,
        tools=tools if tools or draw(st.booleans()) else ...,
        tool_choice=choice,
        temperature=draw(st.one_of(st.just(...), st.none(), st.floats(0, 2), st.integers(0, 2))),
        top_p=draw(maybe(st.floats(0, 1))),
        top_k=draw(maybe(st.integers(1, 50))),
        max_tokens=draw(maybe(st.integers(1, 9999))),
        max_completion_tokens=draw(st.one_of(st.just(...), st.integers(1, 9999))),
        stop=draw(st.one_of(st.just(...), st.none(), text, st.lists(text, max_size=3))),
        n=draw(st.sampled_from([..., 1, 3])),
        stream=draw(st.sampled_from([..., True, False])),
        stream_options=draw(st.sampled_from([..., None, {"include_usage": True}])),
        response_format=draw(
            st.one_of(
                st.just(...),
                st.sampled_from([{"type": "text"}, {"type": "json_object"}]),
                schema_format,
            )
        ),
        reasoning_effort=draw(st.sampled_from([..., "none", "minimal", "low", "high", "max"])),
        user=draw(maybe(name)),
        safety_identifier=draw(st.sampled_from([..., "sid"])),
        metadata=draw(st.sampled_from([..., {"k": "v"}])),
        logprobs=draw(st.sampled_from([..., True])),
        top_logprobs=draw(st.sampled_from([..., 2])),
        parallel_tool_calls=draw(st.sampled_from([..., False])),
        web_search_options=draw(st.sampled_from([..., {}, {"search_context_size": "low"}])),
    )
    body.update(draw(st.dictionaries(unknown_key, json_value, max_size=2)))
    return body


@SETTINGS
@given(chat_request())
def test_generated_requests_round_trip_exactly(body: dict[str, Any]) -> None:
    ctx = Context()
    assert chat.encode_request(chat.decode_request(body, ctx), ctx) == body
    assert ctx.losses == []


# ----------------------------------------------------------------------------- responses


@st.composite
def chat_response(draw: st.DrawFn) -> dict[str, Any]:
    message = draw(assistant_message())
    message.pop("name", None)
    choice = build(
        index=0,
        message=message,
        finish_reason=draw(
            st.sampled_from(
                [
                    "stop",
                    "length",
                    "tool_calls",
                    "content_filter",
                    "function_call",
                    "abort",
                    None,
                    ...,
                ]
            )
        ),
        logprobs=draw(st.sampled_from([..., None, {"content": [], "refusal": None}])),
        stop_reason=draw(st.one_of(st.just(...), st.none(), text, st.integers(0, 9))),
        content_filter_results=draw(st.sampled_from([..., {}, {"hate": {"filtered": False}}])),
    )
    choice = {**choice, **draw(st.sampled_from([{}, {"index": 1}]))}
    if draw(st.booleans()):
        choice.pop("index")
    usage = build(
        prompt_tokens=draw(maybe(st.integers(0, 999))),
        completion_tokens=draw(st.integers(0, 99)),
        total_tokens=draw(st.integers(0, 999)),
        prompt_tokens_details=draw(
            st.sampled_from(
                [..., None, {"cached_tokens": 3}, {"cached_tokens": 0, "audio_tokens": 0}]
            )
        ),
        completion_tokens_details=draw(st.sampled_from([..., {"reasoning_tokens": 5}])),
        prompt_cache_hit_tokens=draw(st.sampled_from([..., 2])),
    )
    others = draw(
        st.lists(
            st.builds(
                lambda c: {
                    "index": 1,
                    "message": {"role": "assistant", "content": c},
                    "finish_reason": "stop",
                },
                text,
            ),
            max_size=1,
        )
    )
    body = build(
        id=draw(st.one_of(name, st.just(...))),
        object=draw(
            st.sampled_from(["chat.completion", "chat.completion", "chat.completion.vendor", ...])
        ),
        created=draw(st.one_of(st.just(...), st.none(), st.integers(0, 2**31))),
        model=draw(st.one_of(st.just(...), name)),
        choices=draw(
            st.sampled_from([[choice], [choice, *others], [choice]] if others else [[choice], []])
        ),
        usage=draw(st.one_of(st.just(...), st.none(), st.just(usage))),
        system_fingerprint=draw(maybe(name)),
        service_tier=draw(maybe(st.sampled_from(["default", "flex"]))),
    )
    body.update(draw(st.dictionaries(unknown_key, json_value, max_size=2)))
    return body


@SETTINGS
@given(chat_response())
def test_generated_responses_round_trip_exactly(body: dict[str, Any]) -> None:
    ctx = Context()
    assert chat.encode_response(chat.decode_response(body, ctx), ctx) == body
    assert ctx.losses == []


@SETTINGS
@given(
    st.one_of(
        json_value,
        st.binary(max_size=30),
        st.dictionaries(
            st.sampled_from(["error", "detail", "message", "type", "code"]), json_value
        ),
    ),
    st.integers(0, 599),
)
def test_decode_error_never_raises_on_any_body(body: Any, status: int) -> None:
    error = chat.decode_error(body, status)
    assert error.status >= 400
    assert error.message


# ---------------------------------------------------------------- stream decoder: state-by-input

tool_fragment = st.builds(
    build,
    index=st.one_of(st.just(...), st.integers(0, 2), st.none(), st.text(max_size=2)),
    id=st.one_of(st.just(...), st.none(), st.sampled_from(["a", "b", "c"])),
    type=st.sampled_from([..., "function", "custom"]),
    function=st.one_of(
        st.just(...),
        st.none(),
        st.builds(
            build,
            name=maybe(st.sampled_from(["f", "g"])),
            arguments=maybe(st.sampled_from(["{", "}", '{"a"', '{"a": 1}'])),
        ),
    ),
    custom=st.one_of(st.just(...), st.builds(build, name=maybe(st.just("c")), input=maybe(text))),
)
delta = st.builds(
    build,
    role=st.sampled_from([..., "assistant", None]),
    content=st.one_of(st.just(...), st.none(), text, st.integers()),
    reasoning_content=maybe(text),
    reasoning=maybe(text),
    refusal=maybe(text),
    tool_calls=st.one_of(
        st.just(...), st.none(), st.lists(tool_fragment, max_size=3), st.integers()
    ),
    function_call=st.one_of(
        st.just(...), st.builds(build, name=maybe(st.just("f")), arguments=maybe(st.just("{}")))
    ),
    annotations=st.one_of(
        st.just(...),
        st.lists(
            st.just(
                {
                    "type": "url_citation",
                    "url_citation": {"url": "u", "title": "t", "start_index": 0, "end_index": 1},
                }
            ),
            max_size=1,
        ),
        st.just([{"type": 3}]),
    ),
    audio=st.sampled_from([..., {"id": "a"}]),
)
usage_value = st.one_of(
    st.none(),
    st.just({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}),
    st.just({"prompt_tokens": "x"}),
    st.just(7),
)
stream_chunk = st.builds(
    build,
    id=maybe(st.sampled_from(["c1", ""])),
    object=st.just("chat.completion.chunk"),
    created=st.one_of(st.just(...), st.integers(0, 9), st.text(max_size=1)),
    model=maybe(st.just("m")),
    choices=st.one_of(
        st.just(...),
        st.none(),
        st.just(7),
        st.lists(
            st.builds(
                build,
                index=st.sampled_from([..., 0, 1]),
                delta=st.one_of(delta, st.none(), st.just(...), st.just("x")),
                finish_reason=st.sampled_from([..., None, "stop", "tool_calls", "length", 5]),
                logprobs=st.sampled_from([..., None, {"content": []}]),
                stop_reason=maybe(st.just("END")),
            ),
            max_size=2,
        ),
    ),
    usage=st.one_of(st.just(...), usage_value),
    error=st.sampled_from([..., None, {"message": "boom", "type": "server_error"}, "bad"]),
)
frame = st.one_of(
    stream_chunk.map(lambda c: SSEFrame(data=json.dumps(c))),
    json_value.map(lambda v: SSEFrame(data=json.dumps(v))),
    st.sampled_from(
        [
            SSEFrame(data="[DONE]"),
            SSEFrame(data=""),
            SSEFrame(data="{oops"),
            SSEFrame(event="error", data='{"error": {"message": "x"}}'),
        ]
    ),
)


def check_event_grammar(events: list[Event]) -> None:
    """At most one terminal event, last; parts start in order and only open parts grow."""
    terminal = [i for i, e in enumerate(events) if isinstance(e, MessageStop | StreamError)]
    assert len(terminal) <= 1
    if terminal:
        assert terminal[0] == len(events) - 1
    body = [e for e in events if not isinstance(e, StreamError)]
    if body:
        assert isinstance(body[0], MessageStart)
        assert not any(isinstance(e, MessageStart) for e in body[1:])
    opened: set[int] = set()
    stopped: set[int] = set()
    for event in body:
        if isinstance(event, PartStart):
            assert event.index == len(opened)
            opened.add(event.index)
        elif isinstance(event, PartDelta):
            assert event.index in opened - stopped
        elif isinstance(event, PartStop):
            assert event.index in opened - stopped
            stopped.add(event.index)
        elif isinstance(event, MessageStop):
            assert opened == stopped


@SETTINGS
@given(st.lists(frame, max_size=12))
def test_stream_decoder_handles_every_state_and_input(frames: list[SSEFrame]) -> None:
    decoder = chat.StreamDecoder(Context())
    events: list[Event] = []
    for item in frames:
        events.extend(decoder.feed(item))  # never raises: a bad chunk is a StreamError
    events.extend(decoder.close())
    check_event_grammar(events)
    assert isinstance(events[-1], MessageStop | StreamError)  # close always ends the stream
    assert decoder.feed(SSEFrame(data="[DONE]")) == []
    assert decoder.close() == []


# ---------------------------------------------------------------- stream encoder: state-by-input

any_part = st.one_of(
    st.builds(TextPart, text=text),
    st.builds(ThinkingPart, text=text, signature=st.sampled_from([None, "sig"])),
    st.builds(RefusalPart, text=text),
    st.builds(
        ToolCallPart,
        id=name,
        name=name,
        arguments=st.sampled_from(["", "{"]),
        kind=st.sampled_from(["function", "custom"]),
    ),
    st.builds(RedactedThinkingPart, data=name),
)
any_event = st.one_of(
    st.builds(
        MessageStart,
        id=name,
        model=name,
        created=st.none() | st.integers(0, 9),
        usage=st.none() | st.builds(Usage, input_tokens=st.integers(0, 9)),
    ),
    st.builds(PartStart, index=st.integers(0, 3), part=any_part),
    st.builds(
        PartDelta,
        index=st.integers(0, 3),
        field=st.sampled_from(
            ["text", "arguments", "thinking", "signature", "summary", "citation"]
        ),
        value=text,
        citation=st.none() | st.just(Citation(kind="url_citation", url="https://a", title="A")),
        summary_index=st.integers(0, 2),
    ),
    st.builds(PartStop, index=st.integers(0, 3), part=st.none() | any_part),
    st.builds(
        MessageDelta,
        stop_reason=st.sampled_from([None, "end_turn", "tool_use", "pause_turn", "weird"]),
        usage=st.none() | st.builds(Usage, output_tokens=st.integers(0, 9)),
    ),
    st.just(MessageStop()),
    st.just(Ping()),
    st.just(StreamError(error=ApiError.of("overloaded", "busy"))),
)


def data_of(raw: list[bytes]) -> list[str]:
    decoder = SSEDecoder()
    return [f.data for chunk in raw for f in decoder.feed(chunk)] + [
        f.data for f in decoder.close()
    ]


@SETTINGS
@given(st.lists(any_event, max_size=14))
def test_stream_encoder_handles_every_state_and_input(events: list[Event]) -> None:
    encoder = chat.StreamEncoder(Context())
    raw = [b for e in events for b in encoder.feed(e)] + encoder.close()
    datas = data_of(raw)
    assert datas[-1] == "[DONE]"
    assert datas.count("[DONE]") == 1
    for data in datas[:-1]:
        body = json.loads(data)
        assert "error" in body or body["object"] == "chat.completion.chunk"
    errors = [d for d in datas if d.startswith('{"error"')]
    assert len(errors) <= 1
    assert encoder.feed(MessageStop()) == []
    assert encoder.close() == []


# ------------------------------------------------- well-formed streams: agreement and chunking


@st.composite
def valid_stream(draw: st.DrawFn) -> list[Event]:
    """A well-formed canonical stream: single-stream parts one after another, tool calls that
    may interleave, then the stop reason and usage."""
    events: list[Event] = [
        MessageStart(id="msg_" + draw(name), model=draw(name), created=draw(st.integers(1, 2**31)))
    ]
    index = 0
    for kind in draw(st.lists(st.sampled_from(["text", "thinking", "refusal"]), max_size=3)):
        part = {
            "text": TextPart(text=""),
            "thinking": ThinkingPart(),
            "refusal": RefusalPart(text=""),
        }[kind]
        events.append(PartStart(index=index, part=part))
        field = "thinking" if kind == "thinking" else "text"
        for piece in draw(st.lists(nonempty, min_size=1, max_size=3)):
            events.append(PartDelta(index=index, field=field, value=piece))
        events.append(PartStop(index=index))
        index += 1
    calls = draw(st.integers(0, 3))
    pending: dict[int, list[str]] = {}
    for k in range(calls):
        events.append(
            PartStart(
                index=index + k, part=ToolCallPart(id=f"call_{k}", name=draw(name), arguments="")
            )
        )
        arguments = draw(st.sampled_from(['{"a": 1}', '{"query": "x {y}", "n": [1, 2]}', "{}", ""]))
        cuts = sorted(draw(st.sets(st.integers(1, max(len(arguments) - 1, 1)), max_size=3)))
        pieces = [arguments[i:j] for i, j in zip([0, *cuts], [*cuts, len(arguments)], strict=True)]
        pending[index + k] = [p for p in pieces if p]
    while any(pending.values()):
        which = draw(st.sampled_from(sorted(k for k, v in pending.items() if v)))
        events.append(PartDelta(index=which, field="arguments", value=pending[which].pop(0)))
    events.extend(PartStop(index=k) for k in pending)
    stop = (
        "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens", "content_filter"]))
    )
    usage = draw(
        st.none()
        | st.builds(
            Usage.from_openai, st.integers(0, 99), st.integers(0, 99), st.none() | st.integers(0, 9)
        )
    )
    events.extend([MessageDelta(stop_reason=stop, usage=usage), MessageStop()])
    return events


def sdk_view(raw: list[bytes]) -> dict[str, Any]:
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for data in data_of(raw):
        if data == "[DONE]":
            break
        state.handle_chunk(construct_type(type_=ChatCompletionChunk, value=json.loads(data)))
    return view(state.current_completion_snapshot)


def view(completion: Any) -> dict[str, Any]:
    message = completion.choices[0].message
    return {
        "content": message.content or None,
        "refusal": message.refusal or None,
        "reasoning": (message.model_extra or {}).get("reasoning_content"),
        "calls": [(t.id, t.function.name, t.function.arguments) for t in message.tool_calls or []],
        "finish": completion.choices[0].finish_reason,
        "usage": completion.usage.model_dump(exclude_none=True) if completion.usage else None,
    }


@SETTINGS
@given(valid_stream())
def test_generated_streams_agree_with_the_encoded_whole_answer(events: list[Event]) -> None:
    whole = chat.encode_response(accumulate(events), Context())
    assert sdk_view(encode(events)) == view(ChatCompletion.model_validate(whole))


@SETTINGS
@given(valid_stream(), st.lists(st.integers(1, 400), max_size=6))
def test_generated_streams_decode_the_same_whatever_the_chunking(
    events: list[Event], cuts: list[int]
) -> None:
    data = b"".join(encode(events))
    assert decode(data, []) == decode(data, sorted({c for c in cuts if c < len(data)}))
    back, original = accumulate(decode(data, [])), accumulate(events)
    calls = [p for p in original.content if isinstance(p, ToolCallPart)]
    assert [
        attrs.evolve(p, extras={}) for p in back.content if isinstance(p, ToolCallPart)
    ] == calls
    # Chat says a refusal as ``stop`` with ``refusal`` set, which reads back as ``refusal``.
    refused = any(isinstance(p, RefusalPart) and p.text for p in original.content)
    said = original.stop_reason
    expected = "refusal" if said == "end_turn" and refused and not calls else said
    assert back.stop_reason == expected


def encode(events: list[Event]) -> list[bytes]:
    encoder = chat.StreamEncoder(Context())
    return [b for e in events for b in encoder.feed(e)] + encoder.close()


def decode(data: bytes, cuts: list[int]) -> list[Event]:
    frames = SSEDecoder()
    decoder = chat.StreamDecoder(Context())
    events: list[Event] = []
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        for item in frames.feed(data[start:end]):
            events.extend(decoder.feed(item))
    return events + [e for f in frames.close() for e in decoder.feed(f)] + decoder.close()
