"""What the backboard codec's request, answer and stream halves share: the wire tables,
usage numbers, tool calls and errors.

backboard reports usage with OpenAI's meaning (``input_tokens`` includes
``cached_input_tokens`` and ``cache_write_input_tokens``); :func:`usage_from` converts it to
the canonical meaning with :meth:`Usage.from_openai` and never invents a number. Errors come
as ``{"detail": ...}`` (a string, FastAPI's list of validation errors, or an object) with an
HTTP status, or in a stream as an ``error``/``run_failed`` event with ``error``/``message``;
:func:`error_from_message` picks the canonical kind from the status, refined by the text
(:data:`MESSAGE_KINDS`) where the status is generic. :func:`is_retryable` applies
BACKBOARD.md's retry lists, the never-retry list winning.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from apibridge._json import dumps_str
from apibridge.codecs._context import expect_obj, new_id
from apibridge.codecs._custom_tools import unwrap_call
from apibridge.errors import ERROR_KINDS, ApiError, InvalidPayload, kind_for_status
from apibridge.model import ToolCallPart, Usage

__all__ = [
    "FORMAT",
    "MESSAGE_KINDS",
    "NON_RETRYABLE_MESSAGES",
    "RETRYABLE_MESSAGES",
    "RETRYABLE_STATUSES",
    "RUNNING_STATUSES",
    "STATUS_STOP",
    "add_usage",
    "decode_error",
    "decode_tool_call",
    "encode_error",
    "error_from_message",
    "error_message",
    "is_retryable",
    "usage_from",
]

FORMAT = "backboard"

#: Answer status (lower-cased) → canonical stop reason. Others are failures.
STATUS_STOP: Mapping[str, str] = {
    "completed": "end_turn",
    "complete": "end_turn",
    "success": "end_turn",
    "requires_action": "tool_use",
}

#: Statuses that say the run is still going (a ``run_ended`` with one of these ends nothing).
RUNNING_STATUSES: frozenset[str] = frozenset({"in_progress", "queued", "running"})

#: HTTP statuses worth retrying (BACKBOARD.md, "Retries and quirks").
RETRYABLE_STATUSES: frozenset[int] = frozenset({502, 503, 504})

#: Error texts that mean a passing upstream fault: retry (lower case, matched as substrings).
RETRYABLE_MESSAGES: tuple[str, ...] = (
    "upstream idle timeout exceeded",
    "failed to continue streaming after tool outputs",
    "operation timed out",
    "socket connection was closed",
    "stream closed unexpectedly",
    "connection reset",
    "connection closed",
    "remote protocol error",
    "read timeout",
    "gateway timeout",
    "bad gateway",
    "service unavailable",
)

#: Error texts that must never be retried; they win over :data:`RETRYABLE_MESSAGES`.
NON_RETRYABLE_MESSAGES: tuple[str, ...] = (
    "abort",
    "cancelled",
    "canceled",
    "malformed",
    "invalid request",
    "unauthorized",
    "forbidden",
    "authentication",
    "api key",
    "credit balance",
    "insufficient credits",
    "quota",
    "rate limit",
    "tool outputs without tool calls",
)

#: Error text → (canonical error kind, OpenAI-style code). First match wins.
MESSAGE_KINDS: tuple[tuple[str, str, str | None], ...] = (
    ("rate limit", "rate_limit", "rate_limit_exceeded"),
    ("too many requests", "rate_limit", "rate_limit_exceeded"),
    ("insufficient credits", "billing", "insufficient_quota"),
    ("credit balance", "billing", "insufficient_quota"),
    ("quota", "billing", "insufficient_quota"),
    ("invalid api key", "authentication", "invalid_api_key"),
    ("unauthorized", "authentication", None),
    ("authentication", "authentication", None),
    ("forbidden", "permission", None),
    ("context_length", "invalid_request", "context_length_exceeded"),
    ("context length", "invalid_request", "context_length_exceeded"),
    ("reduce the length", "invalid_request", "context_length_exceeded"),
    ("model_not_found", "not_found", "model_not_found"),
    ("does not exist", "not_found", "model_not_found"),
    ("upstream idle timeout exceeded", "timeout", None),
    ("gateway timeout", "timeout", None),
    ("read timeout", "timeout", None),
    ("operation timed out", "timeout", None),
    ("service unavailable", "unavailable", None),
    ("bad gateway", "bad_gateway", None),
)


def _int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPayload(f"{where}: expected a number, got {type(value).__name__}")
    return int(value)


def usage_from(body: Mapping[str, Any], where: str) -> Usage | None:
    prompt = _int(body.get("input_tokens"), f"{where}.input_tokens")
    output = _int(body.get("output_tokens"), f"{where}.output_tokens")
    cached = _int(body.get("cached_input_tokens"), f"{where}.cached_input_tokens")
    written = _int(body.get("cache_write_input_tokens"), f"{where}.cache_write_input_tokens")
    if prompt is None and output is None and cached is None and written is None:
        return None
    if prompt is None:
        return Usage(output_tokens=output, cache_read_tokens=cached, cache_write_tokens=written)
    return Usage.from_openai(prompt, output, cached, cache_write_tokens=written)


def _sum(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def add_usage(a: Usage | None, b: Usage | None) -> Usage | None:
    if a is None or b is None:
        return a or b
    return Usage(
        input_tokens=_sum(a.input_tokens, b.input_tokens),
        output_tokens=_sum(a.output_tokens, b.output_tokens),
        cache_read_tokens=_sum(a.cache_read_tokens, b.cache_read_tokens),
        cache_write_tokens=_sum(a.cache_write_tokens, b.cache_write_tokens),
        reasoning_tokens=_sum(a.reasoning_tokens, b.reasoning_tokens),
    )


def decode_tool_call(raw: Any, where: str, custom: Collection[str] = ()) -> ToolCallPart:
    """One backboard ``{id, type, function: {name, arguments}}`` tool call; a call to one of
    the ``custom`` (free-form) tools comes back as that tool's raw input
    (``codecs._custom_tools``)."""
    call = expect_obj(raw, where)
    function = expect_obj(call.get("function"), f"{where}.function")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidPayload(f"{where}.function.name: expected a tool name")
    arguments = function.get("arguments")
    if arguments is None:
        arguments = "{}"
    elif not isinstance(arguments, str):
        # Some servers send the arguments as an object; carry them as JSON text.
        arguments = dumps_str(arguments)
    call_id = call.get("id")
    if call_id is not None and not isinstance(call_id, str):
        raise InvalidPayload(f"{where}.id: expected a string")
    part = ToolCallPart(id=call_id or new_id("call_"), name=name, arguments=arguments)
    return unwrap_call(part, custom)


def error_message(body: Any) -> str | None:
    """The human text of a backboard error body (``detail`` string, list or object)."""
    if isinstance(body, str):
        return body.strip() or None
    if not isinstance(body, Mapping):
        return None
    for key in ("detail", "error", "message"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value:
            # FastAPI validation errors: [{"loc": [...], "msg": "...", "type": "..."}].
            texts = []
            for item in value:
                if isinstance(item, Mapping):
                    loc = ".".join(str(x) for x in item.get("loc") or ())
                    msg = str(item.get("msg", ""))
                    texts.append(f"{loc}: {msg}" if loc else msg)
                else:
                    texts.append(str(item))
            return "; ".join(texts)
        if isinstance(value, Mapping):
            inner = error_message(value)
            if inner:
                return inner
    return None


def error_from_message(message: str, status: int | None) -> ApiError:
    """The canonical error for ``message`` with HTTP ``status`` (``None``: in a stream).

    A specific status (401, 404, 429 …) is the server's own word. A generic one (400, 500,
    none at all) takes its kind from the text when :data:`MESSAGE_KINDS` knows it, and then
    the status of that kind, so that kind and status always agree ("model does not exist"
    becomes 404, as clients expect).
    """
    lowered = message.lower()
    generic = status is None or status < 400 or status in (400, 500)
    kind = "api_error" if status is None or status < 400 else kind_for_status(status)
    code = None
    for needle, found_kind, found_code in MESSAGE_KINDS:
        if needle in lowered:
            code = found_code
            if generic:
                kind = found_kind
            break
    answer = status if status is not None and status >= 400 else ERROR_KINDS[kind].status
    if generic and kind != kind_for_status(answer):
        answer = ERROR_KINDS[kind].status
    return ApiError.of(kind, message, status=answer, code=code, source_format=FORMAT)


def decode_error(body: Any, status: int) -> ApiError:
    """A backboard error (``{"detail": ...}`` FastAPI style, or anything else) as canonical."""
    message = error_message(body) or f"backboard answered HTTP {status}"
    return error_from_message(message, status)


def encode_error(error: ApiError) -> tuple[int, dict[str, Any]]:
    """An error as backboard writes it: the status and ``{"detail": message}``."""
    return error.status, {"detail": error.message}


def is_retryable(status: int | None, message: str) -> bool:
    """Whether a failure is worth retrying, per BACKBOARD.md's lists (never-retry wins)."""
    lowered = message.lower()
    if any(needle in lowered for needle in NON_RETRYABLE_MESSAGES):
        return False
    if status in RETRYABLE_STATUSES:
        return True
    return any(needle in lowered for needle in RETRYABLE_MESSAGES)
