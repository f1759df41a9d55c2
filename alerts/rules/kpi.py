"""`kpi_below`: a KPI from the one KPI definition (`ioc_kpi`) below its target.

The rule reads the same function as the wall, Grafana and the weekly report, so the figure in
the alert is the figure on the screens.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from alerts.rules.base import Context, RuleError, Sample, text_labels
from ioc.config.rules import KpiBelowRule, RuleBase


async def read_kpi(conn: AsyncConnection[Any], kpi: str, from_: datetime, to: datetime,
                   filter_: dict[str, str]) -> list[dict[str, Any]]:
    """Rows (labels, value, numerator, denominator) of `ioc_kpi` for [from_, to)."""
    try:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT kpi, labels, value, numerator, denominator"
                " FROM ioc_kpi(%s, %s, %s, %s::jsonb)",
                (kpi, from_, to, json.dumps(filter_, ensure_ascii=False)))
            rows = await cur.fetchall()
    except psycopg.errors.UndefinedFunction:
        raise RuleError("ioc_kpi() is not in the database: run `ioc db migrate`") from None
    for row in rows:
        row["labels"] = {"kpi": kpi, **text_labels(row["labels"])}
    return rows


def period_start(window: str, ctx: Context) -> datetime:
    """Start of today, this week (Monday) or this month in the province's time zone."""
    local = ctx.now.astimezone(ctx.timezone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "week":
        day -= timedelta(days=day.weekday())
    elif window == "month":
        day = day.replace(day=1)
    return day


class KpiBelow:
    """Rule kind `kpi_below`."""

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]:
        assert isinstance(rule, KpiBelowRule)
        rows = await read_kpi(conn, rule.kpi, period_start(rule.window, ctx), ctx.now,
                              dict(rule.filter))
        samples = []
        for row in rows:
            value = None if row["value"] is None else float(row["value"])
            enough = (row["denominator"] or 0) >= rule.min_denominator
            active = value is not None and enough and value < rule.target
            samples.append(Sample(row["labels"], value, active))
        return samples
