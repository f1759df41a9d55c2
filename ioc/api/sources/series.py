"""Time series for a window, from the 1-minute or 1-hour rollups."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

Step = Literal["1m", "1h"]
_TABLE_SUFFIX: dict[str, str] = {"1m": "1m", "1h": "1h"}


async def probe_series(conn: psycopg.AsyncConnection, target_id: str, from_: datetime,
                       to: datetime, step: Step) -> list[dict[str, Any]]:
    """Per bucket: probes, successes and latency (mean, min, max) of one target."""
    table = f"probe_rollup_{_TABLE_SUFFIX[step]}"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT bucket, total, ok, latency_min, latency_max, "
            "CASE WHEN latency_n > 0 THEN latency_sum / latency_n END AS latency_mean "
            f"FROM {table} WHERE target_id = %s AND bucket >= %s AND bucket < %s "
            "ORDER BY bucket",
            (target_id, from_, to),
        )
        return await cur.fetchall()


async def sample_series(conn: psycopg.AsyncConnection, name: str, labels: dict[str, str],
                        from_: datetime, to: datetime, step: Step,
                        limit: int) -> list[dict[str, Any]]:
    """Series named `name` whose labels include `labels`, each with its rolled-up points."""
    table = f"sample_rollup_{_TABLE_SUFFIX[step]}"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, name, labels, target_id FROM series WHERE name = %s "
            "AND labels @> %s::jsonb ORDER BY id LIMIT %s",
            (name, json.dumps(labels), limit),
        )
        found = await cur.fetchall()
        for series in found:
            await cur.execute(
                "SELECT bucket, count, sum / nullif(count, 0) AS mean, min, max, last "
                f"FROM {table} WHERE series_id = %s AND bucket >= %s AND bucket < %s "
                "ORDER BY bucket",
                (series["id"], from_, to),
            )
            series["points"] = await cur.fetchall()
    return found


async def target_exists(conn: psycopg.AsyncConnection, target_id: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM targets WHERE id = %s", (target_id,))
    return await cur.fetchone() is not None
