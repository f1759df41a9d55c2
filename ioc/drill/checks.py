"""Judge the drill's evidence: faults and their alerts, notifications, samples, the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from ioc.drill import script as sc
from ioc.drill.run import Evidence, Played
from ioc.drill.verdict import Verdict

SLACK = timedelta(seconds=0.5)
"""The sim's fault starts a moment before the drill stamps it, and ends as much earlier."""


@dataclass(frozen=True)
class Episode:
    """One firing episode of an alert (from alert_transitions)."""

    fingerprint: str
    rule: str
    target: str
    firing_at: datetime
    resolved_at: datetime | None


_EPISODES = """
SELECT f.fingerprint, f.rule_id, coalesce(f.labels->>'target', ''), f.at,
       (SELECT min(r.at) FROM alert_transitions r WHERE r.fingerprint = f.fingerprint
           AND r.to_state = 'resolved' AND r.at > f.at)
  FROM alert_transitions f
 WHERE f.to_state = 'firing' AND f.at >= %s
 ORDER BY f.at
"""


def episodes(conn: psycopg.Connection, since: datetime) -> list[Episode]:
    return [Episode(*row) for row in conn.execute(_EPISODES, (since,)).fetchall()]


def _secs(delta: timedelta) -> str:
    return f"{delta.total_seconds():.1f}s"


def probe_verdict(conn: psycopg.Connection, p: Played) -> Verdict:
    """The target's probes during the fault failed with the expected reason (or were slow)."""
    step = p.step
    rows = conn.execute(
        "SELECT ok, reason, duration_ms FROM probe_results WHERE target_id = %s"
        " AND time >= %s AND time < %s ORDER BY time",
        (step.target, p.started_at, p.ended_at - timedelta(seconds=sc.PROBE_TIMEOUT_S))
    ).fetchall()
    name = f"{step.kind} {step.target}: probes"
    if step.reason is None:
        slow = [r[2] for r in rows if r[0] and (r[2] or 0) > sc.LATENCY_THRESHOLD_MS]
        ok = bool(rows) and len(slow) == len(rows)
        return Verdict(name, f"all ok and > {sc.LATENCY_THRESHOLD_MS:g} ms",
                       f"{len(slow)}/{len(rows)} slow ok probes, min "
                       f"{min((r[2] or 0) for r in rows) if rows else 0:.0f} ms", ok)
    reasons = Counter(r[1] if not r[0] else "ok" for r in rows)
    ok = bool(rows) and set(reasons) == {step.reason}
    shown = ", ".join(f"{k} x{n}" for k, n in sorted(reasons.items())) or "no probes"
    return Verdict(name, f"every probe failed: {step.reason}", shown, ok)


def alert_verdicts(p: Played, found: list[Episode]) -> list[Verdict]:
    """Fired once within the detection allowance of the fault's start; resolved after its end."""
    step = p.step
    mine = [e for e in found if (e.rule, e.target) == (step.rule, step.target)]
    allowance = timedelta(seconds=sc.DETECT_ALLOWANCE_S)
    name = f"{step.kind} {step.target}"
    if len(mine) != 1:
        observed = f"{len(mine)} firing episodes of {step.rule}"
        return [Verdict(f"{name}: alert fired", f"1 episode of {step.rule}", observed, False),
                Verdict(f"{name}: alert resolved", "after the fault ended", observed, False)]
    e = mine[0]
    fired_in = e.firing_at - p.started_at
    fired_ok = -SLACK <= fired_in <= allowance
    fired = Verdict(f"{name}: alert fired", f"{step.rule} within {_secs(allowance)} of start",
                    f"{step.rule} {_secs(fired_in)} after start", fired_ok)
    if e.resolved_at is None:
        return [fired, Verdict(f"{name}: alert resolved", "after the fault ended",
                               "still firing", False)]
    after = e.resolved_at - p.ended_at
    resolved = Verdict(f"{name}: alert resolved",
                       f"within {_secs(allowance)} after the end",
                       f"{_secs(after)} after the end", -SLACK <= after <= allowance)
    return [fired, resolved]


def unexpected_verdict(ev: Evidence, found: list[Episode]) -> Verdict:
    """No alert fired that no step of the script explains."""
    wanted = {(s.rule, s.target) for s in ev.steps}
    extra = [f"{e.rule}/{e.target}" for e in found if (e.rule, e.target) not in wanted]
    return Verdict("no other alert fired", "0 alerts outside the script",
                   f"{len(extra)}" + (f": {', '.join(extra)}" if extra else ""), not extra)


