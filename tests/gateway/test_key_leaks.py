"""The upstream's key never reaches a client or a log line, whatever error path it takes.

A loopback upstream (:class:`CannedUpstream`) answers each request with bytes a test chose:
an error body sent with HTTP 200 (as JSON, also where a stream was asked for), or a stream
whose error event quotes the key with no error ``type``, as its first event (an HTTP error
for the client) or after one good event (the client's in-band error). Every client format
meets every upstream format; each answer is read whole, and every log record the gateway
wrote meanwhile is captured: the canary key, and its masked form, appear in neither.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from calls import assert_in_band_error, body_for, check_error, path_for
from servers import base_url, lifespan, serve_asgi

from apibridge import Exchange
from apibridge.asgi import App
from apibridge.config import GatewayConfig, Retries, Route, ServerConfig, UpstreamConfig
from apibridge.errors import ApiError, UpstreamError
from apibridge.model import Event, MessageStart, StreamError
from apibridge.transports import NO_FORWARDING, Forwarding

#: every client and upstream format this file checks (Gemini's paths name the model).
FORMATS = ("anthropic", "chat", "responses", "gemini")

CANARY = "sk-canary-7f3a9c0d1e2b4a6f8d0c"
MASKED = "sk-cana****8d0c"
QUOTE = f"Incorrect API key provided: {CANARY} (shown as {MASKED})"


class CannedUpstream:
    """An ASGI upstream that answers each request with the next canned (status, type, body)."""

    def __init__(self) -> None:
        self.answers: collections.deque[tuple[int, str, bytes]] = collections.deque()
        self.lock = threading.Lock()

    def queue(self, status: int, content_type: str, body: bytes) -> None:
        with self.lock:
            self.answers.append((status, content_type, body))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        while (await receive()).get("more_body"):
            pass
        with self.lock:
            status, content_type, body = self.answers.popleft()
        headers = [(b"content-type", content_type.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def canned() -> Iterator[tuple[CannedUpstream, str]]:
    """The canned upstream and a gateway in front of it (``<fmt>-model`` → format ``fmt``,
    the canary as its key, no retries)."""
    upstream = CannedUpstream()
    with serve_asgi(upstream) as root:
        upstreams = {
            fmt: UpstreamConfig(
                name=fmt,
                format=fmt,
                base_url=base_url(fmt, root),
                api_keys=(CANARY,),
                retries=Retries(attempts=0),
            )
            for fmt in FORMATS
        }
        routes = tuple(Route(pattern=f"{fmt}-model", upstream=fmt) for fmt in FORMATS)
        config = GatewayConfig(upstreams=upstreams, routes=routes, server=ServerConfig())
        with serve_asgi(App(config)) as gateway:
            yield upstream, gateway


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every log record written (any logger, any level) while the test runs."""
    capture = _Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture.lines
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


def _ask(gateway: str, fmt: str, upstream: str, *, stream: bool) -> httpx.Response:
    model = f"{upstream}-model"
    return httpx.post(
        gateway + path_for(fmt, model, stream=stream),
        json=body_for(fmt, model, stream=stream),
        timeout=20,
    )


def _assert_clean(response: httpx.Response, lines: list[str]) -> None:
    for text in (response.content.decode("utf-8", "replace"), str(response.headers), *lines):
        assert CANARY not in text
        assert MASKED not in text
    assert "[redacted]" in response.text, response.text  # the error was said, the key not


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


# ------------------------------------------------------------------ error bodies with a 200

#: upstream format → an error body naming the key, sent with HTTP 200: a rejected key.
ERROR_BODIES: dict[str, dict[str, Any]] = {
    "anthropic": {
        "type": "error",
        "error": {"type": "authentication_error", "message": QUOTE},
    },
    "chat": {
        "error": {"message": QUOTE, "type": "invalid_request_error", "code": "invalid_api_key"}
    },
    "responses": {
        "error": {"message": QUOTE, "type": "invalid_request_error", "code": "invalid_api_key"}
    },
    "gemini": {"error": {"code": 401, "message": QUOTE, "status": "UNAUTHENTICATED"}},
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream", FORMATS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_fidelity_9_error_body_with_status_200_is_that_error_without_the_key(
    canned: tuple[CannedUpstream, str],
    log_lines: list[str],
    fmt: str,
    upstream: str,
    stream: bool,
) -> None:
    app, gateway = canned
    app.queue(200, "application/json", json.dumps(ERROR_BODIES[upstream]).encode())
    response = _ask(gateway, fmt, upstream, stream=stream)
    assert response.status_code == 401, response.text  # its type / code says so
    check_error(fmt, 401, response.json())
    assert "Incorrect API key provided" in response.text
    _assert_clean(response, log_lines)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"error": {"message": QUOTE, "type": "rate_limit_error"}}, 429),
        ({"error": {"message": QUOTE, "type": "server_error", "code": None}}, 500),
        ({"error": QUOTE}, 500),  # Ollama's bare string
        ({"error": {"message": QUOTE}, "choices": []}, 500),
    ],
    ids=["rate_limit", "server_error", "bare_string", "with_choices"],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_chat_error_body_with_status_200_gets_its_status_from_its_type(
    canned: tuple[CannedUpstream, str],
    log_lines: list[str],
    fmt: str,
    body: dict[str, Any],
    status: int,
) -> None:
    app, gateway = canned
    app.queue(200, "application/json", json.dumps(body).encode())
    response = _ask(gateway, fmt, "chat", stream=False)
    assert response.status_code == status, response.text
    check_error(fmt, status, response.json())
    _assert_clean(response, log_lines)


