"""``apibridge serve`` as a user runs it: a subprocess on loopback, one access-log line per
request, the request id echoed, no secret in the log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from calls import anthropic_client, openai_client
from servers import ScriptedUpstream, free_port

UPSTREAM_SECRET = "sk-serve-upstream-0123456789"


@contextmanager
def serve(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, list[str]]]:
    """Run ``apibridge serve ARGS`` until the block ends; (root URL, stderr lines)."""
    port = free_port()
    command = [sys.executable, "-m", "apibridge", "serve", "--port", str(port), *args]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )
    root = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(root + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "apibridge serve exited early"
            assert time.monotonic() < deadline, "apibridge serve did not start"
            time.sleep(0.1)
        yield root, lines
    finally:
        process.terminate()
        try:
            _, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        lines.extend(err.splitlines())


def test_one_line_setup(upstream_servers: dict[str, tuple[ScriptedUpstream, str]]) -> None:
    _, chat_root = upstream_servers["chat"]
    lines: list[str]
    with serve(
        "--upstream",
        f"chat={chat_root}/v1",
        "--upstream-key",
        UPSTREAM_SECRET,
        "--client-key",
        "ck-1",
    ) as (root, lines):
        client = openai_client(root, "ck-1")
        raw = client.chat.completions.with_raw_response.create(
            model="any-model",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-request-id": "trace-serve-1"},
        )
        assert raw.headers["x-request-id"] == "trace-serve-1"
        assert raw.parse().choices[0].message.content == "Hello from chat! You said: hi"
        message = anthropic_client(root, "ck-1").messages.create(
            model="other-model", max_tokens=10, messages=[{"role": "user", "content": "yo"}]
        )
        assert message.content[0].type == "text"
        refused = httpx.post(root + "/v1/messages", json={}, headers={"x-api-key": "wrong"})
        assert refused.status_code == 401
    log = "\n".join(lines)
    access = [line for line in lines if "apibridge.access" in line]
    assert len(access) == 4, log  # the health probe, two model calls, the refused one
    first = next(line for line in access if "trace-serve-1" in line)
    for part in ("client=chat", "upstream=default", "model=any-model", " 200 ", "in=12", "out=7"):
        assert part in first, first
    assert any("client=anthropic" in line and " 401 " in line for line in access), log
    assert UPSTREAM_SECRET not in log
    assert "ck-1" not in log


def test_workers_and_offline_echo() -> None:
    with serve("--upstream", "scripted=echo", "--workers", "2") as (root, _):
        for _ in range(4):
            answer = openai_client(root, "k").responses.create(model="m", input="hello")
            assert answer.output_text == "echo: hello"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no upstream configured"),
        (("--upstream", "grpc=http://x"), "FORMAT=BASE_URL"),
        (("--config", "/nonexistent/apibridge.toml"), "apibridge.toml"),
        (("--upstream", "scripted=echo", "--port", "99999"), "99999 is not between 1 and 65535"),
        (("--upstream", "scripted=echo", "--port", "0"), "0 is not between 1 and 65535"),
        (("--upstream", "scripted=echo", "--workers", "0"), "0 is not between 1 and 1024"),
        (("--upstream", "scripted=echo", "--port", "http"), "'http' is not a whole number"),
        # checked before the workers start: not each worker failing and restarting in turn
        (("--upstream", "chat+bogus=http://127.0.0.1:9/v1", "--workers", "2"), "'bogus'"),
        (("--upstream", "backboard+auto=http://127.0.0.1:9", "--workers", "2"), "no profiles"),
    ],
)
def test_configuration_errors(args: tuple[str, ...], message: str) -> None:
    """Each exits with status 2 and says what is wrong (``--port 99999`` once listened on a
    random port while logging 99999)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APIBRIDGE_", "BBD_"))}
    result = subprocess.run(
        [sys.executable, "-m", "apibridge", "serve", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_help_names_every_upstream_format() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "apibridge", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    from apibridge.config import UPSTREAM_FORMATS

    for fmt in UPSTREAM_FORMATS:
        assert fmt in text, fmt
    assert "scripted=echo" in text


def test_log_format_json_writes_one_object_per_line_with_the_request_id(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
) -> None:
    _, chat_root = upstream_servers["chat"]
    lines: list[str]
    with serve(
        "--upstream",
        f"chat={chat_root}/v1",
        "--upstream-key",
        UPSTREAM_SECRET,
        "--client-key",
        "ck-json-1",
        "--log-format",
        "json",
    ) as (root, lines):
        raw = openai_client(root, "ck-json-1").chat.completions.with_raw_response.create(
            model='odd "model"\nname',
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
        request_id = raw.headers["x-request-id"]
        assert [c for c in raw.parse() if c.choices]  # the stream was read to its end
        refused = httpx.post(
            root + "/v1/messages", json={}, headers={"x-api-key": "wrong", "x-request-id": "r-2"}
        )
        assert refused.status_code == 401
    records = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    access = [r for r in records if r["logger"] == "apibridge.access"]
    streamed = next(r for r in access if r["request_id"] == request_id)
    assert streamed["method"] == "POST"
    assert streamed["path"] == "/v1/chat/completions"
    assert streamed["status"] == 200
    assert streamed["stream"] is True
    assert streamed["client"] == "chat"
    assert streamed["upstream"] == "default"
    assert streamed["model"] == 'odd "model"\nname'  # as sent, escaped by JSON itself
    assert streamed["tokens_in"] == 12
    assert streamed["tokens_out"] == 7
    assert isinstance(streamed["duration_ms"], float)
    (denied,) = [r for r in access if r["request_id"] == "r-2"]
    assert denied["status"] == 401
    assert denied["client"] == "anthropic"
    text = "\n".join(lines)
    assert UPSTREAM_SECRET not in text
    assert "ck-json-1" not in text


def test_log_format_from_the_environment_is_checked() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APIBRIDGE_", "BBD_"))}
    done = subprocess.run(
        [sys.executable, "-m", "apibridge", "serve", "--upstream", "scripted=echo"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**env, "APIBRIDGE_LOG_FORMAT": "jsonl"},
    )
    assert done.returncode == 2
    assert "APIBRIDGE_LOG_FORMAT: 'jsonl' is not text or json" in done.stderr


def test_log_format_is_checked() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "apibridge", "serve", "--upstream", "scripted=echo"]  # noqa: RUF005
        + ["--log-format", "xml"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--log-format" in done.stderr
    assert "'xml'" in done.stderr
