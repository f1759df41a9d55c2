"""The one owner of the config's copy in the database.

`sync_config(conn, config)` writes everything the SQL side reads from the province config:

- `targets` (targets.yaml; ids no longer configured are disabled, never deleted: their history
  stays readable),
- `calendar_days` (the `holidays` package plus `calendar.days_off` / `calendar.working_days`),
- `slo_objectives` (`systems.<s>.slo`),
- `maintenance_windows` with `source = 'config'` (maintenance.yaml, recurring windows written
  out CONFIG_HORIZON ahead; past occurrences are kept as the record the SLA figures rely on).

The KPI targets and Decision 766 scoring (`kpi_definitions`) are not configurable: migrations own
them. Who calls it: `ioc db migrate` (after the migrations), and every process that holds the
config (`ioc collect`, `ioc alerts`, `ioc serve`, `ioc report schedule`, `ioc demo`, `ioc drill`)
at start and after each reload that changed the config (`ConfigSyncer` hooks a ConfigHolder).

It is idempotent and cheap when nothing changed: every write is conditional on a difference, so
a repeated sync writes no row; concurrent syncs (several processes starting together) are
serialised by a transaction-level advisory lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from ioc import db
from ioc.config.holder import ConfigHolder
from ioc.config.matchers import matchers_json
from ioc.config.model import ProvinceConfig
from ioc.config.schedule import MaintenanceWindow
from ioc.config.types import SYSTEMS
from ioc.kpi.calendar import sync_calendar

log = logging.getLogger(__name__)

LOCK_KEY = 0x10C_0002
"""Advisory lock serialising config syncs (migrations use 0x10C_0001)."""
CONFIG_HORIZON = timedelta(days=14)
"""How far ahead recurring maintenance windows from the config are written out."""


@dataclass(frozen=True)
class SyncResult:
    """How many rows each part of the sync changed (all zero: the database already agreed)."""

    targets: int = 0
    calendar_days: int = 0
    objectives: int = 0
    maintenance: int = 0

    @property
    def changed(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def __str__(self) -> str:
        parts = [f"{f.name.replace('_', ' ')} {getattr(self, f.name)}" for f in fields(self)]
        return "config in the database: " + (", ".join(parts) + " changed" if self.changed
                                               else "unchanged")


_SYNC_TARGETS = """
INSERT INTO targets (id, system, kind, name, labels, interval_s, enabled, updated_at)
SELECT u.*, now() FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::jsonb[],
                              %s::float8[], %s::bool[]) AS u
ON CONFLICT (id) DO UPDATE SET system = EXCLUDED.system, kind = EXCLUDED.kind,
    name = EXCLUDED.name, labels = EXCLUDED.labels, interval_s = EXCLUDED.interval_s,
    enabled = EXCLUDED.enabled, updated_at = now()
WHERE (targets.system, targets.kind, targets.name, targets.labels, targets.interval_s,
       targets.enabled) IS DISTINCT FROM (EXCLUDED.system, EXCLUDED.kind, EXCLUDED.name,
       EXCLUDED.labels, EXCLUDED.interval_s, EXCLUDED.enabled)
"""
_DISABLE_REMOVED = ("UPDATE targets SET enabled = false, updated_at = now() "
                    "WHERE enabled AND NOT (id = ANY (%s::text[]))")
_SYNC_OBJECTIVES = """
INSERT INTO slo_objectives AS o (system, availability, latency_ms, latency_quantile, source,
                                 updated_at)
SELECT u.*, 0.95, 'config', now() FROM unnest(%s::text[], %s::float8[], %s::float8[]) AS u
ON CONFLICT (system) DO UPDATE SET availability = EXCLUDED.availability,
    latency_ms = EXCLUDED.latency_ms, latency_quantile = EXCLUDED.latency_quantile,
    source = EXCLUDED.source, updated_at = EXCLUDED.updated_at
WHERE (o.availability, o.latency_ms, o.latency_quantile, o.source)
      IS DISTINCT FROM (EXCLUDED.availability, EXCLUDED.latency_ms, EXCLUDED.latency_quantile,
                        EXCLUDED.source)
"""
# The config's windows from `now` on: rows no longer wanted go, missing ones come; rows that are
# already right are not touched. One statement, so sync and async callers share it.
_SYNC_MAINTENANCE = """
WITH want AS (
    SELECT * FROM unnest(%(name)s::text[], %(starts)s::timestamptz[], %(ends)s::timestamptz[],
                         %(system)s::text[], %(matchers)s::jsonb[], %(excl)s::bool[],
                         %(comment)s::text[])
        AS w(name, starts_at, ends_at, system, matchers, exclude_from_sla, comment)),
have AS (
    SELECT * FROM maintenance_windows WHERE source = 'config' AND ends_at > %(now)s),
gone AS (
    DELETE FROM maintenance_windows m USING have h
     WHERE m.id = h.id AND NOT EXISTS (
           SELECT 1 FROM want w
            WHERE (w.name, w.starts_at, w.ends_at, w.system, w.matchers, w.exclude_from_sla,
                   w.comment) IS NOT DISTINCT FROM (h.name, h.starts_at, h.ends_at, h.system,
                   h.matchers, h.exclude_from_sla, h.comment))
    RETURNING 1),
