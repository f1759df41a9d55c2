"""Silences and maintenance windows: the one question "does this mute that label set?".

A silence (API) mutes notifications of alerts whose labels match all its matchers between its
start and end. A maintenance window (config or API, stored in `maintenance_windows`, which the
KPI layer reads to leave the time out of SLA figures when `exclude_from_sla`) mutes the alerts of
its system whose labels match. Muted alerts still change state and are recorded; they are only
not notified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from pydantic import TypeAdapter, ValidationError

from ioc.config.matchers import Matcher, match_all, matchers_json
from ioc.config.schedule import MaintenanceWindow
from ioc.config_sync import sync_maintenance_async

_MATCHERS = TypeAdapter(tuple[Matcher, ...])


class SilenceError(ValueError):
    """A silence or maintenance window was refused; the message says why and how to fix it."""


class Muter(Protocol):
    """Anything that can mute notifications for a label set (silences, maintenance windows)."""

    def mutes(self, labels: Mapping[str, str]) -> bool: ...


@dataclass(frozen=True)
class Mute:
    """One active silence or maintenance window, reduced to what matching needs."""

    matchers: tuple[Matcher, ...]
    system: str | None = None

    def mutes(self, labels: Mapping[str, str]) -> bool:
        if self.system is not None and labels.get("system") != self.system:
            return False
        return match_all(self.matchers, labels)


@dataclass(frozen=True)
class Mutes:
    """Every silence and maintenance window active at one moment."""

    active: tuple[Mute, ...] = ()

    def mutes(self, labels: Mapping[str, str]) -> bool:
        return any(m.mutes(labels) for m in self.active)


def parse_matchers(raw: Any) -> tuple[Matcher, ...]:
    """Matchers from text (`'system="portal"'`), dicts, or a {label: value} mapping."""
    if isinstance(raw, Mapping):
        raw = [{"label": k, "op": "=", "value": str(v)} for k, v in raw.items()]
    try:
        return _MATCHERS.validate_python(list(raw or []))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SilenceError(f"invalid matcher: {first['msg']}") from None


async def active_mutes(conn: AsyncConnection[Any], now: datetime) -> Mutes:
    """Silences and maintenance windows in force at `now`."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT matchers, NULL::text AS system FROM silences"
                          " WHERE starts_at <= %(now)s AND ends_at > %(now)s"
                          " UNION ALL SELECT matchers, system FROM maintenance_windows"
                          " WHERE starts_at <= %(now)s AND ends_at > %(now)s", {"now": now})
        rows = await cur.fetchall()
    return Mutes(tuple(Mute(parse_matchers(r["matchers"]), r["system"]) for r in rows))


async def create_silence(conn: AsyncConnection[Any], matchers: Any, starts_at: datetime,
                         ends_at: datetime, created_by: str, comment: str = "") -> int:
    """Store a silence and return its id; refuses one that would mute everything or nothing."""
    parsed = parse_matchers(matchers)
    if not parsed:
        raise SilenceError("a silence needs at least one matcher; "
                           'write e.g. system="portal" (to mute everything, use a maintenance '
                           "window)")
    if ends_at <= starts_at:
        raise SilenceError("ends_at must be after starts_at")
    if not created_by:
        raise SilenceError("created_by is required (who is muting the alerts)")
    async with conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment)"
            " VALUES (%s::jsonb, %s, %s, %s, %s) RETURNING id",
            (matchers_json(parsed), starts_at, ends_at, created_by, comment))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def list_silences(conn: AsyncConnection[Any], now: datetime,
                        include_expired: bool = False) -> list[dict[str, Any]]:
    """Silences (active and future ones, or all), newest first."""
    where = "" if include_expired else " WHERE ends_at > %(now)s"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, matchers, starts_at, ends_at, created_by, comment,"
                          " created_at, source, (starts_at <= %(now)s AND ends_at > %(now)s)"
                          " AS active FROM silences" + where + " ORDER BY id DESC",
                          {"now": now})
        return await cur.fetchall()


async def expire_silence(conn: AsyncConnection[Any], silence_id: int, now: datetime) -> bool:
    """End a silence now (or drop a future one); False when it had already ended."""
    async with conn.cursor() as cur:
        await cur.execute("UPDATE silences SET ends_at = greatest(%(now)s, starts_at"
                          " + interval '1 microsecond') WHERE id = %(id)s AND ends_at > %(now)s",
                          {"id": silence_id, "now": now})
        return cur.rowcount == 1


async def create_maintenance(conn: AsyncConnection[Any], name: str, starts_at: datetime,
                             ends_at: datetime, created_by: str, *, system: str | None = None,
                             matchers: Any = (), exclude_from_sla: bool = True,
                             comment: str = "") -> int:
    """Store a maintenance window from the API; the KPI layer reads it for SLA figures."""
    parsed = parse_matchers(matchers)
    if ends_at <= starts_at:
        raise SilenceError("ends_at must be after starts_at")
    async with conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO maintenance_windows (name, starts_at, ends_at, system, matchers,"
            " exclude_from_sla, source, created_by, comment)"
            " VALUES (%s, %s, %s, %s, %s::jsonb, %s, 'api', %s, %s) RETURNING id",
            (name, starts_at, ends_at, system, matchers_json(parsed), exclude_from_sla,
             created_by, comment))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def list_maintenance(conn: AsyncConnection[Any], from_: datetime,
                           to: datetime) -> list[dict[str, Any]]:
    """Maintenance windows overlapping [from_, to), in start order."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM maintenance_windows WHERE starts_at < %s AND ends_at > %s"
                          " ORDER BY starts_at, id", (to, from_))
        return await cur.fetchall()


async def sync_config_maintenance(conn: AsyncConnection[Any],
                                  windows: Sequence[MaintenanceWindow], tz: ZoneInfo,
                                  now: datetime) -> int:
    """Write the config's windows (recurring ones expanded) from now to the horizon; the rows
    added or removed (ioc.config_sync owns this: the engine calls it to move the horizon on).

    Past occurrences are kept: they are the record the SLA figures rely on. Current and future
    ones follow the config, so editing the config takes effect at the next sync.
    """
    return await sync_maintenance_async(conn, windows, tz, now)
