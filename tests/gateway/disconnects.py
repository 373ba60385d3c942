"""Clients that leave, timed, and a mixed soak: the drivers behind
``python -m benchmarks.reliability --only disconnects`` / ``--only soak`` and their short forms
in ``tests/gateway/test_client_disconnect.py``.

* :class:`SlowUpstream` is a bare asyncio server on the caller's event loop that speaks the
  three upstream formats (by path; the wire JSON and SSE of :mod:`servers`). What it does is
  written in the request's user text, ``#<id>#<mode>#<ms>#``: ``slow`` streams the head of an
  answer after ``ms`` milliseconds, then a text delta every :data:`INTERVAL` seconds until the
  connection closes (it notes when); ``fast`` streams a whole answer at once; ``whole`` answers
  with JSON; ``error`` answers 400 in the format's envelope.
* :class:`Probed` wraps the gateway's ASGI app with ``GET /_probe``: what a client that left
  could leave behind inside the gateway (requests in flight, open streams, asyncio tasks, file
  descriptors), its RSS and CPU time. :func:`gateway_process` runs it under uvicorn in its own
  process, with ``apibridge serve``'s server options; tests run it in a thread
  (:func:`servers.serve_asgi`). Idle keep-alive connections to the upstream are the gateway's
  pool, not something left behind; connections still answering a request are.
* :func:`disconnects` sends streamed requests (random client format and upstream format) and
  leaves each at a random moment, before the status line or after some events, and measures
  the time from the client's close to the upstream seeing its connection closed.
  :func:`soak` sends a mix of whole, streamed, refused, upstream-error and left requests.

Both run on the caller's event loop, where the upstream runs too: the client's close and the
upstream's ``connection_lost`` are timed on the same clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import socket
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).parent))

from servers import (
    CLIENT_KEY,
    GEMINI_PATH,
    UPSTREAM_FORMATS,
    WRITERS,
    Answer,
    _error_body,
    make_config,
)

__all__ = [
    "INTERVAL",
    "Probed",
    "SlowUpstream",
    "Tally",
    "disconnects",
    "gateway_process",
    "soak",
]

FORMATS = ("anthropic", "chat", "responses")
ENDPOINT = {
    "anthropic": "/v1/messages",
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
}
_PATH_FORMAT = {path: fmt for fmt, path in ENDPOINT.items()}
INTERVAL = 0.025  # between the deltas of a slow stream
#: a close the upstream has not seen after this long counts as never seen (a hang)
HANG = 5.0
_DIRECTIVE = re.compile(rb"#(\d+)#(\w+)#(\d+)#")


# ------------------------------------------------------------------------- the upstream


def _is_delta(event: bytes) -> bool:
    data = event.partition(b"data: ")[2]
    if not data.startswith(b"{"):
        return False
    body = json.loads(data)
    if body.get("type") in ("content_block_delta", "response.output_text.delta"):
        return True
    if "candidates" in body:  # Gemini: a chunk with text that is not the last
        candidate = body["candidates"][0]
        return "finishReason" not in candidate and "text" in candidate["content"]["parts"][0]
    choices = body.get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


def _events(fmt: str, model: str) -> tuple[list[bytes], bytes, list[bytes]]:
    """A text answer's stream: the events before the first delta, that delta, the rest."""
    events = WRITERS[fmt][1](model, Answer(text="one two three four five six"))
    first = next(i for i, e in enumerate(events) if _is_delta(e))
    return events[:first], events[first], events[first:]


