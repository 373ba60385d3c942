"""Regression tests for defects found in review of the drivers, the handler and the config."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from apibridge import _json
from apibridge._cli_serve import _describe
from apibridge._exchange import Exchange
from apibridge._gateway._handler import Handler, HttpRequest
from apibridge.asgi import App as AsgiApp
from apibridge.config import GatewayConfig, Retries, ServerConfig, UpstreamConfig
from apibridge.model import Event, PartDelta
from apibridge.store import MemoryStore
from apibridge.transports import NO_FORWARDING, Forwarding
from apibridge.transports.backboard import BackboardTransport
from apibridge.transports.scripted import ScriptedTransport, echo
from apibridge.wsgi import App as WsgiApp

_BODY = _json.dumps(
    {
        "model": "m",
        "max_tokens": 16,
        "stream": True,
        "messages": [{"role": "user", "content": "hello"}],
    }
)


class _Watched(ScriptedTransport):
    """A scripted transport that records whether its streams were closed."""

    def __init__(self) -> None:
        super().__init__(responder=echo)
        self.opened = 0
        self.closed = 0

    async def stream(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> AsyncIterator[Event]:
        self.opened += 1
        try:
            async for event in super().stream(exchange, forwarding):
                yield event
        finally:
            self.closed += 1


def _config() -> GatewayConfig:
    return GatewayConfig.single("scripted=echo")


def test_asgi_stream_closed_when_the_status_line_cannot_be_sent() -> None:
    """A server that fails to send the status line (the client left) must still get the
    upstream stream closed, although no chunk was ever asked for."""
    transport = _Watched()
    app = AsgiApp(_config(), transports={"default": transport})
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/messages",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": _BODY, "more_body": False}
        await asyncio.sleep(60)
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        raise OSError("the connection is closed")

    async def scenario() -> int:
        await app(scope, receive, send)
        return transport.closed  # before the loop's own clean-up of unfinished generators

    assert asyncio.run(scenario()) == 1
    assert transport.opened == 1
    assert app.handler.counters["streams_open"] == 0


def test_wsgi_stream_closed_when_the_iterable_is_closed_unstarted() -> None:
    """PEP 3333 servers call close() on the iterable, possibly before iterating it."""
    transport = _Watched()
    app = WsgiApp(_config(), transports={"default": transport})
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v1/messages",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(_BODY)),
        "wsgi.input": io.BytesIO(_BODY),
    }
    statuses: list[str] = []
    try:
        iterable = app(environ, lambda status, headers: statuses.append(status))
        assert statuses == ["200 OK"]
        close = getattr(iterable, "close", None)
        assert close is not None
        close()
        assert transport.opened == 1
        assert transport.closed == 1
        assert app.handler.counters["streams_open"] == 0
    finally:
        app.close()


def test_upstream_url_password_hidden_from_repr_log_and_admin_view(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An upstream reached through ``https://user:password@host`` keeps the password out of
    the config's repr, the start-up log and the admin view."""
    secret = "pr0xy-s3cret"
    upstream = UpstreamConfig(
        name="proxied", format="chat", base_url=f"https://bob:{secret}@proxy.example/v1"
    )
    config = GatewayConfig(
        upstreams={"proxied": upstream}, server=ServerConfig(admin_key="admin-key-1")
    )
    assert secret not in repr(upstream)
    assert secret not in repr(config)
    with caplog.at_level(logging.INFO, logger="apibridge"):
        _describe(config, 1)
    assert "proxy.example" in caplog.text
    assert secret not in caplog.text

    handler = Handler(config, transports={"proxied": ScriptedTransport()})
    request = HttpRequest(method="GET", path="/admin/state", headers={"x-admin-key": "admin-key-1"})
    response = asyncio.run(handler.handle(request))
    assert response.status == 200
    assert secret not in response.body.decode()
    assert _json.loads(response.body)["upstreams"][0]["base_url"] == (
        "https://bob:***@proxy.example/v1"
    )


class _Slow(ScriptedTransport):
    """A non-streamed answer that takes far longer than the client waits."""

    def __init__(self) -> None:
        super().__init__(responder=echo)
        self.started = False
        self.cancelled = False

    async def complete(self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING) -> Any:
        self.started = True
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return await super().complete(exchange, forwarding)


def test_asgi_non_streamed_request_cancelled_when_the_client_leaves() -> None:
    """A client that leaves during a long non-streamed answer stops the upstream call
    instead of letting it run for nobody."""
    transport = _Slow()
    app = AsgiApp(_config(), transports={"default": transport})
    body = _json.dumps(
        {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/messages",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def scenario() -> None:
        await asyncio.wait_for(app(scope, receive, send), timeout=5)

    asyncio.run(scenario())
    assert transport.started
    assert transport.cancelled
    assert sent == []


def test_a_request_cancelled_by_a_leaving_client_still_gets_its_access_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="apibridge.access")
    test_asgi_non_streamed_request_cancelled_when_the_client_leaves()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "apibridge.access"]
    assert '"POST /v1/messages" 499' in line
    assert "client went away" in line


def _frame(data: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


class _BrokenStream(httpx.AsyncByteStream):
    """A backboard run that started (its id is known), then the connection broke before
    any text."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield _frame({"type": "run_started", "thread_id": "T1", "run_id": "R1"})
        raise httpx.ReadError("connection reset by peer")


def test_backboard_broken_attempt_run_cancelled_before_the_retry() -> None:
    """A backboard stream that breaks before its first content is retried on a fresh thread;
    the run of the broken attempt, which may still be generating upstream, is cancelled
    first instead of being left to run in the abandoned thread."""
    seen: list[str] = []
    threads = iter(("T1", "T2"))

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api")
        seen.append(f"{request.method} {path}")
        if path == "/assistants" and request.method == "GET":
            return httpx.Response(200, json=[{"name": "apibridge", "assistant_id": "A1"}])
        if path == "/assistants/A1/threads":
            return httpx.Response(200, json={"thread_id": next(threads)})
        if path == "/threads/messages":
            if orjson.loads(request.content)["thread_id"] == "T1":
                return httpx.Response(200, stream=_BrokenStream())
            ids = {"thread_id": "T2", "run_id": "R2"}
            body = _frame({"type": "content_streaming", "content": "hello", **ids})
            body += _frame(
                {"type": "run_ended", "status": "completed", "final_content": "hello", **ids}
            )
            return httpx.Response(200, content=body)
        if path.endswith("/cancel"):
            return httpx.Response(200, json={"cancelled": True})
        return httpx.Response(404, json={"detail": "not found"})

    config = UpstreamConfig(
        name="bb",
        format="backboard",
        base_url="http://backboard.test/api",
        api_keys=("bb-key-1",),
        retries=Retries(attempts=2),
        options={"backoff": 0.01, "backoff_max": 0.02, "pool_size": 0},
    )
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}

    async def scenario() -> list[Event]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            transport = BackboardTransport.from_config(config, client=client, store=MemoryStore())
            exchange = Exchange.from_client(body, client="chat", upstream="backboard")
            events = [e async for e in transport.stream(exchange)]
            await transport.aclose()
            return events

    events = asyncio.run(scenario())
    text = "".join(e.value for e in events if isinstance(e, PartDelta) and e.field == "text")
    assert text == "hello"
    cancel = "POST /threads/T1/runs/R1/cancel"
    assert cancel in seen
    sends = [i for i, line in enumerate(seen) if line == "POST /threads/messages"]
    assert len(sends) == 2
    assert sends[0] < seen.index(cancel) < sends[1]
