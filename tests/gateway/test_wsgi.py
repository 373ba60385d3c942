"""The WSGI app under a real WSGI server (wsgiref, threaded): the same round trips, streamed
and not, and errors in the client's own format."""

from __future__ import annotations

import httpx
import pytest
from calls import (
    TOOL_RESULT,
    assert_in_band_error,
    call,
    check_error,
    check_upstream_requests,
    path_for,
    round_trip,
)
from servers import CLIENT_KEY, UPSTREAM_FORMATS, Plan, ScriptedUpstream

from oracles import validate_error

AUTH_JSON = {"x-api-key": CLIENT_KEY, "content-type": "application/json"}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream_format", UPSTREAM_FORMATS)
@pytest.mark.parametrize("client_format", UPSTREAM_FORMATS)
def test_tool_round_trip(
    wsgi_gateway: str,
    upstreams: dict[str, ScriptedUpstream],
    client_format: str,
    upstream_format: str,
    stream: bool,
) -> None:
    text, call_id = round_trip(
        client_format, wsgi_gateway, CLIENT_KEY, f"{upstream_format}-model", stream=stream
    )
    assert text == f"The tool said: {TOOL_RESULT}"
    check_upstream_requests(upstreams[upstream_format], client_format, upstream_format, stream)
    assert upstreams[upstream_format].call_ids == [call_id]


@pytest.mark.parametrize("fmt", UPSTREAM_FORMATS)
def test_errors(wsgi_gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str) -> None:
    path = path_for(fmt, "chat-model")
    response = httpx.post(wsgi_gateway + path, content=b"[", headers=AUTH_JSON)
    assert response.status_code == 400
    check_error(fmt, 400, response.json())
    response = httpx.post(wsgi_gateway + path, content=b"x" * 600_000)
    assert response.status_code in (401, 413)  # refused before the body is read
    assert call(wsgi_gateway, fmt, "dead-model").status_code == 502
    upstreams["responses"].plan(Plan(kind="cut", events=4))
    response = call(wsgi_gateway, fmt, "responses-model", stream=True)
    assert response.status_code == 200
    assert assert_in_band_error(fmt, response.content)["message"]


def test_head_and_health(wsgi_gateway: str) -> None:
    assert httpx.head(wsgi_gateway + "/").status_code == 200
    assert httpx.get(wsgi_gateway + "/health").json() == {"status": "ok"}
    limit = httpx.post(
        wsgi_gateway + "/v1/chat/completions",
        content=b"x" * 600_000,
        headers=AUTH_JSON,
    )
    assert limit.status_code == 413
    validate_error("chat", 413, limit.json())
