"""Readers for the odd error bodies upstreams send, shared by every error envelope.

Theory of operation.

Each format's envelope module (``_openai_errors``, ``anthropic._errors``,
``backboard._errors``) decides what its own fields mean; the rules for what is *not* an
envelope live here, once:

* :func:`read_body`: bytes are UTF-8 (bad bytes replaced); a text that opens with ``{`` is
  parsed as JSON (an object is the only JSON with an envelope to read); any other text is
  kept, stripped.
* :func:`text_message`: a text body that opens with ``<`` is an HTML page (a proxy's error
  page): its ``<title>``, else its text without tags, whitespace collapsed in both, as HTML
  shows it. Any other text is the upstream's own words, kept as they are.
* :func:`detail_text`: FastAPI's ``detail``: a string, an object's ``message``, or a list of
  validation entries ``{"loc", "msg"}`` written ``field.path: msg``, the leading ``"body"``
  of ``loc`` (FastAPI's name for the request part, no field) dropped.
* :func:`code_text`: a ``code`` is a string, or an integer (vLLM sends the HTTP status);
  anything else is no code.
* :func:`retry_after`: seconds to wait, from the first field that holds a finite
  non-negative number (or its text), else from the message ("try again in 1m30s",
  "retry after 6 seconds"). A non-finite hint is none: the client is told a whole number of
  seconds.
* :func:`is_error_status` / :func:`answer_status`: a status in 400-599 is the upstream's
  word; any other (0 for an error inside a stream) gives way to the kind's own status.
* :func:`body_error`: the :class:`~apibridge.errors.ApiError` an envelope module has read,
  with those two rules applied: the status to answer, and the wait.
* :func:`is_error_answer`: an answer body (HTTP 200) that is an error all the same:
  Anthropic's ``{"type": "error", …}``, or any object with a non-empty ``error`` that is not
  a Responses response object (whose ``error`` belongs to a ``failed`` answer). A Chat body
  with both ``choices`` and ``error`` is an error, as such a chunk is in a stream.

Messages read from a text or from a whole value are capped at :data:`MAX_MESSAGE`
characters. Nothing here raises on odd input; nothing does I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

from apibridge._json import loads
from apibridge.errors import ERROR_KINDS, ApiError, InvalidPayload

__all__ = [
    "MAX_MESSAGE",
    "answer_status",
    "body_error",
    "code_text",
    "detail_text",
    "is_error_answer",
    "is_error_status",
    "read_body",
    "retry_after",
    "retry_hint",
    "retry_seconds",
    "text_message",
]

#: the longest message read from a text body or written from a whole value.
MAX_MESSAGE: Final = 500

_HTML_TITLE: Final = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_TAG: Final = re.compile(r"<[^>]+>")
_RETRY_IN: Final = re.compile(r"try again in ((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)", re.IGNORECASE)
_RETRY_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_RETRY_AFTER: Final = re.compile(r"retry after (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)
_UNIT_SECONDS: Final[Mapping[str, float]] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def read_body(body: Any) -> Any:
    """``body`` ready to read: bytes decoded, a JSON object text parsed, other text stripped."""
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", "replace")
    if not isinstance(body, str):
        return body
    text = body.strip()
    if text.startswith("{"):
        try:
            return loads(text)
        except InvalidPayload:
            pass
    return text


def text_message(text: str) -> str | None:
    """The message of a text body: an HTML page's title, else its text without tags; a
    plain text as it is. Capped at :data:`MAX_MESSAGE`; ``None`` when nothing is left."""
    text = text.strip()
    if text.startswith("<"):
        title = _HTML_TITLE.search(text)
        words = title.group(1).split() if title else []
        text = " ".join(words or _HTML_TAG.sub(" ", text).split())
    return text[:MAX_MESSAGE] or None


def detail_text(detail: Any) -> str | None:
    """FastAPI's ``detail`` as text: a string as it is, an object's ``message``, validation
    entries as ``field.path: msg`` joined by ``"; "``; ``None`` for any other shape."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(_validation_entry(item) for item in detail)
    if isinstance(detail, Mapping) and isinstance(detail.get("message"), str):
        return str(detail["message"])
    return None


def _validation_entry(item: Any) -> str:
    if not isinstance(item, Mapping):
        return str(item)
    loc = item.get("loc")
    path: list[Any] = [loc] if isinstance(loc, str) else []
    if isinstance(loc, list | tuple):
        path = list(loc)
    if path[:1] == ["body"]:
        path = path[1:]  # the request part, not a field the client wrote
    where = ".".join(str(part) for part in path)
    msg = str(item.get("msg", ""))
    return f"{where}: {msg}" if where else msg


def code_text(value: Any) -> str | None:
    """An error ``code``: a string, or an integer as its digits (vLLM's HTTP status)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def retry_seconds(value: Any) -> float | None:
    """A retry field's seconds: a finite number ≥ 0, or a text holding one; else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except (ValueError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def retry_hint(message: str) -> float | None:
    """Seconds to wait, read from a message's text (OpenAI's and Azure's 429 wording)."""
    match = _RETRY_IN.search(message)
    if match:
        parts = _RETRY_PART.findall(match.group(1))
        seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in parts)
    else:
        match = _RETRY_AFTER.search(message)
        seconds = float(match.group(1)) if match else math.nan
    return seconds if math.isfinite(seconds) else None


def retry_after(message: str, *fields: Any) -> float | None:
    """Seconds to wait: the first of ``fields`` that holds them, else a hint in ``message``."""
    for value in fields:
        seconds = retry_seconds(value)
        if seconds is not None:
            return seconds
    return retry_hint(message)


def is_error_status(status: Any) -> bool:
    """Whether ``status`` is an HTTP error status (an integer in 400-599, no bool)."""
    return isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599


def is_error_answer(body: Mapping[str, Any]) -> bool:
    """Whether an answer ``body`` (sent with a success status) is an error body."""
    if body.get("type") == "error":
        return True
    error = body.get("error")
    if not error or not isinstance(error, Mapping | str):
        return False
    return body.get("object") != "response" and "output" not in body


def answer_status(status: Any, kind: str) -> int:
    """``status`` when it is an HTTP error status, else the kind's own (500 for no kind)."""
    if is_error_status(status):
        return int(status)
    spec = ERROR_KINDS.get(kind)
    return spec.status if spec is not None else 500


def body_error(
    kind: str, message: str, status: Any, *, retry_fields: tuple[Any, ...] = (), **fields: Any
) -> ApiError:
    """The error an envelope module read: of ``kind``, answering :func:`answer_status`, with
    the wait :func:`retry_after` finds in ``retry_fields`` or ``message``; ``fields`` are
    the rest of :class:`~apibridge.errors.ApiError` (``type``, ``code``, ``source_format``…).
    """
    return ApiError.of(
        kind,
        message,
        status=answer_status(status, kind),
        retry_after=retry_after(message, *retry_fields),
        **fields,
    )
