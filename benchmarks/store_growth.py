"""How many bytes a Responses conversation takes in the state store (issue 14, item 7).

Runs a chain of ``--turns`` Responses requests through the gateway's handler (the ``echo``
scripted upstream, no network but Redis), each turn sending ``--turn-kib`` KiB of new text
and continuing the last with ``previous_response_id``, into a Redis store at ``--redis``
(a fresh key prefix, removed afterwards). Prints the bytes of the stored values (the sum of
``STRLEN``), Redis's ``used_memory`` growth, and the same for the in-memory store::

    redis-server --port 6390 --save '' &
    PYTHONPATH=src python benchmarks/store_growth.py --redis redis://127.0.0.1:6390/0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

import redis.asyncio

from apibridge._gateway._handler import Handler, HttpRequest
from apibridge.config import GatewayConfig
from apibridge.store import MemoryStore, RedisStore


async def chain(handler: Handler, turns: int, turn_kib: int) -> None:
    previous = None
    for turn in range(turns):
        text = f"turn {turn} " + os.urandom(turn_kib * 512).hex()
        body: dict[str, Any] = {"model": "m", "input": text}
        if previous is not None:
            body["previous_response_id"] = previous
        request = HttpRequest(method="POST", path="/v1/responses", body=json.dumps(body).encode())
        response = await handler.handle(request)
        assert response.status == 200, response.body[:300]
        previous = json.loads(response.body)["id"]


async def measure(url: str, turns: int, turn_kib: int) -> dict[str, int]:
    client = redis.asyncio.from_url(url)
    prefix = "store-growth-" + os.urandom(4).hex() + ":"
    before = (await client.info("memory"))["used_memory"]
    config = GatewayConfig.single("scripted=echo")
    store = RedisStore(client, prefix=prefix)
    await chain(Handler(config, store=store), turns, turn_kib)
    keys = await client.keys(prefix + "*")
    values = sum([await client.strlen(k) for k in keys])
    after = (await client.info("memory"))["used_memory"]
    await client.delete(*keys)
    await client.aclose()
    try:
        memory = MemoryStore(max_bytes=1 << 40)
    except TypeError:  # apibridge before the byte bound (for the "before" figure)
        memory = MemoryStore()
    await chain(Handler(config, store=memory), turns, turn_kib)
    used = getattr(memory, "bytes_used", None)
    if used is None:  # before the byte bound: count the JSON of every entry
        used = sum(len(json.dumps(v[1])) for v in memory._items.values())
    return {
        "keys": len(keys),
        "redis_values": values,
        "redis_used_memory": after - before,
        "memory_store": used,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", required=True)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--turn-kib", type=int, default=100)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.redis, args.turns, args.turn_kib))
    mib = {k: (f"{v / 2**20:.1f} MiB" if k != "keys" else v) for k, v in figures.items()}
    print(json.dumps({"turns": args.turns, "turn_kib": args.turn_kib, **mib}))


if __name__ == "__main__":
    main()
