"""Which optional extra a module needs, said when its import fails.

The core (``import apibridge``, the codecs) needs only attrs, cattrs and orjson; the gateway
apps and the HTTP transport need the ``http`` extra (httpx, anyio, httpx-aiohttp). A module
that needs an extra wraps its third-party imports so that a missing package becomes a
``ModuleNotFoundError`` naming the ``pip install`` that fixes it, not a bare "No module named
'httpx'".
"""

from __future__ import annotations

__all__ = ["HTTP_PACKAGES", "missing_extra"]

#: the top-level packages the ``http`` extra installs.
HTTP_PACKAGES = frozenset({"httpx", "anyio", "httpx_aiohttp", "aiohttp", "sniffio", "h11"})


def missing_extra(exc: ModuleNotFoundError, module: str, extra: str) -> ModuleNotFoundError:
    """``exc`` said in user words: what ``module`` needs and the extra that installs it."""
    return ModuleNotFoundError(
        f"{module} needs {exc.name!r}, which is not installed: pip install 'apibridge[{extra}]'",
        name=exc.name,
    )
