"""``/metrics``: real requests through the gateway on loopback, then the Prometheus text parsed
by ``prometheus_client``'s own parser and its numbers checked against what the clients saw.
Off by default, and then ``prometheus_client`` is never imported."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import attrs
import httpx
import pytest
from calls import call, openai_client
from servers import ADMIN_KEY, CLIENT_KEY, Plan, ScriptedUpstream, serve_asgi, serve_wsgi
from test_serve import serve

from apibridge.asgi import App
from apibridge.config import GatewayConfig, load_config
from apibridge.wsgi import App as WsgiApp

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from apibridge._gateway._metrics import MAX_MODELS, OTHER  # noqa: E402

Samples = list[tuple[str, dict[str, str], float]]


def scrape(root: str, key: str = CLIENT_KEY) -> Samples:
    response = httpx.get(root + "/metrics", headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    ]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    return sum(v for n, ls, v in samples if n == name and labels.items() <= ls.items())


@pytest.fixture
def metered(gateway_config: GatewayConfig) -> Iterator[str]:
    """A fresh gateway with metrics on (its own registry: counts start at zero)."""
    server = attrs.evolve(gateway_config.server, metrics=True)
    with serve_asgi(App(attrs.evolve(gateway_config, server=server))) as root:
        yield root


def test_requests_latency_and_tokens_match_what_clients_saw(
    metered: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    claude = anthropic.Anthropic(api_key=CLIENT_KEY, base_url=metered, max_retries=0)
    answers = [
        claude.messages.create(
            model="chat-model", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
        for _ in range(3)
    ]
    chat = openai_client(metered, CLIENT_KEY)
    streamed = chat.chat.completions.create(
        model="anthropic-model",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = [chunk.usage for chunk in streamed if chunk.usage is not None][-1]
    assert call(metered, "chat", "no-such-model").status_code == 404

    samples = scrape(metered)
    whole = {"client": "anthropic", "upstream": "chat", "model": "chat-model", "status": "200"}
    assert value(samples, "apibridge_requests_total", **whole) == 3
    assert value(samples, "apibridge_request_duration_seconds_count", **whole) == 3
    assert value(samples, "apibridge_request_duration_seconds_sum", **whole) > 0
    assert value(samples, "apibridge_request_duration_seconds_bucket", le="+Inf", **whole) == 3
    stream = {"client": "chat", "upstream": "anthropic", "model": "anthropic-model"}
    assert value(samples, "apibridge_requests_total", status="200", **stream) == 1
    # an unrouted model is not a label value of its own
    unrouted = {"client": "chat", "upstream": "-", "model": OTHER, "status": "404"}
    assert value(samples, "apibridge_requests_total", **unrouted) == 1
    assert not [ls for n, ls, _ in samples if ls.get("model") == "no-such-model"]

    tokens_in = sum(a.usage.input_tokens for a in answers)
    tokens_out = sum(a.usage.output_tokens for a in answers)
    assert tokens_in > 0
    assert tokens_out > 0
    labels = {"client": "anthropic", "upstream": "chat", "model": "chat-model"}
    assert value(samples, "apibridge_tokens_total", direction="input", **labels) == tokens_in
    assert value(samples, "apibridge_tokens_total", direction="output", **labels) == tokens_out
    assert value(samples, "apibridge_tokens_total", direction="output", **stream) == (
        usage.completion_tokens
    )
    assert value(samples, "apibridge_tokens_total", direction="input", **stream) == (
        usage.prompt_tokens
    )
    assert value(samples, "apibridge_streams_open") == 0


def test_wsgi_app_serves_the_same_metrics(
    gateway_config: GatewayConfig, upstreams: dict[str, ScriptedUpstream]
) -> None:
    server = attrs.evolve(gateway_config.server, metrics=True)
    app = WsgiApp(attrs.evolve(gateway_config, server=server))
    try:
        with serve_wsgi(app) as root:
            for stream in (False, True, True):
                assert call(root, "responses", "chat-model", stream=stream).status_code == 200
            samples = scrape(root)
    finally:
        app.close()
    labels = {"client": "responses", "upstream": "chat", "model": "chat-model", "status": "200"}
    assert value(samples, "apibridge_requests_total", **labels) == 3
    assert value(samples, "apibridge_tokens_total", client="responses", direction="output") > 0
    assert value(samples, "apibridge_streams_open") == 0


def test_retries_and_upstream_errors(metered: str, upstreams: dict[str, ScriptedUpstream]) -> None:
    upstreams["chat"].plan(Plan(kind="status", status=429, headers={"retry-after": "0"}))
    assert call(metered, "anthropic", "chat-model").status_code == 200  # retried once
    overloaded = Plan(kind="status", status=529, message="Overloaded")
    upstreams["anthropic"].plan(overloaded, overloaded, overloaded)
    failed = call(metered, "chat", "anthropic-model", stream=True)
    assert failed.status_code >= 500  # the first try and two retries, then reported
    upstreams["anthropic"].plan(Plan(kind="cut", events=2))
    cut = call(metered, "responses", "anthropic-model", stream=True)
    assert cut.status_code == 200  # failed mid-stream: said in-band
    assert call(metered, "chat", "dead-model").status_code == 502

    samples = scrape(metered)
    assert value(samples, "apibridge_upstream_retries_total", upstream="chat") == 1
    assert value(samples, "apibridge_upstream_retries_total", upstream="anthropic") == 2
    assert value(samples, "apibridge_upstream_retries_total", upstream="dead") == 2
    assert value(samples, "apibridge_upstream_errors_total", upstream="chat") == 0
    assert value(samples, "apibridge_upstream_errors_total", upstream="anthropic") == 2
    assert value(samples, "apibridge_upstream_errors_total", upstream="dead") == 1
    kinds = {ls["kind"] for n, ls, _ in samples if n == "apibridge_upstream_errors_total"}
    assert "bad_gateway" in kinds
    status = str(failed.status_code)
    assert value(samples, "apibridge_requests_total", upstream="anthropic", status=status) == 1


def test_open_streams_gauge(metered: str, upstreams: dict[str, ScriptedUpstream]) -> None:
    upstreams["chat"].plan(Plan(kind="hang", events=2))
    with httpx.Client(timeout=10) as client:
        body = {
            "model": "chat-model",
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
        headers = {"authorization": f"Bearer {CLIENT_KEY}"}
        url = metered + "/v1/chat/completions"
        with client.stream("POST", url, json=body, headers=headers) as response:
            assert response.status_code == 200
            chunks = response.iter_raw()  # held: a dropped iterator closes the response
            next(chunks)
            assert value(scrape(metered), "apibridge_streams_open") == 1
    deadline = time.monotonic() + 5
    while value(scrape(metered), "apibridge_streams_open") != 0:
        assert time.monotonic() < deadline, "the open stream was never counted as closed"
        time.sleep(0.05)
    samples = scrape(metered)
    assert value(samples, "apibridge_requests_total", client="chat", upstream="chat") == 1


def test_conversion_losses_by_field(metered: str, upstreams: dict[str, ScriptedUpstream]) -> None:
    claude = anthropic.Anthropic(api_key=CLIENT_KEY, base_url=metered, max_retries=0)
    for _ in range(2):
        claude.messages.create(
            model="chat-model",
            max_tokens=50,
            system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": "hi"}],
        )
    samples = scrape(metered)
    losses = [(ls, v) for n, ls, v in samples if n == "apibridge_conversion_losses_total" and v > 0]
    fields = {ls["field"] for ls, _ in losses}
    assert any("cache_control" in f for f in fields), fields
    assert all("[0]" not in f for f in fields)  # list indexes removed
    assert all(v % 2 == 0 for _, v in losses)  # the same losses on both requests
    assert {ls["upstream"] for ls, _ in losses} == {"chat"}


def test_store_operations(metered: str, upstreams: dict[str, ScriptedUpstream]) -> None:
    client = openai_client(metered, CLIENT_KEY)

    def ops(operation: str, outcome: str = "ok") -> float:
        samples = scrape(metered)
        return value(
            samples, "apibridge_store_operations_total", operation=operation, outcome=outcome
        )

    assert ops("set") == 0
    first = client.responses.create(model="chat-model", input="hi")
    stored_once = ops("set")
    assert stored_once >= 1
    gets = ops("get")
    client.responses.create(model="chat-model", input="more", previous_response_id=first.id)
    assert ops("get") > gets  # the earlier turn read back
    assert ops("set") == 2 * stored_once  # the new turn stored the same way
    client.responses.delete(first.id)  # a tombstone written over the stored response
    assert ops("set") == 2 * stored_once + 1
    samples = scrape(metered)
    timed = value(samples, "apibridge_store_operation_duration_seconds_count", operation="set")
    assert timed == 2 * stored_once + 1
    assert not value(samples, "apibridge_store_operations_total", outcome="error")


def test_client_model_names_are_bounded(
    metered: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    extra = 5
    for i in range(MAX_MODELS + extra):  # claude-* is a glob route: any name is served
        assert call(metered, "chat", f"claude-{i}").status_code == 200
    samples = scrape(metered)
    models = {
        ls["model"] for n, ls, _ in samples if n == "apibridge_requests_total" and ls["upstream"]
    }
    glob_models = {m for m in models if m.startswith("claude-")}
    assert len(glob_models) == MAX_MODELS
    assert value(samples, "apibridge_requests_total", model=OTHER, upstream="chat") == extra


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"authorization": "Bearer wrong"}, 401),
        ({"x-api-key": CLIENT_KEY}, 200),
        ({"authorization": f"Bearer {CLIENT_KEY}"}, 200),
        ({"x-admin-key": ADMIN_KEY}, 200),
        ({"authorization": f"Bearer {ADMIN_KEY}"}, 200),
    ],
)
def test_metrics_needs_a_client_or_admin_key(
    metered: str, headers: dict[str, str], status: int
) -> None:
    assert httpx.get(metered + "/metrics", headers=headers).status_code == status


def test_metrics_off_is_404(gateway: str) -> None:
    response = httpx.get(gateway + "/metrics", headers={"x-admin-key": ADMIN_KEY})
    assert response.status_code == 404


def test_off_by_default_never_imports_prometheus_client(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
) -> None:
    """Serving requests (and refusing /metrics) without the setting loads no prometheus_client."""
    _, root = upstream_servers["chat"]
    program = textwrap.dedent(
        f"""
        import sys
        import anyio
        import httpx
        from apibridge.asgi import App

        async def main():
            app = App(upstream="chat={root}/v1", api_key="sk-x")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                body = {{"model": "m", "messages": [{{"role": "user", "content": "hi"}}]}}
                r = await c.post("/v1/chat/completions", json=body)
                assert r.status_code == 200, r.text
                r = await c.post("/v1/chat/completions", json={{**body, "stream": True}})
                assert r.status_code == 200, r.text
                assert (await c.get("/metrics")).status_code == 404
            await app.aclose()

        anyio.run(main)
        print("prometheus_client" in sys.modules)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("APIBRIDGE_METRICS", None)
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_turned_on_by_toml_env_and_cli(tmp_path: Path) -> None:
    toml = tmp_path / "apibridge.toml"
    toml.write_text(
        '[server]\nmetrics = true\n[upstreams.u]\nformat = "chat"\nbase_url = "http://h/v1"\n'
    )
    assert load_config(str(toml), env={}).server.metrics
    upstream = {"APIBRIDGE_UPSTREAM": "chat=http://h/v1"}
    assert not load_config(env=upstream).server.metrics
    assert load_config(env={**upstream, "APIBRIDGE_METRICS": "1"}).server.metrics
    from apibridge._cli_serve import _overlay, add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--upstream", "chat=http://h/v1", "--metrics"])
    assert _overlay(args)["APIBRIDGE_METRICS"] == "1"
    assert "APIBRIDGE_METRICS" not in _overlay(parser.parse_args([]))


def test_several_workers_share_their_counts() -> None:
    """``apibridge serve --workers 2 --metrics``: any worker's /metrics counts every
    worker's requests (prometheus_client's multiprocess mode, set up by the command)."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    requests = 16
    args = ("--upstream", "scripted=echo", "--workers", "2", "--metrics")
    with serve(*args, env=env) as (root, _):
        client = openai_client(root, "k")
        errors: list[BaseException] = []

        def ask() -> None:
            try:
                answer = client.responses.create(model="m", input="hello")
                assert answer.output_text == "echo: hello"
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=ask) for _ in range(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        for _ in range(4):  # whichever worker answers the scrape
            samples = scrape(root, key="k")
            assert value(samples, "apibridge_requests_total", client="responses") == requests
