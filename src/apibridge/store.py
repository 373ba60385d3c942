"""State that outlives one request: stored Responses, backboard thread and tool-call maps.

:class:`MemoryStore` (the default) keeps values in this process with a TTL and a size bound;
:class:`RedisStore` shares them between processes and machines. Values are JSON-able; keys are
namespaced strings. Nothing that must survive a restart lives in a module global.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Protocol

import orjson

__all__ = ["MemoryStore", "RedisStore", "Store"]


class Store(Protocol):
    """An async key → JSON-value store with per-key expiry."""

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
    """In-process store: LRU-bounded to ``max_items``, entries expire after ``ttl`` seconds."""

    def __init__(self, *, ttl: float = 24 * 3600, max_items: int = 10_000) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    async def get(self, key: str) -> Any | None:
        """See :meth:`Store.get`."""
        entry = self._items.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        """See :meth:`Store.set`."""
        self._items[key] = (time.monotonic() + (self.ttl if ttl is None else ttl), value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    async def delete(self, key: str) -> bool:
        """See :meth:`Store.delete`."""
        return self._items.pop(key, None) is not None

    def __len__(self) -> int:
        return len(self._items)


class RedisStore:
    """A store in Redis (``pip install apibridge[redis]``), for several processes or machines.

    ``client`` is a ``redis.asyncio.Redis``; keys are prefixed with ``prefix``.
    """

    def __init__(self, client: Any, *, prefix: str = "apibridge:", ttl: float = 24 * 3600) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl

    async def get(self, key: str) -> Any | None:
        """See :meth:`Store.get`."""
        raw = await self.client.get(self.prefix + key)
        return None if raw is None else orjson.loads(raw)

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        """See :meth:`Store.set`."""
        seconds = max(1, int(self.ttl if ttl is None else ttl))
        await self.client.set(self.prefix + key, orjson.dumps(value), ex=seconds)

    async def delete(self, key: str) -> bool:
        """See :meth:`Store.delete`."""
        return bool(await self.client.delete(self.prefix + key))
