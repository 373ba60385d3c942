"""The mypyc-compiled apibridge as a contestant: built once per source tree, cached.

``hatch_build.py OUT`` writes a compiled copy of the package (sources plus extension modules);
this module keeps one per hash of the sources under ``.bench/compiled-<hash>/`` so that a rerun
on unchanged code starts at once. The first build takes a few minutes on two cores.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.codec import BENCH_DIR

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "hatch_build.py"


def fingerprint() -> str:
    """A hash of everything the compiled copy depends on."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "apibridge").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    digest.update(BUILD.read_bytes())
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        digest.update(importlib.metadata.version("mypy").encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:12]


def ensure(*, log: object = None) -> tuple[Path | None, str]:
    """The directory holding a compiled apibridge (for ``PYTHONPATH``), and a note.

    Returns ``(None, why)`` when it cannot be built here (no mypy, no compiler).
    """
    try:
        importlib.metadata.version("mypy")
    except importlib.metadata.PackageNotFoundError:
        return None, "mypy (which ships mypyc) is not installed: pip install -e '.[dev]'"
    target = BENCH_DIR / f"compiled-{fingerprint()}"
    if (target / "apibridge").is_dir() and any((target / "apibridge").rglob("*.so")):
        return target, f"compiled with mypyc (cached in {target.relative_to(ROOT)})"
    for stale in BENCH_DIR.glob("compiled-*"):
        shutil.rmtree(stale, ignore_errors=True)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    process = subprocess.run(
        [sys.executable, str(BUILD), str(partial)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if process.returncode:
        shutil.rmtree(partial, ignore_errors=True)
        last = process.stdout.strip().splitlines()[-1:] or ["no output"]
        return None, f"the mypyc build failed: {last[0][:200]}"
    partial.rename(target)
    return target, f"compiled with mypyc (built into {target.relative_to(ROOT)})"
