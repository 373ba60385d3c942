"""Compile apibridge's codecs with mypyc: the optional fast build.

apibridge is a pure-Python package; the same sources also compile with mypyc (shipped with mypy)
into C extensions that convert about three times faster (docs/benchmarks.md). Two ways in:

- ``APIBRIDGE_COMPILE=1 pip install .`` (or ``python -m build --wheel`` with the variable set)
  builds a wheel whose codec modules are compiled. Without the variable the wheel is pure Python.
  Editable installs are never compiled: a developer edits the ``.py`` files and runs them.
- ``python hatch_build.py OUT_DIR`` writes a compiled copy of the package into ``OUT_DIR``
  (the sources plus the extension modules beside them: put ``OUT_DIR`` first on ``PYTHONPATH``);
  the benchmarks and CI use it.

``apibridge.codecs.COMPILED`` says at runtime which one is imported.

The compiled set is the translation core: the JSON and SSE helpers, the exchange and every
codec. The gateway, transports, CLI and config stay Python (their time is I/O, and they use
libraries mypyc cannot see into); so do the public value and exception classes of
``apibridge.model`` and ``apibridge.errors`` (attrs classes stay Python classes under mypyc
anyway, and users subclass and catch the exceptions).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
SOURCES = ROOT / "src"

#: paths relative to ``src/``; directories are compiled whole
COMPILED = (
    "apibridge/_json.py",
    "apibridge/_sse.py",
    "apibridge/_exchange.py",
    "apibridge/codecs",
)

_SETUP = textwrap.dedent(
    """
    import sys
    from setuptools import setup
    from mypyc.build import mypycify

    target, paths = sys.argv[1], sys.argv[2:]
    sys.argv[1:] = ["build_ext", "--build-lib", target + "/lib", "--build-temp", target + "/tmp",
                    "--parallel", str(max(1, __import__("os").cpu_count() or 1))]
    setup(
        name="apibridge-compiled",
        ext_modules=mypycify(
            list(paths), opt_level="3", debug_level="0", multi_file=True,
            target_dir=target + "/c",
        ),
    )
    """
)


def compile_codecs(out_dir: Path) -> list[Path]:
    """Compile the modules in :data:`COMPILED` into ``out_dir``; return the extension files.

    The extensions land where the wheel holds them, beside their ``.py`` sources (Python's
    import system prefers an extension module to a source file of the same name).
    """
    out_dir = out_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="apibridge-mypyc-") as work:
        setup_py = Path(work) / "setup.py"
        setup_py.write_text(_SETUP, encoding="utf-8")
        env = {**os.environ, "MYPYPATH": str(SOURCES)}
        process = subprocess.run(
            [sys.executable, str(setup_py), work, *COMPILED],
            cwd=SOURCES,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        if process.returncode:
            output = process.stdout.decode("utf-8", "replace")
            raise RuntimeError(f"mypyc failed (exit {process.returncode}):\n{output[-6000:]}")
        built = Path(work) / "lib"
        extensions = []
        for path in sorted(built.rglob("*.so")) + sorted(built.rglob("*.pyd")):
            target = out_dir / path.relative_to(built)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            extensions.append(target)
    return extensions


def _wanted() -> bool:
    return os.environ.get("APIBRIDGE_COMPILE", "").lower() in {"1", "true", "yes"}


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script, outside a build
    pass
else:

    class MypycBuildHook(BuildHookInterface):  # type: ignore[type-arg]
        """Compile the codecs into the wheel when ``APIBRIDGE_COMPILE=1`` (never for editables)."""

        PLUGIN_NAME = "custom"

        def dependencies(self) -> list[str]:
            # mypyc ships with mypy; setuptools drives the C compiler; mypyc type-checks the
            # sources, so it needs the runtime dependencies' types too. Compiled builds only.
            if not _wanted():
                return []
            return ["mypy>=2.4,<3", "setuptools>=69", *self.metadata.core.dependencies]

        def initialize(self, version: str, build_data: dict[str, Any]) -> None:
            if self.target_name != "wheel" or version == "editable":
                return
            if not _wanted():
                return
            self._out = Path(tempfile.mkdtemp(prefix="apibridge-compiled-"))
            for path in compile_codecs(self._out):
                build_data["force_include"][str(path)] = str(path.relative_to(self._out))
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

        def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
            out = getattr(self, "_out", None)
            if out is not None:
                shutil.rmtree(out, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python hatch_build.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    shutil.rmtree(out / "apibridge", ignore_errors=True)
    shutil.copytree(
        SOURCES / "apibridge",
        out / "apibridge",
        ignore=shutil.ignore_patterns("__pycache__", "*.so"),
    )
    extensions = compile_codecs(out)
    print(f"compiled {len(extensions)} extension modules into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
