"""An upstream stream that ends without its terminal event, through the gateway: no client is
told that the part being written was finished (docs/fidelity.md, row 23).

The scripted upstream answers with text or, when a tool is offered, a tool call, and stops
inside it: the body ends cleanly (EOF) or the connection drops. What each client gets is
checked by :func:`cut_streams.check_cut_stream`, with the SDKs' stream helpers as oracles.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from calls import ENDPOINT, FORMATS, SCHEMA
from servers import CLIENT_KEY, WRITERS, Plan, ScriptedUpstream

from cut_streams import check_cut_stream, cut_point

QUESTION = "hello there, model"


def _body(fmt: str, model: str, *, tool: bool) -> dict[str, Any]:
    """A streamed request in ``fmt``, offering a ``get_weather`` tool when ``tool``."""
    body: dict[str, Any] = {"model": model, "stream": True}
    if fmt == "responses":
        body["input"] = QUESTION
    else:
        body["messages"] = [{"role": "user", "content": QUESTION}]
    if fmt == "anthropic":
        body["max_tokens"] = 64
    if tool:
        body["tools"] = [
            {
                "anthropic": {"name": "get_weather", "input_schema": SCHEMA},
                "chat": {
                    "type": "function",
                    "function": {"name": "get_weather", "parameters": SCHEMA},
                },
                "responses": {"type": "function", "name": "get_weather", "parameters": SCHEMA},
            }[fmt]
        ]
    return body


def _plan_cut(upstream: ScriptedUpstream, kind: str, inside: str) -> str:
    """Queue a stream that stops ``inside`` the upstream's answer; what it said of that part."""
    fmt = upstream.format
    answer = ScriptedUpstream(fmt).answer(_body(fmt, "m", tool=inside == "arguments"))
    count, said = cut_point(b"".join(WRITERS[fmt][1]("m", answer)), fmt, inside)
    upstream.plan(Plan(kind=kind, events=count))
    return said


def _post(gateway: str, client: str, upstream: str, inside: str) -> httpx.Response:
    body = _body(client, f"{upstream}-model", tool=inside == "arguments")
    return httpx.post(
        gateway + ENDPOINT[client],
        json=body,  # (sent as content-type: application/json)
        headers={"x-api-key": CLIENT_KEY},
        timeout=20,
    )


@pytest.mark.parametrize("inside", ["text", "arguments"])
@pytest.mark.parametrize("upstream", FORMATS)
@pytest.mark.parametrize("client", FORMATS)
def test_stream_ending_without_terminal_event_fails_open_items_in_every_client_format(
    gateway: str,
    upstreams: dict[str, ScriptedUpstream],
    client: str,
    upstream: str,
    inside: str,
) -> None:
    said = _plan_cut(upstreams[upstream], "end", inside)
    response = _post(gateway, client, upstream, inside)
    assert response.status_code == 200
    check_cut_stream(client, response.content, inside, said)
    assert len(upstreams[upstream].requests) == 1  # never retried once begun


@pytest.mark.parametrize("upstream", FORMATS)
@pytest.mark.parametrize("client", FORMATS)
def test_dropped_connection_inside_tool_arguments_fails_the_open_call(
    gateway: str, upstreams: dict[str, ScriptedUpstream], client: str, upstream: str
) -> None:
    said = _plan_cut(upstreams[upstream], "cut", "arguments")
    response = _post(gateway, client, upstream, "arguments")
    assert response.status_code == 200
    check_cut_stream(client, response.content, "arguments", said)


@pytest.mark.parametrize("client", FORMATS)
def test_stream_ending_without_terminal_event_through_wsgi_fails_the_open_call(
    wsgi_gateway: str, upstreams: dict[str, ScriptedUpstream], client: str
) -> None:
    said = _plan_cut(upstreams["chat"], "end", "arguments")
    response = _post(wsgi_gateway, client, "chat", "arguments")
    assert response.status_code == 200
    check_cut_stream(client, response.content, "arguments", said)
