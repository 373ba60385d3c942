"""The gateway as a plain ASGI application: ``apibridge.asgi.App``.

Theory of operation
-------------------
:class:`App` is an ``async (scope, receive, send)`` callable and imports no framework, so any
ASGI server runs it (``uvicorn apibridge_app:app``) and any framework mounts it
(``starlette_app.mount("/llm", App(...))``, the same call in FastAPI). It is a thin driver
over the sans-IO :class:`apibridge._gateway._handler.Handler`:

1. ``lifespan``: ``startup`` creates the upstream connection pool in the server's loop (and
   checks that a configured Redis store answers), ``shutdown`` closes the pool and the Redis
   client. A mounted app gets no lifespan events (Starlette does not forward them), so the
   pool is also created on first use; call :meth:`App.aclose` from the host application's
   own shutdown.
2. ``http``: the request head goes to :meth:`Handler.check` first (``Host``, ``Origin``,
   path, method, key, content type or ``Content-Length`` refused: answered without reading
   the body); the body is then read up to the configured limit (413 beyond it) within
   ``server.body_timeout`` (408 past it) and the request handled. An open gateway (no
   client keys) warns once when a request arrives on a non-loopback address (the server's
   address in ``scope["server"]``).
3. While the handler works on the request, a second task listens for ``http.disconnect``:
   a client that leaves during a long non-streamed answer (or before a stream's first
   event) cancels the work, which closes the upstream request.
4. A streamed answer is sent chunk by chunk while a second task listens for
   ``http.disconnect``. When the client goes away the sending task is cancelled and the
   response generator closed (shielded from the cancellation), which closes the upstream
   request at once instead of letting the model generate for nobody.

A mounted app sees the full path with the mount point in ``root_path`` (Starlette ≥ 0.33)
or the path below it (older servers); both work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

from apibridge._extras import HTTP_PACKAGES, missing_extra

try:
    import anyio
    import httpx
except ModuleNotFoundError as exc:  # a core install: name the extra
    if exc.name not in HTTP_PACKAGES:
        raise
    raise missing_extra(exc, "apibridge.asgi", "http") from exc

from apibridge._gateway._handler import Handler, HttpRequest, HttpResponse
from apibridge._gateway._http import with_query_key
from apibridge._gateway._limits import warn_if_reached_from_afar
from apibridge.config import GatewayConfig
from apibridge.store import Store
from apibridge.transports import Transport, Transports

__all__ = ["App"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def build_config(
    config: GatewayConfig | None, upstream: str | None, api_key: str | Sequence[str] | None
) -> GatewayConfig:
    """``config``, or the one-line config for ``upstream`` (``"chat=http://…/v1"``)."""
    if config is not None and upstream is not None:
        raise TypeError("pass either config or upstream, not both")
    if config is not None:
        return config
    if upstream is None:
        raise TypeError("pass config=GatewayConfig(...) or upstream='format=base_url'")
    return GatewayConfig.single(upstream, api_key=api_key)


class App:
    """The gateway as an ASGI application.

    Args:
        config: the gateway configuration (see :mod:`apibridge.config`).
        upstream: instead of ``config``, the one-line setup: ``"chat=http://127.0.0.1:11434/v1"``
            routes every model, unchanged, to that upstream.
        api_key: the upstream key(s) for ``upstream``.
        client: an httpx client for the upstream calls (default: an aiohttp-backed pool,
            owned and closed by the app).
        transports: transports by upstream name, replacing those built from the config.
        store: state shared between requests (default: Redis at the configured
            ``server.store_url``, closed with the app; otherwise in this process's memory).
    """

    def __init__(
        self,
        config: GatewayConfig | None = None,
        *,
        upstream: str | None = None,
        api_key: str | Sequence[str] | None = None,
        client: httpx.AsyncClient | None = None,
        transports: Mapping[str, Transport] | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = build_config(config, upstream, api_key)
        self.handler = Handler(
            self.config, transports=Transports(transports, client=client), store=store
        )
        # an open gateway warns once when a request arrives on a non-loopback address
        self._watch_address = not (self.config.server.client_keys or self.config.server.allow_open)

    async def aclose(self) -> None:
        """Close the upstream pool and the Redis client (for hosts that do not forward
        lifespan events)."""
        await self.handler.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.handler.startup()
                except Exception as exc:  # report it the way the server expects
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.handler.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        path = scope.get("path", "/")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        given: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", ()):
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            given[name] = f"{given[name]}, {value}" if name in given else value
        query = scope.get("query_string", b"").decode("latin-1")
        headers = with_query_key(given, query)  # a Google client's ?key=
        if self._watch_address:
            local = scope.get("server")
            if local and warn_if_reached_from_afar(self.config.server, str(local[0])):
                self._watch_address = False
        rejected = self.handler.check(method, path, headers)
        if rejected is not None:
            await _send_whole(send, rejected)
            return
        body: bytearray | None = None
        with anyio.move_on_after(self.config.server.body_timeout) as reading:
            body = await _read_body(receive, self.handler.max_body)
        if reading.cancelled_caught:
            await _send_whole(send, self.handler.too_slow(method, path, headers))
            return
        if body is None:
            await _send_whole(send, self.handler.too_large(method, path, headers))
            return
        request = HttpRequest(method=method, path=path, query=query, headers=headers, body=body)
        response = await _handle_watching(self.handler, request, receive)
        if response is None:
            return  # the client left before the answer: nobody to send it to
        if response.stream is None:
            await _send_whole(send, response)
        else:
            await _send_stream(send, receive, response)


async def _read_body(receive: Receive, limit: int) -> bytearray | None:
    """The request body, or ``None`` once it exceeds ``limit`` bytes.

    Gathered in one ``bytearray`` (a list of chunks joined at the end held the body twice),
    which the handler empties once it has parsed it (:func:`apibridge._gateway._http.
    read_json_body`), so a large body is not kept beside its parsed form.
    """
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return body


async def _handle_watching(
    handler: Handler, request: HttpRequest, receive: Receive
) -> HttpResponse | None:
    """``handler.handle(request)``, cancelled when the client goes away meanwhile (a long
    non-streamed generation, or the wait for a stream's first event, then stops upstream
    too); ``None`` in that case.

    On asyncio the watcher is a plain task that cancels an anyio cancel scope around the
    handler when the client leaves, and is itself cancelled natively when the answer is
    ready: the same anyio cancellation of the handler (shields respected), without a task
    group per request, whose cancellation formats the task's repr every time. Elsewhere
    (trio) a task group does the same.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return await _handle_watching_group(handler, request, receive)
    with anyio.CancelScope() as scope:
        watcher = asyncio.ensure_future(_watch(receive, scope))
        try:
            return await handler.handle(request)
        finally:
            if watcher.done():
                if not watcher.cancelled() and watcher.exception() is not None:
                    raise watcher.exception()  # type: ignore[misc]
            else:
                watcher.cancel()
    return None  # the scope was cancelled: the client left


async def _watch(receive: Receive, scope: anyio.CancelScope) -> None:
    """Wait for ``http.disconnect``, then cancel ``scope``."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


async def _handle_watching_group(
    handler: Handler, request: HttpRequest, receive: Receive
) -> HttpResponse | None:
    """:func:`_handle_watching` with an anyio task group (any anyio backend)."""
    answered: list[HttpResponse] = []
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    group.cancel_scope.cancel()
                    return

        group.start_soon(watch)
        answered.append(await handler.handle(request))
        group.cancel_scope.cancel()
    return answered[0] if answered else None


def _start(response: HttpResponse) -> Message:
    return {
        "type": "http.response.start",
        "status": response.status,
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers],
    }


async def _send_whole(send: Send, response: HttpResponse) -> None:
    await send(_start(response))
    await send({"type": "http.response.body", "body": response.body, "more_body": False})


async def _send_stream(send: Send, receive: Receive, response: HttpResponse) -> None:
    stream = response.stream
    assert stream is not None
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        await _send_stream_group(send, receive, response, stream)
        return
    try:
        # as in _handle_watching: a plain watcher task cancels the anyio scope of the sender
        with anyio.CancelScope() as scope:
            watcher = asyncio.ensure_future(_watch(receive, scope))
            try:
                await _write_stream(send, response, stream)
            finally:
                if watcher.done():
                    if not watcher.cancelled() and watcher.exception() is not None:
                        raise watcher.exception()  # type: ignore[misc]
                else:
                    watcher.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await stream.aclose()


async def _send_stream_group(
    send: Send, receive: Receive, response: HttpResponse, stream: AsyncGenerator[bytes, None]
) -> None:
    """:func:`_send_stream` with an anyio task group (any anyio backend)."""
    try:
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                # the only sign of a client that left is this message; stop everything then
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        group.cancel_scope.cancel()
                        return

            group.start_soon(watch)
            await _write_stream(send, response, stream)
            group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await stream.aclose()


async def _write_stream(
    send: Send, response: HttpResponse, stream: AsyncGenerator[bytes, None]
) -> None:
    """The status line, then each chunk of ``stream`` as it comes, then the end."""
    try:
        await send(_start(response))
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass  # some servers raise when writing to a closed connection
