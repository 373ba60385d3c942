"""State that outlives one request: stored Responses, backboard thread and tool-call maps.

:class:`MemoryStore` (the default) keeps values in this process with a TTL, bounded by count
and by bytes (least recently used entries evicted first); :class:`RedisStore` shares them
between processes and machines, bounded by Redis's own ``maxmemory`` (with a
``volatile-lru`` or ``allkeys-lru`` policy: every key apibridge writes has an expiry), which
:func:`start_store` checks. Values are JSON-able; keys are namespaced strings. Nothing that
must survive a restart lives in a module global.

A store that cannot be reached raises :class:`StoreUnavailable`, which the gateway answers
with HTTP 503 ("state store unavailable") in the client's own error format.

A gateway's store has a lifecycle: :func:`open_store` chooses it (the caller's own, else
Redis at ``server.store_url``, else memory) and says whether the gateway owns it;
:func:`start_store` checks that an owned Redis store answers (a warning, not a failure: it
may come up later) and :func:`close_store` closes it.
"""

from __future__ import annotations

import importlib
import logging
import math
import time
from collections import OrderedDict
from types import ModuleType
from typing import Any, Protocol

from apibridge import _json
from apibridge.config import ConfigError, ServerConfig, redact_url
from apibridge.errors import ApibridgeError, InvalidPayload

__all__ = [
    "MemoryStore",
    "RedisStore",
    "Store",
    "StoreUnavailable",
    "close_store",
    "open_store",
    "start_store",
]

log = logging.getLogger("apibridge.gateway")

#: seconds to connect to Redis and to wait for one answer before the store counts as down.
REDIS_TIMEOUT = 5.0

#: the default byte bound of the in-memory store (``server.store_max_bytes``).
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class StoreUnavailable(ApibridgeError):
    """The state store cannot be reached or refused the command (HTTP 503).

    The client sees only "state store unavailable"; ``detail`` (for the log) says why, and
    never holds a password.
    """

    kind = "unavailable"

    def __init__(self, detail: str = "") -> None:
        super().__init__("state store unavailable")
        self.detail = detail


class Store(Protocol):
    """An async key → JSON-value store with per-key expiry.

    A store may also have ``async expire(key, ttl=None) -> bool`` (both built-in stores do):
    stored Responses use it to keep a continued conversation's earlier turns alive as long as
    its newest; without it each turn lives its own TTL.
    """

    async def get(self, key: str) -> Any | None:
        """The value at ``key``, or ``None`` when absent or expired."""
        ...

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        """Store ``value`` at ``key`` for ``ttl`` seconds (the store's default when ``None``)."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; whether it was there."""
        ...


