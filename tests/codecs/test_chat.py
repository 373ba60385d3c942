"""The ``chat`` codec against its recorded transcripts: decoding, same-format round trips,
stream/non-stream agreement, chunking invariance, the mapping tables, error bodies, and the
FIDELITY.md failure classes that concern Chat Completions."""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest

from apibridge._sse import SSEDecoder, SSEFrame
from apibridge.codecs import Context, chat
from apibridge.errors import ERROR_KINDS, ApiError, InvalidPayload
from apibridge.model import (
    STOP_REASONS,
    Citation,
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    RefusalPart,
    Response,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    accumulate,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chat"
ALL = sorted(FIXTURES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def of_kind(kind: str) -> list[str]:
    return [p.stem for p in ALL if json.loads(p.read_text())["kind"] == kind]


@pytest.fixture(autouse=True)
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Generated ids are random: make them a counter (reset by the returned callable) so that
    runs compare equal.

    Patched where every codec draws its randomness (``uuid.uuid4``, behind ``new_id``) rather
    than the codec modules' ``new_id`` names: compiled (mypyc) codecs bind those statically.
    """
    counter = [itertools.count()]

    def fresh() -> SimpleNamespace:
        return SimpleNamespace(hex=f"gen{next(counter[0])}")

    monkeypatch.setattr(uuid, "uuid4", fresh)

    def reset() -> None:
        counter[0] = itertools.count()

    return reset


def decode_stream(
    sse: str | bytes, ctx: Context | None = None, splits: list[int] | None = None
) -> list[Event]:
    """Run SSE text through the SSE framer and the Chat stream decoder."""
    data = sse.encode() if isinstance(sse, str) else sse
    ctx = ctx or Context()
    frames = SSEDecoder()
    decoder = chat.StreamDecoder(ctx)
    events: list[Event] = []
    cuts = [0, *(splits or []), len(data)]
    for start, end in itertools.pairwise(cuts):
        for frame in frames.feed(data[start:end]):
            events.extend(decoder.feed(frame))
    for frame in frames.close():
        events.extend(decoder.feed(frame))
    events.extend(decoder.close())
    return events


def frames(*chunks: Any, done: bool = True) -> list[SSEFrame]:
    out = [SSEFrame(data=c if isinstance(c, str) else json.dumps(c)) for c in chunks]
    return [*out, SSEFrame(data="[DONE]")] if done else out


def feed_all(items: list[SSEFrame], ctx: Context | None = None) -> list[Event]:
    decoder = chat.StreamDecoder(ctx or Context())
    events: list[Event] = []
    for item in items:
        events.extend(decoder.feed(item))
    return events + decoder.close()


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any
) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": choices,
        **top,
    }


def plain(parts: tuple[Any, ...]) -> tuple[Any, ...]:
    """Parts without carried extras (hints differ between streamed and whole answers)."""
    out = []
    for part in parts:
        if isinstance(part, TextPart):
            part = attrs.evolve(
                part, extras={}, citations=tuple(attrs.evolve(c) for c in part.citations)
            )
        elif hasattr(part, "extras"):
            part = attrs.evolve(part, extras={})
        out.append(part)
    return tuple(out)


def numbers(response: Response) -> tuple[Any, ...]:
    u = response.usage
    if u is None:
        return (None,)
    return (
        u.input_tokens,
        u.output_tokens,
        u.cache_read_tokens,
        u.cache_write_tokens,
        u.reasoning_tokens,
    )


# ------------------------------------------------------------------------------- fixtures


def test_fixture_set_covers_the_brief() -> None:
    kinds = [json.loads(p.read_text())["kind"] for p in ALL]
    assert len(ALL) >= 14
    assert {"request", "response", "stream", "error"} <= set(kinds)
    for path in ALL:
        fixture = json.loads(path.read_text())
        assert fixture["description"].strip()
        assert ("sse" in fixture) == (fixture["kind"] == "stream")
        if fixture["kind"] == "error":
            assert 400 <= fixture["status"] < 600


@pytest.mark.parametrize("name", of_kind("request"))
def test_request_fixture_round_trip_is_exact(name: str) -> None:
    body = load(name)["body"]
    ctx = Context()
    request = chat.decode_request(body, ctx)
    assert request.model == body["model"]
    assert request.messages or request.system
    assert chat.encode_request(request, ctx) == body
    assert ctx.losses == []


@pytest.mark.parametrize("name", of_kind("response"))
def test_response_fixture_round_trip_is_exact(name: str) -> None:
    body = load(name)["body"]
    ctx = Context()
    response = chat.decode_response(body, ctx)
    assert response.id == body["id"]
    assert response.content or response.stop_reason == "max_tokens"
    assert chat.encode_response(response, ctx) == body
    assert ctx.losses == []


@pytest.mark.parametrize("name", [n for n in of_kind("stream") if "response" in load(n)])
def test_stream_fixture_accumulates_to_the_whole_answer(name: str) -> None:
    fixture = load(name)
    ctx = Context()
    if "request" in fixture:
        ctx.request = chat.decode_request(fixture["request"], ctx)
    streamed = accumulate(decode_stream(fixture["sse"], ctx))
    whole = chat.decode_response(fixture["response"], Context())
    assert streamed.id == whole.id
    assert streamed.model == whole.model
    assert streamed.created == whole.created
    assert plain(streamed.content) == plain(whole.content)
    assert streamed.stop_reason == whole.stop_reason
    assert streamed.stop_sequence == whole.stop_sequence
    assert numbers(streamed) == numbers(whole)


@pytest.mark.parametrize("name", of_kind("stream"))
def test_stream_fixture_decodes_with_one_terminal_event(name: str) -> None:
    events = decode_stream(load(name)["sse"])
    assert isinstance(events[0], MessageStart | StreamError)
    terminal = [e for e in events if isinstance(e, MessageStop | StreamError)]
    assert len(terminal) == 1
    assert terminal[0] is events[-1]
    failing = {"stream_error_mid_stream", "stream_truncated_no_finish"}
    assert isinstance(events[-1], StreamError) == (name in failing)


@pytest.mark.parametrize("name", of_kind("stream"))
def test_stream_decoding_is_chunking_invariant(name: str, fixed_ids: Callable[[], None]) -> None:
    data = load(name)["sse"].encode()
    whole = decode_stream(data)
    fixed_ids()
    assert decode_stream(data, splits=list(range(1, len(data)))) == whole  # byte by byte
    rng = random.Random(name)
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, len(data)), k=min(12, len(data) - 1)))
        fixed_ids()
        assert decode_stream(data, splits=cuts) == whole


@pytest.mark.parametrize("name", of_kind("error"))
def test_error_fixture_decodes_and_reencodes(name: str) -> None:
    fixture = load(name)
    error = chat.decode_error(fixture["body"], fixture["status"])
    assert error.status == fixture["status"]
    assert error.message
    assert error.source_format == "chat"
    status, body = chat.encode_error(error)
    assert status == fixture["status"]
    assert body["error"]["message"] == error.message
    if isinstance(fixture["body"].get("error"), dict) and "type" in fixture["body"]["error"]:
        assert body == fixture["body"]  # an OpenAI error comes back exactly


ERROR_EXPECTATIONS = {
    "error_400_context_length": ("invalid_request", "context_length_exceeded", "messages", None),
    "error_401_invalid_api_key": ("authentication", "invalid_api_key", None, None),
    "error_429_rate_limit": ("rate_limit", "rate_limit_exceeded", None, 1.44),
    "error_429_insufficient_quota": ("billing", "insufficient_quota", None, None),
    "error_500_server_error": ("api_error", None, None, None),
    "error_503_overloaded": ("unavailable", None, None, None),
    "error_vllm_400": ("invalid_request", "400", None, None),
    "error_422_fastapi_detail": ("unprocessable", None, None, None),
    "error_404_ollama": ("not_found", None, None, None),
    "error_429_azure_retry": ("rate_limit", "429", None, 6.0),
}


@pytest.mark.parametrize(("name", "expected"), sorted(ERROR_EXPECTATIONS.items()))
def test_error_fixture_kinds_codes_and_retry_hints(name: str, expected: tuple[Any, ...]) -> None:
    fixture = load(name)
    error = chat.decode_error(fixture["body"], fixture["status"])
    assert (error.kind, error.code, error.param, error.retry_after) == expected


def test_fastapi_detail_names_the_field() -> None:
    error = chat.decode_error(load("error_422_fastapi_detail")["body"], 422)
    assert error.message == "messages: Field required"


# ------------------------------------------------------------------------- what decodes to what


def test_request_decoding_maps_the_documented_fields() -> None:
    request = chat.decode_request(load("request_structured_output_reasoning")["body"], Context())
    assert request.system_role == "developer"
    assert [p.text for p in request.system] == ["Extract the event information."]
    assert request.max_tokens == 2048
    assert request.reasoning is not None
    assert request.reasoning.effort == "low"
    assert request.output_format is not None
    assert (
        request.output_format.kind,
        request.output_format.name,
        request.output_format.strict,
    ) == (
        "json_schema",
        "calendar_event",
        True,
    )
    assert request.user == "user-7f3a"
    assert request.metadata == {"project": "calendar"}
    assert request.extras["chat"]["seed"] == 42
    assert request.extras["chat"]["verbosity"] == "low"


def test_request_content_parts_map_to_canonical_parts() -> None:
    request = chat.decode_request(load("request_vision_files_audio")["body"], Context())
    (message,) = request.messages
    kinds = [type(p).__name__ for p in message.content]
    assert kinds == ["TextPart", "ImagePart", "ImagePart", "DocumentPart", "DocumentPart"]
    url_image, data_image, pdf, uploaded = message.content[1:]
    assert url_image.url.startswith("https://")
    assert url_image.detail == "high"
    assert (data_image.media_type, data_image.url) == ("image/png", None)  # type: ignore[union-attr]
    assert (pdf.media_type, pdf.filename) == ("application/pdf", "draconomicon.pdf")  # type: ignore[union-attr]
    assert uploaded.file_id == "file-6F2ksmvXxt4VdoqmHRw6kL"  # type: ignore[union-attr]
    (position, raw) = message.extras["chat"]["unmapped_parts"][0]
    assert position == 5
    assert raw["type"] == "input_audio"


def test_tool_messages_merge_into_one_user_turn() -> None:
    request = chat.decode_request(load("request_parallel_tools_history")["body"], Context())
    roles = [m.role for m in request.messages]
    assert roles == ["user", "assistant", "user", "user"]
    results = request.messages[2].content
    assert [type(p) for p in results] == [ToolResultPart, ToolResultPart]
    assert [p.call_id for p in results] == ["call_12345xyz", "call_67890abc"]  # type: ignore[union-attr]
    assert results[1].text == "18°C, partly cloudy"  # type: ignore[union-attr]


def test_legacy_function_call_pairs_with_its_function_result() -> None:
    request = chat.decode_request(load("request_legacy_functions")["body"], Context())
    call = request.messages[1].content[0]
    result = request.messages[2].content[0]
    assert isinstance(call, ToolCallPart)
    assert isinstance(result, ToolResultPart)
    assert call.name == "get_current_weather"
    assert result.call_id == call.id


def test_reasoning_spellings_become_thinking() -> None:
    ds = chat.decode_request(load("request_deepseek_thinking_tool_replay")["body"], Context())
    first = ds.messages[1].content
    assert isinstance(first[0], ThinkingPart)
    assert "tomorrow" in first[0].text
    assert isinstance(first[1], ToolCallPart)
    vllm = chat.decode_request(load("request_vllm_extensions")["body"], Context())
    assistant = vllm.messages[1]
    assert isinstance(assistant.content[0], ThinkingPart)
    assert assistant.extras["chat"]["_reasoning_key"] == "reasoning"
    assert vllm.top_k == 20
    assert vllm.stop == ("\n\n",)
    assert vllm.n == 2
    assert vllm.messages[0].name == "alice"
    assert vllm.tool_choice is not None
    assert (vllm.tool_choice.mode, vllm.tool_choice.name) == (
        "tool",
        "lookup",
    )


def test_custom_tools_and_allowed_tools() -> None:
    request = chat.decode_request(load("request_custom_tools_allowed")["body"], Context())
    custom, function = request.tools
    assert (custom.kind, custom.name, custom.format["type"]) == ("custom", "code_exec", "grammar")  # type: ignore[index]
    assert custom.format is not None
    assert custom.format["syntax"] == "lark"  # the canonical (Responses) grammar shape
    assert function.kind == "function"
    assert function.strict is True
    assert request.tool_choice is not None
    assert (request.tool_choice.mode, request.tool_choice.allowed) == (
        "any",
        ("code_exec", "get_weather"),
    )


def test_response_decoding_maps_usage_with_openai_semantics() -> None:
    response = chat.decode_response(load("response_text_cached_usage")["body"], Context())
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (86, 1920, 18)
    assert usage.total_input == 2006
    assert usage.reasoning_tokens == 0
    assert response.stop_reason == "end_turn"
    deepseek = chat.decode_response(load("response_deepseek_reasoning")["body"], Context())
    assert deepseek.usage is not None
    assert deepseek.usage.reasoning_tokens == 195
    assert isinstance(deepseek.content[0], ThinkingPart)


def test_response_with_several_choices_keeps_the_others_in_extras() -> None:
    body = load("response_vllm_stop_string_n2")["body"]
    response = chat.decode_response(body, Context())
    assert response.stop_reason == "stop_sequence"
    assert response.stop_sequence == "\n\n"
    assert response.extras["chat"]["other_choices"] == body["choices"][1:]
    assert isinstance(response.content[0], ThinkingPart)
    assert response.usage is not None
    assert response.usage.cache_read_tokens is None


def test_refusal_and_length_answers() -> None:
    refusal = chat.decode_response(load("response_refusal")["body"], Context())
    assert refusal.content == (RefusalPart(text="I'm sorry, I cannot assist with that request."),)
    length = chat.decode_response(load("response_length_reasoning")["body"], Context())
    assert length.stop_reason == "max_tokens"
    assert length.content == ()
    assert length.usage is not None
    assert length.usage.reasoning_tokens == 300


# ---------------------------------------------------------------------------------- tables


def test_finish_reason_tables_invert_where_they_should() -> None:
    synonyms = {"function_call", "insufficient_system_resource"}  # one-way: no canonical twin
    for finish, stop in chat.FINISH_TO_STOP.items():
        if finish not in synonyms:
            assert chat.STOP_TO_FINISH[stop] == finish
    exact = {"end_turn", "max_tokens", "tool_use", "content_filter"}
    for stop in exact:
        assert chat.FINISH_TO_STOP[chat.STOP_TO_FINISH[stop]] == stop
    assert set(chat.STOP_TO_FINISH) == STOP_REASONS  # every canonical reason has a Chat word


def test_tool_choice_table_inverts() -> None:
    for word, mode in chat.TOOL_CHOICE_MODES.items():
        choice = chat.decode_request(
            {"model": "m", "messages": [], "tool_choice": word}, Context()
        ).tool_choice
        assert choice is not None
        assert choice.mode == mode
    assert len(set(chat.TOOL_CHOICE_MODES.values())) == len(chat.TOOL_CHOICE_MODES)


def test_role_table_sends_results_to_the_user_turn() -> None:
    assert chat.ROLE_TO_CANONICAL["tool"] == chat.ROLE_TO_CANONICAL["function"] == "user"
    for role in ("system", "developer", "user", "assistant"):
        assert chat.ROLE_TO_CANONICAL[role] == role


@pytest.mark.parametrize("kind", sorted(ERROR_KINDS))
def test_error_kinds_survive_encode_then_decode(kind: str) -> None:
    status, body = chat.encode_error(ApiError.of(kind, "boom"))
    assert status == ERROR_KINDS[kind].status
    assert chat.decode_error(body, status).kind == kind


def test_error_type_table_wins_over_a_generic_status() -> None:
    for type_, kind in chat.ERROR_TYPE_KIND.items():
        assert chat.decode_error({"error": {"message": "x", "type": type_}}, 400).kind == kind
    for code, kind in chat.ERROR_CODE_KIND.items():
        assert (
            chat.decode_error({"error": {"message": "x", "type": "t", "code": code}}, 400).kind
            == kind
        )


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "plain text failure",
        "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        "<html><body>no title</body></html>",
        b'{"error": {"message": "bytes body", "type": "server_error"}}',
        "{not json",
        "[1, 2]",
        [1, 2, 3],
        42,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        {"error": {"code": 7}},
        {"detail": {"message": "dict detail"}},
        {"detail": ["a", {"msg": "b"}]},
        {"detail": 5},
        {"message": "vllm", "code": True},
        {"unexpected": "shape"},
        {"error": None, "retry_after": 3},
        {"detail": [{"loc": 5, "msg": "loc is not a list"}]},
    ],
)
def test_decode_error_never_raises(body: Any) -> None:
    for status in (0, 200, 400, 418, 502, 529):
        error = chat.decode_error(body, status)
        assert error.message
        assert error.kind in ERROR_KINDS
        assert error.status >= 400


def test_error_message_shapes() -> None:
    assert (
        chat.decode_error("<html><title>502 Bad Gateway</title></html>", 502).message
        == "502 Bad Gateway"
    )
    assert chat.decode_error({"error": None, "retry_after": 3}, 503).retry_after == 3.0
    anthropic_shape = {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert chat.decode_error(anthropic_shape, 529).kind == "overloaded"
    assert chat.decode_error({"error": {"message": "try again in 1m30s"}}, 429).retry_after == 90.0
    assert chat.decode_error({"error": {"message": "try again in 250ms"}}, 429).retry_after == 0.25
    in_band = chat.decode_error({"error": {"message": "bad", "type": "invalid_request_error"}}, 0)
    assert (in_band.kind, in_band.status) == ("invalid_request", 400)


def test_foreign_error_gets_the_openai_type_of_its_kind() -> None:
    error = ApiError.of(
        "overloaded", "Overloaded", type="overloaded_error", source_format="anthropic"
    )
    status, body = chat.encode_error(error)
    assert status == 529
    assert body == {
        "error": {"message": "Overloaded", "type": "server_error", "param": None, "code": None}
    }


# ----------------------------------------------------------------------- stream decoder cases


def test_azure_preamble_lends_its_fields_but_not_its_empty_id() -> None:
    events = decode_stream(load("stream_azure_prompt_filter_preamble")["sse"])
    start = events[0]
    assert isinstance(start, MessageStart)
    assert start.id == "chatcmpl-CECImr5TLfMFiZN3FUlfVdBLr51Fs"
    assert start.created == 1757499916
    assert start.extras["chat"]["prompt_filter_results"][0]["prompt_index"] == 0


def test_usage_on_the_finish_chunk_arrives_with_the_stop_reason() -> None:
    events = decode_stream(load("stream_deepseek_reasoning_usage_on_finish")["sse"])
    deltas = [e for e in events if isinstance(e, MessageDelta)]
    assert len(deltas) == 1
    assert deltas[0].stop_reason == "end_turn"
    assert deltas[0].usage is not None
    assert deltas[0].usage.reasoning_tokens == 33


def test_trailing_usage_chunk_gives_a_second_message_delta() -> None:
    events = decode_stream(load("stream_text_usage")["sse"])
    deltas = [e for e in events if isinstance(e, MessageDelta)]
    assert [d.stop_reason for d in deltas] == ["end_turn", None]
    assert deltas[0].usage is None
    assert deltas[1].usage is not None
    assert deltas[1].usage.total_input == 19


def test_groq_usage_inside_x_groq_is_read() -> None:
    usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    events = feed_all(
        frames(
            chunk({"content": "x"}, x_groq={"id": "req_1"}),
            chunk({}, "stop", x_groq={"id": "req_1", "usage": usage}),
        )
    )
    final = accumulate(events)
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 2)


def test_finish_without_usage_leaves_usage_unknown() -> None:
    response = accumulate(decode_stream(load("stream_parallel_tool_calls")["sse"]))
    assert response.usage is None


def test_missing_done_after_finish_is_a_normal_end() -> None:
    events = decode_stream(load("stream_finish_without_done")["sse"])
    assert isinstance(events[-1], MessageStop)
    assert accumulate(events).content == (TextPart(text="Sure."),)


def test_stream_without_finish_reason_is_an_error() -> None:
    events = decode_stream(load("stream_truncated_no_finish")["sse"])
    error = events[-1]
    assert isinstance(error, StreamError)
    assert error.error.kind == "api_error"
    assert "ended early" in error.error.message


def test_error_chunk_mid_stream_is_a_stream_error() -> None:
    events = decode_stream(load("stream_error_mid_stream")["sse"])
    assert isinstance(events[-1], StreamError)
    assert events[-1].error.kind == "api_error"
    assert events[-1].error.type == "server_error"
    texts = [e.value for e in events if isinstance(e, PartDelta)]
    assert texts == ["Once", " upon", " a"]


def test_tool_call_without_id_gets_a_generated_one() -> None:
    events = decode_stream(load("stream_tool_call_without_id")["sse"])
    response = accumulate(events)
    thinking, call = response.content
    assert isinstance(thinking, ThinkingPart)
    assert thinking.text == "Need the weather tool."
    assert isinstance(call, ToolCallPart)
    assert call.id.startswith("call_")
    assert call.arguments == '{"city":"Oslo"}'
    assert response.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (SSEFrame(data="{not json"), "not valid JSON"),
        (SSEFrame(data="[1, 2]"), "not a JSON object"),
        (SSEFrame(data="[DONE]"), "[DONE] arrived"),
    ],
)
def test_malformed_frames_end_the_stream_with_an_error(bad: SSEFrame, why: str) -> None:
    events = feed_all([*frames(chunk({"role": "assistant", "content": "hi"}), done=False), bad])
    assert isinstance(events[-1], StreamError)
    assert why in events[-1].error.message
    assert sum(isinstance(e, StreamError) for e in events) == 1


def test_wrong_field_types_are_a_stream_error_naming_the_field() -> None:
    events = feed_all(frames(chunk({"content": 5}), done=False))
    assert isinstance(events[-1], StreamError)
    assert "choices[0].delta.content" in events[-1].error.message


def test_event_error_frame_and_nothing_after_the_end() -> None:
    decoder = chat.StreamDecoder(Context())
    assert decoder.feed(SSEFrame(data="")) == []
    (error,) = decoder.feed(
        SSEFrame(event="error", data='{"message": "quota", "type": "insufficient_quota"}')
    )
    assert isinstance(error, StreamError)
    assert error.error.kind == "billing"
    assert decoder.feed(SSEFrame(data=json.dumps(chunk({"content": "late"})))) == []
    assert decoder.close() == []


def test_late_id_arrives_in_the_final_part() -> None:
    events = feed_all(
        frames(
            chunk({"role": "assistant", "content": None}),
            chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{"}}]}),
            chunk(
                {"tool_calls": [{"index": 0, "id": "call_real", "function": {"arguments": "}"}}]}
            ),
            chunk({}, "tool_calls"),
        )
    )
    (start,) = [e for e in events if isinstance(e, PartStart)]
    (stop,) = [e for e in events if isinstance(e, PartStop)]
    assert start.part.id.startswith("call_gen")  # type: ignore[union-attr]
    assert stop.part == ToolCallPart(id="call_real", name="f", arguments="{}")
    assert accumulate(events).content == (ToolCallPart(id="call_real", name="f", arguments="{}"),)


def test_name_that_arrives_after_arguments_opens_the_call_then() -> None:
    events = feed_all(
        frames(
            chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"arguments": '{"a":'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "1}"}}]}),
            chunk({}, "tool_calls"),
        )
    )
    assert [type(e).__name__ for e in events[1:4]] == [
        *["PartStart", "PartDelta", "MessageDelta"][:2],
        "PartStop",
    ]
    assert accumulate(events).content == (ToolCallPart(id="c1", name="f", arguments='{"a":1}'),)


def test_call_that_never_gets_a_name_is_reported() -> None:
    ctx = Context()
    events = feed_all(
        frames(
            chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"arguments": "{}"}}]}),
            chunk({}, "stop"),
        ),
        ctx,
    )
    assert accumulate(events).content == (ToolCallPart(id="c1", name="", arguments="{}"),)
    assert [loss.field for loss in ctx.losses] == ["tool_calls.function.name"]


def test_legacy_function_call_and_annotation_deltas() -> None:
    cite = {
        "type": "url_citation",
        "url_citation": {
            "url": "https://a.example",
            "title": "A",
            "start_index": 0,
            "end_index": 2,
        },
    }
    events = feed_all(
        frames(
            chunk({"content": "Hi"}),
            chunk({"annotations": [cite]}),
            chunk({"function_call": {"name": "f", "arguments": "{}"}}),
            chunk({}, "function_call"),
        )
    )
    text, call = accumulate(events).content
    assert isinstance(text, TextPart)
    assert text.citations[0].url == "https://a.example"
    assert isinstance(call, ToolCallPart)
    assert call.name == "f"
    assert accumulate(events).stop_reason == "tool_use"


def test_oddities_are_reported_once() -> None:
    ctx = Context()
    events = feed_all(
        frames(
            chunk(
                {
                    "annotations": [
                        {"type": "url_citation", "url_citation": {"url": "u", "title": "t"}}
                    ]
                }
            ),
            {
                **chunk({"content": "a"}),
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": "a", "audio": {"id": "x"}},
                        # text logprobs travel (PartDelta.logprobs); a refusal's do not
                        "logprobs": {"content": [], "refusal": [{"token": "x", "logprob": -1}]},
                    },
                    {"index": 1, "delta": {"content": "b"}},
                ],
            },
            {
                **chunk({"content": "b"}),
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": "b", "audio": {"id": "y"}},
                        "finish_reason": "stop",
                    }
                ],
            },
            chunk({"content": "after"}),
            chunk({}),
        ),
        ctx,
    )
    assert accumulate(events).content == (TextPart(text="ab"),)
    assert sorted(loss.field for loss in ctx.losses) == [
        "annotations",
        "audio",
        "choices",
        "delta",
        "logprobs",
    ]


def test_tool_calls_without_index_follow_their_ids() -> None:
    events = feed_all(
        frames(
            chunk(
                {
                    "tool_calls": [
                        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{"}}
                    ]
                }
            ),
            chunk({"tool_calls": [{"function": {"arguments": "}"}}]}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "id": "b",
                            "type": "function",
                            "function": {"name": "g", "arguments": "{}"},
                        }
                    ]
                }
            ),
            chunk({}, "tool_calls"),
        )
    )
    assert [(p.id, p.arguments) for p in accumulate(events).content] == [("a", "{}"), ("b", "{}")]  # type: ignore[union-attr]


def test_reasoning_after_text_opens_a_new_thinking_part() -> None:
    events = feed_all(
        frames(
            chunk({"reasoning_content": "r1"}),
            chunk({"content": "t"}),
            chunk({"reasoning": "r2"}),
            chunk({"refusal": "no"}),
            chunk({}, "stop"),
        )
    )
    assert [type(p).__name__ for p in accumulate(events).content] == [
        "ThinkingPart",
        "TextPart",
        "ThinkingPart",
        "RefusalPart",
    ]


def test_custom_tool_call_stream() -> None:
    events = feed_all(
        frames(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c",
                            "type": "custom",
                            "custom": {"name": "code_exec", "input": "print("},
                        }
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "custom": {"input": "1)"}}]}),
            chunk({}, "tool_calls"),
        )
    )
    assert accumulate(events).content == (
        ToolCallPart(id="c", name="code_exec", arguments="print(1)", kind="custom"),
    )


def test_usage_before_the_finish_waits_for_it() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    events = feed_all(frames(chunk({"content": "x"}, usage=usage), chunk({}, "stop")))
    (delta,) = [e for e in events if isinstance(e, MessageDelta)]
    assert delta.usage is not None
    assert delta.usage.input_tokens == 5
    only_usage = feed_all(
        frames(chunk(None, usage=usage), chunk({"content": "x"}), chunk({}, "length"))
    )
    assert accumulate(only_usage).stop_reason == "max_tokens"


# ------------------------------------------------------------------- FIDELITY.md, Chat side


def test_fidelity_1_parallel_tool_calls_in_one_chunk_keep_every_call() -> None:
    events = decode_stream(load("stream_interleaved_tool_calls")["sse"])
    starts = [e.part for e in events if isinstance(e, PartStart)]
    assert [(p.id, p.name) for p in starts] == [
        ("chatcmpl-tool-a1", "get_weather"),
        ("chatcmpl-tool-b2", "get_time"),
    ]  # type: ignore[union-attr]


def test_fidelity_1_interleaved_fragments_concatenate_to_each_calls_exact_arguments() -> None:
    fixture = load("stream_interleaved_tool_calls")
    events = decode_stream(fixture["sse"])
    by_index: dict[int, str] = {}
    for event in events:
        if isinstance(event, PartDelta) and event.field == "arguments":
            by_index[event.index] = by_index.get(event.index, "") + event.value
    expected = [
        c["function"]["arguments"]
        for c in fixture["response"]["choices"][0]["message"]["tool_calls"]
    ]
    assert [by_index[0], by_index[1]] == expected
    for text in by_index.values():
        json.loads(text)


def test_fidelity_1_cumulative_argument_snapshots_emit_only_the_new_suffix() -> None:
    fixture = load("stream_cumulative_tool_arguments")
    events = decode_stream(fixture["sse"])
    deltas = [e.value for e in events if isinstance(e, PartDelta) and e.field == "arguments"]
    final = fixture["response"]["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert "".join(deltas) == final
    assert all(d for d in deltas)  # a repeated snapshot adds nothing, not an empty delta


def test_fidelity_1_a_delta_that_repeats_a_nested_prefix_is_not_a_snapshot() -> None:
    events = feed_all(
        frames(
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"a":'}}
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}}'}}]}),
            chunk({}, "tool_calls"),
        )
    )
    assert accumulate(events).content == (
        ToolCallPart(id="a", name="f", arguments='{"a":{"a":1}}'),
    )


def test_fidelity_1_index_reused_with_a_new_id_starts_a_new_call() -> None:
    events = feed_all(
        frames(
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}
                    ]
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}
                    ]
                }
            ),
            chunk({}, "tool_calls"),
        )
    )
    assert [(p.id, p.name) for p in accumulate(events).content] == [("a", "f"), ("b", "g")]  # type: ignore[union-attr]


def test_fidelity_2_a_tool_call_means_tool_use_whatever_the_finish_reason() -> None:
    for finish in ("stop", "tool_calls", "function_call", None):
        body = {
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    },
                    "finish_reason": finish,
                }
            ],
        }
        response = chat.decode_response(body, Context())
        assert response.stop_reason == "tool_use"
        assert chat.encode_response(response, Context()) == body


def test_fidelity_2_no_empty_text_part_from_the_role_chunk() -> None:
    events = decode_stream(load("stream_parallel_tool_calls")["sse"])
    assert not any(isinstance(e, PartStart) and isinstance(e.part, TextPart) for e in events)
    assert all(not (isinstance(e, PartDelta) and e.value == "") for e in events)


def test_fidelity_2_content_filter_and_unknown_reasons_keep_their_meaning() -> None:
    events = feed_all(frames(chunk({"content": "x"}, "content_filter")))
    assert accumulate(events).stop_reason == "content_filter"
    events = feed_all(frames(chunk({"content": "x"}, "insufficient_system_resource")))
    assert accumulate(events).stop_reason == "error"
    events = feed_all(frames(chunk({"content": "x"}, "abort")))
    assert accumulate(events).stop_reason == "abort"  # unknown: passed on, never end_turn


def test_fidelity_6_cached_tokens_are_not_double_counted() -> None:
    events = decode_stream(load("stream_length_cached_usage")["sse"])
    usage = accumulate(events).usage
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens, usage.total_input) == (176, 1024, 1200)


def test_fidelity_14_web_search_and_url_citations() -> None:
    request = chat.decode_request(load("request_web_search")["body"], Context())
    (tool,) = request.tools
    assert (tool.kind, tool.server_type) == ("server", "web_search")
    response = chat.decode_response(load("response_web_search_annotations")["body"], Context())
    (text,) = response.content
    assert isinstance(text, TextPart)
    (citation,) = text.citations
    assert isinstance(citation, Citation)
    assert citation.kind == "url_citation"
    assert citation.url is not None
    assert citation.url.startswith("https://www.reuters.com/")
    assert text.text[citation.start_index : citation.end_index].startswith("([reuters.com]")  # type: ignore[misc]


def test_fidelity_15_tool_choice_required_is_canonical_any() -> None:
    request = chat.decode_request(
        {"model": "m", "messages": [], "tool_choice": "required"}, Context()
    )
    assert request.tool_choice is not None
    assert request.tool_choice.mode == "any"


# ------------------------------------------------------------------------- invalid payloads


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": []}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": [1]}, "messages[0]"),
        ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": 1}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            },
            "image_url.url",
        ),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "tool",
                        "tool_call_id": "c",
                        "content": [{"type": "refusal", "refusal": "no"}],
                    }
                ],
            },
            "messages[0].content[0]",
        ),
        (
            {"model": "m", "messages": [{"role": "assistant", "tool_calls": {}}]},
            "messages[0].tool_calls",
        ),
        (
            {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"type": "weird"}]}]},
            "messages[0].tool_calls[0].type",
        ),
        ({"model": "m", "messages": [{"role": "assistant", "refusal": 3}]}, "messages[0].refusal"),
        (
            {"model": "m", "messages": [{"role": "assistant", "annotations": {}}]},
            "messages[0].annotations",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "image_url", "image_url": {"url": "u"}}],
                    }
                ],
            },
            "messages[0].content[0]",
        ),
        ({"model": "m", "messages": [], "max_tokens": "10"}, "max_tokens"),
        ({"model": "m", "messages": [], "temperature": True}, "temperature"),
        ({"model": "m", "messages": [], "stream": "yes"}, "stream"),
        ({"model": "m", "messages": [], "tool_choice": "any"}, "tool_choice"),
        ({"model": "m", "messages": [], "tool_choice": {"type": "nope"}}, "tool_choice.type"),
        (
            {
                "model": "m",
                "messages": [],
                "tool_choice": {
                    "type": "allowed_tools",
                    "allowed_tools": {"mode": "x", "tools": []},
                },
            },
            "allowed_tools.mode",
        ),
        (
            {"model": "m", "messages": [], "response_format": {"type": "xml"}},
            "response_format.type",
        ),
        (
            {"model": "m", "messages": [], "tools": [{"type": "function", "function": {}}]},
            "tools[0].function.name",
        ),
        ({"model": "m", "messages": [], "stop": [1]}, "stop[0]"),
    ],
)
def test_bad_requests_raise_invalid_payload_naming_the_field(
    body: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidPayload, match=field.replace("[", r"\[").replace("]", r"\]")):
        chat.decode_request(body, Context())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": 1, "choices": []}, "id"),
        ({"id": "x", "choices": {}}, "choices"),
        ({"id": "x", "choices": [{"index": 0}]}, "choices[0].message"),
        (
            {"id": "x", "choices": [{"message": {"role": "assistant"}, "finish_reason": 3}]},
            "finish_reason",
        ),
        ({"id": "x", "choices": [], "usage": {"prompt_tokens": "9"}}, "usage.prompt_tokens"),
        (
            {
                "id": "x",
                "choices": [
                    {
                        "message": {
                            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": 5}}]
                        }
                    }
                ],
            },
            "arguments",
        ),
        (
            {
                "id": "x",
                "choices": [
                    {
                        "message": {
                            "content": "t",
                            "annotations": [{"type": "url_citation", "url_citation": {"url": 3}}],
                        }
                    }
                ],
            },
            "url_citation.url",
        ),
    ],
)
def test_bad_responses_raise_invalid_payload_naming_the_field(
    body: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidPayload, match=field.replace("[", r"\[").replace("]", r"\]")):
        chat.decode_response(body, Context())
