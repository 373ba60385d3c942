"""The gateway and the process: latency, throughput, time to first byte, memory, import time.

Layout on a 2-core machine: the server under test (``apibridge serve``, the bare forwarder,
LiteLLM's proxy) is pinned to core 1; the mock upstream and the load generator share core 0.
The mock is a bare asyncio protocol on uvloop with canned bytes. Throughput is driven by the
Python client below (a bare asyncio protocol on uvloop), or by ``wrk`` (a Lua script for the
POST body) with ``APIBRIDGE_BENCH_LOADGEN=wrk`` when it is installed; the output says which.
On this machine class the Python client and the mock together top out around 5-9k requests/s
on their core, ``wrk`` and the mock around 14-24k: either is well above the servers' figures.
``wrk`` is not the default because it counts only the answers that arrive within its run: at
256 in flight the first answers come late, which understates a slow server (LiteLLM's proxy
reads 0), while the Python client also waits for the answers in flight at the end. The
server's CPU time per request (``/proc/<pid>/stat``) is recorded beside its requests/s, so a
figure held down by anything but the server's own work (a busy machine) shows as a server
that was not busy.

Latency at concurrency 1 and time to first byte are measured in interleaved rounds (a few
requests to each target in turn, the order rotating), so that drift hits every target alike;
the *added* figures are the target's percentile minus the same percentile of calling the mock
directly. Throughput is requests/s with N requests always in flight, over keep-alive
connections, measured twice per target in alternating order and averaged.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from benchmarks import payloads
from benchmarks.codec import BENCH_DIR, pinned
from benchmarks.progress import log, progress

HERE = Path(__file__).resolve().parent
SERVERS = HERE / "_servers.py"
ROOT = HERE.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env() -> dict[str, str]:
    """The environment of the servers: this checkout's ``src`` first, LiteLLM offline."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    if (ROOT / "src" / "apibridge").is_dir():
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
        )
    return env


