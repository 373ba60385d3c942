"""Graceful shutdown: ``apibridge serve`` gets SIGTERM while 50 streams are open.

uvicorn stops accepting connections and waits for the requests in flight; the gateway bounds
that wait with ``--drain-timeout``: a stream that ends within it ends normally, one still
open when it expires ends with its format's in-band error and a clean end of body. No stream
is ever cut silently, and the process exits on its own. A request answered whole that is
still waiting on its upstream when the drain expires gets a 503 in its client's format.

The upstream is a scripted Chat server on loopback: half the requests pause mid-stream for
a while and then finish (``slow``), half stop sending after their first event and never
finish (``hang``). The 50 clients speak all three formats, over raw HTTP so that the test
sees every byte and whether the body ended cleanly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import Plan, ScriptedUpstream, free_port, serve_asgi

from apibridge._cli_serve import _overlay
from apibridge.cli import build_parser
from apibridge.config import ConfigError, load_config

STREAMS = 50
SLOW_DELAY = 8.0  # a slow stream's pause after its first event (seconds)
DRAIN = 11.0  # --drain-timeout: longer than the pause, shorter than forever

REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "anthropic": (
        "/v1/messages",
        {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
    ),
    "chat": (
        "/v1/chat/completions",
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    ),
    "responses": ("/v1/responses", {"model": "m", "input": "hi"}),
}


def _events(raw: bytes) -> list[tuple[str | None, str]]:
    """The (event name, data) pairs of an SSE body."""
    out: list[tuple[str | None, str]] = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            out.append((name, "\n".join(data)))
    return out


def _outcome(fmt: str, raw: bytes) -> str:
    """``finished`` (the format's terminal event), ``error`` (its in-band error, then a proper
    end), or ``cut``: anything else."""
    events = _events(raw)
    if not events:
        return "cut"
    name, data = events[-1]
    if fmt == "anthropic":
        if name == "message_stop":
            return "finished"
        if name == "error" and json.loads(data)["type"] == "error":
            return "error"
        return "cut"
    if fmt == "chat":
        if data != "[DONE]" or len(events) < 2:
            return "cut"
        last = json.loads(events[-2][1])
        if "error" in last:
            return "error"
        if last.get("choices") and last["choices"][0].get("finish_reason"):
            return "finished"
        return "cut"
    kind = json.loads(data)["type"]
    if kind == "response.completed":
        return "finished"
    if kind == "response.failed":
        return "error"
    return "cut"


class Whole(threading.Thread):
    """One request answered whole (not streamed): its status and body."""

    def __init__(self, root: str, fmt: str) -> None:
        super().__init__(daemon=True)
        self.root, self.fmt = root, fmt
        self.response: httpx.Response | None = None

    def run(self) -> None:
        path, body = REQUESTS[self.fmt]
        self.response = httpx.post(self.root + path, json=body, timeout=60)


class Stream(threading.Thread):
    """One client stream; ``started`` is set once its first event arrived."""

    def __init__(self, root: str, fmt: str) -> None:
        super().__init__(daemon=True)
        self.root, self.fmt = root, fmt
        self.started = threading.Event()
        self.raw = b""
        self.failure: str | None = None

    def run(self) -> None:
        path, body = REQUESTS[self.fmt]
        try:
            with httpx.stream(
                "POST", self.root + path, json={**body, "stream": True}, timeout=60
            ) as response:
                assert response.status_code == 200, response.read()
                for chunk in response.iter_raw():
                    self.raw += chunk
                    if b"\n\n" in self.raw:
                        self.started.set()
        except httpx.HTTPError as exc:  # a connection cut mid-body: the silent cut
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            self.started.set()


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_during_50_streams_ends_each_properly(workers: int) -> None:
    """With one process, and with two workers (each drains its own streams: the parent passes
    SIGTERM on to them)."""
    upstream = ScriptedUpstream("chat")
    for i in range(STREAMS):
        if i % 2:
            upstream.plans.append(Plan(kind="hang", events=1))
        else:
            upstream.plans.append(Plan(kind="slow", events=1, delay=SLOW_DELAY))
    # then two requests answered whole, whose upstream takes far longer than the drain
    upstream.plans.extend([Plan(kind="slow", delay=120.0)] * 2)
    with serve_asgi(upstream) as upstream_root:
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "apibridge",
                "serve",
                "--port",
                str(port),
                "--upstream",
                f"chat={upstream_root}/v1",
                "--drain-timeout",
                str(DRAIN),
                "--workers",
                str(workers),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        root = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(root + "/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "apibridge serve did not start"
                time.sleep(0.1)
            formats = list(REQUESTS)
            streams = [Stream(root, formats[i % 3]) for i in range(STREAMS)]
            for stream in streams:
                stream.start()
            for stream in streams:
                assert stream.started.wait(30)
            assert all(s.failure is None for s in streams), [s.failure for s in streams]
            wholes = [Whole(root, "anthropic"), Whole(root, "chat")]
            for whole in wholes:
                whole.start()
            while len(upstream.requests) < STREAMS + len(wholes):
                time.sleep(0.05)
            mid_stream = sum(s.is_alive() for s in streams)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            for thread in [*streams, *wholes]:
                thread.join(DRAIN + 20)
            status = process.wait(DRAIN + 20)
            took = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                process.kill()
            log = process.communicate()[1]
    assert mid_stream == STREAMS  # every stream was open when the signal came
    outcomes = [(s.fmt, s.failure or _outcome(s.fmt, s.raw)) for s in streams]
    assert [o for o in outcomes if o[1] not in ("finished", "error")] == []
    assert sum(o == "finished" for _, o in outcomes) == STREAMS // 2  # the slow ones
    assert sum(o == "error" for _, o in outcomes) == STREAMS // 2  # the hanging ones
    for stream in streams:
        if _outcome(stream.fmt, stream.raw) == "error":
            assert b"shutting down" in stream.raw
    # a request not yet answered gets the retryable 503 in its client's format
    anthropic, chat = (whole.response for whole in wholes)
    assert anthropic is not None
    assert chat is not None
    assert anthropic.status_code == chat.status_code == 503
    assert anthropic.json()["error"]["type"] == "overloaded_error"
    assert "shutting down" in anthropic.json()["error"]["message"]
    assert chat.json()["error"]["type"] == "server_error"
    assert "shutting down" in chat.json()["error"]["message"]
    # uvicorn re-raises the stop signal once shut down: the conventional "ended by SIGTERM"
    assert status in (0, -signal.SIGTERM), log
    assert "Finished server process" in log
    assert DRAIN - 1 < took < DRAIN + 10, (took, log)


def test_drain_timeout_settings(tmp_path: Path) -> None:
    base = {"APIBRIDGE_UPSTREAM": "chat=http://127.0.0.1:9/v1"}
    assert load_config(env=base).server.drain_timeout == 25.0
    assert load_config(env={**base, "APIBRIDGE_DRAIN_TIMEOUT": "7.5"}).server.drain_timeout == 7.5
    toml = tmp_path / "gateway.toml"
    toml.write_text("[server]\ndrain_timeout = 3\n")
    assert load_config(toml, env=base).server.drain_timeout == 3.0
    for bad in ("soon", "-1"):
        with pytest.raises(ConfigError, match=r"DRAIN_TIMEOUT|drain_timeout"):
            load_config(env={**base, "APIBRIDGE_DRAIN_TIMEOUT": bad})
    args = build_parser().parse_args(["serve", "--drain-timeout", "0"])
    assert _overlay(args)["APIBRIDGE_DRAIN_TIMEOUT"] == "0.0"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--drain-timeout", "-3"])


def test_a_drain_ends_for_a_server_starting_again_in_the_process() -> None:
    """The drain deadline is per process: once a server drained, one started again (its
    lifespan, or ``end_drain`` for an embedding server) must not answer 503 to everything."""
    import anyio

    from apibridge._gateway._drain import begin_drain, draining, end_drain

    async def main() -> None:
        begin_drain(0.0)
        assert draining()
        end_drain()
        assert not draining()

    anyio.run(main)
