"""The codecs are pure: importing them loads no network or async machinery."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("httpx", "anyio", "asyncio", "socket", "threading", "uvicorn", "aiohttp")


def test_codecs_import_no_io() -> None:
    code = (
        "import sys\n"
        "import apibridge, apibridge.codecs\n"
        "from apibridge.codecs import FORMATS, get_codec\n"
        "for name in FORMATS:\n"
        "    get_codec(name)\n"
        "import apibridge.codecs.envelope\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "", f"codecs loaded {result.stdout.strip()}"
