"""The gateway's default httpx client: an aiohttp pool behind the httpx interface.

:func:`default_client` builds it (re-exported by :mod:`apibridge.transports.http`);
:class:`PooledClient` is that client, through which
:class:`~apibridge.transports.http.HttpTransport` also posts directly, skipping httpx's
per-request layers (see the class). Upstream cookies are never kept (:class:`NoCookies`).
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

__all__ = ["POOLED_RESPONSE", "NoCookies", "PooledClient", "default_client"]

#: the ``extensions`` key under which :meth:`PooledClient.post_direct` leaves the aiohttp
#: response behind its ``httpx.Response``: :class:`HttpTransport` reads and releases it
#: directly, without httpx's stream, decoder and close layers, when nothing needs decoding.
POOLED_RESPONSE = "apibridge.aiohttp_response"

#: a request body larger than this is written to the upstream in slices of this size.
SEND_SLICE = 256 * 1024


async def _slices(body: bytes) -> AsyncIterator[memoryview]:
    """``body`` in slices of :data:`SEND_SLICE` bytes, none of them a copy."""
    view = memoryview(body)
    for start in range(0, len(view), SEND_SLICE):
        yield view[start : start + SEND_SLICE]


class NoCookies(http.cookiejar.CookiePolicy):
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
    ``python -m benchmarks --only gateway`` here); the ``httpx-aiohttp`` transport keeps it. Without
    that package installed, plain httpx. Cookies are never kept: the client is shared by
    every user of the gateway. With the aiohttp pool the client is a :class:`PooledClient`,
    through which :class:`HttpTransport` posts without httpx's per-request machinery.
    """
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    cookies = http.cookiejar.CookieJar(policy=NoCookies())
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:  # pragma: no cover - the `http` extra installs it
        return httpx.AsyncClient(timeout=None, limits=limits, cookies=cookies)
    return PooledClient(AiohttpTransport(limits=limits), cookies=cookies)


class PooledClient(httpx.AsyncClient):
    """The default client: an ``httpx.AsyncClient`` over the ``httpx-aiohttp`` pool that
    :class:`HttpTransport` can also post through directly (:meth:`post_direct`).

    ``client.send`` builds an ``httpx.Request``, merges the client's headers and cookies,
    runs the auth, redirect and event-hook layers, and hands the request to the aiohttp
    transport, which turns it back into text and headers for aiohttp: about a quarter of
    the gateway's time per request. This client has no auth, no hooks, never follows
    redirects and keeps no cookies, so :meth:`post_direct` sends the same request (the
    client's default headers merged the same way, the same timeouts) straight to the
    aiohttp session, and returns the same kind of ``httpx.Response`` with the same stream
    and the same mapping of aiohttp errors to httpx ones; the aiohttp response itself is in
    its ``extensions`` (:data:`POOLED_RESPONSE`).
    """

    def __init__(self, pool: Any, *, cookies: http.cookiejar.CookieJar) -> None:
        from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

        super().__init__(transport=pool, timeout=None, cookies=cookies)
        self._pool = pool
        # bound once here rather than imported on every request
        self._stream_of = AiohttpResponseStream
        self.mapped_errors = map_aiohttp_exceptions
        # the client's default headers (user-agent, accept, accept-encoding …), lower-case
        self._defaults = tuple((k.lower(), v) for k, v in self.headers.items())

    def merged_headers(self, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        """``headers`` over the client's defaults, as ``client.build_request`` merges them."""
        given = {k.lower() for k in headers}
        merged = [(k, v) for k, v in self._defaults if k not in given]
        merged.extend(headers.items())
        return merged

    async def post_direct(
        self, url: Any, headers: list[tuple[str, str]], body: bytes, timeout: Any
    ) -> httpx.Response:
        """POST ``body`` to ``url`` (a ``yarl.URL``); the response, its body unread."""
        if self.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        pool = self._pool
        session = pool.client
        if session is None or callable(session):
            session = pool.client = pool.get_client()
        data: bytes | AsyncIterator[memoryview] = body
        if len(body) > SEND_SLICE:
            # handed over whole, a body is copied twice on its way out (joined to the head,
            # then what the socket did not take at once): in slices, each waits for the last
            headers = [*headers, ("content-length", str(len(body)))]
            data = _slices(body)
        with self.mapped_errors():
            response = await session.request(
                "POST",
                url,
                headers=headers,
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=timeout,
            ).__aenter__()
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1", POOLED_RESPONSE: response}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=self._stream_of(response),
            extensions=extensions,
        )
