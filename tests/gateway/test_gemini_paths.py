"""The Gemini pieces of the gateway and the HTTP transport that need no codec: routes, the
client key in the query, the upstream URLs, countTokens and model-list bodies, the JSON-array
stream form, and the ``gemini`` upstream kind in the configuration."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import httpx
import pytest
from google.genai import types as gtypes
from hypothesis import given
from hypothesis import strategies as st

from apibridge._gateway._edge import preflight
from apibridge._gateway._gemini import count_body, generate_body, json_array, sse
from apibridge._gateway._http import (
    check_head,
    client_format,
    forwarding,
    presented_keys,
    route,
    with_query_key,
)
from apibridge._gateway._options import check_config
from apibridge._gateway._policy import forwardable_headers
from apibridge._gateway._tenant import OPEN_TENANT, key_tenant, tenant_of
from apibridge._secrets import redact, redact_url
from apibridge.config import (
    DEFAULT_BASE_URLS,
    ConfigError,
    GatewayConfig,
    ServerConfig,
    UpstreamConfig,
    load_config,
    parse_upstream_spec,
)
from apibridge.errors import GatewayError, InvalidPayload
from apibridge.transports import KINDS
from apibridge.transports._paths import (
    count_body as upstream_count_body,
)
from apibridge.transports._paths import (
    count_of,
    gemini_model,
    gemini_root,
    gemini_url,
    listed_models,
    without_model,
)
from apibridge.transports.http import HttpTransport

GOOGLE = "https://generativelanguage.googleapis.com"


# ----------------------------------------------------------------------------- routes


@pytest.mark.parametrize("version", ["v1", "v1beta", "v1alpha"])
@pytest.mark.parametrize(
    ("method", "operation"),
    [
        ("generateContent", "create"),
        ("streamGenerateContent", "stream"),
        ("countTokens", "count_tokens"),
    ],
)
def test_gemini_model_calls_route_in_every_api_version(
    version: str, method: str, operation: str
) -> None:
    endpoint, model = route(f"/{version}/models/gemini-2.5-flash:{method}")
    assert endpoint is not None
    assert (endpoint.operation, endpoint.format, model) == (operation, "gemini", "gemini-2.5-flash")
    assert endpoint.methods == frozenset({"POST"})
    # a model name with a colon of its own still splits at the method
    _, model = route(f"/{version}/models/ollama:latest:{method}")
    assert model == "ollama:latest"


def test_gemini_model_lists_route_by_version_and_by_key() -> None:
    for path in ("/v1beta/models", "/v1alpha/models"):
        endpoint, _ = route(path)
        assert endpoint is not None
        assert (endpoint.operation, endpoint.format) == ("models", "gemini")
    endpoint, model = route("/v1beta/models/gemini-2.5-flash")
    assert endpoint is not None
    assert (endpoint.operation, endpoint.format, model) == ("model", "gemini", "gemini-2.5-flash")
    # /v1/models is every format's: a Google key (header or ?key=) asks for Gemini's shape
    assert client_format("/v1/models", {"x-goog-api-key": "k"}) == "gemini"
    assert client_format("/v1/models/x", with_query_key({}, "key=k")) == "gemini"
    assert client_format("/v1/models", {"x-api-key": "k"}) == "chat"
    assert client_format("/v1/models", {"anthropic-version": "2023-06-01"}) == "anthropic"
    # a GET of a model call is a 405 naming POST, not a model lookup
    endpoint, _ = route("/v1/models/x:generateContent")
    assert endpoint is not None
    assert endpoint.operation == "create"


def test_a_key_in_the_query_becomes_the_google_key_header() -> None:
    assert with_query_key({}, "key=abc&alt=sse") == {"x-goog-api-key": "abc"}
    assert with_query_key({}, "alt=sse&key=a%2Bb") == {"x-goog-api-key": "a+b"}
    given_headers = {"x-goog-api-key": "from-header"}
    assert with_query_key(given_headers, "key=other") is given_headers  # the header wins
    plain = {"x-api-key": "k"}
    assert with_query_key(plain, "alt=sse") is plain
    assert with_query_key(plain, "monkey=1") is plain  # not the key parameter
    assert presented_keys({"x-goog-api-key": "g", "authorization": "Bearer b"}) == ("", "b", "g")


def _config(**server: Any) -> GatewayConfig:
    return GatewayConfig.single("chat=http://127.0.0.1:9/v1", server=ServerConfig(**server))


def test_google_keys_authorise_scope_tenants_and_are_never_forwarded() -> None:
    config = _config(client_keys=("ck-1", "ck-2"))
    path = "/v1beta/models/m:generateContent"
    json_head = {"content-type": "application/json"}
    for headers in ({"x-goog-api-key": "ck-2"}, with_query_key({}, "key=ck-1")):
        endpoint, model = check_head(config, "POST", path, {**headers, **json_head})
        assert (endpoint.operation, model) == ("create", "m")
    with pytest.raises(GatewayError) as refused:
        check_head(config, "POST", path, {"x-goog-api-key": "wrong", **json_head})
    assert refused.value.error.status == 401
    assert "x-goog-api-key" in refused.value.error.message
    assert tenant_of(config, {"x-goog-api-key": "ck-2"}) == key_tenant("ck-2")
    assert tenant_of(config, {"x-goog-api-key": "nope"}) == "none"
    assert tenant_of(_config(), {"x-goog-api-key": "x"}) == OPEN_TENANT
    # the key is a credential: no transport gets it, unless the upstream forwards client keys
    assert "x-goog-api-key" not in forwardable_headers({"x-goog-api-key": "ck-1", "a": "b"})
    upstream = UpstreamConfig(name="g", format="gemini", base_url=GOOGLE)
    assert forwarding(upstream, {"x-goog-api-key": "ck-1"}).key is None
    byok = UpstreamConfig(name="g", format="gemini", base_url=GOOGLE, forward_client_key=True)
    assert forwarding(byok, {"x-goog-api-key": "user-key"}).key == "user-key"


def test_a_key_in_a_logged_url_is_hidden() -> None:
    assert redact_url("https://proxy.example/gemini?key=AIzaSecret&alt=sse") == (
        "https://proxy.example/gemini?key=***&alt=sse"
    )
    assert redact_url("http://h/v1?api_key=s&monkey=1") == "http://h/v1?api_key=***&monkey=1"


def test_google_shaped_keys_are_redacted_from_error_messages() -> None:
    key = "AIza" + "Sy" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6q"
    assert len(key) == 39
    assert redact(f"API key not valid: {key}. Please pass a valid API key.") == (
        "API key not valid: [redacted]. Please pass a valid API key."
    )


# ----------------------------------------------------------------------------- bodies


def test_the_path_model_goes_into_the_body_and_wins() -> None:
    assert generate_body({"contents": [], "model": "models/other"}, "gemini-2.5-flash") == {
        "contents": [],
        "model": "models/gemini-2.5-flash",
    }
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]
    assert count_body({"contents": contents}, "m") == {"contents": contents, "model": "models/m"}
    inner = {"model": "models/x", "contents": contents, "systemInstruction": {"parts": []}}
    for name in ("generateContentRequest", "generate_content_request"):
        assert count_body({name: inner}, "m") == {**inner, "model": "models/m"}
    with pytest.raises(InvalidPayload):
        count_body({"generateContentRequest": []}, "m")


def test_alt_sse_is_read_from_the_query() -> None:
    assert sse("alt=sse")
    assert sse("key=k&alt=sse")
    assert not sse("")
    assert not sse("alt=json")
    assert not sse("salt=sse")


def _sse_frames(bodies: list[dict[str, Any]]) -> list[bytes]:
    return [f"data: {json.dumps(b)}\r\n\r\n".encode() for b in bodies]


@given(
    st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3), max_size=5),
    st.integers(min_value=0, max_value=6),
)
def test_the_json_array_form_holds_every_frame_in_order(
    bodies: list[dict[str, Any]], stop_after: int
) -> None:
    """All of a stream, or as much as a client read before it left: either way the stream
    the array wraps is closed (which closes the upstream)."""
    closed: list[bool] = []

    async def body() -> AsyncGenerator[bytes, None]:
        try:
            yield b""  # primed, as open_stream's body is
            for frame in _sse_frames(bodies):
                yield frame
        finally:
            closed.append(True)

    async def read() -> tuple[bytes, bool]:
        inner = body()
        await anext(inner)
        wrapped = await json_array(inner)
        out = b""
        chunks = 0
        async for chunk in wrapped:
            out += chunk
            chunks += 1
            if chunks == stop_after:
                await wrapped.aclose()  # the client left
                return out, False
        return out, True

    out, whole = anyio.run(read)
    assert closed == [True]
    if whole:
        assert json.loads(out) == bodies
    else:
        assert out.startswith(b"[")


def test_a_json_array_stream_closed_before_its_first_chunk_closes_what_it_wraps() -> None:
    closed: list[bool] = []

    async def body() -> AsyncGenerator[bytes, None]:
        try:
            yield b""
            yield b'data: {"a": 1}\r\n\r\n'
        finally:
            closed.append(True)

    async def leave() -> None:
        inner = body()
        await anext(inner)
        wrapped = await json_array(inner)
        await wrapped.aclose()  # the driver never asked for a chunk

    anyio.run(leave)
    assert closed == [True]


# ----------------------------------------------------------------------------- upstream URLs


@pytest.mark.parametrize(
    ("base", "root"),
    [
        (GOOGLE, GOOGLE + "/v1beta"),
        (GOOGLE + "/", GOOGLE + "/v1beta"),
        (GOOGLE + "/v1", GOOGLE + "/v1"),
        (GOOGLE + "/v1beta/", GOOGLE + "/v1beta"),
        ("http://127.0.0.1:8000/proxy/v1alpha", "http://127.0.0.1:8000/proxy/v1alpha"),
        ("http://127.0.0.1:8000/gemini", "http://127.0.0.1:8000/gemini/v1beta"),
    ],
)
def test_a_gemini_base_url_gets_v1beta_unless_it_names_a_version(base: str, root: str) -> None:
    assert gemini_root(base) == root


def test_gemini_urls_name_the_model_and_the_call() -> None:
    root = GOOGLE + "/v1beta"
    assert gemini_url(root, "messages", "models/gemini-2.5-flash") == (
        root + "/models/gemini-2.5-flash:generateContent"
    )
    assert (
        gemini_url(root, "stream", "models/m") == root + "/models/m:streamGenerateContent?alt=sse"
    )
    assert gemini_url(root, "count_tokens", "tunedModels/t") == root + "/tunedModels/t:countTokens"
    # a routed name cannot climb out of its collection or add a query
    for name in ("../../admin", "a/b", "x?key=1", "m#f"):
        url = httpx.URL(gemini_url(root, "messages", "models/" + name))
        assert url.raw_path.startswith(b"/v1beta/models/"), url
        assert url.raw_path.count(b"/") == 3, url
        assert url.query == b"", url
    assert gemini_model({"model": "models/m"}) == "models/m"
    assert gemini_model({"model": "m"}) == "models/m"
    assert without_model({"model": "models/m", "contents": []}) == {"contents": []}
    with pytest.raises(ValueError, match="names no model"):
        gemini_model({"contents": []})


def test_count_tokens_and_model_list_bodies_by_format() -> None:
    body = {"model": "models/m", "contents": [{"parts": [{"text": "hi"}]}]}
    assert upstream_count_body("gemini", body) == {"generateContentRequest": body}
    assert upstream_count_body("anthropic", {"model": "m", "max_tokens": 5, "messages": []}) == {
        "model": "m",
        "messages": [],
    }
    assert count_of("gemini", {"totalTokens": 31}) == 31
    assert count_of("gemini", {"input_tokens": 31}) is None
    assert count_of("anthropic", {"input_tokens": 7}) == 7
    assert count_of("anthropic", {"input_tokens": True}) is None
    assert count_of("gemini", [1]) is None
    listed = {
        "models": [
            {"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash"},
            {"name": "tunedModels/mine"},
            {"displayName": "no name"},
            "junk",
        ],
        "nextPageToken": "t",
    }
    entries = listed_models("gemini", listed)
    assert [(e["id"], e["display_name"]) for e in entries] == [
        ("gemini-2.5-flash", "Gemini 2.5 Flash"),
        ("tunedModels/mine", "tunedModels/mine"),
    ]
    assert entries[0]["gemini"] == listed["models"][0]
    for entry in listed["models"][:2]:
        gtypes.Model.model_validate(entry)  # the shape this reads is Google's
    assert listed_models("chat", {"data": [{"id": "a"}, {"x": 1}]}) == [{"id": "a"}]
    assert listed_models("gemini", {"data": [{"id": "a"}]}) == []


# ----------------------------------------------------------------------------- config


def test_the_gemini_upstream_kind() -> None:
    assert parse_upstream_spec("gemini") == ("gemini", GOOGLE)
    assert DEFAULT_BASE_URLS["gemini"] == GOOGLE
    assert KINDS["gemini"].speaks == "wire"
    config = load_config(env={"APIBRIDGE_UPSTREAM": "gemini", "GEMINI_API_KEY": "g-key"})
    assert config.upstreams["default"].api_keys == ("g-key",)
    # a Google key is sent only to Google's own host
    local = load_config(
        env={"APIBRIDGE_UPSTREAM": "gemini=http://127.0.0.1:9", "GEMINI_API_KEY": "g-key"}
    )
    assert local.upstreams["default"].api_keys == ()
    UpstreamConfig(name="g", format="gemini", base_url=GOOGLE, forward_client_key=True)
    with pytest.raises(ConfigError, match="gemini"):
        UpstreamConfig(name="b", format="backboard", base_url=GOOGLE, forward_client_key=True)
    with pytest.raises(ConfigError, match="gemini upstreams have no profiles"):
        check_config(GatewayConfig.single("gemini+vllm=http://127.0.0.1:9"))


def test_the_transport_sends_google_keys_in_their_header() -> None:
    upstream = UpstreamConfig(
        name="g", format="gemini", base_url=GOOGLE, api_keys=("g-1", "g-2"), headers={"x-a": "b"}
    )
    transport = HttpTransport(upstream, client=httpx.AsyncClient())
    seen = {transport.headers()["x-goog-api-key"] for _ in range(4)}
    assert seen == {"g-1", "g-2"}  # rotated
    headers = transport.headers(stream=True)
    assert "authorization" not in headers
    assert "x-api-key" not in headers
    assert headers["accept"] == "text/event-stream"
    assert headers["x-a"] == "b"


def test_a_browser_may_send_googles_key_header() -> None:
    server = ServerConfig(cors_origins=("https://app.example.com",))
    endpoint, _ = route("/v1beta/models/m:streamGenerateContent")
    assert endpoint is not None
    origin = {"origin": "https://app.example.com", "access-control-request-method": "POST"}
    answer = dict(preflight(server, endpoint.methods, origin))
    assert answer["access-control-allow-methods"] == "POST"
    allowed = {h.strip() for h in answer["access-control-allow-headers"].split(",")}
    assert {"x-goog-api-key", "x-goog-api-client", "content-type"} <= allowed
