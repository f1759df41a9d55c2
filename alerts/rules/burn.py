"""`burn_rate`: SLO error-budget burn over paired windows (multi-window, multi-burn-rate).

Burn rate = error ratio over a window ÷ (1 − objective). A pair fires when both its long and its
short window burn faster than its factor: the long window makes it significant, the short one
makes it stop soon after the problem does (Google SRE workbook, chapter 5). Both windows must also
hold `min_bad_events` (2) bad events: on little data (a fresh install, a quiet system) one failed
probe is a huge ratio, never a trend. The defaults page on 1h/5m at 14.4× and 6h/30m at 6×, and
open a ticket on 3d/6h at 1×. Windows up to an hour read raw probe results; longer ones read the
1-minute rollups (a minute of lag is nothing there).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from alerts.rules.base import Context, Objective, RuleError, Sample
from ioc.config.rules import BurnRateRule, RuleBase

RAW_LIMIT = timedelta(hours=1)


def _good_raw(obj: Objective) -> sql.Composable:
    if obj.latency_ms is None:
        return sql.SQL("x.ok")
    return sql.SQL("x.ok AND x.duration_ms <= {}").format(sql.Literal(obj.latency_ms))


def _good_rollup(obj: Objective) -> sql.Composable:
    if obj.latency_ms is None:
        return sql.SQL("r.ok")
    return sql.SQL(
        "least(r.ok, (SELECT coalesce(sum(u.c), 0) FROM unnest(r.hist_idx, r.hist_cnt) AS"
        " u(i, c) WHERE ioc_hist_value(u.i) <= {}))").format(sql.Literal(obj.latency_ms))


def _counts_query(windows: list[timedelta], obj: Objective, raw: bool) -> sql.Composed:
    cols: list[sql.Composable] = []
    for i, _ in enumerate(windows):
        since = sql.Placeholder(f"f{i}")
        if raw:
            cols.append(sql.SQL("count(*) FILTER (WHERE x.time > {s}), count(*) FILTER"
                                " (WHERE x.time > {s} AND {g})").format(s=since, g=_good_raw(obj)))
        else:
            cols.append(sql.SQL("sum(r.total) FILTER (WHERE r.bucket >= {s}), sum({g}) FILTER"
                                " (WHERE r.bucket >= {s})").format(s=since, g=_good_rollup(obj)))
    if raw:
        source = sql.SQL("probe_results x JOIN targets t ON t.id = x.target_id WHERE"
                         " t.system = %(system)s AND x.time > %(from)s AND x.time <= %(now)s")
    else:
        source = sql.SQL("probe_rollup_1m r JOIN targets t ON t.id = r.target_id WHERE"
                         " t.system = %(system)s AND r.bucket >= %(from)s AND r.bucket <= %(now)s")
    return sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(cols), source)


async def _burns(conn: AsyncConnection[Any], rule: BurnRateRule, obj: Objective,
                 ctx: Context) -> dict[timedelta, tuple[float | None, int]]:
    """Burn rate and number of bad events of each distinct window length."""
    lengths = sorted({w for pair in rule.windows for w in (pair.long, pair.short)})
    burns: dict[timedelta, tuple[float | None, int]] = {}
    for raw in (True, False):
        group = [w for w in lengths if (w <= RAW_LIMIT) == raw]
        if not group:
            continue
        params: dict[str, Any] = {"system": rule.system, "now": ctx.now,
                                  "from": ctx.now - max(group)}
        params.update({f"f{i}": ctx.now - w for i, w in enumerate(group)})
        async with conn.cursor() as cur:
            await cur.execute(_counts_query(group, obj, raw), params)
            row = await cur.fetchone()
        assert row is not None
        for i, w in enumerate(group):
            total, good = row[2 * i] or 0, row[2 * i + 1] or 0
            burns[w] = (None if total == 0 else (1 - good / total) / (1 - obj.target),
                        int(total - good))
    return burns


async def objective(conn: AsyncConnection[Any], system: str, slo: str) -> Objective:
    """The system's objective from `slo_objectives` (loaded from the config by the KPI layer)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT availability, latency_ms, latency_quantile"
                          " FROM slo_objectives WHERE system = %s", (system,))
        row = await cur.fetchone()
    if row is None:
        raise RuleError(f"no objective for system {system} in slo_objectives: set "
                        f"systems.{system}.slo in the config")
    if slo == "latency":
        return Objective(row["latency_quantile"], row["latency_ms"])
    return Objective(row["availability"])


class BurnRate:
    """Rule kind `burn_rate`: one alert per severity (page: critical, ticket: the rest)."""

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]:
        assert isinstance(rule, BurnRateRule)
        obj = await objective(conn, rule.system, rule.slo)
        burns = await _burns(conn, rule, obj, ctx)
        samples = []
        for severity in sorted({p.severity for p in rule.windows}):
            pairs = [p for p in rule.windows if p.severity == severity]
            firing = [p for p in pairs if _exceeds(burns[p.long], p.factor, rule.min_bad_events)
                      and _exceeds(burns[p.short], p.factor, rule.min_bad_events)]
            shown = firing[0] if firing else pairs[0]
            labels = {"system": rule.system, "slo": rule.slo,
                      "slo_alert": "page" if severity == "critical" else "ticket"}
            samples.append(Sample(labels, burns[shown.long][0], bool(firing), severity))
        return samples


def _exceeds(window: tuple[float | None, int], factor: float, min_bad: int) -> bool:
    """Burning faster than `factor`, on at least `min_bad` bad events: with little data (a fresh
    install, a quiet system) one bad probe is a large ratio, but never a trend."""
    burn, bad = window
    return burn is not None and burn > factor and bad >= min_bad
