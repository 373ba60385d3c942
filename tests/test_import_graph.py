"""The package's import graph: no cycle, and no arrow from a lower layer up.

Every ``import`` in ``src/apibridge`` counts, also those inside functions and under
``TYPE_CHECKING``: a late import hides a cycle, it does not remove it. ``from package import
name`` is an arrow to the face when ``name`` is defined there, and to the submodule when
``name`` is one (``from apibridge.codecs import chat`` is ``import apibridge.codecs.chat``);
the implicit import of a parent package when a submodule loads is not counted (that is how
Python packages work, and the faces import only their own children).

The layers, bottom up, are those of ``docs/architecture.md``; a module may import its own
layer and the ones below.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import apibridge

ROOT = Path(apibridge.__file__).parent

#: module-name prefixes by layer, bottom up (the longest matching prefix decides).
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "apibridge.errors",
        "apibridge._json",
        "apibridge._sse",
        "apibridge.model",
        "apibridge._extras",
        "apibridge._secrets",
        "apibridge.jsonlog",
    ),
    ("apibridge.codecs",),
    ("apibridge._exchange", "apibridge._loss_words", "apibridge._api", "apibridge.__init__"),
    ("apibridge.config", "apibridge._config_convert", "apibridge._hosts", "apibridge.store"),
    ("apibridge.transports",),
    ("apibridge._gateway",),
    ("apibridge.asgi", "apibridge.wsgi"),
    (
        "apibridge._cli_convert",
        "apibridge._cli_serve",
        "apibridge._serve_bounds",
        "apibridge.cli",
        "apibridge.__main__",
    ),
)

#: what a codec may import from the rest of apibridge (purity: no gateway, no transport).
CODEC_MAY_IMPORT = ("apibridge.codecs", "apibridge.model", "apibridge.errors", "apibridge._sse")
CODEC_MAY_IMPORT += ("apibridge._json",)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str) -> str:
    """``name`` as a module of the package: a package is its ``__init__``."""
    if f"{name}.__init__" in MODULES:
        return f"{name}.__init__"
    return name


def imports(module: str) -> Iterator[tuple[str, int]]:
    """Every apibridge module ``module`` imports, with the line of the import."""
    path = MODULES[module]
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "apibridge":
                    yield _resolve(alias.name), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source.split(".")[0] != "apibridge":
                continue
            for alias in node.names:
                child = f"{source}.{alias.name}"
                if child in MODULES or f"{child}.__init__" in MODULES:
                    yield _resolve(child), node.lineno  # a submodule: as `import source.child`
                else:
                    yield _resolve(source), node.lineno  # a name defined in the face


GRAPH: dict[str, set[str]] = {
    m: {target for target, _ in imports(m) if target != m and target in MODULES} for m in MODULES
}


def layer(module: str) -> int:
    best, found = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found >= 0, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return found


def cycles() -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read() -> None:
    # a sanity check of the reader itself: known arrows are seen
    assert "apibridge.model" in GRAPH["apibridge.codecs._context"]
    assert "apibridge.codecs.chat.__init__" in GRAPH["apibridge.codecs.__init__"]
    assert len(MODULES) > 40


def test_no_import_cycle() -> None:
    assert cycles() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_arrow_points_up(module: str) -> None:
    mine = layer(module)
    upward = sorted(t for t in GRAPH[module] if layer(t) > mine)
    assert upward == [], f"{module} (layer {mine}) imports from a higher layer: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("apibridge.codecs")))
def test_codecs_import_nothing_of_the_gateway_or_transports(module: str) -> None:
    outside = sorted(t for t in GRAPH[module] if not t.startswith(CODEC_MAY_IMPORT))
    assert outside == [], f"{module} imports {outside}"


def test_no_module_is_too_long() -> None:
    """The style rule: no module over ~600 lines (a few lines of slack for docstrings)."""
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 640}
    assert long == {}


def test_json_is_read_and_written_in_one_place() -> None:
    """``apibridge._json`` is the one module that imports a JSON library: one rule for errors
    (``InvalidPayload``), big integers and options, and one place to change the library."""
    users = sorted(
        module
        for module, path in MODULES.items()
        if module != "apibridge._json"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.Import) and any(a.name in ("json", "orjson") for a in node.names))
        or (isinstance(node, ast.ImportFrom) and node.module in ("json", "orjson"))
    )
    assert users == []


@pytest.mark.parametrize(
    "module", ["apibridge.asgi", "apibridge.wsgi", "apibridge.transports.http"]
)
@pytest.mark.parametrize("missing", ["httpx", "anyio"])
def test_a_core_install_is_told_which_extra_to_install(module: str, missing: str) -> None:
    """Without the ``http`` extra the gateway modules name it, not a bare ModuleNotFoundError;
    the core still imports."""
    code = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "import apibridge, apibridge.codecs\n"
        f"import {module}\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    # apibridge.wsgi reaches anyio through apibridge.asgi, which then names itself
    assert last.startswith("ModuleNotFoundError: apibridge."), result.stderr
    assert last.endswith(
        f" needs {missing!r}, which is not installed: pip install 'apibridge[http]'"
    ), result.stderr
