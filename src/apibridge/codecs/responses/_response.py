"""Responses ``response`` objects ↔ the canonical :class:`Response`.

Theory of operation
-------------------
The ``output`` items become parts in order (through :mod:`apibridge.codecs.responses._items`);
``status`` and ``incomplete_details`` give the stop reason (tables in
:mod:`~apibridge.codecs.responses._wire`: a function call means ``tool_use``, a refusal
``refusal``); usage follows ``Usage.from_openai`` (Responses ``input_tokens`` include cached
ones). Request fields echoed in the answer ride in the ``_echo`` hint, and
:func:`response_hints` keeps what the stop reason does not say (an odd status, a missing
default); the stream decoder reads its terminal event with it too. Encoding an answer for a
client echoes its request (``ctx.request``, :func:`request_echo`) or the documented defaults.
:func:`response_object` builds the one ``response`` object shape, also the payload of the
stream encoder's lifecycle events. Deliberately lossy: a canonical ``stop_sequence`` (and the
other stops in ``LOSSY_STOPS``) is said as ``completed``, reported by :func:`report_stop`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

from apibridge.codecs._context import Context, expect_list, expect_obj, expect_str
from apibridge.codecs._openai_twins import answer_twins, tier_from_anthropic
from apibridge.codecs._tool_usage import tool_usage_of
from apibridge.codecs.responses._errors import failed_error
from apibridge.codecs.responses._items import (
    ItemIds,
    decode_item,
    decode_message,
    encode_parts,
    is_message,
)
from apibridge.codecs.responses._request import encode_request
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
    status_for_stop,
    stop_for_status,
)
from apibridge.errors import ApibridgeError, ApiError
from apibridge.model import ContentPart, Response

__all__ = [
    "ECHO_FIELDS",
    "answer_failure",
    "decode_response",
    "encode_response",
    "report_stop",
    "request_echo",
    "response_hints",
    "response_object",
]

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


def answer_failure(response: Response) -> ApiError | None:
    """The error a decoded ``failed`` (or ``cancelled``) response object states, else ``None``.

    Only a Responses client can be told a failure inside an answer body; any other client
    gets this error in its own envelope and status, as if the upstream had answered with an
    HTTP error (the ``code`` decides: ``rate_limit_exceeded`` is a 429, ``server_error`` a
    500). ``incomplete`` is no failure: it is a ``max_tokens`` or ``content_filter`` stop.
    """
    if response.stop_reason != "error":
        return None
    own = response.extras.get(FORMAT, {})
    error = own.get("error")
    if error is None and own.get("_status") == "cancelled":
        error = {"message": "the upstream cancelled the response"}
    return failed_error(error)


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
        **(answer_twins(extras, FORMAT, ctx) if "chat" in extras else {}),
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
    usage, tier = tier_from_anthropic(response.usage)
    tool_usage = None
    if usage is not None:
        plain, tool_usage = tool_usage_of(usage.extras, ctx, "usage")
        usage = attrs.evolve(usage, extras=plain)
    body = response_object(
        response_id=response.id,
        model=response.model,
        created=response.created,
        stop=response.stop_reason,
        extras=response.extras,
        output=output,
        usage=encode_usage(usage, ctx, "usage"),
        ctx=ctx,
    )
    if tier is not None:  # an Anthropic answer's usage.service_tier
        body["service_tier"] = tier
    if tool_usage is not None:  # an Anthropic answer's usage.server_tool_use
        body.setdefault("tool_usage", tool_usage)
    return body


def report_stop(stop: str | None, sequence: str | None, ctx: Context) -> None:
    """Report a stop reason Responses can only approximate."""
    if stop is not None and stop in LOSSY_STOPS:
        ctx.lose("stop_reason", LOSSY_STOPS[stop], f"said as {status_for_stop(stop)[0]}")
    elif stop is not None and stop not in STOP_TO_STATUS:
        ctx.lose("stop_reason", f"unknown stop reason {stop!r}", "said as completed")
    if sequence is not None and stop not in LOSSY_STOPS:
        ctx.lose("stop_sequence", "responses cannot say which stop sequence matched")
