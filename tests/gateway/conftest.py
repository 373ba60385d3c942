"""Fixtures: a scripted upstream of each format and the gateway served for real (uvicorn and
wsgiref).

The servers and the gateway configuration live in :mod:`servers` (beside this file), so other
test directories and the benchmark can start the same ones.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import (
    CLIENT_KEY,
    UPSTREAM_FORMATS,
    ScriptedUpstream,
    make_config,
    serve_asgi,
    serve_upstreams,
    serve_wsgi,
)

from apibridge.asgi import App as AsgiApp
from apibridge.config import GatewayConfig
from apibridge.wsgi import App as WsgiApp


@pytest.fixture(scope="session")
def upstream_servers() -> Iterator[dict[str, tuple[ScriptedUpstream, str]]]:
    """format → (scripted upstream, its root URL), one uvicorn server each."""
    with serve_upstreams() as servers:
        assert set(servers) == set(UPSTREAM_FORMATS)
        yield servers


@pytest.fixture
def upstreams(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
) -> dict[str, ScriptedUpstream]:
    """The scripted upstreams by format, with no plans and no records."""
    for upstream, _ in upstream_servers.values():
        upstream.reset()
    return {fmt: upstream for fmt, (upstream, _) in upstream_servers.items()}


@pytest.fixture(scope="session")
def gateway_config(upstream_servers: dict[str, tuple[ScriptedUpstream, str]]) -> GatewayConfig:
    """The gateway configuration every served gateway uses (client key required)."""
    roots = {fmt: root for fmt, (_, root) in upstream_servers.items()}
    return make_config(roots, client_keys=(CLIENT_KEY,))


@pytest.fixture(scope="session")
def gateway(gateway_config: GatewayConfig) -> Iterator[str]:
    """The ASGI gateway under uvicorn on loopback; its root URL."""
    with serve_asgi(AsgiApp(gateway_config)) as url:
        yield url


@pytest.fixture(scope="session")
def wsgi_gateway(gateway_config: GatewayConfig) -> Iterator[str]:
    """The WSGI gateway under wsgiref on loopback; its root URL."""
    app = WsgiApp(gateway_config)
    with serve_wsgi(app) as url:
        yield url
    app.close()
