"""What the gateway adds: latency at concurrency 1, requests/s at concurrency 64.

Three processes on loopback: the scripted Chat upstream of the gateway tests (uvicorn), the
gateway in front of it (uvicorn, like ``apibridge serve``), and this load generator (an
aiohttp client). Each figure is measured twice, calling the upstream directly and calling it
through the gateway; the gateway is run once with its default pool (aiohttp behind the httpx
interface) and once with httpx's own pool, the measurement behind that default. Prints
figures; asserts nothing.

    python benchmarks/bench_gateway.py [--seconds 4] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "tests" / "gateway"))

CHAT = {"model": "bench-model", "messages": [{"role": "user", "content": "Say something."}]}
ANTHROPIC = {**CHAT, "max_tokens": 64}


# ------------------------------------------------------------------------- server processes


def serve_upstream(port: int) -> None:
    """Child process: the scripted Chat upstream on ``port``."""
    import uvicorn
    from servers import ScriptedUpstream

    uvicorn.run(
        ScriptedUpstream("chat"), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def serve_gateway(port: int, upstream: str, pool: str) -> None:
    """Child process: the gateway on ``port``, with the ``aiohttp`` or plain ``httpx`` pool."""
    import httpx
    import uvicorn

    from apibridge.asgi import App
    from apibridge.config import GatewayConfig

    client = None
    if pool == "httpx":
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
        client = httpx.AsyncClient(limits=limits, timeout=None)
    app = App(GatewayConfig.single(f"chat={upstream}/v1"), client=client)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def process(*args: str) -> Iterator[None]:
    child = subprocess.Popen([sys.executable, __file__, *args])
    try:
        yield
    finally:
        child.terminate()
        child.wait(10)


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as response:
                    await response.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


# ------------------------------------------------------------------------- load


async def one(session: aiohttp.ClientSession, url: str, body: bytes, headers: Any) -> float:
    start = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
    return time.perf_counter() - start


async def latency(url: str, body: dict[str, Any], count: int) -> list[float]:
    """Seconds per request, one at a time (after a warm-up)."""
    payload = orjson.dumps(body)
    headers = {"content-type": "application/json", "x-api-key": "k", "anthropic-version": "1"}
    async with aiohttp.ClientSession() as session:
        for _ in range(20):
            await one(session, url, payload, headers)
        return [await one(session, url, payload, headers) for _ in range(count)]


async def throughput(url: str, body: dict[str, Any], concurrency: int, seconds: float) -> float:
    """Requests per second with ``concurrency`` requests always in flight."""
    payload = orjson.dumps(body)
    headers = {"content-type": "application/json", "x-api-key": "k", "anthropic-version": "1"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + 0.5  # warm-up: open the connections
        done = 0

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await one(session, url, payload, headers)
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        done = 0
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


def ms(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=10)
    return f"median {statistics.median(values) * 1000:6.2f} ms, p90 {cuts[-1] * 1000:6.2f} ms"


async def measure(args: argparse.Namespace) -> None:
    from servers import free_port

    up_port, gw_port, gw2_port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    gateway = f"http://127.0.0.1:{gw_port}"
    gateway_httpx = f"http://127.0.0.1:{gw2_port}"
    with (
        process("--serve-upstream", str(up_port)),
        process("--serve-gateway", str(gw_port), upstream, "aiohttp"),
        process("--serve-gateway", str(gw2_port), upstream, "httpx"),
    ):
        await wait_ready(upstream + "/v1/models")
        await wait_ready(gateway + "/health")
        await wait_ready(gateway_httpx + "/health")
        direct_url = upstream + "/v1/chat/completions"
        through = gateway + "/v1/chat/completions"
        cross = gateway + "/v1/messages"

        print(f"concurrency 1, {args.count} non-streamed requests each")
        direct = await latency(direct_url, CHAT, args.count)
        same = await latency(through, CHAT, args.count)
        other = await latency(cross, ANTHROPIC, args.count)
        print(f"  upstream directly            {ms(direct)}")
        print(f"  gateway, chat -> chat        {ms(same)}")
        print(f"  gateway, anthropic -> chat   {ms(other)}")
        added = statistics.median(same) - statistics.median(direct)
        added_cross = statistics.median(other) - statistics.median(direct)
        print(
            f"  added by the gateway: {added * 1000:.2f} ms (same format), "
            f"{added_cross * 1000:.2f} ms (translated)"
        )

        c, s = args.concurrency, args.seconds
        print(f"concurrency {c}, {s:g} s each")
        rps_direct = await throughput(direct_url, CHAT, c, s)
        rps_gateway = await throughput(through, CHAT, c, s)
        rps_cross = await throughput(cross, ANTHROPIC, c, s)
        rps_httpx = await throughput(gateway_httpx + "/v1/chat/completions", CHAT, c, s)
        print(f"  upstream directly                      {rps_direct:8.0f} req/s")
        print(f"  gateway, chat -> chat (aiohttp pool)   {rps_gateway:8.0f} req/s")
        print(f"  gateway, anthropic -> chat             {rps_cross:8.0f} req/s")
        print(f"  gateway, chat -> chat (httpx pool)     {rps_httpx:8.0f} req/s")


def main() -> None:
    if sys.argv[1:2] == ["--serve-upstream"]:
        serve_upstream(int(sys.argv[2]))
        return
    if sys.argv[1:2] == ["--serve-gateway"]:
        serve_gateway(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="requests per latency figure")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=4.0, help="per throughput figure")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
