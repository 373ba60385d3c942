"""backboard answers (both non-stream shapes) → canonical :class:`~apibridge.Response`.

Theory of operation
===================

A non-stream answer is either the legacy ``MessageResponse`` (fields at the top) or
``ChatMessagesResponse`` (``{"messages": [...]}``, the last message is the answer; the outer
fields are kept in extras). ``status`` is compared case-insensitively: ``COMPLETED`` →
``end_turn``, ``REQUIRES_ACTION`` → ``tool_use`` (table ``STATUS_STOP`` in ``_wire``),
``FAILED``/``CANCELLED`` → :class:`~apibridge.errors.UpstreamError` with the reason read
by ``_errors``. Parts come in a fixed order: ``reasoning`` (a thinking part), ``content``
(text), ``tool_calls``. Usage numbers follow OpenAI's meaning and are converted
(``_wire.usage_from``). The model is the client's own name when the request is known, so that
a stream and a non-stream answer agree; ``message_id`` becomes the response id, thread and
run ids are the transport's bookkeeping and are not kept, other non-empty fields go to
``extras["backboard"]``.

backboard is upstream only: :func:`encode_response` and :func:`StreamEncoder` refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apibridge.codecs._context import Context, expect_list, expect_obj, expect_str, new_id, opt_str
from apibridge.codecs._custom_tools import custom_tool_names
from apibridge.codecs.backboard._errors import error_from_message, error_message
from apibridge.codecs.backboard._wire import (
    FORMAT,
    STATUS_STOP,
    decode_tool_call,
    upstream_only,
    usage_from,
)
from apibridge.errors import ApiError, InvalidPayload, UnsupportedFeature, UpstreamError
from apibridge.model import Response, TextPart, ThinkingPart

__all__ = ["StreamEncoder", "decode_response", "encode_response"]

#: Fields of a backboard answer that this codec maps or that are bookkeeping for the
#: transport (thread, run and message ids); the rest is kept in ``extras["backboard"]``.
_ANSWER_FIELDS: frozenset[str] = frozenset(
    {
        "content",
        "status",
        "tool_calls",
        "reasoning",
        "model_provider",
        "model_name",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cached_input_tokens",
        "cache_write_input_tokens",
        "message_id",
        "thread_id",
        "run_id",
        "assistant_id",
        "role",
        "created_at",
        "timestamp",
        "message",
    }
)


def _created(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    return None


def _model(body: Mapping[str, Any], ctx: Context) -> str:
    # The client's own model name when it is known: a stream must name its model before
    # backboard says which one ran, and both answers should agree.
    if ctx.request is not None and ctx.request.model:
        return ctx.request.model
    provider, name = body.get("model_provider"), body.get("model_name")
    if isinstance(name, str) and name:
        return f"{provider}/{name}" if isinstance(provider, str) and provider else name
    return ""


def _failure(body: Mapping[str, Any], status: str) -> ApiError:
    # ``message`` of a MessageResponse is a status note ("Message added successfully"), so
    # the reason is read from ``error``/``detail`` first, then from the answer's text.
    reason = {k: body[k] for k in ("error", "detail") if k in body}
    message = error_message(reason) or body.get("content") or error_message(body)
    if not isinstance(message, str) or not message:
        message = f"the backboard run ended with status {status}"
    return error_from_message(message, None)


def decode_response(body: Mapping[str, Any], ctx: Context) -> Response:
    """A non-streamed backboard answer (either shape) as a canonical :class:`Response`.

    Raises :class:`~apibridge.errors.UpstreamError` when the run failed or was cancelled.
    """
    body = expect_obj(body, "response")
    where = "response"
    outer_extras: dict[str, Any] = {}
    if isinstance(body.get("messages"), list) and "content" not in body:
        messages = expect_list(body["messages"], "messages")
        if not messages:
            raise InvalidPayload("messages: the answer holds no message")
        where = f"messages[{len(messages) - 1}]"
        outer_extras = {k: v for k, v in body.items() if k != "messages" and v is not None}
        body = expect_obj(messages[-1], where)
    raw_status = expect_str(body.get("status") or "COMPLETED", f"{where}.status")
    status = raw_status.lower()
    if status not in STATUS_STOP:
        raise UpstreamError(_failure(body, raw_status))
    parts: list[Any] = []
    reasoning = body.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ThinkingPart(text=reasoning))
    content = opt_str(body.get("content"), f"{where}.content")
    if content:
        parts.append(TextPart(text=content))
    calls = body.get("tool_calls") or []
    custom = custom_tool_names(ctx)
    for i, raw in enumerate(expect_list(calls, f"{where}.tool_calls")):
        parts.append(decode_tool_call(raw, f"{where}.tool_calls[{i}]", custom))
    stop = "tool_use" if calls else STATUS_STOP[status]
    if stop == "tool_use" and not calls:
        raise InvalidPayload(f"{where}.tool_calls: status REQUIRES_ACTION without tool calls")
    extras = {
        k: v for k, v in body.items() if k not in _ANSWER_FIELDS and v not in (None, [], {}, "")
    }
    extras.update(outer_extras)
    message_id = body.get("message_id")
    return Response(
        id=message_id if isinstance(message_id, str) and message_id else new_id("msg_"),
        model=_model(body, ctx),
        content=tuple(parts),
        stop_reason=stop,
        usage=usage_from(body, where),
        created=_created(body.get("created_at")),
        extras={FORMAT: extras} if extras else {},
    )


def encode_response(response: Response, ctx: Context) -> dict[str, Any]:
    """Not available: backboard is an upstream format, never a client's."""
    raise UnsupportedFeature(upstream_only("encode_response"))


def StreamEncoder(ctx: Context) -> Any:  # noqa: N802 - the Codec protocol's name
    """Not available: backboard is an upstream format, never a client's."""
    raise UnsupportedFeature(upstream_only("StreamEncoder"))
