"""`threshold`: an aggregate of probe results, a metric or a KPI over a window, compared.

Latency percentiles use the same log-scale histogram and nearest-rank rule as
`ioc_latency_quantile` (computed from raw rows, so a fresh outage is seen before the rollups),
so an alert's p95 agrees with the wall's p95 for the same window.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from alerts.rules.base import Context, Sample, compare, text_labels
from ioc.config.rules import RuleBase, Selector, ThresholdRule

_QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
_PROBE_COLUMN = {"latency_ms": "x.duration_ms", "success_rate": "x.ok::int::float8",
                 "cert_days": "x.cert_days"}


def _aggregate(aggregate: str, column: str, window: timedelta) -> sql.Composable:
    """The SQL aggregate over `column` (a fixed expression, never user text)."""
    col = sql.SQL(column)
    simple = {"avg": "avg({})", "max": "max({})", "min": "min({})", "count": "count({})::float8",
              "last": "(array_agg({} ORDER BY x.time DESC) FILTER (WHERE {} IS NOT NULL))[1]"}
    if aggregate in simple:
        return sql.SQL(simple[aggregate]).format(col, col)
    if aggregate == "rate":
        return sql.SQL("count({})::float8 / {}").format(col, sql.Literal(window.total_seconds()))
    raise ValueError(f"aggregate {aggregate} is computed elsewhere")


def _probe_where(sel: Selector) -> tuple[sql.Composable, dict[str, Any]]:
    parts: list[sql.Composable] = [sql.SQL("x.time > %(from)s AND x.time <= %(now)s")]
    params: dict[str, Any] = {}
    if sel.targets:
        parts.append(sql.SQL("x.target_id = ANY(%(targets)s)"))
        params["targets"] = list(sel.targets)
    if sel.system:
        parts.append(sql.SQL("t.system = %(system)s"))
        params["system"] = sel.system
    if sel.labels:
        parts.append(sql.SQL("t.labels @> %(labels)s::jsonb"))
        params["labels"] = _json(sel.labels)
    return sql.SQL(" AND ").join(parts), params


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


async def _probe_rows(conn: AsyncConnection[Any], rule: ThresholdRule,
                      ctx: Context) -> list[dict[str, Any]]:
    assert rule.probe is not None
    where, params = _probe_where(rule.selector)
    params.update({"from": ctx.now - rule.window, "now": ctx.now})
    source = sql.SQL("probe_results x LEFT JOIN targets t ON t.id = x.target_id")
    if rule.aggregate in _QUANTILES:
        params["q"] = _QUANTILES[rule.aggregate]
        query = sql.SQL(
            "WITH h AS (SELECT x.target_id, t.system, t.labels, ioc_hist_index({col}) AS idx,"
            " count(*) AS n FROM {source} WHERE {where} AND {col} IS NOT NULL"
            " GROUP BY 1, 2, 3, 4)"
            " SELECT target_id, system, labels, ioc_hist_quantile(array_agg(idx ORDER BY idx),"
            " array_agg(n ORDER BY idx), %(q)s) AS value FROM h GROUP BY 1, 2, 3"
        ).format(col=sql.SQL(_PROBE_COLUMN[rule.probe]), source=source,
                 where=where)
    else:
        agg = _aggregate(rule.aggregate, _PROBE_COLUMN[rule.probe],
                         rule.window)
        query = sql.SQL(
            "SELECT x.target_id, t.system, t.labels, {agg} AS value FROM {source}"
            " WHERE {where} GROUP BY 1, 2, 3").format(agg=agg, source=source, where=where)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        rows = await cur.fetchall()
    for row in rows:
        row["labels"] = {**text_labels(row["labels"]), "target": row["target_id"],
                         **({"system": row["system"]} if row["system"] else {})}
    return rows


async def _metric_rows(conn: AsyncConnection[Any], rule: ThresholdRule,
                       ctx: Context) -> list[dict[str, Any]]:
    sel = rule.selector
    parts = [sql.SQL("s.name = %(metric)s")]
    params: dict[str, Any] = {"metric": rule.metric, "from": ctx.now - rule.window,
                              "now": ctx.now}
    if sel.labels:
        parts.append(sql.SQL("s.labels @> %(labels)s::jsonb"))
        params["labels"] = _json(sel.labels)
    if sel.targets:
        parts.append(sql.SQL("s.target_id = ANY(%(targets)s)"))
        params["targets"] = list(sel.targets)
    if sel.system:
        parts.append(sql.SQL("coalesce(s.labels->>'system', t.system) = %(system)s"))
        params["system"] = sel.system
    if rule.aggregate in _QUANTILES:
        params["q"] = _QUANTILES[rule.aggregate]
        agg: sql.Composable = sql.SQL("percentile_cont(%(q)s) WITHIN GROUP (ORDER BY x.value)")
    else:
        agg = _aggregate(rule.aggregate, "x.value", rule.window)
    query = sql.SQL(
        "SELECT s.id, s.labels, t.system, {agg} AS value FROM series s"
        " LEFT JOIN targets t ON t.id = s.target_id"
        " JOIN samples x ON x.series_id = s.id AND x.time > %(from)s AND x.time <= %(now)s"
        " WHERE {where} GROUP BY s.id, s.labels, t.system"
    ).format(agg=agg, where=sql.SQL(" AND ").join(parts))
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        rows = await cur.fetchall()
    for row in rows:
        labels = text_labels(row["labels"])
        if row["system"] and "system" not in labels:
            labels["system"] = row["system"]
        row["labels"] = labels
    return rows


async def _kpi_rows(conn: AsyncConnection[Any], rule: ThresholdRule,
                    ctx: Context) -> list[dict[str, Any]]:
    from alerts.rules.kpi import read_kpi

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
        return [Sample(r["labels"], _float(r["value"]),
                       compare(_float(r["value"]), rule.op, rule.value)) for r in rows]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
