"""What the API (and the CLI) call: list alerts and their history, acknowledge, silence,
maintenance, who is on call, and the state of deliveries.

Every function takes an open async connection and, where time matters, `now`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from alerts.ack import AckResult, acknowledge, acknowledge_link
from alerts.oncall import oncall_now
from alerts.silence import (
    SilenceError,
    create_maintenance,
    create_silence,
    expire_silence,
    list_maintenance,
    list_silences,
)

__all__ = [
    "AckResult", "SilenceError", "acknowledge", "acknowledge_link", "create_maintenance",
    "create_silence", "expire_silence", "get_alert", "list_alerts", "list_maintenance",
    "list_notifications", "list_silences", "list_transitions", "oncall_now",
]

_ALERT_COLUMNS = ("fingerprint, rule_id, labels, annotations, severity, state, value,"
                  " started_at, firing_at, resolved_at, acked_at, acked_by, updated_at,"
                  " flapping, episode, inhibited_by, (SELECT s.annotations->>'summary'"
                  " FROM alerts s WHERE s.fingerprint = alerts.inhibited_by) AS muted_by")


async def list_alerts(conn: AsyncConnection[Any], *, states: tuple[str, ...] = ("pending",
                      "firing"), severity: str | None = None, system: str | None = None,
                      rule_id: str | None = None, labels: dict[str, str] | None = None,
                      limit: int = 500) -> list[dict[str, Any]]:
    """Alerts in the given states (default: open ones), most severe and newest first."""
    where: list[sql.Composable] = [sql.SQL("state = ANY(%(states)s)")]
    params: dict[str, Any] = {"states": list(states), "limit": limit}
    for column, value in (("severity", severity), ("rule_id", rule_id)):
        if value is not None:
            where.append(sql.SQL("{} = %({})s").format(sql.Identifier(column),
                                                        sql.SQL(column)))
            params[column] = value
    if system is not None:
        where.append(sql.SQL("labels->>'system' = %(system)s"))
        params["system"] = system
    if labels:
        where.append(sql.SQL("labels @> %(labels)s::jsonb"))
        params["labels"] = json.dumps(labels, ensure_ascii=False)
    query = sql.SQL("SELECT " + _ALERT_COLUMNS + " FROM alerts WHERE {} ORDER BY"
                    " CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,"
                    " coalesce(firing_at, started_at) DESC LIMIT %(limit)s").format(
                        sql.SQL(" AND ").join(where))
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def get_alert(conn: AsyncConnection[Any], fingerprint: str) -> dict[str, Any] | None:
    """One alert by fingerprint, or None."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT " + _ALERT_COLUMNS + " FROM alerts WHERE fingerprint = %s",
                          (fingerprint,))
        return await cur.fetchone()


async def list_transitions(conn: AsyncConnection[Any], from_: datetime, to: datetime, *,
                           fingerprint: str | None = None,
                           limit: int = 1000) -> list[dict[str, Any]]:
    """State changes in [from_, to), oldest first (incident lists, Grafana annotations)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM alert_transitions WHERE at >= %s AND at < %s"
            " AND (%s::text IS NULL OR fingerprint = %s) ORDER BY at, id LIMIT %s",
            (from_, to, fingerprint, fingerprint, limit))
        return await cur.fetchall()


async def list_notifications(conn: AsyncConnection[Any], *, state: str | None = None,
                             limit: int = 200) -> list[dict[str, Any]]:
    """Outbox messages, newest first; `state='failed'` shows what could not be delivered."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, idempotency_key, channel, recipient, state, attempts, due_at,"
            " created_at, sent_at, last_error, jsonb_array_length(events) AS events"
            " FROM notifications WHERE (%s::text IS NULL OR state = %s)"
            " ORDER BY id DESC LIMIT %s", (state, state, limit))
        return await cur.fetchall()
