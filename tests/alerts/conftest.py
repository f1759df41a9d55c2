"""Fixtures of the alert tests: a database emptied before each test, connections to it, a
loopback receiver and an HTTP client.

One migrated database per test module, truncated before every test: as isolated as a fresh
database per test, without creating and dropping dozens of databases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
import psycopg
import pytest

from ioc import db
from tests.alerts.support import Receiver

TABLES = ("targets", "probe_results", "series", "samples", "probe_rollup_1m", "probe_rollup_1h",
          "probe_rollup_1d",
          "sample_rollup_1m", "sample_rollup_1h", "rollup_dirty", "collector_heartbeats",
          "payment_transactions", "recon_rows", "recon_files", "maintenance_windows", "alerts",
          "alert_transitions", "alert_acks", "silences", "notifications", "alert_notified",
          "alert_engine_heartbeats")


@pytest.fixture(scope="module")
def module_db_url(make_db: Callable[[], str]) -> str:
    return make_db()


@pytest.fixture
def alerts_db(module_db_url: str) -> str:
    """The URL of a migrated database holding no data (seeded catalogues kept)."""
    with db.connect(module_db_url) as admin:
        admin.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY")
    return module_db_url


@pytest.fixture
async def conn(alerts_db: str) -> AsyncIterator[psycopg.AsyncConnection]:
    connection = await db.connect_async(alerts_db)
    yield connection
    await connection.close()


@pytest.fixture
async def conn2(alerts_db: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """A second connection to the same database (the delivery worker's)."""
    connection = await db.connect_async(alerts_db)
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
