"""The gateway core: framework-free and async, driven by :mod:`apibridge.asgi` and
:mod:`apibridge.wsgi` (see ``docs/architecture.md``)."""

from __future__ import annotations

from apibridge._gateway._handler import Handler
from apibridge._gateway._http import HttpRequest, HttpResponse

__all__ = ["Handler", "HttpRequest", "HttpResponse"]
