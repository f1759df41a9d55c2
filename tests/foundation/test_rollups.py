"""Rollups, histogram quantiles and retention give known answers on data built for the test."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import psycopg

from ioc import db

T0 = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # a Monday, on an hour boundary


ProbeRow = tuple[datetime, str, bool, float | None]


def _insert_probes(conn: psycopg.Connection, rows: list[ProbeRow]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO probe_results (time, target_id, ok, reason, duration_ms) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(t, tid, ok, None if ok else "timeout", ms) for t, tid, ok, ms in rows],
        )
        cur.execute(
            "INSERT INTO rollup_dirty (source, minute) SELECT DISTINCT 'probe', "
            "time_bucket('1 minute', time) FROM probe_results ON CONFLICT DO NOTHING"
        )


def test_minute_and_hour_rollups_count_exactly(fresh_db_url: str) -> None:
    rows = [
        (T0 + timedelta(seconds=10), "a", True, 100.0),
        (T0 + timedelta(seconds=40), "a", True, 300.0),
        (T0 + timedelta(minutes=1, seconds=5), "a", False, None),
        (T0 + timedelta(minutes=59, seconds=59), "a", True, 50.0),
        (T0 + timedelta(hours=1), "a", True, 10.0),
        (T0 + timedelta(seconds=10), "b", False, 2000.0),
    ]
    with db.connect(fresh_db_url) as conn:
        _insert_probes(conn, rows)
        assert conn.execute("SELECT ioc_rollup_run()").fetchone() == (4,)
        m = conn.execute(
            "SELECT bucket, total, ok, latency_n, latency_sum, latency_min, latency_max "
            "FROM probe_rollup_1m WHERE target_id = 'a' ORDER BY bucket").fetchall()
        assert m == [
            (T0, 2, 2, 2, 400.0, 100.0, 300.0),
            (T0 + timedelta(minutes=1), 1, 0, 0, 0.0, None, None),
            (T0 + timedelta(minutes=59), 1, 1, 1, 50.0, 50.0, 50.0),
            (T0 + timedelta(hours=1), 1, 1, 1, 10.0, 10.0, 10.0),
        ]
        h = conn.execute(
            "SELECT bucket, total, ok, latency_n, latency_sum FROM probe_rollup_1h "
            "WHERE target_id = 'a' ORDER BY bucket").fetchall()
        assert h == [(T0, 4, 3, 3, 450.0), (T0 + timedelta(hours=1), 1, 1, 1, 10.0)]
        # nothing dirty is left, and a second run does nothing
        assert conn.execute("SELECT ioc_rollup_run()").fetchone() == (0,)


def test_late_data_recomputes_only_its_buckets(fresh_db_url: str) -> None:
    with db.connect(fresh_db_url) as conn:
        _insert_probes(conn, [(T0 + timedelta(seconds=1), "a", True, 10.0)])
        conn.execute("SELECT ioc_rollup_run()")
        # a spooled batch arrives later for the same minute
        _insert_probes(conn, [(T0 + timedelta(seconds=30), "a", False, None)])
        conn.execute("SELECT ioc_rollup_run()")
        assert conn.execute(
            "SELECT total, ok FROM probe_rollup_1h WHERE target_id = 'a'").fetchall() == [(2, 1)]


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def test_percentiles_from_rollups_match_raw_within_bucket_resolution(fresh_db_url: str) -> None:
    rng = random.Random(7)
    rows = []
    values = []
    # 26 hours of 30 s probes with log-normal latencies, two targets
    for i in range(26 * 120):
        for tid in ("p1", "p2"):
            ms = rng.lognormvariate(math.log(180), 0.6)
            rows.append((T0 + timedelta(seconds=30 * i, milliseconds=rng.randint(0, 999)), tid,
                         True, ms))
    with db.connect(fresh_db_url) as conn:
        _insert_probes(conn, rows)
        conn.execute("SELECT ioc_rollup_run()")
        # windows: whole hours only, edges inside hours, and a short one inside one hour
        windows = [
            (T0, T0 + timedelta(hours=24)),
            (T0 + timedelta(minutes=17), T0 + timedelta(hours=25, minutes=3)),
            (T0 + timedelta(hours=3, minutes=5), T0 + timedelta(hours=3, minutes=50)),
        ]
        for start, end in windows:
            values = [ms for t, _tid, _ok, ms in rows if start <= t < end and ms is not None]
            for q in (0.5, 0.95, 0.99):
                got = conn.execute(
                    "SELECT ioc_latency_quantile(%s, %s, %s, %s)",
                    (["p1", "p2"], start, end, q)).fetchone()
                assert got is not None and got[0] is not None
                want = _nearest_rank(values, q)
                # one bucket is 2^(1/8) wide: the representative value is within 4.5 %
                assert abs(got[0] - want) / want < 0.045, (start, end, q, got[0], want)


def test_histogram_counts_every_probe_once(fresh_db_url: str) -> None:
    rows = [(T0 + timedelta(seconds=s), "x", True, float(s + 1)) for s in range(0, 7200, 7)]
    with db.connect(fresh_db_url) as conn:
        _insert_probes(conn, rows)
        conn.execute("SELECT ioc_rollup_run()")
        total = conn.execute(
            "SELECT sum(n) FROM ioc_probe_hist(%s, %s, %s)",
            (["x"], T0 + timedelta(minutes=30), T0 + timedelta(minutes=90))).fetchone()
    want = sum(1 for t, *_ in rows if T0 + timedelta(minutes=30) <= t < T0 + timedelta(minutes=90))
    assert total == (want,)


def test_retention_drops_old_chunks_only(fresh_db_url: str) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=40)
    with db.connect(fresh_db_url) as conn:
        _insert_probes(conn, [(old, "a", True, 5.0), (now - timedelta(hours=1), "a", True, 6.0)])
        conn.execute("SELECT ioc_rollup_run()")
        dropped = conn.execute(
            "SELECT ioc_apply_retention(interval '30 days', interval '2 years')").fetchone()
        assert dropped is not None and dropped[0] >= 2  # raw and minute-rollup chunks
        left = conn.execute("SELECT count(*) FROM probe_results").fetchone()
        hourly = conn.execute("SELECT count(*) FROM probe_rollup_1h").fetchone()
    assert left == (1,)
    assert hourly == (2,)  # the hourly rollup keeps the old hour for two years
