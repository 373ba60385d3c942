"""The docs keep up with the code: every gateway route and every fidelity class is written down."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from apibridge._gateway._http import ENDPOINTS, PATTERNS

DOCS = Path(__file__).parent.parent / "docs"


def test_every_route_is_documented() -> None:
    text = (DOCS / "gateway.md").read_text(encoding="utf-8")
    for path, endpoint in ENDPOINTS.items():
        if not path.startswith("/v1/") and path not in ("/health", "/", "/admin/state"):
            continue  # the unprefixed OpenAI aliases are documented as a sentence
        assert any(f"{m} {path}" in text for m in endpoint.methods) or f"`{path}`" in text, path
    gemini = (DOCS / "gemini.md").read_text(encoding="utf-8")
    for pattern, endpoint in PATTERNS:
        readable = re.sub(r"\(\[\^/\]\+\)|\(\.\+\)", "{id}", pattern.pattern)
        if endpoint.format == "gemini":  # Gemini's own paths, named as its docs name them
            readable = re.sub(r"/v1\(\?:beta\|alpha\)\??", "/v1beta", readable)
            readable = readable.replace("{id}", "{model}")
            assert readable in text or readable in gemini, readable
            continue
        assert readable in text, readable


def test_fidelity_page_lists_the_conversion_classes() -> None:
    text = (DOCS / "fidelity.md").read_text(encoding="utf-8")
    for number in (*range(1, 7), 8, 9, *range(13, 31)):
        assert re.search(rf"^\| {number} \|", text, re.MULTILINE), number


def test_the_event_api_example_in_converting_md_runs() -> None:
    text = (DOCS / "converting.md").read_text(encoding="utf-8")
    example = text.split("are push-style objects with `feed()` and `close()`:", 1)[1]
    code = example.split("```python", 1)[1].split("```", 1)[0]
    upstream_chunks = [
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}\n\n',
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    scope: dict[str, object] = {"upstream_chunks": upstream_chunks}
    exec(code, scope)
    assert scope["text"] == "Hello"
    assert scope["answer"].stop_reason == "end_turn"  # type: ignore[attr-defined]


def test_every_page_is_in_the_nav() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.rglob("*.md"):
        name = page.relative_to(DOCS).as_posix()
        assert re.search(rf"(: |- ){re.escape(name)}$", nav, re.MULTILINE), name


def test_the_quick_start_and_home_lead_to_recipes_reliability_security_and_benchmarks() -> None:
    for page in ("index.md", "quickstart.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        for target in (
            "recipes/index.md",
            "reliability.md",
            "gateway.md#security-and-threat-model",
            "benchmarks.md",
        ):
            assert f"]({target})" in text, (page, target)


def test_the_hypothesis_recipe_runs() -> None:
    """``examples/test_payload_conversion.py`` passes as a user runs it (with a fixed seed)."""
    pytest.importorskip("hypothesis")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--no-cov",
            "--hypothesis-seed=0",
            str(DOCS.parent / "examples" / "test_payload_conversion.py"),
        ],
        cwd=DOCS.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "3 passed" in result.stdout


def test_the_built_site_has_no_unresolved_include(tmp_path: Path) -> None:
    """Every ``--8<--`` include resolves: the built pages hold the included files, not markers
    (a formatter once rewrote them to ``--8 < --"file"``, which mkdocs shows as text); and no
    docstring's Sphinx role (``:class:`…```) shows as text in the API reference."""
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=DOCS.parent,
        check=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
    )
    marker = re.compile(r"--8\s*<\s*--|:(?:class|func|meth|attr|data|mod|exc):[`~\w]")
    pages = list(site.rglob("*.html"))
    assert pages
    for page in pages:
        # the text a reader sees: highlighted code splits a marker over several spans
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        assert not marker.search(text), page.relative_to(site)
    mounting = (site / "recipes" / "mounting" / "index.html").read_text(encoding="utf-8")
    for example in ("fastapi_mount.py", "starlette_mount.py", "django_mount.py", "flask_mount.py"):
        first = next(
            line.strip()
            for line in (DOCS.parent / "examples" / example).read_text().splitlines()
            if line.strip().startswith(("import", "from"))
        )
        assert first.split()[1] in mounting, example