def _numbered(event: bytes, number: int) -> bytes:
    """A Responses event with its ``sequence_number`` set (other formats have none)."""
    if b'"sequence_number"' not in event:
        return event
    head, _, data = event.partition(b"data: ")
    body = json.loads(data)
    body["sequence_number"] = number
    return head + b"data: " + json.dumps(body).encode() + b"\n\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class _UpstreamConnection(asyncio.Protocol):
    """One connection from the gateway; requests in turn (keep-alive)."""

    def __init__(self, upstream: SlowUpstream) -> None:
        self.upstream = upstream
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self.current: int | None = None  # the id of the request being answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # (uvloop's is no subclass)
        self.upstream.open += 1
        self.upstream.live.add(self)
        self.upstream.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.task is not None:
            return  # answering; a next request waits in the buffer
        self._next()

    def _next(self) -> None:
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[:head_end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        end = head_end + 4 + length
        if len(self.buffer) < end:
            return
        body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
        path = head.split(" ", 2)[1]
        self.task = asyncio.ensure_future(self._answer(path, body))

    async def _answer(self, path: str, raw: bytes) -> None:
        assert self.transport is not None
        body = json.loads(raw)
        gemini = GEMINI_PATH.fullmatch(path.partition("?")[0])
        fmt = "gemini" if gemini else _PATH_FORMAT[path]
        if gemini:  # the model and the stream are in the path
            body = {**body, "model": gemini[1], "stream": gemini[2] == "streamGenerateContent"}
        found = _DIRECTIVE.search(raw)
        number, mode, ms = (
            (int(found[1]), found[2].decode(), int(found[3])) if found else (-1, "whole", 0)
        )
        self.current = number
        self.upstream.arrived(number)
        model = str(body.get("model", "m"))
        write = self.transport.write
        if mode == "error":
            payload = json.dumps(_error_body(fmt, 400, "scripted refusal")).encode()
            write(_head(400, b"application/json", len(payload)) + payload)
        elif not body.get("stream"):
            payload = json.dumps(WRITERS[fmt][0](model, Answer(text="a whole answer"))).encode()
            write(_head(200, b"application/json", len(payload)) + payload)
        elif mode == "slow":
            head, delta, _ = _events(fmt, model)
            await asyncio.sleep(ms / 1000)
            write(_head(200, b"text/event-stream") + b"".join(_chunk(e) for e in head))
            number_ = len(head)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                await asyncio.sleep(INTERVAL)
                write(_chunk(_numbered(delta, number_)))
                number_ += 1
            return  # a minute of deltas: nobody stayed that long; leave it open
        else:
            head, _, rest = _events(fmt, model)
            write(_head(200, b"text/event-stream") + b"".join(_chunk(e) for e in head + rest))
            write(b"0\r\n\r\n")
        self.current = None
        self.task = None
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self.upstream.open -= 1
        self.upstream.live.discard(self)
        if self.current is not None:
            self.upstream.lost(self.current)
        if self.task is not None:
            self.task.cancel()


def _head(status: int, kind: bytes, length: int | None = None) -> bytes:
    reason = b"OK" if status == 200 else b"Bad Request"
    size = b"transfer-encoding: chunked" if length is None else b"content-length: %d" % length
    return b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\n%s\r\n\r\n" % (status, reason, kind, size)


class SlowUpstream:
    """See the module docstring. ``open``: connections open now; :meth:`arrival` and
    :meth:`close_of`: when request ``id`` arrived, and when the connection answering it
    closed before the answer ended (``time.perf_counter()``)."""

    def __init__(self) -> None:
        self.open = 0
        self.connections = 0
        self.port = 0
        self.live: set[_UpstreamConnection] = set()
        self.server: asyncio.Server | None = None
        self._arrivals: dict[int, asyncio.Future[float]] = {}
        self._closes: dict[int, asyncio.Future[float]] = {}

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: _UpstreamConnection(self), "127.0.0.1", 0, backlog=1024
        )
        self.port = int(self.server.sockets[0].getsockname()[1])
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def _future(
        self, table: dict[int, asyncio.Future[float]], number: int
    ) -> asyncio.Future[float]:
        if number not in table:
            table[number] = asyncio.get_running_loop().create_future()
        return table[number]

    def arrived(self, number: int) -> None:
        future = self._future(self._arrivals, number)
        if not future.done():
            future.set_result(time.perf_counter())

    def lost(self, number: int) -> None:
        future = self._future(self._closes, number)
        if not future.done():
            future.set_result(time.perf_counter())

    async def arrival(self, number: int) -> float:
        return await self._future(self._arrivals, number)

    async def close_of(self, number: int) -> float:
        return await self._future(self._closes, number)

    def forget(self, number: int) -> None:
        self._arrivals.pop(number, None)
        self._closes.pop(number, None)


