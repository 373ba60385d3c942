"""Gemini clients through the gateway served on loopback: the ``google-genai`` SDK (in both
API versions it may be given) and raw REST calls, before scripted upstreams of every format.

``generateContent``, ``streamGenerateContent`` (SSE with ``alt=sse``, the JSON-array form
without), ``countTokens`` (the upstream's own count where it has one, else a marked
estimate), the model list and one model, and errors in Google's envelope with the right
status, before the answer and in-band. Keys: ``x-goog-api-key`` or ``?key=``, and neither
the client's key nor the upstream's reaches a log line, an error or a span.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from calls import (
    assert_in_band_error,
    body_for,
    check_error,
    frames,
    gemini_client,
    path_for,
)
from google.genai import errors as gerrors
from google.genai import types as gtypes
from servers import CLIENT_KEY, UPSTREAM_FORMATS, Plan, ScriptedUpstream, upstream_key

from apibridge.jsonlog import JsonFormatter

PROMPT = "hello there, model"
GOOGLE_KEY = {"x-goog-api-key": CLIENT_KEY, "content-type": "application/json"}


def expected(fmt: str) -> str:
    return f"Hello from {fmt}! You said: {PROMPT}"


def text_of(answers: list[gtypes.GenerateContentResponse]) -> str:
    return "".join(
        p.text or ""
        for a in answers
        for c in (a.candidates or [])[:1]
        for p in ((c.content and c.content.parts) or [])
        if not p.thought
    )


def upstream_model(upstream: ScriptedUpstream) -> str:
    """The model the upstream was asked for (Gemini's is in the path)."""
    request = upstream.requests[-1]
    if upstream.format == "gemini":
        return str(request["path"].split("/")[-1].split(":")[0])
    return str(request["body"]["model"])


# ----------------------------------------------------------------------------- answers


@pytest.mark.parametrize("version", ["v1", "v1beta"])
@pytest.mark.parametrize("fmt", UPSTREAM_FORMATS)
def test_generate_content_through_every_upstream(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str, version: str
) -> None:
    client = gemini_client(gateway, CLIENT_KEY, version=version)
    answer = client.models.generate_content(model=f"{fmt}-model", contents=PROMPT)
    assert answer.text == expected(fmt)
    assert answer.candidates
    assert answer.candidates[0].finish_reason == gtypes.FinishReason.STOP
    usage = answer.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count) == (12, 7)
    assert upstream_model(upstreams[fmt]) == f"{fmt}-model"
    assert len(upstreams[fmt].requests) == 1


@pytest.mark.parametrize("fmt", UPSTREAM_FORMATS)
def test_stream_generate_content_over_sse(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    client = gemini_client(gateway, CLIENT_KEY, version="v1beta")
    chunks = list(client.models.generate_content_stream(model=f"{fmt}-model", contents=PROMPT))
    assert len(chunks) > 1  # streamed, not one answer at the end
    assert text_of(chunks) == expected(fmt)
    last = chunks[-1]
    assert last.candidates
    assert last.candidates[0].finish_reason == gtypes.FinishReason.STOP
    assert last.usage_metadata is not None
    assert last.usage_metadata.candidates_token_count == 7
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1] if c.candidates)
    upstream = upstreams[fmt]
    if fmt == "gemini":
        assert upstream.requests[-1]["query"] == "alt=sse"
    else:
        assert upstream.requests[-1]["body"]["stream"] is True


