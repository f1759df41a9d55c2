"""`system_down`: enough of a system's critical targets down together, one alert per system.

A critical target is down when its latest `consecutive_failures` recent probes all failed (the
same reading as `down`, alerts/rules/down.py). The alert of a system fires when at least
`min_targets` of its critical targets, and at least `fraction` of those with recent probes, are
down; once firing it stays so while any of them is still down, so a system coming back target by
target resolves once, when the last one answers. Without recent probes of any critical target
(collector stopped) there is no verdict.

The alert's `targets` annotation lists the targets down and since when (the first failed probe
of the current run of failures), in the province's time zone: what the first notification says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from alerts.rules.base import Context, Sample
from alerts.rules.down import SLACK_S
from ioc.config.rules import RuleBase, SystemDownRule

LOOKBACK = "1 day"
"""How far back the start of a run of failures is looked for."""

_QUERY = f"""
SELECT t.id, t.system, t.name, p.oks, s.since FROM targets t
LEFT JOIN LATERAL (SELECT array_agg(r.ok ORDER BY r.time DESC) AS oks FROM
  (SELECT x.ok, x.time FROM probe_results x WHERE x.target_id = t.id
    AND x.time <= %(now)s
    AND x.time > %(now)s - ((%(n)s + 1) * t.interval_s + %(slack)s) * interval '1 second'
   ORDER BY x.time DESC LIMIT %(n)s) r) p ON true
LEFT JOIN LATERAL (SELECT min(y.time) AS since FROM probe_results y WHERE y.target_id = t.id
    AND y.time <= %(now)s AND NOT y.ok AND y.time > coalesce(
      (SELECT max(z.time) FROM probe_results z WHERE z.target_id = t.id AND z.ok
        AND z.time <= %(now)s AND z.time > %(now)s - interval '{LOOKBACK}'),
      %(now)s - interval '{LOOKBACK}')) s ON true
WHERE t.enabled AND t.id = ANY(%(critical)s)
ORDER BY t.system, s.since NULLS LAST, t.id
"""


def _since(value: datetime | None, ctx: Context) -> str:
    return value.astimezone(ctx.timezone).strftime("%H:%M:%S %d/%m") if value else "?"


class SystemDown:
    """Rule kind `system_down`."""

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]:
        assert isinstance(rule, SystemDownRule)
        n = rule.consecutive_failures
        params: dict[str, Any] = {"now": ctx.now, "n": n, "slack": SLACK_S,
                                  "critical": list(rule.critical), "rule": rule.id}
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_QUERY, params)
            rows = await cur.fetchall()
            await cur.execute("SELECT labels->>'system' AS system FROM alerts"
                              " WHERE rule_id = %(rule)s AND state = 'firing'", params)
            firing = {r["system"] for r in await cur.fetchall()}
        by_system: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_system.setdefault(row["system"], []).append(row)
        samples = []
        for system, members in by_system.items():
            judged = [m for m in members if m["oks"]]
            down = [m for m in judged if len(m["oks"]) >= n and not any(m["oks"])]
            labels = {"system": system}
            if not judged:  # no recent probe at all: collectors stopped, not a verdict
                samples.append(Sample(labels, None, False, hold=True))
                continue
            enough = len(down) >= rule.min_targets and len(down) >= rule.fraction * len(judged)
            active = enough or (system in firing and bool(down))
            listed = "; ".join(f"{m['name']} ({m['id']}, lỗi từ {_since(m['since'], ctx)})"
                               for m in down)
            samples.append(Sample(labels, float(len(down)), active,
                                  annotations={"targets": listed,
                                               "description": f"Không phản hồi: {listed}"}
                                  if down else None))
        return samples
