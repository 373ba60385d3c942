"""The sans-IO request handler behind :mod:`apibridge.asgi` and :mod:`apibridge.wsgi`.

Theory of operation
-------------------
The drivers turn their server's request into an :class:`HttpRequest` (method, path, query,
lower-cased headers, the body) and send back the :class:`HttpResponse` they get: a status,
headers, and either a body or an async generator of body chunks (a stream). Everything
between is here, as plain functions and one :class:`Handler` object, with no server or
framework in sight:

1. **Route** the path with :data:`apibridge._gateway._http.ENDPOINTS` (unknown path 404, wrong
   method 405 with ``Allow``). The endpoint fixes the client's format, so every error is
   answered in that client's own envelope; ``/v1/models`` and unknown paths answer in
   Anthropic's shape when the request carries ``anthropic-version``, in OpenAI's otherwise.
2. **Check** the client key (when keys are configured; constant-time compare of ``x-api-key``
   or ``Authorization: Bearer``) and the body size (``Content-Length`` before reading, the
   bytes read after: 413). Drivers call :meth:`Handler.check` before reading a body, so a bad
   request is refused without reading it.
3. **Decode** the JSON (400 naming the problem), route the model to an upstream (404 for a
   model no route matches), resolve ``previous_response_id`` (Responses clients), decode
   the request into the canonical model, and apply the policies of
   :mod:`apibridge._gateway._policy` (rename, beta fields, late system messages).
4. **Call** the upstream's transport. A non-streamed answer is encoded in the client's
   format. A stream is opened and its *first* event awaited before the status line is
   chosen, so an upstream that fails before producing anything (and was not retried into
   success by the transport) gives the client a real HTTP error status. After that the
   status is 200 and a failure becomes the format's in-band error (``event: error``, an
   error chunk, ``response.failed``) followed by a clean end.
5. **Finish**: one access-log line per request on the ``apibridge.access`` logger (request
   id, client format, upstream, model, status, latency, tokens; never a key), one warning
   per conversion loss on ``apibridge.gateway``, and the request id in ``x-request-id`` /
   ``request-id`` response headers.

Upstream keys exist only inside transports and never reach an error body or a log line.
"""

from __future__ import annotations

import hmac
import http.cookiejar
import logging
import math
import re
import time
import uuid
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sized
from typing import Any

import anyio
import attrs
import httpx

from apibridge import _json
from apibridge._exchange import Exchange, ToolNames
from apibridge._gateway._http import (
    AllowError,
    Endpoint,
    HttpRequest,
    HttpResponse,
    MethodNotAllowed,
    route,
)
from apibridge._gateway._model_list import model_entry, model_list
from apibridge._gateway._policy import (
    LATE_SYSTEM_DEFAULT,
    apply_beta_policy,
    forwardable_headers,
    place_late_system,
    rename_model,
)
from apibridge._gateway._previous_response import ResponseHistory
from apibridge._tokens import estimate_request_tokens
from apibridge.codecs import get_codec
from apibridge.config import GatewayConfig, UpstreamConfig, redact_url
from apibridge.errors import (
    ApibridgeError,
    ApiError,
    GatewayError,
    InvalidPayload,
    UpstreamError,
)
from apibridge.model import Event, MessageDelta, MessageStart, StreamError, Usage
from apibridge.store import MemoryStore, RedisStore, Store, StoreUnavailable
from apibridge.transports import Transport
from apibridge.transports._closing import aclose_shielded
from apibridge.transports.scripted import ScriptedTransport

__all__ = ["Handler", "HttpRequest", "HttpResponse", "default_client"]

access_log = logging.getLogger("apibridge.access")
log = logging.getLogger("apibridge.gateway")

# a loss's field with its list indexes removed: messages[3].content[0] → messages[].content[]
_INDEX = re.compile(r"\[\d+\]")
_LOSS_KINDS_MAX = 4096  # distinct kinds remembered; past that, every loss is a warning again


_SSE_HEADERS = (
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),  # ask nginx-style proxies not to buffer the stream
)
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


