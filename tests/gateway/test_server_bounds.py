"""Server-side time and connection bounds (issue 14, item 6): the total upstream deadline, the
in-flight cap, the body and head timeouts, the connection cap.

Every case runs against real loopback servers: a trickling or held upstream written here (an
ASGI app under uvicorn), the gateway under uvicorn, raw sockets where a client misbehaves below
HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from calls import assert_in_band_error, body_for
from servers import serve_asgi
from test_serve import serve

from apibridge import _serve_bounds
from apibridge.asgi import App
from apibridge.config import GatewayConfig, Retries, ServerConfig, Timeouts
from oracles import validate_error

JSON = {"content-type": "application/json"}
PATHS = {"anthropic": "/v1/messages", "chat": "/v1/chat/completions"}


class TricklingUpstream:
    """A Chat upstream that never finishes: a chunk every ``every`` seconds, forever (or
    until ``release`` is set, then a normal end); non-streamed answers trickle their body
    the same way. Records when each request's connection closed."""

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.release = threading.Event()
        self.closed: list[float] = []
        self.started = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.started += 1
        gone = asyncio.Event()

        async def watch() -> None:  # uvicorn drops writes to a closed connection silently
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        stream = json.loads(body).get("stream", False)
        kind = b"text/event-stream" if stream else b"application/json"
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]}
        )
        try:
            if stream:
                await self._stream(send, gone)
            else:
                await self._whole(send, gone)
        finally:
            watcher.cancel()
            self.closed.append(time.monotonic())

    async def _stream(self, send: Any, gone: asyncio.Event) -> None:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            data = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m"}
            return f"data: {json.dumps({**data, 'choices': [choice]})}\n\n".encode()

        await send(
            {"type": "http.response.body", "body": chunk({"role": "assistant"}), "more_body": True}
        )
        while not self.release.is_set():
            await asyncio.sleep(self.every)
            if gone.is_set():
                return
            await send(
                {"type": "http.response.body", "body": chunk({"content": "."}), "more_body": True}
            )
        await send({"type": "http.response.body", "body": chunk({}, "stop"), "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _whole(self, send: Any, gone: asyncio.Event) -> None:
        answer = {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "done"},
                    "finish_reason": "stop",
                }
            ],
        }
        while not self.release.is_set():
            await asyncio.sleep(self.every)
            if gone.is_set():
                return
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
        await send(
            {"type": "http.response.body", "body": json.dumps(answer).encode(), "more_body": False}
        )


@contextmanager
def gateway_over(upstream: TricklingUpstream, **server: Any) -> Iterator[str]:
    timeouts = Timeouts(connect=2.0, first_byte=5.0, idle=5.0, total=server.pop("total", 60.0))
    with serve_asgi(upstream) as root:
        config = GatewayConfig.single(
            f"chat={root}/v1",
            api_key="k",
            timeouts=timeouts,
            retries=Retries(attempts=0),
            server=ServerConfig(**server),
        )
        with serve_asgi(App(config)) as url:
            yield url


# ------------------------------------------------------------------- the total deadline


@pytest.mark.parametrize("fmt", ["anthropic", "chat"])
def test_a_trickling_stream_is_cut_at_the_total_deadline(fmt: str) -> None:
    upstream = TricklingUpstream()
    with gateway_over(upstream, total=1.0) as url:
        began = time.monotonic()
        response = httpx.post(url + PATHS[fmt], json=body_for(fmt, "m", stream=True), timeout=20)
        took = time.monotonic() - began
        assert response.status_code == 200  # the stream had begun
        error = assert_in_band_error(fmt, response.content)
        assert "timeouts.total" in error["message"]
        assert 0.9 < took < 5, took
        deadline = time.monotonic() + 5
        while not upstream.closed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert upstream.closed, "the upstream request was not closed"


@pytest.mark.parametrize("fmt", ["anthropic", "chat"])
def test_a_trickling_whole_answer_is_a_504_at_the_total_deadline(fmt: str) -> None:
    upstream = TricklingUpstream()
    with gateway_over(upstream, total=1.0) as url:
        began = time.monotonic()
        response = httpx.post(url + PATHS[fmt], json=body_for(fmt, "m"), timeout=20)
        assert response.status_code == 504
        validate_error(fmt, 504, response.json())
        assert "timeouts.total" in response.text
        assert time.monotonic() - began < 5


def test_an_answer_within_the_deadline_is_untouched() -> None:
    upstream = TricklingUpstream()
    upstream.release.set()
    with gateway_over(upstream, total=5.0) as url:
        response = httpx.post(url + PATHS["chat"], json=body_for("chat", "m", stream=True))
        assert response.status_code == 200
        assert b"[DONE]" in response.content
        assert b"error" not in response.content


# ------------------------------------------------------------------- requests in flight


