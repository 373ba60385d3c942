"""Generated bad requests against the real ASGI gateway, in-process, counted.

Importable from the tests (``tests/gateway`` is on ``sys.path`` there) and from
``python -m benchmarks.reliability`` (which puts it there). :func:`run` drives
:class:`apibridge.asgi.App` directly (one event loop, no sockets between the client and the
gateway) in front of three :class:`~servers.ScriptedUpstream` servers on loopback, with
``count`` requests Hypothesis generates: valid bodies with a field dropped, retyped, made
huge or nested thousands of levels deep; arbitrary JSON shaped like the APIs' own; JSON cut
short, bytes that are not JSON, JSON that is not an object; wrong or missing content types;
stored-response routes with arbitrary ids. Every answer is classified:

* ``accepted``: 2xx (the request was valid after all, and the upstream answered);
* ``refused``: 4xx whose body is a valid error of the client's own API
  (:func:`oracles.validate_error`, the envelope the official SDKs parse);
* ``upstream_5xx``: a 502/503/504 for a request the upstream did receive (its own failure,
  reported in the client's format);
* failures: ``crash`` (an exception out of the app, or no answer), ``apibridge_5xx`` (any
  other 5xx), ``invalid_error`` (a 4xx/5xx whose body the client's SDK could not parse),
  ``key_leak`` (an upstream key in any byte of the answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from servers import (
    CLIENT_KEY,
    UPSTREAM_FORMATS,
    ScriptedUpstream,
    make_config,
    serve_upstreams,
    upstream_key,
)

from apibridge.asgi import App
from oracles import validate_error

__all__ = ["ENDPOINTS", "FAILURES", "Tally", "run"]

# (method, path template, the client's format); {id} is filled with a generated id
ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("POST", "/v1/messages", "anthropic"),
    ("POST", "/v1/messages/count_tokens", "anthropic"),
    ("POST", "/v1/chat/completions", "chat"),
    ("POST", "/v1/responses", "responses"),
    ("GET", "/v1/responses/{id}", "responses"),
    ("DELETE", "/v1/responses/{id}", "responses"),
    ("GET", "/v1/responses/{id}/input_items", "responses"),
)
FAILURES = ("crash", "apibridge_5xx", "invalid_error", "key_leak")
SECRETS = tuple(upstream_key(fmt).encode() for fmt in UPSTREAM_FORMATS)
MODELS = [f"{fmt}-model" for fmt in UPSTREAM_FORMATS]
KEYS = [
    "model", "messages", "role", "content", "type", "text", "input", "max_tokens",
    "max_output_tokens", "stream", "tools", "tool_choice", "system", "instructions", "id",
    "name", "arguments", "call_id", "tool_use_id", "previous_response_id", "metadata",
    "temperature", "n", "stop", "image_url", "source", "reasoning", "thinking", "store",
]  # fmt: skip
CONTENT_TYPES = [
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/json; charset=latin-1",
    "",
    "\x00garbage",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(["user", "assistant", "system", "tool", "text", "image", "function", ""]),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=20,
)


def _valid(fmt: str, model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "stream": stream}
    if fmt == "anthropic":
        body |= {"max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}
    elif fmt == "chat":
        body["messages"] = [{"role": "user", "content": "hi"}]
    else:
        body["input"] = [{"role": "user", "content": "hi"}]
    return body


def _deep(depth: int) -> str:
    """JSON nested ``depth`` levels (arrays and objects in turn), as text: deeper than
    Python's own encoder could write."""
    opening = "".join('{"a":' if i % 2 else "[" for i in range(depth))
    closing = "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    return opening + '"x"' + closing


@st.composite
def _mutated(draw: st.DrawFn, fmt: str) -> bytes:
    body = _valid(fmt, draw(st.sampled_from(MODELS)), draw(st.booleans()))
    deep = ""
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["drop", "retype", "add", "deep", "huge", "message"]))
        key = draw(st.sampled_from(sorted(body) or ["model"]))
        if how == "drop":
            body.pop(key, None)
        elif how == "retype":
            body[key] = draw(values)
        elif how == "add":
            body[draw(st.sampled_from(KEYS))] = draw(values)
        elif how == "deep":
            deep = _deep(draw(st.integers(50, 3000)))
            body[draw(st.sampled_from(KEYS))] = "\x00deep"
        elif how == "huge":
            size = draw(st.sampled_from([10_000, 200_000, 600_000]))  # the limit is 512 KiB
            body[draw(st.sampled_from(KEYS))] = "x" * size
        else:
            items = "messages" if fmt != "responses" else "input"
            body[items] = draw(st.lists(values, max_size=3))
    return json.dumps(body).replace('"\\u0000deep"', deep).encode()


