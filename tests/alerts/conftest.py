"""Fixtures of the alert tests: a fresh database connection, a loopback receiver, HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import psycopg
import pytest

from ioc import db
from tests.alerts.support import Receiver


@pytest.fixture
async def conn(fresh_db_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    connection = await db.connect_async(fresh_db_url)
    yield connection
    await connection.close()


@pytest.fixture
async def conn2(fresh_db_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """A second connection to the same database (the delivery worker's)."""
    connection = await db.connect_async(fresh_db_url)
    yield connection
    await connection.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client
