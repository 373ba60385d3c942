"""A client that goes away stops the work done for it: the upstream stream or call is closed
or cancelled, whatever the driver (ASGI, WSGI) and however early the client left, and the
request still gets its access-log line."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import disconnects
import pytest
from servers import serve_asgi

from apibridge import _json
from apibridge._exchange import Exchange
from apibridge.asgi import App as AsgiApp
from apibridge.config import GatewayConfig
from apibridge.model import Event
from apibridge.transports import NO_FORWARDING, Forwarding
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


# ------------------------------------------------------------------------- served, at random


def _served(run: Any) -> Any:
    """``run(gateway_url, upstream)`` with the slow upstream of :mod:`disconnects` on this
    loop and the gateway (with its probe) under uvicorn on loopback."""

    async def scenario() -> Any:
        upstream = disconnects.SlowUpstream()
        root = await upstream.start()
        try:
            with serve_asgi(disconnects.gateway_app(root)) as gateway:
                return await run(gateway, upstream)
        finally:
            await upstream.stop()

    return asyncio.run(scenario())


@pytest.mark.timeout(120)
def test_50_random_client_disconnects_close_the_upstream_and_leave_nothing_behind() -> None:
    """The short form of ``python -m benchmarks.reliability --only disconnects``: streamed
    requests (random client and upstream formats) left at random moments, before the status
    line or after some events, by a reset or a FIN."""
    tally = _served(lambda url, up: disconnects.disconnects(url, up, 50, seed=1, concurrency=8))
    print(f"50 disconnects: {tally.summary()}; {dict(tally.phases)}")  # timings: shown only
    assert tally.failures == []
    assert tally.never_closed == 0
    assert len(tally.latencies) == 50  # every upstream connection closed (within 5 s)
    assert tally.phases["before the status line"] > 5
    assert tally.phases["after events"] > 5
    for gauge in ("in_flight", "streams_open"):
        assert tally.after[gauge] == 0, tally.after
    assert tally.after["tasks"] <= tally.before["tasks"], (tally.before, tally.after)
    pool = 2 * max(tally.after["upstream_idle"] - tally.before["upstream_idle"], 0)
    assert tally.after["fds"] <= tally.before["fds"] + pool, (tally.before, tally.after)
    assert tally.after["upstream_busy"] == 0


@pytest.mark.timeout(120)
def test_a_short_mixed_soak_answers_everything_and_leaves_nothing_behind() -> None:
    """The smoke form of ``--only soak`` (RSS is measured there, in its own process)."""
    tally = _served(
        lambda url, up: disconnects.soak(url, up, 120, warm=60, rss=lambda: 0, concurrency=8)
    )
    assert tally.failures == []
    assert sum(tally.outcomes.values()) == 180
    assert set(tally.outcomes) == set(disconnects.SOAK_MIX)
    assert tally.after["in_flight"] == tally.after["streams_open"] == 0


def test_a_client_leaving_right_after_the_last_event_does_not_undo_the_store_or_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Codex closes its connection as soon as it has read ``response.completed``: with a store
    that takes a moment (Redis on a slow link), storing the answer it was given, its
    access-log line and its record must survive the disconnect."""
    from apibridge.store import MemoryStore

    class SlowStore(MemoryStore):
        async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
            await asyncio.sleep(0.3)
            await super().set(key, value, ttl=ttl)

    app = AsgiApp(GatewayConfig.single("scripted=echo"), store=SlowStore())
    headers = [(b"content-type", b"application/json"), (b"host", b"127.0.0.1")]

    def scope(method: str, path: str) -> dict[str, Any]:
        return {"type": "http", "method": method, "path": path, "headers": headers,
                "query_string": b"", "server": ("127.0.0.1", 80)}  # fmt: skip

    async def main() -> tuple[str, int]:
        await app.handler.startup()
        body = _json.dumps({"model": "m", "input": "hi", "stream": True})
        gone, sent, asked = asyncio.Event(), bytearray(), [False]

        async def receive() -> dict[str, Any]:
            if not asked[0]:
                asked[0] = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.extend(message.get("body", b""))
            if b"response.completed" in message.get("body", b""):
                asyncio.get_running_loop().call_later(0.05, gone.set)  # the client leaves

        await app(scope("POST", "/v1/responses"), receive, send)
        completed = next(f for f in bytes(sent).split(b"\n\n") if b"response.completed" in f)
        response_id = _json.loads(completed.split(b"data: ", 1)[1])["response"]["id"]
        status: list[int] = []

        async def no_body() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope("GET", f"/v1/responses/{response_id}"), no_body, record)
        await app.handler.aclose()
        return response_id, status[0]

    with caplog.at_level(logging.INFO, logger="apibridge.access"):
        response_id, status = asyncio.run(main())
    assert status == 200, response_id  # stored, although the client had left
    lines = [r.getMessage() for r in caplog.records if r.name == "apibridge.access"]
    assert any('"POST /v1/responses" 200' in line for line in lines), lines
    assert app.handler.counters["streams_open"] == 0
