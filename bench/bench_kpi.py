"""Benchmark: the weekly report and KPI query latency on a province-sized database.

Builds a scratch database: 500 probe targets probed every 30 s, as the rollups the KPI layer and
the report read (hourly for 35 days, i.e. 7 days of the report week and 28 before; daily rows
computed from them by ioc_rollup_probe_days as the migration's backfill and ioc_rollup_run do;
minute rows for the last 7 days, as production keeps them, and the hours around the start of
the 30-day window), and 35 days of business records (about 5,000 dossiers, 1,500 payments and 3,000
documents a day, 10 % of dossiers with a supplement). Raw probe rows are not written: no KPI
reads them. Then times
  - the weekly report (build + HTML + PDF), goal < 10 s;
  - each KPI over the last 30 days from the rollups, p50/p95 of 20 runs, goal p95 < 100 ms.
Run: IOC_DATABASE_URL=... .venv/bin/python bench/bench_kpi.py [--targets 500] [--minute-days 7]
     [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ioc import db, migrate
from ioc.kpi.calendar import sync_calendar
from ioc.report import store
from ioc.report.week import Week

WEEK = Week.parse("2026-W47")
RUNS = 20
KPIS: list[tuple[str, dict[str, str]]] = [
    ("availability", {}), ("availability", {"by": "target"}),
    ("availability", {"system": "portal"}), ("error_rate", {}), ("latency.p95", {}),
    ("latency.p95", {"system": "payments"}), ("slo.error_budget", {}), ("throughput", {}),
    ("766.2.1", {}), ("766.2.1", {"by": "agency"}), ("766.2.2", {"by": "procedure"}),
    ("766.3.3", {}), ("766.4.1", {}), ("score.decision766", {}),
    ("payments.success_rate", {}), ("recon.match_rate", {}), ("documents.overdue", {}),
]

# Hourly rollups of 30 s probes (120 a target-hour, 0.2 % failed) with a spread of latencies over
# about ten histogram buckets, for 35 days.
ROLLUP_1H = """
WITH t AS (
    SELECT i, (SELECT array_agg((ioc_hist_index(50 + 20 * (i %% 10)) + k)::smallint ORDER BY k)
                 FROM generate_series(0, 9) k) AS idx
      FROM generate_series(1, %(n)s) i)
INSERT INTO probe_rollup_1h
SELECT b, 't' || t.i, 120, 120 - (random() < 0.2)::int, 120, 120 * 150.0, 40, 900, t.idx,
       ARRAY[30, 25, 20, 15, 10, 8, 6, 3, 2, 1]
  FROM t, generate_series(%(f)s::timestamptz, %(t)s::timestamptz - interval '1 hour',
                          interval '1 hour') b"""

# Minute rollups (2 probes a target-minute) for [a, z): the partial-hour edges that unaligned
# windows read come from here, and their volume shows that a read does not scan them all.
ROLLUP_1M = """
INSERT INTO probe_rollup_1m
SELECT b, 't' || i, 2, 2 - (random() < 0.004)::int, 2, 300.0, 100, 200,
       ARRAY[ioc_hist_index(100), ioc_hist_index(200)], ARRAY[1, 1]
  FROM generate_series(%(a)s::timestamptz, %(z)s::timestamptz - interval '1 minute',
                       interval '1 minute') b,
       generate_series(1, %(n)s) i"""

DOSSIERS = """
INSERT INTO dossiers (code, procedure_code, agency_code, channel, level, status, received_at,
                      due_at, finished_at, fee, paid_online, digitised, e_result,
                      synced_national, updated_at)
