"""Seed data for the dashboard harness: a week of probes, samples and alerts, inserted in SQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg

from ioc.grafana.inventory import Inventory, TargetInfo

# "Now" for every harness query: a Wednesday morning in the province, with a fractional second
# so the RFC 3339 formatting of Grafana's macros is exercised.
NOW = datetime(2026, 11, 18, 2, 30, 0, 500000, tzinfo=UTC)
DAYS = 8


def seed_targets(inv: Inventory) -> list[TargetInfo]:
    """The configured targets, plus two HTTP targets per system when the config has none."""
    targets = list(inv.targets)
    for s in inv.systems:
        if not inv.targets_of(s.name):
            targets += [TargetInfo(f"{s.name}-health", s.name, "http", f"{s.title} /health"),
                        TargetInfo(f"{s.name}-home", s.name, "http", f"{s.title} trang chủ")]
    return targets


def seed_probes(conn: psycopg.Connection, targets: list[TargetInfo]) -> None:
    """A probe every two minutes per HTTP target for DAYS days up to NOW; some slow, some
    failing."""
    probed = [t.id for t in targets if t.kind == "http"]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO targets (id, system, kind, name, interval_s) VALUES (%s, %s, %s, %s, 120)"
            " ON CONFLICT (id) DO NOTHING",
            [(t.id, t.system, t.kind, t.name) for t in targets])
        cur.execute(
            """
            INSERT INTO probe_results (time, target_id, ok, reason, status_code, duration_ms)
            SELECT ts, t.id, (i + t.n) %% 37 <> 0,
                   CASE WHEN (i + t.n) %% 37 = 0 THEN 'status' END,
                   CASE WHEN (i + t.n) %% 37 = 0 THEN 503 ELSE 200 END,
                   80 + ((i * 7 + t.n * 13) %% 400) + CASE WHEN i %% 50 = 0 THEN 2500 ELSE 0 END
              FROM (SELECT id, row_number() OVER (ORDER BY id) AS n
                      FROM targets WHERE id = ANY(%(ids)s)) t,
                   LATERAL (SELECT ts, row_number() OVER (ORDER BY ts) AS i
                              FROM generate_series(%(start)s::timestamptz, %(now)s, '2 minutes') ts
                           ) g
            ON CONFLICT DO NOTHING""",
            {"ids": probed, "start": NOW - timedelta(days=DAYS), "now": NOW})
        # every minute of the range is marked, so the rollup runs once over one contiguous span
        cur.execute(
            "INSERT INTO rollup_dirty (source, minute) SELECT 'probe', m FROM generate_series("
            "time_bucket('1 minute', %(start)s::timestamptz), %(now)s, '1 minute') m "
            "ON CONFLICT DO NOTHING", {"start": NOW - timedelta(days=DAYS), "now": NOW})
        cur.execute("SELECT ioc_rollup_run(1000000)")


ALERTS = (  # system, severity, transitions (one every 20 minutes up to NOW)
    ("portal", "critical", 20),
    ("payments", "warning", 18),
    ("documents", "warning", 19),
)
CYCLE = ("pending", "firing", "resolved")


def seed_alerts(conn: psycopg.Connection) -> None:
    """One alert per system cycling pending -> firing -> resolved over the last hours; they end
    firing, resolved and pending."""
    with conn.cursor() as cur:
        for system, severity, count in ALERTS:
            fp, rule = f"fp-{system}", f"{system}-availability"
            labels = json.dumps({"system": system, "target": f"{system}-health"})
            steps, state = [], "inactive"
            for k in range(count):
                at = NOW - timedelta(minutes=20) * (count - k)
                steps.append((state, CYCLE[k % 3], at))
                state = CYCLE[k % 3]
            cur.executemany(
                "INSERT INTO alert_transitions (fingerprint, rule_id, labels, severity, "
                "from_state, to_state, value, at) VALUES (%s, %s, %s, %s, %s, %s, 0.5, %s)",
                [(fp, rule, labels, severity, a, b, at) for a, b, at in steps])
            last_at = steps[-1][2]
            cur.execute(
                "INSERT INTO alerts (fingerprint, rule_id, labels, annotations, severity, state, "
                "value, started_at, firing_at, resolved_at, updated_at) VALUES "
                "(%s, %s, %s, %s, %s, %s, 0.5, %s, %s, %s, %s)",
                (fp, rule, labels, '{"summary": "Hệ thống gặp sự cố"}', severity, state,
                 last_at, last_at if state == "firing" else None,
                 last_at if state == "resolved" else None, NOW))


def seed(url: str, inv: Inventory) -> None:
    """Everything the dashboards read, consistent with NOW."""
    from .seed_business import seed_business  # it takes NOW and DAYS from here
    from .seed_centre import seed_centre

    with psycopg.connect(url, autocommit=True) as conn:
        seed_probes(conn, seed_targets(inv))
        seed_alerts(conn)
        seed_business(conn)
        seed_centre(conn)
