"""Technical KPIs read whole local days from probe_rollup_1d, the other whole hours from
probe_rollup_1h and the edge minutes from probe_rollup_1m; the daily rollup is kept current by
ioc_rollup_run and outlives the hourly one.

The split is checked with marker rollups: every minute row counts 1 probe, every hour row 100
and every day row 10,000 (deliberately not sums of each other), so a window's probe count says
exactly which rows were read: 10,000 × days + 100 × hours + 1 × minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ioc import db
from ioc.kpi import read_kpi

D0 = datetime(2026, 11, 14, 17, tzinfo=UTC)   # local midnight starting Sun 15 Nov (UTC+7)
DAYS = 4
H, M = timedelta(hours=1), timedelta(minutes=1)
# maintenance over local midnight 16 -> 17 Nov (17:00 UTC): 16:20:30-18:05 UTC, target a only
MW = (datetime(2026, 11, 16, 16, 20, 30, tzinfo=UTC), datetime(2026, 11, 16, 18, 5, tzinfo=UTC))

MARKERS = ["""
INSERT INTO probe_rollup_1m
SELECT b, t, 1, 1, 1, 100, 100, 100, ARRAY[ioc_hist_index(100)], ARRAY[1]
  FROM unnest(ARRAY['a', 'b']) t,
       generate_series(%(f)s::timestamptz, %(t)s::timestamptz - interval '1 minute',
                       interval '1 minute') b""", """
INSERT INTO probe_rollup_1h
SELECT b, t, 100, 100, 100, 10000, 200, 200, ARRAY[ioc_hist_index(200)], ARRAY[100]
  FROM unnest(ARRAY['a', 'b']) t,
       generate_series(%(f)s::timestamptz, %(t)s::timestamptz - interval '1 hour',
                       interval '1 hour') b""", """
