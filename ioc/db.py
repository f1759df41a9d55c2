"""Database connections: one place that opens them, with the settings every process wants."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

APP_NAME = "ioc"


def connect(url: str, *, autocommit: bool = True, app: str = APP_NAME) -> psycopg.Connection:
    """A synchronous connection (CLI, migrations, tests)."""
    return psycopg.connect(url, autocommit=autocommit, application_name=app, connect_timeout=10)


async def connect_async(
    url: str, *, autocommit: bool = True, app: str = APP_NAME
) -> psycopg.AsyncConnection:
    """An asyncio connection (collectors, alert engine, API)."""
    return await psycopg.AsyncConnection.connect(
        url, autocommit=autocommit, application_name=app, connect_timeout=10
    )


def make_pool(url: str, *, min_size: int = 1, max_size: int = 10, app: str = APP_NAME,
              open_: bool = False) -> AsyncConnectionPool:
    """An asyncio pool returning dict rows; open it with `await pool.open()`."""
    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "application_name": app, "row_factory": dict_row},
        open=open_,
    )
