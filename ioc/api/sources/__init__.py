"""Data sources behind the routes, one small module each, so a route switches to an owner's API
(alerts, reports, KPI layer, push ingestion) by editing one function."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg.rows import tuple_row


class SourceUnavailable(RuntimeError):
    """The component behind a source is not installed in this database (HTTP 503)."""


@asynccontextmanager
async def installed(what: str) -> AsyncIterator[None]:
    """Turn 'table/function does not exist' into SourceUnavailable naming the component."""
    try:
        yield
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction):
        raise SourceUnavailable(f"{what} is not installed in this database "
                                "(run `ioc db migrate`)") from None


@asynccontextmanager
async def tuple_rows(conn: psycopg.AsyncConnection) -> AsyncIterator[psycopg.AsyncConnection]:
    """The connection with tuple rows for code that indexes rows by position (the API's pool
    hands out dict rows), restored afterwards."""
    saved = conn.row_factory
    conn.row_factory = tuple_row
    try:
        yield conn
    finally:
        conn.row_factory = saved
