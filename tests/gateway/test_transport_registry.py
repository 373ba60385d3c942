"""The transport registry: every upstream kind has a transport, each says whether it speaks a
wire format or canonical events, and the gateway core reaches transports only through it
(it imports no httpx and names no concrete transport)."""

from __future__ import annotations

import asyncio
import pathlib
import re
import subprocess
import sys

import httpx

import apibridge
from apibridge._gateway._handler import Handler, HttpRequest
from apibridge.config import UPSTREAM_FORMATS, GatewayConfig, UpstreamConfig
from apibridge.store import MemoryStore
from apibridge.transports import KINDS, Transports
from apibridge.transports.http import HttpTransport
from apibridge.transports.scripted import ScriptedTransport

JSON = {"content-type": "application/json"}

SRC = pathlib.Path(apibridge.__file__).parent


def test_every_upstream_kind_has_a_transport() -> None:
    assert set(KINDS) == set(UPSTREAM_FORMATS)
    assert {k for k, kind in KINDS.items() if kind.speaks == "events"} == {"scripted"}


def test_a_scripted_upstream_exchange_speaks_the_clients_own_format() -> None:
    scripted = UpstreamConfig(name="s", format="scripted", base_url="echo")
    chat = UpstreamConfig(name="c", format="chat", base_url="http://up.test/v1")
    assert Transports.upstream_format(scripted, "responses") == "responses"
    assert Transports.upstream_format(chat, "responses") == "chat"


def test_transports_are_built_by_kind_on_first_use_with_the_shared_client() -> None:
    async def scenario() -> None:
        client = httpx.AsyncClient()
        transports = Transports(client=client)
        chat = UpstreamConfig(name="c", format="chat", base_url="http://up.test/v1")
        scripted = UpstreamConfig(name="s", format="scripted", base_url="echo")
        transports.configure([chat, scripted], MemoryStore())
        built = transports.get(chat)
        assert isinstance(built, HttpTransport)
        assert built.client is client
        assert transports.get(chat) is built
        kept = transports.get(scripted)
        assert isinstance(kept, ScriptedTransport)
        await transports.aclose()
        # the caller's client is the caller's; the scripted transport holds no connection
        assert not client.is_closed
        assert transports.get(scripted) is kept
        await client.aclose()

    asyncio.run(scenario())


def test_the_default_client_is_closed_and_made_anew_after_aclose() -> None:
    async def scenario() -> None:
        transports = Transports()
        chat = UpstreamConfig(name="c", format="chat", base_url="http://up.test/v1")
        transports.configure([chat], MemoryStore())
        first = transports.get(chat)
        assert isinstance(first, HttpTransport)
        await transports.aclose()
        assert first.client.is_closed
        second = transports.get(chat)
        assert isinstance(second, HttpTransport)
        assert second is not first
        assert not second.client.is_closed
        await transports.aclose()

    asyncio.run(scenario())


def test_a_handler_over_a_scripted_upstream_answers_and_closes() -> None:
    handler = Handler(GatewayConfig.single("scripted=echo"))
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hello"}]}'
    request = HttpRequest(method="POST", path="/v1/chat/completions", headers=JSON, body=body)

    async def scenario() -> int:
        await handler.startup()
        response = await handler.handle(request)
        await handler.aclose()
        return response.status

    assert asyncio.run(scenario()) == 200


def test_gateway_core_imports_no_httpx_and_no_concrete_transport() -> None:
    code = (
        "import sys, apibridge._gateway, apibridge._gateway._handler\n"
        "bad = [m for m in sys.modules if m == 'httpx' or m.startswith(("
        "'apibridge.transports.http', 'apibridge.transports.scripted', "
        "'apibridge.transports.backboard'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
    for module in (SRC / "_gateway").glob("*.py"):
        text = module.read_text()
        assert not re.search(r"^\s*(import|from) httpx", text, re.MULTILINE), module.name
        for name in ("HttpTransport", "ScriptedTransport", "BackboardTransport", '"scripted"'):
            assert name not in text, (module.name, name)


def test_no_transport_restores_tool_names_itself() -> None:
    for module in (SRC / "transports").rglob("*.py"):
        text = module.read_text()
        assert "restore_event" not in text, module
        assert "names.restore" not in text, module
