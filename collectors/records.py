"""The `records` kind: incremental sync of business records into `ioc_upsert_records`.

Cursor endpoints (dossiers, transactions, documents) are paged with `updated_since`; each page
is upserted and the cursor saved in the same transaction, so a crash or timeout between pages
loses nothing and repeats nothing that matters (the upsert is idempotent). A feed heals: when the
source refuses the stored cursor (400, 404 or 410: it restarted, or was replaced, and no longer
knows it), the collector says so once and resumes from the latest stored record's time less
OVERLAP, as a time, whose page's cursor replaces the refused one. Reconciliation files
are fetched per business day over a look-back window, since late files arrive T+1 or later; each
file received is stored whole and recorded as received, an empty one too (`ioc_store_recon_file`:
the KPIs judge a day only once its files are in), while a 404 (not yet available) stores nothing.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from collectors.fetch import HttpClient
from collectors.model import CollectFailure, Outcome, ProbeResult, failed
from collectors.writepath import UNREACHABLE
from ioc import db
from ioc.config.targets import RecordsTarget

PROVINCE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_PAGES = 200
# How far back a reconciliation file never received is still looked for.
CATCH_UP_DAYS = 31
_RECORDS_MAX_BYTES = 64 * 2**20
REFUSED = frozenset({400, 404, 410})
"""Statuses with which a source refuses a cursor it does not know (it restarted)."""
OVERLAP = timedelta(minutes=10)
"""How far before the latest stored record a healed feed resumes (the upsert is idempotent)."""
_RECORD_TABLES = {"dossiers": "dossiers", "transactions": "payment_transactions",
                  "documents": "documents"}
log = logging.getLogger(__name__)


class RecordsSync:
    """Pages one record endpoint into the IOC database."""

    def __init__(self, target: RecordsTarget, client: HttpClient, database_url: str) -> None:
        self.target = target
        self._client = client
        self._url = database_url
        self._conn: psycopg.AsyncConnection | None = None
        self._headers = {k: v.get_secret_value() for k, v in target.headers.items()}

    async def close(self) -> None:
        """Close the database connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def collect(self, now: datetime) -> Outcome:
        """Sync what changed since the saved cursor (or the look-back days of files)."""
        start = time.perf_counter()
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await db.connect_async(self._url, app="ioc-collector-records")
            if self.target.record_type == "reconciliation":
                count = await self._reconciliation(self._conn, now)
            else:
                count = await self._pages(self._conn, now)
        except CollectFailure as failure:
            return failed(self.target.id, now, failure, (time.perf_counter() - start) * 1000)
        except UNREACHABLE:
            await self.close()
            return Outcome(None)  # our database is down: no data, not a failure of the source
        duration = (time.perf_counter() - start) * 1000
        return Outcome(ProbeResult(at=now, target_id=self.target.id, ok=True,
                                   duration_ms=duration, detail=f"{count} records"))

    async def _get(self, url: str, now: datetime, *, missing_ok: bool = False) -> Any:
        resp = await self._client.fetch("GET", url, now=now, headers=self._headers,
                                        max_bytes=_RECORDS_MAX_BYTES)
        if missing_ok and resp.status == 404:
            return None
        if not 200 <= resp.status < 300:
            raise CollectFailure("status", f"status {resp.status}", status_code=resp.status)
        try:
            return json.loads(resp.body)
        except ValueError:
            raise CollectFailure("garbage", "answer is not JSON", status_code=resp.status) from None

    async def _pages(self, conn: psycopg.AsyncConnection, now: datetime) -> int:
        t = self.target
        cursor = await _load_cursor(conn, t.id)
        total = 0
        for n in range(MAX_PAGES):
            try:
                page = await self._page(cursor, now)
            except CollectFailure as refused:
                if n or cursor is None or refused.status_code not in REFUSED:
                    raise
                cursor = await self._fall_back(conn, cursor, refused)
                page = await self._page(cursor, now)
            items = _items(page)
            nxt = page.get("next") if isinstance(page, dict) else None
            # `next` while more is waiting; else the source's resume `cursor`, else the time.
            given = page.get("cursor") if isinstance(page, dict) else None
            new_cursor = str(nxt or given or "") or _last_updated(items, cursor)
            await _store(conn, t.record_type, items, t.id, new_cursor)
            total += len(items)
            cursor = new_cursor
            if not nxt or len(items) < t.page_size:
                break
        return total

    async def _page(self, cursor: str | None, now: datetime) -> Any:
        params: dict[str, str | int] = {"limit": self.target.page_size}
        if cursor is not None:
            params["updated_since"] = cursor
        return await self._get(f"{self.target.url}?{urlencode(params)}", now)

    async def _fall_back(self, conn: psycopg.AsyncConnection, cursor: str,
                         refused: CollectFailure) -> str | None:
        """Where to resume when the source refuses the stored cursor (it restarted, or was
        replaced, and no longer knows it): the latest record stored, less OVERLAP, as a time
        (from the beginning when nothing is stored). Said once: the page's own cursor is then
        saved and the refused one is never sent again."""
        since = await _latest_record(conn, self.target.record_type)
        resume = (since - OVERLAP).isoformat() if since is not None else None
        log.warning("records %s: the source refused the stored cursor %r (%s); resuming from "
                    "updated_since=%s", self.target.id, cursor[:64], refused.detail,
                    resume or "the beginning")
        return resume

    async def _reconciliation(self, conn: psycopg.AsyncConnection, now: datetime) -> int:
        t = self.target
        total = 0
        for day, side in await _files_to_fetch(conn, t, now):
            page = await self._get(f"{t.url}/{day.isoformat()}?side={side}", now,
                                   missing_ok=True)
            if page is None:
                continue
            items = [row for row in _items(page) if isinstance(row, dict)]
            await _write(conn, [("SELECT ioc_store_recon_file(%s, %s, %s::jsonb, %s)",
                                 (side, day, json.dumps(items), now))])
            total += len(items)
        return total


