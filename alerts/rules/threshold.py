"""`threshold`: an aggregate of probe results, a metric or a KPI over a window, compared.

Latency percentiles follow `ioc_latency_quantile` (log-scale histogram, nearest rank), computed
from raw rows so a fresh outage is seen before the rollups: an alert's p95 is the wall's p95.
Rows are aggregated per target (or series) first and joined to their labels after, so 10,000
series cost one index scan and no sort on label sets.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from alerts.rules.base import Context, Sample, compare, text_labels
from alerts.rules.kpi import read_kpi
from ioc.config.rules import RuleBase, Selector, ThresholdRule

_QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
_PROBE_COLUMN = {"latency_ms": "x.duration_ms", "success_rate": "x.ok::int::float8",
                 "cert_days": "x.cert_days"}


def _aggregate(aggregate: str, column: str, window: timedelta,
               seconds: sql.Composable | None = None) -> sql.Composable:
    """The SQL aggregate over `column` (a fixed expression, never user text).

    `seconds` is the window's length as SQL when it differs per group (probes: see _probe_rows).
    """
    col = sql.SQL(column)
    seconds = seconds if seconds is not None else sql.Literal(window.total_seconds())
    if aggregate in _QUANTILES:
        quantile = sql.SQL("percentile_disc({}) WITHIN GROUP (ORDER BY {})").format(
            sql.Literal(_QUANTILES[aggregate]), col)
        if column == _PROBE_COLUMN["latency_ms"]:
            # the histogram's nearest-rank quantile is the bucket of the raw nearest-rank value
            # (bucketing keeps order): one bucket lookup per target, exactly the rollups' answer
            # (ioc_alert_hist_round = ioc_hist_value(ioc_hist_index(..)), only faster)
            return sql.SQL("ioc_alert_hist_round({})").format(quantile)
        return quantile
    if aggregate == "rate":
        return sql.SQL("count({})::float8 / {}").format(col, seconds)
    simple = {"avg": "avg({})", "max": "max({})", "min": "min({})", "count": "count({})::float8",
              "last": "(array_agg({} ORDER BY x.time DESC) FILTER (WHERE {} IS NOT NULL))[1]"}
    return sql.SQL(simple[aggregate]).format(col, col)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _target_filter(sel: Selector, params: dict[str, Any]) -> list[sql.Composable]:
    """Conditions on the targets table (alias t) for a selector's system and labels."""
    found: list[sql.Composable] = []
    if sel.system:
        found.append(sql.SQL("t.system = %(system)s"))
        params["system"] = sel.system
    if sel.labels:
        found.append(sql.SQL("t.labels @> %(labels)s::jsonb"))
        params["labels"] = _json(sel.labels)
    return found


async def _fetch(conn: AsyncConnection[Any], query: sql.SQL | sql.Composed,
                 params: dict[str, Any]) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def _probe_rows(conn: AsyncConnection[Any], rule: ThresholdRule,
                      ctx: Context) -> list[dict[str, Any]]:
    """One value per target over its window.

    A target polled less often than every half window is judged over its last two polls
    (window = max(window, 2 × interval)), as the absence rule does: otherwise one failed poll of
    a 5-minute target fills a 2-minute window alone and pages, and the window then empties
    between polls, which would resolve an outage that is still going on.
    """
    assert rule.probe is not None
    widest = await _fetch(conn, sql.SQL("SELECT coalesce(max(interval_s), 0) AS s FROM targets"),
                          {})
    floor = max(rule.window, timedelta(seconds=2 * float(widest[0]["s"])))
    params: dict[str, Any] = {"from": ctx.now - floor, "now": ctx.now,
                              "window": rule.window.total_seconds()}
    span = sql.SQL("greatest(%(window)s, 2 * w.interval_s)")
    where: list[sql.Composable] = [
        sql.SQL("x.time > %(from)s AND x.time <= %(now)s"),
        sql.SQL("x.time > %(now)s - {} * interval '1 second'").format(span)]
    if rule.selector.targets:
        where.append(sql.SQL("x.target_id = ANY(%(targets)s)"))
        params["targets"] = list(rule.selector.targets)
    by_target = _target_filter(rule.selector, params)
    if by_target:
        where.append(sql.SQL("x.target_id IN (SELECT t.id FROM targets t WHERE {})").format(
            sql.SQL(" AND ").join(by_target)))
    column = _PROBE_COLUMN[rule.probe]
    query = sql.SQL(
        "SELECT a.target_id, t.system, t.labels::text AS labels, a.value FROM"
        " (SELECT x.target_id, {agg} AS value FROM probe_results x"
        "  JOIN targets w ON w.id = x.target_id WHERE {where}"
        "  GROUP BY 1) a LEFT JOIN targets t ON t.id = a.target_id"
    ).format(agg=_aggregate(rule.aggregate, column, rule.window,
                            sql.SQL("max({})").format(span)),
             where=sql.SQL(" AND ").join(where))
    rows = await _fetch(conn, query, params)
    for row in rows:
        row["labels"] = {**text_labels(row["labels"]), "target": row["target_id"],
                         **({"system": row["system"]} if row["system"] else {})}
    return rows