SELECT 'HS' || g, 'P' || (g %% 300), 'A' || (g %% 40), 1 + (g %% 3), 'full',
       CASE WHEN fin THEN 9 ELSE 4 END, r, r + interval '1 day' * (3 + g %% 10),
       CASE WHEN fin THEN r + interval '1 hour' * (20 + g %% 300) END,
       CASE WHEN g %% 4 = 0 THEN 50000 ELSE 0 END, g %% 8 = 0, g %% 2 = 0, g %% 3 <> 0,
       g %% 50 <> 0, r
  FROM generate_series(1, %(n)s) g,
       LATERAL (SELECT %(f)s::timestamptz + (%(t)s::timestamptz - %(f)s::timestamptz)
                       * (g::float8 / %(n)s) AS r) x,
       LATERAL (SELECT r < %(t)s::timestamptz - interval '10 days' OR g %% 3 = 0 AS fin) y"""

SUPPLEMENTS = """
INSERT INTO dossier_supplements (code, seq, requested_at, resumed_at)
SELECT code, 1, received_at + interval '1 day', received_at + interval '3 days'
  FROM dossiers WHERE right(code, 1) = '7'"""

PAYMENTS = """
INSERT INTO payment_transactions (ref, dossier_code, payment_request_code, intermediary, amount,
                                  status, created_at, settled_at, updated_at)
SELECT 'GD' || g, 'HS' || g, 'YC' || g, (ARRAY['vnpay','momo','viettel','vnpt'])[1 + g %% 4],
       50000, CASE WHEN g %% 40 = 0 THEN 'failed' ELSE 'success' END, c,
       CASE WHEN g %% 40 <> 0 THEN c + interval '5 minutes' END, c
  FROM generate_series(1, %(n)s) g,
       LATERAL (SELECT %(f)s::timestamptz + (%(t)s::timestamptz - %(f)s::timestamptz)
                       * (g::float8 / %(n)s) AS c) x"""

RECON = """
INSERT INTO recon_rows (side, file_date, n, ref, dossier_code, payment_request_code, amount,
                        settled_at)
SELECT s, ioc_local_day(created_at), row_number() OVER (PARTITION BY s,
       ioc_local_day(created_at) ORDER BY ref), ref, dossier_code, payment_request_code,
       amount, settled_at
  FROM payment_transactions, unnest(ARRAY['intermediary', 'treasury']) s
 WHERE status = 'success' AND right(ref, 2) <> '99'"""

# Every day's two files received (files are keyed by the business day, the local creation date).
RECON_FILES = """
INSERT INTO recon_files (side, file_date, rows, received_at, first_received_at)
SELECT s, d::date, (SELECT count(*) FROM recon_rows r WHERE r.side = s AND r.file_date = d::date),
       now(), now()
  FROM unnest(ARRAY['intermediary', 'treasury']) s,
       generate_series(ioc_local_day(%(f)s), ioc_local_day(%(t)s) - 1, interval '1 day') d
ON CONFLICT (side, file_date) DO NOTHING"""

DOCUMENTS = """
INSERT INTO documents (id, direction, agency_code, signed, electronic, via_national_axis,
                       received_at, due_at, handled_at, updated_at)