@st.composite
def _malformed(draw: st.DrawFn, fmt: str) -> bytes:
    good = json.dumps(_valid(fmt, draw(st.sampled_from(MODELS)), draw(st.booleans()))).encode()
    how = draw(st.sampled_from(["cut", "bytes", "not_object", "trailing", "bad_utf8"]))
    if how == "cut":
        return good[: draw(st.integers(0, len(good) - 1))]
    if how == "bytes":
        return draw(st.binary(max_size=64))
    if how == "not_object":
        return json.dumps(draw(st.one_of(scalars, st.lists(values, max_size=3)))).encode()
    if how == "trailing":
        return good + draw(st.sampled_from([b"}", b",", b" x", b"\x00"]))
    return good.replace(b'"hi"', b'"h\xff\xfei"')


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, str, str, bytes, str | None]:
    """One request: (endpoint, method, path, client format, body, content type or None)."""
    method, path, fmt = draw(st.sampled_from(ENDPOINTS))
    if "{id}" in path:
        ident = draw(
            st.one_of(st.sampled_from(["resp_0", "resp_" + "0" * 48]), st.text(min_size=1))
        )
        query = draw(st.sampled_from(["", "limit=2", "limit=-1", "limit=x", "order=up", "%zz"]))
        target = path.replace("{id}", quote(ident, safe="")) + "?" + query
        return f"{method} {path}", method, target, fmt, b"", None
    kind = draw(st.sampled_from(["mutated", "mutated", "random", "malformed"]))
    if kind == "mutated":
        body = draw(_mutated(fmt))
    elif kind == "random":
        body = json.dumps(draw(st.dictionaries(st.sampled_from(KEYS), values))).encode()
    else:
        body = draw(_malformed(fmt))
    ctype = draw(st.one_of(st.just("application/json"), st.sampled_from([*CONTENT_TYPES, None])))
    return f"{method} {path}", method, path, fmt, body, ctype


class Tally:
    """Counts per outcome and per endpoint, and the first few failures."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.by_endpoint: Counter[tuple[str, str]] = Counter()
        self.statuses: Counter[int] = Counter()
        self.examples: list[str] = []
        self.seconds = 0.0

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failures(self) -> int:
        return sum(self.outcomes[name] for name in FAILURES)

    def record(self, endpoint: str, outcome: str, status: int, detail: str) -> None:
        self.outcomes[outcome] += 1
        self.by_endpoint[endpoint, outcome] += 1
        self.statuses[status] += 1
        if outcome in FAILURES and len(self.examples) < 10:
            self.examples.append(f"{outcome}: {detail}"[:500])


async def _ask(
    app: App, method: str, target: str, body: bytes, ctype: str | None
) -> tuple[int, bytes]:
    path, _, query = target.partition("?")
    headers = [(b"host", b"127.0.0.1:8080"), (b"x-api-key", CLIENT_KEY.encode())]
    if ctype is not None:
        headers.append((b"content-type", ctype.encode("latin-1")))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    finished = asyncio.Event()
    sent_body = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                finished.set()

    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    return status, b"".join(chunks)


def _classify(fmt: str, status: int, answer: bytes, upstream_asked: bool) -> tuple[str, str]:
    if status == 0:
        return "crash", "no answer"
    if status < 400:
        return "accepted", ""
    try:
        validate_error(fmt, status, json.loads(answer))
    except (AssertionError, ValueError, KeyError, TypeError) as error:
        return "invalid_error", f"{status} {answer[:200]!r} ({error!r})"
    if status < 500:
        return "refused", ""
    if status in (502, 503, 504) and upstream_asked:
        return "upstream_5xx", ""
    return "apibridge_5xx", f"{status} {answer[:200]!r}"


@contextlib.contextmanager
def gateway() -> Iterator[tuple[App, dict[str, ScriptedUpstream]]]:
    """The ASGI app (client key required) before a scripted upstream of each format."""
    with serve_upstreams() as servers:
        roots = {fmt: root for fmt, (_, root) in servers.items()}
        config = make_config(roots, client_keys=(CLIENT_KEY,))
        yield App(config), {fmt: app for fmt, (app, _) in servers.items()}


def run(count: int, *, seed_value: int = 0) -> Tally:
    """Send ``count`` generated bad requests through the gateway; the tally of answers."""
    tally = Tally()
    quiet = logging.getLogger("apibridge")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # losses and refusals are logged: not what is counted
    loop = asyncio.new_event_loop()
    started = time.perf_counter()
    with gateway() as (app, upstreams):

        @seed(seed_value)
        @settings(
            max_examples=count,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases())
        def one(case: tuple[str, str, str, str, bytes, str | None]) -> None:
            endpoint, method, target, fmt, body, ctype = case
            try:
                status, answer = loop.run_until_complete(_ask(app, method, target, body, ctype))
            except Exception as error:  # a crash is what is counted here
                status, answer = 0, repr(error).encode()
                outcome, detail = "crash", f"{method} {target}: {error!r}"
            else:
                asked = any(u.requests for u in upstreams.values())
                for upstream in upstreams.values():  # keep no bodies: tens of thousands
                    upstream.requests.clear()
                outcome, detail = _classify(fmt, status, answer, asked)
                if any(secret in answer for secret in SECRETS):
                    outcome = "key_leak"
                detail = f"{method} {target} {ctype!r} {body[:120]!r}: {detail}"
            tally.record(endpoint, outcome, status, detail)

        try:
            one()
        finally:
            loop.run_until_complete(app.aclose())
            quiet.setLevel(level)
    loop.close()
    tally.seconds = time.perf_counter() - started
    return tally
