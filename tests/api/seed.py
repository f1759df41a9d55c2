"""Rows the API tests read: targets with probe results, and alerts (contract tables)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from ioc import db


def add_target(url: str, target_id: str, system: str, *, interval_s: float = 15.0,
               labels: dict[str, Any] | None = None, kind: str = "http") -> None:
    with db.connect(url) as conn:
        conn.execute(
            "INSERT INTO targets (id, system, kind, name, labels, interval_s) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "interval_s = EXCLUDED.interval_s, labels = EXCLUDED.labels",
            (target_id, system, kind, target_id, json.dumps(labels or {}), interval_s))


def add_probe(url: str, target_id: str, at: datetime, ok: bool, duration_ms: float = 120.0,
              *, notify: bool = False) -> None:
    with db.connect(url) as conn:
        conn.execute(
            "INSERT INTO probe_results (time, target_id, ok, reason, status_code, duration_ms) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (at, target_id, ok, None if ok else "refused", 200 if ok else None, duration_ms))
        conn.execute("INSERT INTO rollup_dirty (source, minute) VALUES ('probe', %s) "
                     "ON CONFLICT DO NOTHING", (at.replace(second=0, microsecond=0),))
        if notify:
            event = {"type": "status", "target_id": target_id, "ok": ok}
            conn.execute("SELECT pg_notify('ioc_events', %s)", (json.dumps(event),))


def add_alert(url: str, fingerprint: str, now: datetime, *, summary: str = "Portal down",
              system: str = "portal", severity: str = "critical", notify: bool = False) -> None:
    with db.connect(url) as conn:
        conn.execute(
            "INSERT INTO alerts (fingerprint, rule_id, labels, annotations, severity, state, "
            "value, started_at, firing_at, updated_at, episode) VALUES (%s, %s, %s, %s, %s, "
            "'firing', 1, %s, %s, %s, 1) ON CONFLICT (fingerprint) DO UPDATE SET "
            "annotations = EXCLUDED.annotations, state = 'firing'",
            (fingerprint, "portal-down", json.dumps({"system": system}),
             json.dumps({"summary": summary}), severity, now - timedelta(minutes=3),
             now - timedelta(minutes=2), now))
        if notify:
            event = {"type": "alert", "fingerprint": fingerprint, "to_state": "firing"}
            conn.execute("SELECT pg_notify('ioc_events', %s)", (json.dumps(event),))
