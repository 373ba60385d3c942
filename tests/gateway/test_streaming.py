"""Streams pass through as they happen, and a client that leaves closes the upstream request."""

from __future__ import annotations

import time

import httpx
import pytest
from calls import ENDPOINT, FORMATS, body_for
from servers import CLIENT_KEY, Plan, ScriptedUpstream


@pytest.mark.parametrize("fmt", FORMATS)
def test_first_event_arrives_before_the_upstream_finishes(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    upstream = upstreams["chat"]
    # a 2 s pause, of which the first bytes must come before the last 0.8 s: room for a busy
    # machine (a 1 s pause failed once under a loaded CI, the compiled pass at load 8 on 2 cores)
    upstream.plan(Plan(kind="slow", events=3, delay=2.0))
    arrivals: list[float] = []
    with httpx.stream(
        "POST",
        gateway + ENDPOINT[fmt],
        json=body_for(fmt, "chat-model", stream=True),
        headers={"x-api-key": CLIENT_KEY},
        timeout=20,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for _ in response.iter_raw():
            arrivals.append(time.monotonic())
    assert upstream.finished, "the upstream stream did not finish"
    assert arrivals[0] < upstream.finished[0] - 0.8  # the first bytes came during the pause
    assert arrivals[-1] >= upstream.finished[0]


@pytest.mark.parametrize("upstream_format", FORMATS)
def test_client_disconnect_closes_the_upstream(
    gateway: str, upstreams: dict[str, ScriptedUpstream], upstream_format: str
) -> None:
    upstream = upstreams[upstream_format]
    upstream.plan(Plan(kind="hang", events=3))
    with httpx.stream(
        "POST",
        gateway + ENDPOINT["anthropic"],
        json=body_for("anthropic", f"{upstream_format}-model", stream=True),
        headers={"x-api-key": CLIENT_KEY},
        timeout=20,
    ) as response:
        assert response.status_code == 200
        next(response.iter_raw())
        left = time.monotonic()
    # the `with` closed the client's connection mid-stream
    deadline = left + 1.0
    while not upstream.disconnects and time.monotonic() < deadline + 1.0:
        time.sleep(0.02)
    assert upstream.disconnects, "the upstream request was never closed"
    assert upstream.disconnects[0] - left < 1.0
