"""Conversion speed on a Claude Code-sized request (about 80 KB, 24 tools), and on a stream.

Prints figures; asserts nothing. The baseline, measured in the same run, is what any
translator must pay at least: parsing the body and serialising it again with orjson.

    python benchmarks/bench_convert.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

import apibridge

ROOT = Path(__file__).parent.parent
CAPTURED = ROOT / "tests" / "fixtures" / "anthropic" / "claude_code_request.json"


def captured_request() -> dict[str, Any]:
    """The Claude Code request captured on loopback (tests/acceptance/recorder.py)."""
    body: dict[str, Any] = orjson.loads(CAPTURED.read_bytes())["body"]
    return body


def claude_code_sized_request() -> dict[str, Any]:
    """A request of the size and shape of a long Claude Code session: ~80 KB, 24 tools."""
    schema = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "description": "x" * 120} for i in range(8)},
        "required": ["p0"],
    }
    tools = [
        {"name": f"mcp__server__tool_number_{i}", "description": "d" * 800, "input_schema": schema}
        for i in range(24)
    ]
    messages: list[dict[str, Any]] = []
    for turn in range(12):
        messages.append({"role": "user", "content": [{"type": "text", "text": "u" * 600}]})
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "a" * 400},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{turn}",
                        "name": "mcp__server__tool_number_1",
                        "input": {"p0": "v" * 50},
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": f"toolu_{turn}", "content": "r" * 800}
                ],
            }
        )
    messages.append({"role": "user", "content": "go on"})
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "system": [{"type": "text", "text": "s" * 12000, "cache_control": {"type": "ephemeral"}}],
        "messages": messages,
        "tools": tools,
        "stream": True,
    }


def measure(fn: Callable[[], object], rounds: int = 50) -> float:
    """Median seconds per call."""
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def chat_stream(chunks: int) -> bytes:
    frames = [
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
        b'[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
    ]
    for i in range(chunks):
        frames.append(
            b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
            b'[{"index":0,"delta":{"content":"token %d "},"finish_reason":null}]}\n\n' % i
        )
    frames.append(
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
        b'[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    )
    frames.append(b"data: [DONE]\n\n")
    return b"".join(frames)


def main() -> None:
    for name, body in (
        ("captured", captured_request()),
        ("synthetic", claude_code_sized_request()),
    ):
        bench_request(name, body)
    bench_cli()
    bench_stream()


def bench_cli() -> None:
    """The whole ``apibridge convert`` command, interpreter start-up included."""
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(orjson.dumps(claude_code_sized_request()))
        handle.flush()
        command = [sys.executable, "-m", "apibridge", "convert", "--from", "anthropic"]
        command += ["--to", "chat", "-o", os.devnull, handle.name]
        baseline = [sys.executable, "-c", "import orjson, apibridge"]
        for label, argv in (
            ("python -c 'import apibridge'", baseline),
            ("apibridge convert", command),
        ):
            t = measure(lambda argv=argv: subprocess.run(argv, check=True, capture_output=True), 10)  # type: ignore[misc]
            print(f"{label:<30} {t * 1e3:8.1f} ms wall")


def bench_request(name: str, body: dict[str, Any]) -> None:
    raw = orjson.dumps(body)
    print(f"{name} request: {len(raw) / 1024:.1f} KB, {len(body.get('tools', []))} tools")
    base = measure(lambda: orjson.dumps(orjson.loads(raw)))
    print(f"  baseline orjson parse+dump:      {base * 1e3:8.3f} ms")
    for target in ("chat", "responses"):
        t = measure(
            lambda target=target: orjson.dumps(  # type: ignore[misc]
                apibridge.convert_request(
                    orjson.loads(raw), source="anthropic", target=target, losses=[]
                )
            )
        )
        print(
            f"  anthropic -> {target:<10} request: {t * 1e3:8.3f} ms  ({t / base:5.1f}x baseline)"
        )


def bench_stream() -> None:
    stream = chat_stream(2000)
    pieces = [stream[i : i + 512] for i in range(0, len(stream), 512)]
    base_stream = measure(
        lambda: [orjson.loads(line[6:]) for line in stream.split(b"\n\n")[:-2]], 10
    )
    for target in ("anthropic", "responses"):
        t = measure(
            lambda target=target: b"".join(  # type: ignore[misc]
                apibridge.convert_stream(pieces, source="chat", target=target, losses=[])
            ),
            10,
        )
        print(
            f"chat -> {target:<10} stream of 2000 chunks: {t * 1e3:8.2f} ms "
            f"({t / 2000 * 1e6:.1f} µs/event; {t / base_stream:4.1f}x a bare orjson parse)"
        )


if __name__ == "__main__":
    main()
