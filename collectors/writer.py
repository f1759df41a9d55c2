"""Batches outcomes and flushes them by size or age; spools while the database is unreachable.

One task does all writing, so the spool is a queue in order: once anything is spooled, new
batches follow it into the spool until the replay has caught up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import psycopg

from collectors.metrics import CollectorMetrics
from collectors.model import Batch, Outcome
from collectors.spool import Spool, read_segment
from collectors.writepath import UNREACHABLE, SeriesCache, write_batch
from ioc import db

log = logging.getLogger(__name__)


class BatchWriter:
    """The collector's write path: in-memory batch, database, and the spool behind it."""

    def __init__(self, database_url: str, spool: Spool, metrics: CollectorMetrics, *,
                 collector_id: str | None = None, max_rows: int = 5000, max_age_s: float = 1.0,
                 retry_s: float = 2.0, drain_budget_s: float = 5.0, write_timeout_s: float = 30.0,
                 replay_rows: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._url = database_url
        self.spool = spool
        self._metrics = metrics
        self._collector_id = collector_id
        self._max_rows = max_rows
        self._max_age_s = max_age_s
        self._retry_s = retry_s
        self._drain_budget_s = drain_budget_s
        self._write_timeout_s = write_timeout_s
        self._replay_rows = replay_rows
        self._clock = clock
        self._pending = Batch()
        self._wake = asyncio.Event()
        self._stopping = False
        self._conn: psycopg.AsyncConnection | None = None
        self._series = SeriesCache()
        self._retry_at = 0.0
        self._progress: dict[str, int] = {}
        self._dropped_seen = 0
        self.stored_rows = 0

    def add(self, outcome: Outcome, event: str | None = None) -> None:
        """Queue one collection's rows (and its status event) for the next flush."""
        if outcome.result is not None:
            self._pending.results.append(outcome.result)
        self._pending.samples.extend(outcome.samples)
        if event is not None:
            self._pending.events.append(event)
        if len(self._pending) >= self._max_rows:
            self._wake.set()

    async def run(self) -> None:
        """Flush whenever the batch is full or `max_age_s` has passed, until `stop`."""
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), self._max_age_s)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Store (or spool) what is pending, and replay the spool when the database is back."""
        batch, self._pending = self._pending, Batch()
        if self.spool.segments():
            if len(batch) or batch.events:
                await self._spool(batch)
            await self._drain()
        elif len(batch) or batch.events:
            if not await self._write(batch):
                await self._spool(batch)
        await asyncio.to_thread(self._spool_gauges)

    def _spool_gauges(self) -> None:
        """Spool size in bytes, files and batches still to replay; bytes dropped when full."""
        m = self._metrics
        m.spool_bytes.set(self.spool.size_bytes())
        m.spool_segments.set(len(self.spool.segments()))
        m.spool_pending.set(max(0, self.spool.records() - sum(self._progress.values())))
        if self.spool.dropped_bytes > self._dropped_seen:
            m.spool_dropped_bytes.inc(self.spool.dropped_bytes - self._dropped_seen)
            self._dropped_seen = self.spool.dropped_bytes

    async def stop(self, task: asyncio.Task[None]) -> None:
        """End `run` (running as `task`) after the flush under way; never cut a flush short."""
        self._stopping = True
        self._wake.set()
        await task

    async def close(self) -> None:
        """Flush everything; what cannot be stored now is spooled. Then close the connection."""
        await self.flush()
        self.spool.seal()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _write(self, batch: Batch) -> bool:
        """Store one batch; False when the database is unreachable (the caller spools it)."""
        if self._clock() < self._retry_at:
            return False
        start = time.perf_counter()
        try:
            # A database that stops answering (no refusal, no reset) must not stall the writer.
            async with asyncio.timeout(self._write_timeout_s):
                if self._conn is None or self._conn.closed:
                    self._conn = await db.connect_async(self._url, app="ioc-collector")
                await write_batch(self._conn, batch, self._series, self._collector_id)
        except (*UNREACHABLE, TimeoutError) as exc:
            await self._lost(exc)
            return False
        except psycopg.Error as exc:
            self._metrics.rejected_batches.inc()
            path = await asyncio.to_thread(self.spool.reject, batch.to_json(),
                                           f"{type(exc).__name__}: {exc}")
            log.error("the database refused a batch of %d rows (%s); kept in %s",
                      len(batch), type(exc).__name__, path)
            return True
        self._metrics.flush_duration.observe(time.perf_counter() - start)
        self._metrics.rows_written.inc(len(batch))
        self.stored_rows += len(batch)
        return True

    async def _lost(self, exc: BaseException) -> None:
        log.warning("database unreachable (%s); spooling, retry in %.0fs",
                    type(exc).__name__, self._retry_s)
        self._retry_at = self._clock() + self._retry_s
        if self._conn is not None:
            try:
                await self._conn.close()
            except UNREACHABLE:
                pass
            self._conn = None

    async def _spool(self, batch: Batch) -> None:
        await asyncio.to_thread(self.spool.append, batch.to_json())
        self._metrics.spool_batches.inc()

    async def _drain(self) -> None:
        """Replay sealed segments in order; stop at the first batch that cannot be stored."""
        if self._clock() < self._retry_at:
            return
        self.spool.seal()
        deadline = self._clock() + self._drain_budget_s
        for path in self.spool.sealed():
            seg = await asyncio.to_thread(read_segment, path)
            if path.name not in self._progress:
                for problem in seg.problems:
                    log.error("spool %s: %s", path.name, problem)
                    self._metrics.spool_problems.inc()
            done = self._progress.setdefault(path.name, 0)
            while done < len(seg.records):
                # A long backlog is replayed a slice per flush, so new batches keep moving.
                if self._clock() > deadline:
                    return
                count, merged = self._merge(seg.records, done)
                if not await self._write(merged):
                    return
                self._metrics.spool_replayed.inc(count)
                done += count
                self._progress[path.name] = done
            self.spool.remove(path)
            self._progress.pop(path.name, None)

    def _merge(self, records: list[bytes], start: int) -> tuple[int, Batch]:
        """Consecutive records from `start` as one batch of up to `replay_rows` rows: one
        commit (one WAL flush) per slice instead of per record makes replay several times
        faster, and merging is safe because every write is idempotent."""
        merged = Batch()
        count = 0
        for payload in records[start:]:
            if count and len(merged) >= self._replay_rows:
                break
            count += 1
            try:
                batch = Batch.from_json(payload)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                log.error("spool record cannot be decoded (%s); skipped", exc)
                self._metrics.spool_problems.inc()
                continue
            merged.results.extend(batch.results)
            merged.samples.extend(batch.samples)
            merged.events.extend(batch.events)
        return count, merged