# ------------------------------------------------------------------------- the gateway


class Probed:
    """The gateway's ASGI app with ``GET /_probe`` (JSON; see the module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_probe":
            handler = self.app.handler
            found = {
                "in_flight": handler.in_flight,
                "streams_open": handler.counters["streams_open"],
                "tasks": len(asyncio.all_tasks()) - 1,  # not this request's own
                "fds": len(os.listdir("/proc/self/fd")),
                "rss_kib": _rss_kib(),
                "cpu_ms": round(time.process_time() * 1000),
                "pid": os.getpid(),
            }
            payload = json.dumps(found).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        await self.app(scope, receive, send)


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


#: the soak's store bound: full after any warm-up, so that the store's growth (by design, up
#: to its bounds) is over before RSS is watched, while storing and evicting go on
STORE_MAX_ITEMS = 20


def gateway_app(upstream_root: str) -> Probed:
    """The gateway every ``<fmt>-model`` of which leads to the upstream at ``upstream_root``
    (stored responses bounded to :data:`STORE_MAX_ITEMS`)."""
    from apibridge.asgi import App

    config = make_config(dict.fromkeys(UPSTREAM_FORMATS, upstream_root), client_keys=(CLIENT_KEY,))
    server = attrs.evolve(config.server, store_max_items=STORE_MAX_ITEMS)
    return Probed(App(attrs.evolve(config, server=server)))


def serve_process(port: int, upstream_root: str) -> None:
    """``python disconnects.py gateway PORT ROOT``: :func:`gateway_app` under uvicorn, with
    the server options of ``apibridge serve``."""
    import uvicorn

    from apibridge import _serve_bounds

    app = gateway_app(upstream_root)
    server = app.app.handler.config.server
    _serve_bounds.configure(server.header_timeout)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
        http=_serve_bounds.PROTOCOL,
        limit_concurrency=server.max_connections,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=_serve_bounds.MAX_HEAD_BYTES,
    )


@contextlib.contextmanager
def gateway_process(
    upstream_root: str, start: Callable[..., Any] | None = None
) -> Iterator[tuple[str, int]]:
    """The gateway in its own process (``start``: :func:`benchmarks.gateway.server`, which
    pins it to a core); its root URL and pid."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, str(Path(__file__)), "gateway", str(port), upstream_root]
    assert start is not None
    with start(argv, 1, port) as child:
        yield f"http://127.0.0.1:{port}", child.pid


# ------------------------------------------------------------------------- the clients


class _Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = bytearray()
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiter: tuple[int, asyncio.Future[None]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # (uvloop's is no subclass)

    def data_received(self, data: bytes) -> None:
        self.received += data
        waiter = self.waiter
        if waiter is not None and self.events() >= waiter[0] and not waiter[1].done():
            waiter[1].set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        if self.waiter is not None and not self.waiter[1].done():
            self.waiter[1].set_result(None)

    def events(self) -> int:
        """SSE events received so far (blank lines after the head; Gemini's are CRLF CRLF)."""
        body = self.received.partition(b"\r\n\r\n")[2]
        return body.count(b"\n\n") + body.count(b"\r\n\r\n")

    async def until_events(self, count: int, timeout: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiter = (count, future)
        if self.events() >= count:
            return
        await asyncio.wait_for(future, timeout)

    def status(self) -> int | None:
        line = bytes(self.received).partition(b"\r\n")[0].split(b" ")
        return int(line[1]) if len(line) > 1 and line[1].isdigit() else None


def _request(port: int, fmt: str, model: str, text: str, *, stream: bool) -> bytes:
    if fmt == "anthropic":
        body: dict[str, Any] = {"model": model, "max_tokens": 64, "stream": stream,
                                "messages": [{"role": "user", "content": text}]}  # fmt: skip
    elif fmt == "chat":
        body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]}
    elif fmt == "gemini":  # the model and the stream in the path
        body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    else:
        body = {"model": model, "stream": stream, "input": text}
    payload = json.dumps(body).encode()
    path = ENDPOINT.get(fmt, "")
    if fmt == "gemini":
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        path = f"/v1beta/models/{model}:{method}"
    return (
        b"POST %s HTTP/1.1\r\nhost: 127.0.0.1:%d\r\nx-api-key: %s\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
        % (path.encode(), port, CLIENT_KEY.encode(), len(payload), payload)
    )


