"""The collector process in-process: a hang delays nobody, reloads lose nothing, bookkeeping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from collectors.metrics import CollectorMetrics
from collectors.service import CollectOptions, CollectorService
from ioc import db
from ioc.config import ConfigHolder
from tests.collectors.conftest import http_target, write_config
from tests.collectors.loopback import Loopback


def service(url: str, config: Path, state: Path, **options: object) -> CollectorService:
    opts = CollectOptions(collector_id="test-collector", heartbeat_s=0.5, rollup_s=0.5,
                          reload_s=0.3, flush_age_s=0.2, grace_s=5, **options)  # type: ignore[arg-type]
    return CollectorService(url, ConfigHolder(config), state / "spool", opts,
                            CollectorMetrics.create(CollectorRegistry()))


async def run_for(svc: CollectorService, seconds: float,
                  midway: Callable[[], None] | None = None) -> None:
    """Run the service for `seconds` (calling `midway` half-way), then stop it cleanly."""
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    await asyncio.sleep(seconds / 2)
    if midway is not None:
        midway()
    await asyncio.sleep(seconds / 2)
    stop.set()
    await task


def runs_by_target(url: str) -> dict[str, int]:
    with db.connect(url) as conn:
        return {str(t): int(n) for t, n in conn.execute(
            "SELECT target_id, count(*) FROM probe_results GROUP BY 1").fetchall()}


def targets(loopback: Loopback) -> list[dict[str, object]]:
    base = loopback.url
    return [
        http_target("fast", f"{base}/count/fast", interval="200ms", timeout="150ms"),
        http_target("hang", f"{base}/hang", interval="1s", timeout="900ms"),
        http_target("flaky", f"{base}/status/500"),
        # polled hourly (like the catalogue): its first run must still come soon after start
        http_target("hourly", f"{base}/count/hourly", interval="1h", timeout="500ms",
                    jitter=None),  # i.e. a tenth of the interval: 6 minutes, from the 2nd run
        {"id": "stats", "kind": "json", "system": "portal", "name": "Thống kê",
         "url": f"{base}/stats", "interval": "1s", "timeout": "500ms",
         "params": {"from": "{from}", "to": "{to}"},
         "mappings": [{"path": "received", "metric": "portal_received"},
                      {"path": "by_agency[*].late", "metric": "portal_late",
                       "labels": {"agency": "agency_code"}}]},
        {"id": "scrape", "kind": "prometheus", "system": "portal", "name": "Số liệu",
         "url": f"{base}/metrics", "interval": "1s", "timeout": "500ms",
         "metrics": ["portal_queue_depth", "portal_requests_*"]},
    ]


async def test_service_collects_every_kind_and_a_hang_delays_no_other(
        fresh_db_url: str, loopback: Loopback, tmp_path: Path) -> None:
    svc = service(fresh_db_url, write_config(tmp_path / "cfg", targets(loopback)), tmp_path,
                  first_spread_s=1.0)
    await run_for(svc, 3)
    runs = runs_by_target(fresh_db_url)
    with db.connect(fresh_db_url) as conn:
        reasons = dict(conn.execute("SELECT target_id, min(reason) FROM probe_results "
                                    "GROUP BY 1").fetchall())
        series = {r[0] for r in conn.execute("SELECT name FROM series").fetchall()}
        beat = conn.execute("SELECT shard, targets FROM collector_heartbeats "
                            "WHERE collector_id = 'test-collector'").fetchone()
        known = conn.execute("SELECT count(*) FROM targets WHERE enabled").fetchone()
        rolled = conn.execute("SELECT count(*) FROM probe_rollup_1m").fetchone()
    # "fast" runs every 200 ms while "hang" holds its collection for 900 ms of each second:
    # had the hang delayed the others, "fast" could not have run more than twice as often.
    assert runs["fast"] == loopback.hits["fast"] > 2 * runs["hang"]
    assert reasons == {"fast": None, "hang": "timeout", "flaky": "status", "stats": None,
                       "scrape": None, "hourly": None}
    assert runs["hourly"] == loopback.hits["hourly"] == 1
    assert series == {"portal_received", "portal_late", "portal_queue_depth",
                      "portal_requests_total"}
    assert beat == ("0/1", 6) and known == (6,)
    assert rolled is not None and rolled[0] > 0  # the collector ran ioc_rollup_run()
    assert loopback.queries and set(loopback.queries[0]) == {"from", "to"}


async def test_reload_swaps_targets_without_losing_a_collection_in_flight(
        fresh_db_url: str, loopback: Loopback, tmp_path: Path) -> None:
    base = loopback.url
    config = write_config(tmp_path / "cfg", [
        http_target("slow", f"{base}/delay/600", interval="1s", timeout="900ms"),
        http_target("kept", f"{base}/count/kept", interval="300ms", timeout="200ms")])
    svc = service(fresh_db_url, config, tmp_path)

    def change() -> None:
        write_config(config, [http_target("kept", f"{base}/count/kept", interval="300ms",
                                          timeout="200ms"),
                              http_target("added", f"{base}/count/added")])
        svc.reload_now.set()

    await run_for(svc, 3, change)
    runs = runs_by_target(fresh_db_url)
    with db.connect(fresh_db_url) as conn:
        enabled = dict(conn.execute("SELECT id, enabled FROM targets").fetchall())
    assert runs["kept"] == loopback.hits["kept"] >= 3
    assert runs["added"] == loopback.hits["added"] >= 1
    assert runs["slow"] >= 1  # the removed target's last collection was still stored
    assert enabled == {"slow": False, "kept": True, "added": True}


async def test_status_flip_is_announced_once(fresh_db_url: str, loopback: Loopback,
                                             tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", [http_target("down", f"{loopback.url}/status/503",
                                                         interval="200ms", timeout="150ms")])
    listener = await db.connect_async(fresh_db_url)
    await listener.execute("LISTEN ioc_events")
    await run_for(service(fresh_db_url, config, tmp_path), 1.5)
    events = [json.loads(n.payload) async for n in listener.notifies(timeout=1)]
    await listener.close()
    assert [(e["type"], e["target_id"], e["system"], e["ok"]) for e in events] == [
        ("status", "down", "portal", False)]