class _NoCookies(http.cookiejar.CookiePolicy):
    """Keep no upstream cookies: one gateway client serves many users."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        return False


def default_client() -> httpx.AsyncClient:
    """The gateway's httpx client: an aiohttp connection pool behind the httpx interface.

    httpx's own pool loses throughput as concurrency rises (encode/httpx#3215, and
    ``benchmarks/bench_gateway.py`` here); the ``httpx-aiohttp`` transport keeps it. Without
    that package installed, plain httpx. Cookies are never kept: the client is shared by
    every user of the gateway.
    """
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    cookies = http.cookiejar.CookieJar(policy=_NoCookies())
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:  # pragma: no cover - the `http` extra installs it
        return httpx.AsyncClient(timeout=None, limits=limits, cookies=cookies)
    transport = AiohttpTransport(limits=limits)
    return httpx.AsyncClient(transport=transport, timeout=None, cookies=cookies)


@attrs.define
class _Call:
    """What the access-log line of one request reports."""

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

    def add_usage(self, usage: Usage | None) -> None:
        self.usage = usage if self.usage is None else self.usage.merged(usage)

    def log(self) -> None:
        usage = self.usage or Usage()
        tokens_in = usage.total_input
        tokens_out = usage.output_tokens
        access_log.info(
            '%s "%s %s" %s %.1fms client=%s upstream=%s model=%s stream=%s in=%s out=%s%s',
            self.request_id,
            self.method,
            self.path,
            self.status,
            (time.perf_counter() - self.started) * 1000,
            self.format,
            self.upstream,
            self.model,
            "yes" if self.stream else "no",
            "-" if tokens_in is None else tokens_in,
            "-" if tokens_out is None else tokens_out,
            f" {self.note}" if self.note else "",
        )


def _bearer(value: str) -> str:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _matches_any(presented: str, keys: tuple[str, ...]) -> bool:
    found = False
    for key in keys:
        # compare against every key, so the time taken does not tell which one is close
        found |= hmac.compare_digest(presented.encode(), key.encode())
    return found


class Handler:
    """Everything between a driver's request and its response (see the module docstring).

    Args:
        config: upstreams, routes and server settings.
        client: the httpx client for HTTP upstreams; by default :func:`default_client`,
            created on first use inside the running event loop and closed by :meth:`aclose`.
        transports: transports by upstream name, replacing the ones built from ``config``
            (tests, custom transports).
        store: where Responses history and backboard state live (default: Redis at the
            server's ``store_url`` when one is configured, owned and closed by the handler;
            otherwise in memory).
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        client: httpx.AsyncClient | None = None,
        transports: Mapping[str, Transport] | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = config
        server = config.server
        self._own_store: RedisStore | None = None
        if store is not None:
            self.store: Store = store
        elif server.store_url:
            self._own_store = RedisStore.from_url(
                server.store_url, prefix=server.store_prefix, ttl=server.store_ttl
            )
            self.store = self._own_store
            log.info(
                "state store: Redis at %s (keys prefixed %r)",
                redact_url(server.store_url),
                server.store_prefix,
            )
        else:
            self.store = MemoryStore(ttl=server.store_ttl, max_items=server.store_max_items)
        self.history = ResponseHistory(self.store, ttl=server.store_ttl)
        self._client = client
        self._own_client = client is None
        self._transports: dict[str, Transport] = dict(transports or {})
        for name, upstream in config.upstreams.items():
            if upstream.format == "scripted" and name not in self._transports:
                # built now, so a script name that does not exist fails at start-up
                self._transports[name] = ScriptedTransport.from_config(upstream)
        self.counters: dict[str, int] = {
            "requests": 0,
            "errors": 0,
            "streams_open": 0,
            "losses": 0,
        }
        self._losses_seen: set[tuple[str, str, str]] = set()

    # --------------------------------------------------------------------- lifecycle

    @property
    def max_body(self) -> int:
        """The largest request body accepted, in bytes."""
        return self.config.server.max_body_bytes

    async def startup(self) -> None:
        """Create the default httpx client now (inside the server's event loop) and check that
        the Redis store, when configured, answers (a warning if not: requests that need state
        get 503 until it does)."""
        self._http()
        if self._own_store is not None:
            try:
                await self._own_store.ping()
            except StoreUnavailable as exc:
                log.warning(
                    "state store at %s is unreachable (%s); requests that need state are "
                    "answered with 503 until it is back",
                    redact_url(self.config.server.store_url or ""),
                    exc.detail,
                )

    async def aclose(self) -> None:
        """Close the transports and, when this handler created them, the httpx client and
        the Redis client."""
        for transport in self._transports.values():
            await transport.aclose()
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None
        if self._own_store is not None:
            await self._own_store.aclose()
        self._transports = {
            n: t for n, t in self._transports.items() if isinstance(t, ScriptedTransport)
        }

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = default_client()
        return self._client

    def transport(self, upstream: UpstreamConfig) -> Transport:
        """The transport for ``upstream`` (built on first use)."""
        transport = self._transports.get(upstream.name)
        if transport is not None:
            return transport
        if upstream.format == "backboard":
            # written separately; imported only when a backboard upstream is used
            from apibridge.transports.backboard import BackboardTransport

            transport = BackboardTransport.from_config(
                upstream, client=self._http(), store=self.store
            )
        else:
            from apibridge.transports.http import HttpTransport

            transport = HttpTransport.from_config(upstream, client=self._http())
        self._transports[upstream.name] = transport
        return transport

    # --------------------------------------------------------------------- entry points

    def check(self, method: str, path: str, headers: Mapping[str, str]) -> HttpResponse | None:
        """Refuse a request from its head alone (404, 405, 401, 413), or ``None`` to go on."""
        call = self._call(method, path, headers)
        try:
            self._precheck(call, method, path, headers)
        except ApibridgeError as exc:
            return self._finish(call, self._error(call, exc.error))
        return None

    def too_large(self, method: str, path: str, headers: Mapping[str, str]) -> HttpResponse:
        """The 413 answer for a body that turned out larger than :attr:`max_body`."""
        call = self._call(method, path, headers)
        error = ApiError.of(
            "request_too_large", f"the request body is larger than {self.max_body} bytes"
        )
        return self._finish(call, self._error(call, error))

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer ``request``. Never raises for a bad request: errors become responses."""
        call = self._call(request.method, request.path, request.headers)
        self.counters["requests"] += 1
        try:
            endpoint, param = self._precheck(call, request.method, request.path, request.headers)
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
            response = self._error(call, exc.error)
        except Exception:
            log.exception("%s: internal error", call.request_id)
            error = ApiError.of("api_error", f"internal error (request id {call.request_id})")
            response = self._error(call, error)
        if response.stream is not None:
            return response  # the stream logs its own line when it ends
        return self._finish(call, response)

    # --------------------------------------------------------------------- routing

    def _call(self, method: str, path: str, headers: Mapping[str, str]) -> _Call:
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else "req_" + _new_hex()
        endpoint, _ = route(path)
        fmt = endpoint.format if endpoint is not None and endpoint.format else None
        if fmt is None:
            fmt = "anthropic" if "anthropic-version" in headers else "chat"
        return _Call(request_id=request_id, method=method, path=path, format=fmt)

    def _precheck(
        self, call: _Call, method: str, path: str, headers: Mapping[str, str]
    ) -> tuple[Endpoint, str | None]:
        endpoint, param = route(path)
        if endpoint is None:
            raise GatewayError(ApiError.of("not_found", f"no such endpoint: {method} {path}"))
        if method not in endpoint.methods:
            raise MethodNotAllowed(method, path, endpoint.methods)
        if endpoint.operation == "admin":
            admin = self.config.server.admin_key
            presented = headers.get("x-admin-key") or _bearer(headers.get("authorization", ""))
            if not admin:
                raise GatewayError(ApiError.of("not_found", f"no such endpoint: {path}"))
            if not presented or not _matches_any(presented, (admin,)):
                raise GatewayError(ApiError.of("authentication", "a valid admin key is required"))
        elif endpoint.needs_key and not self._authorised(headers):
            raise GatewayError(
                ApiError.of(
                    "authentication",
                    "a valid API key is required (x-api-key or Authorization: Bearer)",
                )
            )
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise GatewayError(
                ApiError.of(
                    "request_too_large", f"the request body is larger than {self.max_body} bytes"
                )
            )
        return endpoint, param

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        keys = self.config.server.client_keys
        if not keys:
            return True
        for presented in (headers.get("x-api-key", ""), _bearer(headers.get("authorization", ""))):
            if presented and _matches_any(presented, keys):
                return True
        return False

    async def _dispatch(
        self, call: _Call, endpoint: Endpoint, param: str | None, request: HttpRequest
    ) -> HttpResponse:
        op = endpoint.operation
        if op == "create":
            return await self._create(call, request)
        if op == "count_tokens":
            return await self._count_tokens(call, request)
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
            if request.method == "DELETE":
                return self._json(call, 200, await self.history.delete(param))
            return self._json(call, 200, await self.history.get(param))
        if op == "input_items" and param is not None:
            return self._json(call, 200, await self.history.list_input_items(param, request.query))
        if op == "admin":
            return self._json(call, 200, self._admin_state())
        raise GatewayError(ApiError.of("not_found", f"no such endpoint: {request.path}"))

    # --------------------------------------------------------------------- create

    def _body(self, request: HttpRequest) -> dict[str, Any]:
        raw = request.body
        encoding = request.headers.get("content-encoding", "identity").lower()
        if encoding in ("gzip", "deflate"):
            raw = _inflate(raw, self.max_body)
        elif encoding != "identity":
            raise GatewayError(
                ApiError.of(
                    "invalid_request", f"content-encoding {encoding!r} is not supported", status=415
                )
            )
        if not raw:
            raise InvalidPayload("the request body is empty; expected a JSON object")
        body = _json.loads(raw)
        if not isinstance(body, dict):
            raise InvalidPayload("the request body must be a JSON object")
        return body

    def _route_model(self, call: _Call, body: Mapping[str, Any]) -> tuple[UpstreamConfig, str]:
        model = body.get("model")
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
        call: _Call,
        body: Mapping[str, Any],
        upstream: UpstreamConfig,
        upstream_model: str,
        headers: Mapping[str, str],
    ) -> Exchange:
        """Decode ``body`` and apply the request policies."""
        # a scripted upstream answers in canonical form: no second wire format is involved
        target = call.format if upstream.format == "scripted" else upstream.format
        exchange = Exchange.from_client(
            body, client=call.format, upstream=target, strict=self.config.server.strict
        )
        exchange.client_headers = forwardable_headers(headers)
        if upstream.forward_client_key:
            exchange.client_key = (
                headers.get("x-api-key") or _bearer(headers.get("authorization", "")) or None
            )
        request = rename_model(exchange.request, upstream_model)
        request = apply_beta_policy(request, exchange.ctx, upstream_format=target, headers=headers)
        mode = str(upstream.options.get("late_system", LATE_SYSTEM_DEFAULT.get(target, "keep")))
        request = place_late_system(request, exchange.ctx, mode=mode)
        exchange.request = request
        exchange.names = ToolNames.for_target(request, exchange.upstream)
        call.stream = request.stream
        return exchange

    async def _create(self, call: _Call, request: HttpRequest) -> HttpResponse:
        body = self._body(request)
        upstream, upstream_model = self._route_model(call, body)
        full_input: list[Any] | None = None
        if call.format == "responses":
            target = call.format if upstream.format == "scripted" else upstream.format
            body, full_input = await self.history.expand(body, upstream_format=target)
            if body.get("store") is False:
                full_input = None
        exchange = self._exchange(call, body, upstream, upstream_model, request.headers)
        transport = self.transport(upstream)
        if exchange.request.stream:
            return await self._stream(call, exchange, transport, full_input)
        response = await transport.complete(exchange)
        call.add_usage(response.usage)
        out = exchange.client.encode_response(response, exchange.ctx)
        if full_input is not None:
            await self._save(call, out, full_input)
        self._report_losses(call, exchange)
        return self._json(call, 200, out)

    async def _save(self, call: _Call, response: Mapping[str, Any], full_input: Any) -> None:
        """Store a Responses answer for ``previous_response_id``; a store that is down costs
        only that (the upstream already answered: the client gets its answer all the same)."""
        try:
            await self.history.save(response, full_input)
        except StoreUnavailable as exc:
            call.note = call.note or "error=unavailable"
            log.error(
                "%s: response %s not stored: state store unavailable: %s",
                call.request_id,
                response.get("id"),
                exc.detail,
            )

    async def _count_tokens(self, call: _Call, request: HttpRequest) -> HttpResponse:
        body = self._body(request)
        upstream, upstream_model = self._route_model(call, body)
        # count_tokens bodies carry no max_tokens, which a Messages request requires
        body = {"max_tokens": 1, **body, "stream": False}
        exchange = self._exchange(call, body, upstream, upstream_model, request.headers)
        transport = self.transport(upstream)
        counter = getattr(transport, "count_tokens", None)
        count = await counter(exchange) if counter is not None else None
        headers: tuple[tuple[str, str], ...] = ()
        if count is None:
            count = estimate_request_tokens(exchange.request)
            headers = (("x-apibridge-token-count", "estimate"),)
            call.note = "estimate"
        call.usage = Usage(input_tokens=count)
        return self._json(call, 200, {"input_tokens": count}, extra=headers)

    # --------------------------------------------------------------------- streaming

    async def _stream(
        self,
        call: _Call,
        exchange: Exchange,
        transport: Transport,
        full_input: list[Any] | None,
    ) -> HttpResponse:
        events = transport.stream(exchange)
        try:
            first = await anext(events)
        except StopAsyncIteration:
            raise UpstreamError(
                ApiError.of("bad_gateway", f"upstream {call.upstream} sent an empty stream")
            ) from None
        except BaseException:
            await aclose_shielded(events)
            raise
        body = self._stream_body(call, exchange, events, first, full_input)
        self.counters["streams_open"] += 1
        # run the body to its priming point, inside its try: from now on its aclose() runs the
        # finally (closes the upstream) even when the driver never asks for a chunk (the
        # client left, or the server failed to send the status line)
        await anext(body)
        return HttpResponse(status=200, headers=self._headers(call, _SSE_HEADERS), stream=body)

    async def _stream_body(
        self,
        call: _Call,
        exchange: Exchange,
        events: AsyncIterator[Event],
        first: Event,
        full_input: list[Any] | None,
    ) -> AsyncGenerator[bytes, None]:
        encoder = exchange.client.StreamEncoder(exchange.ctx)
        call.status = 200
        finished = False
        try:
            yield b""  # the priming point (see _stream); never sent
            try:
                out = self._encode(call, encoder, first)
                if out:
                    yield out
                async for event in events:
                    out = self._encode(call, encoder, event)
                    if out:
                        yield out
                tail = b"".join(encoder.close())
            except Exception as exc:
                # the stream has begun: the only way left to say so is in-band
                error = exc.error if isinstance(exc, ApibridgeError) else None
                if isinstance(exc, StoreUnavailable):
                    log.error("%s: state store unavailable: %s", call.request_id, exc.detail)
                if error is None:
                    log.exception("%s: internal error mid-stream", call.request_id)
                    error = ApiError.of(
                        "api_error", f"internal error (request id {call.request_id})"
                    )
                call.note = f"error={error.kind}"
                tail = b"".join(encoder.feed(StreamError(error=error)))
                tail += b"".join(encoder.close())
            if tail:
                yield tail
            finished = True
        finally:
            await aclose_shielded(events)
            self.counters["streams_open"] -= 1
            if not finished:
                call.note = call.note or "client went away"
            elif full_input is not None:
                # the Responses encoder keeps the response object it wrote last
                final = getattr(encoder, "final_response", None)
                if final is not None:
                    await self._save(call, final, full_input)
            self._report_losses(call, exchange)
            call.log()

    def _encode(self, call: _Call, encoder: Any, event: Event) -> bytes:
        if isinstance(event, MessageStart | MessageDelta):
            call.add_usage(event.usage)
        elif isinstance(event, StreamError):
            error: ApiError = event.error
            call.note = f"error={error.kind}"
            self.counters["errors"] += 1
        return b"".join(encoder.feed(event))

    # --------------------------------------------------------------------- answers

    def _headers(
        self, call: _Call, base: tuple[tuple[str, str], ...]
    ) -> tuple[tuple[str, str], ...]:
        return (*base, ("x-request-id", call.request_id), ("request-id", call.request_id))

    def _json(
        self,
        call: _Call,
        status: int,
        body: Any,
        *,
        head: bool = False,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> HttpResponse:
        headers = self._headers(call, (("content-type", "application/json"), *extra))
        return HttpResponse(status=status, headers=headers, body=b"" if head else _json.dumps(body))

    def _error(self, call: _Call, error: ApiError) -> HttpResponse:
        status, body = get_codec(call.format).encode_error(error)
        extra: list[tuple[str, str]] = []
        if error.retry_after is not None:
            extra.append(("retry-after", str(max(math.ceil(error.retry_after), 0))))
        if isinstance(error, AllowError):
            extra.append(("allow", error.allow))
        call.note = call.note or f"error={error.kind}"
        return self._json(call, status, body, head=call.method == "HEAD", extra=tuple(extra))

    def _finish(self, call: _Call, response: HttpResponse) -> HttpResponse:
        call.status = response.status
        if response.status >= 400:
            self.counters["errors"] += 1
        call.log()
        return response

    def _report_losses(self, call: _Call, exchange: Exchange) -> None:
        """Log what could not be carried: each kind of loss at WARNING the first time it is
        seen for an upstream, at DEBUG after that (a client such as Claude Code repeats the same
        losses on every request; the first report says it, the rest would drown the log)."""
        for loss in exchange.losses:
            self.counters["losses"] += 1
            kind = (call.upstream, _INDEX.sub("[]", loss.field), loss.reason)
            if kind in self._losses_seen:
                log.debug("%s: %s", call.request_id, loss)
                continue
            if len(self._losses_seen) < _LOSS_KINDS_MAX:
                self._losses_seen.add(kind)
            log.warning("%s: %s (repeats are logged at debug level)", call.request_id, loss)

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
            "counters": dict(self.counters),
        }


def _inflate(raw: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        out = decompressor.decompress(raw, limit + 1)
    except zlib.error:
        raise InvalidPayload("the request body is not valid gzip/deflate data") from None
    if len(out) > limit:
        raise GatewayError(
            ApiError.of("request_too_large", f"the request body is larger than {limit} bytes")
        )
    return out


def _new_hex() -> str:
    return uuid.uuid4().hex