async def _connect(port: int) -> _Client:
    transport, client = await asyncio.get_running_loop().create_connection(
        _Client, "127.0.0.1", port
    )
    client.transport = transport  # type: ignore[assignment]  # (uvloop: connection_made later)
    return client


async def probe(root: str) -> dict[str, int]:
    """The gateway's ``/_probe`` (a fresh connection, closed after)."""
    port = int(root.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /_probe HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return dict(json.loads(data.partition(b"\r\n\r\n")[2]))


@attrs.define
class Tally:
    """What a run of :func:`disconnects` or :func:`soak` found."""

    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = attrs.field(factory=list)  # client close → upstream close, s
    by_phase: dict[str, list[float]] = attrs.field(factory=dict)  # the same, by phase
    never_closed: int = 0
    phases: Counter[str] = attrs.field(factory=Counter)
    outcomes: Counter[str] = attrs.field(factory=Counter)
    before: dict[str, int] = attrs.field(factory=dict)
    after: dict[str, int] = attrs.field(factory=dict)
    rss: dict[str, int] = attrs.field(factory=dict)
    failures: list[str] = attrs.field(factory=list)

    def percentile(self, q: float, phase: str | None = None) -> float:
        """The ``q`` quantile of the close times (of one phase), nearest rank."""
        values = self.latencies if phase is None else self.by_phase.get(phase, [])
        ordered = sorted(values)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def summary(self) -> str:
        if not self.latencies:
            return "no close timed"
        return (
            f"p50 {self.percentile(0.5) * 1000:.1f} ms, p99 {self.percentile(0.99) * 1000:.1f} "
            f"ms, max {max(self.latencies) * 1000:.1f} ms, mean "
            f"{statistics.fmean(self.latencies) * 1000:.1f} ms"
        )


def _left_behind(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """What grew from ``before`` to ``after``. Idle keep-alive connections to the upstream are
    the gateway's pool, not something left behind: their growth is allowed in the file
    descriptors (twice when the gateway runs in this process: both ends are counted)."""
    grown = [
        f"{name}: {before[name]} before, {after[name]} after"
        for name in ("in_flight", "streams_open", "tasks", "upstream_busy")
        if after[name] > before[name]
    ]
    ends = 2 if after["pid"] == os.getpid() else 1
    pool = max(after["upstream_idle"] - before["upstream_idle"], 0) * ends
    if after["fds"] > before["fds"] + pool:
        grown.append(f"fds: {before['fds']} before, {after['fds']} after (pool grew by {pool})")
    return grown


async def _state(root: str, upstream: SlowUpstream) -> dict[str, int]:
    """The gateway's probe, and the upstream's connections answering a request and idle."""
    busy = sum(c.current is not None for c in upstream.live)
    return {**await probe(root), "upstream_busy": busy, "upstream_idle": upstream.open - busy}


async def _settled(root: str, upstream: SlowUpstream, before: dict[str, int]) -> dict[str, int]:
    """The probe once nothing is left behind, or after :data:`HANG` seconds of waiting."""
    deadline = time.monotonic() + HANG
    while True:
        after = await _state(root, upstream)
        if not _left_behind(before, after) or time.monotonic() > deadline:
            return after
        await asyncio.sleep(0.05)


async def _warm(root: str, upstream: SlowUpstream) -> dict[str, int]:
    """A few whole and streamed answers in every format (pools and caches filled), then the
    probe: the state a run must come back to."""
    port = int(root.rsplit(":", 1)[1])
    for fmt in FORMATS:
        for upstream_format in UPSTREAM_FORMATS:
            for stream in (False, True):
                client = await _connect(port)
                assert client.transport is not None
                client.transport.write(
                    _request(port, fmt, f"{upstream_format}-model", "warm", stream=stream).replace(
                        b"content-type", b"connection: close\r\ncontent-type"
                    )
                )
                await asyncio.wait_for(client.closed, 10)
    await asyncio.sleep(0.1)
    return await _state(root, upstream)


async def _leave(
    port: int,
    upstream: SlowUpstream,
    number: int,
    rng: random.Random,
    tally: Tally,
    *,
    first_ms: tuple[int, int],
    events: tuple[int, int],
    direct: int | None = None,
) -> None:
    """One streamed request, left at a random moment; its close timed. ``direct``: the
    upstream's port, to call it without the gateway (the harness's own floor)."""
    fmt, upstream_format = rng.choice(FORMATS), rng.choice(UPSTREAM_FORMATS)
    early = rng.random() < 0.5
    first = rng.randint(*first_ms)
    if direct is not None:
        fmt, port = upstream_format, direct
    client = await _connect(port)
    assert client.transport is not None
    text = f"#{number}#slow#{first}#"
    client.transport.write(_request(port, fmt, f"{upstream_format}-model", text, stream=True))
    try:
        await asyncio.wait_for(upstream.arrival(number), HANG)
        if early:  # before the first upstream event, so before the status line
            await asyncio.sleep(rng.uniform(0, first * 0.8) / 1000)
        else:
            await client.until_events(rng.randint(*events), HANG)
    except TimeoutError:
        tally.failures.append(f"request {number} ({fmt} → {upstream_format}) did not start")
        client.transport.abort()
        return
    status = client.status()
    phase = "before the status line" if status is None else "after events"
    if direct is not None:
        phase = "no gateway"
    tally.phases[phase] += 1
    if status not in (None, 200):
        tally.failures.append(f"request {number} got {status}: {bytes(client.received)[:300]!r}")
    left = time.perf_counter()
    if rng.random() < 0.5:
        client.transport.abort()  # a reset
    else:
        client.transport.close()  # a FIN
    try:
        closed = await asyncio.wait_for(upstream.close_of(number), HANG)
    except TimeoutError:
        tally.never_closed += 1
        tally.failures.append(f"request {number} ({fmt} → {upstream_format}): upstream open")
    else:
        if direct is None:
            tally.latencies.append(max(closed - left, 0.0))
        tally.by_phase.setdefault(phase, []).append(max(closed - left, 0.0))
    upstream.forget(number)


async def disconnects(
    root: str,
    upstream: SlowUpstream,
    count: int,
    *,
    seed: int = 0,
    concurrency: int = 16,
    first_ms: tuple[int, int] = (20, 200),
    events: tuple[int, int] = (1, 10),
    floor: int = 0,
) -> Tally:
    """``count`` streamed requests through the gateway at ``root``, each left at a random
    moment (half before the status line: the upstream's first event comes ``first_ms``
    milliseconds after the request; half after ``events`` events); see :class:`Tally`.
    ``floor``: as many more, mixed in, sent to the upstream directly (phase ``no gateway``):
    how long the harness itself takes to see a close, on the same loop under the same load."""
    port = int(root.rsplit(":", 1)[1])
    rng = random.Random(seed)
    tally = Tally(requests=count)
    tally.before = await _warm(root, upstream)
    gate = asyncio.Semaphore(concurrency)
    seeds = [rng.random() for _ in range(count + floor)]
    order = list(range(count + floor))
    rng.shuffle(order)

    async def one(number: int) -> None:
        async with gate:
            await _leave(
                port, upstream, number, random.Random(seeds[number]), tally,
                first_ms=first_ms, events=events,
                direct=upstream.port if number >= count else None,
            )  # fmt: skip

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in order))
    tally.seconds = time.perf_counter() - started
    tally.after = await _settled(root, upstream, tally.before)
    tally.failures += [f"left behind: {x}" for x in _left_behind(tally.before, tally.after)]
    return tally


