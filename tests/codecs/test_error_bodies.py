"""The readers of odd error bodies (``codecs._error_bodies``), shared by the OpenAI, Anthropic
and backboard envelopes: each reader on its own, then one regression test for each place where
the three former copies disagreed, naming the behaviour that was kept."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest

from apibridge.codecs import anthropic, backboard
from apibridge.codecs._error_bodies import (
    MAX_MESSAGE,
    answer_status,
    code_text,
    detail_text,
    is_error_status,
    read_body,
    retry_after,
    retry_hint,
    retry_seconds,
    text_message,
)
from apibridge.codecs._openai_errors import decode_error as decode_openai
from apibridge.codecs.backboard._errors import error_message as backboard_message

NGINX = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
UNTITLED = "<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>"
FASTAPI_422 = {
    "detail": [
        {"type": "missing", "loc": ["body", "messages"], "msg": "Field required", "input": {}}
    ]
}


# ------------------------------------------------------------------------- the readers


def test_read_body_decodes_bytes_and_parses_a_json_object_text() -> None:
    assert read_body(b' {"detail": "x"} ') == {"detail": "x"}
    assert read_body(bytearray(b"\xffbad")) == "\ufffdbad"
    assert read_body('  {"broken json ') == '{"broken json'
    assert read_body("  [1, 2] ") == "[1, 2]"  # no envelope to read in an array: text
    assert read_body(None) is None
    assert read_body([1]) == [1]


def test_html_with_a_title_gives_the_title() -> None:
    assert text_message(NGINX) == "502 Bad Gateway"
    assert text_message("<!DOCTYPE html><TITLE lang=en>\n  Bad\n  Gateway </TITLE>") == (
        "Bad Gateway"
    )


def test_html_without_a_title_gives_its_text() -> None:
    assert text_message(UNTITLED) == "502 Bad Gateway nginx"
    assert text_message("<html><title> </title><p>busy</p></html>") == "busy"
    assert text_message("<p></p>") is None


def test_plain_text_is_kept_as_it_is_and_capped() -> None:
    assert text_message("  line one\n  <b>line</b> two ") == "line one\n  <b>line</b> two"
    assert text_message("x" * (MAX_MESSAGE + 50)) == "x" * MAX_MESSAGE
    assert text_message("   ") is None


def test_fastapi_detail_list_without_body_in_loc() -> None:
    entries = [{"loc": ["query", "limit"], "msg": "too big"}, {"loc": [], "msg": "bad"}, "odd"]
    assert detail_text(entries) == "query.limit: too big; bad; odd"


def test_fastapi_detail_list_with_body_in_loc() -> None:
    assert detail_text(FASTAPI_422["detail"]) == "messages: Field required"
    deep = [{"loc": ["body", "messages", 0, "body"], "msg": "x"}]
    assert detail_text(deep) == "messages.0.body: x"  # only the leading part is the request's


def test_fastapi_detail_other_shapes() -> None:
    assert detail_text("Not Found") == "Not Found"
    assert detail_text({"message": "m"}) == "m"
    assert detail_text([{"loc": "content", "msg": "x"}]) == "content: x"
    assert detail_text([{"loc": ("body", "a"), "msg": "x"}]) == "a: x"
    assert detail_text({"other": 1}) is None
    assert detail_text(5) is None
    assert detail_text([]) == ""


CODES: list[tuple[Any, str | None]] = [
    ("rate_limit_exceeded", "rate_limit_exceeded"),
    (400, "400"),
    (0, "0"),
    (True, None),
    (1.5, None),
    (None, None),
    (["x"], None),
]


@pytest.mark.parametrize(("value", "text"), CODES)
def test_code_is_a_string_or_an_integer(value: Any, text: str | None) -> None:
    assert code_text(value) == text


#: a retry field → its seconds: finite and not negative, or none at all.
RETRY_FIELDS: list[tuple[Any, float | None]] = [
    (20, 20.0),
    (2.5, 2.5),
    ("2.5", 2.5),
    (" 7 ", 7.0),
    (0, 0.0),
    (-1, None),
    ("soon", None),
    (True, None),
    (None, None),
    ([3], None),
    (float("inf"), None),
    ("inf", None),
    ("nan", None),
    ("1e999", None),
    (10**400, None),
]


@pytest.mark.parametrize(("value", "seconds"), RETRY_FIELDS)
def test_retry_seconds_of_a_field(value: Any, seconds: float | None) -> None:
    assert retry_seconds(value) == seconds


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        ("Please try again in 1m30s.", 90.0),
        ("Please try again in 1.44s", 1.44),
        ("try again in 250ms", 0.25),
        ("try again in 1h", 3600.0),
        ("Please retry after 6 seconds.", 6.0),
        ("retry after 1 second", 1.0),
        ("no hint here", None),
        ("try again in " + "9" * 400 + "s", None),  # a whole number of seconds must exist
    ],
)
def test_retry_hint_in_a_message(message: str, seconds: float | None) -> None:
    assert retry_hint(message) == pytest.approx(seconds)


def test_retry_after_takes_the_first_field_then_the_message() -> None:
    assert retry_after("try again in 5s", None, "3", 4) == 3.0
    assert retry_after("try again in 5s", "soon", -1) == 5.0
    assert retry_after("nothing") is None


def test_error_status_and_the_status_to_answer() -> None:
    assert [is_error_status(s) for s in (400, 599, 399, 600, 0, True, "500", 502.0)] == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
    ]
    assert is_error_status(HTTPStatus.BAD_GATEWAY)
    assert answer_status(418, "rate_limit") == 418
    assert answer_status(200, "rate_limit") == 429
    assert answer_status(0, "nonsense") == 500
    assert type(answer_status(HTTPStatus.BAD_GATEWAY, "api_error")) is int


# ----------------------------------------------------- divergences settled (regressions)

# OpenAI envelope (chat and responses)


def test_openai_html_title_whitespace_is_collapsed() -> None:
    """The OpenAI copy kept a title's line breaks; Anthropic's collapsed them, as HTML shows."""
    page = "<html><head><title>\n  502 Bad\n  Gateway\n</title></head></html>"
    assert decode_openai(page, 502, "chat").message == "502 Bad Gateway"


def test_openai_retry_after_field_may_be_a_number_in_text() -> None:
    """The OpenAI copy read only a numeric ``retry_after``; Anthropic's read "2.5" too."""
    assert decode_openai({"error": "slow", "retry_after": "2.5"}, 429, "chat").retry_after == 2.5


