"""Scripted upstream answers, written by hand in each wire format.

Theory of operation
-------------------
A scenario scripts its upstream as a list of :class:`Turn` values: what the "model" says on
each call (reasoning, text, tool calls) or which error it returns. :func:`render` writes one
turn in the wire format a request arrived in (``anthropic``, ``chat``, ``responses``),
streamed or not as the request asked, exactly as the real services do:

* **anthropic**: ``message_start`` → one block per part (``thinking`` with
  ``thinking_delta`` + ``signature_delta``, ``text``, ``tool_use`` with ``input_json_delta``
  fragments) → ``message_delta`` (``stop_reason``) → ``message_stop``;
* **chat**: a role chunk → ``reasoning_content`` deltas (DeepSeek/vLLM style) → ``content``
  deltas → ``tool_calls`` deltas, the first fragment of each call carrying ``id``/``name``;
  with :attr:`Turn.interleave` the argument fragments of parallel calls alternate, as vLLM
  and some OpenAI models send them → a finish chunk → a usage chunk → ``[DONE]``;
* **responses**: ``response.created`` / ``in_progress`` → per item ``output_item.added`` …
  ``output_item.done`` (``reasoning`` with a summary and ``encrypted_content``, ``message``,
  ``function_call``, ``custom_tool_call``, ``tool_search_call``) → ``response.completed``,
  ``sequence_number`` from 0;
* **gemini**: ``GenerateContentResponse`` chunks (SSE ``data:`` frames with ``alt=sse``, else
  one JSON array), each holding only its new parts: a ``thought`` part, text in pieces, each
  ``functionCall`` whole (the first one carrying the turn's ``thoughtSignature``, as Gemini 3
  signs it; on a text-only turn the last text part carries it), then ``finishReason`` with the
  usage. A :class:`Call` with an empty ``id`` is sent without one, as Gemini 2.5 does.

These are written independently of apibridge's codecs on purpose: the gateway under test
must not be checked against its own encoders. Every tool-call argument string is sent in
several fragments so a gateway that forwards only the first fragment fails visibly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import orjson

# Error bodies in each format for the statuses the scenarios use.
_ERROR_TYPES: dict[int, tuple[str, str]] = {
    # status: (anthropic error type, openai error type)
    400: ("invalid_request_error", "invalid_request_error"),
    401: ("authentication_error", "invalid_api_key"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("api_error", "server_error"),
    529: ("overloaded_error", "server_error"),
}

# Gemini's google.rpc status names for the same statuses.
_GEMINI_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    529: "UNAVAILABLE",
}

_FINISH: dict[str, dict[str, str]] = {
    # canonical stop → the format's own word
    "anthropic": {"end_turn": "end_turn", "tool_use": "tool_use", "max_tokens": "max_tokens"},
    "chat": {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"},
    # Gemini says STOP whether or not the turn holds function calls.
    "gemini": {"end_turn": "STOP", "tool_use": "STOP", "max_tokens": "MAX_TOKENS"},
}


@attrs.frozen(kw_only=True)
class Call:
    """One tool call the scripted model makes."""

    name: str
    """Tool name, as the client declared it."""
    arguments: str
    """Arguments JSON text (for a ``custom`` tool: its free-form input)."""
    id: str
    """Call id (``toolu_…``/``call_…``)."""
    custom: bool = False
    """A Responses ``custom`` (free-form) tool call rather than a function call."""
    search: bool = False
    """A Responses client-executed ``tool_search_call`` (its ``arguments`` an object) rather
    than a function call; the other formats have no such call and get a function call."""
    namespace: str | None = None
    """Responses only: the ``namespace`` of a function call to a member of a ``namespace``
    tool (``name`` is then the member's own name)."""


@attrs.frozen(kw_only=True)
class Turn:
    """What the scripted upstream answers to one model request."""

    text: str = ""
    """Visible answer text."""
    reasoning: str = ""
    """Reasoning text (thinking block, ``reasoning_content`` or reasoning summary)."""
    signature: str = "c2lnbmF0dXJlLXNjcmlwdGVk"
    """Anthropic thinking signature / Responses ``encrypted_content`` of the reasoning /
    Gemini ``thoughtSignature`` (base64) of the turn."""
    calls: tuple[Call, ...] = ()
    """Tool calls, in order."""
    interleave: bool = False
    """Chat streams only: alternate the argument fragments of parallel calls."""
    status: int = 200
    """Non-200: answer with this status and the format's error body instead."""
    retry_after: int | None = None
    """``retry-after`` header (seconds) sent with an error."""

    @property
    def stop(self) -> str:
        """The canonical stop reason."""
        return "tool_use" if self.calls else "end_turn"


Rendered = tuple[int, list[tuple[str, str]], bytes]
"""(status, headers, body)."""


def _sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def _pieces(text: str, n: int = 3) -> list[str]:
    """``text`` cut into ``n`` roughly equal non-empty fragments (fewer when short)."""
    if not text:
        return []
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)]


