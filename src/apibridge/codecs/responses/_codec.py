"""The OpenAI Responses API (``POST /v1/responses``) ↔ the canonical model.

Theory of operation
-------------------
**Requests.** ``input`` is a string or a flat list of items. Leading ``system``/``developer``
message items (of one role) and ``instructions`` become ``Request.system``; every later item
joins a turn: consecutive items of one side fold into one :class:`~apibridge.model.Message`
(assistant side: assistant messages, ``function_call``, ``custom_tool_call``, ``reasoning``,
server items such as ``web_search_call``; user side: user messages and the ``*_output``
items, as :class:`~apibridge.model.ToolResultPart`). ``item_reference`` items stay in place
as opaque :class:`~apibridge.model.ServerToolPart` values of the current turn. Hints in the
parts (see :mod:`apibridge.codecs.responses._items`) put the items back exactly.

Top-level fields map one to one where the model has them (``max_output_tokens`` ↔
``max_tokens``, ``reasoning`` ↔ :class:`ReasoningConfig`, ``text.format`` ↔
:class:`OutputFormat`, ``user``/``safety_identifier`` ↔ ``user``, ``top_logprobs``, and the
``message.output_text.logprobs`` include ↔ ``logprobs``); everything else (``store``,
``include``, ``previous_response_id``, ``prompt_cache_key``, ``text.verbosity`` …) rides in
``extras["responses"]``. Responses has no stop sequences, ``top_k`` or ``n``: the first two are
reported as losses, ``n > 1`` raises :class:`~apibridge.errors.UnsupportedFeature`. A request
that did not come from a Responses client and asks for reasoning also asks for
``reasoning.encrypted_content`` with ``store: false`` (unless it chose), so the reasoning comes
back and can be replayed.

**Answers.** The ``response`` object's ``output`` items become parts in order; ``status`` and
``incomplete_details`` give the stop reason (tables in
:mod:`~apibridge.codecs.responses._wire`: a function call means ``tool_use``, a refusal
``refusal``); usage follows ``Usage.from_openai`` (Responses
``input_tokens`` include cached ones). Request fields echoed in the answer ride in the
``_echo`` hint; encoding an answer for a client echoes its request (``ctx.request``) or the
documented defaults. A canonical ``stop_sequence`` is said as ``completed`` (reported).

**Streams** live in :mod:`apibridge.codecs.responses._stream_decoder` (decoder) and
:mod:`apibridge.codecs.responses._stream_encoder`; tools, ``tool_choice``, ``reasoning`` and
``text`` in :mod:`apibridge.codecs.responses._settings`. **Errors** use the OpenAI envelope
``{"error": {"message", "type", "param", "code"}}`` (``decode_error`` never raises).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from apibridge._json import dumps_str
from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    expect_str,
)
from apibridge.codecs.responses._items import (
    ItemIds,
    decode_item,
    decode_message,
    encode_parts,
    is_message,
    item_side,
)
from apibridge.codecs.responses._settings import (
    decode_reasoning_config,
    decode_text,
    decode_tool,
    decode_tool_choice,
    encode_reasoning_config,
    encode_text,
    encode_tool,
    encode_tool_choice,
    integer,
    number,
)
from apibridge.codecs.responses._stream_decoder import FAILED_CODE_KINDS, StreamDecoder
from apibridge.codecs.responses._stream_encoder import StreamEncoder
from apibridge.codecs.responses._wire import (
    FORMAT,
    LOSSY_STOPS,
    STOP_TO_STATUS,
    decode_usage,
    encode_usage,
    finish,
    hints,
    lose_foreign,
    pack,
    part_hints,
    split,
    status_for_stop,
    stop_for_status,
)
from apibridge.errors import (
    ERROR_KINDS,
    ApibridgeError,
    ApiError,
    Loss,
    UnsupportedFeature,
    kind_for_status,
)
from apibridge.model import (
    ContentPart,
    Message,
    Request,
    Response,
    ServerToolPart,
    TextPart,
)

__all__ = [
    "FORMAT",
    "TOOL_NAME_MAX",
    "TOOL_NAME_RE",
    "StreamDecoder",
    "StreamEncoder",
    "decode_error",
    "decode_request",
    "decode_response",
    "encode_error",
    "encode_request",
    "encode_response",
    "report_stop",
    "request_echo",
    "response_hints",
    "response_object",
]

TOOL_NAME_MAX = 64
#: One allowed character of a tool name (``ToolNames`` matches names and single characters).
TOOL_NAME_RE: re.Pattern[str] = re.compile(r"[A-Za-z0-9_-]+")

# ---------------------------------------------------------------------------- tables

#: OpenAI error ``type`` → canonical kind. Generic types (``invalid_request_error``,
#: ``server_error``, ``api_error``) say nothing more than their status, so the status decides
#: for them and for every type not listed.
ERROR_TYPE_KINDS: Mapping[str, str] = {
    "authentication_error": "authentication",
    "permission_error": "permission",
    "not_found_error": "not_found",
    "rate_limit_error": "rate_limit",
    "insufficient_quota": "billing",
    "billing_error": "billing",
    "overloaded_error": "overloaded",
    "timeout": "timeout",
    "timeout_error": "timeout",
    "request_too_large": "request_too_large",
}

#: OpenAI error ``code`` → canonical kind, for bodies whose type says too little.
ERROR_CODE_KINDS: Mapping[str, str] = {
    "invalid_api_key": "authentication",
    "insufficient_quota": "billing",
    "rate_limit_exceeded": "rate_limit",
    "model_not_found": "not_found",
    **FAILED_CODE_KINDS,
}

_REQUEST_FIELDS = frozenset(
    {
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
        "max_output_tokens", "temperature", "top_p", "reasoning", "text", "stream",
        "metadata", "user", "top_logprobs",
    }
)  # fmt: skip

#: Request fields a response object echoes.
ECHO_FIELDS = frozenset(
    {
        "background", "conversation", "instructions", "max_output_tokens", "max_tool_calls",
        "metadata", "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key",
        "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier", "store",
        "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation",
        "user",
    }
)  # fmt: skip

#: Fields ``encode_response`` writes even when the canonical answer has nothing for them.
_RESPONSE_DEFAULTS = (
    "object", "status", "error", "incomplete_details", "tools", "tool_choice",
    "parallel_tool_calls", "usage",
)  # fmt: skip
_RESPONSE_MAPPED = frozenset({"id", "created_at", "model", "output", *_RESPONSE_DEFAULTS})

_LOGPROBS_INCLUDE = "message.output_text.logprobs"
_REASONING_INCLUDE = "reasoning.encrypted_content"


# ------------------------------------------------------------------------------ input


def _decode_input(
    value: Any, extra: dict[str, Any]
) -> tuple[list[TextPart], str, tuple[Message, ...]]:
    """``input`` as (system parts, their role, turns): items of one side fold into a turn."""
    if value is None:
        return [], "system", ()
    if isinstance(value, str):
        extra["_input_string"] = True
        return [], "system", (Message(role="user", content=(TextPart(text=value),)),)
    system: list[TextPart] = []
    system_role: str | None = None
    turns: list[tuple[str, list[ContentPart]]] = []
    for i, raw in enumerate(expect_list(value, "input")):
        where = f"input[{i}]"
        item = expect_obj(raw, where)
        if is_message(item):
            side = expect_str(item.get("role"), f"{where}.role")
            parts = decode_message(item, side, where)
            leading = not turns and side in ("system", "developer")
            texts = [p for p in parts if isinstance(p, TextPart)]
            if leading and system_role in (None, side) and len(texts) == len(parts):
                system.extend(texts)
                system_role = side
                continue
        elif item.get("type", "item_reference") == "item_reference":
            # A reference to a stored item: kept in place, in whatever turn is open.
            ref_id = item.get("id") if isinstance(item.get("id"), str) else None
            parts = [
                ServerToolPart(
                    kind="item_reference", raw=dict(item), source_format=FORMAT, id=ref_id
                )
            ]
            side = turns[-1][0] if turns else "user"
        else:
            parts, side = [decode_item(item, where)], item_side(item)
        if turns and turns[-1][0] == side:
            turns[-1][1].extend(parts)
        else:
            turns.append((side, parts))
    messages = tuple(Message(role=role, content=tuple(parts)) for role, parts in turns)
    return system, system_role or "system", messages


# ---------------------------------------------------------------------------- request


def decode_request(body: Mapping[str, Any], ctx: Context) -> Request:
    """A Responses request body in canonical form (unknown fields kept in extras)."""
    body = expect_obj(body, "request")
    user_key = "user" if "user" in body or "safety_identifier" not in body else "safety_identifier"
    extra = split(body, _REQUEST_FIELDS | {user_key})
    extra["_native"] = True  # a Responses client chose its own include/store
    if user_key != "user":
        extra["_user_field"] = user_key
    if "stream" in body and body["stream"] is False:
        extra["_stream_false"] = True
    system, system_role, messages = _decode_input(body.get("input"), extra)
    if "input" not in body:
        extra["_no_input"] = True
    if body.get("tools") == []:
        extra["_empty_tools"] = True
    instructions = body.get("instructions")
    if instructions is not None:
        text = expect_str(instructions, "instructions")
        system.insert(0, TextPart(text=text, extras=pack({"_instructions": True})))
    tools = tuple(
        decode_tool(t, f"tools[{i}]")
        for i, t in enumerate(expect_list(body.get("tools", []), "tools"))
    )
    include = body.get("include")
    if include is not None:
        expect_list(include, "include")  # carried as it came; the encoder extends the list
    metadata = body.get("metadata")
    user = body.get(user_key)
    parallel = body.get("parallel_tool_calls")
    return Request(
        model=expect_str(body.get("model"), "model"),
        messages=messages,
        system=tuple(system),
        system_role=system_role,
        tools=tools,
        tool_choice=decode_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=parallel if isinstance(parallel, bool) else None,
        max_tokens=integer(body, "max_output_tokens"),
        temperature=number(body, "temperature"),
        top_p=number(body, "top_p"),
        reasoning=decode_reasoning_config(body.get("reasoning"), extra),
        output_format=decode_text(body.get("text"), extra),
        user=expect_str(user, user_key) if user is not None else None,
        metadata=expect_obj(metadata, "metadata") if metadata is not None else None,
        stream=body.get("stream") is True,
        logprobs=True if isinstance(include, list) and _LOGPROBS_INCLUDE in include else None,
        top_logprobs=integer(body, "top_logprobs"),
        extras=pack(extra),
    )


def _encode_system(request: Request, ctx: Context) -> tuple[str | None, list[dict[str, Any]]]:
    """``instructions`` and the leading system/developer items for ``Request.system``."""
    if not any(hints(p.extras) for p in request.system):
        # Another format's system prompt: Responses says it best as ``instructions``.
        for i, part in enumerate(request.system):
            lose_foreign(ctx, part.extras, f"system[{i}]")
            if part.cache_control is not None:
                ctx.lose(f"system[{i}].cache_control", "responses caches prompts on its own")
            if part.citations:
                ctx.lose(f"system[{i}].citations", "instructions cannot carry citations")
        text = "\n\n".join(p.text for p in request.system)
        return (text if request.system else None), []
    said = [p for p in request.system if hints(p.extras).get("_instructions")]
    instructions = said[0].text if said else None
    rest = [p for p in request.system if not hints(p.extras).get("_instructions")]
    items = encode_parts(rest, request.system_role, ctx, "system", ItemIds(None))
    return instructions, items


def encode_request(request: Request, ctx: Context) -> dict[str, Any]:
    """A canonical request as a Responses request body.

    Raises :class:`~apibridge.errors.UnsupportedFeature` for ``n > 1`` (Responses answers
    once per request) and, in strict mode, for anything that cannot be carried.
    """
    if request.n is not None and request.n > 1:
        raise UnsupportedFeature(
            Loss(field="n", reason="responses answers with one choice", action="rejected")
        )
    own = hints(request.extras)
    lose_foreign(ctx, request.extras, "request")
    body: dict[str, Any] = {"model": request.model}
    instructions, items = _encode_system(request, ctx)
    from_system = bool(items)
    for i, message in enumerate(request.messages):
        where = f"messages[{i}]"
        if message.name is not None:
            ctx.lose(f"{where}.name", "responses messages have no author name")
        lose_foreign(ctx, message.extras, where)
        items.extend(
            encode_parts(message.content, message.role, ctx, f"{where}.content", ItemIds(None))
        )
    body["input"] = _input_value(request, items, own, from_system)
    if body["input"] is None:
        del body["input"]
    if instructions is not None:
        body["instructions"] = instructions
    if request.tools or own.get("_empty_tools"):
        tools = (encode_tool(t, ctx, f"tools[{i}]") for i, t in enumerate(request.tools))
        body["tools"] = [t for t in tools if t is not None]
    if request.tool_choice is not None:
        body["tool_choice"] = encode_tool_choice(request, ctx)
    _encode_settings(request, ctx, own, body)
    nested = ("reasoning", "text", "text_format")
    finish(body, {FORMAT: {k: v for k, v in own.items() if k not in nested}})
    _encode_include(request, own, body)
    return body


def _input_value(
    request: Request, items: list[dict[str, Any]], own: Mapping[str, Any], from_system: bool
) -> Any:
    """``input`` as items, or as the plain string it was received as while that still fits."""
    if own.get("_no_input") and not items:
        return None
    if own.get("_input_string") and not from_system and len(request.messages) == 1:
        message = request.messages[0]
        only = message.content[0] if len(message.content) == 1 else None
        plain = isinstance(only, TextPart) and not part_hints(only) and not only.citations
        if message.role == "user" and plain:
            assert isinstance(only, TextPart)
            return only.text
    return items


def _encode_settings(
    request: Request, ctx: Context, own: Mapping[str, Any], body: dict[str, Any]
) -> None:
    """The scalar settings, and the losses for what Responses has no field for."""
    for key, value in (
        ("parallel_tool_calls", request.parallel_tool_calls),
        ("max_output_tokens", request.max_tokens),
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("top_logprobs", request.top_logprobs),
    ):
        if value is not None:
            body[key] = value
    if request.metadata is not None:
        body["metadata"] = dict(request.metadata)
    if request.user is not None:
        body[str(own.get("_user_field", "user"))] = request.user
    if request.stream:
        body["stream"] = True
    elif own.get("_stream_false"):
        body["stream"] = False
    if request.top_k is not None:
        ctx.lose("top_k", "responses has no top_k")
    if request.stop:
        ctx.lose("stop", "responses has no stop sequences")
    reasoning = encode_reasoning_config(request, ctx, own)
    if reasoning is not None or "reasoning" in own:
        body["reasoning"] = reasoning
    text = encode_text(request, own)
    if text is not None or "text" in own:
        body["text"] = text


def _encode_include(request: Request, own: Mapping[str, Any], body: dict[str, Any]) -> None:
    """``include`` (and ``store``) for what the request asks back: logprobs, encrypted
    reasoning for a request from another format that reasons."""
    include = list(body.get("include") or [])
    wanted = []
    if request.logprobs:
        wanted.append(_LOGPROBS_INCLUDE)
    reasoning = request.reasoning
    if not own.get("_native") and reasoning is not None and "reasoning" in body:
        # So that the encrypted reasoning comes back and can be replayed statelessly.
        wanted.append(_REASONING_INCLUDE)
        body.setdefault("store", False)
    for entry in wanted:
        if entry not in include:
            include.append(entry)
    if include:
        body["include"] = include


# --------------------------------------------------------------------------- response


def decode_response(body: Mapping[str, Any], ctx: Context) -> Response:
    """A Responses ``response`` object in canonical form."""
    obj = expect_obj(body, "response")
    parts: list[ContentPart] = []
    for i, raw in enumerate(expect_list(obj.get("output", []), "output")):
        item = expect_obj(raw, f"output[{i}]")
        if is_message(item):
            role = item.get("role", "assistant")
            parts.extend(decode_message(item, str(role), f"output[{i}]"))
        else:
            parts.append(decode_item(item, f"output[{i}]"))
    stop = stop_for_status(obj.get("status"), obj.get("incomplete_details"), parts)
    extra = response_hints(obj, stop)
    created = obj.get("created_at")
    if isinstance(created, float) and not created.is_integer():
        extra["_created_at"] = created
    model = obj.get("model", "")
    return Response(
        id=expect_str(obj.get("id"), "id"),
        model=expect_str(model, "model"),
        content=tuple(parts),
        stop_reason=stop,
        usage=decode_usage(obj.get("usage"), "usage"),
        created=int(created) if isinstance(created, (int, float)) else None,
        extras=pack(extra),
    )


def response_hints(obj: Mapping[str, Any], stop: str | None) -> dict[str, Any]:
    """Extras of a response object: echoed request fields, unknown fields, and the hints
    that restore what the stop reason does not say (a status, a missing default)."""
    echo = {k: v for k, v in obj.items() if k in ECHO_FIELDS}
    extra: dict[str, Any] = {
        k: v for k, v in obj.items() if k not in _RESPONSE_MAPPED and k not in ECHO_FIELDS
    }
    if echo:
        extra["_echo"] = echo
    if obj.get("error") is not None:
        extra["error"] = obj["error"]
    status, details = status_for_stop(stop)
    if "status" in obj and obj["status"] != status:
        extra["_status"] = obj["status"]
    if obj.get("incomplete_details") != details:
        extra["_incomplete_details"] = obj.get("incomplete_details")
    if obj.get("object", "response") != "response":
        extra["_object"] = obj["object"]
    absent = [k for k in _RESPONSE_DEFAULTS if k not in obj]
    absent += [k for k in ("model", "created_at") if k not in obj]
    if absent:
        extra["_absent"] = absent
    return extra


def request_echo(ctx: Context) -> dict[str, Any]:
    """What a response object echoes of the client's request (documented defaults first)."""
    echo: dict[str, Any] = {"tools": [], "tool_choice": "auto", "parallel_tool_calls": True}
    if ctx.request is not None:
        try:
            sent = encode_request(ctx.request, Context())
        except ApibridgeError:  # the request's own losses were reported on the way in
            sent = {}
        echo.update((k, v) for k, v in sent.items() if k in ECHO_FIELDS)
    return echo


