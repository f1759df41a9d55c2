"""End to end on the simulated province: the collectors probe it, the engine alerts, the outbox
delivers. An injected outage gives one firing and one resolved notification."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import aiohttp
import psycopg
from prometheus_client import CollectorRegistry

from alerts.engine import Engine, run_engine, utc_now
from alerts.outbox import Backoff, Outbox, run_worker
from collectors.metrics import CollectorMetrics
from collectors.service import CollectOptions, CollectorService
from ioc import db
from ioc.config import ConfigHolder
from sim import SimOptions, run_province
from tests.alerts.support import SECRET, Receiver, down_rule, webhook, write_config


async def test_simulated_outage_fires_once_and_resolves_once(
        alerts_db: str, receiver: Receiver, session: aiohttp.ClientSession,
        tmp_path: Path) -> None:
    async with run_province(SimOptions(seed=3, speed=0)) as province:
        holder = ConfigHolder(write_config(
            tmp_path / "config",
            targets=[{"kind": "http", "id": "portal-health", "system": "portal",
                      "name": "Cổng DVC", "url": province.urls["portal"] + "/health",
                      "interval": "1s", "timeout": "500ms", "jitter": "0s"}],
            rules=[down_rule()], channels=[webhook("ops", receiver.url + "/hook")],
            routing={"channels": ["ops"], "group_wait": "0s"}))
        cfg = holder.config
        collector = CollectorService(
            alerts_db, holder, tmp_path / "spool",
            CollectOptions(collector_id="e2e", flush_age_s=0.2, heartbeat_s=1),
            CollectorMetrics.create(CollectorRegistry()))
        conns = [await db.connect_async(alerts_db) for _ in range(3)]
        engine = Engine(conns[0], cfg)
        outbox = Outbox(conns[1], cfg, session, secret=SECRET,
                        backoff=Backoff(base=timedelta(seconds=0.2), cap=timedelta(seconds=1)))
        stop = asyncio.Event()
        tasks = [asyncio.create_task(c) for c in (
            collector.run(stop), run_engine(engine, conns[2], utc_now, 0.2, stop),
            run_worker(outbox, utc_now, 0.1, stop))]
        try:
            await _wait_for_rows(conns[1], 3)  # the collectors are probing a healthy portal
            assert receiver.requests == []
            await province.add_fault({"kind": "outage", "system": "portal", "duration": "4s"})
            await receiver.wait_for(lambda: _statuses(receiver) == ["firing"], timeout=20)
            await receiver.wait_for(lambda: len(_statuses(receiver)) == 2, timeout=30)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            for conn in conns:
                await conn.close()
    assert _statuses(receiver) == ["firing", "resolved"]
    [firing, _] = receiver.events()
    assert firing["labels"]["target"] == "portal-health"


def _statuses(receiver: Receiver) -> list[str]:
    return [ev["status"] for ev in receiver.events()]


async def _wait_for_rows(conn: psycopg.AsyncConnection, n: int) -> None:
    for _ in range(100):
        cur = await conn.execute("SELECT count(*) FROM probe_results WHERE ok")
        row = await cur.fetchone()
        if row is not None and row[0] >= n:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the collector wrote no successful probe")
