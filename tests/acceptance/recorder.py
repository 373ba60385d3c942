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
``POST /{v}/models/{m}:generateContent``      Gemini ``GenerateContentResponse``
``POST /{v}/models/{m}:streamGenerateContent``  Gemini chunks (SSE with ``alt=sse``, else a
                                              JSON array)
``POST /{v}/models/{m}:countTokens``   ``{"totalTokens": ...}``
``GET /{v}/models[/{m}]``              a Gemini model list / model (also ``GET /v1/models``
                                       when the client sent ``x-goog-api-key``)
anything else (``HEAD /`` probes)      ``200`` with an empty body
====================================  ==================================================

``{v}`` is ``v1``, ``v1beta`` or ``v1alpha``. With ``check_signatures`` the recorder behaves
like Gemini 3 about thought signatures: a Gemini request whose history holds a model turn with
function calls must carry, on the first call of that turn, a ``thoughtSignature`` the recorder
itself sent (bytes compared, so the SDK's URL-safe re-encoding passes), or, with
``"placeholder"`` (what Google does), Gemini's documented placeholder; otherwise it answers
``400 INVALID_ARGUMENT`` and keeps the reason in :attr:`Recorder.refused`. ``"strict"`` takes
only its own signatures: the reasoning must have come back.

Model requests are answered from a script of :class:`~.scripted.Turn` values, one per
request, rendered in the request's own format by :mod:`.scripted` (a plain ``"OK"`` by
default). The recorder is both the capture tool for fixtures and the scripted upstream the
gateway scenarios put behind apibridge: every request it recorded is then checked with the
official SDK types.

Capture fixtures from the repository root with ``python -m tests.acceptance.recorder NAME``
(``claude``, ``codex``, or a tool-search/MCP run: see :data:`CAPTURES`): the pinned client runs
against a recorder (with ``mcp_server.py`` where the run needs it) and one of its model
requests is written to ``tests/fixtures/<format>/``.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any, Self

import attrs
import orjson
import uvicorn

from . import clients, mcp_server
from .gemini_wire import PLACEHOLDER, signature_bytes
from .scripted import Call, Rendered, Turn, gemini_error, render, render_gemini

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

#: ``/{version}/models/{model}:{method}`` of Gemini's REST API.
GEMINI_PATH = re.compile(r"/(v1|v1beta|v1alpha)/models/([^/:]+):([A-Za-z]+)")
GEMINI_MODELS = re.compile(r"/(v1|v1beta|v1alpha)/models(?:/([^/:]+))?")
GEMINI_GENERATE = ("generateContent", "streamGenerateContent")


def model_format(method: str, path: str) -> str | None:
    """The wire format of a model request to ``path`` (``None``: not a model request)."""
    if method != "POST":
        return None
    if path in MODEL_PATHS:
        return MODEL_PATHS[path]
    match = GEMINI_PATH.fullmatch(path)
    if match and match.group(3) in GEMINI_GENERATE:
        return "gemini"
    return None


