"""Loopback servers for gateway tests: scripted upstreams and real ASGI/WSGI servers.

Importable from any test directory (``from tests.gateway.servers import ...`` or with
``tests/gateway`` on ``sys.path``); the benchmark uses it too.

* :class:`ScriptedUpstream` is an ASGI app that speaks one upstream format (``anthropic``,
  ``chat``, ``responses`` or ``gemini``) with hand-written wire JSON and SSE, deliberately
  independent of apibridge's codecs. Its Gemini calls carry an ``id`` and a
  ``thoughtSignature`` as Gemini 3's do (``gemini_ids=False``: neither, as Gemini 2.5's).
  By default it answers like a small tool-using model (see :meth:`ScriptedUpstream.answer`);
  a test queues :class:`Plan` values to make the next requests fail in a chosen way (error
  status, stream cut, invalid JSON, stall, hang). It records every request it receives and
  every client disconnect it sees.
* :func:`serve_asgi` runs any ASGI app under uvicorn on 127.0.0.1 (a free port) in a thread;
  :func:`serve_wsgi` runs any WSGI app under wsgiref (threaded) the same way. Both stop the
  server when the ``with`` block ends.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import re
import socket
import socketserver
import threading
import time
import uuid
import wsgiref.simple_server
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import uvicorn

from apibridge.config import (
    GatewayConfig,
    Retries,
    Route,
    ServerConfig,
    Timeouts,
    UpstreamConfig,
)

__all__ = [
    "ADMIN_KEY",
    "CLIENT_KEY",
    "UPSTREAM_FORMATS",
    "Plan",
    "ScriptedUpstream",
    "lifespan",
    "make_config",
    "serve_asgi",
    "serve_upstreams",
    "serve_wsgi",
    "upstream_key",
]

PATHS = {
    "anthropic": {"/v1/messages": "create", "/v1/messages/count_tokens": "count"},
    "chat": {"/v1/chat/completions": "create"},
    "responses": {"/v1/responses": "create"},
}
MODELS_PATH = "/v1/models"
TOOL_ARGUMENTS = '{"city": "Paris"}'
#: Gemini's paths: ``/v1beta/models/{model}:{method}`` and the model list.
GEMINI_PATH = re.compile(
    r"/v1beta/models/([^/]+):(generateContent|streamGenerateContent|countTokens)"
)
GEMINI_MODELS_PATH = "/v1beta/models"


def base_url(fmt: str, root: str) -> str:
    """The base URL of an upstream served at ``root``, as that format's SDK takes it."""
    return root if fmt in ("anthropic", "gemini") else root + "/v1"


def signature_for(call_id: str) -> str:
    """The ``thoughtSignature`` the scripted Gemini upstream puts on its call ``call_id``."""
    return base64.b64encode(f"scripted-signature-{call_id}".encode()).decode()


@attrs.frozen(kw_only=True)
class Plan:
    """How to answer one request instead of normally.

    kind: ``status`` (error ``status`` with ``headers``), ``cut`` (stream ``events`` events,
    then drop the connection), ``invalid_json`` (a body or an event that is not JSON, after
    ``events`` good events), ``slow`` (``delay`` seconds before the event after ``events``),
    ``hang`` (``events`` events, then wait for the client to leave), ``stream_error``
    (Anthropic: an in-band ``overloaded_error`` as the first event), ``huge_event`` (after
    ``events`` events, one ``data:`` line that never ends, 9 MiB in 1 MiB chunks: over the
    SSE decoder's 8 MiB limit), ``failed`` (Responses, not streamed: HTTP 200 with a
    ``status: "failed"`` response object whose error code is ``message``), ``end`` (stream
    ``events`` events, then end the body cleanly: a stream without its terminal event).
    """

    kind: str
    status: int = 500
    headers: dict[str, str] = attrs.field(factory=dict)
    message: str = "scripted failure"
    events: int = 0
    delay: float = 0.0


# ------------------------------------------------------------------------- wire writers


