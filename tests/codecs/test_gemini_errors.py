"""Google's error envelope (``codecs/gemini/_errors.py``): every ``google.rpc`` status both
ways, ``RetryInfo``, the odd bodies (arrays, text, HTML, other APIs' envelopes), checked with
``google-genai``'s own ``errors.APIError`` reader; decoding never raises (Hypothesis)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.genai import errors as genai_errors
from hypothesis import given
from hypothesis import strategies as st
from tests.oracles import validate_error

from apibridge.codecs import get_codec
from apibridge.codecs.gemini._errors import decode_error, encode_error, retry_delay
from apibridge.codecs.gemini._wire import KIND_TO_STATUS, STATUS_TO_KIND
from apibridge.errors import ERROR_KINDS, ApiError


def google(status: int, name: str, message: str = "boom", details: Any = None) -> dict[str, Any]:
    inner: dict[str, Any] = {"code": status, "message": message, "status": name}
    if details is not None:
        inner["details"] = details
    return {"error": inner}


@pytest.mark.parametrize(
    ("status", "name", "kind"),
    [
        (400, "INVALID_ARGUMENT", "invalid_request"),
        (400, "FAILED_PRECONDITION", "invalid_request"),
        (400, "OUT_OF_RANGE", "invalid_request"),
        (413, "INVALID_ARGUMENT", "request_too_large"),
        (401, "UNAUTHENTICATED", "authentication"),
        (403, "PERMISSION_DENIED", "permission"),
        (404, "NOT_FOUND", "not_found"),
        (409, "ABORTED", "api_error"),
        (429, "RESOURCE_EXHAUSTED", "rate_limit"),
        (500, "INTERNAL", "api_error"),
        (500, "UNKNOWN", "api_error"),
        (501, "UNIMPLEMENTED", "not_found"),
        (503, "UNAVAILABLE", "unavailable"),
        (504, "DEADLINE_EXCEEDED", "timeout"),
        (499, "CANCELLED", "api_error"),
        (400, "SOMETHING_NEW", "invalid_request"),
        (503, "SOMETHING_NEW", "unavailable"),
    ],
)
def test_google_statuses_decode_to_kinds(status: int, name: str, kind: str) -> None:
    error = decode_error(google(status, name, "it failed"), status)
    assert (error.kind, error.status, error.message) == (kind, status, "it failed")
    assert error.source_format == "gemini"
    assert error.type == (name if name in STATUS_TO_KIND else None)


def test_retry_info_and_the_message_hint() -> None:
    quota = google(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota. Please retry in 19.627166133s.",
        [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"},
        ],
    )
    assert decode_error(quota, 429).retry_after == 20.0
    del quota["error"]["details"]
    assert decode_error(quota, 429).retry_after == pytest.approx(19.627166133)
    plain = google(429, "RESOURCE_EXHAUSTED", "slow down")
    assert decode_error(plain, 429).retry_after is None
    assert [
        retry_delay(v)
        for v in ("1.5s", "0s", " 3s ", "3", "s", {"seconds": 2, "nanos": 500000000}, None)
    ] == [
        1.5,
        0.0,
        3.0,
        None,
        None,
        2.5,
        None,
    ]


def test_a_wrong_key_is_an_authentication_error() -> None:
    body = google(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ],
    )
    error = decode_error(body, 400)
    # other clients' SDKs choose the exception by status: a bad key must be a 401 for them
    assert (error.kind, error.status, error.code) == ("authentication", 401, "API_KEY_INVALID")
    status, back = encode_error(error)  # a Gemini client gets Google's answer back
    assert status == 400
    assert {k: v for k, v in back["error"].items() if k != "details"} == {
        k: v for k, v in body["error"].items() if k != "details"
    }
    assert back["error"]["details"][0]["reason"] == "API_KEY_INVALID"  # (its metadata is not kept)
    status, anthropic_body = get_codec("anthropic").encode_error(error)
    validate_error("anthropic", status, anthropic_body)
    assert anthropic_body["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("body", "status", "kind", "message"),
    [
        (json.dumps([google(429, "RESOURCE_EXHAUSTED", "array")]), 429, "rate_limit", "array"),
        ([google(503, "UNAVAILABLE", "listed")], 503, "unavailable", "listed"),
        (json.dumps(google(500, "INTERNAL", "bytes")).encode(), 500, "api_error", "bytes"),
        (
            "<html><head><title>502 Bad Gateway</title></head></html>",
            502,
            "bad_gateway",
            "502 Bad Gateway",
        ),
        ("upstream connect error", 503, "unavailable", "upstream connect error"),
        (
            {"error": {"message": "openai style", "type": "invalid_request_error"}},
            400,
            "invalid_request",
            "openai style",
        ),
        ({"detail": "fastapi"}, 422, "unprocessable", "fastapi"),
        ({"error": "just a string"}, 500, "api_error", "just a string"),
        (google(429, "RESOURCE_EXHAUSTED", "in a stream"), 0, "rate_limit", "in a stream"),
        ("", 500, "api_error", "upstream error (HTTP 500)"),
        (None, 502, "bad_gateway", "upstream error (HTTP 502)"),
        ("[not json", 500, "api_error", "[not json"),
        (42, 500, "api_error", "42"),
    ],
)
def test_odd_bodies(body: Any, status: int, kind: str, message: str) -> None:
    error = decode_error(body, status)
    assert (error.kind, error.message) == (kind, message)
    assert 400 <= error.status <= 599


def test_an_error_inside_a_stream_takes_its_status_from_the_body() -> None:
    error = decode_error(google(429, "RESOURCE_EXHAUSTED", "mid-stream"), 0)
    assert (error.kind, error.status) == ("rate_limit", 429)


@pytest.mark.parametrize("kind", sorted(ERROR_KINDS))
def test_every_kind_encodes_to_an_envelope_the_sdk_reads(kind: str) -> None:
    error = ApiError.of(kind, f"{kind} happened", retry_after=7.0 if kind == "rate_limit" else None)
    status, body = encode_error(error)
    expected_status, name = KIND_TO_STATUS[kind]
    assert body["error"]["status"] == name
    # Google's own status for the kind: 402 billing, 422 and Anthropic's 529 are not Google's
    assert status == expected_status
    sdk = genai_errors.APIError(status, body)
    assert (sdk.code, sdk.status, sdk.message) == (status, name, f"{kind} happened")
    back = decode_error(body, status)
    assert back.message == error.message
    assert back.retry_after == error.retry_after
    assert KIND_TO_STATUS[back.kind] == (status, name)


def test_a_gemini_error_goes_back_as_it_came() -> None:
    body = google(
        429,
        "RESOURCE_EXHAUSTED",
        "quota",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "domain": "googleapis.com",
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"},
        ],
    )
    status, again = encode_error(decode_error(body, 429))
    assert (status, again) == (429, body)
    failed = google(400, "FAILED_PRECONDITION", "User location is not supported for the API use.")
    assert encode_error(decode_error(failed, 400)) == (400, failed)


def test_errors_of_other_formats_for_a_gemini_client() -> None:
    overloaded = get_codec("anthropic").decode_error(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, 529
    )
    status, body = encode_error(overloaded)
    assert (status, body["error"]["status"]) == (503, "UNAVAILABLE")
    limited = get_codec("chat").decode_error(
        {
            "error": {
                "message": "Rate limit reached. Please try again in 2.5s.",
                "type": "requests",
                "code": "rate_limit_exceeded",
            }
        },
        429,
    )
    status, body = encode_error(limited)
    assert status == 429
    assert body == {
        "error": {
            "code": 429,
            "message": "Rate limit reached. Please try again in 2.5s.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}
            ],
        }
    }  # the OpenAI code is not a Google ErrorInfo reason: not written


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_gemini_errors_for_other_clients(fmt: str) -> None:
    for status, name in [
        (400, "INVALID_ARGUMENT"),
        (429, "RESOURCE_EXHAUSTED"),
        (503, "UNAVAILABLE"),
        (403, "PERMISSION_DENIED"),
    ]:
        error = decode_error(google(status, name), status)
        out_status, body = get_codec(fmt).encode_error(error)
        validate_error(fmt, out_status, body)
        assert out_status == status


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
error_shapes = st.fixed_dictionaries(
    {},
    optional={
        "code": json_values,
        "message": json_values,
        "status": st.sampled_from([*STATUS_TO_KIND, "x"]) | json_values,
        "details": st.lists(
            st.fixed_dictionaries(
                {
                    "@type": st.sampled_from(
                        [
                            "type.googleapis.com/google.rpc.RetryInfo",
                            "type.googleapis.com/google.rpc.ErrorInfo",
                            "x",
                        ]
                    )
                },
                optional={"retryDelay": json_values, "reason": json_values},
            )
            | json_values,
            max_size=3,
        )
        | json_values,
    },
)


@given(
    body=st.one_of(
        json_values,
        st.builds(lambda e: {"error": e}, error_shapes),
        st.builds(lambda e: [{"error": e}], error_shapes),
        st.binary(max_size=40),
        st.text(max_size=40),
    ),
    status=st.integers(-5, 700),
)
def test_decoding_never_raises_and_the_result_encodes(body: Any, status: int) -> None:
    error = decode_error(body, status)
    assert 400 <= error.status <= 599
    assert error.kind in ERROR_KINDS
    out_status, out = encode_error(error)
    sdk = genai_errors.APIError(out_status, out)
    assert sdk.message == error.message
    assert sdk.status == out["error"]["status"]
