"""Status of targets and systems from their latest probe results.

A target is up or down from its latest probe (slow when it took longer than the system's
latency objective); if that is older than twice its interval plus a
grace period, or there is none, it is "nodata" (grey), never green. A system is the worst of its
targets: down if a critical target is down; degraded if a target is slow, a non-critical one is
down, or some (not all) have no data; nodata if none has data.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from ioc.api.database import Database

State = Literal["up", "slow", "down", "nodata"]
SystemState = Literal["up", "degraded", "down", "nodata"]
# The three monitored systems, always shown (in this order) even before any target exists.
SYSTEMS = ("portal", "payments", "documents")


@dataclass(frozen=True)
class StatusRules:
    """Thresholds for judging status (the province config may override the defaults)."""

    grace: timedelta = timedelta(seconds=10)
    slow_ms: float = 3000.0  # when neither the target's labels nor the system's SLO say


_LATEST = """
SELECT t.id, t.system, t.kind, t.name, t.labels, t.interval_s, o.latency_ms AS slo_ms,
       p.time AS checked_at, p.ok, p.reason, p.status_code, p.duration_ms
  FROM targets t
  LEFT JOIN slo_objectives o ON o.system = t.system
  LEFT JOIN LATERAL (SELECT r.time, r.ok, r.reason, r.status_code, r.duration_ms
                       FROM probe_results r
                      WHERE r.target_id = t.id AND r.time <= %(now)s
                      ORDER BY r.time DESC LIMIT 1) p ON true
 WHERE t.enabled AND (%(system)s::text IS NULL OR t.system = %(system)s)
 ORDER BY t.system, t.id
"""


def target_status(row: dict[str, Any], now: datetime, rules: StatusRules) -> dict[str, Any]:
    """One target's status document from its row joined with its latest probe."""
    interval = timedelta(seconds=float(row["interval_s"]))
    checked_at: datetime | None = row["checked_at"]
    stale_at = checked_at + 2 * interval + rules.grace if checked_at else None
    labels = row["labels"] or {}
    slow_ms = float(labels.get("slow_ms") or row.get("slo_ms") or rules.slow_ms)
    state: State
    if checked_at is None or stale_at is None or now >= stale_at:
        state = "nodata"
    elif not row["ok"]:
        state = "down"
    elif row["duration_ms"] is not None and row["duration_ms"] > slow_ms:
        state = "slow"
    else:
        state = "up"
    return {
        "id": row["id"], "system": row["system"], "kind": row["kind"], "name": row["name"],
        "critical": str(labels.get("critical", "true")).lower() not in ("false", "no", "0"),
        "state": state, "checked_at": checked_at, "stale_at": stale_at,
        "ok": row["ok"], "reason": row["reason"], "status_code": row["status_code"],
        "latency_ms": row["duration_ms"], "interval_s": float(row["interval_s"]),
    }


def system_state(targets: list[dict[str, Any]]) -> SystemState:
    """The worst of a system's targets (see the module docstring)."""
    states = [t["state"] for t in targets]
    if not states or all(s == "nodata" for s in states):
        return "nodata"
    if any(t["state"] == "down" and t["critical"] for t in targets):
        return "down"
    if any(s != "up" for s in states):
        return "degraded"
    return "up"


def system_status(system: str, targets: list[dict[str, Any]]) -> dict[str, Any]:
    """A system's status document: state, median latency of live targets, freshness."""
    # Latency as users see it: HTTP probes when the system has any, else every probe kind.
    timed = [t for t in targets if t["state"] != "nodata" and t["latency_ms"] is not None]
    http = [t for t in timed if t["kind"] == "http"]
    live = sorted(t["latency_ms"] for t in (http or timed))
    checked = [t["checked_at"] for t in targets if t["checked_at"] is not None]
    stale = [t["stale_at"] for t in targets if t["state"] != "nodata" and t["stale_at"]]
    return {
        "system": system,
        "state": system_state(targets),
        "latency_ms": live[len(live) // 2] if live else None,
        "targets_total": len(targets),
        "targets_up": sum(t["state"] in ("up", "slow") for t in targets),
        "checked_at": max(checked) if checked else None,
        "stale_at": min(stale) if stale else None,
        "targets": targets,
    }


class StatusReader:
    """Reads target and system status from the database."""

    def __init__(self, database: Database, rules: StatusRules | None = None) -> None:
        self._db = database
        self.rules = rules or StatusRules()
        self._recent: tuple[float, list[dict[str, Any]]] | None = None
        self._lock = asyncio.Lock()

    async def targets(self, now: datetime, system: str | None = None) -> list[dict[str, Any]]:
        async with self._db.connection() as conn:
            cur = await conn.execute(_LATEST, {"now": now, "system": system})
            rows = await cur.fetchall()
        return [target_status(r, now, self.rules) for r in rows]  # type: ignore[arg-type]

    async def systems(self, now: datetime, max_age_s: float = 0.0) -> list[dict[str, Any]]:
        """Every known system (the three always, plus any other the targets name).

        With `max_age_s`, a result computed that recently is reused (REST readers at hundreds
        of requests a second share one query); the live feed always reads afresh.
        """
        if max_age_s <= 0:
            return await self._systems(now)
        async with self._lock:
            if self._recent is None or time.monotonic() - self._recent[0] >= max_age_s:
                self._recent = (time.monotonic(), await self._systems(now))
            return self._recent[1]

    async def _systems(self, now: datetime) -> list[dict[str, Any]]:
        targets = await self.targets(now)
        names = list(SYSTEMS) + sorted({t["system"] for t in targets} - set(SYSTEMS))
        return [system_status(s, [t for t in targets if t["system"] == s]) for s in names]