class MemoryStore:
    """In-process store: entries expire after ``ttl`` seconds; bounded to ``max_items``
    entries and ``max_bytes`` bytes (each entry counted as its key and its JSON), the least
    recently used evicted first. Values are kept as JSON, so what :meth:`get` returns is a
    fresh copy and the count is exact. A value larger than ``max_bytes`` on its own is not
    kept (a warning says so); whatever was at its key is removed."""

    def __init__(
        self, *, ttl: float = 24 * 3600, max_items: int = 10_000, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    @property
    def bytes_used(self) -> int:
        """Bytes held now: every entry's key and JSON."""
        return self._bytes

    async def get(self, key: str) -> Any | None:
        """See :meth:`Store.get`."""
        entry = self._items.get(key)
        if entry is None:
            return None
        expires, data = entry
        if expires < time.monotonic():
            self._remove(key)
            return None
        self._items.move_to_end(key)
        return _json.loads(data)

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        """See :meth:`Store.set`."""
        data = _json.dumps(value)
        self._remove(key)
        size = len(key) + len(data)
        if size > self.max_bytes:
            log.warning(
                "store: a value of %d bytes at %r is larger than the whole store "
                "(store_max_bytes = %d); not kept",
                size,
                key,
                self.max_bytes,
            )
            return
        self._items[key] = (time.monotonic() + (self.ttl if ttl is None else ttl), data)
        self._bytes += size
        while len(self._items) > self.max_items or self._bytes > self.max_bytes:
            self._remove(next(iter(self._items)))

    async def expire(self, key: str, ttl: float | None = None) -> bool:
        """Make ``key`` live ``ttl`` more seconds (the default when ``None``); whether it
        was there."""
        entry = self._items.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False
        self._items[key] = (time.monotonic() + (self.ttl if ttl is None else ttl), entry[1])
        return True

    async def delete(self, key: str) -> bool:
        """See :meth:`Store.delete`."""
        return self._remove(key)

    def _remove(self, key: str) -> bool:
        entry = self._items.pop(key, None)
        if entry is None:
            return False
        self._bytes -= len(key) + len(entry[1])
        return True

    def __len__(self) -> int:
        return len(self._items)


def import_redis() -> ModuleType:
    """``redis.asyncio``, or a :class:`~apibridge.config.ConfigError` saying what to install."""
    try:
        return importlib.import_module("redis.asyncio")
    except ImportError:
        raise ConfigError(
            "server.store_url: a Redis store needs the redis package: "
            "pip install 'apibridge[redis]'"
        ) from None


def _failures() -> tuple[type[BaseException], ...]:
    """What a Redis client raises when the server is down, unreachable or refusing."""
    try:
        exceptions = importlib.import_module("redis.exceptions")
    except ImportError:  # a client of some other kind: only socket errors are known
        return (OSError,)
    return (exceptions.RedisError, OSError)


class RedisStore:
    """A store in Redis (``pip install apibridge[redis]``), for several processes or machines.

    ``client`` is a ``redis.asyncio.Redis`` (raw or ``decode_responses=True``); keys are
    prefixed with ``prefix``; values are JSON with a Redis expiry of ``ttl`` seconds (to the
    millisecond). A ``ttl`` that is not positive removes the key, as an entry that has already
    expired; an infinite one keeps it without expiry. Connection and server errors become
    :class:`StoreUnavailable`.
    """

    def __init__(self, client: Any, *, prefix: str = "apibridge:", ttl: float = 24 * 3600) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self._failures = _failures()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "apibridge:",
        ttl: float = 24 * 3600,
        timeout: float = REDIS_TIMEOUT,
    ) -> RedisStore:
        """A store over ``redis.asyncio.from_url(url)``, waiting at most ``timeout`` seconds
        to connect and for each answer (the URL's own ``socket_timeout`` and
        ``socket_connect_timeout`` parameters win). No connection is made yet."""
        redis = import_redis()
        try:
            client = redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        except ValueError as exc:
            raise ConfigError(f"server.store_url: {exc}") from None
        return cls(client, prefix=prefix, ttl=ttl)

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"redis: {type(exc).__name__}: {exc}")

    async def get(self, key: str) -> Any | None:
        """See :meth:`Store.get`."""
        try:
            raw = await self.client.get(self.prefix + key)
        except self._failures as exc:
            raise self._unavailable(exc) from exc
        if raw is None:
            return None
        try:
            return _json.loads(raw)
        except (InvalidPayload, TypeError):
            log.warning("store: the value at %r is not JSON; ignored", self.prefix + key)
            return None

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        """See :meth:`Store.set`."""
        seconds = self.ttl if ttl is None else ttl
        data = _json.dumps(value)
        try:
            if math.isinf(seconds) and seconds > 0:
                await self.client.set(self.prefix + key, data)
            elif not seconds > 0:  # already expired (NaN included)
                await self.client.delete(self.prefix + key)
            else:
                milliseconds = max(1, math.ceil(seconds * 1000))
                await self.client.set(self.prefix + key, data, px=milliseconds)
        except self._failures as exc:
            raise self._unavailable(exc) from exc

    async def expire(self, key: str, ttl: float | None = None) -> bool:
        """Make ``key`` live ``ttl`` more seconds (the default when ``None``); whether it
        was there."""
        seconds = self.ttl if ttl is None else ttl
        try:
            if math.isinf(seconds) and seconds > 0:
                done = await self.client.persist(self.prefix + key)
                return bool(done) or bool(await self.client.exists(self.prefix + key))
            if not seconds > 0:
                return await self.delete(key)
            milliseconds = max(1, math.ceil(seconds * 1000))
            return bool(await self.client.pexpire(self.prefix + key, milliseconds))
        except self._failures as exc:
            raise self._unavailable(exc) from exc

    async def delete(self, key: str) -> bool:
        """See :meth:`Store.delete`."""
        try:
            removed = await self.client.delete(self.prefix + key)
        except self._failures as exc:
            raise self._unavailable(exc) from exc
        return int(removed) > 0

    async def ping(self) -> None:
        """Check that Redis answers; :class:`StoreUnavailable` when it does not."""
        try:
            await self.client.ping()
        except self._failures as exc:
            raise self._unavailable(exc) from exc

    async def memory_bound(self) -> tuple[int, str] | None:
        """Redis's ``maxmemory`` (0: none) and ``maxmemory-policy``, or ``None`` when the
        server does not say (``CONFIG`` is often disabled on managed Redis)."""
        try:
            found = await self.client.config_get("maxmemory*")
        except self._failures:
            return None
        values = {_text(k): _text(v) for k, v in dict(found).items()}
        try:
            return int(values["maxmemory"]), values.get("maxmemory-policy", "")
        except (KeyError, ValueError):
            return None

    async def aclose(self) -> None:
        """Close the client's connections (it reconnects if used again)."""
        close = getattr(self.client, "aclose", None) or getattr(self.client, "close", None)
        if close is None:
            return
        try:
            await close()
        except self._failures as exc:
            log.debug("store: closing the Redis client: %s", exc)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


