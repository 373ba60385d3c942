"""Prometheus metrics of the gateway, served at ``/metrics`` (``server.metrics``).

Theory of operation
-------------------
This module is imported only when ``server.metrics`` is on (the handler imports it then), so
a gateway without metrics never loads ``prometheus_client``. It hears of each request in one
place: the access-log record (:class:`~apibridge._gateway._access_log.CallRecord`) calls
:meth:`Metrics.stream_opened` when a streamed answer starts and :meth:`Metrics.finished`
when its line is written, with the client format, upstream, model, status, latency, tokens,
retries, upstream error and the fields of its conversion losses. The state store the
handler gives stored Responses and the transports is wrapped (:meth:`Metrics.counting`), so
each of its operations is counted and timed.

Label values are bounded. The model comes from the client: a route's exact model name is
kept, as are the first :data:`MAX_MODELS` other routed names seen by a process; any other
model (past that, or not routed) is ``other``. Loss fields have their list indexes removed
and are bounded the same way (:data:`MAX_LOSS_FIELDS`). Upstream names, client formats and
statuses come from the configuration and the gateway itself.

Each :class:`Metrics` has its own registry (several apps in one process do not collide).
With ``PROMETHEUS_MULTIPROC_DIR`` set (``apibridge serve --workers N --metrics`` sets it to a
fresh directory), ``prometheus_client``'s multiprocess mode is used instead: every worker
writes its values to files there and any worker's ``/metrics`` reads them all, the open
streams gauge summed over live workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from apibridge._extras import missing_extra

try:
    import prometheus_client
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client.multiprocess import MultiProcessCollector
except ModuleNotFoundError as exc:  # metrics on, the extra missing: name it
    if exc.name != "prometheus_client":
        raise
    raise missing_extra(exc, "server.metrics", "metrics") from exc

from apibridge._gateway._access_log import CallRecord
from apibridge.config import GatewayConfig
from apibridge.store import Store, StoreUnavailable

__all__ = ["MAX_LOSS_FIELDS", "MAX_MODELS", "OTHER", "Metrics"]

#: distinct model names (besides the routes' exact ones) given their own label value.
MAX_MODELS = 50
#: distinct loss fields given their own label value.
MAX_LOSS_FIELDS = 200
#: the label value of everything past those bounds.
OTHER = "other"
_LABEL_MAX = 128  # characters of a client-given label value

#: request latency buckets, in seconds: from a cached short answer to a long generation.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

_CALL = ("client", "upstream", "model", "status")
_T = TypeVar("_T")


class _Bounded:
    """Label values for client-given names: the known ones, the first ``limit`` others,
    then :data:`OTHER`."""

    def __init__(self, known: set[str], limit: int) -> None:
        self._known = known
        self._others: set[str] = set()
        self._limit = limit

    def __call__(self, value: str) -> str:
        if value in self._known or value in self._others:
            return value
        if len(self._others) >= self._limit or len(value) > _LABEL_MAX:
            return OTHER
        self._others.add(value)
        return value


class Metrics:
    """The gateway's metrics (see the module docstring)."""

    def __init__(self, config: GatewayConfig) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # in multiprocess mode the values live in files, read by a fresh registry per scrape
        registry = None if self.multiprocess else CollectorRegistry()
        self.registry = registry
        self._model = _Bounded({r.pattern for r in config.routes if not r.is_glob}, MAX_MODELS)
        self._field = _Bounded(set(), MAX_LOSS_FIELDS)
        self.requests = Counter(
            "apibridge_requests",
            "Requests answered, by client format, upstream, model and status.",
            _CALL,
            registry=registry,
        )
        self.latency = Histogram(
            "apibridge_request_duration_seconds",
            "Time from a request's arrival to its answer's end (a stream's last chunk).",
            _CALL,
            buckets=BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "apibridge_tokens",
            "Tokens the upstream reported, by direction (input: prompt, cache included).",
            ("client", "upstream", "model", "direction"),
            registry=registry,
        )
        self.upstream_errors = Counter(
            "apibridge_upstream_errors",
            "Upstream failures (before or during a stream), by error kind.",
            ("upstream", "kind"),
            registry=registry,
        )
        self.retries = Counter(
            "apibridge_upstream_retries",
            "Upstream calls retried (rate limits, overload, transient failures).",
            ("upstream",),
            registry=registry,
        )
        self.losses = Counter(
            "apibridge_conversion_losses",
            "What a conversion could not carry, by upstream and field (list indexes removed).",
            ("upstream", "field"),
            registry=registry,
        )
        self.store_ops = Counter(
            "apibridge_store_operations",
            "State store operations, by operation and outcome (ok, unavailable, error).",
            ("operation", "outcome"),
            registry=registry,
        )
        self.store_seconds = Histogram(
            "apibridge_store_operation_duration_seconds",
            "Time a state store operation took.",
            ("operation",),
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0),
            registry=registry,
        )
        self.streams_open = Gauge(
            "apibridge_streams_open",
            "Streamed answers being sent now.",
            registry=registry,
            multiprocess_mode="livesum",
        )

    def stream_opened(self, call: CallRecord) -> None:
        self.streams_open.inc()

    def finished(self, call: CallRecord, seconds: float) -> None:
        if call.opened:
            self.streams_open.dec()
        model = OTHER if call.upstream == "-" and call.model != "-" else self._model(call.model)
        labels = (call.format, call.upstream, model, str(call.status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)
        usage = call.usage
        if usage is not None:
            if usage.total_input:
                self.tokens.labels(call.format, call.upstream, model, "input").inc(
                    usage.total_input
                )
            if usage.output_tokens:
                self.tokens.labels(call.format, call.upstream, model, "output").inc(
                    usage.output_tokens
                )
        if call.upstream_error:
            self.upstream_errors.labels(call.upstream, call.upstream_error).inc()
        if call.retries:
            self.retries.labels(call.upstream).inc(call.retries)
        for field in call.loss_fields:
            self.losses.labels(call.upstream, self._field(field)).inc()

    def counting(self, store: Store) -> Store:
        """``store``, each operation counted and timed."""
        return _CountingStore(store, self)

    async def timed(self, operation: str, work: Awaitable[_T]) -> _T:
        outcome = "error"
        started = time.perf_counter()
        try:
            result = await work
            outcome = "ok"
            return result
        except StoreUnavailable:
            outcome = "unavailable"
            raise
        finally:
            self.store_ops.labels(operation, outcome).inc()
            self.store_seconds.labels(operation).observe(time.perf_counter() - started)

    def exposition(self) -> tuple[str, bytes]:
        """The content type and body of a ``/metrics`` answer (Prometheus text format)."""
        registry = self.registry
        if registry is None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return prometheus_client.CONTENT_TYPE_LATEST, prometheus_client.generate_latest(registry)


class _CountingStore:
    """A :class:`~apibridge.store.Store` whose operations :class:`Metrics` counts; anything
    else (``expire``, counted too, when the store has it) is the store's own."""

    def __init__(self, inner: Store, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def get(self, key: str) -> Any | None:
        return await self._metrics.timed("get", self._inner.get(key))

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        await self._metrics.timed("set", self._inner.set(key, value, ttl=ttl))

    async def delete(self, key: str) -> bool:
        return await self._metrics.timed("delete", self._inner.delete(key))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)  # AttributeError when the store has none
        if name != "expire":
            return attr

        async def expire(key: str, ttl: float | None = None) -> bool:
            result: bool = await self._metrics.timed("expire", attr(key, ttl=ttl))
            return result

        return expire
