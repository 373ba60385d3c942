"""OpenTelemetry traces (``server.traces``): real requests through the gateway on loopback,
the spans read back with the SDK's in-memory exporter, the trace context checked on the
upstream's side. Off by default, and then ``opentelemetry`` is never imported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import anthropic
import attrs
import httpx
import pytest
from calls import call, openai_client
from servers import CLIENT_KEY, Plan, ScriptedUpstream, serve_asgi

from apibridge.asgi import App
from apibridge.config import GatewayConfig, load_config

pytest.importorskip("opentelemetry.sdk")
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

EXPORTER = InMemorySpanExporter()
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_PARENT = "00f067aa0ba902b7"


@pytest.fixture(scope="module", autouse=True)
def _provider() -> None:
    """The SDK as the global provider, once for this process (OpenTelemetry allows one)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))


@pytest.fixture
def traced(gateway_config: GatewayConfig) -> Iterator[str]:
    server = attrs.evolve(gateway_config.server, traces=True)
    EXPORTER.clear()
    with serve_asgi(App(attrs.evolve(gateway_config, server=server))) as root:
        yield root


def spans() -> dict[SpanKind, list[ReadableSpan]]:
    """apibridge's spans by kind (the SDKs trace their own calls too: those are not ours)."""
    out: dict[SpanKind, list[ReadableSpan]] = {SpanKind.SERVER: [], SpanKind.CLIENT: []}
    for span in EXPORTER.get_finished_spans():
        scope = span.instrumentation_scope
        if scope is not None and scope.name == "apibridge":
            out.setdefault(span.kind, []).append(span)
    return out


