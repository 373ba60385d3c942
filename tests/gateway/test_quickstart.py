"""The quick start page, run as a newcomer runs it: every fenced command and program on
``docs/quickstart.md``, in the page's order, as written.

``.venv/bin/apibridge`` and ``.venv/bin/python`` are this interpreter (the suite runs in the
environment the install commands make); the install commands themselves are checked for their
form, not run (they would download packages). ``apibridge serve`` starts for real, on a free
port instead of 8080 (the commands after it are pointed there), and the "real" upstream at
Ollama's address is an Ollama-like Chat server on loopback. The Claude Code command runs the
pinned Claude Code from ``tests/acceptance`` when it is installed, with a throw-away home.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ollama_like import OllamaLikeChat
from servers import serve_asgi

from oracles import validate_request, validate_response

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "quickstart.md"
CLAUDE = ROOT / "tests" / "acceptance" / "node_modules" / ".bin" / "claude"
OLLAMA = "http://127.0.0.1:11434/v1"
sys.path.insert(0, str(ROOT / "examples"))
from gateway_process import serve  # noqa: E402


def fences() -> list[tuple[str, str]]:
    return re.findall(r"```(\w+)\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL)


class Reader:
    """Runs the page's commands in order, keeping the gateway the page started."""

    def __init__(self, stack: contextlib.ExitStack, ollama_root: str, tmp: Path) -> None:
        self.stack = stack
        self.ollama_root = ollama_root
        self.tmp = tmp
        self.gateway: str | None = None
        self.server: contextlib.ExitStack | None = None
        self.warnings = next(body for lang, body in fences() if lang == "text")
        self.converted = 0
        self.asked = 0
        self.claude_ran = False

    def here(self, text: str) -> str:
        """``text`` pointed at the running gateway instead of 127.0.0.1:8080."""
        assert self.gateway is not None, "a client command before any `apibridge serve`"
        return text.replace("http://127.0.0.1:8080", self.gateway)

    def bash(self, line: str) -> None:
        if line.startswith("python3 -m venv") or " -m pip install " in line:
            venv = "python3 -m venv .venv && "
            assert line.removeprefix(venv).startswith(".venv/bin/python -m pip install -q "), line
            return
        if line.startswith(".venv/bin/apibridge convert "):
            self.convert(shlex.split(line.removeprefix(".venv/bin/apibridge ")))
        elif line.startswith(".venv/bin/apibridge serve "):
            self.serve(shlex.split(line.removeprefix(".venv/bin/apibridge serve ")))
        elif line.startswith("curl "):
            self.curl(line)
        elif line.startswith("ANTHROPIC_BASE_URL="):
            self.claude(line)
        else:
            pytest.fail(f"a command the quick start test does not know how to run: {line}")

    def convert(self, args: list[str]) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "apibridge", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        if self.converted == 0:  # the page shows exactly what the first one prints
            validate_request("chat", json.loads(result.stdout))
            assert result.stderr.strip().splitlines() == self.warnings.strip().splitlines()
        elif "--kind" in args and "error" in args:
            assert result.stderr.strip() == "apibridge convert: status 429"
            assert json.loads(result.stdout)["error"]["type"] == "rate_limit_error"
        else:
            assert "event: message_stop" in result.stdout
            assert '"text":"lo!"' in result.stdout
        self.converted += 1

    def serve(self, args: list[str]) -> None:
        if self.server is not None:
            self.server.close()  # Ctrl-C
        args = [a.replace(OLLAMA, self.ollama_root + "/v1") for a in args]
        self.server = contextlib.ExitStack()
        self.stack.callback(self.server.close)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APIBRIDGE_", "BBD_"))}
        self.gateway = self.server.enter_context(serve(args, env=env))

    def curl(self, line: str) -> None:
        result = subprocess.run(
            ["bash", "-c", self.here(line)], capture_output=True, text=True, timeout=30, check=False
        )
        assert result.returncode == 0, result.stderr
        body = json.loads(result.stdout)
        fmt = "anthropic" if "/v1/messages" in line else "chat"
        validate_response(fmt, body)
        assert "echo: Hello" in result.stdout
        self.asked += 1

    def claude(self, line: str) -> None:
        words = shlex.split(self.here(line))
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.tmp),
            "CLAUDE_CONFIG_DIR": str(self.tmp / ".claude"),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
        }
        while "=" in words[0]:
            name, value = words.pop(0).split("=", 1)
            env[name] = value
        assert words[0] == "claude"
        if not CLAUDE.exists():
            return  # not installed here (`cd tests/acceptance && npm ci`); the rest still ran
        result = subprocess.run(
            [str(CLAUDE), *words[1:]],
            env=env,
            cwd=self.tmp,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "heard:" in result.stdout  # the Ollama-like server's answer, through the gateway
        assert "Say hello" in result.stdout
        self.claude_ran = True

    def python(self, code: str) -> str:
        scope: dict[str, Any] = {"__name__": "__quickstart__"}
        printed: list[str] = []
        scope["print"] = lambda *a, **_: printed.append(" ".join(str(x) for x in a))
        exec(compile(self.here(code) if "8080" in code else code, str(PAGE), "exec"), scope)
        return "\n".join(printed)


def test_every_command_on_the_quick_start_page_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    with contextlib.ExitStack() as stack:
        ollama_root = stack.enter_context(serve_asgi(OllamaLikeChat()))
        reader = Reader(stack, ollama_root, tmp_path)
        outputs: list[str] = []
        commands = 0
        for lang, body in fences():
            if lang == "bash":
                for line in body.strip().splitlines():
                    if line.strip() and not line.startswith("#"):
                        reader.bash(line.strip())
                        commands += 1
            elif lang == "python":
                outputs.append(reader.python(body))
    assert commands >= 8
    assert reader.converted == 3
    assert reader.asked == 2
    library, sdks = outputs
    assert library.count("lost:") == 3
    assert "[{'type': 'text', 'text': 'Sunny.'}] end_turn" in library
    assert sdks.splitlines() == ["echo: Hello", "echo: Hello"]
    if CLAUDE.exists():
        assert reader.claude_ran