def _gemini_model(name: str) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "displayName": name,
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
        "thinking": True,
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

    def __init__(
        self,
        script: Sequence[Step] = (Turn(text="OK"),),
        *,
        check_signatures: str | None = None,
        max_requests: int | None = None,
    ) -> None:
        if not script:
            raise ValueError("the script needs at least one turn")
        self.script = tuple(script)
        self.requests: list[Recorded] = []
        if check_signatures not in (None, "strict", "placeholder"):
            raise ValueError(f"check_signatures: {check_signatures!r}")
        self.check_signatures = check_signatures
        self.max_requests = max_requests
        self.sent_signatures: set[bytes] = set()
        """The Gemini thought signatures answered so far (decoded)."""
        self.refused: list[str] = []
        """Why each request refused for its signatures was refused."""
        self._lock = threading.Lock()
        self._turns = 0
        super().__init__(self._app)

    def model_requests(self) -> list[Recorded]:
        """The recorded POSTs to a model endpoint (not probes, not token counts)."""
        with self._lock:
            return [r for r in self.requests if model_format(r.method, r.path)]

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
        if self.max_requests is not None and len(self.requests) > self.max_requests:
            message = f"the recorder takes at most {self.max_requests} requests"
            return 429, json_type, orjson.dumps(gemini_error(429, message))
        if record.method == "POST" and record.path == "/v1/messages/count_tokens":
            return 200, json_type, b'{"input_tokens": 10}'
        gemini = self._gemini_side_route(record)
        if gemini is not None:
            return gemini
        if record.method == "GET" and record.path == "/v1/models":
            return 200, json_type, b'{"object": "list", "data": []}'
        fmt = model_format(record.method, record.path)
        if fmt is None:
            # Claude Code probes ``HEAD /`` first; any status will do.
            return 200, [("content-type", "text/plain")], b""
        if fmt == "gemini":
            return self._gemini(record, body)
        turn = self._next_turn(body)
        model = str(body.get("model", "model"))
        return render(fmt, turn, model=model, stream=bool(body.get("stream")))

    def _next_turn(self, body: dict[str, Any]) -> Turn:
        step = self.script[min(self._turns, len(self.script) - 1)]
        self._turns += 1
        return step if isinstance(step, Turn) else step(body)

    def _gemini_side_route(self, record: Recorded) -> Rendered | None:
        """Gemini's countTokens and model list/get (not model requests)."""
        json_type = [("content-type", "application/json")]
        match = GEMINI_PATH.fullmatch(record.path)
        if record.method == "POST" and match and match.group(3) == "countTokens":
            return 200, json_type, b'{"totalTokens": 10}'
        listing = GEMINI_MODELS.fullmatch(record.path)
        google = record.path.startswith("/v1beta/") or record.path.startswith("/v1alpha/")
        if record.method == "GET" and listing and (google or record.header("x-goog-api-key")):
            if listing.group(2):
                return 200, json_type, orjson.dumps(_gemini_model(listing.group(2)))
            models = [_gemini_model("gemini-2.5-flash"), _gemini_model("gemini-3-pro-preview")]
            return 200, json_type, orjson.dumps({"models": models})
        return None

    def _gemini(self, record: Recorded, body: dict[str, Any]) -> Rendered:
        match = GEMINI_PATH.fullmatch(record.path)
        assert match is not None
        if self.check_signatures is not None:
            problem = self._signature_problem(body)
            if problem is not None:
                self.refused.append(problem)
                return (
                    400,
                    [("content-type", "application/json")],
                    orjson.dumps(gemini_error(400, problem)),
                )
        turn = self._next_turn(body)
        if turn.status == 200 and turn.signature:
            decoded = signature_bytes(turn.signature)
            if decoded is not None:
                self.sent_signatures.add(decoded)
        stream = match.group(3) == "streamGenerateContent"
        sse = "alt=sse" in record.query.split("&")
        return render_gemini(turn, model=match.group(2), stream=stream, sse=sse)

    def _signature_problem(self, body: dict[str, Any]) -> str | None:
        """Why Gemini 3 would refuse ``body``'s history for its signatures (``None``: fine)."""
        for number, content in enumerate(body.get("contents") or []):
            if content.get("role") != "model":
                continue
            calls = [p for p in content.get("parts") or [] if "functionCall" in p]
            if not calls:
                continue
            first = calls[0]
            text = first.get("thoughtSignature", first.get("thought_signature"))
            where = f"contents[{number}]: function call {first['functionCall'].get('name')!r}"
            if not isinstance(text, str):
                return f"{where} is missing a thought_signature"
            if self.check_signatures == "placeholder" and text == PLACEHOLDER:
                continue
            if signature_bytes(text) not in self.sent_signatures:
                return f"{where}: thought signature {text!r} is not one this model sent"
        return None


@attrs.frozen(kw_only=True)
class Capture:
    """One fixture captured from a pinned client: which run, which of its requests."""

    client: str
    """``claude`` or ``codex``."""
    fixture: str
    """Where it goes, relative to ``tests/fixtures``."""
    what: str
    """Which request of which run, for the fixture's description."""
    script: tuple[Turn, ...] = (Turn(text="OK"),)
    """The recorder's answers."""
    request: int = 0
    """Index of the model request stored."""
    prompt: str = "Say OK."
    model: str | None = None
    """``--model`` (Claude Code) / ``model`` (Codex); ``None``: the client's default."""
    mcp: bool = False
    """Give the client ``mcp_server.py`` (as ``weather``)."""
    runs_tool: bool = False
    """The script makes the client run the MCP tool (checked in the server's log)."""


_WEATHER = "mcp__weather__lookup_weather"
_OSLO = '{"city": "Oslo"}'

