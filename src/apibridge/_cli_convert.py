"""``apibridge convert``: pipe a request, response, SSE stream or error through the codecs.

Needs nothing running and no network: it reads a payload from a file (or standard input),
converts it from one format to another and writes the result to standard output. What could
not be carried is printed on standard error, one ``warning:`` line each; invalid input gives
a one-line ``error:`` message and exit status 2 (``--strict`` turns every loss into that). A
stream that fails (an upstream error event, or cut before its end) is converted whole, ending
with the target's in-band error as a client would receive it, and exits with status 3 after an
``error:`` line saying why.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, BinaryIO

from apibridge import _json
from apibridge._api import (
    _answer_exchange,
    convert_error,
    convert_request,
    convert_response,
    convert_stream,
)
from apibridge._sse import SSEDecoder
from apibridge.codecs import FORMATS
from apibridge.errors import ApibridgeError, ApiError, InvalidPayload, Loss
from apibridge.model import StreamError

__all__ = ["HELP", "add_arguments", "detect_kind", "run"]

HELP = "convert a request, response, SSE stream or error body between API formats"

KINDS = ("auto", "request", "response", "stream", "error")

#: exit status of a stream that ends with an error (converted, in-band error included).
STREAM_FAILED = 3

# The marker each format's non-streamed response carries.
_RESPONSE_MARKERS: dict[str, tuple[str, str]] = {
    "anthropic": ("type", "message"),
    "chat": ("object", "chat.completion"),
    "responses": ("object", "response"),
}


#: fields only a backboard answer has (a legacy message answer, or ``{"messages": [...]}``).
_BACKBOARD_ANSWER_FIELDS = frozenset({"status", "message_id", "run_id", "messages"})

#: why a backboard request cannot be an input, and what can.
_BACKBOARD_INPUT = (
    "backboard input can be an answer (a message as backboard returns it), an SSE stream or an "
    "error body; a backboard request is what apibridge writes for a client (--to backboard), "
    "never what a client sends, so it cannot be converted to another format"
)
_BACKBOARD_OUTPUT = (
    "backboard output can only be a request (--kind request): backboard is an upstream, so "
    "answers, streams and errors are never written in its format"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``apibridge convert``."""
    parser.add_argument("file", nargs="?", default="-", help="input file (default: standard input)")
    parser.add_argument(
        "--from", dest="source", required=True, choices=FORMATS, help="the input's format"
    )
    parser.add_argument(
        "--to", dest="target", required=True, choices=FORMATS, help="the output's format"
    )
    parser.add_argument(
        "--kind",
        choices=KINDS,
        default="auto",
        help="what the input is (default: detected from its content)",
    )
    parser.add_argument(
        "--request",
        metavar="FILE",
        help="for a response or stream: the client's original request, in the --to format "
        "(restores tool names and the matched stop sequence)",
    )
    parser.add_argument(
        "--status", type=int, default=None, help="for an error: the HTTP status it came with"
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail instead of warning when something is lost"
    )
    parser.add_argument("--indent", action="store_true", help="pretty-print JSON output")
    parser.add_argument(
        "-o", "--output", default="-", metavar="FILE", help="output file (default: stdout)"
    )


def detect_kind(data: bytes, source: str) -> str:
    """Guess what ``data`` is: an SSE stream, an error, a response or a request."""
    head = data.lstrip()[:64]
    if head.startswith((b"event:", b"data:", b":", b"id:", b"retry:")):
        return "stream"
    try:
        body = _json.loads(data)
    except InvalidPayload:
        return "request"
    if not isinstance(body, dict):
        return "request"
    if "error" in body and (body.get("type") in (None, "error")) and "model" not in body:
        return "error"
    if "detail" in body and len(body) == 1:
        return "error"
    field, value = _RESPONSE_MARKERS.get(source, ("", ""))
    if field and body.get(field) == value:
        return "response"
    if source == "backboard" and _BACKBOARD_ANSWER_FIELDS & body.keys():
        return "response"
    return "request"


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as handle:
        return handle.read()


