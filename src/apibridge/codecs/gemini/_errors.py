"""Google's error envelope (the Gemini API's), both ways.

Theory of operation
-------------------
Google writes errors as ``{"error": {"code": 429, "message": "…", "status":
"RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
"retryDelay": "20s"}, …]}}``; ``status`` is a ``google.rpc.Code`` name (``_wire.STATUS_TO_KIND``).
A stream requested without ``alt=sse`` answers its error as a one-element JSON array of that
envelope.

* **Decoding** (:func:`decode_error`) never raises, whatever the body holds: bytes and JSON
  text are parsed, a one-element array is opened, an envelope of another API keeps only its
  message, a text or HTML page becomes a readable message (:mod:`apibridge.codecs._error_bodies`).
  The kind comes from the ``status`` name, the HTTP status refining it where the two agree
  (a 503 ``UNAVAILABLE`` is ``unavailable``, a 413 ``INVALID_ARGUMENT`` ``request_too_large``);
  without a name, from the HTTP status. An ``ErrorInfo`` reason ``API_KEY_INVALID`` (Google
  answers a wrong key with 400 ``INVALID_ARGUMENT``) is an ``authentication`` error with
  status 401, which other formats' clients (their SDKs choose the exception by status)
  recognise; a Gemini client gets Google's 400 back. ``RetryInfo.retryDelay`` (a
  ``Duration``: ``"20s"``, ``"1.5s"``) gives ``retry_after``, else a hint in the message
  ("Please retry in 19.6s.", or the other APIs' wordings); the ``status`` name is the
  error's ``type`` and the ``ErrorInfo`` reason its ``code``.
* **Encoding** (:func:`encode_error`) writes the envelope with the HTTP status and the
  ``status`` name (a Gemini error's own, else the kind's: ``_wire.KIND_TO_STATUS``; an HTTP
  status Google never uses, such as Anthropic's 529, becomes the kind's), a ``RetryInfo``
  detail for ``retry_after`` and an ``ErrorInfo`` detail for a Gemini error's reason.
  ``param`` and ``request_id`` have no place in Google's envelope and are left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

from apibridge import _json
from apibridge.codecs._context import str_or_none
from apibridge.codecs._error_bodies import (
    MAX_MESSAGE,
    answer_status,
    body_error,
    detail_text,
    is_error_status,
    read_body,
    text_message,
)
from apibridge.codecs.gemini._wire import FORMAT, KIND_TO_STATUS, STATUS_TO_KIND
from apibridge.errors import ApiError, InvalidPayload, kind_for_status

__all__ = ["ERROR_INFO", "RETRY_INFO", "decode_error", "encode_error", "retry_delay"]

#: the ``@type`` of the details apibridge reads and writes.
RETRY_INFO: Final = "type.googleapis.com/google.rpc.RetryInfo"
ERROR_INFO: Final = "type.googleapis.com/google.rpc.ErrorInfo"

#: ``ErrorInfo`` reasons that say the key is wrong (Google answers them with 400).
_BAD_KEY_REASONS: Final = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})

_DURATION: Final = re.compile(r"\s*(\d+(?:\.\d+)?)s\s*")
#: Gemini's own wording of the wait in a 429 message: "Please retry in 19.627166133s."
_RETRY_IN: Final = re.compile(r"retry in (\d+(?:\.\d+)?)s\b", re.IGNORECASE)

#: HTTP statuses Google answers with (anything else is written as the kind's status).
_GOOGLE_STATUSES: Final = frozenset(status for status, _ in KIND_TO_STATUS.values()) | {
    409,
    499,
    501,
}


def retry_delay(value: Any) -> float | None:
    """A ``google.protobuf.Duration`` in JSON (``"20s"``, ``"0.5s"``) as seconds."""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match:
            return float(match.group(1))
    if isinstance(value, Mapping):  # the proto form some clients log: {"seconds", "nanos"}
        seconds, nanos = value.get("seconds", 0), value.get("nanos", 0)
        if isinstance(seconds, int | str) and isinstance(nanos, int):
            try:
                return float(seconds) + nanos / 1e9
            except ValueError:
                return None
    return None


def _details(details: Any) -> tuple[float | None, str | None]:
    """The retry delay and the ``ErrorInfo`` reason among an error's ``details``."""
    delay: float | None = None
    reason: str | None = None
    if not isinstance(details, list):
        return None, None
    for detail in details:
        if not isinstance(detail, Mapping):
            continue
        kind = detail.get("@type")
        if kind == RETRY_INFO and delay is None:
            delay = retry_delay(detail.get("retryDelay", detail.get("retry_delay")))
        elif kind == ERROR_INFO and reason is None:
            reason = str_or_none(detail.get("reason"))
    return delay, reason


