"""OpenTelemetry traces of the gateway (``server.traces``).

Theory of operation
-------------------
This module is imported only when ``server.traces`` is on (the handler imports it then), so
a gateway without traces never loads ``opentelemetry``. It uses the global tracer provider:
an application that mounts apibridge configures its own (exporter, sampler, resource);
``apibridge serve --traces`` sets up the SDK with the OTLP exporter, configured by the
standard ``OTEL_*`` environment variables (:func:`configure_sdk`).

Each request gets a SERVER span, ``"{METHOD} {route}"`` (``GET /v1/responses/{response_id}``;
the method alone for a path that is no route), its parent the trace context the client sent
(``traceparent``, ``tracestate``, by the global propagator). A request that reaches an
upstream gets a CLIENT span as its child, named
``"{gen_ai.operation.name} {gen_ai.request.model}"`` (``chat claude-sonnet-4-5``), with the
GenAI semantic conventions' attributes: ``gen_ai.operation.name``, ``gen_ai.system`` and
``gen_ai.provider.name`` (``anthropic`` or ``openai`` by the upstream's format, ``backboard``),
``gen_ai.request.model`` / ``max_tokens`` / ``temperature`` / ``top_p`` / ``top_k``,
``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens`` / ``output_tokens``,
``server.address`` / ``server.port``, ``error.type`` when it failed. Its context goes to the
upstream in the ``traceparent`` header (:attr:`Forwarding.trace_headers
<apibridge.transports.Forwarding>`), so the upstream's own spans join the trace.

The spans are ended when the access-log line is written (:class:`CallRecord.log
<apibridge._gateway._access_log.CallRecord>`, whose observer this is): a stream's spans last
until its last event was sent or its client left. No key, no message content and no header
value other than the trace context is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from apibridge._extras import missing_extra

try:
    from opentelemetry import propagate, trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode
except ModuleNotFoundError as exc:  # traces on, the extra missing: name it
    if exc.name is None or not exc.name.startswith("opentelemetry"):
        raise
    raise missing_extra(exc, "server.traces", "traces") from exc

from apibridge._exchange import Exchange
from apibridge._gateway._access_log import CallObserver, CallRecord
from apibridge._gateway._http import route
from apibridge.config import UpstreamConfig

__all__ = ["Observers", "Tracing", "configure_sdk"]

#: characters of the client's model name kept in a span (the access log keeps as many).
_MODEL_MAX = 512

#: ``gen_ai.system`` / ``gen_ai.provider.name`` by the upstream's wire format.
_PROVIDERS = {
    "anthropic": "anthropic",
    "chat": "openai",
    "responses": "openai",
    "gemini": "gcp.gemini",
}


def _route(path: str) -> str:
    """``path`` as a span name's route (span names are few; the path itself is the
    ``url.path`` attribute): a stored response's id as ``{response_id}``, a model's name as
    ``{model}`` (also in Gemini's ``/v1beta/models/{model}:generateContent``), and ``""`` for
    a path that is no route."""
    endpoint, param = route(path)
    if endpoint is None:
        return ""
    if param is None:
        return path
    stored = endpoint.operation in ("stored", "input_items")
    marker = "/responses/" if stored else "/models/"
    prefix = path[: path.index(marker) + len(marker)]
    name = "{response_id}" if stored else "{model}"
    return prefix + name + path[len(prefix) + len(param) :]


def _server_address(url: str) -> tuple[str | None, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None and parts.scheme in ("http", "https"):
        port = 443 if parts.scheme == "https" else 80
    return parts.hostname, port


class Tracing:
    """Starts and ends each request's spans (see the module docstring)."""

    def __init__(self) -> None:
        from apibridge import __version__

        self.tracer = trace.get_tracer("apibridge", __version__)

    def start(self, call: CallRecord, headers: Mapping[str, str]) -> None:
        """Open ``call``'s SERVER span, a child of the trace context the client sent."""
        parent = propagate.extract(headers)
        started = time.time_ns() - int((time.perf_counter() - call.started) * 1e9)
        span = self.tracer.start_span(
            f"{call.method} {_route(call.path)}".rstrip(),
            context=parent,
            kind=SpanKind.SERVER,
            start_time=started,
            attributes={"http.request.method": call.method, "url.path": call.path[:512]},
        )
        call.spans = (span,)

    def upstream(
        self, call: CallRecord, exchange: Exchange, upstream: UpstreamConfig
    ) -> dict[str, str]:
        """Open the CLIENT span of the upstream call; the headers that carry its context."""
        if not call.spans:
            return {}
        request = exchange.request
        model = request.model[:_MODEL_MAX]  # the client's text: bounded like the access log's
        provider = _PROVIDERS.get(exchange.upstream.FORMAT, exchange.upstream.FORMAT)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": provider,
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "apibridge.upstream": upstream.name,
            "apibridge.client_format": call.format,
            "apibridge.upstream_format": exchange.upstream.FORMAT,
        }
        for key, value in (
            ("gen_ai.request.max_tokens", request.max_tokens),
            ("gen_ai.request.temperature", request.temperature),
            ("gen_ai.request.top_p", request.top_p),
            ("gen_ai.request.top_k", request.top_k),
        ):
            if value is not None:
                attributes[key] = value
        host, port = _server_address(upstream.base_url)
        if host:
            attributes["server.address"] = host
        if port:
            attributes["server.port"] = port
        context = trace.set_span_in_context(call.spans[0])
        span = self.tracer.start_span(
            f"chat {model}",
            context=context,
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )
        call.spans = (call.spans[0], span)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        return carrier

    def stream_opened(self, call: CallRecord) -> None:
        """(A stream's spans end with it.)"""

    def finished(self, call: CallRecord, seconds: float) -> None:
        """End ``call``'s spans with what it came to."""
        spans = call.spans
        if not spans:
            return
        call.spans = ()
        server = spans[0]
        failed = call.status >= 500 or call.status == 0 or bool(call.upstream_error)
        if len(spans) > 1:
            _end_client(spans[1], call, failed)
        server.set_attribute("http.response.status_code", call.status)
        server.set_attribute("apibridge.request_id", call.request_id)
        if call.status >= 500:
            server.set_attribute("error.type", str(call.status))
            server.set_status(Status(StatusCode.ERROR))
        server.end()