def test_a_request_and_its_upstream_call_are_spans_of_the_clients_trace(
    traced: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    answer = httpx.post(
        traced + "/v1/messages",
        json={
            "model": "chat-model",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers={"x-api-key": CLIENT_KEY, "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_PARENT}-01"},
    )
    assert answer.status_code == 200, answer.text
    usage = answer.json()["usage"]
    found = spans()
    (server,) = found[SpanKind.SERVER]
    (client,) = found[SpanKind.CLIENT]
    assert server.name == "POST /v1/messages"
    assert server.context is not None
    assert client.context is not None
    assert f"{server.context.trace_id:032x}" == CLIENT_TRACE  # joined the client's trace
    assert server.parent is not None
    assert f"{server.parent.span_id:016x}" == CLIENT_PARENT
    assert client.parent is not None
    assert client.parent.span_id == server.context.span_id
    assert server.attributes is not None
    assert client.attributes is not None
    assert server.attributes["http.response.status_code"] == 200
    attributes = dict(client.attributes)
    assert client.name == "chat chat-model"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.system"] == "openai"  # a Chat upstream
    assert attributes["gen_ai.request.model"] == "chat-model"
    assert attributes["gen_ai.request.max_tokens"] == 50
    assert attributes["gen_ai.usage.input_tokens"] == usage["input_tokens"]
    assert attributes["gen_ai.usage.output_tokens"] == usage["output_tokens"]
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attributes["server.address"] == "127.0.0.1"
    # the upstream got the upstream call's span as its parent
    headers = upstreams["chat"].requests[-1]["headers"]
    expected = f"00-{CLIENT_TRACE}-{client.context.span_id:016x}-01"
    assert headers["traceparent"] == expected
    assert client.start_time is not None
    assert server.start_time is not None
    assert client.end_time is not None
    assert server.end_time is not None
    assert server.start_time <= client.start_time <= client.end_time <= server.end_time
    text = repr([dict(s.attributes or {}) for s in EXPORTER.get_finished_spans()])
    assert CLIENT_KEY not in text
    assert "hi" not in {str(v) for v in attributes.values()}  # no message content


def test_the_anthropic_sdks_own_span_is_the_parent(traced: str) -> None:
    """The SDK traces its call and sends its span's context: the gateway's span joins it."""
    claude = anthropic.Anthropic(api_key=CLIENT_KEY, base_url=traced, max_retries=0)
    claude.messages.create(
        model="chat-model", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    (server,) = spans()[SpanKind.SERVER]
    sdk = [
        s
        for s in EXPORTER.get_finished_spans()
        if s.kind is SpanKind.CLIENT and s not in spans()[SpanKind.CLIENT]
    ]
    if not sdk:
        pytest.skip("this anthropic SDK does not trace its calls")
    (theirs,) = sdk
    assert server.parent is not None
    assert theirs.context is not None
    assert server.parent.span_id == theirs.context.span_id
    assert server.parent.trace_id == theirs.context.trace_id


def test_a_streamed_answer_ends_its_spans_when_the_stream_ends(
    traced: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    stream = openai_client(traced, CLIENT_KEY).chat.completions.create(
        model="anthropic-model",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = [chunk.usage for chunk in stream if chunk.usage is not None][-1]
    found = spans()
    (server,) = found[SpanKind.SERVER]
    (client,) = found[SpanKind.CLIENT]
    assert server.context is not None
    assert client.parent is not None
    assert client.parent.span_id == server.context.span_id
    attributes = dict(client.attributes or {})
    assert attributes["gen_ai.system"] == "anthropic"
    assert attributes["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert attributes["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert "traceparent" in upstreams["anthropic"].requests[-1]["headers"]


def test_an_upstream_failure_marks_both_spans(
    traced: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    upstreams["chat"].plan(*[Plan(kind="status", status=500)] * 3)  # every try fails
    response = call(traced, "responses", "chat-model")
    assert response.status_code >= 500
    found = spans()
    (server,) = found[SpanKind.SERVER]
    (client,) = found[SpanKind.CLIENT]
    assert server.status.status_code is StatusCode.ERROR
    assert client.status.status_code is StatusCode.ERROR
    assert dict(client.attributes or {})["error.type"] == "api_error"


def test_a_refused_request_has_a_server_span_only(traced: str) -> None:
    assert call(traced, "chat", "no-such-model").status_code == 404
    found = spans()
    (server,) = found[SpanKind.SERVER]
    assert found[SpanKind.CLIENT] == []
    assert dict(server.attributes or {})["http.response.status_code"] == 404


def test_traces_are_off_by_default_and_then_never_imported(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
) -> None:
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
                assert "traceparent" not in r.request.headers
            await app.aclose()

        anyio.run(main)
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("APIBRIDGE_TRACES", None)
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_turned_on_by_toml_and_env(tmp_path: Path) -> None:
    toml = tmp_path / "apibridge.toml"
    toml.write_text(
        '[server]\ntraces = true\n[upstreams.u]\nformat = "chat"\nbase_url = "http://h/v1"\n'
    )
    assert load_config(str(toml), env={}).server.traces
    upstream = {"APIBRIDGE_UPSTREAM": "chat=http://h/v1"}
    assert load_config(None, env={**upstream, "APIBRIDGE_TRACES": "1"}).server.traces
    assert not load_config(None, env=upstream).server.traces


def test_a_huge_model_name_is_cut_in_the_span(upstreams: dict[str, ScriptedUpstream]) -> None:
    """The model is the client's text: the span keeps as much of it as the access log does."""
    config = GatewayConfig.single("scripted=echo")
    EXPORTER.clear()
    app = App(attrs.evolve(config, server=attrs.evolve(config.server, traces=True)))
    with serve_asgi(app) as root:
        answer = httpx.post(
            root + "/v1/chat/completions",
            json={"model": "m" * 200_000, "messages": [{"role": "user", "content": "hi"}]},
        )
    assert answer.status_code == 200, answer.text
    (client,) = spans()[SpanKind.CLIENT]
    assert len(client.name) <= len("chat ") + 512
    assert len(dict(client.attributes or {})["gen_ai.request.model"]) == 512


def test_span_names_are_routes_not_paths(traced: str) -> None:
    """A span's name is its route (few names); the path itself is ``url.path``."""
    httpx.get(traced + "/v1/responses/resp_0123456789", headers={"x-api-key": CLIENT_KEY})
    httpx.get(traced + "/no/such/path/4711", headers={"x-api-key": CLIENT_KEY})
    names = sorted(span.name for span in spans()[SpanKind.SERVER])
    assert names == ["GET", "GET /v1/responses/{response_id}"]
    paths = {dict(s.attributes or {})["url.path"] for s in spans()[SpanKind.SERVER]}
    assert paths == {"/v1/responses/resp_0123456789", "/no/such/path/4711"}


def test_a_gemini_call_with_its_key_in_the_query(
    traced: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    """Gemini's route names the model, the Gemini upstream is ``gcp.gemini``, and the key a
    client put in the query (``?key=``) is in no span."""
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    for key in (CLIENT_KEY, "not-the-key-4711"):
        httpx.post(
            traced + "/v1beta/models/gemini-model:streamGenerateContent",
            params={"alt": "sse", "key": key},
            json=body,
        )
    found = spans()
    names = sorted(s.name for s in found[SpanKind.SERVER])
    assert names == ["POST /v1beta/models/{model}:streamGenerateContent"] * 2
    (client,) = found[SpanKind.CLIENT]
    assert dict(client.attributes or {})["gen_ai.system"] == "gcp.gemini"
    text = repr([(s.name, dict(s.attributes or {})) for s in EXPORTER.get_finished_spans()])
    for secret in (CLIENT_KEY, "not-the-key-4711", "key="):
        assert secret not in text
    assert upstreams["gemini"].requests[-1]["query"] == "alt=sse"
