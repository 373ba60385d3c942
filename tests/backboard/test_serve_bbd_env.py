"""Issue 4's promise, end to end: ``apibridge serve`` with only the earlier proxy's environment
(``BBD_API_KEY``, ``BBD_UPSTREAM``, ``HOST``, ``PORT``) serves Claude and OpenAI clients on
backboard — a real subprocess, the official SDKs, the fake backboard on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from bb_helpers import KEYS
from fake_backboard import FakeBackboard


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(fake_server: tuple[FakeBackboard, str]) -> Iterator[str]:
    fake, url = fake_server
    fake.reset()
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("APIBRIDGE_", "OPENAI", "ANTHROPIC"))
    }
    env.update(
        {"BBD_API_KEY": ",".join(KEYS), "BBD_UPSTREAM": url, "HOST": "127.0.0.1", "PORT": str(port)}
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "apibridge", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
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
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"apibridge serve did not start: {output}")
            time.sleep(0.1)
        yield root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log = proc.stdout.read().decode() if proc.stdout else ""
        for key in KEYS:  # no upstream key in the access log or anywhere else it printed
            assert key not in log


def test_serve_with_only_bbd_environment(
    served: str, fake_server: tuple[FakeBackboard, str]
) -> None:
    fake, _ = fake_server
    claude = anthropic.Anthropic(api_key="client", base_url=served, max_retries=0)
    message = claude.messages.create(
        model="openai/gpt-4o", max_tokens=100, messages=[{"role": "user", "content": "hello"}]
    )
    assert message.content[0].type == "text"
    assert "hello" in message.content[0].text
    with claude.messages.stream(
        model="openai/gpt-4o", max_tokens=100, messages=[{"role": "user", "content": "streamed"}]
    ) as stream:
        text = stream.get_final_text()
    assert "streamed" in text

    oai = openai.OpenAI(api_key="client", base_url=served + "/v1", max_retries=0)
    chat = oai.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "from chat"}]
    )
    assert "from chat" in (chat.choices[0].message.content or "")
    response = oai.responses.create(model="openai/gpt-4o", input="from responses")
    assert "from responses" in response.output_text
    # four unrelated conversations: four threads used, never one shared thread (defect 1);
    # others may stand empty in the warmed pool
    used = [t for t in fake.threads.values() if t.messages]
    assert len(used) == 4