# ------------------------------------------------------------------ stream error events

_ANTHROPIC_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    },
}
_CHAT_START = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}],
}
_GEMINI_START = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "index": 0}],
    "modelVersion": "m",
}
_RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "status": "in_progress",
    "model": "m",
    "output": [],
}

#: upstream format → (a good first event, error events without a ``type`` quoting the key).
STREAMS: dict[str, tuple[bytes, list[bytes]]] = {
    "anthropic": (
        _sse(_ANTHROPIC_START, "message_start"),
        [_sse({"type": "error", "error": {"message": QUOTE}}, "error")],
    ),
    "chat": (_sse(_CHAT_START), [_sse({"error": {"message": QUOTE}})]),
    "gemini": (_sse(_GEMINI_START), [_sse({"error": {"message": QUOTE}})]),
    "responses": (
        _sse({"type": "response.created", "sequence_number": 0, "response": _RESPONSE}),
        [
            _sse({"type": "error", "sequence_number": 1, "message": QUOTE, "code": None}),
            _sse(
                {
                    "type": "response.failed",
                    "sequence_number": 1,
                    "response": {**_RESPONSE, "status": "failed", "error": {"message": QUOTE}},
                }
            ),
        ],
    ),
}
STREAM_CASES = [
    (upstream, number) for upstream, (_, errors) in STREAMS.items() for number in range(len(errors))
]


@pytest.mark.parametrize("upstream", FORMATS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_untyped_stream_error_as_first_event_is_an_http_error_without_the_key(
    canned: tuple[CannedUpstream, str], log_lines: list[str], fmt: str, upstream: str
) -> None:
    app, gateway = canned
    app.queue(200, "text/event-stream", STREAMS[upstream][1][0])  # an error event, no start
    response = _ask(gateway, fmt, upstream, stream=True)
    assert response.status_code >= 500, response.text
    check_error(fmt, response.status_code, response.json())
    _assert_clean(response, log_lines)


@pytest.mark.parametrize(("upstream", "number"), STREAM_CASES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_untyped_stream_error_mid_stream_is_in_band_without_the_key(
    canned: tuple[CannedUpstream, str],
    log_lines: list[str],
    fmt: str,
    upstream: str,
    number: int,
) -> None:
    app, gateway = canned
    first, errors = STREAMS[upstream]
    app.queue(200, "text/event-stream", first + errors[number])
    response = _ask(gateway, fmt, upstream, stream=True)
    assert response.status_code == 200, response.text
    error = assert_in_band_error(fmt, response.content)
    assert "Incorrect API key provided" in error["message"]
    _assert_clean(response, log_lines)


# ------------------------------------------------------------------ the gateway's own scrub


class QuotingTransport:
    """A custom transport that scrubs nothing: its errors quote every key it was told."""

    def __init__(self, quote: str) -> None:
        self.quote = quote

    async def complete(self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING) -> Any:
        raise UpstreamError(ApiError.of("authentication", self.quote, param=self.quote))

    async def stream(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> AsyncIterator[Event]:
        yield MessageStart(id="msg_1", model="m")
        yield StreamError(error=ApiError.of("api_error", self.quote))

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_gateway_scrubs_every_key_it_holds_from_any_transports_errors(
    log_lines: list[str], fmt: str, stream: bool
) -> None:
    client_key, admin_key = "client-canary-0a1b2c3d", "admin-canary-4e5f6a7b"
    upstreams = {
        "custom": UpstreamConfig(
            name="custom", format="chat", base_url="http://127.0.0.1:9/v1", api_keys=(CANARY,)
        ),
    }
    config = GatewayConfig(
        upstreams=upstreams,
        routes=(Route(pattern="*", upstream="custom"),),
        server=ServerConfig(client_keys=(client_key,), admin_key=admin_key),
    )
    quote = f"{QUOTE}; client {client_key}; admin {admin_key}"
    app = App(config, transports={"custom": QuotingTransport(quote)})
    with serve_asgi(app) as gateway:
        response = httpx.post(
            gateway + path_for(fmt, "any-model", stream=stream),
            json=body_for(fmt, "any-model", stream=stream),
            headers={"authorization": f"Bearer {client_key}"},
            timeout=20,
        )
    if stream:
        assert response.status_code == 200
        assert "Incorrect API key" in assert_in_band_error(fmt, response.content)["message"]
    else:
        assert response.status_code == 401
        check_error(fmt, 401, response.json())
    for secret in (client_key, admin_key):
        assert secret not in response.text
        assert not any(secret in line for line in log_lines)
    _assert_clean(response, log_lines)
