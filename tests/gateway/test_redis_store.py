"""The Redis store, for real: a ``redis-server`` subprocess on loopback.

* :class:`RedisStore` itself: get/set/delete, expiry to the millisecond, the key prefix,
  raw and decoded clients.
* Two gateway "workers" (two :class:`apibridge.asgi.App`, each under its own uvicorn) sharing
  one Redis: a response stored through one is continued and read through the other.
* Redis going away: 503 "state store unavailable" in the client's own format, no traceback.
* ``apibridge serve --workers 2 --store-url …``; the password never reaches a log line.

Skipped, with the reason, only when the ``redis-server`` binary is missing
(``apt-get install redis-server``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import httpx
import pytest
import redis
import redis.asyncio
from calls import SCHEMA, TOOL_RESULT, openai_client
from servers import CLIENT_KEY, ScriptedUpstream, free_port, serve_asgi

from apibridge import _cli_serve as _serve
from apibridge.asgi import App as AsgiApp
from apibridge.config import ConfigError, GatewayConfig, load_config, redact_url
from apibridge.store import RedisStore, import_redis

PASSWORD = "redis-pw-0123456789secret"
REDIS_SERVER = shutil.which("redis-server")
TOOLS: Any = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": SCHEMA,
        "strict": False,
    }
]


@contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A fresh ``redis-server`` on a free loopback port: (its URL with the password, process)."""
    if REDIS_SERVER is None:
        pytest.skip("the redis-server binary is not installed (apt-get install redis-server)")
    for _ in range(3):  # a free port may be taken between the probe and the bind
        port = free_port()
        command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--requirepass", PASSWORD]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = redis.Redis(port=port, password=PASSWORD, socket_timeout=1)
        deadline = time.monotonic() + 10
        ready = False
        while process.poll() is None and time.monotonic() < deadline:
            try:
                ready = bool(probe.ping())
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        probe.close()
        if ready:
            break
        stop(process)
    else:
        pytest.fail("redis-server did not start")
    try:
        yield f"redis://:{PASSWORD}@127.0.0.1:{port}/0", process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process`` and wait for it (killed if it lingers)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """One Redis for the module; tests keep apart by key prefix."""
    with redis_server() as (url, _):
        yield url


def with_store(config: GatewayConfig, url: str, prefix: str) -> GatewayConfig:
    server = attrs.evolve(config.server, store_url=url, store_prefix=prefix)
    return attrs.evolve(config, server=server)


def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:"


# ------------------------------------------------------------------------- the store


def test_redis_store_get_set_delete_expiry_prefix(redis_url: str) -> None:
    async def scenario() -> None:
        mine, other = prefix(), prefix()
        store = RedisStore.from_url(redis_url, prefix=mine, ttl=60)
        raw = redis.asyncio.from_url(redis_url)
        try:
            await store.ping()
            assert await store.get("absent") is None
            await store.set("a", {"x": [1, "é"]})
            assert await store.get("a") == {"x": [1, "é"]}
            # the key carries the prefix, the value is JSON, the default TTL applies
            assert await raw.keys(mine + "*") == [(mine + "a").encode()]
            assert await raw.get(mine + "a") == '{"x":[1,"é"]}'.encode()
            assert 59_000 < await raw.pttl(mine + "a") <= 60_000
            # a fractional TTL is kept to the millisecond, not truncated to whole seconds
            await store.set("frac", 1, ttl=1.5)
            assert 1_400 < await raw.pttl(mine + "frac") <= 1_500
            await store.set("short", "soon gone", ttl=0.2)
            assert await store.get("short") == "soon gone"
            await asyncio.sleep(0.35)
            assert await store.get("short") is None
            # a TTL that is not positive: already expired, an earlier value goes too
            await store.set("a2", 1)
            await store.set("a2", 2, ttl=-1)
            assert await store.get("a2") is None
            await store.set("forever", 3, ttl=float("inf"))
            assert await raw.pttl(mine + "forever") == -1
            # delete says whether the key was there
            assert await store.delete("a") is True
            assert await store.delete("a") is False
            # another prefix is another namespace
            neighbour = RedisStore(raw, prefix=other, ttl=60)
            await neighbour.set("frac", "theirs")
            assert await store.get("frac") == 1
            assert await neighbour.get("frac") == "theirs"
            # a client that decodes answers to str reads the same values
            decoded = RedisStore(
                redis.asyncio.from_url(redis_url, decode_responses=True), prefix=other
            )
            assert await decoded.get("frac") == "theirs"
            await decoded.aclose()
            # a value that is not JSON (some other program's key) reads as absent
            await raw.set(mine + "junk", b"\xff not json")
            assert await store.get("junk") is None
        finally:
            await raw.delete(*await raw.keys(mine + "*"), *await raw.keys(other + "*"))
            await raw.aclose()
            await store.aclose()

    asyncio.run(scenario())