def response_object(
    *,
    response_id: str,
    model: str,
    created: int | float | None,
    stop: str | None,
    extras: Mapping[str, Mapping[str, Any]],
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    ctx: Context,
    in_progress: bool = False,
) -> dict[str, Any]:
    """A complete ``response`` object (also the payload of the stream's lifecycle events)."""
    own = hints(extras)
    status, details = status_for_stop(stop)
    if in_progress:
        status, details = "in_progress", None
    else:
        status = own.get("_status", status)
        details = own.get("_incomplete_details", details)
    error = None
    if status == "failed":
        error = own.get("error") or {"code": "server_error", "message": "the model failed"}
    body: dict[str, Any] = {
        "id": response_id,
        "object": own.get("_object", "response"),
        "created_at": own.get("_created_at", created if created is not None else int(time.time())),
        "status": status,
        "error": error,
        "incomplete_details": details,
        **request_echo(ctx),
        **own.get("_echo", {}),
        "model": model,
        "output": output,
        "usage": usage,
    }
    if not in_progress:
        finish(body, extras)
    return body


def encode_response(response: Response, ctx: Context) -> dict[str, Any]:
    """A canonical answer as a Responses ``response`` object."""
    report_stop(response.stop_reason, response.stop_sequence, ctx)
    lose_foreign(ctx, response.extras, "response")
    output = encode_parts(
        response.content, "assistant", ctx, "content", ItemIds(response.id), output=True
    )
    return response_object(
        response_id=response.id,
        model=response.model,
        created=response.created,
        stop=response.stop_reason,
        extras=response.extras,
        output=output,
        usage=encode_usage(response.usage, ctx, "usage"),
        ctx=ctx,
    )


