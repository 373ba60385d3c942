"""A faithful local fake of the backboard.io API, for tests (loopback only).

It implements what BACKBOARD.md documents and apibridge uses: assistants (with the exact-name
filter), threads with their messages, ``POST /threads/messages`` (JSON or multipart with
``files``), the legacy ``POST /threads/{id}/messages``, tool outputs (per run, and the
``/threads/tool-outputs`` form), run cancellation, and the model catalogue with pagination.
``X-API-Key`` authenticates; each assistant and thread belongs to the key that created it,
and another key gets 404 for it, as a different backboard account would.

The "model" is deterministic (:meth:`FakeBackboard.respond`), so tests can assert on what it
saw: it echoes the turn's content with the number of user turns the thread holds
(``Echo #2: ...`` proves turn 2 landed in turn 1's thread), asks for ``get_weather`` once per
city when the turn's tools include it and the content says "weather in A and B" (parallel
calls), reasons when ``thinking`` is set, lists the files it received, and answers JSON when
``json_output`` is set.

Knobs (:class:`Quirks`) reproduce what real servers do: both non-stream response shapes,
``COMPLETED`` in either case, cumulative ``content_streaming`` text with or without
``accumulated_content``, repeated and late ``run_ended``, advisory tool events. Failure
injection (:meth:`FakeBackboard.fail`): HTTP statuses (502/503/504/429 …) with a ``detail``,
in-stream ``error``/``run_failed`` before or after the first content, and a stream cut
without ``run_ended``. Every request is recorded (:attr:`FakeBackboard.requests`).

Run it with :func:`serve` (uvicorn on 127.0.0.1, a free port, in a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import attrs
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["FakeBackboard", "Failure", "Plan", "Quirks", "serve"]

MODELS: tuple[dict[str, Any], ...] = tuple(
    {
        "name": name,
        "provider": provider,
        "model_type": "llm",
        "context_limit": 128000,
        "max_output_tokens": 8192,
        "supports_tools": tools,
        "supports_vision": True,
        "supports_streaming": True,
        "display_name": name.upper(),
    }
    for provider, names, tools in (
        ("openai", ("gpt-4o", "gpt-4o-mini", "o3"), True),
        ("anthropic", ("claude-sonnet-4", "claude-haiku-4"), True),
        ("google", ("gemini-2.5-pro",), True),
        ("featherless", ("tiny-llm",), False),
    )
    for name in names
)


@attrs.frozen(kw_only=True)
class Plan:
    """What the fake model answers to one turn."""

    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()


@attrs.define(kw_only=True)
class Quirks:
    """How this fake server behaves where real ones differ (see the module docstring)."""

    shape: str = "legacy"  # "legacy" MessageResponse or "messages" ChatMessagesResponse
    upper_status: bool = True  # COMPLETED rather than completed
    cumulative: bool = False  # content_streaming.content holds all the text so far
    accumulated: bool = True  # send accumulated_content with each delta
    repeat_run_ended: bool = False
    late_run_ended: float = 0.0  # seconds of silence before run_ended
    hold_open: float = 0.0  # seconds the stream stays open after run_ended
    comment_every: float = 0.0  # while held open: an SSE comment this often
    advisory_tool_events: bool = True  # tool_call_start / tool_call_ready before submit
    echo_user_message: bool = True
    chunk_size: int = 6
    first_delay: float = 0.0  # seconds of silence before the first event
    chunk_delay: float = 0.0
    final_content_only: bool = False  # no content_streaming: the text comes in run_ended


@attrs.define(kw_only=True)
class Failure:
    """One injected failure. ``op``: message, tool_outputs, create_thread, assistants,
    models. ``status`` (an HTTP error) or ``stream`` (``before``/``after`` the first content,
    as event ``event``; ``cut`` ends the stream without ``run_ended``)."""

    op: str
    status: int | None = None
    detail: str = "injected failure"
    headers: dict[str, str] = attrs.field(factory=dict)
    stream: str | None = None
    event: str = "error"
    key: str | None = None
    times: int = 1


@attrs.define
class Run:
    run_id: str
    thread_id: str
    status: str
    tool_calls: list[dict[str, Any]]
    cancelled: bool = False


@attrs.define
class Thread:
    thread_id: str
    assistant_id: str
    owner: str
    messages: list[dict[str, Any]] = attrs.field(factory=list)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _detail(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Form fields and files of a multipart body (the stdlib parser: no extra dependency)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if filename is not None:
            files.append(
                {"field": name, "filename": filename, "type": part.get_content_type(), "data": data}
            )
        else:
            fields[str(name)] = data.decode()
    return fields, files


class FakeBackboard:
    """The fake server: an ASGI app (``self.app``) plus its state (see the module docstring)."""

    def __init__(self, keys: tuple[str, ...] = ("bb-key-1", "bb-key-2")) -> None:
        self.keys = set(keys)
        self.quirks = Quirks()
        self.failures: list[Failure] = []
        self.requests: list[dict[str, Any]] = []
        self.assistants: dict[str, dict[str, Any]] = {}
        self.threads: dict[str, Thread] = {}
        self.runs: dict[str, Run] = {}
        self.cancelled: list[str] = []
        self.disconnects = 0
        self.responder: Callable[[Thread, dict[str, Any], list[dict[str, Any]]], Plan] | None = None
        self.app = Starlette(
            routes=[
                Route("/assistants", self.assistants_collection, methods=["GET", "POST"]),
                Route("/assistants/{aid}", self.assistant_item, methods=["GET", "DELETE"]),
                Route("/assistants/{aid}/threads", self.create_thread, methods=["POST"]),
                Route("/threads/messages", self.messages, methods=["POST"]),
                Route("/threads/tool-outputs", self.tool_outputs_latest, methods=["POST"]),
                Route("/threads/{tid}", self.thread_item, methods=["GET", "DELETE"]),
                Route("/threads/{tid}/messages", self.legacy_messages, methods=["POST"]),
                Route(
                    "/threads/{tid}/runs/{rid}/submit-tool-outputs",
                    self.tool_outputs,
                    methods=["POST"],
                ),
                Route("/threads/{tid}/runs/{rid}/cancel", self.cancel, methods=["POST"]),
                Route("/models", self.models, methods=["GET"]),
                Route("/models/providers", self.providers, methods=["GET"]),
            ]
        )

    def reset(self) -> None:
        """Forget everything but the keys (between tests)."""
        self.quirks = Quirks()
        self.failures.clear()
        self.requests.clear()
        self.assistants.clear()
        self.threads.clear()
        self.runs.clear()
        self.cancelled.clear()
        self.disconnects = 0
        self.responder = None

    def fail(self, op: str, **kw: Any) -> Failure:
        """Inject a failure for the next ``times`` matching requests."""
        failure = Failure(op=op, **kw)
        self.failures.append(failure)
        return failure

    def recorded(self, op: str) -> list[dict[str, Any]]:
        """The recorded requests of one kind (``message``, ``tool_outputs`` …)."""
        return [r for r in self.requests if r["op"] == op]

    # ------------------------------------------------------------------ plumbing

    def _failure(self, op: str, key: str) -> Failure | None:
        for failure in self.failures:
            if failure.op == op and failure.times > 0 and failure.key in (None, key):
                failure.times -= 1
                return failure
        return None

    def _auth(self, request: Request) -> str | None:
        key = request.headers.get("x-api-key")
        return key if key in self.keys else None

    def _thread(self, tid: str, key: str) -> Thread | None:
        thread = self.threads.get(tid)
        return thread if thread is not None and thread.owner == key else None

    async def _body(self, request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        content_type = request.headers.get("content-type", "")
        raw = await request.body()
        if content_type.startswith("multipart/form-data"):
            fields, files = parse_multipart(content_type, raw)
            decoded: dict[str, Any] = {}
            for name, value in fields.items():
                if name in ("tools", "thinking", "metadata", "openrouter"):
                    decoded[name] = json.loads(value)
                else:
                    decoded[name] = value
            return decoded, files
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = await request.form()
            return {k: str(v) for k, v in form.items()}, []
        return (json.loads(raw) if raw else {}), []

    # ------------------------------------------------------------------ assistants, threads

    async def assistants_collection(self, request: Request) -> Response:
        key = self._auth(request)
        if key is None:
            return _detail(401, "Invalid API key")
        failure = self._failure("assistants", key)
        if failure is not None and failure.status:
            return _detail(failure.status, failure.detail, failure.headers)
        if request.method == "GET":
            self.requests.append(
                {"op": "list_assistants", "key": key, "params": dict(request.query_params)}
            )
            name = request.query_params.get("name")
            mine = [a for a in self.assistants.values() if a["owner"] == key]
            if name is not None:
                mine = [a for a in mine if a["name"] == name]
            skip = int(request.query_params.get("skip", 0))
            limit = int(request.query_params.get("limit", 100))
            return JSONResponse([_public(a) for a in mine[skip : skip + limit]])
        body = json.loads(await request.body())
        if not isinstance(body.get("name"), str):
            return _detail(422, [{"loc": ["body", "name"], "msg": "field required"}])  # type: ignore[arg-type]
        aid = str(uuid.uuid4())
        self.assistants[aid] = {"assistant_id": aid, "owner": key, "created_at": _now(), **body}
        self.requests.append({"op": "create_assistant", "key": key, "body": body})
        return JSONResponse(_public(self.assistants[aid]))

    async def assistant_item(self, request: Request) -> Response:
        key = self._auth(request)
        if key is None:
            return _detail(401, "Invalid API key")
        assistant = self.assistants.get(request.path_params["aid"])
        if assistant is None or assistant["owner"] != key:
            return _detail(404, "Assistant not found")
        if request.method == "DELETE":
            del self.assistants[assistant["assistant_id"]]
            return JSONResponse({"message": "deleted"})
        return JSONResponse(_public(assistant))

    async def create_thread(self, request: Request) -> Response:
        key = self._auth(request)
        if key is None:
            return _detail(401, "Invalid API key")
        failure = self._failure("create_thread", key)
        if failure is not None and failure.status:
            return _detail(failure.status, failure.detail, failure.headers)
        assistant = self.assistants.get(request.path_params["aid"])
        if assistant is None or assistant["owner"] != key:
            return _detail(404, "Assistant not found")
        tid = str(uuid.uuid4())
        self.threads[tid] = Thread(thread_id=tid, assistant_id=assistant["assistant_id"], owner=key)
        self.requests.append({"op": "create_thread", "key": key, "thread_id": tid})
        return JSONResponse(
            {"thread_id": tid, "created_at": _now(), "messages": [], "metadata_": None}
        )

    async def thread_item(self, request: Request) -> Response:
        key = self._auth(request)
        if key is None:
            return _detail(401, "Invalid API key")
        thread = self._thread(request.path_params["tid"], key)
        if thread is None:
            return _detail(404, "Thread not found")
        if request.method == "DELETE":
            del self.threads[thread.thread_id]
            return JSONResponse({"message": "deleted"})
        return JSONResponse(
            {
                "thread_id": thread.thread_id,
                "created_at": _now(),
                "messages": thread.messages,
                "metadata_": None,
            }
        )

    # ------------------------------------------------------------------ messages

    async def messages(self, request: Request) -> Response:
        return await self._message(request, None)

    async def legacy_messages(self, request: Request) -> Response:
        return await self._message(request, request.path_params["tid"])

    async def _message(self, request: Request, tid: str | None) -> Response:
        key = self._auth(request)
        if key is None:
            return _detail(401, "Invalid API key")
        fields, files = await self._body(request)
        self.requests.append(
            {
                "op": "message",
                "key": key,
                "fields": fields,
                "files": files,
                "content_type": request.headers.get("content-type", ""),
            }
        )
        failure = self._failure("message", key)
        if failure is not None and failure.status:
            return _detail(failure.status, failure.detail, failure.headers)
        tid = tid or fields.get("thread_id")
        if tid is None:
            return _detail(400, "thread_id is required by this fake")
        thread = self._thread(str(tid), key)
        if thread is None:
            return _detail(404, "Thread not found")
        content = fields.get("content")
        if not isinstance(content, str) or not content:
            return _detail(422, "content: field required")
        thread.messages.append(
            {
                "message_id": str(uuid.uuid4()),
                "role": "user",
                "content": content,
                "created_at": _now(),
                "status": None,
                "metadata_": None,
                "attachments": [f["filename"] for f in files],
            }
        )
        plan = self.respond(thread, fields, files)
        return self._answer(thread, fields, plan, _truthy(fields.get("stream")), failure)

    def respond(self, thread: Thread, fields: dict[str, Any], files: list[dict[str, Any]]) -> Plan:
        """The deterministic model (see the module docstring); ``responder`` overrides it."""
        if self.responder is not None:
            return self.responder(thread, fields, files)
        content = str(fields.get("content", ""))
        tools = [t["function"]["name"] for t in fields.get("tools") or []]
        reasoning = f"Thinking about: {content[:40]}" if "thinking" in fields else ""
        # Like a model, answer the current message, not a replayed history.
        current = content.rsplit("[Current Message]\n", 1)[-1]
        if "get_weather" in tools and "weather in " in current:
            cities = current.split("weather in ", 1)[1].rstrip("?.!").split(" and ")
            calls = tuple(("get_weather", {"city": c.strip()}) for c in cities if c.strip())
            return Plan(reasoning=reasoning, text="Let me look that up.", tool_calls=calls)
        turns = sum(1 for m in thread.messages if m["role"] == "user")
        if _truthy(fields.get("json_output")):
            return Plan(reasoning=reasoning, text=json.dumps({"echo": content, "turn": turns}))
        text = f"Echo #{turns}: {content}"
        if files:
            names = ", ".join(f"{f['filename']} ({f['type']})" for f in files)
            text += f" | files: {names}"
        return Plan(reasoning=reasoning, text=text)

    def _after_tools(self, thread: Thread, outputs: list[dict[str, Any]]) -> Plan:
        joined = "; ".join(f"{o['tool_call_id'][:8]}={o['output']}" for o in outputs)
        return Plan(text=f"Results: {joined}")

    def _usage(self, fields: dict[str, Any], plan: Plan) -> dict[str, Any]:
        prompt = 100 + len(str(fields.get("content", ""))) // 4
        output = 1 + (len(plan.text) + len(plan.reasoning)) // 4
        return {
            "input_tokens": prompt,
            "output_tokens": output,
            "total_tokens": prompt + output,
            "cached_input_tokens": 40,
            "cache_write_input_tokens": 10,
            "cost_usd": 0.0001,
        }

    def _status(self, word: str) -> str:
        return word.upper() if self.quirks.upper_status else word.lower()

    def _answer(
        self,
        thread: Thread,
        fields: dict[str, Any],
        plan: Plan,
        stream: bool,
        failure: Failure | None,
    ) -> Response:
        run = Run(
            run_id=str(uuid.uuid4()),
            thread_id=thread.thread_id,
            status="IN_PROGRESS",
            tool_calls=[],
        )
        self.runs[run.run_id] = run
        calls = [
            {
                "id": "call_" + uuid.uuid4().hex[:20],
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for name, args in plan.tool_calls
        ]
        run.tool_calls = calls
        usage = self._usage(fields, plan)
        model = {
            "model_provider": fields.get("llm_provider") or "openai",
            "model_name": fields.get("model_name") or "gpt-4o",
        }
        if stream:
            return StreamingResponse(
                self._events(thread, run, plan, calls, usage, model, failure),
                media_type="text/event-stream",
            )
        if failure is not None and failure.stream is not None:
            run.status = "FAILED"
            return JSONResponse(
                self._message_body(
                    thread,
                    run,
                    "",
                    [],
                    usage,
                    model,
                    "FAILED",
                    plan.reasoning,
                    error=failure.detail,
                )
            )
        self._finish(thread, run, plan, calls)
        return JSONResponse(
            self._message_body(
                thread, run, plan.text, calls, usage, model, run.status, plan.reasoning
            )
        )

    def _finish(self, thread: Thread, run: Run, plan: Plan, calls: list[dict[str, Any]]) -> None:
        run.status = "REQUIRES_ACTION" if calls else "COMPLETED"
        thread.messages.append(
            {
                "message_id": str(uuid.uuid4()),
                "role": "assistant",
                "content": plan.text,
                "created_at": _now(),
                "status": run.status,
                "metadata_": {"tool_calls": calls} if calls else None,
            }
        )

    def _message_body(
        self,
        thread: Thread,
        run: Run,
        text: str,
        calls: list[dict[str, Any]],
        usage: dict[str, Any],
        model: dict[str, Any],
        status: str,
        reasoning: str,
        error: str | None = None,
    ) -> dict[str, Any]:
        answer = {
            "message": "Message added successfully",
            "thread_id": thread.thread_id,
            "assistant_id": thread.assistant_id,
            "message_id": str(uuid.uuid4()),
            "role": "assistant",
            "content": error if error is not None else text,
            "status": self._status(status),
            "tool_calls": calls or None,
            "run_id": run.run_id,
            "memory_operation_id": None,
            "retrieved_memories": None,
            "retrieved_files": None,
            "reasoning": reasoning or None,
            "created_at": _now(),
            "attachments": [],
            **model,
            **{k: v for k, v in usage.items() if k != "cost_usd"},
        }
        if self.quirks.shape == "messages":
            user = (
                {k: v for k, v in thread.messages[-2].items()} if len(thread.messages) > 1 else {}
            )
            return {
                "messages": [{**user, "thread_id": thread.thread_id}, answer],
                "context_usage": {
                    "percent": 1.5,
                    "used_tokens": usage["input_tokens"],
                    "context_limit": 128000,
                    "summary_tokens": 0,
                    "model": model["model_name"],
                },
            }
        return answer

    async def _events(
        self,
        thread: Thread,
        run: Run,
        plan: Plan,
        calls: list[dict[str, Any]],
        usage: dict[str, Any],
        model: dict[str, Any],
        failure: Failure | None,
    ) -> AsyncIterator[bytes]:
        q = self.quirks
        ids = {"thread_id": thread.thread_id, "run_id": run.run_id}

        def frame(data: dict[str, Any]) -> bytes:
            return f"data: {json.dumps({**data, **ids})}\n\n".encode()

        try:
            if q.first_delay:
                await asyncio.sleep(q.first_delay)
            if q.echo_user_message:
                yield frame({"type": "user_message", "content": thread.messages[-1]["content"]})
            if failure is not None and failure.stream == "before":
                yield frame({"type": failure.event, "error": failure.detail})
                run.status = "FAILED"
                return
            if plan.reasoning:
                acc = ""
                for piece in _pieces(plan.reasoning, q.chunk_size):
                    acc += piece
                    yield frame(
                        {
                            "type": "reasoning_streaming",
                            "content": piece,
                            "accumulated_reasoning": acc,
                        }
                    )
                yield frame({"type": "reasoning_ended"})
            acc = ""
            if not q.final_content_only:
                for i, piece in enumerate(_pieces(plan.text, q.chunk_size)):
                    if run.cancelled:
                        return
                    acc += piece
                    data: dict[str, Any] = {
                        "type": "content_streaming",
                        "content": acc if q.cumulative else piece,
                    }
                    if q.accumulated:
                        data["accumulated_content"] = acc
                    yield frame(data)
                    if i == 0 and failure is not None and failure.stream == "after":
                        yield frame({"type": failure.event, "error": failure.detail})
                        run.status = "FAILED"
                        return
                    if i == 0 and failure is not None and failure.stream == "cut":
                        return
                    if q.chunk_delay:
                        await asyncio.sleep(q.chunk_delay)
            if run.cancelled:
                return
            self._finish(thread, run, plan, calls)
            if calls:
                if q.advisory_tool_events:
                    for call in calls:
                        yield frame(
                            {
                                "type": "tool_call_start",
                                "tool_call_id": call["id"],
                                "name": call["function"]["name"],
                            }
                        )
                    yield frame({"type": "tool_call_ready", "tool_call": calls[0]})
                yield frame({"type": "tool_submit_required", "tool_calls": calls, **usage})
                return
            if q.late_run_ended:
                await asyncio.sleep(q.late_run_ended)
            end = {
                "type": "run_ended",
                "status": self._status("completed"),
                "final_content": plan.text,
                **model,
                **usage,
                "context_usage": {
                    "used_tokens": usage["input_tokens"],
                    "context_limit": 128000,
                    "percent": 1.0,
                },
            }
            yield frame(end)
            if q.repeat_run_ended:
                yield frame({**end, "type": "message_complete"})
            if q.hold_open:
                until = time.monotonic() + q.hold_open
                while time.monotonic() < until:
                    await asyncio.sleep(q.comment_every or q.hold_open)
                    if q.comment_every:
                        yield b": keep-alive\n\n"
        except asyncio.CancelledError:
            self.disconnects += 1
            raise

    # ------------------------------------------------------------------ runs

    async def tool_outputs(self, request: Request) -> Response:
        key = self._auth(request)
        if key is None:
            return _detail(401, "Invalid API key")
        thread = self._thread(request.path_params["tid"], key)
        if thread is None:
            return _detail(404, "Thread not found")
        body = json.loads(await request.body())
        stream = _truthy(request.query_params.get("stream", "false"))
        return self._submit(thread, request.path_params["rid"], body, stream, key)

    async def tool_outputs_latest(self, request: Request) -> Response:
        key = self._auth(request)
        if key is None:
            return _detail(401, "Invalid API key")
        body = json.loads(await request.body())
        thread = self._thread(str(body.get("thread_id")), key)
        if thread is None:
            return _detail(404, "Thread not found")
        waiting = [
            r
            for r in self.runs.values()
            if r.thread_id == thread.thread_id and r.status == "REQUIRES_ACTION"
        ]
        if not waiting:
            return _detail(400, "tool outputs without tool calls")
        return self._submit(thread, waiting[-1].run_id, body, _truthy(body.get("stream")), key)

    def _submit(
        self, thread: Thread, run_id: str, body: dict[str, Any], stream: bool, key: str
    ) -> Response:
        self.requests.append(
            {
                "op": "tool_outputs",
                "key": key,
                "thread_id": thread.thread_id,
                "run_id": run_id,
                "body": body,
            }
        )
        failure = self._failure("tool_outputs", key)
        if failure is not None and failure.status:
            return _detail(failure.status, failure.detail, failure.headers)
        run = self.runs.get(run_id)
        if run is None or run.thread_id != thread.thread_id:
            return _detail(404, "Run not found")
        if run.status != "REQUIRES_ACTION":
            return _detail(400, "tool outputs without tool calls")
        outputs = body.get("tool_outputs") or []
        wanted = {c["id"] for c in run.tool_calls}
        given = {o.get("tool_call_id") for o in outputs}
        if given != wanted:
            return _detail(400, f"tool outputs must answer exactly the calls {sorted(wanted)}")
        run.status = "COMPLETED"
        for output in outputs:
            thread.messages.append(
                {
                    "message_id": str(uuid.uuid4()),
                    "role": "tool",
                    "content": output["output"],
                    "created_at": _now(),
                    "metadata_": {"tool_call_id": output["tool_call_id"]},
                }
            )
        plan = self._after_tools(thread, outputs)
        fields = {"content": "", **{k: v for k, v in body.items() if k != "tool_outputs"}}
        return self._answer(thread, fields, plan, stream, failure)

    async def cancel(self, request: Request) -> Response:
        key = self._auth(request)
        if key is None:
            return _detail(401, "Invalid API key")
        thread = self._thread(request.path_params["tid"], key)
        run = self.runs.get(request.path_params["rid"])
        if thread is None or run is None or run.thread_id != thread.thread_id:
            return _detail(404, "Run not found")
        run.cancelled = True
        run.status = "CANCELLED"
        self.cancelled.append(run.run_id)
        return JSONResponse(
            {"thread_id": thread.thread_id, "run_id": run.run_id, "cancelled": True}
        )

    # ------------------------------------------------------------------ models

    async def models(self, request: Request) -> Response:
        key = self._auth(request)
        if key is None:
            return _detail(401, "Invalid API key")
        failure = self._failure("models", key)
        if failure is not None and failure.status:
            return _detail(failure.status, failure.detail, failure.headers)
        params = request.query_params
        self.requests.append({"op": "models", "key": key, "params": dict(params)})
        chosen = [m for m in MODELS if params.get("provider") in (None, m["provider"])]
        skip, limit = int(params.get("skip", 0)), min(int(params.get("limit", 100)), 2)
        # A page size of 2 at most: clients must follow the pagination.
        return JSONResponse({"models": chosen[skip : skip + limit], "total": len(chosen)})

    async def providers(self, request: Request) -> Response:
        if self._auth(request) is None:
            return _detail(401, "Invalid API key")
        names = sorted({m["provider"] for m in MODELS})
        return JSONResponse({"providers": names, "total": len(names)})


def _public(assistant: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in assistant.items() if k != "owner"}


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or []


@contextlib.contextmanager
def serve(app: Any, *, lifespan: str = "off") -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 (a free port) in a thread; yields its root URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake backboard server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
