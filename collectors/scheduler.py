"""One asyncio scheduler for thousands of targets: per-target interval, timeout and jitter.

Each target has its own small task that sleeps until its next run, so a slow or hanging target
only ever delays itself; a semaphore bounds how many collections run at once. A hard timeout
around every collection turns a hang into a failed result with reason `timeout`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collectors.kinds import Collector
from collectors.metrics import CollectorMetrics
from collectors.model import CollectFailure, Outcome, failed

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def in_shard(target_id: str, shard: int, shards: int) -> bool:
    """True when the target belongs to shard `shard` of `shards` (a stable hash of its id)."""
    digest = hashlib.sha256(target_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards == shard


@dataclass(eq=False)
class Job:
    """A scheduled target: its collector, its task, and whether a collection is under way."""

    collector: Collector
    task: asyncio.Task[None] | None = None
    busy: bool = False
    stopping: bool = False
    runs: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def target(self) -> Any:
        return self.collector.target


Sink = Callable[[Job, Outcome], None]


# First runs of a (re)started collector are spread over one interval, or this many seconds for
# targets polled less often.
FIRST_SPREAD_S = 30.0


class Scheduler:
    """Runs every job at its interval; `apply` swaps the job set without losing runs in flight."""

    def __init__(self, sink: Sink, metrics: CollectorMetrics, *, concurrency: int = 1000,
                 clock: Callable[[], datetime] = utcnow,
                 rng: random.Random | None = None,
                 first_spread_s: float = FIRST_SPREAD_S) -> None:
        self._sink = sink
        self._first_spread_s = first_spread_s
        self._metrics = metrics
        self._sem = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._rng = rng or random.Random()
        self.jobs: dict[str, Job] = {}
        self._children: dict[str, tuple[Any, Any]] = {}

    def apply(self, collectors: Iterable[Collector]) -> list[Job]:
        """Schedule these collectors; unchanged targets keep their job and phase.

        Returns the replaced or removed jobs: they finish a collection under way (its outcome
        still reaches the sink), then stop; await `retire` on them to close their collectors.
        """
        wanted = {c.target.id: c for c in collectors}
        retired = []
        for target_id, job in list(self.jobs.items()):
            new = wanted.get(target_id)
            if new is not None and new.target == job.target:
                wanted.pop(target_id)
                continue
            retired.append(self._stop(self.jobs.pop(target_id)))
        for target_id, collector in wanted.items():
            job = Job(collector)
            job.task = asyncio.create_task(self._loop(job), name=f"collect:{target_id}")
            self.jobs[target_id] = job
        self._metrics.targets.set(len(self.jobs))
        return retired

    async def retire(self, jobs: Iterable[Job], grace_s: float = 30.0) -> None:
        """Wait (up to `grace_s`) for retired jobs to finish, then close their collectors."""
        jobs = list(jobs)
        if jobs:
            waits = [asyncio.create_task(j.done.wait()) for j in jobs]
            await asyncio.wait(waits, timeout=grace_s)
            for wait in waits:
                wait.cancel()
        for job in jobs:
            closer = getattr(job.collector, "close", None)
            if closer is not None:
                await closer()

    async def stop(self, grace_s: float = 30.0) -> None:
        """Stop every job, letting collections under way finish (up to `grace_s`, or the
        longest target timeout if that is longer: a started collection always ends)."""
        jobs = [self._stop(j) for j in self.jobs.values()]
        self.jobs.clear()
        longest = max((j.target.timeout.total_seconds() for j in jobs), default=0.0)
        await self.retire(jobs, max(grace_s, longest + 1))

    def _stop(self, job: Job) -> Job:
        job.stopping = True
        if not job.busy and job.task is not None:
            job.task.cancel()
        return job

    async def run_once(self, collectors: Iterable[Collector]) -> list[Outcome]:
        """Collect every target once, now, all at once (bounded by the concurrency)."""
        loop = asyncio.get_running_loop()
        jobs = [Job(c) for c in collectors]
        outcomes = await asyncio.gather(*(self._run(j, loop.time()) for j in jobs))
        for job, outcome in zip(jobs, outcomes, strict=True):
            self._sink(job, outcome)
        return list(outcomes)

    async def _loop(self, job: Job) -> None:
        loop = asyncio.get_running_loop()
        target = job.target
        interval = target.interval.total_seconds()
        jitter = target.effective_jitter.total_seconds()
        # first runs are spread (no thundering herd at start), but over at most
        # first_spread_s: an hourly target must not wait up to an hour after every start
        due = loop.time() + self._rng.uniform(0, min(interval, self._first_spread_s))
        spread = 0.0  # the first run is random enough already: jitter from the second on
        try:
            while not job.stopping:
                start_at = due + self._rng.uniform(0, spread)
                spread = jitter
                delay = start_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                job.busy = True
                try:
                    outcome = await self._run(job, start_at)
                finally:
                    job.busy = False
                self._sink(job, outcome)
                due += interval
                late = loop.time() - due
                if late > 0:  # skip the runs that can no longer be on time
                    due += math.ceil(late / interval) * interval
        except asyncio.CancelledError:
            pass
        finally:
            job.done.set()

    async def _run(self, job: Job, scheduled: float) -> Outcome:
        target = job.target
        async with self._sem:
            lag = max(0.0, asyncio.get_running_loop().time() - scheduled)
            now = self._clock()
            start = time.perf_counter()
            try:
                async with asyncio.timeout(target.timeout.total_seconds()):
                    outcome = await job.collector.collect(now)
            except TimeoutError:
                outcome = failed(target.id, now, CollectFailure(
                    "timeout", f"no answer within {target.timeout.total_seconds():g}s"),
                    target.timeout.total_seconds() * 1000)
            except Exception as exc:  # a bug of ours: keep the target's history honest
                log.exception("collector for %s crashed", target.id)
                outcome = failed(target.id, now, CollectFailure(
                    "error", f"internal error: {type(exc).__name__}"))
        elapsed = time.perf_counter() - start
        job.runs += 1
        outcome.lag_s = lag
        self._observe(target.kind, outcome, lag, elapsed)
        return outcome

    def _observe(self, kind: str, outcome: Outcome, lag: float, elapsed: float) -> None:
        m = self._metrics
        children = self._children.get(kind)
        if children is None:  # labels() costs a lookup and a lock on every call: keep them
            children = self._children[kind] = (m.probes.labels(kind),
                                               m.probe_duration.labels(kind))
        children[0].inc()
        children[1].observe(elapsed)
        m.schedule_lag.observe(lag)
        if outcome.result is not None and not outcome.result.ok:
            m.failures.labels(kind, outcome.result.reason or "error").inc()