def _end_client(span: Span, call: CallRecord, failed: bool) -> None:
    usage = call.usage
    if usage is not None:
        if usage.total_input is not None:
            span.set_attribute("gen_ai.usage.input_tokens", usage.total_input)
        if usage.output_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    if call.stop_reason:
        span.set_attribute("gen_ai.response.finish_reasons", (call.stop_reason,))
    if failed:
        span.set_attribute("error.type", call.upstream_error or str(call.status or "cancelled"))
        span.set_status(Status(StatusCode.ERROR))
    span.end()


class Observers:
    """Several observers of each request (metrics and traces), told in order."""

    def __init__(self, *observers: CallObserver) -> None:
        self.observers = observers

    def stream_opened(self, call: CallRecord) -> None:
        for observer in self.observers:
            observer.stream_opened(call)

    def finished(self, call: CallRecord, seconds: float) -> None:
        for observer in self.observers:
            observer.finished(call, seconds)


def configure_sdk() -> None:
    """For ``apibridge serve --traces``: the OpenTelemetry SDK as the global tracer provider,
    spans batched to the OTLP/HTTP exporter (``OTEL_EXPORTER_OTLP_ENDPOINT`` and the other
    ``OTEL_*`` variables; service name ``apibridge`` unless ``OTEL_SERVICE_NAME`` says
    otherwise). Nothing is changed when the application already set a provider."""
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "server.traces", "traces") from exc
    import os

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "apibridge")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