def report_stop(stop: str | None, sequence: str | None, ctx: Context) -> None:
    """Report a stop reason Responses can only approximate."""
    if stop is not None and stop in LOSSY_STOPS:
        ctx.lose("stop_reason", LOSSY_STOPS[stop], f"said as {status_for_stop(stop)[0]}")
    elif stop is not None and stop not in STOP_TO_STATUS:
        ctx.lose("stop_reason", f"unknown stop reason {stop!r}", "said as completed")
    if sequence is not None and stop not in LOSSY_STOPS:
        ctx.lose("stop_sequence", "responses cannot say which stop sequence matched")


# ----------------------------------------------------------------------------- errors

_TAGS = re.compile(r"<[^>]+>")


def _message_of(body: Any, status: int) -> str:
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = " ".join(_TAGS.sub(" ", body).split())
        return text[:500] or f"upstream answered HTTP {status}"
    if isinstance(body, Mapping):
        for key in ("message", "detail", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    if body is None:
        return f"upstream answered HTTP {status}"
    try:
        return dumps_str(body)[:500]
    except TypeError:
        return repr(body)[:500]


def decode_error(body: Any, status: int) -> ApiError:
    """An error body (any shape: ours, another API's, text, HTML, ``None``) as an ApiError."""
    error = body.get("error") if isinstance(body, Mapping) else None
    ours = isinstance(error, Mapping) and body.get("type") != "error"
    fields: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    message = fields.get("message")
    if not isinstance(message, str):
        message = _message_of(body, status)
    wire_type = fields.get("type") if isinstance(fields.get("type"), str) else None
    code = fields.get("code")
    code = str(code) if code is not None and not isinstance(code, (dict, list)) else None
    valid_status = isinstance(status, int) and 400 <= status < 600
    kind = (
        ERROR_TYPE_KINDS.get(wire_type or "")
        or ERROR_CODE_KINDS.get(code or "")
        or kind_for_status(status if valid_status else 500)
    )
    param = fields.get("param")
    return ApiError(
        kind=kind,
        message=message,
        status=status if valid_status else ERROR_KINDS[kind].status,
        type=wire_type,
        code=code,
        param=param if isinstance(param, str) else None,
        source_format=FORMAT if ours else None,
    )


def encode_error(error: ApiError) -> tuple[int, dict[str, Any]]:
    """An ApiError as ``(status, {"error": {...}})`` in the OpenAI envelope."""
    spec = ERROR_KINDS.get(error.kind, ERROR_KINDS["api_error"])
    own_type = error.source_format in (FORMAT, "chat") and error.type
    status = error.status if 400 <= error.status < 600 else spec.status
    return status, {
        "error": {
            "message": error.message,
            "type": error.type if own_type else spec.openai,
            "param": error.param,
            "code": error.code,
        }
    }