# ------------------------------------------------------------------------- two workers


def test_two_workers_share_stored_responses(
    redis_url: str, gateway_config: GatewayConfig, upstreams: dict[str, ScriptedUpstream]
) -> None:
    config = with_store(gateway_config, redis_url, prefix())
    worker_a, worker_b = AsgiApp(config), AsgiApp(config)
    with serve_asgi(worker_a) as url_a, serve_asgi(worker_b) as url_b:
        a, b = openai_client(url_a, CLIENT_KEY), openai_client(url_b, CLIENT_KEY)
        first = a.responses.create(model="chat-model", input="Weather in Paris?", tools=TOOLS)
        call = next(o for o in first.output if o.type == "function_call")
        output: Any = {"type": "function_call_output", "call_id": call.call_id}
        output["output"] = TOOL_RESULT
        # worker B never saw the first turn: it resolves it from Redis
        second = b.responses.create(
            model="chat-model", previous_response_id=first.id, input=[output], tools=TOOLS
        )
        assert second.output_text == f"The tool said: {TOOL_RESULT}"
        sent = upstreams["chat"].last_request()
        transcript = [m.get("content") for m in sent["messages"]]
        assert "Weather in Paris?" in transcript  # the prior turns went upstream
        assert call.call_id in str(sent["messages"])
        assert b.responses.retrieve(first.id).id == first.id
        assert a.responses.retrieve(second.id).output_text == second.output_text
        items = list(a.responses.input_items.list(second.id, order="asc"))
        assert [i.type for i in items] == ["message", "function_call", "function_call_output"]
        # a streamed turn on A continues B's answer
        with a.responses.stream(
            model="chat-model", previous_response_id=second.id, input="thanks", tools=TOOLS
        ) as events:
            for _ in events:
                pass
            third = events.get_final_response()
        assert "The tool said" in str(upstreams["chat"].last_request()["messages"])
        assert b.responses.retrieve(third.id).id == third.id
        # deleted through one worker, gone for the other
        b.responses.delete(first.id)
        missing = httpx.get(
            f"{url_a}/v1/responses/{first.id}", headers={"x-api-key": CLIENT_KEY}, timeout=10
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found_error"


# ------------------------------------------------------------------------- Redis down


def test_redis_down_is_a_503_in_the_clients_format(
    gateway_config: GatewayConfig,
    upstreams: dict[str, ScriptedUpstream],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="apibridge")
    headers = {"x-api-key": CLIENT_KEY}
    with redis_server() as (url, process):
        app = AsgiApp(with_store(gateway_config, url, prefix()))
        with serve_asgi(app) as root:
            stored = httpx.post(
                root + "/v1/responses",
                json={"model": "chat-model", "input": "hello"},
                headers=headers,
                timeout=20,
            )
            assert stored.status_code == 200
            response_id = stored.json()["id"]
            stop(process)
            started = time.monotonic()
            attempts = [
                ("GET", f"/v1/responses/{response_id}", None),
                ("DELETE", f"/v1/responses/{response_id}", None),
                (
                    "POST",
                    "/v1/responses",
                    {
                        "model": "anthropic-model",
                        "input": "more",
                        "previous_response_id": response_id,
                        "stream": True,
                    },
                ),
            ]
            for method, path, body in attempts:
                answer = httpx.request(method, root + path, json=body, headers=headers, timeout=20)
                assert answer.status_code == 503, (method, path, answer.text)
                assert answer.headers["content-type"] == "application/json"
                error = answer.json()["error"]  # OpenAI's envelope, as the client speaks
                assert error["message"] == "state store unavailable"
                assert error["type"] == "server_error"
            assert time.monotonic() - started < 10
            # a new answer needs no stored state: the client gets it; only storing it failed
            fresh = httpx.post(
                root + "/v1/responses",
                json={"model": "chat-model", "input": "new"},
                headers=headers,
                timeout=20,
            )
            assert fresh.status_code == 200, fresh.text
            assert any("not stored" in r.getMessage() for r in caplog.records)
            # requests that need no state still work
            chat = openai_client(root, CLIENT_KEY).chat.completions.create(
                model="chat-model", messages=[{"role": "user", "content": "hi"}]
            )
            assert chat.choices[0].message.content
    records = [r for r in caplog.records if r.name.startswith("apibridge")]
    assert any("state store unavailable" in r.getMessage() for r in records)
    assert not any(r.exc_info for r in records)  # no traceback
    assert PASSWORD not in caplog.text


# ------------------------------------------------------------------------- config and logs


def test_the_password_never_reaches_a_log_line(
    redis_url: str, gateway_config: GatewayConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="apibridge")
    config = with_store(gateway_config, redis_url, prefix())
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    AsgiApp(config)
    assert f"Redis at redis://:***@127.0.0.1:{port}/0" in caplog.text
    assert PASSWORD not in repr(config)
    # unreachable at start-up: a warning (with the URL redacted), and the app still starts
    dead = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    app = AsgiApp(with_store(gateway_config, dead, prefix()))
    asyncio.run(app.handler.startup())
    asyncio.run(app.aclose())
    assert "is unreachable" in caplog.text
    assert PASSWORD not in caplog.text
    assert redact_url("redis://:s3@h:1/0") == "redis://:***@h:1/0"
    assert redact_url("rediss://user:s3@h/2?ssl_cert_reqs=none") == (
        "rediss://user:***@h/2?ssl_cert_reqs=none"
    )
    assert redact_url("unix:///run/redis.sock?password=s3&db=1") == (
        "unix:///run/redis.sock?password=***&db=1"
    )
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"


def test_store_url_settings_and_precedence(tmp_path: Any) -> None:
    path = tmp_path / "apibridge.toml"
    path.write_text(
        '[server]\nstore_url = "redis://file:6379/0"\nstore_prefix = "gw1:"\n'
        '[upstreams.a]\nformat = "scripted"\nbase_url = "echo"\n'
    )
    assert load_config(path).server.store_url == "redis://file:6379/0"
    assert load_config(path).server.store_prefix == "gw1:"
    env = {"APIBRIDGE_STORE_URL": "redis://env:6379/0"}
    assert load_config(path, env=env).server.store_url == "redis://env:6379/0"
    parser = argparse.ArgumentParser()
    _serve.add_arguments(parser)
    args = parser.parse_args(["--config", str(path), "--store-url", "redis://cli:6379/0"])
    merged = load_config(env={**env, **_serve._overlay(args)})
    assert merged.server.store_url == "redis://cli:6379/0"
    with pytest.raises(ConfigError, match=r"server\.store_url"):
        load_config(env={"APIBRIDGE_STORE_URL": "http://not-redis"})


def test_missing_redis_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "redis.asyncio", None)
    with pytest.raises(ConfigError, match=r"pip install 'apibridge\[redis\]'"):
        import_redis()


