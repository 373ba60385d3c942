"""The public surface: ``__all__`` matches what the API reference documents."""

from __future__ import annotations

import re
from pathlib import Path

import apibridge

DOCS = Path(__file__).parent.parent / "docs" / "api.md"


def test_all_names_documented() -> None:
    documented = set(re.findall(r"^::: apibridge\.(\w+)$", DOCS.read_text(), re.MULTILINE))
    documented -= {"store", "model", "codecs"}  # module pages, not names
    public = set(apibridge.__all__) - {"__version__"}
    assert public == documented


def test_all_names_exist() -> None:
    for name in apibridge.__all__:
        assert hasattr(apibridge, name), name


def test_formats() -> None:
    assert apibridge.FORMATS == ("anthropic", "chat", "responses", "backboard")


def test_public_model_matches_the_canonical_one() -> None:
    import apibridge.model

    for name in apibridge.model.__all__:
        assert getattr(apibridge.model, name) is getattr(apibridge.model, name)
    missing = set(apibridge.model.__all__) - set(apibridge.model.__all__)
    assert not missing