@pytest.mark.parametrize("fmt", UPSTREAM_FORMATS)
def test_without_alt_sse_the_stream_is_one_json_array(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    model = f"{fmt}-model"
    body = body_for("gemini", model)
    path = f"/v1beta/models/{model}:streamGenerateContent"
    with httpx.stream("POST", gateway + path, json=body, headers=GOOGLE_KEY, timeout=20) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        pieces = list(r.iter_raw())
    raw = b"".join(pieces)
    assert raw.startswith(b"[{")
    assert raw.endswith(b"}]")
    elements = json.loads(raw)
    answers = [gtypes.GenerateContentResponse.model_validate(e) for e in elements]
    assert text_of(answers) == expected(fmt)
    # the same elements as the SSE form's frames
    sse = httpx.post(gateway + path + "?alt=sse", json=body, headers=GOOGLE_KEY, timeout=20)
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert len(frames(sse.content)) == len(elements)
    assert [a.candidates[0].finish_reason for a in answers if a.candidates][-1] == "STOP"


# ----------------------------------------------------------------------------- countTokens


def test_count_tokens_asks_an_upstream_that_counts(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    client = gemini_client(gateway, CLIENT_KEY)
    for fmt in ("anthropic", "gemini"):
        counted = client.models.count_tokens(model=f"{fmt}-model", contents=PROMPT)
        assert counted.total_tokens == 4242  # the scripted upstream's own count
    anthropic_body = upstreams["anthropic"].requests[-1]["body"]
    assert anthropic_body["model"] == "anthropic-model"
    assert anthropic_body["messages"][0]["role"] == "user"
    counted_request = upstreams["gemini"].requests[-1]
    assert counted_request["path"] == "/v1beta/models/gemini-model:countTokens"
    inner = counted_request["body"]["generateContentRequest"]
    assert inner["model"] == "models/gemini-model"
    assert inner["contents"] == [{"role": "user", "parts": [{"text": PROMPT}]}]
    assert counted_request["headers"]["x-goog-api-key"] == upstream_key("gemini")


def test_count_tokens_estimates_for_an_upstream_that_cannot_count(gateway: str) -> None:
    contents = [{"role": "user", "parts": [{"text": "word " * 400}]}]
    for body in ({"contents": contents}, {"generateContentRequest": {"contents": contents}}):
        response = httpx.post(
            gateway + "/v1beta/models/chat-model:countTokens", json=body, headers=GOOGLE_KEY
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-apibridge-token-count"] == "estimate"
        assert set(response.json()) == {"totalTokens"}
        assert response.json()["totalTokens"] > 100
        gtypes.CountTokensResponse.model_validate(response.json())
    client = gemini_client(gateway, CLIENT_KEY)
    assert (client.models.count_tokens(model="chat-model", contents="hi").total_tokens or 0) > 0


# ----------------------------------------------------------------------------- models


def test_models_list_and_get_in_geminis_shape(gateway: str) -> None:
    client = gemini_client(gateway, CLIENT_KEY)
    models = {m.name: m for m in client.models.list()}
    for fmt in UPSTREAM_FORMATS:
        assert f"models/{fmt}-model" in models
    assert "models/listed-model" in models  # from the anthropic upstream's own list
    assert "generateContent" in (models["models/chat-model"].supported_actions or [])
    one = client.models.get(model="chat-model")
    assert one.name == "models/chat-model"
    with pytest.raises(gerrors.ClientError) as missing:
        client.models.get(model="no-such-model")
    assert (missing.value.code, missing.value.status) == (404, "NOT_FOUND")
    # /v1/models is every client's: a Google key (header or ?key=) asks for Gemini's shape
    by_query = httpx.get(gateway + "/v1/models", params={"key": CLIENT_KEY}).json()
    assert {m["name"] for m in by_query["models"]} == set(models)
    assert httpx.get(gateway + "/v1beta/models", headers=GOOGLE_KEY).json() == by_query
    openai_shape = httpx.get(gateway + "/v1/models", headers={"x-api-key": CLIENT_KEY}).json()
    assert openai_shape["object"] == "list"


# ----------------------------------------------------------------------------- errors


def test_errors_before_the_answer_in_googles_envelope(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    stranger = gemini_client(gateway, "not-the-key")  # held: the SDK closes it when freed
    with pytest.raises(gerrors.ClientError) as wrong_key:
        stranger.models.generate_content(model="chat-model", contents=PROMPT)
    assert (wrong_key.value.code, wrong_key.value.status) == (401, "UNAUTHENTICATED")
    client = gemini_client(gateway, CLIENT_KEY)
    with pytest.raises(gerrors.ClientError) as unrouted:
        client.models.generate_content(model="no-such-model", contents=PROMPT)
    assert (unrouted.value.code, unrouted.value.status) == (404, "NOT_FOUND")
    assert "no-such-model" in (unrouted.value.message or "")
    with pytest.raises(gerrors.ServerError) as dead:
        client.models.generate_content(model="dead-model", contents=PROMPT)
    assert dead.value.code == 502
    upstreams["chat"].plan(Plan(kind="status", status=429, headers={"retry-after": "30"}))
    limited = httpx.post(
        gateway + path_for("gemini", "chat-model"),
        json=body_for("gemini", "chat-model"),
        headers=GOOGLE_KEY,
    )
    assert limited.status_code == 429
    assert check_error("gemini", 429, limited.json())["status"] == "RESOURCE_EXHAUSTED"
    assert limited.headers["retry-after"] == "30"
    path = path_for("gemini", "chat-model")
    for content, headers, statuses in (
        (b"[", GOOGLE_KEY, {400}),  # not JSON
        (b"{}", {**GOOGLE_KEY, "content-type": "text/plain"}, {400, 415}),  # Google says 400
        (b"{}", {"content-type": "application/json"}, {401}),  # no key at all
    ):
        response = httpx.post(gateway + path, content=content, headers=headers)
        assert response.status_code in statuses, response.text
        check_error("gemini", response.status_code, response.json())
    wrong_method = httpx.get(gateway + path, headers=GOOGLE_KEY)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    check_error("gemini", 405, wrong_method.json())


@pytest.mark.parametrize("array", [False, True], ids=["sse", "json_array"])
def test_a_stream_cut_upstream_ends_with_googles_in_band_error(
    gateway: str, upstreams: dict[str, ScriptedUpstream], array: bool
) -> None:
    upstreams["chat"].plan(Plan(kind="cut", events=2))
    path = "/v1beta/models/chat-model:streamGenerateContent" + ("" if array else "?alt=sse")
    response = httpx.post(gateway + path, json=body_for("gemini", "x"), headers=GOOGLE_KEY)
    assert response.status_code == 200
    if array:
        *chunks, last = json.loads(response.content)
        for chunk in chunks:
            gtypes.GenerateContentResponse.model_validate(chunk)
        error = last["error"]
    else:
        error = assert_in_band_error("gemini", response.content)
    assert error["code"] >= 500
    assert error["message"]
    # the SDK raises it as the API error it is
    upstreams["chat"].plan(Plan(kind="cut", events=2))
    client = gemini_client(gateway, CLIENT_KEY)
    with pytest.raises(gerrors.APIError):
        list(client.models.generate_content_stream(model="chat-model", contents=PROMPT))


# ----------------------------------------------------------------------------- keys


@pytest.fixture
def records() -> Any:
    """Every record the apibridge loggers write meanwhile (the gateway runs in this process)."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep(level=logging.DEBUG)
    logger = logging.getLogger("apibridge")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_key_in_the_query_authorises_and_is_never_logged(
    gateway: str, upstreams: dict[str, ScriptedUpstream], records: list[logging.LogRecord]
) -> None:
    path = path_for("gemini", "gemini-model")
    ok = httpx.post(
        gateway + path,
        params={"key": CLIENT_KEY},
        json=body_for("gemini", "x"),
        headers={"content-type": "application/json"},
    )
    assert ok.status_code == 200, ok.text
    streamed = httpx.post(
        gateway + "/v1beta/models/chat-model:streamGenerateContent",
        params={"alt": "sse", "key": CLIENT_KEY},
        json=body_for("gemini", "x"),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 200
    refused = httpx.post(
        gateway + path,
        params={"key": "wrong-key-in-query"},
        json=body_for("gemini", "x"),
    )
    assert refused.status_code == 401
    assert "wrong-key-in-query" not in refused.text
    # the upstream got its own key, in its header, and not the client's
    sent = upstreams["gemini"].requests[-1]
    assert sent["headers"]["x-goog-api-key"] == upstream_key("gemini")
    assert "key=" not in sent["query"]
    access = [r for r in records if r.name == "apibridge.access"]
    assert len(access) >= 3
    formatter = JsonFormatter()
    for record in records:
        for text in (record.getMessage(), formatter.format(record)):
            for secret in (CLIENT_KEY, "wrong-key-in-query", upstream_key("gemini")):
                assert secret not in text, text
            assert "key=" not in text, text
    assert {r.access["path"] for r in access} >= {path}  # type: ignore[attr-defined]


def test_an_upstream_quoting_its_key_is_scrubbed_for_a_gemini_client(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    secret = upstream_key("chat")
    upstreams["chat"].plan(Plan(kind="status", status=400, message=f"bad key {secret}"))
    response = httpx.post(
        gateway + path_for("gemini", "chat-model"),
        json=body_for("gemini", "x"),
        headers=GOOGLE_KEY,
    )
    assert response.status_code == 400
    check_error("gemini", 400, response.json())
    assert secret not in response.text
    assert "[redacted]" in response.text
