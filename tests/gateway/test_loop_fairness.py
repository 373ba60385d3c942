"""A burst-heavy upstream stream does not keep the gateway from answering anything else.

An upstream that writes its whole answer at once (100,000 small events in one write, or one
7 MiB event) used to be relayed without the gateway's event loop running anything else for
as long as the bytes already read lasted: ``/health`` waited seconds. The gateway now lets
other tasks run at least every few milliseconds (``YIELD_EVERY`` in
``apibridge._gateway._streaming``) and decodes a chunk's events one at a time.

What is measured, with a real loopback upstream and the gateway under uvicorn:

* the longest the gateway's event loop was held: the CPU time of the gateway's thread between
  two wake-ups of a 1 ms ticker task in the same loop. CPU time, not wall time, so that a
  loaded machine (which stretches wall time) does not make the test flaky, less the garbage
  collector's pauses in that thread (a property of the test process); before the change
  it was 0.3 to 3 s, now a few ms per step, the largest step being one huge event's own
  decoding and encoding;
* ``/health`` polled throughout, every answer a 200, and the stream relayed whole.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from calls import ENDPOINT, frames
from servers import lifespan, serve_asgi

from apibridge.asgi import App
from apibridge.config import GatewayConfig, Route, ServerConfig, UpstreamConfig

SMALL_EVENTS = 100_000
HUGE_TEXT = 7 * 1024 * 1024  # one event of about 7 MiB: under the decoder's 8 MiB limit


def _chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    chunk = {
        "id": "chatcmpl-burst",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "burst-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _answer(kind: str) -> tuple[bytes, str]:
    """The whole SSE body of a Chat upstream's answer, and the text it carries."""
    if kind == "many":
        text = "z" * SMALL_EVENTS
        middle = _chunk("z") * SMALL_EVENTS
    else:
        text = "y" * HUGE_TEXT
        middle = _chunk(text)
    body = _chunk("") + middle + _chunk(None, "stop") + b"data: [DONE]\n\n"
    return body, text


class BurstUpstream:
    """A Chat upstream that writes its whole streamed answer in one ``send``."""

    def __init__(self) -> None:
        self.answers = {kind: _answer(kind) for kind in ("many", "huge")}
        self.kind = "many"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.answers[self.kind][0]})


class LoopWatch:
    """ASGI middleware: a ticker task in the server's loop keeps the longest CPU time the
    loop's thread spent between two of its wake-ups (``worst``, seconds), less the time the
    garbage collector took in that thread meanwhile (a full collection in a test process
    holding pytest and its plugins takes 100 ms or more, whatever the loop is doing)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None
        self._thread = 0
        self._collecting = 0.0
        self._collected = 0.0  # CPU seconds the collector took in the loop's thread

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if threading.get_ident() != self._thread:
            return
        if phase == "start":
            self._collecting = time.thread_time()
        else:
            self._collected += time.thread_time() - self._collecting

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        self._thread = threading.get_ident()
        gc.callbacks.append(self._gc)
        self._task = asyncio.get_running_loop().create_task(self._tick())

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.shutdown.complete" and self._task is not None:
                self._task.cancel()
                gc.callbacks.remove(self._gc)
            await send(message)

        await self.app(scope, receive, sending)

    async def _tick(self) -> None:
        last = time.thread_time() - self._collected
        while True:
            await asyncio.sleep(0.001)
            now = time.thread_time() - self._collected
            self.worst = max(self.worst, now - last)
            last = now


@pytest.fixture(scope="module")
def burst() -> Iterator[tuple[BurstUpstream, LoopWatch, str]]:
    upstream = BurstUpstream()
    with serve_asgi(upstream) as root:
        config = GatewayConfig(
            upstreams={"burst": UpstreamConfig(name="burst", format="chat", base_url=root + "/v1")},
            routes=(Route(pattern="*", upstream="burst"),),
            server=ServerConfig(),
        )
        watch = LoopWatch(App(config))
        with serve_asgi(watch) as gateway:
            yield upstream, watch, gateway


def _text(fmt: str, raw: bytes) -> str:
    """The answer's text, from the client-format stream's deltas."""
    out: list[str] = []
    for event, data in frames(raw):
        if data == "[DONE]":
            continue
        body = orjson.loads(data)
        if fmt == "chat":
            out += [c["delta"].get("content") or "" for c in body["choices"]]
        elif fmt == "anthropic" and event == "content_block_delta":
            out.append(body["delta"]["text"])
        elif fmt == "responses" and event == "response.output_text.delta":
            out.append(body["delta"])
    return "".join(out)


def _request(fmt: str) -> dict[str, Any]:
    if fmt == "responses":
        return {"model": "burst-model", "input": "hi", "stream": True, "store": False}
    body: dict[str, Any] = {"model": "burst-model", "stream": True}
    body["messages"] = [{"role": "user", "content": "hi"}]
    if fmt == "anthropic":
        body["max_tokens"] = 16
    return body


#: the longest the loop may be held, in CPU seconds: a few ms between checkpoints, and for a
#: 7 MiB event its own decoding and encoding (four 7 MiB events for a Responses client)
HOLD = {"many": 0.05, "huge": 0.5}


@pytest.mark.parametrize(("kind", "fmt"), [("many", "chat"), ("huge", "responses")])
def test_huge_upstream_chunk_does_not_starve_health_checks(
    burst: tuple[BurstUpstream, LoopWatch, str], kind: str, fmt: str
) -> None:
    upstream, watch, gateway = burst
    upstream.kind = kind
    expected = upstream.answers[kind][1]
    with httpx.Client(timeout=120) as probe:
        assert probe.get(gateway + "/health").status_code == 200
        result: list[httpx.Response] = []

        def stream() -> None:
            with httpx.Client(timeout=300) as client:
                result.append(client.post(gateway + ENDPOINT[fmt], json=_request(fmt)))

        watch.worst = 0.0
        reader = threading.Thread(target=stream)
        reader.start()
        statuses: list[int] = []
        slowest = 0.0
        while reader.is_alive():
            started = time.perf_counter()
            statuses.append(probe.get(gateway + "/health").status_code)
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.002)
        reader.join()
    held = watch.worst
    response = result[0]
    assert response.status_code == 200, response.text[:300]
    assert _text(fmt, response.content) == expected
    assert statuses  # answered while the stream ran
    assert set(statuses) == {200}
    assert held < HOLD[kind], (
        f"the gateway's loop was held {held * 1000:.0f} ms of CPU "
        f"(worst /health {slowest * 1000:.0f} ms over {len(statuses)} probes)"
    )
