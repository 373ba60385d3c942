"""The public surface: ``__all__`` matches what the API reference documents."""

from __future__ import annotations

import re
from pathlib import Path

import apibridge

DOCS = Path(__file__).parent.parent / "docs" / "api.md"


def test_all_names_documented() -> None:
    documented = set(re.findall(r"^::: apibridge\.(\w+)$", DOCS.read_text(), re.MULTILINE))
    documented -= {"store"}  # a module page, not a name
    public = set(apibridge.__all__) - {"__version__"}
    assert public == documented


def test_all_names_exist() -> None:
    for name in apibridge.__all__:
        assert hasattr(apibridge, name), name


def test_formats() -> None:
    assert apibridge.FORMATS == ("anthropic", "chat", "responses", "backboard")
