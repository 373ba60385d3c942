"""The sans-IO request handler behind :mod:`apibridge.asgi` and :mod:`apibridge.wsgi`.

Theory of operation
-------------------
The drivers turn their server's request into an :class:`HttpRequest` (method, path, query,
lower-cased headers, the body) and send back the :class:`HttpResponse` they get: a status,
headers, and either a body or an async generator of body chunks (a stream). Everything
between is here and in the modules beside this one, with no server, framework, network
client or concrete transport in sight:

1. **Route and check** the head (:func:`apibridge._gateway._http.check_head`: 403 for a
   ``Host`` or ``Origin`` that is not allowed, 404, 405, 401, 415, 413; a CORS preflight
   from an allowed origin is answered here), then the load (past ``server.max_in_flight``,
   the client's overload error: :mod:`~apibridge._gateway._limits`). The endpoint fixes the
   client's format, so every error is answered in that
   client's own envelope. Drivers call :meth:`Handler.check` before reading a body, so a bad
   request is refused without reading it.
2. **Decode** the JSON (400 naming the problem), route the model to an upstream (404 for a
   model no route matches; a Gemini client names it, and whether to stream, in the path:
   :mod:`~apibridge._gateway._gemini`), resolve ``previous_response_id`` (Responses clients,
   :mod:`~apibridge._gateway._previous_response`), and build the :class:`Exchange` once:
   the client request decoded, every policy of :mod:`~apibridge._gateway._policy` applied,
   tool names mapped. The exchange's upstream side is the upstream's wire format, or the
   client's own for a transport that speaks canonical events (the registry says which).
3. **Call** the upstream's transport (from :class:`apibridge.transports.Transports`, with a
   :class:`~apibridge.transports.Forwarding` beside the exchange), within the upstream's
   ``timeouts.total``. A non-streamed answer is
   encoded in the client's format; a stream goes through
   :mod:`~apibridge._gateway._streaming`.
4. **Finish**: one access-log line per request, one warning per new kind of conversion loss
   (:mod:`~apibridge._gateway._access_log`; with ``server.metrics`` on, the same record
   feeds :mod:`~apibridge._gateway._metrics`, served at ``/metrics``), and the request id in
   ``x-request-id`` /
   ``request-id`` response headers. Errors become responses in the client's format, with
   ``Retry-After`` and ``Allow`` where they apply.

The handler owns the lifecycle of what it was given or opened: the transports (their shared
httpx client) and the state store (:func:`apibridge.store.open_store`). Upstream keys exist
only inside transports and never reach an error body or a log line: every error answered
(:meth:`Handler._error`) or written in-band (the stream) goes through :meth:`Handler.redact`,
whatever made it.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sized
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from apibridge import _json
from apibridge._exchange import Exchange
from apibridge._gateway._access_log import CallObserver, CallRecord, LossReport, log
from apibridge._gateway._edge import cors_headers, preflight
from apibridge._gateway._gemini import (
    JSON_STREAM_HEADERS,
    count_body,
    generate_body,
    json_array,
    sse,
)
from apibridge._gateway._http import (
    AllowError,
    Endpoint,
    HttpRequest,
    HttpResponse,
    check_head,
    client_format,
    forwarding,
    is_preflight,
    read_json_body,
    request_id,
    too_large,
)
from apibridge._gateway._limits import (
    body_too_slow,
    events_within_deadline,
    overloaded,
    warn_if_open,
    within_deadline,
)
from apibridge._gateway._model_list import model_entry, model_list
from apibridge._gateway._options import cache_breakpoints, check_config, claude_model_overrides
from apibridge._gateway._policy import apply_request_policies
from apibridge._gateway._previous_response import MintedId, NewTurn, ResponseHistory
from apibridge._gateway._profiles import Profiles
from apibridge._gateway._streaming import SSE_HEADERS, open_stream
from apibridge._gateway._tenant import tenant_of
from apibridge._secrets import redact_error
from apibridge.codecs import StreamEncoder, get_codec
from apibridge.codecs._tokens import estimate_request_tokens
from apibridge.config import GatewayConfig, UpstreamConfig, redact_url
from apibridge.errors import ApibridgeError, ApiError, GatewayError, InvalidPayload, UpstreamError
from apibridge.model import Usage
from apibridge.store import Store, StoreUnavailable, close_store, open_store, start_store
from apibridge.transports import Forwarding, Transport, Transports
from apibridge.transports._protocol import on_retry

if TYPE_CHECKING:
    from apibridge._gateway._metrics import Metrics
    from apibridge._gateway._traces import Tracing
    from apibridge.codecs._profiles import Profile

__all__ = ["Handler", "HttpRequest", "HttpResponse", "check_config"]


class Handler:
    """Everything between a driver's request and its response (see the module docstring).

    Args:
        config: upstreams, routes and server settings.
        transports: the gateway's transports (:class:`apibridge.transports.Transports`, which
            holds the httpx client), or transports by upstream name replacing the ones built
            from ``config`` (tests, custom transports); closed by :meth:`aclose`.
        store: where Responses history and backboard state live (default: Redis at the
            server's ``store_url`` when one is configured, owned and closed by the handler;
            otherwise in memory).
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        transports: Transports | Mapping[str, Transport] | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = config
        self.store, self._owns_store = open_store(config.server, store)
        #: the Prometheus metrics (``server.metrics``); ``None``, and never imported, when off.
        self.metrics: Metrics | None = None
        if config.server.metrics:
            from apibridge._gateway._metrics import Metrics

            self.metrics = Metrics(config)
        #: the OpenTelemetry spans (``server.traces``); ``None``, and never imported, when off.
        self.traces: Tracing | None = None
        observer: CallObserver | None = self.metrics
        if config.server.traces:
            from apibridge._gateway._traces import Observers, Tracing

            self.traces = Tracing()
            observer = self.traces if observer is None else Observers(observer, self.traces)
        self._observer = observer
        # what requests use: the store, its operations counted when metrics are on
        used = self.store if self.metrics is None else self.metrics.counting(self.store)
        self.history = ResponseHistory(used, ttl=config.server.store_ttl)
        if not isinstance(transports, Transports):
            transports = Transports(transports)
        self.transports = transports
        # eager transports are built now, so a bad setting (a script that does not exist)
        # fails at start-up
        transports.configure(config.upstreams.values(), used)
        self.counters: dict[str, int] = {
            "requests": 0,
            "errors": 0,
            "streams_open": 0,
            "losses": 0,
        }
        self.losses = LossReport(self.counters)
        #: requests inside :meth:`handle` now (open streams are ``counters["streams_open"]``).
        self.in_flight = 0
        warn_if_open(config.server)
        #: each upstream's overrides of the Claude model table, checked once, at start-up.
        self.claude_models = claude_model_overrides(config)
        #: whether each upstream takes prompt-cache markers (``options.cache_breakpoints``).
        self.cache_breakpoints = cache_breakpoints(config)
        #: each upstream's server profile (``options.profile``, or detected once) and the
        #: reasoning_effort words it takes (``options.reasoning_efforts``, else the profile's).
        self.profiles = Profiles(config)
        #: every key the gateway holds, scrubbed from every error it answers with.
        self.secrets = _secrets(config)

    # --------------------------------------------------------------------- lifecycle

    @property
    def max_body(self) -> int:
        """The largest request body accepted, in bytes."""
        return self.config.server.max_body_bytes

    async def startup(self) -> None:
        """Create the default httpx client now (inside the server's event loop) and check that
        the Redis store, when the handler opened one, answers (a warning if not: requests that
        need state get 503 until it does)."""
        await self.transports.startup()
        if self._owns_store:
            await start_store(self.store, self.config.server)

    async def aclose(self) -> None:
        """Close the transports (and their default httpx client) and, when this handler
        opened it, the store."""
        await self.transports.aclose()
        if self._owns_store:
            await close_store(self.store)

    def transport(self, upstream: UpstreamConfig) -> Transport:
        """The transport for ``upstream`` (built on first use)."""
        return self.transports.get(upstream)

    # --------------------------------------------------------------------- entry points

    def check(self, method: str, path: str, headers: Mapping[str, str]) -> HttpResponse | None:
        """Refuse a request from its head alone (404, 405, 401, 413), or ``None`` to go on."""
        started = time.perf_counter()
        try:
            endpoint, _ = check_head(self.config, method, path, headers)
        except ApibridgeError as exc:
            # the record only for a refusal: an accepted request gets its own in handle()
            call = self._call(method, path, headers)
            call.started = started
            return self._finish(call, self._error(call, exc.error), headers)
        if is_preflight(method, headers):
            call = self._call(method, path, headers)
            call.started = started
            return self._finish(call, self._preflight(call, endpoint, headers), headers)
        return None

    def too_large(self, method: str, path: str, headers: Mapping[str, str]) -> HttpResponse:
        """The 413 answer for a body that turned out larger than :attr:`max_body`."""
        call = self._call(method, path, headers)
        return self._finish(call, self._error(call, too_large(self.max_body)), headers)

    def too_slow(self, method: str, path: str, headers: Mapping[str, str]) -> HttpResponse:
        """The 408 answer for a body that did not arrive within ``server.body_timeout``."""
        call = self._call(method, path, headers)
        error = body_too_slow(self.config.server.body_timeout)
        return self._finish(call, self._error(call, error), headers)

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer ``request``. Never raises for a bad request: errors become responses."""
        call = self._call(request.method, request.path, request.headers)
        self.counters["requests"] += 1
        self.in_flight += 1
        listening = on_retry.set(call.note_retry)
        try:
            endpoint, param = check_head(self.config, request.method, request.path, request.headers)
            if is_preflight(request.method, request.headers):
                response = self._preflight(call, endpoint, request.headers)
            else:
                self._check_load(call, endpoint)
                response = await self._dispatch(call, endpoint, param, request)
        except anyio.get_cancelled_exc_class():
            # the driver cancelled the request: its client went away before any answer
            call.status = 499  # nginx's "client closed request": nothing was sent
            call.note = call.note or "client went away"
            call.log()
            raise
        except StoreUnavailable as exc:
            log.error("%s: state store unavailable: %s", call.request_id, exc.detail)
            response = self._error(call, exc.error)
        except ApibridgeError as exc:
            if isinstance(exc, UpstreamError):
                call.upstream_error = exc.error.kind
            response = self._error(call, exc.error)
        except Exception:
            log.exception("%s: internal error", call.request_id)
            error = ApiError.of("api_error", f"internal error (request id {call.request_id})")
            response = self._error(call, error)
        finally:
            self.in_flight -= 1
            on_retry.reset(listening)
        if response.stream is not None:
            # the stream logs its own line when it ends
            return self._with_cors(response, request.headers)
        return self._finish(call, response, request.headers)

    def _check_load(self, call: CallRecord, endpoint: Endpoint) -> None:
        """Refuse a request past ``server.max_in_flight`` (open streams count too)."""
        limit = self.config.server.max_in_flight
        if not limit or endpoint.operation in ("health", "root", "metrics"):
            return
        if self.in_flight + self.counters["streams_open"] > limit:
            raise GatewayError(overloaded(call.format, limit))

    def _preflight(
        self, call: CallRecord, endpoint: Endpoint, headers: Mapping[str, str]
    ) -> HttpResponse:
        """The 204 answer to a CORS preflight from an allowed origin."""
        allowed = preflight(self.config.server, endpoint.methods, headers)
        return HttpResponse(status=204, headers=self._headers(call, allowed))

    def _with_cors(self, response: HttpResponse, headers: Mapping[str, str]) -> HttpResponse:
        """``response`` with the CORS headers an allowed ``Origin`` gets."""
        extra = cors_headers(self.config.server, headers)
        if not extra or response.status == 204:  # a preflight has them already
            return response
        return attrs.evolve(response, headers=(*response.headers, *extra))

    # --------------------------------------------------------------------- dispatch

    def _call(self, method: str, path: str, headers: Mapping[str, str]) -> CallRecord:
        call = CallRecord(
            request_id=request_id(headers),
            method=method,
            path=path,
            format=client_format(path, headers),
            observer=self._observer,
        )
        if self.traces is not None:
            self.traces.start(call, headers)
        return call

    async def _dispatch(
        self, call: CallRecord, endpoint: Endpoint, param: str | None, request: HttpRequest
    ) -> HttpResponse:
        op = endpoint.operation
        if op in ("create", "stream"):  # stream: Gemini's :streamGenerateContent
            return await self._create(call, request, param, stream=op == "stream")
        if op == "count_tokens":
            return await self._count_tokens(call, request, param)
        if op == "health":
            return self._json(call, 200, {"status": "ok"}, head=request.method == "HEAD")
        if op == "root":
            from apibridge import __version__

            body = {"name": "apibridge", "version": __version__}
            return self._json(call, 200, body, head=request.method == "HEAD")
        if op == "models":
            models = await model_list(self.config, self.transport, shape=call.format)
            return self._json(call, 200, models)
        if op == "model" and param is not None:
            entry = await model_entry(self.config, self.transport, param, shape=call.format)
            if entry is None:
                raise GatewayError(ApiError.of("not_found", f"model {param!r} is not served"))
            return self._json(call, 200, entry)
        if op == "stored" and param is not None:
            tenant = tenant_of(self.config, request.headers)
            if request.method == "DELETE":
                return self._json(call, 200, await self.history.delete(param, tenant=tenant))
            return self._json(call, 200, await self.history.get(param, tenant=tenant))
        if op == "input_items" and param is not None:
            tenant = tenant_of(self.config, request.headers)
            page = await self.history.list_input_items(param, request.query, tenant=tenant)
            return self._json(call, 200, page)
        if op == "admin":
            return self._json(call, 200, self._admin_state())
        if op == "metrics" and self.metrics is not None:
            content_type, text = self.metrics.exposition()
            headers = self._headers(call, (("content-type", content_type),))
            return HttpResponse(status=200, headers=headers, body=text)
        raise GatewayError(ApiError.of("not_found", f"no such endpoint: {request.path}"))

    # --------------------------------------------------------------------- create

    def _route_model(
        self, call: CallRecord, body: Mapping[str, Any], path_model: str | None = None
    ) -> tuple[UpstreamConfig, str]:
        """The upstream and model for the body's model, or the path's (Gemini's)."""
        model = path_model or body.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidPayload("model: expected a non-empty string")
        call.model = model
        routed = self.config.route(model)
        if routed is None:
            raise GatewayError(
                ApiError.of(
                    "not_found", f"model {model!r} is not served by this gateway", param="model"
                )
            )
        upstream, upstream_model = routed
        call.upstream = upstream.name
        return upstream, upstream_model

    def _exchange(
        self,
        call: CallRecord,
        body: Mapping[str, Any],
        upstream: UpstreamConfig,
        upstream_model: str,
        headers: Mapping[str, str],
        profile: Profile | None,
        stream: bool = False,
    ) -> Exchange:
        """Decode ``body``, apply every request policy, and build the exchange, once
        (fitted to the upstream's server ``profile``; ``stream``: streamed whatever the body
        says, as Gemini's path asks)."""
        target = self.transports.upstream_format(upstream, call.format)
        policy = functools.partial(
            apply_request_policies,
            upstream=upstream,
            upstream_format=target,
            model=upstream_model,
            headers=headers,
            stream=stream,
        )
        exchange = Exchange.from_client(
            body,
            client=call.format,
            upstream=target,
            strict=self.config.server.strict,
            policy=policy,
            claude_models=self.claude_models.get(upstream.name, ()),
            cache_breakpoints=self.cache_breakpoints.get(upstream.name),
            reasoning_efforts=self.profiles.efforts(upstream.name, profile),
            reasoning_field=None if profile is None else profile.reasoning_field,
            profile=profile,
        )
        call.stream = exchange.request.stream
        return exchange

    async def _create(
        self, call: CallRecord, request: HttpRequest, path_model: str | None, *, stream: bool
    ) -> HttpResponse:
        body = read_json_body(request, self.max_body)
        if call.format == "gemini" and path_model is not None:
            body = generate_body(body, path_model)
        upstream, upstream_model = self._route_model(call, body, path_model)
        if call.format == "anthropic" and body.get("max_tokens") is None:
            # required by the Messages API (count_tokens, which takes none, is not here)
            raise InvalidPayload("max_tokens: Field required", param="max_tokens")
        tenant = tenant_of(self.config, request.headers)
        turn: NewTurn | None = None
        minted: MintedId | None = None
        if call.format == "responses":
            minted = MintedId(tenant=tenant)  # the client never sees the upstream's id
            # an unknown id goes on only to a Responses HTTP upstream, which may know it (a
            # transport that speaks events, such as backboard's, would drop it silently)
            body, turn = await self.history.expand(
                body, upstream_format=upstream.format, tenant=tenant
            )
            if body.get("store") is False:
                turn = None
        transport = self.transport(upstream)
        profile = await self.profiles.get(upstream, transport)
        exchange = self._exchange(
            call, body, upstream, upstream_model, request.headers, profile, stream
        )
        forwarded = attrs.evolve(forwarding(upstream, request.headers), tenant=tenant)
        if self.traces is not None:
            traced = self.traces.upstream(call, exchange, upstream)
            forwarded = attrs.evolve(forwarded, trace_headers=traced)
        if exchange.request.stream:
            as_array = call.format == "gemini" and not sse(request.query)
            return await self._stream(call, exchange, upstream, forwarded, turn, minted, as_array)
        response = await within_deadline(upstream, transport.complete(exchange, forwarded))
        call.add_usage(response.usage)
        call.stop_reason = response.stop_reason
        if minted is not None:
            minted.upstream = response.id
            response = attrs.evolve(response, id=minted.id)
        out = exchange.client.encode_response(response, exchange.ctx)
        if turn is not None and minted is not None:
            await self._save(call, out, turn, minted)
        self.losses.report(call, exchange)
        return self._json(call, 200, out)

    async def _stream(
        self,
        call: CallRecord,
        exchange: Exchange,
        upstream: UpstreamConfig,
        forwarded: Forwarding,
        turn: NewTurn | None,
        minted: MintedId | None,
        as_array: bool = False,
    ) -> HttpResponse:
        """The streamed answer: SSE, or a Gemini client's JSON array (``as_array``)."""
        on_end = None
        if turn is not None and minted is not None:

            async def on_end(encoder: StreamEncoder) -> None:
                # the Responses encoder keeps the response object it wrote last
                final = getattr(encoder, "final_response", None)
                if final is not None:
                    await self._save(call, final, turn, minted)

        body = await open_stream(
            call,
            exchange,
            events_within_deadline(upstream, self.transport(upstream).stream(exchange, forwarded)),
            counters=self.counters,
            losses=self.losses,
            on_end=on_end,
            redact=self.redact,
            minted=minted,
        )
        if as_array:
            body = await json_array(body)
        head = self._headers(call, JSON_STREAM_HEADERS if as_array else SSE_HEADERS)
        return HttpResponse(status=200, headers=head, stream=body)

    async def _save(
        self,
        call: CallRecord,
        response: Mapping[str, Any],
        turn: NewTurn,
        minted: MintedId,
    ) -> None:
        """Store a Responses answer for ``previous_response_id``; a store that is down costs
        only that (the upstream already answered: the client gets its answer all the same)."""
        try:
            saved = await self.history.save(
                response, turn, tenant=minted.tenant, upstream_id=minted.upstream
            )
            if not saved:
                call.note = call.note or "error=not_stored"
                log.error("%s: response %s not stored", call.request_id, response.get("id"))
        except StoreUnavailable as exc:
            call.note = call.note or "error=unavailable"
            log.error(
                "%s: response %s not stored: state store unavailable: %s",
                call.request_id,
                response.get("id"),
                exc.detail,
            )

    async def _count_tokens(
        self, call: CallRecord, request: HttpRequest, path_model: str | None
    ) -> HttpResponse:
        """Anthropic's ``count_tokens`` or Gemini's ``:countTokens``: the upstream's own count
        where its transport has one, else a local estimate (marked so)."""
        body = read_json_body(request, self.max_body)
        upstream, upstream_model = self._route_model(call, body, path_model)
        if call.format == "gemini" and path_model is not None:
            body = count_body(body, path_model)
        else:  # count_tokens bodies carry no max_tokens, which a Messages request requires
            body = {"max_tokens": 1, **body, "stream": False}
        transport = self.transport(upstream)
        profile = await self.profiles.get(upstream, transport)
        exchange = self._exchange(call, body, upstream, upstream_model, request.headers, profile)
        counter = getattr(transport, "count_tokens", None)
        count = None
        if counter is not None:
            count = await counter(exchange, forwarding(upstream, request.headers))
        headers: tuple[tuple[str, str], ...] = ()
        if count is None:
            count = estimate_request_tokens(exchange.request)
            headers = (("x-apibridge-token-count", "estimate"),)
            call.note = "estimate"
        call.usage = Usage(input_tokens=count)
        answer = {"totalTokens": count} if call.format == "gemini" else {"input_tokens": count}
        return self._json(call, 200, answer, extra=headers)

    # --------------------------------------------------------------------- answers

    @staticmethod
    def _headers(
        call: CallRecord, base: tuple[tuple[str, str], ...]
    ) -> tuple[tuple[str, str], ...]:
        return (*base, ("x-request-id", call.request_id), ("request-id", call.request_id))

    def _json(
        self,
        call: CallRecord,
        status: int,
        body: Any,
        *,
        head: bool = False,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> HttpResponse:
        headers = self._headers(call, (("content-type", "application/json"), *extra))
        return HttpResponse(status=status, headers=headers, body=b"" if head else _json.dumps(body))

    def redact(self, error: ApiError) -> ApiError:
        """``error`` without any key the gateway holds, or anything shaped like a key: the
        one scrub every error answered (here) or written in-band (the stream) goes through,
        whatever transport or decoder made it."""
        return redact_error(error, self.secrets)

    def _error(self, call: CallRecord, error: ApiError) -> HttpResponse:
        error = self.redact(error)
        status, body = get_codec(call.format).encode_error(error)
        extra: list[tuple[str, str]] = []
        if error.retry_after is not None:
            extra.append(("retry-after", str(max(math.ceil(error.retry_after), 0))))
        if isinstance(error, AllowError):
            extra.append(("allow", error.allow))
        call.note = call.note or f"error={error.kind}"
        return self._json(call, status, body, head=call.method == "HEAD", extra=tuple(extra))

    def _finish(
        self, call: CallRecord, response: HttpResponse, headers: Mapping[str, str]
    ) -> HttpResponse:
        response = self._with_cors(response, headers)
        call.status = response.status
        if response.status >= 400:
            self.counters["errors"] += 1
        call.log()
        return response

    def _admin_state(self) -> dict[str, Any]:
        upstreams = [
            {
                "name": u.name,
                "format": u.format,
                "base_url": redact_url(u.base_url),
                "keys": len(u.api_keys),
                "max_output_tokens": u.max_output_tokens,
            }
            for u in self.config.upstreams.values()
        ]
        routes = [
            {"model": r.pattern, "upstream": r.upstream, "rename": r.rename}
            for r in self.config.routes
        ]
        store_items = len(self.store) if isinstance(self.store, Sized) else None
        return {
            "upstreams": upstreams,
            "routes": routes,
            "store_items": store_items,
            "store_bytes": getattr(self.store, "bytes_used", None),
            "counters": dict(self.counters),
        }


def _secrets(config: GatewayConfig) -> tuple[str, ...]:
    """Every key in ``config`` (upstreams', clients', the admin's), longest first, so a key
    that contains another is replaced whole."""
    keys = {k for u in config.upstreams.values() for k in u.api_keys if k}
    keys.update(k for k in config.server.client_keys if k)
    if config.server.admin_key:
        keys.add(config.server.admin_key)
    return tuple(sorted(keys, key=len, reverse=True))
