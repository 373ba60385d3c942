"""The servers of the gateway benchmark, each run as a script in its own (pinned) process.

``python benchmarks/_servers.py upstream PORT``
    The mock Chat Completions upstream: a bare asyncio protocol on uvloop that answers every
    POST at once with a canned answer (JSON, or an SSE stream when the body asks for
    ``"stream":true``), so that it costs the shared core as little as possible. A request
    whose model starts with ``slow`` gets the first event of its stream at once and the rest
    after 30 s (or never, if the client leaves): the open streams of the memory benchmark.

``python benchmarks/_servers.py forwarder PORT UPSTREAM [httpx]``
    The bare forwarder: a tiny ASGI app under the same uvicorn, with the same options as
    ``apibridge serve`` and the same HTTP client as the gateway's default pool (httpx over
    aiohttp), that sends the client's bytes to ``UPSTREAM/v1/chat/completions`` unchanged and
    the answer back unchanged. What a gateway costs before it translates anything. With
    ``httpx``, httpx's own connection pool instead: the measurement behind the default.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson

CHAT_ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1764800000,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! " * 20},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
    }
)


def _stream_frames() -> list[bytes]:
    head = b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,'
    head += b'"model":"bench-model","choices":'
    frames = [head + b'[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n']
    for i in range(30):
        frames.append(head + b'[{"index":0,"delta":{"content":" token%d"}}]}\n\n' % i)
    frames.append(head + b'[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
    frames.append(
        head + b'[],"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150}}\n\n'
    )
    frames.append(b"data: [DONE]\n\n")
    return frames


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


FRAMES = _stream_frames()
JSON_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
    % (len(CHAT_ANSWER), CHAT_ANSWER)
)
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)
STREAM_FIRST = STREAM_HEAD + _chunk(FRAMES[0])
STREAM_REST = b"".join(_chunk(frame) for frame in FRAMES[1:]) + b"0\r\n\r\n"
STREAM_RESPONSE = STREAM_FIRST + STREAM_REST


def _unchunk(data: bytes) -> bytes:
    out = []
    while data:
        size_end = data.find(b"\r\n")
        size = int(data[:size_end].split(b";")[0], 16)
        out.append(data[size_end + 2 : size_end + 2 + size])
        data = data[size_end + 4 + size :]
    return b"".join(out)


class Upstream(asyncio.Protocol):
    """One keep-alive connection of the mock upstream."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""
        self.later: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            if b"transfer-encoding: chunked" in head:  # aiohttp streams some bodies
                last = self.buffer.find(b"\r\n0\r\n\r\n", end)
                if last < 0:
                    return
                body = _unchunk(self.buffer[end + 4 : last + 2])
                self.buffer = self.buffer[last + 7 :]
            else:
                at = head.find(b"content-length:")
                line_end = head.find(b"\r\n", at)
                length = int(head[at + 15 : line_end if line_end > 0 else end]) if at >= 0 else 0
                if len(self.buffer) < end + 4 + length:
                    return
                body = self.buffer[end + 4 : end + 4 + length]
                self.buffer = self.buffer[end + 4 + length :]
            self.answer(head, body)

    def answer(self, head: bytes, body: bytes) -> None:
        streamed = b'"stream":true' in body or b'"stream": true' in body
        if not head.startswith(b"post") or not streamed:
            self.transport.write(JSON_RESPONSE)
        elif b'"model":"slow' in body or b'"model": "slow' in body:
            self.transport.write(STREAM_FIRST)
            loop = asyncio.get_running_loop()
            self.later = loop.call_later(30, self.transport.write, STREAM_REST)
        else:
            self.transport.write(STREAM_RESPONSE)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.later is not None:
            self.later.cancel()


def serve_upstream(port: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=4096)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Forwarder:
    """The bare forwarder as an ASGI app (no translation, no checks)."""

    def __init__(self, upstream: str, pool: str = "aiohttp") -> None:
        self.url = upstream.rstrip("/") + "/v1/chat/completions"
        self.pool = pool
        self.client: Any = None

    def _client(self) -> Any:
        if self.client is None:
            import httpx

            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
            if self.pool == "httpx":  # httpx's own pool: what the default was chosen over
                self.client = httpx.AsyncClient(limits=limits, timeout=None)
            else:
                from httpx_aiohttp import AiohttpTransport

                transport = AiohttpTransport(limits=limits)
                self.client = httpx.AsyncClient(transport=transport, timeout=None)
        return self.client

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._client()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = self._client().build_request(
            "POST", self.url, content=body, headers={"content-type": "application/json"}
        )
        response = await self._client().send(request, stream=True)
        try:
            kind = response.headers.get("content-type", "application/json")
            if kind.startswith("text/event-stream"):
                headers = [(b"content-type", kind.encode())]
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": headers,
                    }
                )
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            else:
                data = await response.aread()
                headers = [
                    (b"content-type", kind.encode()),
                    (b"content-length", str(len(data)).encode()),
                ]
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": headers,
                    }
                )
                await send({"type": "http.response.body", "body": data})
        finally:
            await response.aclose()


def serve_forwarder(port: int, upstream: str, pool: str) -> None:
    import uvicorn

    # the options of `apibridge serve` (apibridge/_cli_serve.py), minus its logging setup
    config = uvicorn.Config(
        Forwarder(upstream, pool),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    if sys.argv[1] == "upstream":
        serve_upstream(int(sys.argv[2]))
    elif sys.argv[1] == "forwarder":
        serve_forwarder(int(sys.argv[2]), sys.argv[3], sys.argv[4] if sys.argv[4:] else "aiohttp")
    else:
        raise SystemExit(f"unknown server {sys.argv[1]}")
