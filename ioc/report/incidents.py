"""Incidents of a week from the alert history: firing episodes with their ack and resolution."""

from __future__ import annotations

from datetime import datetime
from statistics import fmean
from typing import Any

import psycopg

_SQL = """
WITH f AS (
    SELECT t.id, t.fingerprint, t.rule_id, t.labels, t.severity, t.annotations, t.at AS firing_at
      FROM alert_transitions t
     WHERE t.to_state = 'firing' AND t.at < %(to)s),
r AS (
    SELECT f.*, (SELECT min(x.at) FROM alert_transitions x
                  WHERE x.fingerprint = f.fingerprint AND x.to_state = 'resolved'
                    AND x.at > f.firing_at) AS resolved_at
      FROM f)
SELECT r.rule_id, r.labels, r.severity, r.annotations, r.firing_at, r.resolved_at,
       (SELECT min(a.acked_at) FROM alert_acks a
         WHERE a.fingerprint = r.fingerprint AND a.acked_at >= r.firing_at
           AND (r.resolved_at IS NULL OR a.acked_at <= r.resolved_at)) AS acked_at
  FROM r
 WHERE r.resolved_at IS NULL OR r.resolved_at >= %(from)s
 ORDER BY r.firing_at, r.rule_id
"""


def week_incidents(conn: psycopg.Connection, from_: datetime, to: datetime) -> dict[str, Any]:
    """Episodes firing during [from_, to): start, end, duration, time to acknowledge, MTTA/MTTR.

    Durations are seconds; an episode still open at the end is measured up to `to`.
    """
    items: list[dict[str, Any]] = []
    for rule, labels, severity, notes, firing, resolved, acked in conn.execute(
            _SQL, {"from": from_, "to": to}).fetchall():
        end = resolved if resolved is not None and resolved < to else None
        items.append({
            "rule": rule, "system": (labels or {}).get("system", ""), "severity": severity,
            "summary": (notes or {}).get("summary", ""), "started_at": firing.isoformat(),
            "resolved_at": end.isoformat() if end else None,
            "duration_s": ((end or to) - firing).total_seconds(),
            "tta_s": (acked - firing).total_seconds() if acked else None,
        })
    ttas = [i["tta_s"] for i in items if i["tta_s"] is not None]
    ttrs = [i["duration_s"] for i in items if i["resolved_at"] is not None]
    return {"items": items, "mtta_s": fmean(ttas) if ttas else None,
            "mttr_s": fmean(ttrs) if ttrs else None}
