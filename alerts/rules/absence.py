"""`absence`: no data from the selected targets, or no heartbeat from a component.

The collector's own heartbeat is watched here too (the watcher is watched): a collector that
stops writing `collector_heartbeats.seen_at` fires this rule even though no probe failed.

Start-up grace. Silence is measured from the last data, but it is only *judged* once the
observers have had their chance: a series whose silence exceeds the limit gives no verdict
(`Sample.hold`) until the limit has also passed since the latest of
- the start of the evaluating engine (`Context.engine_started`),
- for a target: when it was registered or reconfigured (`targets.updated_at`) and when the
  collector of its shard last started (`collector_heartbeats.started_at`),
- for a heartbeat: the component's own start record (`started_at`).
So a (re)start of the demo, a deploy of the collector or of the engine never pages for the gap it
left, while a silence that outlasts the grace pages as before; and since a held alert keeps its
state, a restart never resolves an absence that is still going on either.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from alerts.rules.base import Context, RuleError, Sample, target_conditions, text_labels
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
        rows = await _rows(conn, sql.SQL("SELECT {} AS instance, max(seen_at) AS seen_at,"
                                         " max(started_at) AS started_at FROM {} GROUP BY 1"
                                         ).format(sql.SQL(instance), sql.Identifier(table)), {})
    base = {"component": rule.heartbeat}
    if not rows:  # nothing has ever reported: the loudest absence of all, once past the grace
        return [_judged({**base, "instance": "none"}, None, rule.after, None, ctx)]
    return [_judged({**base, "instance": row["instance"]}, _age(row["seen_at"], ctx.now),
                    rule.after, row["started_at"], ctx) for row in rows]


def _judged(labels: dict[str, str], age: float | None, limit: timedelta,
            started: datetime | None, ctx: Context) -> Sample:
    """Silent for `age` seconds (None: never heard of): inactive within the limit, else absent,
    unless the observer (re)started or the engine started too recently to tell (held)."""
    if age is not None and age <= limit.total_seconds():
        return Sample(labels, age, False)
    if ctx.in_grace(started, limit):
        return Sample(labels, age, False, hold=True)
    return Sample(labels, age, True)


@lru_cache(maxsize=65536)
def shard_of(target_id: str, shards: int) -> int:
    """The collector shard that polls a target: collectors.scheduler.in_shard restated (this
    package never imports collectors; tests/alerts/test_grace.py checks they agree)."""
    digest = hashlib.sha256(target_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


async def _collector_starts(conn: AsyncConnection[Any]) -> dict[tuple[int, int], datetime]:
    """The latest start of a collector process per shard ("i/n" -> (i, n))."""
    starts: dict[tuple[int, int], datetime] = {}
    for row in await _rows(conn, sql.SQL("SELECT shard, max(started_at) AS started_at"
                                         " FROM collector_heartbeats GROUP BY 1"), {}):
        index, _, count = str(row["shard"]).partition("/")
        if index.isdigit() and count.isdigit() and int(count) > 0:
            starts[(int(index), int(count))] = row["started_at"]
    return starts


def _observer_start(target_id: str, starts: dict[tuple[int, int], datetime]) -> datetime | None:
    found = [at for (index, count), at in starts.items() if shard_of(target_id, count) == index]
    return max(found, default=None)


async def _targets(conn: AsyncConnection[Any], rule: AbsenceRule,
                   ctx: Context) -> list[Sample]:
    params: dict[str, Any] = {"now": ctx.now,
                              "since": ctx.now - max(rule.after * 4, timedelta(hours=1))}
    where = target_conditions(rule.selector, params)
    query = sql.SQL(
        "SELECT t.id, t.system, t.labels::text AS labels, t.updated_at, t.interval_s, greatest("
        " (SELECT max(p.time) FROM probe_results p WHERE p.target_id = t.id"
        "   AND p.time > %(since)s AND p.time <= %(now)s),"
        " (SELECT max(x.time) FROM samples x JOIN series s ON s.id = x.series_id"
        "   WHERE s.target_id = t.id AND x.time > %(since)s AND x.time <= %(now)s)) AS last_at"
        " FROM targets t WHERE {}").format(sql.SQL(" AND ").join(where))
    starts = await _collector_starts(conn)
    samples = []
    for row in await _rows(conn, query, params):
        # A target that has never reported is absent from when it was (re)configured, so a
        # new target gets the same `after` grace as one that stopped reporting.
        age = _age(row["last_at"] or row["updated_at"], ctx.now)
        # a target polled less often than `after` is absent only after missing two polls
        limit = max(rule.after, timedelta(seconds=2 * row["interval_s"]))
        labels = {**text_labels(row["labels"]), "target": row["id"], "system": row["system"]}
        observer = _observer_start(row["id"], starts)
        since = max((t for t in (row["updated_at"], observer) if t is not None), default=None)
        samples.append(_judged(labels, age, limit, since, ctx))
    return samples


class Absence:
    """Rule kind `absence`."""

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]:
        assert isinstance(rule, AbsenceRule)
        if rule.heartbeat is not None:
            return await _heartbeats(conn, rule, ctx)
        return await _targets(conn, rule, ctx)
