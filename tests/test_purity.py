"""The codecs are pure: importing them loads no network or async machinery, and no codec
module imports an I/O, async or threading module itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import apibridge.codecs

# ``threading`` is not listed for the import check: attrs itself loads it (attr._compat);
# the source check below holds the codecs' own imports to the rule.
NOT_LOADED = ("httpx", "anyio", "asyncio", "socket", "ssl", "select", "uvicorn", "aiohttp")
NOT_IMPORTED = {*NOT_LOADED, "threading", "concurrent", "subprocess", "multiprocessing"}


def test_codecs_load_no_io() -> None:
    code = (
        "import sys\n"
        "import apibridge, apibridge.codecs\n"
        "from apibridge.codecs import FORMATS, get_codec\n"
        "for name in FORMATS:\n"
        "    get_codec(name)\n"
        "import apibridge.codecs.envelope\n"
        f"bad = [m for m in {NOT_LOADED!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "", f"codecs loaded {result.stdout.strip()}"


def test_codec_sources_import_no_io() -> None:
    folder = Path(apibridge.codecs.__file__).parent
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in NOT_IMPORTED, f"{path.name} imports {name}"
