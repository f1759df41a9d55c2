"""Against the simulated province: each injected fault gives the right failed result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from psycopg import sql

from collectors.fetch import HttpClient
from collectors.httpprobe import HttpProbe
from collectors.jsonpoll import JsonPoll
from collectors.kinds import Collector
from collectors.metrics import CollectorMetrics
from collectors.model import ProbeResult
from collectors.promscrape import PrometheusScrape
from collectors.records import RecordsSync
from collectors.scheduler import Scheduler
from ioc import db
from ioc.config.targets import HttpTarget, JsonTarget, PrometheusTarget, RecordsTarget
from sim import RunningProvince, SimOptions, run_province
from sim.catalogue import AGENCIES, PROCEDURES


@pytest.fixture
async def province() -> AsyncIterator[RunningProvince]:
    async with run_province(SimOptions(seed=7, speed=0, backfill_days=0.5)) as running:
        yield running


async def run(collector: Collector) -> ProbeResult:
    """Collect once under the scheduler's hard timeout, on a client of its own."""
    sched = Scheduler(lambda job, o: None, CollectorMetrics.create(CollectorRegistry()))
    [outcome] = await sched.run_once([collector])
    assert outcome.result is not None
    return outcome.result


def health(province: RunningProvince, client: HttpClient, **fields: Any) -> HttpProbe:
    target = HttpTarget.model_validate({
        "kind": "http", "id": "portal-health", "system": "portal", "name": "x",
        "url": province.urls["portal"] + "/health", "timeout": "800ms",
        "conditions": [{"json_path": "status", "equals": "ok"}], **fields})
    return HttpProbe(target, client)


FAULTS = [
    ("error-rate", {"kind": "error_rate", "rate": 1, "status": 503}, {}, "status"),
    ("outage", {"kind": "outage"}, {}, "refused"),
    ("hang", {"kind": "hang", "duration": "3s"}, {}, "timeout"),
    ("garbage", {"kind": "garbage"}, {}, "garbage"),
    ("oversized", {"kind": "oversized", "mb": 2}, {"max_body_bytes": 1_048_576}, "oversized"),
    ("slow-drip", {"kind": "slow_drip", "chunk_bytes": 8, "interval_ms": 200}, {}, "timeout"),
]


@pytest.mark.parametrize(("fault", "fields", "reason"), [f[1:] for f in FAULTS],
                         ids=[f[0] for f in FAULTS])
async def test_sim_fault_gives_failed_result_with_reason(
        province: RunningProvince, fault: dict[str, Any], fields: dict[str, Any],
        reason: str) -> None:
    client, fresh = HttpClient(), HttpClient()  # no kept-alive connection across the fault
    try:
        before = await run(health(province, client, **fields))
        await province.add_fault({"system": "portal", "duration": "1m", **fault})
        after = await run(health(province, fresh, **fields))
    finally:
        await client.close()
        await fresh.close()
    assert before.ok, before
    assert (after.ok, after.reason) == (False, reason), after


async def test_sim_latency_of_300ms_is_measured_as_300ms(province: RunningProvince) -> None:
    client = HttpClient()
    try:
        base = [await run(health(province, client)) for _ in range(3)]
        await province.add_fault({"kind": "latency", "system": "portal", "duration": "1m",
                                  "ms": 300})
        slow = [await run(health(province, client)) for _ in range(3)]
    finally:
        await client.close()
    baseline = min(r.duration_ms or 0 for r in base)
    for r in slow:
        assert r.ok and r.duration_ms is not None
        assert 250 <= r.duration_ms - baseline <= 350, (r.duration_ms, baseline)


async def test_sim_statistics_and_metrics_become_samples(province: RunningProvince) -> None:
    client = HttpClient()
    stats = JsonTarget.model_validate({
        "kind": "json", "id": "portal-stats", "system": "portal", "name": "x",
        "url": province.urls["portal"] + "/api/stats", "window": "1d",
        "params": {"from": "{from}", "to": "{to}"},
        "mappings": [{"path": "received", "metric": "portal_received"},
                     {"path": "by_agency[*].received", "metric": "portal_received_by_agency",
                      "labels": {"agency": "agency_code"}}]})
    scrape = PrometheusTarget.model_validate({
        "kind": "prometheus", "id": "portal-metrics", "system": "portal", "name": "x",
        "url": province.urls["portal"] + "/metrics", "metrics": ["sim_*"]})
    try:
        polled = await JsonPoll(stats, client).collect(datetime.now(UTC))
        scraped = await PrometheusScrape(scrape, client).collect(datetime.now(UTC))
    finally:
        await client.close()
    assert polled.result is not None and polled.result.ok, polled.result
    total = [s.value for s in polled.samples if s.name == "portal_received"]
    parts = [s.value for s in polled.samples if s.name == "portal_received_by_agency"]
    assert total and total[0] == sum(parts) > 0
    names = {s.name for s in scraped.samples}
    assert {"sim_queue_depth", "sim_dossiers"} <= names


async def test_sim_records_sync_stores_every_dossier(province: RunningProvince,
                                                     fresh_db_url: str) -> None:
    client = HttpClient()
    target = RecordsTarget.model_validate({
        "kind": "records", "id": "portal-dossiers", "system": "portal", "name": "x",
        "url": province.urls["portal"] + "/api/dossiers", "record_type": "dossiers",
        "page_size": 100, "timeout": "20s", "interval": "1m"})
    sync = RecordsSync(target, client, fresh_db_url)
    try:
        first = await sync.collect(datetime.now(UTC))
        again = await sync.collect(datetime.now(UTC))
    finally:
        await sync.close()
        await client.close()
    province.sync()
    assert first.result is not None and first.result.ok, first.result
    assert again.result is not None and again.result.detail == "0 records"
    with db.connect(fresh_db_url) as conn:
        stored = conn.execute("SELECT count(*) FROM dossiers").fetchone()
    assert stored == (len(province.model.dossiers),)
    assert stored[0] > 0


@pytest.mark.parametrize(("record_type", "name_of"), [("procedures", "ioc_procedure_name"),
                                                      ("agencies", "ioc_agency_name")])
async def test_sim_catalogue_sync_names_every_code(province: RunningProvince, fresh_db_url: str,
                                                   record_type: str, name_of: str) -> None:
    client = HttpClient()
    target = RecordsTarget.model_validate({
        "kind": "records", "id": f"portal-{record_type}", "system": "portal", "name": "x",
        "url": province.urls["portal"] + f"/api/{record_type}", "record_type": record_type,
        "timeout": "20s", "interval": "1h"})
    sync = RecordsSync(target, client, fresh_db_url)
    try:
        first = await sync.collect(datetime.now(UTC))
        again = await sync.collect(datetime.now(UTC))  # the whole list again: nothing changes
    finally:
        await sync.close()
        await client.close()
    assert first.result is not None and first.result.ok, first.result
    assert again.result is not None and again.result.ok, again.result
    catalogue = PROCEDURES if record_type == "procedures" else AGENCIES
    expected = {c.code: c.name for c in catalogue}
    with db.connect(fresh_db_url) as conn:
        names = conn.execute(
            sql.SQL("SELECT c, {f}(c) FROM unnest(%s::text[]) c UNION ALL "
                    "SELECT 'no-such-code', {f}('no-such-code')").format(f=sql.Identifier(name_of)),
            (list(expected),)).fetchall()
    # every code a synced dossier can cite has its display name; unknown codes show as codes
    assert dict(names) == {**expected, "no-such-code": "no-such-code"}
    assert len(expected) > 10