# ------------------------------------------------------------------------- the soak

#: the soak's mix, in turn: a whole answer, a whole stream, a stream the client leaves, a
#: request the gateway refuses (invalid JSON), an upstream 400, another whole answer
SOAK_MIX = ("whole", "stream", "leave", "refused", "error", "whole")


async def _soak_one(port: int, upstream: SlowUpstream, number: int, tally: Tally) -> None:
    kind = SOAK_MIX[number % len(SOAK_MIX)]
    rng = random.Random(number)
    fmt, upstream_format = rng.choice(FORMATS), rng.choice(UPSTREAM_FORMATS)
    model = f"{upstream_format}-model"
    if kind == "leave":
        await _leave(port, upstream, number, rng, tally, first_ms=(1, 10), events=(1, 4))
        tally.outcomes[kind] += 1
        return
    mode = {"whole": "whole", "stream": "fast", "error": "error", "refused": "whole"}[kind]
    request = _request(port, fmt, model, f"#{number}#{mode}#0#", stream=kind == "stream").replace(
        b"content-type", b"connection: close\r\ncontent-type"
    )
    if kind == "refused":
        head, _, body = request.partition(b"\r\n\r\n")
        request = head + b"\r\n\r\n" + body[:-2] + b"}!"  # same length, not JSON
    client = await _connect(port)
    assert client.transport is not None
    client.transport.write(request)
    try:
        await asyncio.wait_for(client.closed, HANG)
    except TimeoutError:
        tally.failures.append(f"request {number} ({kind}) got no whole answer")
        client.transport.abort()
        return
    status = client.status()
    expected = {"whole": 200, "stream": 200, "refused": 400, "error": 400}[kind]
    if status != expected:
        tally.failures.append(f"request {number} ({kind}) got {status}, not {expected}")
    tally.outcomes[kind] += 1
    upstream.forget(number)


