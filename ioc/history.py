"""Probe history for the demo: days of realistic HTTP probe results written through the
collectors' own write path, so the wall, Grafana and the weekly report are not empty on day one.

Latency follows a log-normal law per system with a working-hours load bump; two incidents per
week (a portal outage and a slow payment gateway) give the report something to show. Outside
them, scattered 503s spend a quarter of each system's error budget (`BACKGROUND_BUDGET_SHARE`),
so a healthy province meets its objectives and no burn-rate alert fires on a fresh demo. The same
seed gives the same history. Only used by `ioc demo` and benchmarks, never by the collectors.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from collectors.model import Batch, ProbeResult
from collectors.writepath import SeriesCache, write_batch
from ioc import db
from ioc.config import HttpTarget, ProvinceConfig

# median latency (ms) and log-normal sigma of each system's probes
_LATENCY = {"portal": (180.0, 0.45), "payments": (240.0, 0.5), "documents": (150.0, 0.4)}
_BATCH = 5000
# Share of a system's error budget (1 - availability objective) that scattered failures spend.
BACKGROUND_BUDGET_SHARE = 0.25


@dataclass(frozen=True)
class Incident:
    """A stretch of history in which one system's probes fail or slow down."""

    system: str
    start: datetime
    end: datetime
    kind: str  # "outage" | "slow"


def incidents(start: datetime, end: datetime) -> list[Incident]:
    """Two incidents a week, at fixed offsets into each week of the window."""
    found: list[Incident] = []
    week = start
    while week < end:
        found.append(Incident("portal", week + timedelta(days=1, hours=2, minutes=10),
                              week + timedelta(days=1, hours=2, minutes=32), "outage"))
        found.append(Incident("payments", week + timedelta(days=3, hours=4),
                              week + timedelta(days=3, hours=4, minutes=45), "slow"))
        week += timedelta(days=7)
    return [i for i in found if i.end <= end]


def probe_history(config: ProvinceConfig, start: datetime, end: datetime,
                  seed: int) -> Iterator[ProbeResult]:
    """Probe results for each http target of the config at its interval over [start, end)."""
    rng = random.Random(seed)
    trouble = incidents(start, end)
    for target in config.targets_of(HttpTarget):
        median, sigma = _LATENCY.get(target.system, (200.0, 0.5))
        objective = config.systems.get(target.system).slo.availability
        background = BACKGROUND_BUDGET_SHARE * (1.0 - objective)
        step = target.interval.total_seconds()
        offset = rng.uniform(0, step)
        at = start + timedelta(seconds=offset)
        while at < end:
            hit = next((i for i in trouble if i.system == target.system and i.start <= at < i.end),
                       None)
            yield _one(rng, target.id, at, median, sigma, hit, background)
            at += timedelta(seconds=step)


def _one(rng: random.Random, target_id: str, at: datetime, median: float, sigma: float,
         incident: Incident | None, background: float) -> ProbeResult:
    local_hour = (at.hour + 7) % 24  # Asia/Ho_Chi_Minh has no daylight saving
    load = 1.35 if 8 <= local_hour < 11 or 14 <= local_hour < 16 else 1.0
    ms = rng.lognormvariate(math.log(median * load), sigma)
    if incident and incident.kind == "outage":
        return ProbeResult(at, target_id, False, reason="refused", detail="connection refused",
                           duration_ms=round(rng.uniform(0.2, 2.0), 3))
    if incident and incident.kind == "slow":
        ms *= 12
    if rng.random() < background:
        return ProbeResult(at, target_id, False, reason="status", status_code=503,
                           duration_ms=round(ms, 3), detail="503 Service Unavailable")
    return ProbeResult(at, target_id, True, status_code=200, duration_ms=round(ms, 3),
                       connect_ms=round(ms * 0.05, 3), ttfb_ms=round(ms * 0.9, 3))


async def backfill(database_url: str, config: ProvinceConfig, start: datetime, end: datetime,
                   seed: int = 2026) -> int:
    """Write the history and compute its rollups; returns the number of probe results."""
    conn = await db.connect_async(database_url, app="ioc-history")
    written = 0
    try:
        series = SeriesCache()
        batch = Batch()
        for result in probe_history(config, start, end, seed):
            batch.results.append(result)
            if len(batch.results) >= _BATCH:
                await write_batch(conn, batch, series, collector="history")
                written += len(batch.results)
                batch = Batch()
        if batch.results:
            await write_batch(conn, batch, series, collector="history")
            written += len(batch.results)
        while True:
            cur = await conn.execute("SELECT ioc_rollup_run()")
            row = await cur.fetchone()
            if not row or not row[0]:
                break
    finally:
        await conn.close()
    return written
