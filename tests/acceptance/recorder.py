"""A tiny recording loopback server: answers real clients, keeps what they sent.

Theory of operation
-------------------
:class:`Recorder` runs a plain ASGI app under uvicorn in a background thread, bound to
``127.0.0.1`` on a port the kernel picks. Every HTTP request is stored whole (method, path,
query string, headers, raw body, parsed JSON body) in :attr:`Recorder.requests`, then answered
in the format its path implies:

====================================  ==================================================
route                                  answer
====================================  ==================================================
``POST /v1/messages``                  Anthropic message (SSE when ``stream`` is true)
``POST /v1/messages/count_tokens``     ``{"input_tokens": ...}``
``POST /v1/chat/completions``          Chat completion (``data:`` chunks + ``[DONE]``)
``POST /v1/responses``                 Responses stream (or one ``response`` object)
``GET /v1/models``                     an empty model list
anything else (``HEAD /`` probes)      ``200`` with an empty body
====================================  ==================================================

Model requests are answered from a script of :class:`~.scripted.Turn` values, one per
request, rendered in the request's own format by :mod:`.scripted` (a plain ``"OK"`` by
default). The recorder is both the capture tool for fixtures and the scripted upstream the
gateway scenarios put behind apibridge: every request it recorded is then checked with the
official SDK types.

Capture fixtures from the repository root with ``python -m tests.acceptance.recorder claude``
(or ``codex``): the pinned client runs against a recorder and its first model request is
written to ``tests/fixtures/<format>/``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any, Self

import attrs
import orjson
import uvicorn

from . import clients
from .scripted import Rendered, Turn, render

Step = Turn | Callable[[dict[str, Any]], Turn]
"""One entry of a recorder's script: a turn, or a function of the request body giving one."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@attrs.frozen(kw_only=True)
class Recorded:
    """One request as the client sent it."""

    method: str
    """HTTP method (``POST``, ``HEAD``…)."""
    path: str
    """URL path without the query string."""
    query: str
    """Raw query string (``beta=true`` for Claude Code)."""
    headers: tuple[tuple[str, str], ...]
    """Header pairs, lower-cased names, in the order received."""
    raw: bytes
    """The body bytes."""

    @property
    def body(self) -> Any:
        """The body parsed as JSON (``None`` when empty or not JSON)."""
        try:
            return orjson.loads(self.raw) if self.raw else None
        except orjson.JSONDecodeError:
            return None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


# Model endpoints and the wire format each answers in.
MODEL_PATHS: dict[str, str] = {
    "/v1/messages": "anthropic",
    "/v1/chat/completions": "chat",
    "/v1/responses": "responses",
}


async def _lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge uvicorn's lifespan messages (the recorder has nothing to set up)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class LoopbackServer:
    """Any ASGI app under uvicorn in a background thread, on ``127.0.0.1`` and a free port.

    Use as a context manager; :attr:`url` is ``http://127.0.0.1:<port>``. Leaving the block
    stops the server (lifespan events are sent, so an app's pools are closed).
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="auto",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL (no trailing slash, no ``/v1``)."""
        (sock,) = self._server.servers[0].sockets
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the loopback server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class Recorder(LoopbackServer):
    """A loopback server that records every request and answers from a script.

    ``script`` is the list of :class:`~.scripted.Turn` values answered to the successive
    model requests (the last one repeats once the list runs out). A step may also be a
    function of the request body returning the turn, for answers that depend on how the
    gateway declared a tool. Use as a context manager;
    :attr:`url` is ``http://127.0.0.1:<port>``.
    """

    def __init__(self, script: Sequence[Step] = (Turn(text="OK"),)) -> None:
        if not script:
            raise ValueError("the script needs at least one turn")
        self.script = tuple(script)
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._turns = 0
        super().__init__(self._app)

    def model_requests(self) -> list[Recorded]:
        """The recorded POSTs to a model endpoint (not probes, not token counts)."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and r.path in MODEL_PATHS]

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        record = Recorded(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode("latin-1"),
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
            raw=b"".join(chunks),
        )
        with self._lock:
            self.requests.append(record)
            status, headers, data = self._answer(record)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": data})

    def _answer(self, record: Recorded) -> Rendered:
        body = record.body if isinstance(record.body, dict) else {}
        json_type = [("content-type", "application/json")]
        if record.method == "POST" and record.path == "/v1/messages/count_tokens":
            return 200, json_type, b'{"input_tokens": 10}'
        if record.method == "GET" and record.path == "/v1/models":
            return 200, json_type, b'{"object": "list", "data": []}'
        fmt = MODEL_PATHS.get(record.path) if record.method == "POST" else None
        if fmt is None:
            # Claude Code probes ``HEAD /`` first; any status will do.
            return 200, [("content-type", "text/plain")], b""
        step = self.script[min(self._turns, len(self.script) - 1)]
        self._turns += 1
        turn = step if isinstance(step, Turn) else step(body)
        model = str(body.get("model", "model"))
        return render(fmt, turn, model=model, stream=bool(body.get("stream")))


def _capture(client: str) -> None:
    """Run ``client`` against a recorder and write its first model request as a fixture."""
    fixtures = Path(__file__).parents[1] / "fixtures"
    with Recorder() as recorder:
        if client == "claude":
            result = clients.run_claude(f"{recorder.url}", "Say OK.", timeout=90)
            fmt, name = "anthropic", "claude_code_request.json"
            version = clients.version("claude")
        else:
            result = clients.run_codex(f"{recorder.url}/v1", "Say OK.", timeout=90)
            fmt, name = "responses", "codex_request.json"
            version = clients.version("codex")
        print(result.summary(), file=sys.stderr)
        captured = recorder.model_requests()
    if not captured:
        raise SystemExit(f"{client} sent no model request")
    body = captured[0].body
    fixture = {
        "kind": "request",
        "description": f"first request captured from {version} on loopback",
        "body": clients.shorten_for_fixture(body),
    }
    path = fixtures / fmt / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(fixture, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    # python -m tests.acceptance.recorder claude|codex (from the repository root)
    if len(sys.argv) != 2 or sys.argv[1] not in ("claude", "codex"):
        raise SystemExit("usage: recorder.py claude|codex")
    _capture(sys.argv[1])
