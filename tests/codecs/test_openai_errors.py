"""The OpenAI error envelope (``codecs._openai_errors``), shared by ``chat`` and ``responses``:
its tables invert, and each place where the three former copies (chat's ``decode_error``,
responses' ``decode_error`` and its stream decoder's ``failed_error``) disagreed has a
regression test naming the behaviour that was kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from apibridge._sse import SSEDecoder
from apibridge.codecs import Context, chat, responses
from apibridge.codecs._openai_errors import (
    ERROR_CODE_KINDS,
    ERROR_TYPE_KINDS,
    FAILED_CODE_KINDS,
    GENERIC_TYPE_KINDS,
    KIND_FAILED_CODES,
    KIND_TYPES,
    decode_error,
    decode_failed,
    encode_error,
    encode_failed,
)
from apibridge.errors import ERROR_KINDS, ApiError, kind_for_status
from apibridge.model import StreamError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(fmt: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / fmt / f"{name}.json").read_text())
    return data


# ------------------------------------------------------------------------ the tables invert


def test_every_kind_has_an_openai_type() -> None:
    assert set(KIND_TYPES) == set(ERROR_KINDS)


@pytest.mark.parametrize("kind", sorted(ERROR_KINDS))
def test_kind_to_type_to_kind_is_the_identity(kind: str) -> None:
    """A specific type says its kind alone; a generic one leaves it to the kind's status."""
    wire_type = KIND_TYPES[kind]
    if wire_type in ERROR_TYPE_KINDS:
        assert ERROR_TYPE_KINDS[wire_type] == kind
    else:
        assert wire_type in GENERIC_TYPE_KINDS
        assert kind_for_status(ERROR_KINDS[kind].status) == kind


@pytest.mark.parametrize("fmt", ["chat", "responses"])
@pytest.mark.parametrize("kind", sorted(ERROR_KINDS))
def test_kind_to_envelope_to_kind_is_the_identity(kind: str, fmt: str) -> None:
    status, body = encode_error(ApiError.of(kind, "boom", source_format="anthropic"))
    assert status == ERROR_KINDS[kind].status
    back = decode_error(body, status, fmt)
    assert (back.kind, back.status, back.message) == (kind, status, "boom")


def test_kind_to_failed_code_to_kind_is_the_identity() -> None:
    for kind, code in KIND_FAILED_CODES.items():
        assert FAILED_CODE_KINDS[code] == kind
        assert encode_failed(ApiError.of(kind, "m")) == {"code": code, "message": "m"}
        assert decode_failed(encode_failed(ApiError.of(kind, "m"))).kind == kind


def test_kinds_without_a_failed_code_get_the_nearest_or_server_error() -> None:
    assert encode_failed(ApiError.of("request_too_large", "m"))["code"] == "invalid_prompt"
    assert encode_failed(ApiError.of("unprocessable", "m"))["code"] == "invalid_prompt"
    assert encode_failed(ApiError.of("authentication", "m"))["code"] == "server_error"
    assert encode_failed(ApiError.of("rate_limit", "m", code="image_too_large")) == {
        "code": "image_too_large",  # a code the SDK allows is kept as it came
        "message": "m",
    }


def test_specific_failed_codes_are_read_at_http_level_too() -> None:
    for code, kind in FAILED_CODE_KINDS.items():
        if kind not in ("api_error", "invalid_request"):
            assert ERROR_CODE_KINDS[code] == kind
        assert decode_failed({"code": code}).kind == kind


def test_code_table_wins_over_type_table_and_status() -> None:
    for code, kind in ERROR_CODE_KINDS.items():
        body = {"error": {"message": "x", "type": "permission_error", "code": code}}
        assert decode_error(body, 400, "chat").kind == kind


def test_chat_face_exports_the_shared_tables() -> None:
    assert chat.ERROR_CODE_KIND is ERROR_CODE_KINDS
    assert chat.ERROR_TYPE_KIND is ERROR_TYPE_KINDS
    assert chat.encode_error is encode_error


# ------------------------------------------------------- divergences settled (regressions)