async def soak(
    root: str,
    upstream: SlowUpstream,
    count: int,
    *,
    rss: Callable[[], int],
    warm: int = 500,
    concurrency: int = 16,
) -> Tally:
    """``count`` requests of :data:`SOAK_MIX` after ``warm`` of them; the gateway's RSS
    (``rss()``, KiB) at the start, after the warm-up and at the end."""
    port = int(root.rsplit(":", 1)[1])
    tally = Tally(requests=count)
    tally.rss["start"] = rss()
    gate = asyncio.Semaphore(concurrency)

    async def one(number: int) -> None:
        async with gate:
            await _soak_one(port, upstream, number, tally)

    await asyncio.gather(*(one(n) for n in range(warm)))
    await asyncio.sleep(0.2)
    tally.before = await _state(root, upstream)
    tally.rss["after warm-up"] = rss()
    started = time.perf_counter()
    middle = warm + count // 2
    await asyncio.gather(*(one(n) for n in range(warm, middle)))
    tally.rss["middle"] = rss()
    await asyncio.gather(*(one(n) for n in range(middle, warm + count)))
    tally.seconds = time.perf_counter() - started
    tally.after = await _settled(root, upstream, tally.before)
    tally.rss["end"] = rss()
    tally.failures += [f"left behind: {x}" for x in _left_behind(tally.before, tally.after)]
    return tally


if __name__ == "__main__" and sys.argv[1:2] == ["gateway"]:
    serve_process(int(sys.argv[2]), sys.argv[3])
