"""Transports without servers: the HTTP transport against ``httpx.MockTransport``, the scripted
transport's streams, and the local token estimate."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apibridge import Exchange
from apibridge.codecs._tokens import estimate_request_tokens, estimate_text_tokens
from apibridge.config import Retries, UpstreamConfig
from apibridge.errors import ApiError, UpstreamError
from apibridge.model import (
    ImagePart,
    Message,
    Request,
    Response,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
    accumulate,
)
from apibridge.transports import Forwarding
from apibridge.transports.http import HttpTransport, parse_retry_after
from apibridge.transports.scripted import ScriptedTransport, echo, events_for

SECRET_A = "sk-test-aaaaaaaaaaaaaaaa"
SECRET_B = "sk-test-bbbbbbbbbbbbbbbb"


def exchange(upstream: str = "chat", **extra: Any) -> Exchange:
    body = {
        "model": "m",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }
    return Exchange.from_client(body, client="anthropic", upstream=upstream)


CHAT_OK = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def transport(handler: Any, fmt: str = "chat", **config: Any) -> HttpTransport:
    upstream = UpstreamConfig(
        name="up",
        format=fmt,
        base_url="http://up.test/v1",
        api_keys=(SECRET_A, SECRET_B),
        retries=Retries(attempts=2, backoff=0.001, backoff_max=0.002),
        **config,
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpTransport(upstream, client=client)


def test_retry_after_spellings() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (parse_retry_after({"retry-after": later}) or 0) <= 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_keys_rotate_and_headers_apply() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=CHAT_OK)

    t = transport(handler, headers={"x-team": "blue"})

    async def main() -> None:
        for _ in range(3):
            response = await t.complete(exchange())
            assert response.content == (TextPart(text="ok"),)

    anyio.run(main)
    keys = [r.headers["authorization"] for r in seen]
    assert keys == [f"Bearer {SECRET_B}", f"Bearer {SECRET_A}", f"Bearer {SECRET_B}"]
    assert all(r.headers["x-team"] == "blue" for r in seen)
    assert str(seen[0].url) == "http://up.test/v1/chat/completions"


def test_anthropic_headers_forwarded_only_to_anthropic() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=CHAT_OK)

    ex = exchange()
    fwd = Forwarding(headers={"anthropic-beta": "x-2025", "anthropic-version": "2023-06-01"})
    anyio.run(transport(handler).complete, ex, fwd)
    assert "anthropic-beta" not in seen[0].headers
    headers = transport(lambda r: httpx.Response(200), fmt="anthropic").headers(fwd)
    assert headers["anthropic-beta"] == "x-2025"
    assert headers["x-api-key"] in (SECRET_A, SECRET_B)
    assert "authorization" not in headers


def test_errors_are_scrubbed_and_retried_only_when_transient() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        message = f"bad key {SECRET_A} / {SECRET_B} (sk-proj-****wxyz)"
        return httpx.Response(401, json={"error": {"message": message, "type": "x"}})

    with pytest.raises(UpstreamError) as caught:
        anyio.run(transport(handler).complete, exchange())
    assert len(calls) == 1
    error = caught.value.error
    assert error.status == 401
    for secret in (SECRET_A, SECRET_B, "wxyz"):
        assert secret not in error.message

    calls.clear()

    def overloaded(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, headers={"retry-after-ms": "1"}, text="<html>busy</html>")

    with pytest.raises(UpstreamError) as caught:
        anyio.run(transport(overloaded).complete, exchange())
    assert len(calls) == 3
    assert caught.value.error.status == 503


def test_connect_errors_are_retried_then_502() -> None:
    calls: list[int] = []

    def refused(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(UpstreamError) as caught:
        anyio.run(transport(refused).complete, exchange())
    assert len(calls) == 3
    assert caught.value.error.status == 502


# ------------------------------------------------------------------------- scripted


texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=80)


@given(
    text=texts,
    thinking=texts,
    arguments=st.dictionaries(st.text(max_size=5), st.integers(), max_size=4),
)
def test_scripted_stream_accumulates_to_the_response(
    text: str, thinking: str, arguments: dict[str, int]
) -> None:
    import json

    response = Response(
        id="msg_1",
        model="m",
        content=(
            ThinkingPart(text=thinking, signature="sig"),
            TextPart(text=text),
            ToolCallPart(id="call_1", name="f", arguments=json.dumps(arguments)),
        ),
        stop_reason="tool_use",
        usage=Usage(input_tokens=3, output_tokens=4),
    )
    assert accumulate(events_for(response)) == response


def test_scripted_transport_script_and_errors() -> None:
    reply = echo(
        Request(model="m", messages=(Message(role="user", content=(TextPart(text="x"),)),))
    )
    failure = ApiError.of("overloaded", "busy")
    t = ScriptedTransport([reply, failure, [StreamError(error=failure)]], delay=0.0)

    async def main() -> None:
        events = [e async for e in t.stream(exchange(upstream="anthropic"))]
        assert accumulate(events).content == reply.content
        with pytest.raises(UpstreamError):
            await t.complete(exchange(upstream="anthropic"))
        with pytest.raises(UpstreamError):
            async for _ in t.stream(exchange(upstream="anthropic")):
                pass
        with pytest.raises(UpstreamError, match="no reply left"):
            await t.complete(exchange(upstream="anthropic"))

    anyio.run(main)
    assert len(t.requests) == 4
    assert t.requests[0].stream


# ------------------------------------------------------------------------- tokens


def test_token_estimate() -> None:
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("abcd" * 10) == 10
    assert estimate_text_tokens("日本語のテキスト") == 8
    short = Request(model="m", messages=(Message(role="user", content=(TextPart(text="hi"),)),))
    longer = Request(
        model="m",
        messages=(
            Message(role="user", content=(TextPart(text="hi " * 400), ImagePart(url="http://x"))),
        ),
    )
    assert 0 < estimate_request_tokens(short) < 20
    assert estimate_request_tokens(longer) > 1600 + 300