def render(fmt: str, turn: Turn, *, model: str, stream: bool) -> Rendered:
    """``turn`` as an upstream of format ``fmt`` answers a request for ``model``."""
    if turn.status != 200:
        return _error(fmt, turn)
    json_headers = [("content-type", "application/json")]
    sse_headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
    if fmt == "anthropic":
        message = _anthropic_message(turn, model)
        if not stream:
            return 200, json_headers, orjson.dumps(message)
        return 200, sse_headers, b"".join(_anthropic_stream(turn, message))
    if fmt == "chat":
        if not stream:
            return 200, json_headers, orjson.dumps(_chat_completion(turn, model))
        return 200, sse_headers, b"".join(_chat_stream(turn, model))
    if fmt == "gemini":
        return render_gemini(turn, model=model, stream=stream, sse=stream)
    response = _responses_response(turn, model)
    if not stream:
        return 200, json_headers, orjson.dumps(response)
    return 200, sse_headers, b"".join(_responses_stream(response))


def _error(fmt: str, turn: Turn) -> Rendered:
    anthropic_type, openai_type = _ERROR_TYPES[turn.status]
    body: dict[str, Any]
    message = f"scripted upstream error {turn.status}"
    headers = [("content-type", "application/json")]
    if turn.retry_after is not None:
        headers.append(("retry-after", str(turn.retry_after)))
    if fmt == "gemini":
        delay = None if turn.retry_after is None else f"{turn.retry_after}s"
        body = gemini_error(turn.status, message, retry_delay=delay)
        return turn.status, headers, orjson.dumps(body)
    if fmt == "anthropic":
        body = {
            "type": "error",
            "error": {"type": anthropic_type, "message": message},
        }
    else:
        body = {"error": {"message": message, "type": openai_type, "param": None, "code": None}}
    return turn.status, headers, orjson.dumps(body)


# ---------------------------------------------------------------------------------- anthropic


def _anthropic_message(turn: Turn, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if turn.reasoning:
        content.append(
            {"type": "thinking", "thinking": turn.reasoning, "signature": turn.signature}
        )
    if turn.text:
        content.append({"type": "text", "text": turn.text})
    for call in turn.calls:
        content.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": orjson.loads(call.arguments),
            }
        )
    return {
        "id": "msg_scripted01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _FINISH["anthropic"][turn.stop],
        "stop_sequence": None,
        "usage": {
            "input_tokens": 20,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 7,
        },
    }


def _anthropic_stream(turn: Turn, message: dict[str, Any]) -> Iterator[bytes]:
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {**message["usage"], "output_tokens": 1},
    }
    yield _sse("message_start", {"type": "message_start", "message": start})
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        empty = {
            "thinking": {"type": "thinking", "thinking": "", "signature": ""},
            "text": {"type": "text", "text": ""},
            "tool_use": {**block, "input": {}},
        }[kind]
        yield _sse(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": empty},
        )
        if kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "text":
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"])]
        else:
            # The call's own text, not a re-serialisation of ``input``.
            arguments = next(c.arguments for c in turn.calls if c.id == block["id"])
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _pieces(arguments)]
        for delta in deltas:
            yield _sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})


# --------------------------------------------------------------------------------------- chat