def _sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def _pieces(text: str, n: int = 3) -> list[str]:
    size = max(len(text) // n, 1)
    return [text[i : i + size] for i in range(0, len(text), size)]


#: HTTP status → google.rpc status name, as Google's API answers.
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _error_body(fmt: str, status: int, message: str) -> dict[str, Any]:
    if fmt == "gemini":
        name = GOOGLE_STATUS.get(status, "UNAVAILABLE" if status >= 500 else "INVALID_ARGUMENT")
        return {"error": {"code": status, "message": message, "status": name}}
    kinds = {
        400: ("invalid_request_error", "invalid_request_error"),
        401: ("authentication_error", "invalid_api_key"),
        403: ("permission_error", "permission_denied"),
        404: ("not_found_error", "model_not_found"),
        429: ("rate_limit_error", "rate_limit_exceeded"),
        529: ("overloaded_error", "overloaded"),
    }
    kind, code = kinds.get(status, ("api_error", "server_error"))
    if fmt == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    openai_type = kind if status < 500 else "server_error"
    return {"error": {"message": message, "type": openai_type, "param": None, "code": code}}


@attrs.frozen(kw_only=True)
class Answer:
    """What the scripted model says: some text, or one tool call."""

    text: str | None = None
    tool: str | None = None
    arguments: str = TOOL_ARGUMENTS
    call_id: str = ""
    #: Gemini: the call's ``thoughtSignature`` (a Gemini 3 call has one, with its ``id``).
    signature: str | None = None


def _anthropic_json(model: str, a: Answer) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if a.text is not None:
        content.append({"type": "text", "text": a.text})
    if a.tool is not None:
        content.append(
            {"type": "tool_use", "id": a.call_id, "name": a.tool, "input": json.loads(a.arguments)}
        )
    return {
        "id": "msg_" + uuid.uuid4().hex,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if a.tool else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 7},
    }


def _anthropic_events(model: str, a: Answer) -> list[bytes]:
    msg = _anthropic_json(model, a)
    start = dict(msg, content=[], stop_reason=None, usage={"input_tokens": 12, "output_tokens": 1})
    out = [_sse({"type": "message_start", "message": start}, "message_start")]
    out.append(_sse({"type": "ping"}, "ping"))
    index = 0
    if a.text is not None:
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        out.append(_sse(block, "content_block_start"))
        for piece in _pieces(a.text):
            delta = {"type": "text_delta", "text": piece}
            out.append(
                _sse(
                    {"type": "content_block_delta", "index": 0, "delta": delta},
                    "content_block_delta",
                )
            )
        out.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        index = 1
    if a.tool is not None:
        block = {"type": "tool_use", "id": a.call_id, "name": a.tool, "input": {}}
        out.append(
            _sse(
                {"type": "content_block_start", "index": index, "content_block": block},
                "content_block_start",
            )
        )
        for piece in _pieces(a.arguments):
            delta = {"type": "input_json_delta", "partial_json": piece}
            out.append(
                _sse(
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    "content_block_delta",
                )
            )
        out.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    delta = {"stop_reason": msg["stop_reason"], "stop_sequence": None}
    out.append(
        _sse(
            {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 7}},
            "message_delta",
        )
    )
    out.append(_sse({"type": "message_stop"}, "message_stop"))
    return out