def test_several_workers_without_a_store_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="apibridge")
    config = load_config(env={"APIBRIDGE_UPSTREAM": "scripted=echo"})
    _serve._describe(config, 1)
    assert "shared store" not in caplog.text
    _serve._describe(config, 4)
    warnings = [r for r in caplog.records if "shared store" in r.getMessage()]
    assert len(warnings) == 1
    assert "--store-url" in warnings[0].getMessage()
    caplog.clear()
    _serve._describe(with_store(config, "redis://h:6379/0", "p:"), 4)
    assert "shared store" not in caplog.text


def test_serve_workers_with_the_store_url(redis_url: str) -> None:
    from test_serve import serve

    lines: list[str]
    with serve("--upstream", "scripted=echo", "--workers", "2", "--store-url", redis_url) as (
        root,
        lines,
    ):
        client = openai_client(root, "k")
        first = client.responses.create(model="m", input="hello")
        for _ in range(6):  # whichever worker answers knows it
            assert client.responses.retrieve(first.id).id == first.id
            answer = client.responses.create(
                model="m", input="again", previous_response_id=first.id
            )
            assert answer.output_text == "echo: again"
    log = "\n".join(lines)
    assert PASSWORD not in log
    assert "redis://:***@127.0.0.1" in log
    assert "shared store" not in log