_CHAT_USAGE = {"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27}

# A Chat tool call is ``{"type": "function", "function": {"name", "arguments"}}`` or, for a
# free-form tool, ``{"type": "custom", "custom": {"name", "input"}}``; streamed fragments
# grow ``arguments`` / ``input`` under the same key.
_CHAT_KIND: dict[bool, str] = {False: "function", True: "custom"}
_CHAT_TEXT: dict[bool, str] = {False: "arguments", True: "input"}


def _chat_call(call: Call, text: str) -> dict[str, Any]:
    kind = _CHAT_KIND[call.custom]
    return {"id": call.id, "type": kind, kind: {"name": call.name, _CHAT_TEXT[call.custom]: text}}


def _chat_completion(turn: Turn, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
    if turn.reasoning:
        message["reasoning_content"] = turn.reasoning
    if turn.calls:
        message["tool_calls"] = [_chat_call(c, c.arguments) for c in turn.calls]
    return {
        "id": "chatcmpl-scripted01",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": _FINISH["chat"][turn.stop]}],
        "usage": _CHAT_USAGE,
    }


def _chat_stream(turn: Turn, model: str) -> Iterator[bytes]:
    base = {
        "id": "chatcmpl-scripted01",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _sse(None, {**base, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(turn.reasoning):
        yield chunk({"reasoning_content": piece})
    for piece in _pieces(turn.text):
        yield chunk({"content": piece})
    heads = [{"index": i, **_chat_call(c, "")} for i, c in enumerate(turn.calls)]
    fragments = [
        [
            {"index": i, _CHAT_KIND[c.custom]: {_CHAT_TEXT[c.custom]: p}}
            for p in _pieces(c.arguments)
        ]
        for i, c in enumerate(turn.calls)
    ]
    if turn.interleave:
        # Every call opened first, then one fragment of each call in turn.
        for head in heads:
            yield chunk({"tool_calls": [head]})
        for row in range(max((len(f) for f in fragments), default=0)):
            for call_fragments in fragments:
                if row < len(call_fragments):
                    yield chunk({"tool_calls": [call_fragments[row]]})
    else:
        for head, call_fragments in zip(heads, fragments, strict=True):
            yield chunk({"tool_calls": [head]})
            for fragment in call_fragments:
                yield chunk({"tool_calls": [fragment]})
    yield chunk({}, _FINISH["chat"][turn.stop])
    yield _sse(None, {**base, "choices": [], "usage": _CHAT_USAGE})
    yield b"data: [DONE]\n\n"


# ---------------------------------------------------------------------------------- responses


def _responses_response(turn: Turn, model: str) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if turn.reasoning:
        output.append(
            {
                "id": "rs_scripted01",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": turn.reasoning}],
                "encrypted_content": turn.signature,
            }
        )
    if turn.text:
        output.append(
            {
                "id": "msg_scripted01",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": turn.text, "annotations": []}],
            }
        )
    for n, call in enumerate(turn.calls):
        if call.search:
            output.append(
                {
                    "id": f"tsc_scripted{n:02d}",
                    "type": "tool_search_call",
                    "call_id": call.id,
                    "arguments": orjson.loads(call.arguments),
                    "execution": "client",
                    "status": "completed",
                }
            )
        elif call.custom:
            output.append(
                {
                    "id": f"ctc_scripted{n:02d}",
                    "type": "custom_tool_call",
                    "call_id": call.id,
                    "name": call.name,
                    "input": call.arguments,
                    "status": "completed",
                }
            )
        else:
            item = {
                "id": f"fc_scripted{n:02d}",
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": call.arguments,
                "status": "completed",
            }
            if call.namespace is not None:
                item["namespace"] = call.namespace
            output.append(item)
    return {
        "id": "resp_scripted01",
        "object": "response",
        "created_at": 1700000000,
        "model": model,
        "status": "completed",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 20,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 3 if turn.reasoning else 0},
            "total_tokens": 27,
        },
    }


def _item_events(index: int, item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The events that stream one finished output item."""
    kind = item["type"]
    where = {"item_id": item["id"], "output_index": index}
    if kind == "reasoning":
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "summary": [], "encrypted_content": None},
        }
        text = item["summary"][0]["text"]
        summary = {**where, "summary_index": 0}
        yield {
            "type": "response.reasoning_summary_part.added",
            **summary,
            "part": {"type": "summary_text", "text": ""},
        }
        for piece in _pieces(text):
            yield {"type": "response.reasoning_summary_text.delta", **summary, "delta": piece}
        yield {"type": "response.reasoning_summary_text.done", **summary, "text": text}
        yield {
            "type": "response.reasoning_summary_part.done",
            **summary,
            "part": {"type": "summary_text", "text": text},
        }
    elif kind == "message":
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "status": "in_progress", "content": []},
        }
        part = item["content"][0]
        at = {**where, "content_index": 0}
        yield {"type": "response.content_part.added", **at, "part": {**part, "text": ""}}
        for piece in _pieces(part["text"]):
            yield {"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []}
        yield {"type": "response.output_text.done", **at, "text": part["text"], "logprobs": []}
        yield {"type": "response.content_part.done", **at, "part": part}
    elif kind == "function_call":
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "arguments": "", "status": "in_progress"},
        }
        for piece in _pieces(item["arguments"]):
            yield {"type": "response.function_call_arguments.delta", **where, "delta": piece}
        yield {
            "type": "response.function_call_arguments.done",
            **where,
            "name": item["name"],
            "arguments": item["arguments"],
        }
    elif kind == "tool_search_call":
        # No delta events: the finished item is all there is.
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "status": "in_progress"},
        }
    else:
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "input": "", "status": "in_progress"},
        }
        for piece in _pieces(item["input"]):
            yield {"type": "response.custom_tool_call_input.delta", **where, "delta": piece}
        yield {"type": "response.custom_tool_call_input.done", **where, "input": item["input"]}
    yield {"type": "response.output_item.done", "output_index": index, "item": item}


def _responses_stream(response: dict[str, Any]) -> Iterator[bytes]:
    pending = {**response, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
    ]
    for index, item in enumerate(response["output"]):
        events.extend(_item_events(index, item))
    events.append({"type": "response.completed", "response": response})
    for number, event in enumerate(events):
        yield _sse(event["type"], {**event, "sequence_number": number})


# ------------------------------------------------------------------------------------- gemini


def gemini_error(status: int, message: str, *, retry_delay: str | None = None) -> dict[str, Any]:
    """Google's error envelope for ``status``."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _GEMINI_STATUS.get(status, "UNKNOWN"),
    }
    if retry_delay is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        ]
    return {"error": error}


def _gemini_usage(turn: Turn, *, final: bool) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": 20, "totalTokenCount": 20}
    if final:
        thoughts = 3 if turn.reasoning else 0
        usage["candidatesTokenCount"] = 7
        usage["totalTokenCount"] = 27 + thoughts
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
    return usage


def _gemini_parts(turn: Turn, *, stream: bool) -> list[list[dict[str, Any]]]:
    """The turn's parts grouped by chunk (one group when not streamed)."""
    groups: list[list[dict[str, Any]]] = []
    if turn.reasoning:
        groups.append([{"text": turn.reasoning, "thought": True}])
    texts = _pieces(turn.text) if stream else ([turn.text] if turn.text else [])
    groups.extend([{"text": piece}] for piece in texts)
    for n, call in enumerate(turn.calls):
        function: dict[str, Any] = {"name": call.name, "args": orjson.loads(call.arguments)}
        if call.id:
            function = {"id": call.id, **function}
        part: dict[str, Any] = {"functionCall": function}
        if n == 0 and turn.signature:
            part["thoughtSignature"] = turn.signature
        groups.append([part])
    if not turn.calls and turn.signature and texts:
        groups[-1][-1]["thoughtSignature"] = turn.signature
    if not stream:
        return [[part for group in groups for part in group]]
    return groups


def gemini_response(turn: Turn, model: str) -> dict[str, Any]:
    """The whole (non-streamed) ``GenerateContentResponse`` for ``turn``."""
    (parts,) = _gemini_parts(turn, stream=False)
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts},
                "finishReason": _FINISH["gemini"][turn.stop],
                "index": 0,
            }
        ],
        "usageMetadata": _gemini_usage(turn, final=True),
        "modelVersion": model,
        "responseId": "scripted-gemini-01",
    }


