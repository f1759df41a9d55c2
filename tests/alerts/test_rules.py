"""Each rule kind against real data in TimescaleDB, at an injected `now`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from pydantic import TypeAdapter

from alerts.rules import KINDS, Context, RuleError, Sample
from ioc.config.rules import Rule
from tests.alerts.support import add_target, probe

NOW = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # Monday 12:00 in Hà Nội
RULE = TypeAdapter(Rule)


async def evaluate(conn: psycopg.AsyncConnection, now: datetime = NOW,
                   **rule: Any) -> dict[str, Sample]:
    """Samples keyed by their most telling label."""
    parsed = RULE.validate_python({"id": "r", "name": "Quy tắc thử", **rule})
    samples = await KINDS[parsed.kind].evaluate(conn, parsed, Context(now=now))
    keyed = {}
    for s in samples:
        key = next((s.labels[k] for k in ("target", "instance", "slo_alert", "intermediary",
                                          "agency", "series") if k in s.labels), "")
        keyed[key] = s
    return keyed


async def test_threshold_p95_agrees_with_the_wall_quantile(conn: psycopg.AsyncConnection) -> None:
    await add_target(conn, "portal-submit")
    start = NOW - timedelta(minutes=5)
    for i in range(60):  # one probe every 5 s, durations 100 ms .. 3050 ms
        await probe(conn, "portal-submit", start + timedelta(seconds=5 * i + 2), True,
                    100.0 + 50 * i)
    await conn.execute("SELECT ioc_rollup_run()")
    got = await evaluate(conn, kind="threshold", probe="latency_ms", aggregate="p95",
                         window="5m", op=">", value=2000)
    cur = await conn.execute("SELECT ioc_latency_quantile(ARRAY['portal-submit'], %s, %s, 0.95)",
                             (start, NOW))
    row = await cur.fetchone()
    assert row is not None and got["portal-submit"].value == row[0]
    assert got["portal-submit"].active and got["portal-submit"].labels["system"] == "portal"


async def test_fast_bucket_rounding_equals_the_histogram_definition(
        conn: psycopg.AsyncConnection) -> None:
    cur = await conn.execute(
        "WITH v AS (SELECT (random() * 5000)::float8 AS ms FROM generate_series(1, 20000)"
        " UNION ALL SELECT power(2, i / 8.0)::float8 * (1 + d) FROM generate_series(-70, 120)"
        " AS i, unnest(ARRAY[0, 1e-15, -1e-15, 1e-9, -1e-9]) AS d"
        " UNION ALL SELECT x FROM unnest(ARRAY[0, 0.0005, 1, 2, 1024, 2000, NULL]) AS x)"
        " SELECT count(*) FILTER (WHERE ioc_alert_hist_round(ms)"
        " IS DISTINCT FROM ioc_hist_value(ioc_hist_index(ms))), count(*) FROM v")
    mismatches, total = await cur.fetchone() or (None, 0)
    assert mismatches == 0 and total > 20000


async def test_threshold_on_a_metric_selects_series_by_labels(
        conn: psycopg.AsyncConnection) -> None:
    for agency, values in (("so-tp", [10, 20, 30]), ("so-yt", [1, 2, 3])):
        cur = await conn.execute(
            "INSERT INTO series (name, labels) VALUES ('portal_queue_depth', %s) RETURNING id",
            (json.dumps({"agency": agency, "system": "portal"}),))
        sid = (await cur.fetchone() or [0])[0]
        for i, v in enumerate(values):
            await conn.execute("INSERT INTO samples (time, series_id, value) VALUES (%s, %s, %s)",
                               (NOW - timedelta(seconds=30 * (i + 1)), sid, v))
    got = await evaluate(conn, kind="threshold", metric="portal_queue_depth", aggregate="avg",
                         window="5m", op=">=", value=20, selector={"labels": {"system": "portal"}})
    assert {k: (s.value, s.active) for k, s in got.items()} == {
        "so-tp": (20.0, True), "so-yt": (2.0, False)}


@pytest.mark.parametrize(("polls", "expected"), [
    pytest.param([True, False], (0.5, False), id="one-failed-poll-does-not-page"),
    pytest.param([False, False], (0.0, True), id="two-failed-polls-page"),
    pytest.param([False, True], (0.5, False), id="recovered"),
])
async def test_threshold_judges_a_slow_target_over_its_last_two_polls(
        conn: psycopg.AsyncConnection, polls: list[bool],
        expected: tuple[float, bool]) -> None:
    # polled every 5 minutes, the last poll 4 minutes ago: a 2-minute window alone would hold
    # no poll at all (the alert would resolve mid-outage) or one (a single failure would page)
    await add_target(conn, "national-count")
    await conn.execute("UPDATE targets SET interval_s = 300 WHERE id = 'national-count'")
    await add_target(conn, "fast")
    for i, ok in enumerate(polls):
        await probe(conn, "national-count", NOW - timedelta(minutes=4 + 5 * (len(polls) - 1 - i)),
                    ok)
    await probe(conn, "fast", NOW - timedelta(minutes=3), False)  # outside its own 2 minutes
    await probe(conn, "fast", NOW - timedelta(seconds=30), True)
    got = await evaluate(conn, kind="threshold", probe="success_rate", aggregate="avg",
                         window="2m", op="<", value=0.5)
    assert (got["national-count"].value, got["national-count"].active) == expected
    assert (got["fast"].value, got["fast"].active) == (1.0, False)
    rate = await evaluate(conn, kind="threshold", probe="success_rate", aggregate="rate",
                          window="2m", op=">", value=1)
    assert rate["national-count"].value == pytest.approx(2 / 600)
    assert rate["fast"].value == pytest.approx(1 / 120)


async def test_absence_of_target_data(conn: psycopg.AsyncConnection) -> None:
    for target in ("fresh", "stale", "never", "new", "slow-poll"):
        await add_target(conn, target)
    # polled every 10 minutes: 5 minutes of silence is normal for it
    await conn.execute("UPDATE targets SET interval_s = 600 WHERE id = 'slow-poll'")
    await probe(conn, "slow-poll", NOW - timedelta(minutes=5), True)
    # a target that never reported is absent from when it was configured
    await conn.execute("UPDATE targets SET updated_at = %s WHERE id = 'never'",
                       (NOW - timedelta(minutes=20),))
    await conn.execute("UPDATE targets SET updated_at = %s WHERE id <> 'never'",
                       (NOW - timedelta(seconds=30),))
    # configured long ago (a target reconfigured within `after` gets a grace: test_grace.py)
    await conn.execute("UPDATE targets SET updated_at = %s WHERE id = 'stale'",
                       (NOW - timedelta(hours=1),))
    await probe(conn, "fresh", NOW - timedelta(seconds=20), True)
    await probe(conn, "stale", NOW - timedelta(minutes=10), True)
    got = await evaluate(conn, kind="absence", after="3m", selector={"system": "portal"})
    assert {k: s.active for k, s in got.items()} == {"fresh": False, "stale": True,
                                                     "never": True, "new": False,
                                                     "slow-poll": False}
    assert got["stale"].value == 600.0 and got["never"].value == 1200.0


async def test_absence_of_the_collector_heartbeat(conn: psycopg.AsyncConnection) -> None:
    got = await evaluate(conn, kind="absence", after="1m", heartbeat="collector")
    assert list(got) == ["none"] and got["none"].active  # no collector ever reported
    await conn.execute(
        "INSERT INTO collector_heartbeats (collector_id, shard, started_at, seen_at, targets,"
        " version) VALUES ('c1', '0/1', %(t)s, %(t)s, 10, '1'), ('c2', '1/2', %(t)s, %(s)s, 5,"
        " '1')", {"t": NOW - timedelta(hours=1), "s": NOW - timedelta(seconds=5)})
    got = await evaluate(conn, kind="absence", after="1m", heartbeat="collector")
    assert {k: s.active for k, s in got.items()} == {"c1/0/1": True, "c2/1/2": False}


@pytest.mark.parametrize(("failures", "expected"), [
    pytest.param(range(0, 60, 5), {"page": True, "ticket": True}, id="20pct-errors-pages"),
    pytest.param([5, 10], {"page": False, "ticket": True}, id="slow-burn-opens-a-ticket"),
    pytest.param([], {"page": False, "ticket": False}, id="no-errors"),
])
async def test_burn_rate_windows(conn: psycopg.AsyncConnection, failures: Any,
                                 expected: dict[str, bool]) -> None:
    await add_target(conn, "portal-home")  # portal's seeded objective: 99.5 % availability
    for minute in range(60):
        await probe(conn, "portal-home", NOW - timedelta(minutes=60 - minute, seconds=-30),
                    minute not in failures)
    await conn.execute("SELECT ioc_rollup_run()")
    got = await evaluate(conn, kind="burn_rate", system="portal")
    assert {k: s.active for k, s in got.items()} == expected
    assert got["page"].severity == "critical" and got["ticket"].severity == "warning"
    if expected["page"]:
        assert got["page"].value == pytest.approx((12 / 60) / 0.005)


async def test_kpi_below_target_today(conn: psycopg.AsyncConnection) -> None:
    items = [{"ref": f"tx{i}", "intermediary": "vnpay", "amount": 50000,
              "status": "success" if i < 8 else "failed",
              "created_at": (NOW - timedelta(hours=1)).isoformat(),
              "updated_at": NOW.isoformat()} for i in range(10)]
    await conn.execute("SELECT ioc_upsert_records('transactions', %s::jsonb)",
                       (json.dumps(items),))
    rule = {"kind": "kpi_below", "kpi": "payments.success_rate", "target": "90%",
            "filter": {"by": "intermediary"}}
    got = await evaluate(conn, min_denominator=5, **rule)
    assert (got["vnpay"].value, got["vnpay"].active) == (0.8, True)
    assert got["vnpay"].labels == {"kpi": "payments.success_rate", "intermediary": "vnpay"}
    assert not (await evaluate(conn, min_denominator=50, **rule))["vnpay"].active


async def test_recon_breaks_older_than(conn: psycopg.AsyncConnection) -> None:
    settled = NOW - timedelta(days=2)
    items = [{"ref": ref, "intermediary": "momo", "amount": 120000, "status": "success",
              "created_at": settled.isoformat(), "settled_at": settled.isoformat(),
              "updated_at": settled.isoformat()} for ref in ("m1", "m2", "m3")]
    await conn.execute("SELECT ioc_upsert_records('transactions', %s::jsonb)",
                       (json.dumps(items),))
    for side in ("intermediary", "treasury"):
        rows = [{"file_date": settled.date().isoformat(), "ref": "m1", "amount": 120000}]
        await conn.execute(f"SELECT ioc_upsert_records('recon_{side}', %s::jsonb)",
                           (json.dumps(rows),))
    got = await evaluate(conn, kind="recon_breaks", older_than="24h")
    assert (got["momo"].value, got["momo"].active) == (2.0, True)
    assert await evaluate(conn, kind="recon_breaks", older_than="72h") == {}


async def test_sql_escape_hatch_returns_labelled_values(conn: psycopg.AsyncConnection) -> None:
    query = ("SELECT * FROM (VALUES ('so-tp', 25), ('so-yt', 3), ('so-gd', NULL))"
             " AS x(agency, value)")
    got = await evaluate(conn, kind="sql", query=query, op=">", value=20)
    assert {k: (s.value, s.active) for k, s in got.items()} == {
        "so-tp": (25.0, True), "so-yt": (3.0, False), "so-gd": (None, False)}


@pytest.mark.parametrize(("query", "message"), [
    ("SELECT 1 AS n", "query returned no `value` column; write SELECT ... AS value"),
    ("WITH x AS (DELETE FROM alerts RETURNING 1) SELECT count(*) AS value FROM x",
     "query failed: ReadOnlySqlTransaction: cannot execute SELECT in a read-only transaction"),
    ("SELECT value FROM no_such_table", "query failed: UndefinedTable: relation "
     '"no_such_table" does not exist'),
])
async def test_sql_escape_hatch_refuses_bad_queries(conn: psycopg.AsyncConnection, query: str,
                                                    message: str) -> None:
    with pytest.raises(RuleError) as caught:
        await evaluate(conn, kind="sql", query=query, op=">", value=1)
    assert str(caught.value) == message