T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed (a cheaper load generator)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, in seconds (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@contextmanager
def server(
    argv: list[str],
    core: int,
    port: int,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` pinned to ``core`` until ``port`` accepts connections."""
    # stderr to a file, not a pipe: a pipe nobody reads would block a chatty server
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the server stops
    child = subprocess.Popen(
        pinned(argv, core), env=env or child_env(), stdout=subprocess.DEVNULL, stderr=errors
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if child.poll() is not None:
                errors.seek(0)
                error = errors.read().decode(errors="replace")
                raise RuntimeError(f"{argv[:3]} exited: {error[-800:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[:3]} did not listen on {port}") from None
                time.sleep(0.05)
        yield child
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        errors.close()


# --------------------------------------------------------------------------- the client


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 client connection that sends canned requests."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, float, int]] | None = None
        self.need = 0
        self.first = 0.0
        self.closed = False
        self.until_first_event = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.first and (not self.until_first_event or b"data:" in buffer):
            self.first = time.perf_counter()
        if self.waiter is None or self.waiter.done():
            return
        if self.need == 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:") + 2  # not x-…-content-length
            if at >= 2:
                line_end = head.find(b"\r\n", at)
                self.need = end + 4 + int(head[at + 15 : line_end if line_end > 0 else end])
            else:
                self.need = -1
            self.status = int(head[9:12])
        if (self.need > 0 and len(buffer) >= self.need) or (
            self.need < 0 and buffer.endswith(b"\r\n0\r\n\r\n")
        ):
            self.waiter.set_result((self.status, self.first, len(buffer)))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("server closed the connection"))

    async def send(self, request: bytes, *, first_event: bool = False) -> tuple[int, float, int]:
        """Send ``request``; (status, time of the first byte or event, bytes) when complete."""
        self.buffer.clear()
        self.need = 0
        self.first = 0.0
        self.until_first_event = first_event
        if self.closed:  # the server dropped it (keep-alive timeout); the caller reconnects
            raise ConnectionError("connection closed by the server")
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        self.transport.write(request)
        # a timer rather than asyncio.wait_for, which costs a task per request on 3.11
        timer = loop.call_later(TIMEOUT, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()


TIMEOUT = 15.0  # seconds; a request that takes longer counts as failed


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


FAILED = (TimeoutError, ConnectionError, OSError)


async def connect(port: int) -> Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(Connection, "127.0.0.1", port)
    return protocol


def http_request(port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nx-api-key: sk-bench\r\nauthorization: Bearer sk-bench"
        "\r\nanthropic-version: 2023-06-01\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Target:
    """A URL to load: a name, a port, a path and the request bytes (plain and streamed)."""

    name: str
    port: int
    path: str
    body: dict[str, Any]
    latencies: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    rps: dict[int, list[float]] = field(default_factory=dict)
    #: per concurrency: the server's CPU seconds per request, and its share of a core
    cpu_per_request: dict[int, list[float]] = field(default_factory=dict)
    busy: dict[int, list[float]] = field(default_factory=dict)
    pid: int | None = None
    failures: int = 0

    def payload(self, *, stream: bool = False, model: str | None = None) -> bytes:
        body = {**self.body, "stream": stream}
        if model:
            body["model"] = model
        return orjson.dumps(body)

    def request(self, *, stream: bool = False, model: str | None = None) -> bytes:
        return http_request(self.port, self.path, self.payload(stream=stream, model=model))


async def check(target: Target) -> None:
    """One request each way; raise if the answer is not a 200."""
    connection = await connect(target.port)
    for stream in (False, True):
        status, _, _ = await connection.send(target.request(stream=stream))
        if status != 200:
            raise RuntimeError(f"{target.name}: HTTP {status} (stream={stream})")
    connection.transport.close()


async def latency_rounds(targets: list[Target], rounds: int, per_round: int) -> None:
    """Concurrency 1: ``per_round`` requests to each target in turn, ``rounds`` times."""
    connections = {t.name: await connect(t.port) for t in targets}
    plain = {t.name: t.request() for t in targets}
    streamed = {t.name: t.request(stream=True) for t in targets}
    for target in targets:  # warm-up
        for _ in range(per_round):
            await connections[target.name].send(plain[target.name])
    for number in range(rounds):
        progress(f"gateway: latency round {number + 1}/{rounds}")
        shift = number % len(targets)
        for target in targets[shift:] + targets[:shift]:
            status = 200
            if connections[target.name].closed:  # idle past the server's keep-alive timeout
                connections[target.name] = await connect(target.port)
            for stream in [False] * per_round + [True] * max(1, per_round // 4):
                connection = connections[target.name]
                start = time.perf_counter()
                try:
                    if stream:
                        status, first, _ = await connection.send(
                            streamed[target.name], first_event=True
                        )
                        target.ttfb.append(first - start)
                    else:
                        status, _, _ = await connection.send(plain[target.name])
                        target.latencies.append(time.perf_counter() - start)
                except FAILED:
                    target.failures += 1
                    connection.transport.close()
                    connections[target.name] = await connect(target.port)
            if status != 200:
                raise RuntimeError(f"{target.name}: HTTP {status}")
    for connection in connections.values():
        connection.transport.close()


@dataclass
class Pass:
    """One throughput pass: requests completed, seconds, and the server's CPU seconds."""

    requests: int
    seconds: float
    cpu: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def _cpu(pid: int | None) -> float | None:
    return cpu_seconds(pid) if pid is not None else None


def measure(target: Target, concurrency: int, seconds: float) -> None:
    """One throughput pass of ``target`` (wrk when installed), recorded on the target."""
    done = (
        wrk_pass(target, concurrency, seconds)
        if WRK
        else run(throughput(target, concurrency, seconds))
    )
    target.rps.setdefault(concurrency, []).append(done.rps)
    if done.cpu is not None and done.requests:
        target.cpu_per_request.setdefault(concurrency, []).append(done.cpu / done.requests)
        target.busy.setdefault(concurrency, []).append(done.cpu / done.seconds)


def _find_wrk() -> str | None:
    if os.environ.get("APIBRIDGE_BENCH_LOADGEN", "python") != "wrk":
        return None  # the default: the Python client (see the module docstring)
    return shutil.which("wrk")


WRK = _find_wrk()

#: the POST body of every wrk request, read from the file named in the environment
WRK_SCRIPT = """wrk.method = "POST"
local f = assert(io.open(os.getenv("APIBRIDGE_BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
"""


def load_generator() -> str:
    """Which load generator drives the throughput passes, in words."""
    if WRK is None:
        return "the Python client (asyncio protocol on uvloop)"
    done = subprocess.run([WRK, "--version"], capture_output=True, text=True, check=False)
    version = (done.stdout + done.stderr).split()
    return f"wrk {version[1] if len(version) > 1 else ''} (one thread, a Lua script for the body)"


def wrk_pass(target: Target, concurrency: int, seconds: float) -> Pass:
    """:func:`throughput` done by wrk pinned to core 0: a warm-up, then the measured run."""
    assert WRK is not None
    with tempfile.TemporaryDirectory() as directory:
        script = Path(directory) / "post.lua"
        script.write_text(WRK_SCRIPT)
        body = Path(directory) / "body.json"
        body.write_bytes(target.payload())
        env = {**os.environ, "APIBRIDGE_BENCH_BODY": str(body)}
        headers = [
            "content-type: application/json",
            "x-api-key: sk-bench",
            "authorization: Bearer sk-bench",
            "anthropic-version: 2023-06-01",
        ]

        def wrk(duration: int) -> tuple[str, float, float | None]:
            argv = [WRK, "-t1", f"-c{concurrency}", f"-d{duration}s", f"--timeout={TIMEOUT:g}s"]
            argv += ["-s", str(script)]
            for header in headers:
                argv += ["-H", header]
            argv.append(f"http://127.0.0.1:{target.port}{target.path}")
            cpu = _cpu(target.pid)
            start = time.perf_counter()
            done = subprocess.run(
                pinned(argv, 0), env=env, capture_output=True, text=True, check=False
            )
            elapsed = time.perf_counter() - start
            if done.returncode != 0:
                raise RuntimeError(f"wrk failed: {done.stderr[-400:]}")
            used = None if cpu is None else cpu_seconds(target.pid) - cpu  # type: ignore[arg-type]
            return done.stdout, elapsed, used

        wrk(max(1, round(seconds / 4)))  # warm-up
        out, elapsed, cpu = wrk(max(1, round(seconds)))
    count = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if count is None:
        raise RuntimeError(f"wrk said: {out[-400:]}")
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[count.group(3)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad is not None:
        raise RuntimeError(f"{target.name}: {bad.group(1)} answers were not 200")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors is not None:
        target.failures += sum(int(n) for n in errors.groups())
    # the server's CPU is read around the whole wrk process (start-up and connecting too):
    # scale it to wrk's own measured span
    span = int(count.group(1)), float(count.group(2)) * unit
    return Pass(span[0], span[1], None if cpu is None else cpu * span[1] / elapsed)


async def throughput(target: Target, concurrency: int, seconds: float) -> Pass:
    """Requests with ``concurrency`` requests always in flight (after a warm-up)."""
    connections = [await connect(target.port) for _ in range(concurrency)]
    request = target.request()
    count = 0
    stop = 0.0

    async def worker(connection: Connection) -> None:
        nonlocal count
        while time.perf_counter() < stop:
            try:
                status, _, _ = await connection.send(request)
            except FAILED:
                target.failures += 1
                connection.transport.close()
                connection = await connect(target.port)
                continue
            if status != 200:
                raise RuntimeError(f"{target.name}: HTTP {status}")
            count += 1

    stop = time.perf_counter() + min(1.0, seconds / 4)
    await asyncio.gather(*(worker(c) for c in connections))
    count = 0
    cpu = _cpu(target.pid)
    start = time.perf_counter()
    stop = start + seconds
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - start
    used = None if cpu is None else _cpu(target.pid)
    for connection in connections:
        connection.transport.close()
    return Pass(count, elapsed, None if cpu is None or used is None else used - cpu)


async def open_streams(port: int, target: Target, count: int) -> list[Connection]:
    """``count`` streams that have received their first event and stay open."""
    request = target.request(stream=True, model="slow-bench")
    connections = [await connect(port) for _ in range(count)]
    for connection in connections:
        connection.until_first_event = True  # no waiter: only the first event is awaited
        connection.transport.write(request)
    deadline = time.monotonic() + 30
    while any(not c.first for c in connections):
        if time.monotonic() > deadline:
            raise RuntimeError("streams did not start")
        await asyncio.sleep(0.02)
    return connections


async def soak(target: Target, seconds: float, concurrency: int = 16) -> int:
    """Mixed load (every fourth request streamed) for ``seconds``; how many requests."""
    connections = [await connect(target.port) for _ in range(concurrency)]
    requests = [target.request(), target.request(), target.request(), target.request(stream=True)]
    stop = time.perf_counter() + seconds
    count = 0

    async def worker(connection: Connection) -> None:
        nonlocal count
        while time.perf_counter() < stop:
            try:
                await connection.send(requests[count % 4])
            except FAILED:
                target.failures += 1
                connection.transport.close()
                connection = await connect(target.port)
            count += 1

    await asyncio.gather(*(worker(c) for c in connections))
    for connection in connections:
        connection.transport.close()
    return count


# --------------------------------------------------------------------------- LiteLLM proxy


def litellm_proxy_python(log_reason: list[str]) -> str | None:
    """The python of a venv with ``litellm[proxy]`` (pinned version), if one installs here."""
    from benchmarks.codec import litellm_pinned_version

    version = litellm_pinned_version()
    venv = BENCH_DIR / f"venv-litellm-proxy-{version}"
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    failed = venv / ".failed"
    if marker.exists():
        return str(python)
    if failed.exists():
        log_reason.append(failed.read_text().strip())
        return None
    log(f"creating {venv} (pip install 'litellm[proxy]=={version}'; once)")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"litellm[proxy]=={version}", "orjson"],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        reason = f"litellm[proxy]=={version} did not install: {exc}"[:300]
        failed.write_text(reason)
        log_reason.append(reason)
        return None
    marker.touch()
    return str(python)


def litellm_proxy_argv(python: str, port: int, upstream_port: int) -> list[str]:
    config = BENCH_DIR / "litellm-proxy.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: bench-model\n"
        "    litellm_params:\n"
        "      model: openai/bench-model\n"
        f"      api_base: http://127.0.0.1:{upstream_port}/v1\n"
        "      api_key: sk-bench\n"
        "litellm_settings:\n"
        # /v1/messages → an openai/ model goes through the Responses API unless told
        "  use_chat_completions_url_for_anthropic_messages: true\n"
        "  telemetry: false\n"
        "general_settings:\n"
        "  disable_spend_logs: true\n"
    )
    litellm = str(Path(python).parent / "litellm")
    return [
        litellm,
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]


# --------------------------------------------------------------------------- the run


def find_target(targets: list[Target], prefix: str) -> Target:
    return next(t for t in targets if t.name.startswith(prefix))


@dataclass
class GatewayResults:
    targets: list[Target]
    concurrencies: tuple[int, ...]
    notes: list[str]
    rss: dict[str, Any]
    load_generator: str = ""


def run_gateway(
    *, quick: bool, proxy: bool, load: bool = True, memory_too: bool = True
) -> GatewayResults:
    """Start the servers, measure, stop them.

    Memory first (``memory_too``), while the servers are fresh: once a server has held 256
    requests at a time its heap has room for a few hundred more streams and RSS no longer
    moves. Then latency and throughput (``load``).
    """
    anthropic = payloads.chat_turn()
    anthropic["model"] = "bench-model"
    import apibridge

    chat = apibridge.convert_request(anthropic, source="anthropic", target="chat", losses=[])
    notes: list[str] = []
    up, gw, fw, px = free_port(), free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{up}"
    python = sys.executable
    try:
        os.sched_setaffinity(0, {0})  # the load generator shares core 0 with the mock
    except (AttributeError, OSError):
        notes.append("could not pin the load generator to core 0")
    rounds, per_round, seconds = (2, 4, 0.3) if quick else (15, 20, 2.0)
    concurrencies = (16,) if quick else (16, 64, 256)
    rss: dict[str, Any] = {}
    with ExitStack() as stack:
        progress("gateway: starting the servers")
        stack.enter_context(server([python, str(SERVERS), "upstream", str(up)], 0, up))
        gateway = stack.enter_context(
            server(
                [
                    python,
                    "-m",
                    "apibridge",
                    "serve",
                    "--upstream",
                    f"chat={upstream}/v1",
                    "--upstream-key",
                    "sk-bench",
                    "--port",
                    str(gw),
                    "--log-level",
                    "warning",
                ],
                1,
                gw,
            )
        )
        rss["apibridge idle"] = rss_kib(gateway.pid)
        forwarder = stack.enter_context(
            server([python, str(SERVERS), "forwarder", str(fw), upstream], 1, fw)
        )
        rss["forwarder idle"] = rss_kib(forwarder.pid)
        fw2 = free_port()
        if load and not quick:
            plain_httpx = stack.enter_context(
                server([python, str(SERVERS), "forwarder", str(fw2), upstream, "httpx"], 1, fw2)
            )
        targets = [
            Target("upstream directly", up, "/v1/chat/completions", chat),
            Target("bare forwarder", fw, "/v1/messages", anthropic, pid=forwarder.pid),
            Target("apibridge, anthropic → chat", gw, "/v1/messages", anthropic, pid=gateway.pid),
            Target("apibridge, chat → chat", gw, "/v1/chat/completions", chat, pid=gateway.pid),
        ]
        if load and not quick:
            targets.insert(
                2,
                Target(
                    "bare forwarder, httpx pool",
                    fw2,
                    "/v1/messages",
                    anthropic,
                    pid=plain_httpx.pid,
                ),
            )
        if proxy and not quick and load:
            reasons: list[str] = []
            proxy_python = litellm_proxy_python(reasons)
            if proxy_python is None:
                notes.append("LiteLLM proxy: " + "; ".join(reasons))
            else:
                try:
                    progress("gateway: starting LiteLLM's proxy")
                    litellm = stack.enter_context(
                        server(litellm_proxy_argv(proxy_python, px, up), 1, px, timeout=90)
                    )
                    target = Target(
                        "LiteLLM proxy, anthropic → chat",
                        px,
                        "/v1/messages",
                        anthropic,
                        pid=litellm.pid,
                    )
                    run(check(target))
                    targets.append(target)
                except RuntimeError as exc:
                    notes.append(f"LiteLLM proxy did not serve: {exc}"[:400])
        elif quick:
            notes.append("LiteLLM proxy: skipped (--quick)")
        if memory_too:
            rss.update(
                run(
                    memory(
                        find_target(targets, "apibridge, anthropic"),
                        targets[1],
                        gateway.pid,
                        forwarder.pid,
                        quick=quick,
                    )
                )
            )
        if not load:
            return GatewayResults(targets, concurrencies, notes, rss)
        for target in targets:
            run(check(target))
        run(latency_rounds(targets, rounds, per_round))
        servers = targets[1:]
        for number in range(2 if not quick else 1):
            order = servers if number % 2 == 0 else servers[::-1]
            for target in order:
                for concurrency in concurrencies:
                    progress(f"gateway: {target.name}, {concurrency} in flight")
                    measure(target, concurrency, seconds)
    for target in targets:
        if target.failures:
            notes.append(
                f"{target.name}: {target.failures} requests failed or took over {TIMEOUT:g} s "
                "(left out of the figures)"
            )
    return GatewayResults(targets, concurrencies, notes, rss, load_generator())


async def memory(
    gateway: Target, forwarder: Target, gateway_pid: int, forwarder_pid: int, *, quick: bool
) -> dict[str, Any]:
    """RSS per open stream (gateway and forwarder), and RSS across a soak of the gateway."""
    found: dict[str, Any] = {}
    streams = 20 if quick else 500
    for name, target, pid in (
        ("apibridge", gateway, gateway_pid),
        ("forwarder", forwarder, forwarder_pid),
    ):
        progress(f"process: {streams} open streams through {name}")
        for _ in range(2):  # warm-up: the first streams allocate what every stream reuses
            warm = await open_streams(target.port, target, 8)
            for connection in warm:
                connection.transport.close()
            await asyncio.sleep(0.3)
        found[f"{name} warm"] = rss_kib(pid)
        before = rss_kib(pid)
        opened = await open_streams(target.port, target, streams)
        await asyncio.sleep(0.3)
        during = rss_kib(pid)
        for connection in opened:
            connection.transport.close()
        found[f"{name} per stream"] = (during - before) / streams
        found[f"{name} streams"] = streams
    soak_seconds = 1.0 if quick else 10.0
    found["soak before"] = rss_kib(gateway_pid)
    total = 0
    for half in ("soak middle", "soak after"):
        progress(f"process: soak of the gateway ({half})")
        total += await soak(gateway, soak_seconds)
        await asyncio.sleep(0.5)
        found[half] = rss_kib(gateway_pid)
    found["soak requests"] = total
    found["soak seconds"] = 2 * soak_seconds
    return found


def import_times(quick: bool) -> dict[str, float]:
    """Median seconds to import apibridge (and its gateway), in fresh interpreters."""
    found: dict[str, float] = {}
    runs = 3 if quick else 9
    for module in ("apibridge", "apibridge.asgi"):
        progress(f"process: import {module}")
        code = (
            f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        )
        values = []
        for _ in range(runs):
            done = subprocess.run(
                pinned([sys.executable, "-c", code], 1),
                env=child_env(),
                capture_output=True,
                text=True,
                check=True,
            )
            values.append(float(done.stdout))
        found[module] = statistics.median(values)
    return found
