"""Alerts, silences and on-call through the alerts component's own functions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from alerts import actions
from ioc.api.sources import installed, tuple_rows
from ioc.config.model import ProvinceConfig


class AlertConflict(ValueError):
    """The alert exists but cannot be acknowledged (not firing): HTTP 409."""


async def list_alerts(conn: psycopg.AsyncConnection, *, states: list[str],
                      severity: str | None, system: str | None, limit: int) -> list[dict[str, Any]]:
    """Alerts in the given states, most severe and newest first."""
    async with installed("the alerts component"):
        return await actions.list_alerts(conn, states=tuple(states), severity=severity,
                                         system=system, limit=limit)


async def acknowledge(conn: psycopg.AsyncConnection, fingerprint: str, by: str,
                      now: datetime) -> dict[str, Any] | None:
    """Acknowledge a firing alert (again is harmless); None when there is no such alert."""
    async with installed("the alerts component"):
        if await actions.get_alert(conn, fingerprint) is None:
            return None
        async with tuple_rows(conn):
            result = await actions.acknowledge(conn, fingerprint, by, now, via="api")
        if result.outcome not in ("acked", "already_acked"):
            raise AlertConflict(result.message)
        return await actions.get_alert(conn, fingerprint)


async def list_silences(conn: psycopg.AsyncConnection, now: datetime, *,
                        include_expired: bool, limit: int) -> list[dict[str, Any]]:
    """Silences in force or to come (or all), newest first."""
    async with installed("the alerts component"):
        rows = await actions.list_silences(conn, now, include_expired=include_expired)
        return rows[:limit]


async def create_silence(conn: psycopg.AsyncConnection, *, matchers: list[dict[str, Any]],
                         starts_at: datetime, ends_at: datetime, created_by: str,
                         comment: str, now: datetime) -> dict[str, Any]:
    """Store a silence ({label, op, value} matchers); the alert engine applies it next round."""
    async with installed("the alerts component"):
        async with tuple_rows(conn):
            silence_id = await actions.create_silence(conn, matchers, starts_at, ends_at,
                                                      created_by, comment)
        found = await _silence(conn, silence_id, now)
    assert found is not None
    return found


async def expire_silence(conn: psycopg.AsyncConnection, silence_id: int,
                         now: datetime) -> dict[str, Any] | None:
    """End a silence now (one already over is left as it is); None when there is none."""
    async with installed("the alerts component"):
        async with tuple_rows(conn):
            await actions.expire_silence(conn, silence_id, now)
        return await _silence(conn, silence_id, now)


async def _silence(conn: psycopg.AsyncConnection, silence_id: int,
                   now: datetime) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at, source,"
            " (starts_at <= %(now)s AND ends_at > %(now)s) AS active FROM silences"
            " WHERE id = %(id)s", {"id": silence_id, "now": now})
        return await cur.fetchone()


def on_call(config: Callable[[], ProvinceConfig | None], now: datetime) -> list[dict[str, Any]]:
    """Who is on call in each rotation now ([] without a province config)."""
    cfg = config()
    return actions.oncall_now(cfg, now) if cfg is not None else []