def gemini_chunks(turn: Turn, model: str) -> list[dict[str, Any]]:
    """The streamed ``GenerateContentResponse`` chunks for ``turn``, in order."""
    groups = _gemini_parts(turn, stream=True) or [[{"text": ""}]]
    chunks = []
    for number, parts in enumerate(groups):
        last = number == len(groups) - 1
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if last:
            candidate["finishReason"] = _FINISH["gemini"][turn.stop]
        chunks.append(
            {
                "candidates": [candidate],
                "usageMetadata": _gemini_usage(turn, final=last),
                "modelVersion": model,
                "responseId": "scripted-gemini-01",
            }
        )
    return chunks


def render_gemini(turn: Turn, *, model: str, stream: bool, sse: bool) -> Rendered:
    """``turn`` as Gemini answers ``generateContent`` (``stream`` false) or
    ``streamGenerateContent`` (SSE frames when ``sse``, else one JSON array)."""
    if turn.status != 200:
        return _error("gemini", turn)
    if not stream:
        whole = orjson.dumps(gemini_response(turn, model))
        return 200, [("content-type", "application/json")], whole
    chunks = gemini_chunks(turn, model)
    if sse:
        frames = b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)
        return 200, [("content-type", "text/event-stream")], frames
    array = b"[" + b",\r\n".join(orjson.dumps(c) for c in chunks) + b"]"
    return 200, [("content-type", "application/json")], array
