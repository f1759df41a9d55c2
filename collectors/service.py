"""The collector process (`ioc collect`): scheduler, write path, heartbeat, rollups, reloads."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

import psycopg

from collectors import kinds
from collectors.fetch import HttpClient
from collectors.kinds import Collector, Resources
from collectors.metrics import CollectorMetrics
from collectors.model import Outcome, status_event
from collectors.scheduler import FIRST_SPREAD_S, Job, Scheduler, in_shard, utcnow
from collectors.spool import Spool
from collectors.writepath import UNREACHABLE
from collectors.writer import BatchWriter
from ioc import db
from ioc.config import ConfigHolder, ProvinceConfig
from ioc.config_sync import ConfigSyncer

log = logging.getLogger(__name__)

_LAST_STATES = """
SELECT DISTINCT ON (target_id) target_id, ok FROM probe_results
 WHERE time > now() - interval '1 hour' AND target_id = ANY (%s::text[])
 ORDER BY target_id, time DESC
"""
_HEARTBEAT = """
INSERT INTO collector_heartbeats (collector_id, shard, started_at, seen_at, targets, version)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (collector_id) DO UPDATE SET shard = EXCLUDED.shard,
    started_at = EXCLUDED.started_at, seen_at = EXCLUDED.seen_at,
    targets = EXCLUDED.targets, version = EXCLUDED.version