added AS (
    INSERT INTO maintenance_windows (name, starts_at, ends_at, system, matchers,
                                     exclude_from_sla, source, created_by, comment)
    SELECT w.name, w.starts_at, w.ends_at, w.system, w.matchers, w.exclude_from_sla, 'config',
           'config', w.comment
      FROM want w
     WHERE NOT EXISTS (
           SELECT 1 FROM have h
            WHERE (w.name, w.starts_at, w.ends_at, w.system, w.matchers, w.exclude_from_sla,
                   w.comment) IS NOT DISTINCT FROM (h.name, h.starts_at, h.ends_at, h.system,
                   h.matchers, h.exclude_from_sla, h.comment))
    RETURNING 1)
SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM added)
"""


def maintenance_params(windows: Sequence[MaintenanceWindow], tz: ZoneInfo,
                       now: datetime) -> dict[str, Any]:
    """The parameters of _SYNC_MAINTENANCE: every occurrence overlapping [now, horizon)."""
    rows = [(w.name, start, end, w.system, matchers_json(w.matchers), w.exclude_from_sla,
             f"config:{w.id}")
            for w in windows for start, end in w.occurrences(now, now + CONFIG_HORIZON, tz)]
    columns = ("name", "starts", "ends", "system", "matchers", "excl", "comment")
    params: dict[str, Any] = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    params["now"] = now
    return params


def sync_maintenance(conn: psycopg.Connection, windows: Sequence[MaintenanceWindow],
                     tz: ZoneInfo, now: datetime) -> int:
    """Write the config's maintenance windows from `now` on; return the rows added or removed."""
    row = conn.execute(_SYNC_MAINTENANCE, maintenance_params(windows, tz, now)).fetchone()
    return int(row[0]) if row else 0


async def sync_maintenance_async(conn: psycopg.AsyncConnection[Any],
                                 windows: Sequence[MaintenanceWindow], tz: ZoneInfo,
                                 now: datetime) -> int:
    """`sync_maintenance` on an asyncio connection (the alert engine extends the horizon)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        cur = await conn.execute(_SYNC_MAINTENANCE, maintenance_params(windows, tz, now))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


def sync_targets(conn: psycopg.Connection, config: ProvinceConfig) -> int:
    """Upsert the configured targets; disable the ones no longer configured."""
    ts = config.targets
    ids = [t.id for t in ts]
    changed = conn.execute(_SYNC_TARGETS, (
        ids, [t.system for t in ts], [t.kind for t in ts], [t.name for t in ts],
        [json.dumps(t.labels) for t in ts], [t.interval.total_seconds() for t in ts],
        [t.enabled for t in ts])).rowcount
    return changed + conn.execute(_DISABLE_REMOVED, (ids,)).rowcount


def sync_objectives(conn: psycopg.Connection, config: ProvinceConfig) -> int:
    """Write each system's SLO (availability, p95 latency) into `slo_objectives`."""
    slos = [config.systems.get(s).slo for s in SYSTEMS]
    return conn.execute(_SYNC_OBJECTIVES, (
        list(SYSTEMS), [s.availability for s in slos],
        [s.latency_p95.total_seconds() * 1000.0 for s in slos])).rowcount


def sync_config(conn: psycopg.Connection, config: ProvinceConfig, *,
                now: datetime | None = None) -> SyncResult:
    """Make the database's copy of the config agree with `config`, in one transaction."""
    now = now or datetime.now(UTC)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        return SyncResult(
            targets=sync_targets(conn, config),
            calendar_days=sync_calendar(conn, days_off=config.calendar.days_off,
                                        working_days=config.calendar.working_days),
            objectives=sync_objectives(conn, config),
            maintenance=sync_maintenance(conn, config.maintenance, config.province.tz, now))


class ConfigSyncer:
    """Keeps the database's copy of a ConfigHolder's config in step with it.

    `attach()` makes it sync after every reload that changed the config (the holder's
    listener); `ensure()` syncs only if the config in use has not been synced yet: call it at
    start, and again to retry a sync that failed (`keep_trying` does, in a thread). Failures
    are logged, never raised: a process keeps running on its config while the database is
    away.
    """

    def __init__(self, holder: ConfigHolder,
                 connect: Callable[[], AbstractContextManager[psycopg.Connection]]) -> None:
        self.holder = holder
        self._connect = connect
        self.synced_digest: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_url(cls, url: str, holder: ConfigHolder, *, app: str = "ioc-config-sync"
                ) -> ConfigSyncer:
        """A syncer that opens a short-lived connection to `url` for each sync."""
        return cls(holder, lambda: db.connect(url, app=app))

    def attach(self) -> ConfigSyncer:
        """Sync after each reload that switches to a new config (the holder's listener)."""
        self.holder.add_listener(lambda _config: self.ensure())
        return self

    def keep_trying(self, every_s: float = 10.0) -> threading.Thread:
        """A daemon thread calling `ensure` every `every_s` seconds (for a process whose
        reloads may fail to reach the database and that has no loop of its own to retry)."""
        def run() -> None:
            while True:
                self.ensure()
                time.sleep(every_s)

        thread = threading.Thread(target=run, name="ioc-config-sync", daemon=True)
        thread.start()
        return thread

    def ensure(self) -> SyncResult | None:
        """Sync unless the config in use is the one last synced; None if nothing was done."""
        with self._lock:
            # digest first: a reload in between makes the next call sync again, never skip it
            digest = self.holder.digest
            config = self.holder.config
            if digest == self.synced_digest:
                return None
            try:
                with self._connect() as conn:
                    result = sync_config(conn, config)
            except (psycopg.Error, OSError) as exc:
                log.warning("config not written to the database (%s); retrying later",
                            type(exc).__name__)
                return None
            self.synced_digest = digest
            log.info("%s", result)
            return result