#: Redis eviction policies that evict keys apibridge wrote (all of which have an expiry).
EVICTING_POLICIES = frozenset(
    {
        "volatile-lru",
        "allkeys-lru",
        "volatile-lfu",
        "allkeys-lfu",
        "volatile-ttl",
        "volatile-random",
        "allkeys-random",
    }
)


def open_store(server: ServerConfig, given: Store | None = None) -> tuple[Store, bool]:
    """The store a gateway uses, and whether the gateway owns it (starts and closes it):
    ``given`` (the caller's), else Redis at ``server.store_url``, else one in memory."""
    if given is not None:
        return given, False
    if server.store_url:
        store = RedisStore.from_url(
            server.store_url, prefix=server.store_prefix, ttl=server.store_ttl
        )
        log.info(
            "state store: Redis at %s (keys prefixed %r)",
            redact_url(server.store_url),
            server.store_prefix,
        )
        return store, True
    if server.store_max_bytes < 1:
        raise ConfigError(
            f"server.store_max_bytes: {server.store_max_bytes} is not a size in bytes"
        )
    memory = MemoryStore(
        ttl=server.store_ttl, max_items=server.store_max_items, max_bytes=server.store_max_bytes
    )
    return memory, True


async def start_store(store: Store, server: ServerConfig) -> None:
    """Check that a Redis ``store`` (at ``server.store_url``) answers (a warning when it does
    not: requests that need state get 503 until it does) and that Redis bounds its memory
    with an evicting policy (a warning when it does not, or says nothing when asked)."""
    if not isinstance(store, RedisStore):
        return
    try:
        await store.ping()
    except StoreUnavailable as exc:
        log.warning(
            "state store at %s is unreachable (%s); requests that need state are answered "
            "with 503 until it is back",
            redact_url(server.store_url or ""),
            exc.detail,
        )
        return
    bound = await store.memory_bound()
    if bound is not None and (bound[0] == 0 or bound[1] not in EVICTING_POLICIES):
        log.warning(
            "state store at %s: Redis has maxmemory %d with policy %r: stored state is "
            "bounded only by store_ttl (maxmemory 0) or refused once Redis is full; set "
            "maxmemory and maxmemory-policy volatile-lru to bound it by bytes",
            redact_url(server.store_url or ""),
            bound[0],
            bound[1],
        )


async def close_store(store: Store) -> None:
    """Close ``store``'s connections (a Redis store's; memory holds none)."""
    if isinstance(store, RedisStore):
        await store.aclose()
