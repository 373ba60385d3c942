"""apibridge on loopback in front of a scripted, recording upstream.

Theory of operation
-------------------
:func:`bridge` starts two loopback servers: a :class:`~.recorder.Recorder` speaking the
upstream format (answers scripted by :class:`~.scripted.Turn` values, every request kept),
and ``apibridge.asgi.App`` under uvicorn, configured with that recorder as its only upstream
(every model routed to it, unchanged). A scenario points a real client at
:attr:`Bridge.url`, then asserts what the client's user saw *and* calls
:meth:`Bridge.upstream_bodies`, which checks every request the upstream received:

* sent to that format's endpoint (``/v1/messages``, ``/v1/chat/completions``,
  ``/v1/responses``; Gemini: ``/v1beta/models/{model}:generateContent`` or
  ``:streamGenerateContent?alt=sse``);
* valid for the official SDK's request type (``tests/oracles.py``: ``validate_request``;
  Gemini: the ``google-genai`` types, :func:`.gemini_wire.validate_request`);
* carrying the upstream key the gateway was configured with, in that format's header
  (``x-api-key``, ``Authorization: Bearer``, ``x-goog-api-key``), and never the key the client
  presented;
* no ``anthropic-beta`` header on a non-Anthropic upstream (it gates Anthropic-only fields).

The upstream is the acceptance suite's own recorder rather than ``tests/gateway/servers.py``:
the client scenarios need answers that one does not script (signed thinking, encrypted
reasoning, ``reasoning_content``, several tool calls in one turn with interleaved argument
fragments, free-form ``custom`` tool calls, and answers that depend on how the gateway
declared a tool).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from apibridge.asgi import App
from apibridge.config import GatewayConfig, Retries
from oracles import validate_request

from . import gemini_wire, wire
from .recorder import GEMINI_GENERATE, GEMINI_PATH, LoopbackServer, Recorded, Recorder, Step
from .scripted import Call, Turn

#: The key the gateway sends upstream; the clients present ``CLIENT_KEY`` to the gateway.
UPSTREAM_KEY = "upstream-key-7f3a"
CLIENT_KEY = "test-key"

#: Where each upstream format is reached, relative to the recorder's root.
UPSTREAM_PATHS: Mapping[str, str] = {
    "anthropic": "/v1/messages",
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
}
_BASE_SUFFIX: Mapping[str, str] = {
    "anthropic": "",
    "chat": "/v1",
    "responses": "/v1",
    "gemini": "",
}

#: the formats the scenarios written for every upstream run against (a Gemini upstream has
#: its own scenarios, in ``test_gemini_clients.py``).
UPSTREAM_FORMATS: tuple[str, ...] = tuple(UPSTREAM_PATHS)


@attrs.frozen(kw_only=True)
class Bridge:
    """A running gateway and the upstream behind it."""

    url: str
    """The gateway's root URL (``http://127.0.0.1:<port>``)."""
    upstream: Recorder
    """The scripted upstream, with every request it received."""
    format: str
    """The upstream's wire format."""

    @property
    def openai_url(self) -> str:
        """The gateway's URL as OpenAI clients take it (with ``/v1``)."""
        return self.url + "/v1"

    def upstream_requests(self) -> list[Recorded]:
        """The model requests the upstream received, in order."""
        return self.upstream.model_requests()

    def upstream_bodies(self, count: int | None = None) -> list[dict[str, Any]]:
        """Every upstream request body, each checked (see the module docstring).

        ``count``, when given, is the number of requests expected.
        """
        requests = self.upstream_requests()
        if count is not None:
            assert len(requests) == count, [r.body for r in requests]
        bodies = []
        for number, request in enumerate(requests):
            where = f"upstream request {number} ({self.format})"
            body = request.body
            assert isinstance(body, dict), f"{where}: not a JSON object"
            if self.format == "gemini":
                match = GEMINI_PATH.fullmatch(request.path)
                assert match, f"{where}: {request.path}"
                assert match.group(1) == "v1beta", f"{where}: {request.path}"
                assert match.group(3) in GEMINI_GENERATE, f"{where}: {request.path}"
                if match.group(3) == "streamGenerateContent":
                    assert request.query == "alt=sse", f"{where}: {request.query}"
                gemini_wire.validate_request(body)
                assert request.header("x-goog-api-key") == UPSTREAM_KEY, where
                assert request.header("authorization") is None, where
                assert request.header("anthropic-beta") is None, where
            elif self.format == "anthropic":
                assert request.path == UPSTREAM_PATHS[self.format], f"{where}: {request.path}"
                validate_request(self.format, body)
                assert request.header("x-api-key") == UPSTREAM_KEY, where
            else:
                assert request.path == UPSTREAM_PATHS[self.format], f"{where}: {request.path}"
                validate_request(self.format, body)
                assert request.header("authorization") == f"Bearer {UPSTREAM_KEY}", where
                assert request.header("anthropic-beta") is None, where
            leaked = [k for k, v in request.headers if CLIENT_KEY in v]
            assert not leaked, f"{where}: the client's key was forwarded in {leaked}"
            bodies.append(body)
        return bodies

    def upstream_streamed(self) -> list[bool]:
        """Whether each upstream model request asked for a stream (Gemini: by its path)."""
        found = []
        for request in self.upstream_requests():
            if self.format == "gemini":
                found.append(request.path.endswith(":streamGenerateContent"))
            else:
                found.append(bool(request.body.get("stream")))
        return found


@contextmanager
def bridge(
    fmt: str,
    script: Sequence[Step] = (Turn(text="OK"),),
    *,
    retries: int = 0,
    check_signatures: str | None = "placeholder",
) -> Iterator[Bridge]:
    """apibridge in front of a ``fmt`` upstream answering ``script`` (see the module doc).

    ``retries`` is the gateway's own retry count for upstream failures before the first byte
    (0: an upstream error goes straight to the client). ``check_signatures`` (a Gemini upstream
    only) is the recorder's Gemini-3 signature check: ``"placeholder"`` as Google does it,
    ``"strict"`` to require the model's own signatures back, ``None`` for none.
    """
    checks = check_signatures if fmt == "gemini" else None
    with Recorder(script, check_signatures=checks) as upstream:
        config = GatewayConfig.single(
            f"{fmt}={upstream.url}{_BASE_SUFFIX[fmt]}",
            api_key=UPSTREAM_KEY,
            retries=Retries(attempts=retries, backoff=0.05, backoff_max=0.2),
        )
        app = App(config)
        with LoopbackServer(app) as gateway:
            yield Bridge(url=gateway.url, upstream=upstream, format=fmt)


def call_if_declared(fmt: str, call: Call) -> Step:
    """A step making ``call`` only if the request declares a tool named ``call.name``, as a
    real model can call declared tools only; otherwise the turn answers a text saying the
    tool is missing (which then fails the scenario's check of the final answer, naming the
    problem)."""

    def step(body: dict[str, Any]) -> Turn:
        declared = wire.tool_names(fmt, body)
        if call.name in declared:
            return Turn(calls=(call,))
        return Turn(text=f"{call.name} is not declared to the upstream: {declared}")

    return step
