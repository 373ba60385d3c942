"""``apibridge serve`` safety (issue 14, item 8): no open gateway beyond loopback unless asked,
keys from files instead of the command line, log lines a request cannot forge."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from calls import openai_client
from servers import ScriptedUpstream, serve_asgi
from test_serve import serve

from apibridge.asgi import App
from apibridge.config import GatewayConfig, ServerConfig
from apibridge.jsonlog import JsonFormatter

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("APIBRIDGE_", "BBD_"))}


def _serve_exits(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apibridge", "serve", "--upstream", "scripted=echo", *args],
        capture_output=True,
        text=True,
        env={**CLEAN_ENV, **(env or {})},
        timeout=30,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_a_non_loopback_bind_without_client_keys_is_refused(host: str) -> None:
    result = _serve_exits("--host", host, "--port", "9")
    assert result.returncode == 2
    assert f"refusing to listen on {host} without client keys" in result.stderr
    assert "--allow-open" in result.stderr


def test_the_refusal_also_holds_for_the_environment_and_the_file(tmp_path: Path) -> None:
    config = tmp_path / "apibridge.toml"
    config.write_text('[server]\nhost = "0.0.0.0"\n[upstreams.e]\nformat = "scripted"\n')
    assert _serve_exits("--config", str(config)).returncode == 2
    result = _serve_exits(env={"APIBRIDGE_HOST": "0.0.0.0"})
    assert result.returncode == 2
    assert "refusing" in result.stderr


def test_allow_open_serves_a_non_loopback_bind_with_a_warning() -> None:
    # bound to every interface, reached on loopback: served, and the log says it is open
    with serve("--upstream", "scripted=echo", "--host", "0.0.0.0", "--allow-open") as (
        root,
        lines,
    ):
        answer = openai_client(root, "k").responses.create(model="m", input="hi")
        assert answer.output_text == "echo: hi"
    assert any("without client keys (--allow-open)" in line for line in lines), lines


def test_keys_are_read_from_files_and_at_file_arguments(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]], tmp_path: Path
) -> None:
    _, chat_root = upstream_servers["chat"]
    upstream_file = tmp_path / "upstream.key"
    upstream_file.write_text("# the provider's key\nsk-from-file-1234\n")
    clients_file = tmp_path / "clients.keys"
    clients_file.write_text("ck-file-1\n\nck-file-2, ck-file-3\n")
    at_file = tmp_path / "more.keys"
    at_file.write_text("ck-at-1\n")
    upstream, _ = upstream_servers["chat"]
    upstream.reset()
    with serve(
        "--upstream",
        f"chat={chat_root}/v1",
        "--upstream-key-file",
        str(upstream_file),
        "--client-key-file",
        str(clients_file),
        "--client-key",
        f"@{at_file}",
        "--host",
        "0.0.0.0",  # client keys configured: no --allow-open needed
    ) as (root, lines):
        for key in ("ck-file-1", "ck-file-3", "ck-at-1"):
            reply = openai_client(root, key).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}]
            )
            assert reply.choices[0].message.content
        refused = httpx.post(
            root + "/v1/chat/completions", json={}, headers={"authorization": "Bearer nope"}
        )
        assert refused.status_code == 401
    assert upstream.requests[-1]["headers"]["authorization"] == "Bearer sk-from-file-1234"
    log = "\n".join(lines)
    assert "sk-from-file-1234" not in log
    assert "ck-file-1" not in log


def test_an_unreadable_key_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.key"
    for args in (
        ("--upstream-key-file", str(missing)),
        ("--client-key", f"@{missing}"),
        ("--client-key-file", str(missing)),
    ):
        result = _serve_exits(*args)
        assert result.returncode == 2
        assert str(missing) in result.stderr
    empty = tmp_path / "empty.key"
    empty.write_text("# nothing yet\n")
    result = _serve_exits("--client-key-file", str(empty))
    assert result.returncode == 2
    assert "holds no key" in result.stderr


def test_help_says_keys_on_the_command_line_show_in_ps() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "apibridge", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    text = " ".join(result.stdout.split())
    for part in ("--upstream-key-file", "--client-key-file", "@FILE", "`ps`", "--allow-open"):
        assert part in text, part


def test_a_mounted_open_app_says_so_at_start_up_and_when_reached_from_afar(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = GatewayConfig.single("scripted=echo")
    with caplog.at_level(logging.INFO, logger="apibridge.gateway"):
        app = App(config)
    assert any("no client keys" in r.getMessage() for r in caplog.records)
    caplog.clear()

    async def scenario(local: str) -> None:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/health",
            "headers": [],
            "server": (local, 8080),
        }
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        assert sent[0]["status"] == 200

    import anyio

    with caplog.at_level(logging.WARNING, logger="apibridge.gateway"):
        anyio.run(scenario, "127.0.0.1")
        assert not caplog.records
        anyio.run(scenario, "10.1.2.3")
        anyio.run(scenario, "10.1.2.3")
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings  # once
    assert "10.1.2.3" in warnings[0]
    keyed = App(GatewayConfig.single("scripted=echo", server=ServerConfig(client_keys=("k",))))
    assert keyed._watch_address is False


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1/chat/completions%0a127.0.0.1 fake 200", "m"),
        ("/v1/chat/completions", 'evil\n2026-01-01 INFO apibridge.access: req_x "GET /" 200'),
        ("/v1/chat/completions", "m\r\x1b[2Kreset\u2028next"),
    ],
)
def test_the_access_log_escapes_the_path_and_the_model(
    caplog: pytest.LogCaptureFixture, path: str, model: str
) -> None:
    app = App(GatewayConfig.single("scripted=echo"))
    with caplog.at_level(logging.INFO, logger="apibridge.access"), serve_asgi(app) as url:
        httpx.post(
            url + path,
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        )
    (line,) = [r.getMessage() for r in caplog.records if r.name == "apibridge.access"]
    for raw in ("\n", "\r", "\x1b", "\u2028"):
        assert raw not in line
    assert line.count('"') == 2  # only the quotes around "METHOD path"
    if "\n" in model:
        assert "model=evil\\x0a2026" in line
    (record,) = [r for r in caplog.records if r.name == "apibridge.access"]
    formatted = JsonFormatter().format(record)
    for raw in ("\n", "\r", "\x1b", "\u2028"):
        assert raw not in formatted
    fields = json.loads(formatted)
    if fields["status"] == 200:
        assert fields["model"] == model  # JSON escapes it; the value is the one sent
    else:  # the forged path is no route: 404, and the path as the client sent it
        forged = "/v1/chat/completions\n127.0.0.1 fake 200"
        assert (fields["status"], fields["path"]) == (404, forged)
