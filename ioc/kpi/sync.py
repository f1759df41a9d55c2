"""Load what the KPI layer needs from the config into the database: calendar and SLO objectives.

Processes call `sync_kpi_config(conn, config)` at start and after a config reload (the report
scheduler does; so can `ioc kpi sync`). It is idempotent and cheap when nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from ioc.config.model import ProvinceConfig
from ioc.config.types import SYSTEMS
from ioc.kpi.calendar import sync_calendar


@dataclass(frozen=True)
class SyncResult:
    """How many calendar dates and SLO objectives changed."""

    calendar_days: int
    objectives: int


def sync_objectives(conn: psycopg.Connection, config: ProvinceConfig) -> int:
    """Write each system's SLO (availability, p95 latency) into `slo_objectives`."""
    changed = 0
    for system in SYSTEMS:
        slo = config.systems.get(system).slo
        cur = conn.execute(
            """INSERT INTO slo_objectives AS o (system, availability, latency_ms,
                                                latency_quantile, source, updated_at)
               VALUES (%s, %s, %s, 0.95, 'config', now())
               ON CONFLICT (system) DO UPDATE SET availability = EXCLUDED.availability,
                   latency_ms = EXCLUDED.latency_ms, latency_quantile = EXCLUDED.latency_quantile,
                   source = EXCLUDED.source, updated_at = EXCLUDED.updated_at
               WHERE (o.availability, o.latency_ms, o.latency_quantile, o.source)
                     IS DISTINCT FROM (EXCLUDED.availability, EXCLUDED.latency_ms,
                                       EXCLUDED.latency_quantile, EXCLUDED.source)""",
            (system, slo.availability, slo.latency_p95.total_seconds() * 1000.0))
        changed += cur.rowcount
    return changed


def sync_kpi_config(conn: psycopg.Connection, config: ProvinceConfig) -> SyncResult:
    """Load the calendar (holidays + the config's bridge and make-up days) and the objectives."""
    days = sync_calendar(conn, days_off=config.calendar.days_off,
                         working_days=config.calendar.working_days)
    return SyncResult(calendar_days=days, objectives=sync_objectives(conn, config))
