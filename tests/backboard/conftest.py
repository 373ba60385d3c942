"""Fixtures: one fake backboard server per session (reset per test) and transports over it.

Shared helpers live in ``bb_helpers`` (importing from a conftest is fragile when several
test directories have one)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bb_helpers import KEYS, Transports
from fake_backboard import FakeBackboard, serve


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def fake_server() -> Iterator[tuple[FakeBackboard, str]]:
    fake = FakeBackboard(KEYS)
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def fake(fake_server: tuple[FakeBackboard, str]) -> FakeBackboard:
    fake_server[0].reset()
    return fake_server[0]


@pytest.fixture
def fake_url(fake_server: tuple[FakeBackboard, str]) -> str:
    return fake_server[1]


@pytest.fixture
async def transports(fake: FakeBackboard, fake_url: str) -> AsyncIterator[Transports]:
    async with httpx.AsyncClient() as client:
        maker = Transports(fake_url, client)
        yield maker
        for transport in maker.made:
            await transport.aclose()