def test_openai_retry_after_of_the_error_object_is_read() -> None:
    """The OpenAI copy read ``retry_after`` only beside ``error``; Anthropic's inside it too."""
    body = {"error": {"message": "slow", "type": "requests", "retry_after": 3}}
    assert decode_openai(body, 429, "responses").retry_after == 3.0


def test_openai_endless_retry_hint_is_none() -> None:
    """A hint too large for a float became ``inf``, which no ``Retry-After`` header can say."""
    message = "Rate limited. Please try again in " + "9" * 400 + "s."
    assert decode_openai({"error": {"message": message}}, 429, "chat").retry_after is None


def test_openai_fastapi_drops_only_the_leading_body_of_loc() -> None:
    """The OpenAI copy dropped every ``"body"`` in ``loc``, a field of that name too."""
    body = {"detail": [{"loc": ["body", "messages", 0, "body"], "msg": "x"}]}
    assert decode_openai(body, 422, "chat").message == "messages.0.body: x"


def test_openai_fastapi_string_loc_names_the_field() -> None:
    """The OpenAI copy read only a list ``loc`` and dropped a string one."""
    body = {"detail": [{"loc": "messages", "msg": "Field required"}]}
    assert decode_openai(body, 422, "chat").message == "messages: Field required"


def test_openai_http_status_enum_is_an_error_status() -> None:
    """The OpenAI copy took only an exact ``int`` for a status (``HTTPStatus`` made a 503 an
    in-band ``api_error`` with status 500); Anthropic's took any integer but ``bool``."""
    error = decode_openai({"error": {"message": "busy"}}, HTTPStatus.SERVICE_UNAVAILABLE, "chat")
    assert (error.kind, error.status, type(error.status)) == ("unavailable", 503, int)


