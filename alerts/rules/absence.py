"""`absence`: no data from the selected targets, or no heartbeat from a component.

The collector's own heartbeat is watched here too (the watcher is watched): a collector that
stops writing `collector_heartbeats.seen_at` fires this rule even though no probe failed.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from alerts.rules.base import Context, RuleError, Sample, text_labels
from ioc.config.rules import AbsenceRule, RuleBase

# component -> (table, instance expression); the engine writes alert_engine_heartbeats
HEARTBEAT_TABLES = {
    "collector": ("collector_heartbeats", "collector_id || '/' || shard::text"),
    "alerts": ("alert_engine_heartbeats", "instance"),
}


async def _rows(conn: AsyncConnection[Any], query: sql.SQL | sql.Composed,
                params: dict[str, Any]) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


def _age(last_at: datetime | None, now: datetime) -> float | None:
    return None if last_at is None else (now - last_at).total_seconds()


async def _heartbeats(conn: AsyncConnection[Any], rule: AbsenceRule,
                      ctx: Context) -> list[Sample]:
    assert rule.heartbeat is not None
    if rule.heartbeat not in HEARTBEAT_TABLES:
        raise RuleError(f"component '{rule.heartbeat}' records no heartbeat yet; "
                        f"watch one of: {', '.join(HEARTBEAT_TABLES)}")
    table, instance = HEARTBEAT_TABLES[rule.heartbeat]
    exists = await _rows(conn, sql.SQL("SELECT to_regclass(%(t)s) IS NOT NULL AS ok"),
                         {"t": table})
    rows = []
    if exists[0]["ok"]:
        rows = await _rows(conn, sql.SQL("SELECT {} AS instance, max(seen_at) AS seen_at"
                                         " FROM {} GROUP BY 1").format(
                                             sql.SQL(instance), sql.Identifier(table)), {})
    base = {"component": rule.heartbeat}
    if not rows:  # nothing has ever reported: that is the loudest absence of all
        return [Sample({**base, "instance": "none"}, None, True)]
    samples = []
    for row in rows:
        age = _age(row["seen_at"], ctx.now)
        samples.append(Sample({**base, "instance": row["instance"]}, age,
                              age is None or age > rule.after.total_seconds()))
    return samples


async def _targets(conn: AsyncConnection[Any], rule: AbsenceRule,
                   ctx: Context) -> list[Sample]:
    sel = rule.selector
    where: list[sql.Composable] = [sql.SQL("t.enabled")]
    params: dict[str, Any] = {"now": ctx.now,
                              "since": ctx.now - max(rule.after * 4, timedelta(hours=1))}
    if sel.targets:
        where.append(sql.SQL("t.id = ANY(%(targets)s)"))
        params["targets"] = list(sel.targets)
    if sel.system:
        where.append(sql.SQL("t.system = %(system)s"))
        params["system"] = sel.system
    if sel.labels:
        where.append(sql.SQL("t.labels @> %(labels)s::jsonb"))
        params["labels"] = json.dumps(sel.labels, ensure_ascii=False)
    query = sql.SQL(
        "SELECT t.id, t.system, t.labels::text AS labels, t.updated_at, t.interval_s, greatest("
        " (SELECT max(p.time) FROM probe_results p WHERE p.target_id = t.id"
        "   AND p.time > %(since)s AND p.time <= %(now)s),"
        " (SELECT max(x.time) FROM samples x JOIN series s ON s.id = x.series_id"
        "   WHERE s.target_id = t.id AND x.time > %(since)s AND x.time <= %(now)s)) AS last_at"
        " FROM targets t WHERE {}").format(sql.SQL(" AND ").join(where))
    samples = []
    for row in await _rows(conn, query, params):
        # A target that has never reported is absent from when it was (re)configured, so a
        # new target gets the same `after` grace as one that stopped reporting.
        age = _age(row["last_at"] or row["updated_at"], ctx.now)
        # a target polled less often than `after` is absent only after missing two polls
        limit = max(rule.after.total_seconds(), 2 * row["interval_s"])
        labels = {**text_labels(row["labels"]), "target": row["id"], "system": row["system"]}
        samples.append(Sample(labels, age, age is None or age > limit))
    return samples


class Absence:
    """Rule kind `absence`."""

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]:
        assert isinstance(rule, AbsenceRule)
        if rule.heartbeat is not None:
            return await _heartbeats(conn, rule, ctx)
        return await _targets(conn, rule, ctx)
