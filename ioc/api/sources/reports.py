"""Weekly reports as stored by ioc/report in `reports` (list and download)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


async def list_reports(conn: psycopg.AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """Stored reports, newest first ([] until the report component stores any)."""
    if not await _installed(conn):
        return []
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, kind, period, language, version, period_from, period_to, created_at, "
            "published_at, pdf IS NOT NULL AS has_pdf FROM reports "
            "ORDER BY period_from DESC, language, version DESC LIMIT %s", (limit,))
        return await cur.fetchall()


async def fetch_report(conn: psycopg.AsyncConnection, report_id: int,
                       fmt: str) -> tuple[bytes, str] | None:
    """The report's bytes and media type in `fmt` ('html' or 'pdf'), or None."""
    if not await _installed(conn):
        return None
    column = "pdf" if fmt == "pdf" else "html"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {column} AS body FROM reports WHERE id = %s", (report_id,))
        row = await cur.fetchone()
    if row is None or row["body"] is None:
        return None
    body = row["body"]
    data = body.encode() if isinstance(body, str) else bytes(body)
    return data, "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8"


async def _installed(conn: psycopg.AsyncConnection) -> bool:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT to_regclass('reports') IS NOT NULL AS present")
        row = await cur.fetchone()
    return bool(row and row["present"])
