"""What one request did, said once: the access-log line and the report of conversion losses.

Theory of operation
-------------------
The handler opens a :class:`CallRecord` when a request arrives and fills it in as it learns
(the client format from the route, the upstream and model from routing, usage from the
answer or the stream's events, a short note such as ``error=rate_limit``). When the answer
is complete (for a stream: when its last chunk was sent, or the client left)
:meth:`CallRecord.log` writes one line on the ``apibridge.access`` logger: request id,
method and path, status, latency, client format, upstream, model, whether streamed, tokens
in and out. Never a key. The same values go with the line as structured fields (the record
attribute ``access``), which :class:`apibridge.jsonlog.JsonFormatter` writes as JSON
(``apibridge serve --log-format json``). The path and the model name come from the client,
so they are escaped (:func:`escape`: control characters, quotes and backslashes as
``\\xNN`` escapes, cut at :data:`_FIELD_MAX` characters): a request cannot forge a log line.

:class:`LossReport` logs what an exchange could not carry, on ``apibridge.gateway``: each kind
of loss (upstream, field with list indexes removed, reason) at WARNING the first time it is
seen, at DEBUG after that (a client such as Claude Code repeats the same losses on every
request; the first report says it, the rest would drown the log). It remembers at most
``4096`` kinds; past that every loss is a warning again.

The record is also the one place metrics hear of a request: with ``server.metrics`` on, the
handler gives each record an ``observer`` (:class:`apibridge._gateway._metrics.Metrics`),
told when a stream opens (:meth:`CallRecord.stream_opened`) and when the line is written
(:meth:`CallRecord.log`), with the retries, the upstream error and the loss fields the
record collected on the way. Without it nothing more is done.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from typing import Any, Protocol

import attrs

from apibridge._exchange import Exchange
from apibridge.model import Usage

__all__ = ["CallObserver", "CallRecord", "LossReport", "access_log", "escape", "log"]

access_log = logging.getLogger("apibridge.access")
log = logging.getLogger("apibridge.gateway")

# a loss's field with its list indexes removed: messages[3].content[0] → messages[].content[]
_INDEX = re.compile(r"\[\d+\]")
_LOSS_KINDS_MAX = 4096  # distinct kinds remembered; past that, every loss is a warning again
# what a client-given field may not bring into a log line as it is: C0 and C1 controls,
# DEL, quotes, backslash, and the Unicode line and paragraph separators
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\\u2028\u2029]')
_FIELD_MAX = 512


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _cut(text: str) -> str:
    return text if len(text) <= _FIELD_MAX else text[:_FIELD_MAX] + "..."


def escape(text: str) -> str:
    """``text`` safe for one log line (see the module docstring)."""
    return _UNSAFE.sub(_escaped, _cut(text))


class CallObserver(Protocol):
    """Told about each request by its record (the metrics)."""

    def stream_opened(self, call: CallRecord) -> None: ...

    def finished(self, call: CallRecord, seconds: float) -> None: ...


@attrs.define
class CallRecord:
    """What the access-log line of one request reports (and its observer hears)."""

    request_id: str
    method: str
    path: str
    format: str
    started: float = attrs.field(factory=time.perf_counter)
    upstream: str = "-"
    model: str = "-"
    status: int = 0
    stream: bool = False
    usage: Usage | None = None
    note: str = ""
    #: upstream retries made for this request (:mod:`apibridge.transports._retries`).
    retries: int = 0
    #: the error kind when the upstream failed (before or during a stream), else empty.
    upstream_error: str = ""
    #: the fields (list indexes removed) of the conversion losses reported for it.
    loss_fields: tuple[str, ...] = ()
    observer: CallObserver | None = attrs.field(default=None, repr=False)
    #: whether a streamed answer was opened (and counted as an open stream).
    opened: bool = False
    #: the answer's stop reason (canonical), when one came.
    stop_reason: str | None = None
    #: the request's open trace spans (server, then upstream client), with ``server.traces``.
    spans: tuple[Any, ...] = attrs.field(default=(), repr=False)

    def note_retry(self) -> None:
        self.retries += 1

    def stream_opened(self) -> None:
        self.opened = True
        if self.observer is not None:
            self.observer.stream_opened(self)

    def add_usage(self, usage: Usage | None) -> None:
        self.usage = usage if self.usage is None else self.usage.merged(usage)

    def log(self) -> None:
        usage = self.usage or Usage()
        tokens_in = usage.total_input
        tokens_out = usage.output_tokens
        seconds = time.perf_counter() - self.started
        if self.observer is not None:
            self.observer.finished(self, seconds)
        if not access_log.isEnabledFor(logging.INFO):
            return
        fields = {
            "request_id": self.request_id,
            "method": self.method,
            "path": _cut(self.path),
            "status": self.status,
            "duration_ms": round(seconds * 1000, 3),
            "client": self.format,
            "upstream": self.upstream,
            "model": _cut(self.model),
            "stream": self.stream,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
        }
        if self.note:
            fields["note"] = self.note
        if self.retries:
            fields["retries"] = self.retries
        if self.upstream_error:
            fields["upstream_error"] = self.upstream_error
        access_log.info(
            '%s "%s %s" %s %.1fms client=%s upstream=%s model=%s stream=%s in=%s out=%s%s',
            self.request_id,
            self.method,
            escape(self.path),
            self.status,
            seconds * 1000,
            self.format,
            self.upstream,
            escape(self.model),
            "yes" if self.stream else "no",
            "-" if tokens_in is None else tokens_in,
            "-" if tokens_out is None else tokens_out,
            f" {self.note}" if self.note else "",
            extra={"access": fields},
        )


@functools.lru_cache(maxsize=_LOSS_KINDS_MAX)
def _kind_field(field: str) -> str:
    """``field`` with its list indexes removed (the same fields recur on every request)."""
    return _INDEX.sub("[]", field)


class LossReport:
    """Logs each exchange's losses, repeats quietly (see the module docstring)."""

    def __init__(self, counters: dict[str, int]) -> None:
        self._seen: set[tuple[str, str, str]] = set()
        self._counters = counters  # the gateway's; "losses" counts every loss reported

    def report(self, call: CallRecord, exchange: Exchange) -> None:
        """Log what ``exchange`` could not carry (and note its fields on ``call``)."""
        if exchange.losses:
            call.loss_fields = tuple(_kind_field(loss.field) for loss in exchange.losses)
        for loss in exchange.losses:
            self._counters["losses"] += 1
            kind = (call.upstream, _kind_field(loss.field), loss.reason)
            if kind in self._seen:
                log.debug("%s: %s", call.request_id, loss)
                continue
            if len(self._seen) < _LOSS_KINDS_MAX:
                self._seen.add(kind)
            log.warning("%s: %s (repeats are logged at debug level)", call.request_id, loss)
