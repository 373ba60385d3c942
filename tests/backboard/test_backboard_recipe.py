"""The backboard recipe's program (``examples/backboard_app.py``) as a user runs it: it starts
``apibridge serve`` with only ``BBD_API_KEY`` / ``BBD_UPSTREAM`` set (a real child process on
127.0.0.1), in front of the fake backboard on loopback, and holds a two-turn conversation with
the OpenAI SDK, the second turn sending only its new message."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from bb_helpers import KEYS
from fake_backboard import FakeBackboard

EXAMPLE = Path(__file__).parents[2] / "examples" / "backboard_app.py"


def test_backboard_app_keeps_one_thread(
    fake: FakeBackboard,
    fake_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in list(os.environ):
        if name.startswith(("APIBRIDGE_", "OPENAI_", "ANTHROPIC_", "BBD_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BBD_API_KEY", ",".join(KEYS))
    monkeypatch.setenv("BBD_UPSTREAM", fake_url)
    spec = importlib.util.spec_from_file_location("example_backboard_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.main(["--model", "openai/gpt-4o", "My name is Ada.", "What is my name?"])
    out = capsys.readouterr().out.splitlines()
    assert out == ["1: Echo #1: My name is Ada.", "2: Echo #2: What is my name?"]
    # both turns went to one thread; the second sent only its own message
    first, second = (r["fields"] for r in fake.recorded("message"))
    assert first["thread_id"] == second["thread_id"]
    assert second["content"] == "What is my name?"