def _load_json(data: bytes, what: str) -> Any:
    try:
        return _json.loads(data)
    except InvalidPayload as exc:
        reason = str(exc).removeprefix("invalid JSON: ")
        raise ApibridgeError(f"{what} is not valid JSON: {reason}") from None


def _write_json(out: BinaryIO, value: Any, indent: bool) -> None:
    out.write(_json.dumps(value, indent=indent) + b"\n")


def run(args: argparse.Namespace) -> int:
    """Carry out ``apibridge convert``; the exit status."""
    losses: list[Loss] = []
    try:
        data = _read(args.file)
        if not data.strip():
            raise ApibridgeError("the input is empty")
        kind = detect_kind(data, args.source) if args.kind == "auto" else args.kind
        if args.source == "backboard" and kind == "request":
            raise ApibridgeError(_BACKBOARD_INPUT)
        if args.target == "backboard" and kind != "request":
            raise ApibridgeError(_BACKBOARD_OUTPUT)
        request = _load_json(_read(args.request), "--request") if args.request else None
        out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
        try:
            _convert(kind, data, args, request, losses, out)
        finally:
            if out is not sys.stdout.buffer:
                out.close()
        failure = _stream_failure(data, args, request) if kind == "stream" else None
    except (ApibridgeError, OSError) as exc:
        print(f"apibridge convert: error: {exc}", file=sys.stderr)
        return 2
    for loss in losses:
        print(f"apibridge convert: warning: {loss}", file=sys.stderr)
    if failure is not None:
        print(
            f"apibridge convert: error: the stream failed ({failure.kind}): {failure.message}; "
            "the output ends with the target's in-band error",
            file=sys.stderr,
        )
        return STREAM_FAILED
    return 0


def _stream_failure(data: bytes, args: argparse.Namespace, request: Any) -> ApiError | None:
    """The error an input stream ends with (an error event, or cut early), if any: read once
    more with the source's decoder (the command's output is already written)."""
    decoder = _answer_exchange(args.source, args.target, request, []).stream_decoder()
    frames = SSEDecoder()
    events = [e for frame in (*frames.feed(data), *frames.close()) for e in decoder.feed(frame)]
    for event in (*events, *decoder.close()):
        if isinstance(event, StreamError):
            error: ApiError = event.error
            return error
    return None


def _convert(
    kind: str,
    data: bytes,
    args: argparse.Namespace,
    request: Any,
    losses: list[Loss],
    out: BinaryIO,
) -> None:
    source, target = args.source, args.target
    if kind == "stream":
        for chunk in convert_stream(
            [data], source=source, target=target, request=request, losses=losses
        ):
            out.write(chunk)
        if args.strict and losses:
            raise ApibridgeError(f"strict: {losses[0]}")
        return
    if kind == "error":
        try:
            error_body: Any = _json.loads(data)
        except InvalidPayload:
            error_body = data.decode("utf-8", "replace")  # an HTML or text error page
        status = args.status or _status_of(error_body)
        status, result = convert_error(error_body, status, source=source, target=target)
        print(f"apibridge convert: status {status}", file=sys.stderr)
        _write_json(out, result, args.indent)
        return
    body = _load_json(data, "the input")
    if kind == "request":
        result = convert_request(
            body, source=source, target=target, strict=args.strict, losses=losses
        )
    else:
        result = convert_response(
            body, source=source, target=target, request=request, losses=losses
        )
        if args.strict and losses:
            raise ApibridgeError(f"strict: {losses[0]}")
    _write_json(out, result, args.indent)


def _status_of(body: Any) -> int:
    """An error body's own status where it says one, else 0: the codecs then let the error's
    type and code decide its kind, and the kind the status (``rate_limit_error``: 429)."""
    if isinstance(body, dict):
        for key in ("status", "status_code", "code"):
            value = body.get(key)
            if isinstance(value, int) and 400 <= value < 600:
                return value
    return 0
