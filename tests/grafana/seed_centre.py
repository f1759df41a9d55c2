"""Seed for the centre-health screen: heartbeats and a week of notification outcomes."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg

from .seed import DAYS, NOW

CHANNELS = ("ops-webhook", "oncall-email")
# One message every 20 minutes: two of three sent, one given up a minute after creation.
STEP = timedelta(minutes=20)
WAITING = (  # channel, state, attempts, age, last error
    ("ops-webhook", "pending", 0, timedelta(minutes=2), None),
    ("oncall-email", "pending", 2, timedelta(minutes=7), "connection refused"),
    ("oncall-email", "sending", 1, timedelta(seconds=30), None),
)


def seed_centre(conn: psycopg.Connection) -> None:
    """Two collectors (one late), an engine that just beat, and the outbox's history."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO collector_heartbeats (collector_id, shard, started_at, seen_at, targets,"
            " version) VALUES (%s, %s, %s, %s, 12, 'test')",
            [("host-a", "0/2", NOW - timedelta(days=2), NOW - timedelta(seconds=3)),
             ("host-b", "1/2", NOW - timedelta(days=2), NOW - timedelta(seconds=45))])
        cur.execute("INSERT INTO alert_engine_heartbeats (instance, started_at, seen_at)"
                    " VALUES ('host-a', %s, %s)", (NOW - timedelta(days=2), NOW))
        rows = []
        for k in range(1, int(timedelta(days=DAYS) / STEP)):
            created = NOW - k * STEP
            failed = k % 3 == 0
            rows.append((f"seed-{k}", CHANNELS[k % 2], "failed" if failed else "sent",
                         3 if failed else 1, created + timedelta(minutes=1), created,
                         None if failed else created + timedelta(seconds=10),
                         "HTTP 410" if failed else None))
        for i, (channel, state, attempts, age, error) in enumerate(WAITING):
            rows.append((f"seed-waiting-{i}", channel, state, attempts,
                         NOW + timedelta(minutes=1), NOW - age, None, error))
        cur.executemany(
            "INSERT INTO notifications (idempotency_key, channel, group_key, events, state,"
            " attempts, due_at, created_at, sent_at, last_error)"
            " VALUES (%s, %s, 'g', %s, %s, %s, %s, %s, %s, %s)",
            [(key, ch, json.dumps([{"secret": "never shown"}]), state, n, due, created, sent,
              err) for key, ch, state, n, due, created, sent, err in rows])