def test_openai_json_array_text_stays_text() -> None:
    """The OpenAI copy parsed an array text to write it back compact; it has no envelope, so
    it is read as text like any other (the upstream's own spacing kept)."""
    assert decode_openai("[1, 2]", 500, "chat").message == "[1, 2]"


# Anthropic envelope


def test_anthropic_html_with_an_empty_title_gives_its_text() -> None:
    """Anthropic's copy took an empty title as the message (then the generic fallback);
    the OpenAI copy went on to the page's text."""
    page = "<html><head><title> </title></head><body><h1>Bad gateway</h1></body></html>"
    assert anthropic.decode_error(page, 502).message == "Bad gateway"


def test_anthropic_plain_text_is_kept_as_written() -> None:
    """Anthropic's copy stripped tags and line breaks from any text; only an HTML page (a
    text that opens with ``<``) is markup, as the OpenAI copy had it."""
    text = "upstream said:\n  <model> is unknown"
    assert anthropic.decode_error(text, 400).message == text


def test_anthropic_fastapi_validation_detail_names_the_field() -> None:
    """Anthropic's copy read only a string ``detail``; a list gave the generic message."""
    assert anthropic.decode_error(FASTAPI_422, 422).message == "messages: Field required"
    assert anthropic.decode_error({"detail": {"message": "m"}}, 500).message == "m"


@pytest.mark.parametrize(
    "hint", ["inf", "1e999", float("inf"), 10**400], ids=["inf", "1e999", "float-inf", "10**400"]
)
def test_anthropic_endless_retry_after_is_none(hint: Any) -> None:
    """Anthropic's copy kept ``inf`` (the gateway's ``Retry-After`` then failed on it) and
    raised ``OverflowError`` on a huge integer, though ``decode_error`` never raises."""
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "m"}}
    assert anthropic.decode_error({**body, "retry_after": hint}, 429).retry_after is None


def test_anthropic_retry_hint_of_the_message_is_read() -> None:
    """Anthropic's copy read only ``retry_after`` fields; a proxy relaying OpenAI's text
    ("try again in 20s") lost the hint the OpenAI copy read."""
    body = {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Please try again in 20s."},
    }
    assert anthropic.decode_error(body, 429).retry_after == 20.0


# backboard envelope


def test_backboard_fastapi_drops_the_body_of_loc() -> None:
    """backboard's copy wrote ``body.content``; the field the client can fix is ``content``."""
    body = {"detail": [{"loc": ["body", "content"], "msg": "field required"}]}
    assert backboard.decode_error(body, 422).message == "content: field required"


def test_backboard_fastapi_string_loc_is_one_name() -> None:
    """backboard's copy joined a string ``loc`` letter by letter (``c.o.n.t.e.n.t``)."""
    body = {"detail": [{"loc": "content", "msg": "field required"}]}
    assert backboard.decode_error(body, 422).message == "content: field required"


def test_backboard_html_page_gives_its_title() -> None:
    """backboard's copy took a proxy's whole HTML page, tags and all, as the message."""
    error = backboard.decode_error(NGINX, 502)
    assert (error.kind, error.message) == ("bad_gateway", "502 Bad Gateway")
    assert backboard_message(UNTITLED) == "502 Bad Gateway nginx"


def test_backboard_text_body_is_capped() -> None:
    """backboard's copy kept a text body of any length; the others cap it."""
    assert backboard.decode_error("x" * 5000, 500).message == "x" * MAX_MESSAGE


@pytest.mark.parametrize(
    "raw", [b'{"detail": "Invalid API key"}', ' {"detail": "Invalid API key"}']
)
def test_backboard_json_text_or_bytes_are_parsed(raw: Any) -> None:
    """backboard's copy read bytes as no message at all and a JSON text as its raw text, so
    the kind its text names was lost."""
    error = backboard.decode_error(raw, 401)
    assert (error.kind, error.code, error.message) == (
        "authentication",
        "invalid_api_key",
        "Invalid API key",
    )
