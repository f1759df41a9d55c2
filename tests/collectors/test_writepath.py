"""The write path stores a batch exactly once, marks rollups dirty and announces flips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg

from collectors.model import Batch, ProbeResult, Sample, status_event
from collectors.writepath import SeriesCache, write_batch
from ioc import db

T0 = datetime(2026, 11, 23, 3, 0, 10, 123456, tzinfo=UTC)


def batch() -> Batch:
    results = [ProbeResult(T0 + timedelta(seconds=i), "portal-home", i % 3 != 0,
                           None if i % 3 else "timeout", 200, 12.5 + i, detail="x")
               for i in range(100)]
    samples = [Sample(T0 + timedelta(seconds=i), "portal_dossiers_late",
                      {"agency": agency, "system": "portal"}, float(i), "portal-stats")
               for i in range(50) for agency in ("STP", "SYT")]
    return Batch(results, samples, [status_event(results[0], "portal")])


async def test_replayed_batch_is_stored_once_with_rollup_minutes(fresh_db_url: str) -> None:
    b = batch()
    async with await db.connect_async(fresh_db_url) as conn:
        await write_batch(conn, b, SeriesCache(), "test")
        await write_batch(conn, b, SeriesCache(), "test")  # a replay, with a cold cache
        again = Batch.from_json(b.to_json())
        await write_batch(conn, again, SeriesCache(), "test")
    with db.connect(fresh_db_url) as conn:
        probes = conn.execute("SELECT count(*), count(*) FILTER (WHERE ok), "
                              "min(collector) FROM probe_results").fetchone()
        samples = conn.execute("SELECT count(*), count(DISTINCT series_id) FROM samples"
                               ).fetchone()
        series = conn.execute("SELECT labels FROM series ORDER BY labels->>'agency'"
                              ).fetchall()
        dirty = conn.execute("SELECT source, count(*) FROM rollup_dirty GROUP BY 1 ORDER BY 1"
                             ).fetchall()
        conn.execute("SELECT ioc_rollup_run()")
        total = conn.execute("SELECT sum(total) FROM probe_rollup_1m").fetchone()
    assert probes == (100, 66, "test")
    assert samples == (100, 2)
    assert [s[0] for s in series] == [{"agency": "STP", "system": "portal"},
                                      {"agency": "SYT", "system": "portal"}]
    assert dirty == [("probe", 2), ("sample", 1)]
    assert total == (100,)


async def test_status_event_is_notified_on_commit(fresh_db_url: str) -> None:
    listener = await psycopg.AsyncConnection.connect(fresh_db_url, autocommit=True)
    await listener.execute("LISTEN ioc_events")
    async with await db.connect_async(fresh_db_url) as conn:
        await write_batch(conn, batch(), SeriesCache())
    gen = listener.notifies(timeout=5, stop_after=1)
    events = [json.loads(n.payload) async for n in gen]
    await listener.close()
    assert events == [{"type": "status", "target_id": "portal-home", "system": "portal",
                       "ok": False, "reason": "timeout", "at": T0.isoformat()}]


def test_batch_survives_the_spool_serialisation() -> None:
    b = batch()
    again = Batch.from_json(b.to_json())
    assert again == b


async def test_batch_overlapping_stored_rows_adds_only_the_new_ones(fresh_db_url: str) -> None:
    b = batch()
    first = Batch(b.results[:60], b.samples[:40])
    overlap = Batch(b.results[30:], b.samples[20:])  # half already stored, half new
    async with await db.connect_async(fresh_db_url) as conn:
        await write_batch(conn, first, SeriesCache())
        await write_batch(conn, overlap, SeriesCache())
    with db.connect(fresh_db_url) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT time) FROM probe_results"
                            ).fetchone() == (100, 100)
        assert conn.execute("SELECT count(*) FROM samples").fetchone() == (100,)
        conn.execute("SELECT ioc_rollup_run()")
        assert conn.execute("SELECT sum(total) FROM probe_rollup_1m").fetchone() == (100,)
