"""The in-memory store: TTL, LRU bound, deletion."""

from __future__ import annotations

import asyncio

from apibridge.store import MemoryStore


def test_memory_store_ttl_and_bound() -> None:
    async def scenario() -> None:
        store = MemoryStore(ttl=60, max_items=3)
        await store.set("a", {"x": 1})
        assert await store.get("a") == {"x": 1}
        await store.set("gone", 1, ttl=-1)
        assert await store.get("gone") is None
        for key in ("b", "c", "d"):
            await store.set(key, key)
        assert len(store) == 3
        assert await store.get("a") is None  # least recently used, evicted
        assert await store.delete("d") is True
        assert await store.delete("d") is False

    asyncio.run(scenario())
