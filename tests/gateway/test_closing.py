"""The one shielded-close helper: what talks to an upstream is closed even inside a cancelled
task (a client that left), and a broken connection's error while closing is swallowed."""

from __future__ import annotations

import anyio
import httpx
import pytest

from apibridge.transports._closing import aclose_shielded


class _Resource:
    def __init__(self, error: BaseException | None = None) -> None:
        self.closed = False
        self.error = error

    async def aclose(self) -> None:
        await anyio.sleep(0)  # a checkpoint: would raise at once in a cancelled scope
        self.closed = True
        if self.error is not None:
            raise self.error


def test_closed_even_inside_a_cancelled_scope() -> None:
    resource = _Resource()

    async def scenario() -> None:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await aclose_shielded(resource)

    anyio.run(scenario)
    assert resource.closed


def test_broken_connection_errors_are_swallowed_only_when_named() -> None:
    broken = _Resource(httpx.ReadError("reset"))
    anyio.run(lambda: aclose_shielded(broken, broken=(httpx.HTTPError,)))
    assert broken.closed
    with pytest.raises(httpx.ReadError):
        anyio.run(lambda: aclose_shielded(_Resource(httpx.ReadError("reset"))))


def test_objects_without_aclose_are_left_alone() -> None:
    anyio.run(aclose_shielded, iter(()))