#: The captures ``python -m tests.acceptance.recorder NAME`` makes.
CAPTURES: dict[str, Capture] = {
    "claude": Capture(
        client="claude", fixture="anthropic/claude_code_request.json", what="first request"
    ),
    "codex": Capture(client="codex", fixture="responses/codex_request.json", what="first request"),
    "claude-toolsearch": Capture(
        client="claude",
        fixture="anthropic/claude_code_request_toolsearch.json",
        what=(
            "third request of a run with an MCP server (claude-sonnet-4-5): the model called"
            " ToolSearch (select:mcp__weather__lookup_weather), then the tool it found; the"
            " history holds the tool_result of tool_reference blocks, the found tool is"
            " declared with defer_loading"
        ),
        script=(
            Turn(
                calls=(
                    Call(
                        id="toolu_01Search",
                        name="ToolSearch",
                        arguments=json.dumps({"query": f"select:{_WEATHER}"}),
                    ),
                )
            ),
            Turn(calls=(Call(id="toolu_01Weather", name=_WEATHER, arguments=_OSLO),)),
            Turn(text="Oslo: 12 C and clear."),
        ),
        request=2,
        prompt="What is the weather in Oslo?",
        model="claude-sonnet-4-5",
        mcp=True,
        runs_tool=True,
    ),
    "codex-tool-search": Capture(
        client="codex",
        fixture="responses/codex_request_tool_search.json",
        what=(
            "second request of a run with an MCP server (gpt-5.5, MCP tools deferred): the"
            " model called tool_search; the input holds the tool_search_call and Codex's"
            " tool_search_output with the found namespace tool"
        ),
        script=(
            Turn(
                calls=(
                    Call(
                        id="call_search01",
                        name="tool_search",
                        search=True,
                        arguments='{"query": "weather", "limit": 4}',
                    ),
                )
            ),
            Turn(text="Found the weather tool."),
        ),
        request=1,
        prompt="What is the weather in Oslo?",
        mcp=True,
    ),
    "codex-namespace": Capture(
        client="codex",
        fixture="responses/codex_request_mcp_namespace.json",
        what=(
            "second request of a run with an MCP server and a model outside Codex's catalogue"
            " (claude-sonnet-4-5): the MCP tools in a namespace tool, the model's call to one"
            " (a function_call with namespace) and its output in the input"
        ),
        script=(
            Turn(
                calls=(
                    Call(
                        id="call_weather01",
                        name="lookup_weather",
                        namespace="mcp__weather",
                        arguments=_OSLO,
                    ),
                )
            ),
            Turn(text="Oslo: 12 C and clear."),
        ),
        request=1,
        prompt="What is the weather in Oslo?",
        model="claude-sonnet-4-5",
        mcp=True,
        runs_tool=True,
    ),
}


def _capture(name: str) -> None:
    """Run a pinned client against a recorder and write one of its requests as a fixture."""
    capture = CAPTURES[name]
    fixtures = Path(__file__).parents[1] / "fixtures"
    with tempfile.TemporaryDirectory(prefix="apibridge-capture-") as scratch:
        calls = Path(scratch) / "mcp-calls.jsonl"
        executable, *args = mcp_server.command(calls)
        with Recorder(capture.script) as recorder:
            if capture.client == "claude":
                extra: list[str] = []
                allowed: list[str] = []
                if capture.mcp:
                    config = Path(scratch) / "mcp.json"
                    server = {"type": "stdio", "command": executable, "args": args}
                    config.write_text(json.dumps({"mcpServers": {"weather": server}}))
                    extra, allowed = ["--mcp-config", str(config)], [_WEATHER]
                result = clients.run_claude(
                    recorder.url,
                    capture.prompt,
                    model=capture.model,
                    allowed_tools=allowed,
                    extra_args=extra,
                    timeout=90,
                )
            else:
                table = (
                    f"[mcp_servers.weather]\ncommand = {json.dumps(executable)}\n"
                    f"args = {json.dumps(args)}\n"
                    if capture.mcp
                    else ""
                )
                result = clients.run_codex(
                    f"{recorder.url}/v1",
                    capture.prompt,
                    model=capture.model or "gpt-5.5",
                    extra_config=table,
                    timeout=90,
                )
            print(result.summary(), file=sys.stderr)
            captured = recorder.model_requests()
        if capture.runs_tool and not calls.exists():
            raise SystemExit(f"{name}: the MCP tool was not called")
    if len(captured) <= capture.request:
        raise SystemExit(f"{name}: {len(captured)} model requests, wanted #{capture.request}")
    body = captured[capture.request].body
    fixture = {
        "kind": "request",
        "description": f"{capture.what}, captured from {clients.version(capture.client)} on"
        " loopback",
        "body": clients.shorten_for_fixture(body),
    }
    path = fixtures / capture.fixture
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(fixture, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    # python -m tests.acceptance.recorder NAME... (from the repository root)
    if len(sys.argv) < 2 or not set(sys.argv[1:]) <= set(CAPTURES):
        raise SystemExit(f"usage: recorder.py {{{'|'.join(CAPTURES)}}}...")
    for name in sys.argv[1:]:
        _capture(name)
