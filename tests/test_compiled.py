"""The optional mypyc build (hatch_build.py): what it compiles, and that a compiled run is one.

CI runs the suite a second time against a compiled copy (``python hatch_build.py DIR`` then
``APIBRIDGE_EXPECT_COMPILED=1 PYTHONPATH=DIR pytest``); there these tests check that every module
of the compiled set really came from an extension module, so that a silent fallback to the
sources cannot pass for a compiled run.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

import apibridge.codecs

ROOT = Path(__file__).resolve().parents[1]
EXPECT_COMPILED = os.environ.get("APIBRIDGE_EXPECT_COMPILED") == "1"


def compiled_set() -> list[str]:
    """The module names ``hatch_build.COMPILED`` names (directories expanded)."""
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("hatch_build", module)
    spec.loader.exec_module(module)
    names = []
    for entry in module.COMPILED:
        path = ROOT / "src" / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            assert file.is_file(), f"hatch_build.COMPILED names {entry}, which does not exist"
            parts = file.relative_to(ROOT / "src").with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_the_compiled_set_is_the_translation_core() -> None:
    names = compiled_set()
    assert "apibridge.codecs.anthropic._request" in names
    assert "apibridge._exchange" in names
    # the public classes stay Python classes: users subclass, pickle and catch them
    assert "apibridge.model" not in names
    assert "apibridge.errors" not in names
    assert not [n for n in names if n.startswith(("apibridge._gateway", "apibridge.transports"))]


def test_compiled_flag_says_where_the_codecs_came_from() -> None:
    from_sources = apibridge.codecs.__file__.endswith(".py")
    assert apibridge.codecs.COMPILED is not from_sources
    assert apibridge.codecs.COMPILED is EXPECT_COMPILED


@pytest.mark.skipif(not EXPECT_COMPILED, reason="runs in CI's compiled pass")
def test_every_module_of_the_compiled_set_is_an_extension() -> None:
    pure = [
        name
        for name in compiled_set()
        if str(getattr(importlib.import_module(name), "__file__", "")).endswith(".py")
    ]
    assert pure == []
