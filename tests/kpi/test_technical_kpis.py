"""Availability, error rate, latency and error budget from the probe rollups, known by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ioc import db
from ioc.kpi import kpi_value, read_kpi

T0 = datetime(2026, 11, 16, tzinfo=UTC)
T1 = T0 + timedelta(hours=6)
APPROX = pytest.approx


def _seed(conn: psycopg.Connection) -> None:
    conn.execute("""INSERT INTO targets (id, system, kind, name, labels, interval_s) VALUES
        ('p1', 'portal', 'http', 'Trang chủ', '{"tier": "front"}', 60),
        ('p2', 'portal', 'http', 'Tra cứu', '{}', 60),
        ('d1', 'documents', 'http', 'Văn bản', '{}', 60)""")
    # p1 fails at every tenth minute and answers in 100 ms; p2 never fails, 400 ms; d1 no data
    conn.execute("""INSERT INTO probe_results (time, target_id, ok, reason, duration_ms)
        SELECT t, 'p1', extract(minute FROM t)::int %% 10 <> 0,
               CASE WHEN extract(minute FROM t)::int %% 10 = 0 THEN 'timeout' END, 100
          FROM generate_series(%(f)s, %(t)s - interval '1 minute', interval '1 minute') t
        UNION ALL
        SELECT t, 'p2', true, NULL, 400
          FROM generate_series(%(f)s, %(t)s - interval '1 minute', interval '1 minute') t""",
                 {"f": T0, "t": T1})
    conn.execute("""INSERT INTO rollup_dirty (source, minute)
        SELECT DISTINCT 'probe', time_bucket('1 minute', time) FROM probe_results""")
    conn.execute("SELECT ioc_rollup_run()")
    # excluded: 01:00:30-01:10:30 touches minutes 01:00..01:10 (11 probes, 2 failures) of p1
    # only; the second window is not excluded from SLA, the third is for another system
    conn.execute("""INSERT INTO maintenance_windows (name, starts_at, ends_at, system, matchers,
                                                     exclude_from_sla, source) VALUES
        ('nâng cấp', %(a)s, %(b)s, 'portal', '[{"label": "tier", "op": "=~", "value": "fr.*"}]',
         true, 'api'),
        ('thử', %(f)s, %(t)s, NULL, '[]', false, 'config'),
        ('văn bản', %(f)s, %(t)s, 'documents', '{}', true, 'config')""",
                 {"a": T0 + timedelta(hours=1, seconds=30),
                  "b": T0 + timedelta(hours=1, minutes=10, seconds=30), "f": T0, "t": T1})


@pytest.fixture(scope="module")
def conn(make_db: Callable[[], str]) -> Iterator[psycopg.Connection]:
    with db.connect(make_db()) as c:
        _seed(c)
        yield c


def test_availability_per_target_leaves_out_maintenance_and_unknown(
        conn: psycopg.Connection) -> None:
    rows = {r.labels["target"]: r for r in read_kpi(conn, "availability", T0, T1,
                                                     {"by": "target"})}
    assert (rows["p1"].numerator, rows["p1"].denominator) == (315, 349)
    assert rows["p2"].value == 1.0
    assert rows["d1"].value is None                   # no data is unknown, never up


def test_system_availability_is_the_mean_of_its_targets(conn: psycopg.Connection) -> None:
    rows = {r.labels["system"]: r.value for r in read_kpi(conn, "availability", T0, T1)}
    assert rows == {"portal": APPROX((315 / 349 + 1.0) / 2), "documents": None}
    assert kpi_value(conn, "availability", T0, T1, {"system": "portal"}) == rows["portal"]


def test_partial_hours_come_from_minute_rollups(conn: psycopg.Connection) -> None:
    f, t = T0 + timedelta(minutes=30), T0 + timedelta(hours=2, minutes=15)   # 105 minutes
    [row] = read_kpi(conn, "availability", f, t, {"target": "p1", "by": "target"})
    # minutes 00:30..02:14 less the 11 excluded: 94 probes; failures at 00:30..02:10: 11 − 2
    assert (row.numerator, row.denominator) == (94 - 9, 94)


def test_error_rate_is_pooled(conn: psycopg.Connection) -> None:
    [row] = read_kpi(conn, "error_rate", T0, T1, {"system": "portal"})
    assert (row.numerator, row.denominator) == (34, 349 + 360)


def test_latency_quantiles_merge_the_histograms(conn: psycopg.Connection) -> None:
    bucket = conn.execute(
        "SELECT ioc_hist_value(ioc_hist_index(100)), ioc_hist_value(ioc_hist_index(400))"
    ).fetchone()
    assert bucket is not None
    assert kpi_value(conn, "latency.p50", T0, T1, {"system": "portal"}) == bucket[0]
    assert kpi_value(conn, "latency.p95", T0, T1, {"system": "portal"}) == bucket[1]
    assert kpi_value(conn, "latency.p99", T0, T1, {"system": "documents"}) is None


def test_error_budget_against_the_objective(conn: psycopg.Connection) -> None:
    a = (315 / 349 + 1.0) / 2
    rows = {r.labels["system"]: r for r in read_kpi(conn, "slo.error_budget", T0, T1)}
    assert rows["portal"].value == APPROX(1 - (1 - a) / (1 - 0.995))
    assert rows["documents"].value is None
    objectives = {(r.labels["system"], r.labels["objective"]): r.value
                  for r in read_kpi(conn, "slo.objective", T0, T1)}
    assert objectives[("payments", "availability")] == 0.999
