"""`ioc alerts`' own metrics on a real database: evaluations, errors, deliveries by channel,
and the gauges read from the database at scrape time (open alerts, outbox depth and age)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import psycopg

from alerts.engine import Engine
from alerts.metrics import AlertMetrics
from alerts.outbox import Outbox
from tests.alerts.support import (
    SECRET,
    Receiver,
    add_target,
    down_rule,
    make_config,
    probe,
    webhook,
)
from tests.collectors.loopback import closed_port

STEP = timedelta(seconds=10)


async def test_metrics_count_evaluations_and_deliveries_and_read_the_outbox(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession, alerts_db: str) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    clock = [start]
    cfg = make_config(
        rules=[down_rule(), {"id": "broken", "kind": "sql", "name": "Hỏng",
                             "severity": "info", "query": "SELECT value FROM no_such_table",
                             "op": ">", "value": 1, "interval": "1s"}],
        channels=[webhook("ops-a", receiver.url + "/a"),
                  webhook("ops-b", f"http://127.0.0.1:{closed_port()}/b")],
        routing={"channels": ["ops-a", "ops-b"], "group_wait": "0s"})
    metrics = AlertMetrics(database_url=alerts_db, channels=["ops-a", "ops-b"],
                           clock=lambda: clock[0])
    engine = Engine(conn, cfg, metrics=metrics)
    outbox = Outbox(conn2, cfg, session, secret=SECRET, metrics=metrics)
    await add_target(conn, "portal-home")
    now = start
    for _ in range(3):
        await probe(conn, "portal-home", now, ok=False)
        await engine.cycle(now)
        await outbox.drain(now)
        now += STEP

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert value("ioc_alerts_rule_evaluations_total", rule="target-down") == 3
    assert value("ioc_alerts_rule_errors_total", rule="target-down") is None
    assert value("ioc_alerts_rule_errors_total", rule="broken") == 3
    assert value("ioc_alerts_rule_evaluation_seconds_count", kind="threshold") == 3
    assert value("ioc_alerts_cycle_apply_seconds_count") == 3
    assert value("ioc_alerts_transitions_total") == 1  # inactive -> firing
    assert value("ioc_alerts_last_cycle_timestamp_seconds") == (now - STEP).timestamp()
    assert value("ioc_alerts_notifications_sent_total", channel="ops-a") == 1
    assert value("ioc_alerts_notifications_sent_total", channel="ops-b") == 0
    # each cycle's drain retried ops-b (the first retries come within seconds)
    assert value("ioc_alerts_notifications_failed_total", channel="ops-b", final="false") == 3
    assert value("ioc_alerts_notifications_failed_total", channel="ops-b", final="true") == 0
    assert value("ioc_alerts_notification_send_seconds_count", channel="ops-b") == 3
    assert len(receiver.accepted("/a")) == 1

    # Read at scrape time: the firing alert, and ops-b's message waiting for its retry.
    clock[0] = start + timedelta(seconds=90)
    assert value("ioc_alerts_database_up") == 1
    assert value("ioc_alerts_open", state="firing", severity="critical") == 1
    assert value("ioc_alerts_open", state="pending", severity="critical") == 0
    assert value("ioc_alerts_outbox_messages", channel="ops-b", state="pending") == 1
    assert value("ioc_alerts_outbox_messages", channel="ops-a", state="pending") == 0
    assert value("ioc_alerts_outbox_oldest_age_seconds", channel="ops-b") == 90
    assert value("ioc_alerts_outbox_oldest_age_seconds", channel="ops-a") == 0


def test_a_database_that_cannot_be_reached_is_a_gauge_not_a_failed_scrape() -> None:
    metrics = AlertMetrics(
        database_url=f"postgresql://ioc@127.0.0.1:{closed_port()}/ioc", channels=["ops"])
    assert metrics.registry.get_sample_value("ioc_alerts_database_up") == 0
    assert metrics.registry.get_sample_value("ioc_alerts_open",
                                             {"state": "firing", "severity": "critical"}) is None
    # what the process counts itself is still there
    assert metrics.registry.get_sample_value("ioc_alerts_notifications_sent_total",
                                             {"channel": "ops"}) == 0
