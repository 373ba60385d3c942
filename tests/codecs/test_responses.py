"""The Responses codec on its recorded transcripts: requests, answers and errors.

Every fixture under ``tests/fixtures/responses/`` decodes; every request and answer survives a
same-format trip byte for byte (unknown fields included) and what the encoder writes parses
with the official ``openai`` SDK types. The mapping tables are checked to invert where they
should. Streams have their own file (``test_responses_stream.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from apibridge.codecs import Context, get_codec
from apibridge.codecs import responses as codec
from apibridge.codecs.responses._settings import CHOICE_MODES, CHOICE_WORDS
from apibridge.codecs.responses._wire import (
    INCOMPLETE_TO_STOP,
    STATUS_TO_STOP,
    STOP_TO_STATUS,
    status_for_stop,
    stop_for_status,
)
from apibridge.errors import ERROR_KINDS, ApiError, InvalidPayload
from apibridge.model import (
    Message,
    Request,
    Response,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from oracles import validate_error, validate_request, validate_response

FIXTURES = Path(__file__).parent.parent / "fixtures" / "responses"


def load(name: str) -> dict[str, Any]:
    fixture: dict[str, Any] = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    return fixture


def fixtures(*kinds: str) -> list[Any]:
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        fixture = orjson.loads(path.read_bytes())
        if fixture["kind"] in kinds:
            found.append(pytest.param(fixture, id=path.stem))
    return found


def test_enough_transcripts_of_every_kind() -> None:
    kinds = [orjson.loads(p.read_bytes())["kind"] for p in FIXTURES.glob("*.json")]
    assert len(kinds) >= 14
    assert {k: kinds.count(k) >= 3 for k in ("request", "response", "stream", "error")} == {
        "request": True,
        "response": True,
        "stream": True,
        "error": True,
    }


def test_the_module_is_a_codec() -> None:
    assert get_codec("responses") is codec
    assert codec.FORMAT == "responses"
    assert codec.TOOL_NAME_MAX == 64
    assert codec.TOOL_NAME_RE.fullmatch("get_weather-2")
    assert codec.TOOL_NAME_RE.fullmatch("a")
    assert not codec.TOOL_NAME_RE.fullmatch(".")
    assert not codec.TOOL_NAME_RE.fullmatch("mcp__server.tool")


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fixture", fixtures("request"))
def test_request_round_trip_is_exact(fixture: dict[str, Any]) -> None:
    ctx = Context()
    request = codec.decode_request(fixture["body"], ctx)
    assert codec.encode_request(request, ctx) == fixture["body"]
    assert ctx.losses == []


#: Recorded requests that real clients send but the SDK's request types do not describe.
SDK_TYPE_GAPS = {
    # Codex replays assistant messages as ``output_text`` lists without id and status; the
    # API accepts them, the SDK types only allow that content in the full output-message form.
    "Codex CLI follow-up turn",
}


@pytest.mark.parametrize("fixture", fixtures("request"))
def test_request_fixtures_validate(fixture: dict[str, Any]) -> None:
    if any(gap in fixture["description"] for gap in SDK_TYPE_GAPS):
        pytest.skip("a real client's shape outside the SDK types")
    validate_request("responses", fixture["body"])


@pytest.mark.parametrize("fixture", fixtures("request"))
def test_request_as_another_format_hands_it_over_validates(fixture: dict[str, Any]) -> None:
    """Without our hints (as another codec would hand it over), the encoding validates."""
    request = codec.decode_request(fixture["body"], Context())
    foreign = attrs.evolve(
        request,
        extras={},
        system=tuple(_foreign(p) for p in request.system),
        messages=tuple(
            attrs.evolve(m, content=tuple(_foreign(p) for p in m.content)) for m in request.messages
        ),
        tools=tuple(attrs.evolve(t, extras={}) for t in request.tools),
    )
    validate_request("responses", codec.encode_request(foreign, Context()))


@pytest.mark.parametrize("fixture", fixtures("response"))
def test_response_round_trip_is_exact(fixture: dict[str, Any]) -> None:
    ctx = Context()
    response = codec.decode_response(fixture["body"], ctx)
    out = codec.encode_response(response, ctx)
    assert out == fixture["body"]
    assert ctx.losses == []
    validate_response("responses", out)


@pytest.mark.parametrize("fixture", fixtures("stream"))
def test_recorded_final_responses_round_trip(fixture: dict[str, Any]) -> None:
    if "response" not in fixture:
        pytest.skip("no non-streamed equivalent recorded")
    body = fixture["response"]
    assert codec.encode_response(codec.decode_response(body, Context()), Context()) == body


@pytest.mark.parametrize("fixture", fixtures("response"))
def test_response_with_its_request_echoes_the_request(fixture: dict[str, Any]) -> None:
    request = fixture.get("request") or {"model": "gpt-4.1", "input": "hi"}
    ctx = Context()
    ctx.request = codec.decode_request(request, ctx)
    response = codec.decode_response(fixture["body"], Context())
    stripped = Response(
        id=response.id,
        model=response.model,
        content=tuple(_foreign(p) for p in response.content),
        stop_reason=response.stop_reason,
        usage=response.usage,
        created=response.created,
    )
    out = codec.encode_response(stripped, ctx)
    validate_response("responses", out)
    for key in ("tools", "tool_choice", "parallel_tool_calls"):
        assert key in out
    if "tools" in request:
        assert [t["name"] for t in out["tools"]] == [t["name"] for t in request["tools"]]


def _foreign(part: Any) -> Any:
    """``part`` as another format would hand it over: without our hints."""
    if isinstance(part, ToolResultPart):
        return attrs.evolve(part, extras={}, content=tuple(_foreign(p) for p in part.content))
    if hasattr(part, "extras"):
        return attrs.evolve(part, extras={})
    return part


# ------------------------------------------------------------------------------ decoding


def test_codex_request_shapes() -> None:
    request = codec.decode_request(load("codex_request")["body"], Context())
    assert request.system_role == "developer"
    assert all(isinstance(p, TextPart) for p in request.system)
    assert [m.role for m in request.messages] == ["user"]
    assert request.stream is True
    custom = next(t for t in request.tools if t.kind == "custom")
    assert custom.name == "apply_patch"
    assert custom.format is not None
    assert custom.format["type"] == "grammar"
    web = next(t for t in request.tools if t.kind == "server" and t.server_type == "web_search")
    assert web.raw is not None
    assert web.raw["external_web_access"] is False
    assert request.reasoning is not None
    assert request.reasoning.effort == "medium"
    extras = request.extras["responses"]
    assert extras["store"] is False
    assert extras["include"] == ["reasoning.encrypted_content"]
    assert extras["text"] == {"verbosity": "low"}


def test_history_folds_items_into_turns() -> None:
    request = codec.decode_request(load("request_tool_history")["body"], Context())
    assert request.system[0].text == "You are a concise weather assistant."
    assert [m.role for m in request.messages] == ["user", "assistant", "user"]
    assistant = request.messages[1].content
    assert isinstance(assistant[0], ThinkingPart)
    assert assistant[0].encrypted_content is not None
    assert assistant[0].id is not None
    assert assistant[0].id.startswith("rs_")
    calls = [p for p in assistant if isinstance(p, ToolCallPart)]
    assert [(c.id, c.arguments) for c in calls] == [
        ("call_12345xyz", '{"location":"Paris, France"}'),
        ("call_67890abc", '{"location":"Bogotá, Colombia"}'),
    ]
    assert calls[0].item_id is not None
    assert calls[0].item_id.startswith("fc_")
    results = request.messages[2].content
    assert [type(p).__name__ for p in results] == [
        "ToolResultPart",
        "ToolResultPart",
        "TextPart",
        "ServerToolPart",
    ]
    second = results[1]
    assert isinstance(second, ToolResultPart)
    assert [type(p).__name__ for p in second.content] == ["TextPart", "ImagePart"]
    reference = results[3]
    assert isinstance(reference, ServerToolPart)
    assert reference.kind == "item_reference"
    assert request.user == "user_8f14e45fceea167a"
    assert request.max_tokens == 2048


def test_images_and_files_decode_to_their_parts() -> None:
    request = codec.decode_request(load("request_images_files")["body"], Context())
    assert request.system_role == "system"
    assert request.system[0].text == "Answer in one paragraph."
    parts = request.messages[0].content
    image_url, image_data, image_file = parts[1], parts[2], parts[3]
    assert getattr(image_url, "url", None)
    assert getattr(image_url, "detail", None) == "high"
    assert getattr(image_data, "media_type", None) == "image/png"
    assert getattr(image_data, "data", "").startswith("iVBOR")
    assert getattr(image_file, "file_id", None) == "file-6F2ksmvXxt4VdoqmHRw6kL"
    pdf, by_id, by_url = parts[4], parts[5], parts[6]
    assert getattr(pdf, "media_type", None) == "application/pdf"
    assert getattr(pdf, "filename", None) == "draconomicon.pdf"
    assert getattr(by_id, "file_id", None) == "file-9GeDQ6Ba2RDvqHPFknLNwM"
    assert getattr(
        by_url,
        "url",
        None,
    ).endswith("2024ltr.pdf")


def test_structured_output_and_settings() -> None:
    request = codec.decode_request(load("request_structured_output")["body"], Context())
    assert request.output_format is not None
    assert request.output_format.kind == "json_schema"
    assert request.output_format.name == "calendar_event"
    assert request.output_format.strict is True
    assert request.logprobs is True
    assert request.top_logprobs == 2
    assert request.user == "user-1234"
    assert request.messages == (
        Message(
            role="user",
            content=(TextPart(text="Alice and Bob are going to a science fair on Friday."),),
        ),
    )
    extras = request.extras["responses"]
    assert extras["previous_response_id"].startswith("resp_")
    assert extras["text"] == {"verbosity": "low"}


def test_response_usage_follows_anthropic_semantics() -> None:
    response = codec.decode_response(load("response_reasoning_cached_usage")["body"], Context())
    assert response.usage == Usage(
        input_tokens=1861 - 1792,
        output_tokens=247,
        cache_read_tokens=1792,
        cache_write_tokens=0,
        reasoning_tokens=192,
    )
    assert response.usage.total_input == 1861
    assert response.stop_reason == "end_turn"
    assert isinstance(response.content[0], ThinkingPart)


@pytest.mark.parametrize(
    ("name", "stop"),
    [
        ("response_parallel_tool_calls", "tool_use"),
        ("response_refusal", "refusal"),
        ("response_incomplete_max_output_tokens", "max_tokens"),
        ("response_content_filter", "content_filter"),
        ("response_web_search_citations", "end_turn"),
    ],
)
def test_stop_reasons_of_recorded_answers(name: str, stop: str) -> None:
    assert codec.decode_response(load(name)["body"], Context()).stop_reason == stop


def test_url_citations_decode_with_their_positions() -> None:
    response = codec.decode_response(load("response_web_search_citations")["body"], Context())
    search, text = response.content
    assert isinstance(search, ServerToolPart)
    assert search.tool == "web_search"
    assert isinstance(text, TextPart)
    (cite,) = text.citations
    assert cite.kind == "url_citation"
    assert cite.url is not None
    assert cite.start_index is not None
    assert cite.end_index == len(text.text)
    assert text.text[cite.start_index :].startswith("([apnews.com]")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": "hi"}, "model"),
        ({"model": 3, "input": "hi"}, "model"),
        ({"model": "m", "input": 5}, "input"),
        ({"model": "m", "input": [7]}, "input[0]"),
        ({"model": "m", "input": [{"type": "function_call", "call_id": "c"}]}, "input[0].name"),
        ({"model": "m", "input": [{"role": "user", "content": 4}]}, "input[0].content"),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"text": "x"}]}]},
            "content[0].type",
        ),
        ({"model": "m", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"model": "m", "tools": {}}, "tools"),
        ({"model": "m", "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "m", "tool_choice": {"type": "allowed_tools", "tools": [{}]}}, "tool_choice"),
        ({"model": "m", "temperature": "hot"}, "temperature"),
        ({"model": "m", "max_output_tokens": 1.5}, "max_output_tokens"),
        ({"model": "m", "reasoning": {"effort": 3}}, "reasoning.effort"),
        ({"model": "m", "text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"model": "m", "instructions": ["a"]}, "instructions"),
        (
            {"model": "m", "input": [{"type": "function_call_output", "output": "x"}]},
            "input[0].call_id",
        ),
        (
            {"model": "m", "input": [{"type": "reasoning", "id": "rs", "summary": [{}]}]},
            "input[0].summary[0]",
        ),
    ],
)
def test_bad_requests_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload, match=field.replace("[", r"\[").replace("]", r"\]")):
        codec.decode_request(body, Context())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"output": []}, "id"),
        ({"id": "r", "output": {}}, "output"),
        ({"id": "r", "output": [{"type": "function_call", "call_id": "c"}]}, "output[0].name"),
        ({"id": "r", "output": [], "usage": 5}, "usage"),
        (
            {"id": "r", "output": [{"type": "message", "content": [{"type": "output_text"}]}]},
            "output[0].content[0].text",
        ),
    ],
)
def test_bad_responses_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload, match=field.replace("[", r"\[").replace("]", r"\]")):
        codec.decode_response(body, Context())


# -------------------------------------------------------------------------------- tables


def test_stop_tables_invert() -> None:
    for reason, stop in INCOMPLETE_TO_STOP.items():
        assert status_for_stop(stop) == ("incomplete", {"reason": reason})
    for status, stop in STATUS_TO_STOP.items():
        if stop is not None and status != "cancelled":  # cancelled is said as failed
            assert status_for_stop(stop)[0] == status
    for _stop, (status, reason) in STOP_TO_STATUS.items():
        details = {"reason": reason} if reason else None
        decoded = stop_for_status(status, details, [])
        assert status_for_stop(decoded) == (status, details)


def test_tool_call_in_a_completed_answer_means_tool_use() -> None:
    call = ToolCallPart(id="c", name="f", arguments="{}")
    assert stop_for_status("completed", None, [TextPart(text="x"), call]) == "tool_use"
    assert stop_for_status("incomplete", {"reason": "max_output_tokens"}, [call]) == "max_tokens"
    assert stop_for_status("incomplete", None, []) == "max_tokens"
    assert stop_for_status("incomplete", {"reason": "steered"}, []) == "steered"
    assert stop_for_status(None, None, []) is None


def test_choice_tables_invert() -> None:
    assert {v: k for k, v in CHOICE_WORDS.items()} == dict(CHOICE_MODES)


def test_every_canonical_stop_reason_has_a_status() -> None:
    from apibridge.model import STOP_REASONS

    assert set(STOP_TO_STATUS) == STOP_REASONS


# -------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("fixture", fixtures("error"))
def test_error_round_trip_is_exact(fixture: dict[str, Any]) -> None:
    error = codec.decode_error(fixture["body"], fixture["status"])
    assert error.source_format == "responses"
    status, body = codec.encode_error(error)
    assert (status, body) == (fixture["status"], fixture["body"])
    validate_error("responses", status, body)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("error_400_context_length", "invalid_request"),
        ("error_401_invalid_api_key", "authentication"),
        ("error_404_model_not_found", "not_found"),
        ("error_429_rate_limit", "rate_limit"),
        ("error_429_insufficient_quota", "billing"),
        ("error_500_server_error", "api_error"),
        ("error_503_overloaded", "unavailable"),
    ],
)
def test_error_kinds(name: str, kind: str) -> None:
    fixture = load(name)
    assert codec.decode_error(fixture["body"], fixture["status"]).kind == kind


@pytest.mark.parametrize(
    ("body", "status", "kind", "message"),
    [
        (None, 502, "bad_gateway", "upstream answered HTTP 502"),
        (
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            502,
            "bad_gateway",
            "502 Bad Gateway",
        ),
        (b"upstream timed out", 504, "timeout", "upstream timed out"),
        (
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            529,
            "overloaded",
            "Overloaded",
        ),
        ({"error": "model not loaded"}, 500, "api_error", "model not loaded"),
        ({"detail": "Not Found"}, 404, "not_found", "Not Found"),
        ({"something": [1, 2]}, 418, "invalid_request", '{"something":[1,2]}'),
        ({"error": {"message": 5, "code": {"x": 1}}}, 200, "api_error", ""),
        ([1, 2, 3], 0, "api_error", "[1,2,3]"),
        (object(), 500, "api_error", "<object"),
        ("", 500, "api_error", "upstream answered HTTP 500"),
    ],
)
def test_decode_error_never_raises(body: Any, status: int, kind: str, message: str) -> None:
    error = codec.decode_error(body, status)
    assert error.kind == kind
    assert message in error.message
    assert 400 <= error.status < 600
    out_status, out = codec.encode_error(error)
    validate_error("responses", out_status, out)


def test_another_apis_error_gets_the_openai_type() -> None:
    error = ApiError.of(
        "overloaded", "Overloaded", source_format="anthropic", type="overloaded_error"
    )
    status, body = codec.encode_error(error)
    assert status == 529
    assert body["error"]["type"] == ERROR_KINDS["overloaded"].openai
    weird = ApiError(kind="nonsense", message="m", status=200)
    assert codec.encode_error(weird) == (
        500,
        {"error": {"message": "m", "type": "server_error", "param": None, "code": None}},
    )


def test_request_round_trip_after_decode_of_empty_and_odd_inputs() -> None:
    for body in (
        {"model": "m"},
        {"model": "m", "input": []},
        {"model": "m", "input": [{"role": "user", "content": []}]},
        {"model": "m", "input": [{"role": "user", "content": ""}], "stream": False},
        {"model": "m", "input": [{"id": "msg_1"}], "reasoning": None, "text": None},
        {
            "model": "m",
            "input": [
                {"role": "assistant", "content": [{"type": "input_audio", "input_audio": {}}]}
            ],
        },
        {"model": "m", "text": {}, "reasoning": {}, "tool_choice": None, "instructions": None},
        {"model": "m", "reasoning": {"generate_summary": "concise", "context": "auto"}},
        {
            "model": "m",
            "input": [
                {
                    "type": "reasoning",
                    "summary": [],
                    "content": [
                        {"type": "reasoning_text", "text": "ab"},
                        {"type": "reasoning_text", "text": "c"},
                    ],
                }
            ],
        },
        {
            "model": "m",
            "input": [
                {"type": "message", "role": "developer", "content": "a"},
                {"type": "message", "role": "system", "content": "b"},
                {"role": "user", "content": "c"},
                {"role": "system", "content": "d"},
            ],
        },
    ):
        assert codec.encode_request(codec.decode_request(body, Context()), Context()) == body


def test_request_decodes_tool_choice_spellings() -> None:
    base = {
        "model": "m",
        "tools": [
            {"type": "function", "name": "f", "parameters": {}, "strict": False},
            {"type": "custom", "name": "g"},
            {"type": "web_search_preview"},
        ],
    }
    for choice in (
        "auto",
        "none",
        "required",
        {"type": "function", "name": "f"},
        {"type": "custom", "name": "g"},
        {"type": "web_search_preview"},
        {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "f"}]},
        {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "web_search_preview"}]},
    ):
        body = {**base, "tool_choice": choice}
        request = codec.decode_request(body, Context())
        assert codec.encode_request(request, Context()) == body
    forced = codec.decode_request(
        {**base, "tool_choice": {"type": "custom", "name": "g"}}, Context()
    )
    assert forced.tool_choice is not None
    assert forced.tool_choice.mode == "tool"
    assert forced.tool_choice.name == "g"


def test_item_reference_leads_a_turn_when_first() -> None:
    body = {
        "model": "m",
        "input": [{"type": "item_reference", "id": "msg_1"}, {"role": "user", "content": "hi"}],
    }
    request = codec.decode_request(body, Context())
    assert request.messages[0].role == "user"
    assert isinstance(request.messages[0].content[0], ServerToolPart)
    assert codec.encode_request(request, Context()) == body


def test_decode_response_tolerates_missing_defaults() -> None:
    body = {
        "id": "resp_1",
        "output": [
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "hi"}],
            },
            {"type": "code_interpreter_call", "id": "ci_1", "code": "1+1", "status": "completed"},
        ],
        "created_at": 1.5,
    }
    response = codec.decode_response(body, Context())
    assert response.model == ""
    assert response.created == 1
    assert codec.encode_response(response, Context()) == body
    assert isinstance(response.content[1], ServerToolPart)
    assert response.content[1].tool == "code_interpreter"


def test_decode_response_keeps_odd_statuses() -> None:
    for status in ("in_progress", "queued", "cancelled"):
        body = {
            "id": "r",
            "object": "response",
            "created_at": 1,
            "status": status,
            "model": "m",
            "output": [],
            "error": None,
            "incomplete_details": None,
            "tools": [],
            "tool_choice": "auto",
            "parallel_tool_calls": True,
            "usage": None,
        }
        response = codec.decode_response(body, Context())
        assert codec.encode_response(response, Context()) == body
    failed = {
        "id": "r",
        "status": "failed",
        "output": [],
        "error": {"code": "server_error", "message": "boom"},
    }
    response = codec.decode_response(failed, Context())
    assert response.stop_reason == "error"
    assert response.extras["responses"]["error"]["message"] == "boom"
    assert codec.encode_response(response, Context()) == failed


def test_request_with_foreign_system_and_no_messages() -> None:
    request = Request(model="m", messages=(), system=(TextPart(text="a"), TextPart(text="b")))
    out = codec.encode_request(request, Context())
    assert out == {"model": "m", "input": [], "instructions": "a\n\nb"}
    validate_request("responses", out)