async def _metric_rows(conn: AsyncConnection[Any], rule: ThresholdRule,
                       ctx: Context) -> list[dict[str, Any]]:
    sel = rule.selector
    params: dict[str, Any] = {"metric": rule.metric, "from": ctx.now - rule.window,
                              "now": ctx.now}
    where: list[sql.Composable] = [sql.SQL("s.name = %(metric)s")]
    if sel.labels:
        where.append(sql.SQL("s.labels @> %(labels)s::jsonb"))
        params["labels"] = _json(sel.labels)
    if sel.targets:
        where.append(sql.SQL("s.target_id = ANY(%(targets)s)"))
        params["targets"] = list(sel.targets)
    if sel.system:
        where.append(sql.SQL("coalesce(s.labels->>'system', t.system) = %(system)s"))
        params["system"] = sel.system
    # join the series inside (the planner sees how many match) and their labels outside
    query = sql.SQL(
        "SELECT s.id, s.labels::text AS labels, t.system, a.value FROM"
        " (SELECT x.series_id, {agg} AS value FROM samples x JOIN series s ON s.id = x.series_id"
        "  LEFT JOIN targets t ON t.id = s.target_id"
        "  WHERE {where} AND x.time > %(from)s AND x.time <= %(now)s GROUP BY 1) a"
        " JOIN series s ON s.id = a.series_id LEFT JOIN targets t ON t.id = s.target_id"
    ).format(agg=_aggregate(rule.aggregate, "x.value", rule.window),
             where=sql.SQL(" AND ").join(where))
    rows = await _fetch(conn, query, params)
    for row in rows:
        labels = text_labels(row["labels"])
        if row["system"] and "system" not in labels:
            labels["system"] = row["system"]
        row["labels"] = labels
    return rows


async def _kpi_rows(conn: AsyncConnection[Any], rule: ThresholdRule,
                    ctx: Context) -> list[dict[str, Any]]:
    filt = dict(rule.selector.labels)
    if rule.selector.system:
        filt["system"] = rule.selector.system
    assert rule.kpi is not None
    return await read_kpi(conn, rule.kpi, ctx.now - rule.window, ctx.now, filt)


class Threshold:
    """Rule kind `threshold`."""

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]:
        assert isinstance(rule, ThresholdRule)
        if rule.probe is not None:
            rows = await _probe_rows(conn, rule, ctx)
        elif rule.metric is not None:
            rows = await _metric_rows(conn, rule, ctx)
        else:
            rows = await _kpi_rows(conn, rule, ctx)
        samples = []
        for r in rows:
            value = None if r["value"] is None else float(r["value"])
            samples.append(Sample(r["labels"], value, compare(value, rule.op, rule.value)))
        return samples