def _chat_json(model: str, a: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": a.text}
    if a.tool is not None:
        message["tool_calls"] = [
            {
                "id": a.call_id,
                "type": "function",
                "function": {"name": a.tool, "arguments": a.arguments},
            }
        ]
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if a.tool else "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    }


def _chat_events(model: str, a: Answer) -> list[bytes]:
    base = {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _sse(dict(base, choices=[choice]))

    out = [chunk({"role": "assistant", "content": ""})]
    if a.text is not None:
        out.extend(chunk({"content": piece}) for piece in _pieces(a.text))
    if a.tool is not None:
        first = {
            "index": 0,
            "id": a.call_id,
            "type": "function",
            "function": {"name": a.tool, "arguments": ""},
        }
        out.append(chunk({"tool_calls": [first]}))
        for piece in _pieces(a.arguments):
            out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    out.append(chunk({}, "tool_calls" if a.tool else "stop"))
    usage = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
    out.append(_sse(dict(base, choices=[], usage=usage)))
    out.append(b"data: [DONE]\n\n")
    return out


def _responses_items(a: Answer, msg_id: str, fc_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if a.text is not None:
        items.append(
            {
                "type": "message",
                "id": msg_id,
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": a.text, "annotations": []}],
            }
        )
    if a.tool is not None:
        items.append(
            {
                "type": "function_call",
                "id": fc_id,
                "call_id": a.call_id,
                "name": a.tool,
                "arguments": a.arguments,
                "status": "completed",
            }
        )
    return items


def _responses_json(
    model: str,
    a: Answer,
    output: list[dict[str, Any]] | None = None,
    rid: str | None = None,
    status: str = "completed",
) -> dict[str, Any]:
    return {
        "id": rid or "resp_" + uuid.uuid4().hex,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": output
        if output is not None
        else _responses_items(a, "msg_" + uuid.uuid4().hex, "fc_" + uuid.uuid4().hex),
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "usage": {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 19,
        },
    }


def _responses_events(model: str, a: Answer) -> list[bytes]:
    rid = "resp_" + uuid.uuid4().hex
    msg_id, fc_id = "msg_" + uuid.uuid4().hex, "fc_" + uuid.uuid4().hex
    items = _responses_items(a, msg_id, fc_id)
    seq = iter(range(1000))
    out: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        out.append(_sse({"type": kind, "sequence_number": next(seq), **fields}, kind))

    shell = _responses_json(model, a, output=[], rid=rid, status="in_progress")
    shell["usage"] = None
    emit("response.created", response=shell)
    emit("response.in_progress", response=shell)
    for index, item in enumerate(items):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            emit(
                "response.output_item.added",
                output_index=index,
                item=dict(item, status="in_progress", content=[]),
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            emit(
                "response.content_part.added",
                item_id=msg_id,
                output_index=index,
                content_index=0,
                part=part,
            )
            for piece in _pieces(text):
                emit(
                    "response.output_text.delta",
                    item_id=msg_id,
                    output_index=index,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            emit(
                "response.output_text.done",
                item_id=msg_id,
                output_index=index,
                content_index=0,
                text=text,
                logprobs=[],
            )
            emit(
                "response.content_part.done",
                item_id=msg_id,
                output_index=index,
                content_index=0,
                part=item["content"][0],
            )
        else:
            emit(
                "response.output_item.added",
                output_index=index,
                item=dict(item, status="in_progress", arguments=""),
            )
            for piece in _pieces(item["arguments"]):
                emit(
                    "response.function_call_arguments.delta",
                    item_id=fc_id,
                    output_index=index,
                    delta=piece,
                )
            emit(
                "response.function_call_arguments.done",
                item_id=fc_id,
                output_index=index,
                arguments=item["arguments"],
            )
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.completed", response=_responses_json(model, a, output=items, rid=rid))
    return out


def _gemini_parts(a: Answer) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if a.text is not None:
        parts.append({"text": a.text})
    if a.tool is not None:
        call: dict[str, Any] = {"name": a.tool, "args": json.loads(a.arguments)}
        if a.call_id:
            call["id"] = a.call_id
        part: dict[str, Any] = {"functionCall": call}
        if a.signature is not None:
            part["thoughtSignature"] = a.signature
        parts.append(part)
    return parts


def _gemini_usage(output: int = 7) -> dict[str, Any]:
    return {"promptTokenCount": 12, "candidatesTokenCount": output, "totalTokenCount": 12 + output}


def _gemini_json(model: str, a: Answer) -> dict[str, Any]:
    content = {"role": "model", "parts": _gemini_parts(a)}
    return {
        "candidates": [{"content": content, "finishReason": "STOP", "index": 0}],
        "usageMetadata": _gemini_usage(),
        "modelVersion": model,
        "responseId": uuid.uuid4().hex[:22],
    }


def _gemini_events(model: str, a: Answer) -> list[bytes]:
    """Google's SSE: each chunk a whole GenerateContentResponse with only the new parts, CRLF
    framing, ``finishReason`` and the full usage on the last."""
    rid = uuid.uuid4().hex[:22]

    def chunk(parts: list[dict[str, Any]], last: bool, output: int) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        body = {
            "candidates": [candidate],
            "usageMetadata": _gemini_usage(output),
            "modelVersion": model,
            "responseId": rid,
        }
        return f"data: {json.dumps(body)}\r\n\r\n".encode()

    parts = _gemini_parts(a)
    pieces: list[list[dict[str, Any]]] = []
    for part in parts:
        if "text" in part:
            pieces.extend([{"text": piece}] for piece in _pieces(part["text"]))
        else:
            pieces.append([part])  # a function call comes whole
    last = len(pieces) - 1
    return [chunk(p, i == last, 7 if i == last else 1 + i) for i, p in enumerate(pieces)]


WRITERS: dict[
    str, tuple[Callable[[str, Answer], dict[str, Any]], Callable[[str, Answer], list[bytes]]]
] = {
    "anthropic": (_anthropic_json, _anthropic_events),
    "chat": (_chat_json, _chat_events),
    "responses": (_responses_json, _responses_events),
    "gemini": (_gemini_json, _gemini_events),
}


# ------------------------------------------------------------------------- the upstream


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return ""


async def lifespan(receive: Any, send: Any) -> None:
    """Answer an ASGI lifespan scope (startup, then shutdown) for a scripted upstream."""
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return


class ScriptedUpstream:
    """An ASGI app speaking ``fmt`` like a small tool-using model (see the module docstring)."""

    def __init__(
        self, fmt: str, *, models: tuple[str, ...] = ("listed-model",), gemini_ids: bool = True
    ) -> None:
        self.format = fmt
        self.models = models
        self.gemini_ids = gemini_ids
        self.plans: collections.deque[Plan] = collections.deque()
        self.requests: list[dict[str, Any]] = []
        self.disconnects: list[float] = []
        self.finished: list[float] = []
        self.call_ids: list[str] = []
        self._lock = threading.Lock()

    def plan(self, *plans: Plan) -> None:
        """Queue ``plans`` for the next requests."""
        with self._lock:
            self.plans.extend(plans)

    def reset(self) -> None:
        """Forget plans and records."""
        with self._lock:
            self.plans.clear()
            self.requests.clear()
            self.disconnects.clear()
            self.finished.clear()
            self.call_ids.clear()

    def last_request(self) -> dict[str, Any]:
        """The body of the newest request."""
        return self.requests[-1]["body"]

    # -- behaviour

    def answer(self, body: dict[str, Any]) -> Answer:
        """Tool result in the last turn → report it; tools offered → call the first; else echo."""
        result = self._tool_result(body)
        if result is not None:
            return Answer(text=f"The tool said: {result}")
        tools = body.get("tools") or []
        if tools:
            tool = tools[0]
            if self.format == "gemini":
                name = tool["functionDeclarations"][0]["name"]
                if not self.gemini_ids:  # Gemini 2.5: no id, no signature
                    return Answer(tool=name)
                call_id = uuid.uuid4().hex[:8]
                self.call_ids.append(call_id)
                return Answer(tool=name, call_id=call_id, signature=signature_for(call_id))
            name = tool.get("name") or tool.get("function", {}).get("name")
            prefix = {"anthropic": "toolu_", "chat": "call_", "responses": "call_"}[self.format]
            call_id = prefix + uuid.uuid4().hex[:20]
            self.call_ids.append(call_id)
            return Answer(tool=name, call_id=call_id)
        return Answer(text=f"Hello from {self.format}! You said: {self._last_user_text(body)}")

    def _tool_result(self, body: dict[str, Any]) -> str | None:
        if self.format == "gemini":
            contents = body.get("contents") or []
            last = contents[-1] if contents else {}
            for part in last.get("parts") or []:
                if last.get("role", "user") == "user" and "functionResponse" in part:
                    response = part["functionResponse"].get("response") or {}
                    output = response.get("output", response)
                    return output if isinstance(output, str) else json.dumps(output)
            return None
        if self.format == "responses":
            items = body.get("input")
            if isinstance(items, list) and items:
                last = items[-1]
                if isinstance(last, dict) and last.get("type") == "function_call_output":
                    return _text_of(last.get("output"))
            return None
        messages = body.get("messages") or []
        if not messages:
            return None
        last = messages[-1]
        if self.format == "chat":
            return _text_of(last.get("content")) if last.get("role") == "tool" else None
        if last.get("role") == "user" and isinstance(last.get("content"), list):
            for block in last["content"]:
                if block.get("type") == "tool_result":
                    return _text_of(block.get("content"))
        return None

    def _last_user_text(self, body: dict[str, Any]) -> str:
        if self.format == "gemini":
            for content in reversed(body.get("contents") or []):
                if content.get("role", "user") == "user":
                    return "".join(str(p.get("text", "")) for p in content.get("parts") or [])
            return ""
        if self.format == "responses":
            items = body.get("input")
            if isinstance(items, str):
                return items
            for item in reversed(items or []):
                if isinstance(item, dict) and item.get("role") == "user":
                    return _text_of(item.get("content"))
            return ""
        for message in reversed(body.get("messages") or []):
            if message.get("role") == "user":
                return _text_of(message.get("content"))
        return ""

    # -- ASGI

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path = scope["path"]
        if self.format == "gemini":
            await self._gemini(scope, headers, raw, receive, send)
            return
        if scope["method"] == "GET" and path == MODELS_PATH:
            data = [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "test"}
                for m in self.models
            ]
            await _reply(send, 200, {"object": "list", "data": data})
            return
        op = PATHS[self.format].get(path)
        if op is None or scope["method"] != "POST":
            await _reply(send, 404, _error_body(self.format, 404, f"no route {path}"))
            return
        try:
            body = json.loads(raw)
        except ValueError:
            await _reply(send, 400, _error_body(self.format, 400, "invalid JSON"))
            return
        with self._lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
            plan = self.plans.popleft() if self.plans else None
        if op == "count":
            await _reply(send, 200, {"input_tokens": 4242})
            return
        await self._create(body, plan, receive, send)

    async def _gemini(
        self, scope: dict[str, Any], headers: dict[str, str], raw: bytes, receive: Any, send: Any
    ) -> None:
        """Gemini's paths: the model and the kind of call are in the path, not the body."""
        path, query = scope["path"], scope["query_string"].decode()
        if scope["method"] == "GET" and path == GEMINI_MODELS_PATH:
            methods = ["generateContent", "streamGenerateContent", "countTokens"]
            models = [
                {
                    "name": f"models/{m}",
                    "displayName": m.replace("-", " ").title(),
                    "inputTokenLimit": 1048576,
                    "outputTokenLimit": 65536,
                    "supportedGenerationMethods": methods,
                }
                for m in self.models
            ]
            await _reply(send, 200, {"models": models})
            return
        match = GEMINI_PATH.fullmatch(path)
        if match is None or scope["method"] != "POST":
            await _reply(send, 404, _error_body("gemini", 404, f"no route {path}"))
            return
        try:
            body = json.loads(raw)
        except ValueError:
            await _reply(send, 400, _error_body("gemini", 400, "invalid JSON"))
            return
        model, method = match.groups()
        record = {"path": path, "query": query, "headers": headers, "body": body}
        with self._lock:
            self.requests.append(record)
            plan = self.plans.popleft() if self.plans else None
        if method == "countTokens":
            await _reply(send, 200, {"totalTokens": 4242})
            return
        stream = method == "streamGenerateContent"
        if stream and query != "alt=sse":  # the JSON-array form is not what apibridge asks for
            await _reply(send, 400, _error_body("gemini", 400, f"expected alt=sse, got {query}"))
            return
        await self._create({**body, "model": model, "stream": stream}, plan, receive, send)

    async def _create(
        self, body: dict[str, Any], plan: Plan | None, receive: Any, send: Any
    ) -> None:
        model = str(body.get("model", "?"))
        as_json, as_events = WRITERS[self.format]
        if plan is not None and plan.kind == "status":
            await _reply(
                send, plan.status, _error_body(self.format, plan.status, plan.message), plan.headers
            )
            return
        answer = self.answer(body)
        if not body.get("stream"):
            if plan is not None and plan.kind == "invalid_json":
                await _reply(send, 200, b"{this is not json")
                return
            if plan is not None and plan.kind == "slow":
                await asyncio.sleep(plan.delay)
            out = as_json(model, answer)
            if plan is not None and plan.kind == "failed":
                error = {"code": plan.message, "message": f"scripted {plan.message}"}
                out = {**out, "status": "failed", "error": error, "output": []}
            await _reply(send, 200, out)
            return
        events = as_events(model, answer)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        if plan is not None and plan.kind == "stream_error":
            if self.format == "gemini":  # Google's envelope as the first data frame
                error = _error_body("gemini", 503, "The model is overloaded.")
                await _chunk(send, f"data: {json.dumps(error)}\r\n\r\n".encode())
            else:
                await _chunk(send, _sse(_error_body("anthropic", 529, "Overloaded"), "error"))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        for i, event in enumerate(events):
            if plan is not None and i == plan.events:
                if plan.kind == "cut":
                    return  # returning without finishing the body drops the connection
                if plan.kind == "end":
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                if plan.kind == "invalid_json":
                    await _chunk(send, b"data: {broken json\n\n")
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                if plan.kind == "slow":
                    await asyncio.sleep(plan.delay)
                if plan.kind == "huge_event":
                    await _chunk(send, b"data: ")
                    for _ in range(9):
                        await _chunk(send, b"x" * (1 << 20))
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                if plan.kind == "hang":
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    self.disconnects.append(time.monotonic())
                    return
            await _chunk(send, event)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        self.finished.append(time.monotonic())


async def _chunk(send: Any, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def _reply(send: Any, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = [(b"content-type", b"application/json")]
    head += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw, "more_body": False})


# ------------------------------------------------------------------------- servers


def free_port() -> int:
    """A TCP port nothing listens on right now (for refused-connection tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_asgi(app: Any, *, log_level: str = "critical", **options: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 in a thread; yields its root URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Run ``app`` under wsgiref (one thread per request) on 127.0.0.1; yields its root URL."""
    server = wsgiref.simple_server.make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def serve_upstreams(**options: Any) -> Iterator[dict[str, tuple[ScriptedUpstream, str]]]:
    """One scripted upstream of each of :data:`UPSTREAM_FORMATS`, each on its own uvicorn
    server: format → (the upstream, its root URL)."""
    with contextlib.ExitStack() as stack:
        out = {}
        for fmt in UPSTREAM_FORMATS:
            app = ScriptedUpstream(fmt, **options)
            out[fmt] = (app, stack.enter_context(serve_asgi(app)))
        yield out


# ------------------------------------------------------------------------- the gateway

UPSTREAM_FORMATS = ("anthropic", "chat", "responses", "gemini")
CLIENT_KEY = "client-key-123"
ADMIN_KEY = "admin-key-456"


def upstream_key(fmt: str) -> str:
    """The (fake) key the gateway holds for upstream ``fmt``: it must never leak."""
    return f"sk-upstream-{fmt}-0123456789secret"


def make_config(roots: dict[str, str], *, client_keys: tuple[str, ...] = ()) -> GatewayConfig:
    """Routes: ``<fmt>-model`` → upstream ``fmt``; ``<fmt>-fast-model`` → short timeouts;
    ``dead-model`` → a port nothing listens on; ``claude-*`` → chat as ``renamed-model``."""
    retries = Retries(attempts=2, backoff=0.01, backoff_max=0.05, max_retry_after=2.0)
    fast = Timeouts(connect=2.0, first_byte=1.5, idle=0.6)
    upstreams: dict[str, UpstreamConfig] = {}
    routes: list[Route] = []
    for fmt in UPSTREAM_FORMATS:
        if fmt not in roots:  # a test that serves only some formats
            continue
        url = base_url(fmt, roots[fmt])
        key = (upstream_key(fmt),)
        upstreams[fmt] = UpstreamConfig(
            name=fmt, format=fmt, base_url=url, api_keys=key, retries=retries
        )
        upstreams[f"{fmt}-fast"] = UpstreamConfig(
            name=f"{fmt}-fast",
            format=fmt,
            base_url=url,
            api_keys=key,
            retries=retries,
            timeouts=fast,
            max_output_tokens=1000,
        )
        routes.append(Route(pattern=f"{fmt}-model", upstream=fmt))
        routes.append(Route(pattern=f"{fmt}-fast-model", upstream=f"{fmt}-fast"))
    upstreams["dead"] = UpstreamConfig(
        name="dead",
        format="chat",
        base_url=f"http://127.0.0.1:{free_port()}/v1",
        retries=retries,
        timeouts=fast,
    )
    routes.append(Route(pattern="dead-model", upstream="dead"))
    routes.append(Route(pattern="claude-*", upstream="chat", rename="renamed-model"))
    routes.append(Route(pattern="listed-*", upstream="anthropic"))
    server = ServerConfig(client_keys=client_keys, admin_key=ADMIN_KEY, max_body_bytes=512 * 1024)
    return GatewayConfig(upstreams=upstreams, routes=tuple(routes), server=server)
