"""The HTTP transport: any upstream that speaks ``anthropic``, ``chat``, ``responses`` or
``gemini``.

Theory of operation
-------------------
:class:`HttpTransport` encodes the exchange's canonical request in the upstream's format
(``exchange.upstream_request``), POSTs it with the httpx client it was given to the
operation's URL (:mod:`._paths`: a Gemini upstream's names the model and the kind of call;
its key goes in ``x-goog-api-key``), and decodes the
answer: a JSON body through ``exchange.decode_response``, or SSE bytes through
:class:`apibridge._sse.SSEDecoder` and ``exchange.stream_decoder()``, one chunk at a time
(nothing is buffered; each event is decoded when asked for and yielded as soon as its frame is
complete; a large read is cut in slices, :mod:`._slices`). Both give the client's tool names
back. Client headers and a forwarded client key come in :class:`~apibridge.transports.Forwarding`
beside the exchange. :func:`default_client` builds the gateway's shared httpx client.

Failure handling, in order:

1. *Before a response*: connect errors are retried (the request never reached the upstream);
   a first-byte timeout is not (the upstream may be generating) and becomes HTTP 504.
2. *An error status*: the body is decoded with the upstream codec's ``decode_error`` into an
   :class:`~apibridge.errors.ApiError` (``Retry-After`` / ``retry-after-ms`` become
   ``retry_after``; the upstream's keys are scrubbed from the message). 429, 500, 502, 503,
   504 and 529 are retried with exponential backoff and jitter, or after ``Retry-After`` when
   the upstream asks for a wait no longer than ``retries.max_retry_after``; otherwise the
   error goes to the caller as :class:`~apibridge.errors.UpstreamError`.
3. *A success status whose body is an error* (``{"error": …}``, Anthropic's
   ``{"type": "error", …}``; :meth:`apibridge.Exchange.answer_error`), also as the whole
   body where a stream was asked for (bytes without a single SSE frame), is the error it
   says, raised with its status from its own type or code. *A stream whose first event is
   an error* (Anthropic's in-band ``overloaded_error``) is treated like an error status:
   nothing has reached the client, so it may be retried, and otherwise it is raised, so the
   client gets a real HTTP error status.
4. *After the first event*: nothing is retried. A broken connection, a stall longer than the
   idle timeout or an undecodable event ends the stream with a ``StreamError`` event.

Every error quoting the upstream (with or without a ``type``) goes through ``_redact``
(:func:`apibridge._secrets.redact`); the gateway scrubs every error again on its way out.

httpx and anyio exceptions are translated here and nowhere else. The upstream response is
closed in every case, under a shielded cancel scope, so a client that goes away (which
cancels the task or closes the event generator) closes the upstream request at once.
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs

from apibridge._extras import HTTP_PACKAGES, missing_extra

try:
    import anyio
    import httpx
except ModuleNotFoundError as exc:  # a core install: name the extra
    if exc.name not in HTTP_PACKAGES:
        raise
    raise missing_extra(exc, "apibridge.transports.http", "http") from exc

from apibridge import _json
from apibridge._exchange import Exchange
from apibridge._secrets import redact_error
from apibridge._sse import SSEDecoder
from apibridge.config import UpstreamConfig
from apibridge.errors import ApiError, InvalidPayload, UpstreamError
from apibridge.model import Event, Request, Response, StreamError
from apibridge.transports._closing import aclose_shielded
from apibridge.transports._paths import (
    COUNTING_FORMATS,
    ENDPOINTS,
    count_body,
    count_of,
    gemini_model,
    gemini_root,
    gemini_url,
    listed_models,
    without_model,
)
from apibridge.transports._pool import POOLED_RESPONSE, PooledClient, default_client
from apibridge.transports._protocol import NO_FORWARDING, Forwarding, note_retry
from apibridge.transports._retry_after import parse_retry_after
from apibridge.transports._slices import in_slices

__all__ = ["RETRY_STATUSES", "HttpTransport", "default_client", "parse_retry_after"]

#: upstream statuses worth another attempt (rate limits, overload, transient server errors).
RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504, 529})

#: in-band error kinds that, arriving as a stream's first event, are worth another attempt:
#: the upstream declined the work (nothing was generated, nothing billed).
_RETRY_KINDS: frozenset[str] = frozenset({"rate_limit", "unavailable", "overloaded"})

#: client headers an Anthropic upstream receives unchanged (the beta policy).
_ANTHROPIC_FORWARD = ("anthropic-beta", "anthropic-version")
_ANTHROPIC_VERSION = "2023-06-01"

_MAX_BODY = 64 * 1024 * 1024  # a non-streamed answer larger than this is refused
_MAX_ERROR_BODY = 256 * 1024
_MAX_MODEL_URLS = 256  # a Gemini upstream's URLs by (operation, model), made once each


class HttpTransport:
    """Carries exchanges to one upstream over HTTP (see the module docstring).

    Args:
        config: the upstream (format, base URL, keys, headers, limits, timeouts, retries).
        client: the httpx client to send with; the caller owns it and closes it.
    """

    def __init__(self, config: UpstreamConfig, *, client: httpx.AsyncClient) -> None:
        if config.format not in ENDPOINTS:
            raise ValueError(f"HttpTransport cannot speak {config.format!r}")
        self.config = config
        self.client = client
        self._gemini = config.format == "gemini"
        base = gemini_root(config.base_url) if self._gemini else config.base_url.rstrip("/")
        self._root = base
        # parsed once: building an httpx URL from text costs more than the rest of a request
        self._urls = {op: httpx.URL(base + path) for op, path in ENDPOINTS[config.format].items()}
        self._model_urls: dict[tuple[str, str], tuple[httpx.URL, Any]] = {}
        self._turn = 0  # key rotation
        self._direct: dict[str, Any] = {}  # the default client's URLs and timeout (aiohttp's)
        if isinstance(client, PooledClient):
            import aiohttp
            import yarl

            t = config.timeouts
            self._direct = {op: yarl.URL(str(url), encoded=True) for op, url in self._urls.items()}
            # what httpx-aiohttp makes of _timeout() below, made once
            self._direct_timeout = aiohttp.ClientTimeout(
                sock_connect=t.connect, sock_read=None, connect=t.connect
            )

    @classmethod
    def from_config(
        cls, config: UpstreamConfig, *, client: httpx.AsyncClient, store: Any = None
    ) -> HttpTransport:
        """The transport for ``config`` (``store`` is unused: HTTP upstreams are stateless)."""
        return cls(config, client=client)

    async def aclose(self) -> None:
        """Nothing to release: the httpx client belongs to the caller."""

    # ----------------------------------------------------------------------- requests

    def prepare(self, exchange: Exchange, *, stream: bool) -> Request:
        """The canonical request as this upstream gets it: ``stream`` set (the gateway's
        request policies, limits included, were applied when the exchange was built)."""
        request = exchange.request
        return request if request.stream is stream else attrs.evolve(request, stream=stream)

    def headers(
        self,
        forwarding: Forwarding = NO_FORWARDING,
        *,
        stream: bool = False,
        betas: Sequence[str] = (),
    ) -> dict[str, str]:
        """The request headers: auth with the next key, format headers, configured extras.
        ``betas`` are ``anthropic-beta`` flags the encoded request needs (``Context.need_beta``),
        added to the client's own for an Anthropic upstream."""
        headers = {"content-type": "application/json"}
        if stream:
            headers["accept"] = "text/event-stream"
        key = self._key_for(forwarding)
        if self.config.format == "anthropic":
            headers["anthropic-version"] = _ANTHROPIC_VERSION
            for name in _ANTHROPIC_FORWARD:
                if name in forwarding.headers:
                    headers[name] = forwarding.headers[name]
            if betas:
                headers["anthropic-beta"] = _with_betas(headers.get("anthropic-beta"), betas)
            if key:
                headers["x-api-key"] = key
        elif self._gemini:
            if key:
                headers["x-goog-api-key"] = key
        elif key:
            headers["authorization"] = f"Bearer {key}"
        headers.update(forwarding.trace_headers)  # traceparent, with server.traces on
        headers.update(self.config.headers)
        return headers

    def _key_for(self, forwarding: Forwarding) -> str | None:
        """The client's own key where this upstream forwards it, else the next configured one."""
        if self.config.forward_client_key and forwarding.key:
            return forwarding.key
        return self._next_key()

    def _next_key(self) -> str | None:
        keys = self.config.api_keys
        if not keys:
            return None
        self._turn += 1
        return keys[self._turn % len(keys)]

    def _target(self, operation: str, model: str | None) -> tuple[httpx.URL, Any]:
        """``operation``'s URL, and the default pool's form of it (``None`` without that
        pool); a Gemini upstream's for ``model``, made on first use."""
        if model is None:
            return self._urls[operation], self._direct.get(operation)
        found = self._model_urls.get((operation, model))
        if found is None:
            url = httpx.URL(gemini_url(self._root, operation, model))
            direct = None
            if isinstance(self.client, PooledClient):
                import yarl

                direct = yarl.URL(str(url), encoded=True)
            if len(self._model_urls) >= _MAX_MODEL_URLS:  # any model name may be routed
                self._model_urls.clear()
            found = self._model_urls[(operation, model)] = (url, direct)
        return found

    def _payload(self, exchange: Exchange, *, stream: bool) -> tuple[bytes, str | None]:
        """The encoded request, and the model its URL names (a Gemini upstream's; else None)."""
        body = exchange.upstream_request(self.prepare(exchange, stream=stream))
        if not self._gemini:
            return _json.dumps(body), None
        return _json.dumps(without_model(body)), gemini_model(body)

    # ----------------------------------------------------------------------- sending

    def _timeout(self) -> httpx.Timeout:
        # read=None: the first-byte and idle deadlines are enforced around each await here,
        # independent of which httpx transport (native or aiohttp) is underneath
        t = self.config.timeouts
        return httpx.Timeout(connect=t.connect, read=None, write=t.first_byte, pool=t.connect)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        note_retry()  # every retry waits this long first: the one place that counts them
        r = self.config.retries
        backoff = min(r.backoff * 2**attempt, r.backoff_max) * random.uniform(0.5, 1.0)
        return float(backoff if retry_after is None else retry_after)

    async def _send(
        self,
        exchange: Exchange,
        forwarding: Forwarding,
        operation: str,
        body: bytes,
        *,
        stream: bool,
        attempt: int,
        model: str | None = None,
    ) -> tuple[httpx.Response, int]:
        """POST ``body`` to ``operation``'s URL (for ``model``: a Gemini upstream's) with
        retries; the 2xx response (unread) and the attempts used."""
        url, direct = self._target(operation, model)
        retries = self.config.retries
        name = self.config.name
        client = self.client
        first_byte = self.config.timeouts.first_byte
        while True:
            headers = self.headers(forwarding, stream=stream, betas=exchange.ctx.upstream_betas)
            retry_after: float | None = None
            try:
                # fail_after(first_byte), as in _events
                with anyio.CancelScope(deadline=anyio.current_time() + first_byte) as scope:
                    if direct is not None:
                        assert isinstance(client, PooledClient)
                        response = await client.post_direct(
                            direct, client.merged_headers(headers), body, self._direct_timeout
                        )
                    else:
                        request = client.build_request(
                            "POST", url, content=body, headers=headers, timeout=self._timeout()
                        )
                        response = await client.send(request, stream=True)
                if scope.cancelled_caught:
                    raise TimeoutError
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                error = ApiError.of(
                    "bad_gateway",
                    f"cannot reach upstream {name}: {_connect_failure(exc)}",
                    source_format=self.config.format,
                )
            except TimeoutError:
                raise UpstreamError(
                    ApiError.of(
                        "timeout",
                        f"upstream {name} did not answer within "
                        f"{self.config.timeouts.first_byte:g} s",
                    )
                ) from None
            except httpx.HTTPError as exc:
                raise UpstreamError(self._broken(exc)) from None
            else:
                if response.status_code < 400:
                    return response, attempt
                try:
                    error = await self._error(exchange, response)
                finally:
                    await _close(response)
                if response.status_code not in RETRY_STATUSES:
                    raise UpstreamError(error)
                retry_after = error.retry_after
                if retry_after is not None and retry_after > retries.max_retry_after:
                    raise UpstreamError(error)
            if attempt >= retries.attempts:
                raise UpstreamError(error)
            await anyio.sleep(self._delay(attempt, retry_after))
            attempt += 1

    async def _error(self, exchange: Exchange, response: httpx.Response) -> ApiError:
        """The upstream's error response, decoded and scrubbed."""
        raw = b""
        with contextlib.suppress(UpstreamError):  # the status alone is still an error
            raw = await self._read(response, _MAX_ERROR_BODY)
        body: Any
        try:
            body = _json.loads(raw)
        except InvalidPayload:
            body = raw.decode("utf-8", "replace")
        error = exchange.upstream.decode_error(body, response.status_code)
        headers = response.headers
        return attrs.evolve(
            self._redact(error),
            retry_after=error.retry_after
            if error.retry_after is not None
            else parse_retry_after(headers),
            request_id=error.request_id or headers.get("request-id") or headers.get("x-request-id"),
        )

    def _redact(self, error: ApiError) -> ApiError:
        """``error`` without this upstream's keys, or anything shaped like a key, in it."""
        return redact_error(error, self.config.api_keys)

    def _fault(self, error: ApiError) -> ApiError:
        """A stream error as the client should see it.

        An error without a wire ``type`` did not come from the upstream: it is the decoder's
        complaint about the upstream's bytes (not JSON, ended early), a bad gateway (502)
        rather than an internal error. Errors the upstream sent keep their kind.
        """
        if error.type is None and error.kind == "api_error":
            error = ApiError.of(
                "bad_gateway",
                f"upstream {self.config.name}: {error.message}",
                source_format=error.source_format,
            )
        return self._redact(error)  # both kinds quote the upstream's words

    def _broken(self, exc: BaseException) -> ApiError:
        """A transport failure after the request was sent, as an API error."""
        name = self.config.name
        if isinstance(exc, httpx.TimeoutException):
            return ApiError.of("timeout", f"upstream {name} timed out ({type(exc).__name__})")
        return ApiError.of(
            "bad_gateway", f"the connection to upstream {name} broke ({type(exc).__name__})"
        )

    def _reader(
        self, response: httpx.Response
    ) -> tuple[
        Callable[[], Awaitable[bytes | None]], Callable[[], contextlib.AbstractContextManager[None]]
    ]:
        """How to read ``response``'s body: a call that gives the next chunk (``None`` or
        ``b""`` at the end; never an empty chunk before it), and the context that maps the
        pool's errors to httpx ones around each call.

        With the default pool and nothing to decode, the aiohttp response's chunks, read
        directly (what ``aiter_bytes`` would give, without httpx's three async generators per
        chunk) in slices of at most 64 KiB: a read gives the whole buffer. Else ``aiter_bytes``.
        """
        pooled = response.extensions.get(POOLED_RESPONSE)
        client = self.client
        if (
            pooled is not None
            and isinstance(client, PooledClient)
            and "content-encoding" not in response.headers
        ):
            return in_slices(pooled.content.readany), client.mapped_errors
        return functools.partial(anext, response.aiter_bytes(), None), contextlib.nullcontext

    async def _read(self, response: httpx.Response, limit: int) -> bytes:
        """The whole body, each chunk within the idle timeout, at most ``limit`` bytes."""
        chunks: list[bytes] = []
        size = 0
        idle = self.config.timeouts.idle
        read, mapped_errors = self._reader(response)
        now = anyio.current_time
        try:
            # one cancel scope for the whole body, its deadline moved before each chunk:
            # the same idle limit as a fail_after per chunk, at a third of the cost
            with anyio.CancelScope() as scope, mapped_errors():
                while True:
                    scope.deadline = now() + idle
                    chunk = await read()
                    if not chunk:  # None or b"": the end (neither source yields empty chunks)
                        return b"".join(chunks)
                    size += len(chunk)
                    if size > limit:
                        raise UpstreamError(
                            ApiError.of(
                                "bad_gateway",
                                f"upstream {self.config.name} answered over {limit} bytes",
                            )
                        )
                    chunks.append(chunk)
            raise TimeoutError  # the scope's deadline passed: it caught its own cancellation
        except TimeoutError:
            raise UpstreamError(
                ApiError.of(
                    "timeout", f"upstream {self.config.name} stalled for more than {idle:g} s"
                )
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamError(self._broken(exc)) from None

    # ----------------------------------------------------------------------- the protocol

    async def complete(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> Response:
        """See :meth:`apibridge.transports.Transport.complete`."""
        payload, model = self._payload(exchange, stream=False)
        response, _ = await self._send(
            exchange, forwarding, "messages", payload, stream=False, attempt=0, model=model
        )
        try:
            raw = await self._read(response, _MAX_BODY)
        finally:
            await _close(response)
        fmt = self.config.format
        try:
            return exchange.decode_response(_json.loads(raw))
        except UpstreamError as exc:  # a 200 that is an error (an error body, a failed answer)
            raise UpstreamError(self._redact(exc.error)) from None
        except InvalidPayload as exc:
            raise UpstreamError(
                self._redact(
                    ApiError.of(
                        "bad_gateway",
                        f"upstream {self.config.name} sent an invalid {fmt} response: {exc}",
                        source_format=fmt,
                    )
                )
            ) from None

    async def stream(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> AsyncIterator[Event]:
        """See :meth:`apibridge.transports.Transport.stream`."""
        payload, model = self._payload(exchange, stream=True)
        operation = "stream" if self._gemini else "messages"
        attempt = 0
        while True:
            start = anyio.current_time()
            response, attempt = await self._send(
                exchange, forwarding, operation, payload, stream=True, attempt=attempt, model=model
            )
            remaining = self.config.timeouts.first_byte - (anyio.current_time() - start)
            events = self._events(exchange, response, max(remaining, 0.001))
            try:
                first = await anext(events, None)
                if first is None:
                    raise UpstreamError(
                        ApiError.of(
                            "bad_gateway", f"upstream {self.config.name} sent an empty stream"
                        )
                    )
                if isinstance(first, StreamError):
                    error: ApiError = first.error
                    if error.kind in _RETRY_KINDS and attempt < self.config.retries.attempts:
                        await aclose_shielded(events)
                        await anyio.sleep(self._delay(attempt, error.retry_after))
                        attempt += 1
                        continue
                    raise UpstreamError(error)
                yield first
                async for event in events:
                    yield event
                return
            finally:
                await aclose_shielded(events)

    async def _events(
        self, exchange: Exchange, response: httpx.Response, first_wait: float
    ) -> AsyncIterator[Event]:
        """Canonical events from ``response``'s SSE body; failures end it with a StreamError."""
        frames = SSEDecoder(strict=True)  # bytes that are not UTF-8: an error, not U+FFFD
        decoder = exchange.stream_decoder()  # client tool names in its events
        name = self.config.name
        idle = self.config.timeouts.idle
        wait = first_wait
        read, mapped_errors = self._reader(response)
        now = anyio.current_time
        head: list[bytes] | None = []  # the bytes before any frame (an error body is no SSE)
        try:
            while True:
                try:
                    # fail_after(wait), without its two generator frames and backend look-ups
                    with anyio.CancelScope(deadline=now() + wait) as scope, mapped_errors():
                        chunk = (await read()) or None  # None: the end
                    if scope.cancelled_caught:
                        raise TimeoutError
                except TimeoutError:
                    yield StreamError(
                        error=ApiError.of("timeout", f"upstream {name} sent nothing for {wait:g} s")
                    )
                    return
                except httpx.HTTPError as exc:
                    yield StreamError(error=self._broken(exc))
                    return
                wait = idle
                try:
                    if chunk is None:
                        if head:  # bytes but no event at all: an error body instead of a stream?
                            error = self._body_error(exchange, b"".join(head))
                            if error is not None:
                                yield StreamError(error=error)
                                return
                        last = [e for f in frames.close() for e in decoder.feed(f)]
                        events = iter(last + decoder.close())
                    else:
                        got = frames.feed(chunk)
                        if head is not None:  # kept until the first frame, at most 256 KiB
                            size = sum(map(len, head)) + len(chunk)
                            head = None if got or size > _MAX_ERROR_BODY else [*head, chunk]
                        events = (e for f in got for e in decoder.feed(f))  # lazily
                    for event in events:
                        if isinstance(event, StreamError):
                            yield StreamError(error=self._fault(event.error))
                            return
                        yield event
                except InvalidPayload as exc:
                    yield StreamError(
                        error=self._redact(
                            ApiError.of(
                                "bad_gateway",
                                f"upstream {name} sent an invalid {self.config.format} "
                                f"event: {exc}",
                            )
                        )
                    )
                    return
                if chunk is None:
                    return
        finally:
            await _close(response)

    def _body_error(self, exchange: Exchange, raw: bytes) -> ApiError | None:
        """The error a JSON error body sent instead of a stream says (scrubbed), or None."""
        try:
            body = _json.loads(raw)
        except InvalidPayload:
            return None
        error = exchange.answer_error(body) if isinstance(body, Mapping) else None
        return None if error is None else self._redact(error)

    # ----------------------------------------------------------------------- extras

    async def count_tokens(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> int | None:
        """The upstream's own input-token count (Anthropic and Gemini upstreams); ``None``
        elsewhere."""
        fmt = self.config.format
        if fmt not in COUNTING_FORMATS:
            return None
        body = exchange.upstream_request(self.prepare(exchange, stream=False))
        payload = _json.dumps(count_body(fmt, body))
        model = gemini_model(body) if self._gemini else None
        response, _ = await self._send(
            exchange, forwarding, "count_tokens", payload, stream=False, attempt=0, model=model
        )
        try:
            raw = await self._read(response, _MAX_ERROR_BODY)
        finally:
            await _close(response)
        try:
            count = count_of(fmt, _json.loads(raw))
        except InvalidPayload:
            count = None
        if count is None:
            raise UpstreamError(
                ApiError.of("bad_gateway", f"upstream {self.config.name} sent an invalid count")
            )
        return count

    async def list_models(self) -> Sequence[Mapping[str, Any]]:
        """The upstream's model list (each entry has at least ``id``); empty when unavailable."""
        headers = self.headers()
        headers.pop("content-type", None)
        wait = min(self.config.timeouts.first_byte, 15.0)
        try:
            with anyio.fail_after(wait):
                response = await self.client.get(
                    self._urls["models"], headers=headers, timeout=self._timeout()
                )
        except (TimeoutError, httpx.HTTPError):
            return []
        if response.status_code != 200:
            return []
        try:
            return listed_models(self.config.format, _json.loads(response.content))
        except InvalidPayload:
            return []


async def _close(response: httpx.Response) -> None:
    pooled = response.extensions.get(POOLED_RESPONSE)
    if pooled is not None and pooled.content.at_eof():
        # the body was read to its end: releasing the connection to the pool cannot wait on
        # anything, so it needs neither httpx's close layers nor a shielded await
        pooled.release()
        return
    await aclose_shielded(response, broken=(httpx.HTTPError,))


def _connect_failure(exc: httpx.HTTPError) -> str:
    """Say why a connection failed, in words, without the upstream's address.

    The aiohttp pool reports a refused connection as ``ConnectTimeout`` (its
    ``ClientConnectorError`` is mapped so): tell it apart from a real time-out by the cause.
    """
    cause = exc.__cause__
    if isinstance(exc, httpx.PoolTimeout):
        return "no free connection in the pool in time"
    if isinstance(exc, httpx.ConnectError) or type(cause).__name__ == "ClientConnectorError":
        return "the connection was refused or failed"
    return "timed out while connecting"


def _with_betas(sent: str | None, betas: Sequence[str]) -> str:
    """The ``anthropic-beta`` value ``sent`` (comma-separated) with ``betas`` added."""
    flags = [f.strip() for f in sent.split(",") if f.strip()] if sent else []
    flags += [b for b in betas if b not in flags]
    return ",".join(flags)
