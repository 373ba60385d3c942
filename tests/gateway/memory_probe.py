"""Run as a script by ``test_request_memory.py``: one large request through the ASGI app in a
fresh process, and the peak resident memory it took, as JSON on stdout.

``python memory_probe.py <upstream format> <upstream base URL> <client format> <MiB>``

The body arrives in 64 KiB ``http.request`` messages, made as they are asked for (as a server
reads them off the socket), so before the request the process holds none of it. The peak is
Linux's ``VmHWM`` (the high-water mark of resident memory), reset just before the request by
writing ``5`` to ``/proc/self/clear_refs``, less the resident memory then: what handling the
request added at its worst. Resident memory, not ``tracemalloc``: orjson reserves its output
buffer for the worst case (about 12 times a long string's length) and touches only what it
writes, which ``tracemalloc`` counts and the machine never backs.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections.abc import Iterator
from typing import Any

from apibridge.asgi import App
from apibridge.config import GatewayConfig, Route, ServerConfig, UpstreamConfig

PATHS = {"anthropic": "/v1/messages", "chat": "/v1/chat/completions", "responses": "/v1/responses"}
PIECE = 64 * 1024


def _status(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _shell(fmt: str) -> tuple[bytes, bytes]:
    """The request's bytes before and after its large text (the first of three turns)."""
    turns = [
        {"role": "user", "content": "TEXT"},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": "say ok"},
    ]
    body: dict[str, Any] = {"model": "memory-model"}
    if fmt == "responses":
        body.update(input=turns, store=False)
    else:
        body["messages"] = turns
    if fmt == "anthropic":
        body["max_tokens"] = 16
    head, tail = json.dumps(body).encode().split(b'"TEXT"')
    return head + b'"', b'"' + tail


def _pieces(head: bytes, size: int, tail: bytes) -> Iterator[bytes]:
    yield head
    while size > 0:
        n = min(PIECE, size)
        size -= n
        yield b"x" * n
    yield tail


async def _request(app: App, fmt: str, size: int) -> tuple[int, int, int]:
    """Status, body size and peak added resident memory of one request with ``size`` bytes
    of text."""
    head, tail = _shell(fmt)
    total = len(head) + size + len(tail)
    pieces = _pieces(head, size, tail)
    upcoming: list[bytes | None] = [next(pieces)]

    async def receive() -> dict[str, Any]:
        body = upcoming[0]
        if body is None:
            await asyncio.Event().wait()  # no disconnect: the request is whole
        upcoming[0] = next(pieces, None)
        return {"type": "http.request", "body": body, "more_body": upcoming[0] is not None}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(total).encode()),
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": PATHS[fmt],
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 8000),
    }
    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = _status("VmRSS")
    await app(scope, receive, send)
    return statuses[0], total, _status("VmHWM") - before


async def main(upstream_format: str, base_url: str, fmt: str, mib: float) -> None:
    upstream = UpstreamConfig(name="up", format=upstream_format, base_url=base_url)
    config = GatewayConfig(
        upstreams={"up": upstream},
        routes=(Route(pattern="*", upstream="up"),),
        server=ServerConfig(max_body_bytes=64 * 1024 * 1024),
    )
    app = App(config)
    await app.handler.startup()
    try:
        await _request(app, fmt, 1000)  # warm: imports, the pool, the first connection
        status, size, peak = await _request(app, fmt, int(mib * 1024 * 1024))
    finally:
        await app.aclose()
    print(json.dumps({"status": status, "size": size, "peak": peak}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