def decode_error(body: Any, status: int) -> ApiError:
    """An error body as an :class:`ApiError`; never raises, whatever ``body`` holds."""
    body = read_body(body)
    if isinstance(body, str) and body.startswith("["):  # a JSON-array stream's error
        body = _array(body)
    if isinstance(body, list) and len(body) >= 1 and isinstance(body[0], Mapping):
        body = body[0]
    valid_status = is_error_status(status)
    name: str | None = None
    message: str | None = None
    delay: float | None = None
    reason: str | None = None
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            name = str_or_none(inner.get("status"))
            message = str_or_none(inner.get("message"))
            delay, reason = _details(inner.get("details"))
            code = inner.get("code")
            if not valid_status and isinstance(code, int) and is_error_status(code):
                status, valid_status = code, True
        elif isinstance(inner, str):
            message = inner
        if message is None:
            message = str_or_none(body.get("message")) or detail_text(body.get("detail"))
    elif isinstance(body, str):
        message = text_message(body)
    elif body is not None:
        message = str(body)[:MAX_MESSAGE] or None
    if delay is None and message is not None:
        said = _RETRY_IN.search(message)
        delay = float(said.group(1)) if said else None
    kind = _kind(name, status if valid_status else None)
    if reason in _BAD_KEY_REASONS:
        # Google says 400 INVALID_ARGUMENT; every other client's SDK knows a bad key by 401
        kind, status = "authentication", 401
    return body_error(
        kind,
        message or f"upstream error (HTTP {status})",
        status,
        retry_fields=(delay,),
        type=name if name in STATUS_TO_KIND else None,
        code=reason,
        source_format=FORMAT,
    )


def _array(text: str) -> Any:
    """A JSON array text parsed (the text itself when it is not JSON)."""
    try:
        return _json.loads(text)
    except InvalidPayload:
        return text


def _kind(name: str | None, status: int | None) -> str:
    by_status = kind_for_status(status) if status is not None else None
    by_name = STATUS_TO_KIND.get(name) if name is not None else None
    if by_name is None:
        return by_status or "api_error"
    if by_status is not None and KIND_TO_STATUS.get(by_status, (0, ""))[1] == name:
        return by_status  # the status is the finer word (413, 503 …) for the same name
    return by_name


def encode_error(error: ApiError) -> tuple[int, dict[str, Any]]:
    """``(status, body)`` in Google's error envelope."""
    default_status, default_name = KIND_TO_STATUS.get(error.kind, (500, "INTERNAL"))
    status = answer_status(error.status, error.kind)
    if status not in _GOOGLE_STATUSES:
        status = default_status
    name = default_name
    if error.source_format == FORMAT and error.type in STATUS_TO_KIND:
        name = str(error.type)
        if error.code in _BAD_KEY_REASONS and name == "INVALID_ARGUMENT":
            status = 400  # a wrong key, as Google answers it (decode_error says 401)
    inner: dict[str, Any] = {"code": status, "message": error.message, "status": name}
    details: list[dict[str, Any]] = []
    if error.source_format == FORMAT and error.code is not None:
        details.append({"@type": ERROR_INFO, "reason": error.code, "domain": "googleapis.com"})
    if error.retry_after is not None and math.isfinite(error.retry_after):
        details.append({"@type": RETRY_INFO, "retryDelay": _duration(error.retry_after)})
    if details:
        inner["details"] = details
    return status, {"error": inner}


def _duration(seconds: float) -> str:
    """Seconds as a ``Duration`` in JSON: ``20s``, ``1.5s`` (to the millisecond)."""
    seconds = max(seconds, 0.0)
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
