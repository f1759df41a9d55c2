"""A week (2026-W18) of probes, dossiers and alerts whose report figures are known by hand."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from kpi.records import DOSSIERS, WEEK_FROM, WEEK_TO, load, local

PORTAL_DOWN_MIN = 30      # portal: 30 failed minutes of 10,080 -> 99.702%
PAYMENTS_DOWN_MIN = 120   # payments: 120 failed minutes -> 98.810%


def seed_week(conn: psycopg.Connection) -> None:
    conn.execute("""INSERT INTO targets (id, system, kind, name, interval_s) VALUES
        ('p1', 'portal', 'http', 'Trang chủ', 60), ('y1', 'payments', 'http', 'Cổng TT', 60),
        ('d1', 'documents', 'http', 'Văn bản', 60)""")
    conn.execute("""INSERT INTO probe_results (time, target_id, ok, reason, duration_ms)
        SELECT t, x.id, NOT (t < %(f)s + x.down * interval '1 minute'),
               CASE WHEN t < %(f)s + x.down * interval '1 minute' THEN 'timeout' END, x.ms
          FROM generate_series(%(f)s, %(t)s - interval '1 minute', interval '1 minute') t,
               (VALUES ('p1', %(pd)s, 180.0), ('y1', %(yd)s, 700.0)) AS x(id, down, ms)""",
                 {"f": WEEK_FROM, "t": WEEK_TO, "pd": PORTAL_DOWN_MIN, "yd": PAYMENTS_DOWN_MIN})
    conn.execute("INSERT INTO rollup_dirty (source, minute) SELECT DISTINCT 'probe', "
                 "time_bucket('1 minute', time) FROM probe_results")
    conn.execute("SELECT ioc_rollup_run()")
    load(conn, "dossiers", DOSSIERS)
    _alerts(conn)


def _alerts(conn: psycopg.Connection) -> None:
    fired, acked, resolved = local(4, 28, 8), local(4, 28, 8, 10), local(4, 28, 8, 40)
    late = WEEK_TO - timedelta(hours=1)
    rows = [("fp1", "portal_down", "pending", "firing", fired),
            ("fp1", "portal_down", "firing", "resolved", resolved),
            ("fp2", "payments_slow", "pending", "firing", late)]
    for fp, rule, a, b, at in rows:
        system = rule.split("_")[0]
        conn.execute(
            "INSERT INTO alert_transitions (fingerprint, rule_id, labels, severity, from_state, "
            "to_state, at, annotations) VALUES (%s, %s, jsonb_build_object('system', %s::text),"
            " 'critical', %s, %s, %s, '{\"summary\": \"Cổng không phản hồi\"}')",
            (fp, rule, system, a, b, at))
    conn.execute("INSERT INTO alert_acks (fingerprint, episode, acked_at, acked_by, via) "
                 "VALUES ('fp1', 1, %s, 'trực ca', 'api')", (acked,))