def notification_verdicts(conn: psycopg.Connection, ev: Evidence,
                          found: list[Episode]) -> list[Verdict]:
    """Each idempotency key delivered once; one firing and one resolved per alert."""
    keys = Counter(d.key for d in ev.deliveries)
    row = conn.execute("SELECT count(*) FROM notifications WHERE created_at >= %s",
                       (ev.started_at,)).fetchone()
    queued = row[0] if row else 0
    twice = [k for k, n in keys.items() if n != 1 or not k]
    out = [Verdict("notifications: each key delivered once",
                   f"{queued} keys (outbox), each once",
                   f"{len(keys)} keys, {len(ev.deliveries)} deliveries, {len(twice)} repeated",
                   len(keys) == queued > 0 and not twice)]
    statuses: dict[str, list[str]] = {}
    for fingerprint, status in _statuses(ev):
        statuses.setdefault(fingerprint, []).append(status)
    for e in found:
        seen = statuses.get(e.fingerprint, [])
        out.append(Verdict(f"notifications: {e.rule}/{e.target}",
                           f"{sc.WEBHOOK}: firing, resolved",
                           f"{sc.WEBHOOK}: {', '.join(seen) or 'nothing'}",
                           seen == ["firing", "resolved"]))
    return out


def _statuses(ev: Evidence) -> list[tuple[str, str]]:
    return [(str(a.get("fingerprint")), str(a.get("status")))
            for d in ev.deliveries for a in d.events()]


def sample_verdicts(conn: psycopg.Connection, ev: Evidence) -> list[Verdict]:
    """Count in (the collector's tap; its rows-written counter) equals rows stored."""
    ids = [t.id for t in ev.config.targets]
    stored: Counter[str] = Counter()
    for target, n in conn.execute(
            "SELECT target_id, count(*) FROM probe_results WHERE target_id = ANY(%s)"
            " AND time >= %s GROUP BY 1 UNION ALL"
            " SELECT s.target_id, count(*) FROM samples x JOIN series s ON s.id = x.series_id"
            " WHERE s.target_id = ANY(%s) AND x.time >= %s GROUP BY 1",
            (ids, ev.started_at, ids, ev.started_at)).fetchall():
        stored[target] += n
    total_in, total_stored = sum(ev.rows_in.values()), sum(stored.values())
    differ = sorted(t for t in set(stored) | set(ev.rows_in) if stored[t] != ev.rows_in[t])
    return [
        Verdict("samples: count in = stored", f"{total_in} rows (collector tap)",
                f"{total_stored} stored" + (f"; differ: {', '.join(differ)}" if differ else ""),
                total_in == total_stored > 0 and not differ),
        Verdict("samples: rows written = stored", f"{ev.rows_written:.0f} (collector counter)",
                f"{total_stored} stored", ev.rows_written == total_stored),
    ]


def report_verdicts(report: dict[str, Any], ev: Evidence,
                    found: list[Episode]) -> list[Verdict]:
    """The weekly report lists each drill incident with the alert's duration."""
    items = report["incidents"]["items"]
    mine = [i for i in items if datetime.fromisoformat(i["started_at"]) >= ev.started_at]
    out = [Verdict("report: incidents listed", f"{len(found)} incidents",
                   f"{len(mine)} incidents since the drill started", len(mine) == len(found))]
    played = {(p.step.rule, p.step.target): p for p in ev.played}
    for e in found:
        out.append(_incident_verdict(e, mine, played.get((e.rule, e.target))))
    return out


def _incident_verdict(e: Episode, items: list[dict[str, Any]], p: Played | None) -> Verdict:
    name = f"report: {e.rule}/{e.target} duration"
    match = [i for i in items if i["rule"] == e.rule and e.target in i["summary"]
             and datetime.fromisoformat(i["started_at"]) == e.firing_at]
    if e.resolved_at is None or len(match) != 1:
        return Verdict(name, "listed once, resolved", f"{len(match)} entries", False)
    alert_s = (e.resolved_at - e.firing_at).total_seconds()
    listed = float(match[0]["duration_s"])
    fault_s = (p.ended_at - p.started_at).total_seconds() if p else float("nan")
    ok = (abs(listed - alert_s) <= sc.PROBE_INTERVAL_S
          and abs(listed - fault_s) <= sc.DETECT_ALLOWANCE_S)
    return Verdict(name, f"{alert_s:.1f}s (alert) ±{sc.PROBE_INTERVAL_S:g}s; fault "
                   f"{fault_s:.1f}s ±{sc.DETECT_ALLOWANCE_S:g}s", f"{listed:.1f}s listed", ok)