async def _files_to_fetch(conn: psycopg.AsyncConnection, t: RecordsTarget,
                          now: datetime) -> list[tuple[date, str]]:
    """(business day, side) of the files to fetch, oldest first: every file of the look-back
    (fetched again: late corrections), and any older file of the last CATCH_UP_DAYS not received
    yet. A file first published after a long holiday (Tết: a week or more) would otherwise fall
    out of a 3-day look-back unseen and its day's transactions become breaks once it is overdue.
    """
    today = now.astimezone(PROVINCE_TZ).date()
    oldest = today - timedelta(days=max(CATCH_UP_DAYS, t.lookback.days))
    cur = await conn.execute("SELECT file_date, side FROM recon_files WHERE file_date >= %s",
                             (oldest,))
    received = {(row[0], row[1]) for row in await cur.fetchall()}
    recent = today - timedelta(days=t.lookback.days)
    days = [oldest + timedelta(days=n) for n in range((today - oldest).days)]
    return [(day, side) for day in days for side in t.sides
            if day >= recent or (day, side) not in received]


def _items(page: Any) -> list[Any]:
    if isinstance(page, list):
        return page
    if isinstance(page, dict) and isinstance(page.get("items"), list):
        return list(page["items"])
    raise CollectFailure("garbage", "answer has no list of items")


def _last_updated(items: list[Any], cursor: str | None) -> str | None:
    """Where to resume when the source gives no cursor: the last item's `updated_at`."""
    for item in reversed(items):
        if isinstance(item, dict) and isinstance(item.get("updated_at"), str):
            return str(item["updated_at"])
    return cursor


async def _latest_record(conn: psycopg.AsyncConnection, record_type: str) -> datetime | None:
    """The latest `updated_at` stored of a record type (None: none, or no such table)."""
    table = _RECORD_TABLES.get(record_type)
    if table is None:
        return None
    cur = await conn.execute(sql.SQL("SELECT max(updated_at) FROM {}").format(
        sql.Identifier(table)))
    row = await cur.fetchone()
    return row[0] if row else None


async def _load_cursor(conn: psycopg.AsyncConnection, target_id: str) -> str | None:
    cur = await conn.execute("SELECT cursor FROM collector_cursors WHERE target_id = %s",
                             (target_id,))
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def _store(conn: psycopg.AsyncConnection, kind: str, items: list[Any],
                 target_id: str | None, cursor: str | None) -> None:
    statements: list[tuple[str, tuple[Any, ...]]] = []
    if items:
        statements.append(("SELECT ioc_upsert_records(%s, %s::jsonb)", (kind, json.dumps(items))))
    if target_id is not None and cursor is not None:
        statements.append((
            "INSERT INTO collector_cursors (target_id, cursor, updated_at) "
            "VALUES (%s, %s, now()) ON CONFLICT (target_id) DO UPDATE "
            "SET cursor = EXCLUDED.cursor, updated_at = EXCLUDED.updated_at",
            (target_id, cursor)))
    await _write(conn, statements)


async def _write(conn: psycopg.AsyncConnection,
                 statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Run the statements in one transaction; records the database refuses are the source's."""
    try:
        async with conn.transaction():
            for query, params in statements:
                await conn.execute(query, params)
    except UNREACHABLE:
        raise
    except psycopg.Error as exc:
        # The records are malformed for the business tables: the source sent bad data.
        raise CollectFailure("garbage", f"records refused: {str(exc).splitlines()[0]}"[:300]
                             ) from None