INSERT INTO probe_rollup_1d
SELECT b, t, 10000, 10000, 10000, 3000000, 300, 300, ARRAY[ioc_hist_index(300)], ARRAY[10000]
  FROM unnest(ARRAY['a', 'b']) t,
       generate_series(%(f)s::timestamptz, %(t)s::timestamptz - interval '1 day',
                       interval '1 day') b"""]


@pytest.fixture(scope="module")
def conn(make_db: Callable[[], str]) -> Iterator[psycopg.Connection]:
    with db.connect(make_db()) as c:
        c.execute("INSERT INTO targets (id, system, kind, name, interval_s) VALUES "
                  "('a', 'portal', 'http', 'A', 60), ('b', 'portal', 'http', 'B', 60)")
        for statement in MARKERS:
            c.execute(statement.encode(), {"f": D0, "t": D0 + timedelta(days=DAYS)})
        c.execute("""INSERT INTO maintenance_windows (name, starts_at, ends_at, system, matchers,
                                                         exclude_from_sla, source) VALUES
            ('a', %s, %s, 'portal', '[{"label": "target", "op": "=", "value": "a"}]', true, 'api'),
            ('not excluded', %s, %s, NULL, '[]', false, 'api')""",
                  (*MW, D0, D0 + timedelta(days=DAYS)))
        yield c


def _probes(conn: psycopg.Connection, kpi: str, f: datetime, t: datetime) -> dict[str, float]:
    rows = read_kpi(conn, kpi, f, t, {"by": "target"})
    return {r.labels["target"]: r.denominator or 0.0 for r in rows}


def _hist_total(conn: psycopg.Connection, f: datetime, t: datetime) -> int:
    row = conn.execute("SELECT sum(n) FROM ioc_probe_hist(ARRAY['a'], %s, %s)", (f, t)).fetchone()
    assert row is not None
    return int(row[0] or 0)


@pytest.mark.parametrize(("f", "t", "want"), [
    # 16:43 UTC = 23:43 local: 17 minutes, two whole local days, 17 minutes
    (D0 + timedelta(days=1) - 17 * M, D0 + timedelta(days=3) + 17 * M, 2 * 10000 + 34),
    # 10:17:30 UTC: 43 minutes, 6 hours to local midnight, one day, 10 hours
    (D0 + timedelta(hours=17, minutes=17, seconds=30), D0 + timedelta(days=2, hours=10),
     43 + 600 + 10000 + 1000),
    # across local midnight without a whole day: 2 + 2 hours and 30 minutes
    (D0 + timedelta(days=1) - 2 * H, D0 + timedelta(days=1, hours=2, minutes=30), 430),
    # inside one hour
    (D0 + timedelta(hours=36, minutes=5), D0 + timedelta(hours=36, minutes=50), 45),
    # the whole stored range, aligned on local days
    (D0, D0 + timedelta(days=DAYS), DAYS * 10000),
])
def test_each_level_reads_only_its_part_of_the_window(
        conn: psycopg.Connection, f: datetime, t: datetime, want: int) -> None:
    counts = _probes(conn, "error_rate", f, t)
    assert counts["b"] == want
    assert _hist_total(conn, f, t) == want    # latency: same split, maintenance not filtered


def test_maintenance_over_local_midnight_falls_back_to_hours_then_minutes(
        conn: psycopg.Connection) -> None:
    f, t = D0 + timedelta(days=1) - 17 * M, D0 + timedelta(days=3) + 17 * M
    counts = _probes(conn, "availability", f, t)
    # both days touch the window, so they are read as 48 hours; the hours 16:00, 17:00 and
    # 18:00 UTC touch it, so they are read as 180 minutes, of which 16:20..18:04 (105) are out
    assert counts["a"] == 45 * 100 + (180 - 105) + 34
    assert counts["b"] == 2 * 10000 + 34       # the window is for target a only
    assert _probes(conn, "error_rate", f, t)["a"] == counts["a"]
    assert _hist_total(conn, f, t) == 2 * 10000 + 34


def test_maintenance_inside_the_hour_edges_leaves_out_its_minutes(
        conn: psycopg.Connection) -> None:
    # window 16:10:00 - 16:50 UTC on the 16th: minutes only, 16:20..16:49 touch maintenance
    f, t = MW[0] - timedelta(minutes=10, seconds=30), MW[0] + timedelta(minutes=29, seconds=30)
    assert _probes(conn, "availability", f, t)["a"] == 10


def _seed_raw(conn: psycopg.Connection, rows: list[tuple[datetime, bool]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO probe_results (time, target_id, ok, reason, duration_ms) "
            "VALUES (%s, 'r', %s, %s, 120)",
            [(at, ok, None if ok else "timeout") for at, ok in rows])
        cur.execute("INSERT INTO rollup_dirty (source, minute) SELECT DISTINCT 'probe', "
                    "time_bucket('1 minute', time) FROM probe_results ON CONFLICT DO NOTHING")
    conn.execute("SELECT ioc_rollup_run()")


def test_rollup_run_keeps_local_days_current_with_late_data(fresh_db_url: str) -> None:
    start = D0 + timedelta(hours=12)           # 05:00 UTC, 12:00 local on the 15th
    with db.connect(fresh_db_url) as conn:
        conn.execute("INSERT INTO targets (id, system, kind, name, interval_s) "
                     "VALUES ('r', 'portal', 'http', 'R', 600)")
        # a probe every 10 minutes for 36 hours: 72 on the 15th (local), 144 on the 16th
        _seed_raw(conn, [(start + timedelta(minutes=10 * i), True) for i in range(216)])
        days = conn.execute("SELECT bucket, total, ok FROM probe_rollup_1d WHERE target_id = 'r' "
                            "ORDER BY bucket").fetchall()
        assert days == [(D0, 72, 72), (D0 + timedelta(days=1), 144, 144)]
        # a late failed probe for the first (past) day, replayed by a spool
        _seed_raw(conn, [(D0 + timedelta(hours=1, seconds=5), False)])
        days = conn.execute("SELECT bucket, total, ok FROM probe_rollup_1d WHERE target_id = 'r' "
                            "ORDER BY bucket").fetchall()
        assert days == [(D0, 73, 72), (D0 + timedelta(days=1), 144, 144)]
        [row] = read_kpi(conn, "availability", D0, D0 + timedelta(days=2),
                         {"target": "r", "by": "target"})
        assert (row.numerator, row.denominator) == (216, 217)
        hist = conn.execute("SELECT hist_cnt FROM probe_rollup_1d WHERE target_id = 'r' "
                            "ORDER BY bucket").fetchall()
        assert hist == [([73],), ([144],)]


def test_retention_keeps_a_day_while_any_of_its_hours_is_kept(fresh_db_url: str) -> None:
    with db.connect(fresh_db_url) as conn:
        # the last hourly chunk boundary (chunks of 30 days from the Unix epoch) that
        # ioc_apply_retention(..., '2 years') drops up to, and the local day across it
        row = conn.execute("SELECT to_timestamp(floor(extract(epoch FROM now() - interval "
                           "'2 years') / 2592000) * 2592000)").fetchone()
        assert row is not None
        edge: datetime = row[0]
        day = edge - timedelta(hours=7)
        ancient = day - timedelta(days=400)
        conn.execute("""INSERT INTO probe_rollup_1h
            SELECT b, 'a', 1, 1, 0, 0, NULL, NULL, '{}', '{}' FROM unnest(%s::timestamptz[]) b""",
                     ([ancient, edge - 2 * H, edge + 2 * H],))
        conn.execute("SELECT ioc_rollup_probe_days(%s, %s)", (ancient, edge + 3 * H))
        assert conn.execute("SELECT count(*) FROM probe_rollup_1d").fetchone() == (2,)
        conn.execute("SELECT ioc_apply_retention(interval '30 days', interval '2 years')")
        hours = conn.execute("SELECT bucket FROM probe_rollup_1h ORDER BY 1").fetchall()
        assert hours == [(edge + 2 * H,)]       # the day's first hours went with their chunk
        days = conn.execute("SELECT bucket, total FROM probe_rollup_1d ORDER BY 1").fetchall()
        assert days == [(day, 2)]                # its day stays; the ancient day was dropped
