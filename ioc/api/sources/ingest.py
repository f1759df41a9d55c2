"""Push ingestion: samples sent by a monitored system, written like any collector's."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row


async def ingest(conn: psycopg.AsyncConnection, samples: list[dict[str, Any]]) -> int:
    """Write samples (name, labels, value, time) idempotently; returns how many were new.

    Same write path as the collectors: series upsert, samples keyed (series, time), and the
    touched minutes marked dirty in the same transaction so the rollups catch up.
    """
    written = 0
    async with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        ids: dict[tuple[str, str], int] = {}
        for s in samples:
            key = (s["name"], json.dumps(s["labels"], sort_keys=True))
            if key not in ids:
                await cur.execute(
                    "INSERT INTO series (name, labels) VALUES (%s, %s::jsonb) "
                    "ON CONFLICT (name, labels) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                    key,
                )
                row = await cur.fetchone()
                assert row is not None
                ids[key] = int(row[0])
        for s in samples:
            await cur.execute(
                "INSERT INTO samples (time, series_id, value) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (s["time"], ids[(s["name"], json.dumps(s["labels"], sort_keys=True))],
                 s["value"]),
            )
            written += cur.rowcount
        minutes = sorted({_minute(s["time"]) for s in samples})
        await cur.executemany(
            "INSERT INTO rollup_dirty (source, minute) VALUES ('sample', %s) "
            "ON CONFLICT DO NOTHING", [(m,) for m in minutes])
    return written


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)