def test_requests_past_the_in_flight_cap_get_the_clients_overload_error() -> None:
    upstream = TricklingUpstream(every=0.02)
    with gateway_over(upstream, max_in_flight=2) as url:
        held: list[httpx.Response] = []

        def hold(stream: bool) -> None:
            body = body_for("chat", "m", stream=stream)
            held.append(httpx.post(url + PATHS["chat"], json=body, timeout=30))

        # one open stream and one non-streamed request waiting upstream: the cap is reached
        threads = [threading.Thread(target=hold, args=(s,)) for s in (True, False)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while upstream.started < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert upstream.started == 2

        over = httpx.post(url + PATHS["anthropic"], json=body_for("anthropic", "m"), timeout=5)
        assert over.status_code == 529
        validate_error("anthropic", 529, over.json())
        assert over.json()["error"]["type"] == "overloaded_error"
        assert over.headers["retry-after"] == "1"
        over = httpx.post(url + PATHS["chat"], json=body_for("chat", "m"), timeout=5)
        assert over.status_code == 503
        validate_error("chat", 503, over.json())
        assert "max_in_flight" in over.text
        assert httpx.get(url + "/health").status_code == 200  # probes are not counted
        assert upstream.started == 2  # nothing past the cap went upstream

        upstream.release.set()
        for thread in threads:
            thread.join(10)
        assert [r.status_code for r in held] == [200, 200]
        assert httpx.post(url + PATHS["chat"], json=body_for("chat", "m")).status_code == 200


# ------------------------------------------------------------------- slow clients


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_a_body_that_trickles_past_the_body_timeout_gets_a_408() -> None:
    upstream = TricklingUpstream()
    with gateway_over(upstream, body_timeout=0.5) as url:
        with socket.create_connection(("127.0.0.1", _port(url)), timeout=5) as sock:
            sock.sendall(
                b"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                b'content-type: application/json\r\ncontent-length: 100\r\n\r\n{"model"'
            )
            began = time.monotonic()
            answer = sock.recv(65536).decode()
            assert time.monotonic() - began < 3
        head, _, body = answer.partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 408")
        assert "body_timeout" in body
        assert upstream.started == 0


@contextmanager
def bounded_gateway(header_timeout: float) -> Iterator[str]:
    """The echo gateway under uvicorn with ``apibridge serve``'s connection protocol."""
    _serve_bounds.configure(header_timeout)
    try:
        with serve_asgi(App(upstream="scripted=echo"), http=_serve_bounds.PROTOCOL) as url:
            yield url
    finally:
        _serve_bounds.configure(30.0)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_connection_that_sends_no_request_is_closed_after_the_header_timeout() -> None:
    with bounded_gateway(0.5) as url, socket.create_connection(("127.0.0.1", _port(url))) as idle:
        began = time.monotonic()
        assert _closed_within(idle, 5)
        assert 0.4 < time.monotonic() - began < 3


def test_a_head_sent_a_byte_at_a_time_is_closed_after_the_header_timeout() -> None:
    with bounded_gateway(0.6) as url, socket.create_connection(("127.0.0.1", _port(url))) as slow:
        began = time.monotonic()
        closed = False
        for byte in b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: " + b"a" * 100:
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            if _closed_within(slow, 0.05):
                closed = True
                break
        assert closed
        assert time.monotonic() - began < 4


def test_a_head_over_the_size_cap_is_closed() -> None:
    with bounded_gateway(30.0) as url, socket.create_connection(("127.0.0.1", _port(url))) as big:
        head = b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        head += b"x-big: " + b"a" * (_serve_bounds.MAX_HEAD_BYTES + 10) + b"\r\n\r\n"
        with contextlib.suppress(OSError):  # already closed
            big.sendall(head)
        assert _closed_within(big, 5)


def test_keep_alive_requests_and_slow_answers_are_not_cut_by_the_header_timeout() -> None:
    with bounded_gateway(0.3) as url, httpx.Client(base_url=url) as client:
        for _ in range(3):  # one connection, kept alive between requests
            assert client.get("/health").status_code == 200
            time.sleep(0.1)
        answer = client.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert answer.status_code == 200


def test_serve_caps_connections(tmp_path: Path) -> None:
    config = tmp_path / "apibridge.toml"
    config.write_text('[server]\nmax_connections = 3\n[upstreams.e]\nformat = "scripted"\n')
    with serve("--config", str(config)) as (root, _):
        port = _port(root)
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            time.sleep(0.2)
            refused = httpx.get(root + "/health")
            assert refused.status_code == 503
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.2)
        assert httpx.get(root + "/health").status_code == 200


def test_the_bounds_and_edge_settings_load_from_toml_and_the_environment(tmp_path: Path) -> None:
    from apibridge.config import ConfigError, load_config

    path = tmp_path / "apibridge.toml"
    path.write_text(
        "[server]\n"
        'allowed_hosts = ["llm.example"]\ncors_origins = ["https://app.example"]\n'
        "max_in_flight = 7\nmax_connections = 9\nheader_timeout = 2.5\nbody_timeout = 4\n"
        '[upstreams.u]\nformat = "chat"\nbase_url = "http://127.0.0.1:1/v1"\n'
        "timeouts = { total = 90 }\n"
    )
    config = load_config(
        path,
        env={
            "APIBRIDGE_CORS_ORIGINS": "https://a.example, https://b.example",
            "APIBRIDGE_ALLOW_OPEN": "1",
        },
    )
    server = config.server
    assert server.allowed_hosts == ("llm.example",)
    assert server.cors_origins == ("https://a.example", "https://b.example")
    assert server.allow_open is True
    assert (server.max_in_flight, server.max_connections) == (7, 9)
    assert (server.header_timeout, server.body_timeout) == (2.5, 4)
    assert config.upstreams["u"].timeouts.total == 90
    defaults = ServerConfig()
    assert (defaults.max_in_flight, defaults.max_connections) == (512, 1000)
    assert (defaults.header_timeout, defaults.body_timeout) == (30.0, 120.0)
    assert Timeouts().total == 3600.0
    for bad, field in (
        ("max_in_flight = -1", "server.max_in_flight"),
        ("body_timeout = 0", "server.body_timeout"),
        ("allow_open = 1", "server.allow_open"),
    ):
        path.write_text(f"[server]\n{bad}\n")
        with pytest.raises(ConfigError, match=re.escape(field)):
            load_config(path)
    with pytest.raises(ConfigError, match=r"timeouts\.total"):
        Timeouts(total=0)
