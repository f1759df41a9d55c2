"""The real PostgreSQL server stops mid-run: every sample is spooled, replayed and stored once.

This stops the shared local cluster (other test processes see it down too), so the outage is
as short as the issue allows and the server is restarted in a `finally`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry

from collectors.metrics import CollectorMetrics
from collectors.service import CollectOptions, CollectorService
from ioc import db
from ioc.config import ConfigHolder
from tests.collectors.conftest import http_target, write_config
from tests.collectors.loopback import Loopback
from tests.pgserver import pg_ctl

OUTAGE_S = 30.0
TARGETS = 10


def counter(metrics: CollectorMetrics, name: str) -> float:
    return metrics.registry.get_sample_value(name) or 0.0


def stored(url: str) -> dict[str, int]:
    with db.connect(url) as conn:
        return {str(t): int(n) for t, n in conn.execute(
            "SELECT target_id, count(*) FROM probe_results GROUP BY 1").fetchall()}


async def test_database_outage_loses_and_duplicates_nothing(
        fresh_db_url: str, loopback: Loopback, tmp_path: Path) -> None:
    pg_ctl("status")  # fails with instructions when the cluster is not ours to stop
    config = write_config(tmp_path / "cfg", [
        http_target(f"t{i}", f"{loopback.url}/count/t{i}", interval="500ms", timeout="400ms")
        for i in range(TARGETS)])
    metrics = CollectorMetrics.create(CollectorRegistry())
    svc = CollectorService(fresh_db_url, ConfigHolder(config), tmp_path / "spool",
                           CollectOptions(collector_id="outage", flush_age_s=0.5,
                                          heartbeat_s=1, rollup_s=1), metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    await asyncio.sleep(2)
    try:
        await asyncio.to_thread(pg_ctl, "stop")
        await asyncio.sleep(OUTAGE_S)
    finally:
        await asyncio.to_thread(pg_ctl, "start")
    spooled = counter(metrics, "ioc_collector_spool_batches_total")
    for _ in range(100):  # the spool drains once the writer's retry comes round
        await asyncio.sleep(0.2)
        if not svc.writer.spool.segments():
            break
    await asyncio.sleep(1)
    stop.set()
    await task
    rows = stored(fresh_db_url)
    assert spooled >= OUTAGE_S  # about one batch per flush while the server was down
    assert counter(metrics, "ioc_collector_spool_replayed_batches_total") >= spooled
    assert not svc.writer.spool.segments()
    assert rows == {f"t{i}": loopback.hits[f"t{i}"] for i in range(TARGETS)}
    assert min(rows.values()) >= (OUTAGE_S + 3) * 2 * 0.9
