"""What the wall and other live clients see: a snapshot on connect, then deltas.

Deltas come from ioc_events notifications (status, alert, kpi) and from a periodic refresh, which
also turns a system grey when its data goes stale (nobody sends an event for silence).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ioc.api.database import Database, lost_connection
from ioc.api.live import dumps
from ioc.api.sources import SourceUnavailable
from ioc.api.sources import alerts as alert_source
from ioc.api.sources import kpi as kpi_source
from ioc.api.status import SYSTEMS, StatusReader

log = logging.getLogger(__name__)
PROVINCE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OPEN_STATES = ["pending", "firing"]
# The wall's KPI tiles: today's dossiers, payments and documents against the 766 targets.
WALL_KPIS = ("dossiers.received", "766.2.1", "766.3.3", "766.3.6", "766.4.2",
             "payments.success_rate", "recon.match_rate", "documents.signing_rate")
# Tiles that "today" cannot fill: a transaction is judged only once its T+1 files are in, so
# the match rate is over the last 7 days (the tile says so).
WALL_WINDOW_DAYS = {"recon.match_rate": 7}


def day_start(now: datetime, tz: ZoneInfo = PROVINCE_TZ) -> datetime:
    """Midnight of `now`'s day in the province's time zone (the wall's "today")."""
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


class WallFeed:
    """Builds snapshots and deltas; remembers what it last published to send only changes."""

    def __init__(self, database: Database, status: StatusReader,
                 clock: Callable[[], datetime], *, heartbeat_s: float = 15.0,
                 refresh_s: float = 5.0, kpi_every_s: float = 60.0,
                 wall_kpis: Sequence[str] = WALL_KPIS, snapshot_ttl_s: float = 1.0,
                 zone: Callable[[], ZoneInfo] = lambda: PROVINCE_TZ) -> None:
        self.db = database
        self.zone = zone  # the province's time zone: its "today", and the wall's clock
        self._status = status
        self._clock = clock
        self.heartbeat_s = heartbeat_s
        self.refresh_s = refresh_s
        self.kpi_every_s = kpi_every_s
        self._wall_kpis = list(wall_kpis)
        self._snapshot_ttl_s = snapshot_ttl_s
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self._last_systems: dict[str, str] = {}
        self._last_kpis = ""
        # Business KPIs can take a while on a big province: computed by their own loop (and on
        # `kpi` events) and reused by snapshots, never on a client's connect.
        self._indicators: dict[str, Any] | None = None
        self.kpis_wanted = asyncio.Event()

    async def snapshot(self) -> dict[str, Any]:
        """The full picture, shared by clients connecting within `snapshot_ttl_s`."""
        async with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self._snapshot_ttl_s:
                return self._cached[1]
            generation = self._generation
            now = self._clock()
            systems = await self._status.systems(now)
            snap = {
                "type": "snapshot", "at": now, "heartbeat_s": self.heartbeat_s,
                "timezone": self.zone().key,
                "systems": systems, "alerts": await self.open_alerts(),
                **(self._indicators or await self.indicators(now)),
            }
            if generation == self._generation:  # no delta went out meanwhile
                self._cached = (time.monotonic(), snap)
            return snap

    def _invalidate(self) -> None:
        """Deltas are going out: a client connecting from now on must get a snapshot at least
        as new as they are (else it would miss them)."""
        self._generation += 1
        self._cached = None

    async def on_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Deltas for one ioc_events notification."""
        kind = event.get("type")
        if kind == "status":
            return await self.status_changes()
        if kind == "alert":
            self._invalidate()
            return [{"type": "alerts", "at": self._clock(), "alerts": await self.open_alerts()}]
        if kind == "kpi":
            self.kpis_wanted.set()  # recomputed by the KPI loop, not on the listener's time
            return []
        if kind == "resync":
            self._invalidate()
            return [await self.snapshot()]
        return []

    async def status_changes(self) -> list[dict[str, Any]]:
        """A `status` message for each system whose document changed since last published."""
        now = self._clock()
        out = []
        for system in await self._status.systems(now):
            text = dumps(system)
            if self._last_systems.get(system["system"]) != text:
                self._last_systems[system["system"]] = text
                out.append({"type": "status", "at": now, "system": system})
        if out:
            self._invalidate()
        return out

    async def kpi_changes(self, force: bool = False) -> list[dict[str, Any]]:
        """A `kpis` message when today's KPIs or availabilities changed since last published
        (or always, when forced by a `kpi` event)."""
        now = self._clock()
        indicators = await self.indicators(now)
        self._indicators = indicators
        text = dumps(indicators)
        if text == self._last_kpis and not force:
            return []
        self._last_kpis = text
        self._invalidate()
        return [{"type": "kpis", "at": now, **indicators}]

    async def open_alerts(self) -> list[dict[str, Any]]:
        try:
            async with self.db.connection() as conn:
                return await alert_source.list_alerts(conn, states=OPEN_STATES, severity=None,
                                                      system=None, limit=50)
        except SourceUnavailable:
            return []

    async def indicators(self, now: datetime) -> dict[str, Any]:
        """Today's KPIs against their targets and each system's availability, via `ioc_kpi`.

        A count the KPI layer leaves empty (nothing happened today) is 0: zero is data. A rate
        without a denominator stays None (the wall shows "—").
        """
        start = day_start(now, self.zone())
        kpis: list[dict[str, Any]] = []
        availability: dict[str, float | None] = {}
        try:
            async with self.db.connection() as conn:
                for system in SYSTEMS:
                    rows = await kpi_source.read(conn, "availability", start, now,
                                                 {"system": system})
                    availability[system] = rows[0]["value"] if rows else None
                known = {d["id"]: d for d in await kpi_source.definitions(conn)}
                for d in (known[k] for k in self._wall_kpis if k in known):
                    days = WALL_WINDOW_DAYS.get(d["id"])
                    since = now - timedelta(days=days) if days else start
                    rows = await kpi_source.read(conn, d["id"], since, now, {})
                    row = next((r for r in rows if not r["labels"]), rows[0] if rows else None)
                    value = row["value"] if row else None
                    if value is None and d.get("unit") == "count":
                        value = 0
                    kpis.append({**d, "from": since, "to": now, "window_days": days,
                                 "value": value})
        except (SourceUnavailable, kpi_source.KpiRefused) as exc:
            log.debug("wall KPIs unavailable: %s", exc)
        return {"kpis": kpis, "availability": availability}



def _refresh_failed(feed: WallFeed, exc: Exception, what: str) -> None:
    """A lost database is the watcher's to report (once); anything else is a bug to log."""
    if lost_connection(exc):
        feed.db.suspect()
    else:
        log.exception("live %s refresh failed", what)


async def run_ticker(feed: WallFeed, publish: Callable[[dict[str, Any]], None],
                     clock: Callable[[], datetime]) -> None:
    """Heartbeats and status refreshes for the hub, forever (heartbeats go on while the
    database is away: the screens know they are connected and were told why nothing moves)."""
    next_beat = time.monotonic()
    while True:
        try:
            if feed.db.up:
                for message in await feed.status_changes():
                    publish(message)
        except Exception as exc:  # keep the wall alive through a transient database error
            _refresh_failed(feed, exc, "status")
        if time.monotonic() >= next_beat:
            publish({"type": "heartbeat", "at": clock()})
            next_beat += feed.heartbeat_s
        await asyncio.sleep(min(feed.refresh_s, max(0.0, next_beat - time.monotonic())))



async def run_kpi_ticker(feed: WallFeed, publish: Callable[[dict[str, Any]], None]) -> None:
    """The wall's KPIs every `kpi_every_s` or on a `kpi` event, published when they change."""
    forced = False
    while True:
        try:
            if feed.db.up:
                for message in await feed.kpi_changes(force=forced):
                    publish(message)
        except Exception as exc:  # keep the wall alive through a transient database error
            _refresh_failed(feed, exc, "KPI")
        with suppress(TimeoutError):
            await asyncio.wait_for(feed.kpis_wanted.wait(), feed.kpi_every_s)
        forced = feed.kpis_wanted.is_set()
        feed.kpis_wanted.clear()