SELECT 'VB' || g, CASE WHEN g %% 2 = 0 THEN 'in' ELSE 'out' END, 'A' || (g %% 40), g %% 5 <> 0,
       g %% 7 <> 0, g %% 3 = 0, r, r + interval '5 days',
       CASE WHEN g %% 11 <> 0 THEN r + interval '2 days' END, r
  FROM generate_series(1, %(n)s) g,
       LATERAL (SELECT %(f)s::timestamptz + (%(t)s::timestamptz - %(f)s::timestamptz)
                       * (g::float8 / %(n)s) AS r) x"""


def _timed(label: str, conn: psycopg.Connection, query: str, params: dict[str, object]) -> None:
    start = time.perf_counter()
    conn.execute(query.encode(), params)
    print(f"  {label}: {time.perf_counter() - start:.1f} s", flush=True)


def build(conn: psycopg.Connection, targets: int, minute_days: int) -> None:
    """Fill the scratch database."""
    first = WEEK.end - timedelta(days=35)
    sync_calendar(conn)
    conn.execute("INSERT INTO targets (id, system, kind, name, interval_s) "
                  "SELECT 't' || i, (ARRAY['portal','payments','documents'])[1 + i %% 3], "
                  "'http', 'Target ' || i, 30 FROM generate_series(1, %s) i", (targets,))
    _timed("hourly probe rollups (35 days)", conn, ROLLUP_1H,
           {"n": targets, "f": first, "t": WEEK.end})
    _timed("daily probe rollups (ioc_rollup_probe_days)", conn,
           "SELECT ioc_rollup_probe_days(%(f)s, %(t)s)", {"f": first, "t": WEEK.end})
    window = WEEK.end - timedelta(days=30)
    _timed("minute probe rollups (around the window start)", conn, ROLLUP_1M,
           {"n": targets, "a": window - timedelta(hours=1), "z": window + timedelta(hours=1)})
    _timed(f"minute probe rollups (last {minute_days} days)", conn, ROLLUP_1M,
           {"n": targets, "a": WEEK.end - timedelta(days=minute_days), "z": WEEK.end})
    days = {"f": first, "t": WEEK.end}
    _timed("dossiers", conn, DOSSIERS, {"n": 5000 * 25, **days})
    _timed("supplements", conn, SUPPLEMENTS, {})
    _timed("payments", conn, PAYMENTS, {"n": 1500 * 25, **days})
    _timed("recon files", conn, RECON, {})
    _timed("recon files received", conn, RECON_FILES, days)
    _timed("documents", conn, DOCUMENTS, {"n": 3000 * 25, **days})
    conn.execute("VACUUM ANALYZE")


def bench_report(conn: psycopg.Connection) -> float:
    start = time.perf_counter()
    report = store.generate(conn, WEEK, now=datetime.now(UTC))
    took = time.perf_counter() - start
    print(f"weekly report {WEEK} (build + HTML + PDF {len(report.pdf or b'')} bytes): "
          f"{took:.2f} s (goal < 10 s)")
    return took


def bench_kpis(conn: psycopg.Connection) -> list[tuple[str, float, float]]:
    to, from_ = WEEK.end, WEEK.end - timedelta(days=30)
    out = []
    print(f"KPI queries over 30 days, {RUNS} runs each (goal p95 < 100 ms):")
    cases = [*KPIS, ("availability", {"by": "target"})]
    for i, (kpi, filter) in enumerate(cases):
        if i == len(KPIS):   # the same over a window not aligned to hours (minute edges)
            to, from_ = to - timedelta(minutes=17), from_ - timedelta(minutes=17)
        times: list[float] = []
        for _ in range(RUNS):
            start = time.perf_counter()
            conn.execute("SELECT * FROM ioc_kpi(%s, %s, %s, %s::jsonb)",
                         (kpi, from_, to, json.dumps(filter))).fetchall()
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p50, p95 = statistics.median(times), times[int(0.95 * len(times)) - 1]
        name = f"{kpi} {json.dumps(filter) if filter else ''}" + (" unaligned" if i >= len(KPIS)
                                                                 else "")
        print(f"  {name:<42} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms", flush=True)
        out.append((name, p50, p95))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=500)
    parser.add_argument("--minute-days", type=int, default=7,
                        help="days of minute rollups before the window end (production: 7)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    admin_url = os.environ["IOC_DATABASE_URL"]
    name = f"ioc_bench_kpi_{os.getpid()}"
    parts = conninfo_to_dict(admin_url)
    parts["dbname"] = name
    url = make_conninfo("", **{k: v for k, v in parts.items() if v is not None})
    with db.connect(admin_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with db.connect(url) as conn:
            migrate.migrate(conn)
            print(f"building: {args.targets} targets of 30 s probes as rollups, 35 days of records",
                  flush=True)
            build(conn, args.targets, args.minute_days)
            conn.execute("SET statement_timeout = '120s'")
            bench_kpis(conn)
            bench_report(conn)
    finally:
        if not args.keep:
            with db.connect(admin_url) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))


if __name__ == "__main__":
    main()