def test_responses_error_keeps_the_retry_hint_of_its_message() -> None:
    """Chat read "try again in 1.44s" as ``retry_after``; responses dropped it."""
    body = fixture("responses", "error_429_rate_limit")
    error = decode_error(body["body"], body["status"], "responses")
    assert error.retry_after == pytest.approx(2.114)
    assert decode_error({"error": None, "retry_after": 20}, 429, "responses").retry_after == 20.0


def test_failed_response_keeps_the_retry_hint_of_its_message() -> None:
    """``failed_error`` dropped the hint of a rate limit that failed a stream."""
    error = decode_failed(
        {"code": "rate_limit_exceeded", "message": "Rate limit reached. Please try again in 20s."}
    )
    assert (error.kind, error.retry_after) == ("rate_limit", 20.0)


def test_a_generic_failed_code_does_not_override_the_http_status() -> None:
    """Responses mixed the ``response.failed`` codes into its HTTP code table, so a
    ``server_error`` code turned a 503 into ``api_error``; the status decides now."""
    body = {"error": {"message": "busy", "type": "server_error", "code": "server_error"}}
    assert decode_error(body, 503, "responses").kind == "unavailable"
    assert decode_error(body, 0, "responses").kind == "api_error"  # in-band: the code decides


def test_in_band_generic_type_decides_the_kind() -> None:
    """Without an HTTP status, responses said ``api_error`` for every generic type."""
    body = {"error": {"message": "bad", "type": "invalid_request_error"}}
    error = decode_error(body, 0, "responses")
    assert (error.kind, error.status) == ("invalid_request", 400)
    tokens = decode_error({"error": {"message": "slow", "type": "tokens"}}, 0, "responses")
    assert tokens.kind == "rate_limit"  # OpenAI's per-minute limit types were chat's only


def test_status_outside_the_error_range_becomes_the_kinds_own() -> None:
    """Chat kept any status of 400 or more (999 included) and encoded any status as is."""
    assert decode_error({"error": {"message": "x"}}, 999, "chat").status == 500
    assert encode_error(ApiError(kind="rate_limit", message="m", status=200))[0] == 429
    assert encode_error(ApiError(kind="nonsense", message="m", status=200)) == (
        500,
        {"error": {"message": "m", "type": "server_error", "param": None, "code": None}},
    )


