"""Alerts, silences and on-call, read and written through the alerts tables (see CONTRACTS.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ioc.api.sources import installed

ALERT_COLUMNS = ("fingerprint, rule_id, labels, annotations, severity, state, value, started_at, "
                 "firing_at, resolved_at, acked_at, acked_by, updated_at")
SILENCE_COLUMNS = "id, matchers, starts_at, ends_at, created_by, comment"


async def list_alerts(conn: psycopg.AsyncConnection, *, states: list[str],
                      severity: str | None, system: str | None, limit: int) -> list[dict[str, Any]]:
    """Alerts in the given states, newest first, optionally by severity and system label."""
    async with installed("the alerts component"), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE state = ANY(%(states)s) "
            "AND (%(sev)s::text IS NULL OR severity = %(sev)s) "
            "AND (%(sys)s::text IS NULL OR labels->>'system' = %(sys)s) "
            "ORDER BY coalesce(firing_at, started_at) DESC, fingerprint LIMIT %(limit)s",
            {"states": states, "sev": severity, "sys": system, "limit": limit},
        )
        return await cur.fetchall()


async def acknowledge(conn: psycopg.AsyncConnection, fingerprint: str, by: str,
                      now: datetime) -> dict[str, Any] | None:
    """Acknowledge an unresolved alert (idempotent); None when there is no such alert."""
    async with installed("the alerts component"), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE alerts SET acked_at = coalesce(acked_at, %(now)s), "
            "acked_by = coalesce(acked_by, %(by)s), updated_at = %(now)s "
            f"WHERE fingerprint = %(fp)s AND state <> 'resolved' RETURNING {ALERT_COLUMNS}",
            {"fp": fingerprint, "by": by, "now": now},
        )
        row = await cur.fetchone()
        if row is not None:
            event = {"type": "alert", "action": "acked", "fingerprint": fingerprint}
            await cur.execute("SELECT pg_notify('ioc_events', %s)", (json.dumps(event),))
        return row


async def list_silences(conn: psycopg.AsyncConnection, now: datetime, *,
                        include_expired: bool, limit: int) -> list[dict[str, Any]]:
    """Silences in force or to come (or all), newest first."""
    where = "" if include_expired else "WHERE ends_at > %(now)s"
    async with installed("the alerts component"), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {SILENCE_COLUMNS}, (starts_at <= %(now)s AND ends_at > %(now)s) AS active "
            f"FROM silences {where} ORDER BY id DESC LIMIT %(limit)s",
            {"now": now, "limit": limit},
        )
        return await cur.fetchall()


async def create_silence(conn: psycopg.AsyncConnection, *, matchers: list[dict[str, Any]],
                         starts_at: datetime, ends_at: datetime, created_by: str,
                         comment: str) -> dict[str, Any]:
    """Store a silence ({label, op, value} matchers); the alert engine applies it next round."""
    async with installed("the alerts component"), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment) "
            f"VALUES (%s, %s, %s, %s, %s) RETURNING {SILENCE_COLUMNS}, "
            "(starts_at <= now() AND ends_at > now()) AS active",
            (json.dumps(matchers, ensure_ascii=False), starts_at, ends_at, created_by, comment),
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def expire_silence(conn: psycopg.AsyncConnection, silence_id: int,
                         now: datetime) -> dict[str, Any] | None:
    """End a silence now (a future one never starts; one already over is left as it is);
    None when there is no such silence."""
    async with installed("the alerts component"), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE silences SET ends_at = greatest(%(now)s, starts_at + interval '1 microsecond') "
            "WHERE id = %(id)s AND ends_at > %(now)s", {"id": silence_id, "now": now})
        await cur.execute(
            f"SELECT {SILENCE_COLUMNS}, (starts_at <= %(now)s AND ends_at > %(now)s) AS active "
            "FROM silences WHERE id = %(id)s", {"id": silence_id, "now": now})
        return await cur.fetchone()


async def on_call(conn: psycopg.AsyncConnection, now: datetime) -> list[dict[str, Any]]:
    """Who is on call now. The rota lives in the alerts component's config; until it exposes
    it, nobody is known to be on call."""
    return []
