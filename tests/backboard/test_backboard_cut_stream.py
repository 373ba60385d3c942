"""A backboard stream that ends without ``run_ended``, through the gateway: no client is told
that the text being written was finished (docs/fidelity.md, row 23).

The fake backboard server's ``cut`` failure ends the stream cleanly after the first
``content_streaming`` chunk; what each client gets is checked by
:func:`cut_streams.check_cut_stream`, with the SDKs' stream helpers as oracles.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bb_helpers import upstream
from fake_backboard import FakeBackboard, Quirks, serve

from apibridge.asgi import App
from apibridge.config import GatewayConfig, Route
from cut_streams import check_cut_stream

QUESTION = "hello there"
ENDPOINT = {
    "anthropic": "/v1/messages",
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
}


@pytest.fixture(scope="module")
def gateway(fake_server: tuple[FakeBackboard, str]) -> Iterator[str]:
    config = GatewayConfig(
        upstreams={"bb": upstream(fake_server[1])}, routes=(Route(pattern="*", upstream="bb"),)
    )
    with serve(App(config), lifespan="on") as root:
        yield root


def _body(fmt: str) -> dict[str, Any]:
    if fmt == "responses":
        return {"model": "gpt-4o", "stream": True, "input": QUESTION}
    body: dict[str, Any] = {
        "model": "gpt-4o",
        "stream": True,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    if fmt == "anthropic":
        body["max_tokens"] = 64
    return body


@pytest.mark.parametrize("client", ["anthropic", "chat", "responses"])
def test_backboard_stream_ending_without_run_ended_fails_the_open_text(
    gateway: str, fake: FakeBackboard, client: str
) -> None:
    fake.fail("message", stream="cut")
    response = httpx.post(
        gateway + ENDPOINT[client], json=_body(client), headers={"x-api-key": "c"}, timeout=20
    )
    assert response.status_code == 200
    # the fake's answer is "Echo #1: <question>", streamed in chunks; the cut follows the first
    said = f"Echo #1: {QUESTION}"[: Quirks().chunk_size]
    check_cut_stream(client, response.content, "text", said)