def test_json_text_body_is_parsed() -> None:
    """Responses took a body still in text as its message, losing type and code."""
    envelope = {"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}
    text = json.dumps({"error": envelope}).encode()
    error = decode_error(text, 401, "responses")
    assert (error.kind, error.message, error.code) == (
        "authentication",
        "bad key",
        "invalid_api_key",
    )


def test_html_without_a_title_gives_its_text() -> None:
    """Chat used the page's title or a generic message; responses its text without tags."""
    html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    assert decode_error(html, 502, "responses").message == "502 Bad Gateway"
    untitled = "<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>"
    assert decode_error(untitled, 502, "chat").message == "502 Bad Gateway nginx"


def test_fastapi_validation_detail_names_the_field() -> None:
    """Responses read only a string ``detail``; a list became the whole body as JSON."""
    body = fixture("chat", "error_422_fastapi_detail")["body"]
    assert decode_error(body, 422, "responses").message == "messages: Field required"


def test_vllm_top_level_error_keeps_type_and_code() -> None:
    """Responses read only the message of vLLM's top-level error body."""
    body = fixture("chat", "error_vllm_400")["body"]
    error = decode_error(body, 400, "responses")
    assert (error.kind, error.type, error.code) == ("invalid_request", "BadRequestError", "400")


def test_code_is_a_string_or_an_integer_only() -> None:
    """Responses turned any scalar into a code (``True`` became ``"True"``); the failed-event
    reader dropped integer codes."""
    assert decode_error({"error": {"message": "x", "code": True}}, 400, "responses").code is None
    assert decode_error({"error": {"message": "x", "code": 1.5}}, 400, "responses").code is None
    assert decode_error({"error": {"message": "x", "code": 400}}, 400, "responses").code == "400"
    assert decode_failed({"code": 400, "message": "x"}).code == "400"


def test_another_apis_envelope_does_not_keep_its_type_as_openai() -> None:
    """Chat marked Anthropic's envelope as its own, so ``overloaded_error`` went on to an
    OpenAI client as if it were an OpenAI type."""
    anthropic_shape = {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    error = decode_error(anthropic_shape, 529, "chat")
    assert (error.kind, error.type, error.source_format) == ("overloaded", "overloaded_error", None)
    assert encode_error(error)[1]["error"]["type"] == "server_error"


def test_compatible_servers_bodies_are_from_the_decoding_format() -> None:
    """Responses marked only the OpenAI envelope as its own; a body of a server speaking the
    format (Ollama, FastAPI, text) is from that format too, as chat had it."""
    for body in ({"error": "model not loaded"}, {"detail": "Not Found"}, "upstream timed out"):
        assert decode_error(body, 500, "responses").source_format == "responses"


def test_messages_are_never_empty() -> None:
    """Responses kept an empty message string and named a non-JSON body by its JSON text."""
    assert decode_error({"error": {"message": ""}}, 500, "responses").message
    assert decode_error("", 500, "chat").message == "upstream answered HTTP 500"
    assert decode_error(None, 0, "chat").message == "the upstream reported an error"
    assert decode_error([1, 2, 3], 500, "chat").message == "[1,2,3]"
    assert decode_failed({"code": "server_error", "message": ""}).message == "the response failed"


def test_a_top_level_type_error_is_a_tag_not_a_type() -> None:
    """Responses' ``error`` event (and Anthropic's body) say ``"type": "error"``."""
    error = decode_error({"type": "error", "message": "x", "code": "server_error"}, 0, "chat")
    assert (error.type, error.kind) == (None, "api_error")


def test_failed_event_type_is_not_read() -> None:
    error = decode_failed({"type": "error", "code": "invalid_prompt", "message": "no"})
    assert (error.kind, error.status, error.type, error.source_format) == (
        "invalid_request",
        400,
        None,
        "responses",
    )
    assert decode_failed(None).message == "the response failed"


# ----------------------------------------------------- the Responses codec uses the same rule


def test_responses_codec_error_keeps_the_retry_hint_end_to_end() -> None:
    """Through the Responses codec's own face (not only the shared module): the hint a Chat
    client always got now reaches a Responses client too."""
    body = {
        "error": {
            "message": "Rate limit reached. Please try again in 20s.",
            "type": "requests",
            "code": "rate_limit_exceeded",
        }
    }
    error = responses.decode_error(body, 429)
    assert (error.kind, error.retry_after) == ("rate_limit", 20.0)
    assert chat.decode_error(body, 429).retry_after == error.retry_after


def test_responses_stream_failure_keeps_the_retry_hint_end_to_end() -> None:
    sse = (
        b'event: response.failed\ndata: {"type":"response.failed","sequence_number":0,'
        b'"response":{"id":"resp_1","object":"response","created_at":1,"status":"failed",'
        b'"model":"m","output":[],"error":{"code":"rate_limit_exceeded",'
        b'"message":"Slow down: try again in 1.5s"}}}\n\n'
    )
    frames = SSEDecoder().feed(sse) + SSEDecoder().close()
    decoder = responses.StreamDecoder(Context())
    events = [e for f in frames for e in decoder.feed(f)] + decoder.close()
    failure = events[-1]
    assert isinstance(failure, StreamError)
    assert (failure.error.kind, failure.error.retry_after) == ("rate_limit", 1.5)


def test_responses_stream_encoder_writes_the_shared_failed_code() -> None:
    encoder = responses.StreamEncoder(Context())
    error = ApiError.of("request_too_large", "too big")
    data = b"".join(encoder.feed(StreamError(error=error)) + encoder.close())
    failed = [f for f in SSEDecoder().feed(data) if f.event == "response.failed"]
    assert json.loads(failed[0].data)["response"]["error"] == encode_failed(error)
    assert encode_failed(error)["code"] == "invalid_prompt"