"""


@dataclass(frozen=True)
class CollectOptions:
    """How this collector process runs (command line), as opposed to what it watches (config)."""

    shard: int = 0
    shards: int = 1
    collector_id: str = ""
    once: bool = False
    concurrency: int = 1000
    flush_rows: int = 5000
    flush_age_s: float = 1.0
    heartbeat_s: float = 5.0
    rollup_s: float = 30.0
    retention_s: float = 3600.0
    reload_s: float = 10.0
    spool_max_bytes: int = 512 * 2**20
    grace_s: float = 15.0
    first_spread_s: float = FIRST_SPREAD_S

    @property
    def shard_text(self) -> str:
        return f"{self.shard}/{self.shards}"

    @property
    def identity(self) -> str:
        """The collector id: as given, else host name and shard."""
        return self.collector_id or f"{socket.gethostname()}:{self.shard_text}"


class _Admin:
    """A connection for bookkeeping (heartbeat, targets, rollups) that survives outages."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.AsyncConnection | None = None
        # Heartbeat and maintenance share the connection: one (re)connects at a time.
        self._lock = asyncio.Lock()

    async def run(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Execute; raises an UNREACHABLE error after dropping a dead connection."""
        async with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await db.connect_async(self._url, app="ioc-collector-admin")
                cur = await self._conn.execute(sql.encode(), params)
                return await cur.fetchall() if cur.description else []
            except UNREACHABLE:
                await self.close()
                raise

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close()
            except UNREACHABLE:
                pass


class CollectorService:
    """Wires config, scheduler, writer and bookkeeping together for one collector process."""

    def __init__(self, database_url: str, holder: ConfigHolder, spool_dir: Path,
                 options: CollectOptions, metrics: CollectorMetrics, *,
                 clock: Callable[[], datetime] = utcnow,
                 tap: Callable[[Outcome], None] | None = None) -> None:
        """`tap`, when given, sees every outcome before it is queued (benchmarks, debugging)."""
        self.options = options
        self._tap = tap
        self.holder = holder
        self.metrics = metrics
        self._clock = clock
        self.http = HttpClient(limit=options.concurrency)
        self.resources = Resources(self.http, database_url)
        self.writer = BatchWriter(database_url, Spool(spool_dir, max_bytes=options.spool_max_bytes),
                                  metrics, collector_id=options.identity,
                                  max_rows=options.flush_rows, max_age_s=options.flush_age_s)
        self.scheduler = Scheduler(self._sink, metrics, concurrency=options.concurrency,
                                   clock=clock, first_spread_s=options.first_spread_s)
        self.reload_now = asyncio.Event()
        self._admin = _Admin(database_url)
        # The config's copy in the database follows every reload (in the reloading thread).
        self._syncer = ConfigSyncer.for_url(database_url, holder,
                                            app="ioc-collector-config").attach()
        self._last_ok: dict[str, bool] = {}
        self._started_at = clock()
        self._targets_synced = False
        self._background: set[asyncio.Task[None]] = set()

    def collectors_for(self, config: ProvinceConfig) -> list[Collector]:
        """The collectors of this shard's enabled, polled targets."""
        o = self.options
        found = []
        for target in config.targets:
            if target.enabled and in_shard(target.id, o.shard, o.shards):
                collector = kinds.build(target, self.resources)
                if collector is not None:
                    found.append(collector)
        return found

    async def run(self, stop: asyncio.Event) -> None:
        """Collect until `stop` is set (or once, with `--once`); then flush or spool all."""
        try:  # a database that does not answer must not hold up the first collections
            await asyncio.wait_for(self._bookkeeping(self._clock()), 5)
        except TimeoutError:
            log.warning("database slow to answer at start; collecting anyway")
        collectors = self.collectors_for(self.holder.config)
        if self.options.once:
            await self.scheduler.run_once(collectors)
        else:
            writer_task = asyncio.create_task(self.writer.run(), name="writer")
            loops = [asyncio.create_task(c) for c in (self._heartbeat_loop(),
                                                      self._maintenance_loop(),
                                                      self._reload_loop())]
            self.scheduler.apply(collectors)
            # The config and thousands of collectors live as long as the process: keep them out
            # of the collector's full passes, whose pauses would show as scheduling lag.
            gc.freeze()
            log.info("collecting %d targets as %s (shard %s)", len(collectors),
                     self.options.identity, self.options.shard_text)
            await stop.wait()
            log.info("stopping: finishing collections under way, then flushing")
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.scheduler.stop(self.options.grace_s)
            await self.writer.stop(writer_task)
        await self.writer.close()
        await self.http.close()
        await self._admin.close()

    def _sink(self, job: Job, outcome: Outcome) -> None:
        if self._tap is not None:
            self._tap(outcome)
        result = outcome.result
        event = None
        if result is not None and self._last_ok.get(result.target_id) != result.ok:
            self._last_ok[result.target_id] = result.ok
            event = status_event(result, job.target.system)
        self.writer.add(outcome, event)

    async def _bookkeeping(self, now: datetime) -> None:
        """Heartbeat, and the targets table and last known states until they are done once."""
        try:
            if not self._targets_synced:
                await self._sync_targets(self.holder.config)
            await self._admin.run(_HEARTBEAT, (
                self.options.identity, self.options.shard_text, self._started_at, now,
                len(self.scheduler.jobs), version("ioc")))
        except UNREACHABLE as exc:
            log.debug("bookkeeping skipped: database unreachable (%s)", type(exc).__name__)
        except psycopg.Error as exc:
            log.error("heartbeat/targets update failed: %s", exc)

    async def _sync_targets(self, config: ProvinceConfig) -> None:
        """The config's copy in the database (targets, calendar, …: ioc.config_sync), then the
        last known states; retried by the next heartbeat until both are done."""
        await asyncio.to_thread(self._syncer.ensure)
        if not self._last_ok:
            rows = await self._admin.run(_LAST_STATES, ([t.id for t in config.targets],))
            self._last_ok.update({str(r[0]): bool(r[1]) for r in rows})
        self._targets_synced = self._syncer.synced_digest == self.holder.digest

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_s)
            await self._bookkeeping(self._clock())

    async def _maintenance_loop(self) -> None:
        """Rollups every `rollup_s`, retention every `retention_s` (any shard may do both)."""
        loop = asyncio.get_running_loop()
        next_retention = loop.time()
        while True:
            await asyncio.sleep(self.options.rollup_s)
            try:
                await self._admin.run("SELECT ioc_rollup_run()")
                if loop.time() >= next_retention:
                    keep = self.holder.config.retention
                    await self._admin.run("SELECT ioc_apply_retention(%s, %s)",
                                          (keep.raw, keep.rollups))
                    next_retention = loop.time() + self.options.retention_s
            except UNREACHABLE:
                continue
            except psycopg.Error as exc:
                log.error("rollup/retention failed: %s", exc)

    async def _reload_loop(self) -> None:
        """Reload the config when its files change (polled) or on SIGHUP."""
        while True:
            try:
                await asyncio.wait_for(self.reload_now.wait(), self.options.reload_s)
            except TimeoutError:
                pass
            self.reload_now.clear()
            result = await asyncio.to_thread(self.holder.reload)
            if result.changed:
                self._targets_synced = False
                retired = self.scheduler.apply(self.collectors_for(result.config))
                log.info("config reloaded: %d targets scheduled, %d replaced or removed",
                         len(self.scheduler.jobs), len(retired))
                task = asyncio.create_task(self.scheduler.retire(retired, self.options.grace_s))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
                await self._bookkeeping(self._clock())
