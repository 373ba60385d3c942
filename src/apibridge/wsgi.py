"""The gateway as a plain WSGI application: ``apibridge.wsgi.App``.

Theory of operation
-------------------
:class:`App` is a PEP 3333 callable, a second thin driver over the same sans-IO
:class:`apibridge._gateway._handler.Handler` as :mod:`apibridge.asgi` (not an ASGI adapter). The
transports are async, so the app owns **one private event loop on a daemon thread**, started
on the first request:

* WSGI servers call the app from many threads (or processes); every thread submits its
  request's coroutine to that one loop with ``asyncio.run_coroutine_threadsafe`` and waits
  for the result. All requests of a process so share one upstream connection pool, which an
  event loop per request (``asyncio.run``) would throw away each time.
* A private loop rather than ``anyio.from_thread`` / a blocking portal: the portal would need
  an enclosing context manager around the app's whole life, which a WSGI callable does not
  have; the loop thread is started lazily and restarted after a ``fork`` (pre-forking servers
  such as gunicorn import the app before forking, and threads do not survive a fork).
* A streamed answer is an iterable whose each ``next()`` fetches the next chunk from the
  loop. When the server closes the iterable (the response is done, or writing to a departed
  client failed, even before the first chunk), its ``close()`` closes the handler's stream on
  the loop, which closes the upstream request. WSGI gives no other sign of a departed
  client, so it is noticed at the next write.
"""

from __future__ import annotations

import asyncio
import http
import os
import threading
from collections.abc import (
    AsyncGenerator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, TypeVar

from apibridge._extras import HTTP_PACKAGES, missing_extra

try:
    import anyio  # noqa: F401  (the gateway core runs on it)
    import httpx
except ModuleNotFoundError as exc:  # a core install: name the extra
    if exc.name not in HTTP_PACKAGES:
        raise
    raise missing_extra(exc, "apibridge.wsgi", "http") from exc

from apibridge._gateway._handler import Handler, HttpRequest, HttpResponse
from apibridge._gateway._http import with_query_key
from apibridge.asgi import build_config
from apibridge.config import GatewayConfig
from apibridge.store import Store
from apibridge.transports import Transport, Transports

__all__ = ["App"]

T = TypeVar("T")
StartResponse = Callable[..., Any]

_READ_CHUNK = 64 * 1024
_REASONS: Mapping[int, str] = {529: "Overloaded"}


def _status_line(status: int) -> str:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = _REASONS.get(status, "Unknown")
    return f"{status} {reason}"


class _LoopThread:
    """One event loop on a daemon thread, restarted after a fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="apibridge-wsgi-loop", daemon=True
                )
                thread.start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._running()).result()

    def stop(self) -> None:
        """Stop the loop (its thread then ends)."""
        with self._lock:
            if self._loop is not None and self._pid == os.getpid():
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None


class App:
    """The gateway as a WSGI application (arguments as for :class:`apibridge.asgi.App`)."""

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
        self._loop = _LoopThread()

    def close(self) -> None:
        """Close the upstream pool and the Redis client, and stop the private event loop."""
        self._loop.run(self.handler.aclose())
        self._loop.stop()

    def __call__(
        self, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "")) or "/"
        query = str(environ.get("QUERY_STRING", ""))
        headers = with_query_key(_headers(environ), query)  # a Google client's ?key=
        rejected = self.handler.check(method, path, headers)
        if rejected is not None:
            return _whole(start_response, rejected)
        body = _read_body(environ, self.handler.max_body)
        if body is None:
            return _whole(start_response, self.handler.too_large(method, path, headers))
        request = HttpRequest(
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
        )
        response = self._loop.run(self.handler.handle(request))
        if response.stream is None:
            return _whole(start_response, response)
        start_response(_status_line(response.status), list(response.headers))
        return self._iterate(response)

    def _iterate(self, response: HttpResponse) -> Iterator[bytes]:
        stream = response.stream
        assert stream is not None
        return _Chunks(self._loop, stream)


class _Chunks:
    """A streamed answer as a WSGI iterable: each ``next()`` fetches a chunk from the loop.

    An object with ``close()`` rather than a generator: a server may close the iterable
    before asking for a single chunk, and a generator that never started skips its
    ``finally`` then, which would leave the upstream stream open.
    """

    def __init__(self, loop: _LoopThread, stream: AsyncGenerator[bytes, None]) -> None:
        self._loop = loop
        self._stream = stream
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration

        async def next_chunk() -> bytes | None:
            return await anext(self._stream, None)

        chunk = self._loop.run(next_chunk())
        if chunk is None:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        """Close the handler's stream on the loop, which closes the upstream request."""
        if not self._closed:
            self._closed = True
            self._loop.run(self._stream.aclose())


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = str(value)
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = str(environ["CONTENT_LENGTH"])
    return headers


def _read_body(environ: Mapping[str, Any], limit: int) -> bytes | None:
    """The request body, or ``None`` when it exceeds ``limit`` bytes."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = str(environ.get("CONTENT_LENGTH") or "")
    if length.isdigit():
        wanted = int(length)
        if wanted > limit:
            return None
        return bytes(stream.read(wanted)) if wanted else b""
    if not environ.get("wsgi.input_terminated"):
        return b""  # PEP 3333: without a length the body cannot be read safely
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


def _whole(start_response: StartResponse, response: HttpResponse) -> list[bytes]:
    headers = [*response.headers, ("content-length", str(len(response.body)))]
    start_response(_status_line(response.status), headers)
    return [response.body]
