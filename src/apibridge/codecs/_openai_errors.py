"""The OpenAI error envelope, decoded once and encoded once for ``chat`` and ``responses``.

Theory of operation.

*HTTP error bodies* (:func:`decode_error`, :func:`encode_error`). OpenAI writes
``{"error": {"message", "type", "param", "code"}}``; servers that speak its APIs send odder
bodies, all read here: a bare ``{"error": "…"}`` (Ollama), vLLM's top-level
``{"object": "error", "message", "type", "code": 400}``, FastAPI's ``{"detail": …}`` (a
string, or a list of ``{loc, msg}`` entries), plain text, HTML, a JSON text not yet parsed,
and anything else (its JSON, cut to 500 characters); the readers of those shapes are
:mod:`apibridge.codecs._error_bodies`, shared with the other envelopes. The kind is decided
by, in order: the ``code`` (:data:`ERROR_CODE_KINDS`: codes are more specific than types),
the ``type`` (:data:`ERROR_TYPE_KINDS`), then the HTTP status, which says more than a
generic type or code (``invalid_request_error``, ``server_error``). Without an HTTP error
status (an error inside a stream, status 0 or 200) the generic words decide instead
(:data:`FAILED_CODE_KINDS`, :data:`GENERIC_TYPE_KINDS`), and ``api_error`` when nothing
does. A retry hint comes from a ``retry_after`` field (the error's, else the body's) or
from the message text (OpenAI's "try again in 1m30s", Azure's "retry after 6 seconds").
Encoding writes the envelope with the error's own ``type`` when it came from an OpenAI API,
else the type of its kind (:data:`KIND_TYPES`, from :data:`apibridge.errors.ERROR_KINDS`),
and a status in 400-599 (the kind's own otherwise).

*Responses stream failures* (:func:`decode_failed`, :func:`encode_failed`): the ``error`` of
a ``response.failed`` event, or an ``error`` event itself, whose ``type`` is the event's and
says nothing about the error. Only the ``code`` decides; encoding keeps a code the SDK allows
(:data:`FAILED_CODE_KINDS`) and otherwise writes the code of the kind
(:data:`KIND_FAILED_CODES`, or the nearest for two kinds that have none, else
``server_error``).

*Deliberately lossy.* Several kinds share a wire type (``server_error`` for four), so the
status carries the difference; a ``response.failed`` code names few kinds. ``decode_error``
never raises: whatever the body holds, the client gets an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from apibridge._json import dumps_str
from apibridge.codecs._context import str_or_none
from apibridge.codecs._error_bodies import (
    MAX_MESSAGE,
    answer_status,
    body_error,
    code_text,
    detail_text,
    is_error_status,
    read_body,
    retry_hint,
    text_message,
)
from apibridge.errors import ERROR_KINDS, ApiError, kind_for_status

__all__ = [
    "ERROR_CODE_KINDS",
    "ERROR_TYPE_KINDS",
    "FAILED_CODE_KINDS",
    "GENERIC_TYPE_KINDS",
    "KIND_FAILED_CODES",
    "KIND_TYPES",
    "OPENAI_FORMATS",
    "decode_error",
    "decode_failed",
    "encode_error",
    "encode_failed",
]

#: the formats that speak this envelope: an error decoded by one keeps its ``type`` in both.
OPENAI_FORMATS: Final = frozenset({"chat", "responses"})

#: error ``code`` → canonical kind: codes are more specific than types, so they win, and
#: they win over the HTTP status too.
ERROR_CODE_KINDS: Final[Mapping[str, str]] = {
    "invalid_api_key": "authentication",
    "insufficient_quota": "billing",
    "rate_limit_exceeded": "rate_limit",
    "model_not_found": "not_found",
    "vector_store_timeout": "timeout",  # a ``response.failed`` code, as specific at HTTP level
}

#: specific error ``type`` → canonical kind (they win over the HTTP status). Generic types
#: (:data:`GENERIC_TYPE_KINDS`) say less than the status, which decides for them.
ERROR_TYPE_KINDS: Final[Mapping[str, str]] = {
    "authentication_error": "authentication",
    "permission_error": "permission",
    "not_found_error": "not_found",
    "rate_limit_error": "rate_limit",
    "requests": "rate_limit",  # OpenAI's per-minute request limit
    "tokens": "rate_limit",  # OpenAI's per-minute token limit
    "insufficient_quota": "billing",
    "billing_error": "billing",
    "overloaded_error": "overloaded",
    "timeout": "timeout",
    "timeout_error": "timeout",
    "request_too_large": "request_too_large",
}

#: generic ``type`` → kind, used only when there is no HTTP error status (an in-band error).
GENERIC_TYPE_KINDS: Final[Mapping[str, str]] = {
    "invalid_request_error": "invalid_request",
    "server_error": "api_error",
    "api_error": "api_error",
}

#: canonical kind → the OpenAI ``type`` that says it (the error tree's ``openai`` spelling).
KIND_TYPES: Final[Mapping[str, str]] = {kind: spec.openai for kind, spec in ERROR_KINDS.items()}

#: ``response.failed`` error codes (those the SDK allows) → canonical kinds. Most name only a
#: class (``invalid_request``, ``api_error``) and say no more than an HTTP status, so only
#: in-band errors read them; the specific ones are in :data:`ERROR_CODE_KINDS` too (a test
#: holds it).
FAILED_CODE_KINDS: Final[Mapping[str, str]] = {
    "server_error": "api_error",
    "rate_limit_exceeded": "rate_limit",
    "invalid_prompt": "invalid_request",
    "vector_store_timeout": "timeout",
    "invalid_image": "invalid_request",
    "invalid_image_format": "invalid_request",
    "invalid_base64_image": "invalid_request",
    "invalid_image_url": "invalid_request",
    "image_too_large": "invalid_request",
    "image_too_small": "invalid_request",
    "image_parse_error": "invalid_request",
    "image_content_policy_violation": "invalid_request",
    "invalid_image_mode": "invalid_request",
    "image_file_too_large": "invalid_request",
    "unsupported_image_media_type": "invalid_request",
    "empty_image_file": "invalid_request",
    "failed_to_download_image": "invalid_request",
    "image_file_not_found": "invalid_request",
}

#: canonical kind → the ``response.failed`` code that says it exactly (inverts
#: :data:`FAILED_CODE_KINDS`; a test holds it).
KIND_FAILED_CODES: Final[Mapping[str, str]] = {
    "api_error": "server_error",
    "rate_limit": "rate_limit_exceeded",
    "invalid_request": "invalid_prompt",
}

#: kinds without a failed code of their own → the nearest one (lossy: it decodes as
#: ``invalid_request``). Every other kind is written as ``server_error``.
_NEAREST_FAILED_CODES: Final[Mapping[str, str]] = {
    "unprocessable": "invalid_prompt",
    "request_too_large": "invalid_prompt",
}


# ------------------------------------------------------------------------------ HTTP bodies


def decode_error(body: Any, status: int, fmt: str) -> ApiError:
    """Any error body with its HTTP ``status`` as an :class:`ApiError` from ``fmt``; never
    raises.

    ``status`` outside 400-599 (0 for an error inside a stream) lets the type and code decide
    the kind, and the kind its status. ``source_format`` is ``fmt``, but ``None`` for a body
    in another API's envelope (Anthropic's ``{"type": "error", "error": {…}}``), whose
    ``type`` is then not sent on as an OpenAI type.
    """
    try:
        return _decode(body, status, fmt)
    except Exception:  # a last guard: the client must get an error, whatever the body held
        kind = kind_for_status(status) if is_error_status(status) else "api_error"
        return ApiError.of(
            kind,
            _fallback_message(status),
            status=answer_status(status, kind),
            source_format=fmt,
        )


def _decode(body: Any, status: int, fmt: str) -> ApiError:
    body = read_body(body)
    if isinstance(body, str):
        return _error(status, fmt, text_message(body))
    if not isinstance(body, Mapping):
        return _error(status, fmt, None if body is None else _json_text(body))
    error = body.get("error")
    retry = body.get("retry_after")
    if isinstance(error, Mapping):
        foreign = body.get("type") == "error"  # Anthropic's envelope, not OpenAI's
        return _error(
            status,
            None if foreign else fmt,
            str_or_none(error.get("message")) or _json_text(error),
            type_=str_or_none(error.get("type")),
            code=code_text(error.get("code")),
            param=str_or_none(error.get("param")),
            retry=(error.get("retry_after"), retry),
        )
    if isinstance(error, str):
        return _error(status, fmt, error, type_=_top_type(body), retry=(retry,))
    detail = body.get("detail")
    if detail is not None:
        text = detail_text(detail)
        return _error(status, fmt, _json_text(detail) if text is None else text, retry=(retry,))
    message = body.get("message")
    if isinstance(message, str):
        return _error(
            status,
            fmt,
            message,
            type_=_top_type(body),
            code=code_text(body.get("code")),
            param=str_or_none(body.get("param")),
            retry=(retry,),
        )
    return _error(status, fmt, _json_text(body), retry=(retry,))


def _error(
    status: int,
    fmt: str | None,
    message: str | None,
    *,
    type_: str | None = None,
    code: str | None = None,
    param: str | None = None,
    retry: tuple[Any, ...] = (),
) -> ApiError:
    http = is_error_status(status)
    kind = ERROR_CODE_KINDS.get(code or "") or ERROR_TYPE_KINDS.get(type_ or "")
    if kind is None:
        if http:
            kind = kind_for_status(status)
        else:
            kind = (
                FAILED_CODE_KINDS.get(code or "")
                or GENERIC_TYPE_KINDS.get(type_ or "")
                or "api_error"
            )
    return body_error(
        kind,
        message or _fallback_message(status),
        status,
        retry_fields=retry,
        type=type_,
        code=code,
        param=param,
        source_format=fmt,
    )


def encode_error(error: ApiError) -> tuple[int, dict[str, Any]]:
    """An :class:`ApiError` as ``(status, {"error": {message, type, param, code}})``.

    An error that came from an OpenAI API keeps its own ``type``; any other gets the OpenAI
    type of its kind. A status outside 400-599 becomes the kind's own.
    """
    type_ = KIND_TYPES.get(error.kind) or KIND_TYPES["api_error"]
    if error.type and error.source_format in OPENAI_FORMATS:
        type_ = error.type
    status = answer_status(error.status, error.kind)
    body = {"message": error.message, "type": type_, "param": error.param, "code": error.code}
    return status, {"error": body}


# --------------------------------------------------------------------- Responses stream failures


def decode_failed(error: Any) -> ApiError:
    """The ``error`` of a ``response.failed`` event (or an ``error`` event) as an ApiError.

    Its ``type``, if any, is the event's (``"error"``), so only the code decides the kind;
    the status is the kind's own and ``type`` stays ``None``.
    """
    fields: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    code = code_text(fields.get("code"))
    message = str_or_none(fields.get("message")) or "the response failed"
    kind = ERROR_CODE_KINDS.get(code or "") or FAILED_CODE_KINDS.get(code or "") or "api_error"
    return ApiError.of(
        kind,
        message,
        code=code,
        param=str_or_none(fields.get("param")),
        retry_after=retry_hint(message),
        source_format="responses",
    )


def encode_failed(error: ApiError) -> dict[str, str]:
    """The ``error`` object of a ``response.failed`` event: ``{"code", "message"}``, with the
    error's own code when the SDK allows it, else the code of its kind."""
    code = error.code if error.code in FAILED_CODE_KINDS else None
    if code is None:
        code = (
            KIND_FAILED_CODES.get(error.kind)
            or _NEAREST_FAILED_CODES.get(error.kind)
            or "server_error"
        )
    return {"code": code, "message": error.message}


# ----------------------------------------------------------------------------- reading helpers


def _fallback_message(status: int) -> str:
    if is_error_status(status):
        return f"upstream answered HTTP {status}"
    return "the upstream reported an error"


def _top_type(body: Mapping[str, Any]) -> str | None:
    """A top-level ``type`` (vLLM, Ollama); ``"error"`` there tags the body, it is no type."""
    type_ = str_or_none(body.get("type"))
    return None if type_ == "error" else type_


def _json_text(value: Any) -> str:
    """Any other value: its JSON (its ``repr`` if it has none), capped."""
    try:
        return dumps_str(value)[:MAX_MESSAGE]
    except TypeError:
        return repr(value)[:MAX_MESSAGE]
