"""JSON nested as deep as apibridge reads it is carried whole; deeper is the client's own 400.

orjson reads 1,024 levels but writes only 254; a tool schema or metadata may nest between the
two. Through the gateway, for every client format and every upstream format, a request whose
tool schema brings the body to 254, 255, 600, 1,023 and 1,024 levels reaches the upstream with
the schema intact (counted in the bytes the upstream received) and answers 200; 1,025 and 5,000
levels are refused with a 400 in the client's own envelope that names the limit, before any
upstream call. With the in-memory and the Redis store, the deep Responses request is stored
(after the upstream answered: a failure there would come too late), read back and continued
with ``previous_response_id``, to 1,023 levels; its stored value nests one level deeper than
the request, so at 1,024 levels a request to be stored is refused up front with a 400 naming
the limit (and goes through with ``store: false``).
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import orjson
import pytest
from calls import ENDPOINT, FORMATS
from servers import WRITERS, Answer, base_url, lifespan, serve_asgi
from test_redis_store import redis_server

from apibridge import _json
from apibridge._gateway._previous_response import MAX_STORED_DEPTH
from apibridge.asgi import App
from apibridge.config import GatewayConfig, Retries, Route, ServerConfig, UpstreamConfig
from oracles import validate_error

READ = (254, 255, 600, 1023, 1024)
TOO_DEEP = (1025, 5000)
LINK = '{"a":'  # one level of the deep value, as the gateway writes it (compact)


class RecordingUpstream:
    """An ASGI upstream that keeps each request's raw bytes and answers "ok" in its format
    (it never parses the body: its depth is what is under test, not this server's parser)."""

    def __init__(self, fmt: str) -> None:
        self.format = fmt
        self.bodies: collections.deque[bytes] = collections.deque()
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self.lock:
            self.bodies.append(raw)
        as_json, as_events = WRITERS[self.format]
        if b'"stream":true' in raw:
            answer = b"".join(as_events("m", Answer(text="ok")))
            content_type = b"text/event-stream"
        else:
            answer = _json.dumps(as_json("m", Answer(text="ok")))
            content_type = b"application/json"
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def _config(roots: dict[str, str]) -> GatewayConfig:
    upstreams = {
        fmt: UpstreamConfig(
            name=fmt, format=fmt, base_url=base_url(fmt, roots[fmt]), retries=Retries(attempts=0)
        )
        for fmt in FORMATS
    }
    routes = tuple(Route(pattern=f"{fmt}-model", upstream=fmt) for fmt in FORMATS)
    return GatewayConfig(upstreams=upstreams, routes=routes, server=ServerConfig())


@pytest.fixture(scope="module")
def recorders() -> Iterator[tuple[dict[str, RecordingUpstream], dict[str, str]]]:
    apps = {fmt: RecordingUpstream(fmt) for fmt in FORMATS}
    with (
        serve_asgi(apps["anthropic"]) as a,
        serve_asgi(apps["chat"]) as c,
        serve_asgi(apps["responses"]) as r,
    ):
        yield apps, {"anthropic": a, "chat": c, "responses": r}


@pytest.fixture(scope="module")
def deep_gateway(recorders: tuple[dict[str, RecordingUpstream], dict[str, str]]) -> Iterator[str]:
    with serve_asgi(App(_config(recorders[1]))) as url:
        yield url


def deep_body(fmt: str, model: str, depth: int) -> tuple[bytes, int]:
    """A ``fmt`` request whose tool schema makes the whole body ``depth`` levels deep, and
    the number of :data:`LINK` levels in it (written as text: no writer is trusted here)."""
    schema = {"type": "object", "properties": {"x": "DEEP"}}
    if fmt == "anthropic":
        body: dict[str, Any] = {"model": model, "max_tokens": 16}
        body["messages"] = [{"role": "user", "content": "hi"}]
        body["tools"] = [{"name": "t", "input_schema": schema}]
    elif fmt == "chat":
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        body["tools"] = [{"type": "function", "function": {"name": "t", "parameters": schema}}]
    else:
        body = {"model": model, "input": "hi"}
        body["tools"] = [{"type": "function", "name": "t", "parameters": schema}]
    text = _json.dumps_str(body)
    head = text[: text.index('"DEEP"')]
    outer = head.count("{") + head.count("[") - head.count("}") - head.count("]")
    links = depth - outer - 1  # the innermost {} is one level
    deep = LINK * links + "{}" + "}" * links
    return text.replace('"DEEP"', deep).encode(), links


def _post(url: str, fmt: str, raw: bytes) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return httpx.post(url + ENDPOINT[fmt], content=raw, headers=headers, timeout=30)


@pytest.mark.parametrize("depth", READ)
@pytest.mark.parametrize("upstream", FORMATS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_json_nested_as_deep_as_it_can_be_read_is_carried_whole(
    recorders: tuple[dict[str, RecordingUpstream], dict[str, str]],
    deep_gateway: str,
    fmt: str,
    upstream: str,
    depth: int,
) -> None:
    app = recorders[0][upstream]
    app.bodies.clear()
    raw, links = deep_body(fmt, f"{upstream}-model", depth)
    if fmt == "responses" and depth > MAX_STORED_DEPTH:  # too deep to store: see below
        raw = raw.replace(b'"input":"hi"', b'"input":"hi","store":false')
    if depth > 254:  # what orjson reads but cannot write
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps(orjson.loads(raw))
    response = _post(deep_gateway, fmt, raw)
    assert response.status_code == 200, response.text[:500]
    sent = app.bodies.popleft()
    assert sent.count(LINK.encode()) == links  # the schema reached the upstream whole
    assert LINK.encode() * links + b"{}" + b"}" * links in sent


@pytest.mark.parametrize("depth", TOO_DEEP)
@pytest.mark.parametrize("fmt", FORMATS)
def test_json_nested_deeper_than_it_can_be_read_is_a_400_naming_the_limit(
    recorders: tuple[dict[str, RecordingUpstream], dict[str, str]],
    deep_gateway: str,
    fmt: str,
    depth: int,
) -> None:
    for app in recorders[0].values():
        app.bodies.clear()
    raw, _ = deep_body(fmt, "chat-model", depth)
    response = _post(deep_gateway, fmt, raw)
    assert response.status_code == 400, response.text[:500]
    validate_error(fmt, 400, response.json())
    assert "nested deeper than 1024 levels" in response.text
    assert not any(app.bodies for app in recorders[0].values())


#: a stored Responses record nests the response object (which echoes the request's tools) one
#: level deeper than the request: at 1,024 it could be written but no JSON reader takes it back.
STORED = (254, 255, 600, 1023)


@contextlib.contextmanager
def _stored_gateway(roots: dict[str, str], store: str) -> Iterator[str]:
    config = _config(roots)
    with contextlib.ExitStack() as stack:
        if store == "redis":
            url, _ = stack.enter_context(redis_server())
            config = attrs.evolve(config, server=attrs.evolve(config.server, store_url=url))
        yield stack.enter_context(serve_asgi(App(config)))


def _id(text: str) -> str:
    start = text.index('"id":"') + len('"id":"')
    return text[start : text.index('"', start)]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("store", ["memory", "redis"])
def test_deep_responses_request_is_stored_and_read_back(
    recorders: tuple[dict[str, RecordingUpstream], dict[str, str]], store: str, stream: bool
) -> None:
    with _stored_gateway(recorders[1], store) as gateway:
        for depth in STORED:
            raw, links = deep_body("responses", "chat-model", depth)
            if stream:
                raw = raw.replace(b'"input":"hi"', b'"input":"hi","stream":true')
            response = _post(gateway, "responses", raw)
            assert response.status_code == 200, (depth, response.text[:500])
            response_id = _id(response.text)
            stored = httpx.get(f"{gateway}/v1/responses/{response_id}", timeout=20)
            assert stored.status_code == 200, (depth, stored.text[:500])
            assert stored.text.count(LINK) == links  # the echoed schema, read back whole
            again = {"model": "chat-model", "input": "more", "previous_response_id": response_id}
            follow = httpx.post(gateway + ENDPOINT["responses"], json=again, timeout=20)
            assert follow.status_code == 200, (depth, follow.text[:500])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("store", ["memory", "redis"])
def test_responses_request_too_deep_to_store_is_refused_before_the_upstream_call(
    recorders: tuple[dict[str, RecordingUpstream], dict[str, str]], store: str, stream: bool
) -> None:
    app = recorders[0]["chat"]
    app.bodies.clear()
    raw, links = deep_body("responses", "chat-model", MAX_STORED_DEPTH + 1)
    if stream:
        raw = raw.replace(b'"input":"hi"', b'"input":"hi","stream":true')
    with _stored_gateway(recorders[1], store) as gateway:
        response = _post(gateway, "responses", raw)
        assert response.status_code == 400, response.text[:500]
        validate_error("responses", 400, response.json())
        assert f"nested deeper than {MAX_STORED_DEPTH} levels outside input" in response.text
        assert "store: false" in response.text
        assert not app.bodies  # refused before any upstream call
        # not stored, it goes through whole
        unstored = raw.replace(b'"input":"hi"', b'"input":"hi","store":false')
        response = _post(gateway, "responses", unstored)
        assert response.status_code == 200, response.text[:500]
        assert app.bodies.popleft().count(LINK.encode()) == links
