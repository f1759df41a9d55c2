"""`down`: a target whose latest `consecutive_failures` probes all failed.

Judged per target on its own latest probes, not on a window: a total outage is confirmed by the
second failed probe (one probe interval after the first), whatever the window rules would need,
and one failed probe followed by a good one never pages. The value is how many of the latest
probes failed in a row (at most `consecutive_failures`).

Only recent probes count: those newer than (consecutive_failures + 1) × the target's interval +
30 s (room for a probe's timeout and the collector's flush). When there are none, or only failed
ones but fewer than required (the collector was stopped, or has just restarted), there is no
verdict (`Sample.hold`): a firing alert stays firing until a good probe arrives, and a quiet one
waits for the confirmation. The silence itself is the `absence` rules' business.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from alerts.rules.base import Context, Sample, target_conditions, text_labels
from ioc.config.rules import DownRule, RuleBase

SLACK_S = 30.0


class Down:
    """Rule kind `down`."""

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]:
        assert isinstance(rule, DownRule)
        n = rule.consecutive_failures
        params: dict[str, Any] = {"now": ctx.now, "n": n, "slack": SLACK_S}
        where = target_conditions(rule.selector, params)
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT coalesce(max(interval_s), 0) AS s FROM targets")
            widest = await cur.fetchone()
            # a constant lower bound too, so TimescaleDB skips old chunks at plan time
            params["from"] = ctx.now - timedelta(
                seconds=(n + 1) * float(widest["s"] if widest else 0) + SLACK_S)
            await cur.execute(sql.SQL(
                "SELECT t.id, t.system, t.labels::text AS labels, p.oks FROM targets t"
                " LEFT JOIN LATERAL (SELECT array_agg(r.ok ORDER BY r.time DESC) AS oks FROM"
                "  (SELECT x.ok, x.time FROM probe_results x WHERE x.target_id = t.id"
                "    AND x.time > %(from)s AND x.time <= %(now)s"
                "    AND x.time > %(now)s - ((%(n)s + 1) * t.interval_s + %(slack)s)"
                "        * interval '1 second'"
                "   ORDER BY x.time DESC LIMIT %(n)s) r) p ON true"
                " WHERE {}").format(sql.SQL(" AND ").join(where)), params)
            rows = await cur.fetchall()
        samples = []
        for row in rows:
            oks: list[bool] = row["oks"] or []
            failed = next((i for i, ok in enumerate(oks) if ok), len(oks))  # leading failures
            labels = {**text_labels(row["labels"]), "target": row["id"], "system": row["system"]}
            if failed >= n:
                samples.append(Sample(labels, float(failed), True))
            elif failed == len(oks):  # no recent probe, or too few to confirm either way
                samples.append(Sample(labels, float(failed), False, hold=True))
            else:
                samples.append(Sample(labels, float(failed), False))
        return samples
