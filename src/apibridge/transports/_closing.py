"""Closing what talks to an upstream, also while the task is being cancelled.

Theory of operation
-------------------
A client that goes away cancels the task serving it (ASGI) or closes the response generator
(WSGI). Whatever that task holds open towards an upstream (an httpx response, an async
generator of events that owns one) must still be closed *now*, not left to the garbage
collector while the model keeps generating for nobody. :func:`aclose_shielded` runs the
``aclose()`` of such an object under a shielded cancel scope; objects without ``aclose``
(a plain iterator) are left alone. Transports pass ``broken=(httpx.HTTPError,)`` for an
upstream response: an error while closing one means the connection is already broken, with
nothing more to free. This module imports no httpx, so the gateway core can use it.
"""

from __future__ import annotations

import contextlib

import anyio

__all__ = ["aclose_shielded"]


async def aclose_shielded(
    resource: object, *, broken: tuple[type[BaseException], ...] = ()
) -> None:
    """``await resource.aclose()`` even inside a cancelled task; ``broken`` errors are
    swallowed (see the module docstring)."""
    aclose = getattr(resource, "aclose", None)
    if aclose is None:
        return
    with anyio.CancelScope(shield=True), contextlib.suppress(*broken):
        await aclose()
