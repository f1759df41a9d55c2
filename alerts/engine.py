"""The evaluation loop: rules → samples → state machine → stored transitions → outbox.

One engine evaluates at a time (a PostgreSQL advisory lock held on its own connection); others
wait as hot standbys. Everything a cycle decides is committed in one transaction, so a crash
either leaves no trace of the cycle or all of it, and the next cycle carries on.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection

from alerts import store, template
from alerts.dispatch import Outgoing, notify_firing, notify_resolved, refresh_unsent
from alerts.metrics import AlertMetrics
from alerts.rules import KINDS, Context, RuleError, Sample
from alerts.silence import active_mutes, sync_config_maintenance
from alerts.state import AlertState, Damping, step
from ioc.config.model import ProvinceConfig
from ioc.config.rules import RuleBase

log = logging.getLogger(__name__)

ENGINE_LOCK = 0x10C_A1E7
MAINTENANCE_SYNC = timedelta(hours=1)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CycleReport:
    """What one cycle did (logged, and asserted on by tests)."""

    evaluated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    """Time spent per rule's query, and in 'apply' (state, storage, dispatch)."""
    transitions: int = 0
    notifications: int = 0


def damping(rule: RuleBase) -> Damping:
    """The state-machine settings of a rule."""
    return Damping(for_=rule.for_, failure_threshold=rule.failure_threshold,
                   success_threshold=rule.success_threshold,
                   flap_threshold=rule.flap_threshold, flap_hold=rule.flap_hold)


class Engine:
    """Evaluates the configured rules and keeps alert state in the database."""

    def __init__(self, conn: AsyncConnection[Any], cfg: ProvinceConfig, *,
                 instance: str | None = None, metrics: AlertMetrics | None = None) -> None:
        self.conn = conn
        self.cfg = cfg
        self.metrics = metrics
        self.instance = instance or socket.gethostname()  # stable across restarts
        self._next: dict[str, datetime] = {}
        self._memory: dict[str, AlertState] = {}  # inactive alerts counting failures
        self._identities: dict[tuple[str, tuple[tuple[str, str], ...]],
                               tuple[dict[str, str], str]] = {}
        self._synced_at: datetime | None = None
        self._started_at: datetime | None = None
        self.rule_names = {r.id: r.name for r in cfg.rules}

    async def cycle(self, now: datetime) -> CycleReport:
        """Evaluate the rules that are due at `now` and act on the result."""
        report = CycleReport()
        self._started_at = self._started_at or now  # absence rules' start-up grace counts from it
        results = await self._evaluate_due(now, report)
        started = time.perf_counter()
        async with self.conn.transaction():
            await self._sync_maintenance(now)
            rows = await store.load(self.conn, list(results), now, Damping().flap_window)
            out, steady = Outgoing(), []
            for rule_id, samples in results.items():
                steady += await self._apply(self.cfg.rule(rule_id), samples, rows, now, out,
                                            report)
            await store.update_many(self.conn, steady, now)
            mutes = await active_mutes(self.conn, now)
            await notify_firing(self.conn, self.cfg, mutes, self.rule_names, out, now)
            report.notifications += await out.flush(self.conn, self.cfg, now)
            await refresh_unsent(self.conn)
            await self._heartbeat(now)
        report.seconds["apply"] = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.observe_cycle(report, {r.id: r.kind for r in self.cfg.rules}, now)
        return report

    async def _evaluate_due(self, now: datetime, report: CycleReport) -> dict[str, list[Sample]]:
        ctx = Context(now=now, timezone=self.cfg.province.tz, engine_started=self._started_at)
        results: dict[str, list[Sample]] = {}
        for rule in self.cfg.rules:
            if not rule.enabled or self._next.get(rule.id, now) > now:
                continue
            self._next[rule.id] = now + rule.interval
            started = time.perf_counter()
            try:
                results[rule.id] = await KINDS[rule.kind].evaluate(self.conn, rule, ctx)
            except (RuleError, psycopg.Error) as exc:
                # the rule's alerts keep their state: an evaluation error is not a recovery
                report.failed[rule.id] = str(exc)
                log.warning("rule %s failed: %s", rule.id, exc)
                continue
            finally:
                report.seconds[rule.id] = time.perf_counter() - started
            report.evaluated.append(rule.id)
        return results

    async def _apply(self, rule: RuleBase, samples: list[Sample],
                     rows: Mapping[str, dict[str, Any]], now: datetime, out: Outgoing,
                     report: CycleReport) -> list[store.Change]:
        """Step every alert of the rule; returns changes without a transition (batched)."""
        seen: dict[str, tuple[dict[str, str], Sample]] = {}
        for s in samples:
            labels, fp = self._identity(rule, s.labels)
            if s.active or fp in rows or fp in self._memory:
                seen[fp] = (labels, s)  # an inactive series with no alert has nothing to do
        for fp, old in rows.items():
            if old["rule_id"] == rule.id and fp not in seen and old["state"] != "resolved":
                # a series that vanished from the result no longer meets the condition
                seen[fp] = (old["labels"], Sample(old["labels"], None, False, old["severity"]))
        d = damping(rule)
        steady = []
        for fp, (labels, s) in seen.items():
            if s.hold:  # no verdict yet (start-up grace, too few recent probes): keep the state
                continue
            row = rows.get(fp)
            prev = store.to_state(row) if row else self._memory.get(fp, AlertState())
            new, transitions = step(prev, s.active, s.value, d, now)
            if new == prev:
                continue
            if new.state == "inactive" and not transitions:
                self._memory[fp] = new  # counting towards the failure threshold
                continue
            self._memory.pop(fp, None)
            change = self._change(rule, fp, labels, s.severity or rule.severity, new,
                                  transitions, s.annotations)
            if transitions or row is None:
                await self._save(rule, change, now, out, report)
            else:
                steady.append(change)
        return steady

    def _identity(self, rule: RuleBase, series: Mapping[str, str]) -> tuple[dict[str, str], str]:
        """An alert's labels and fingerprint for a series, remembered between cycles."""
        key = (rule.id, tuple(sorted(series.items())))
        found = self._identities.get(key)
        if found is None:
            if len(self._identities) > 500_000:  # series come and go; keep memory bounded
                self._identities.clear()
            labels = template.rule_labels(rule, series)
            found = self._identities[key] = (labels, store.fingerprint(rule.id, labels))
        return found

    def _change(self, rule: RuleBase, fp: str, labels: dict[str, str], severity: str,
                new: AlertState, transitions: list[Any],
                extra: Mapping[str, str] | None = None) -> store.Change:
        status = "resolved" if new.state == "resolved" else "firing"
        variables = template.variables(rule, labels, new.value, severity, status,
                                       new.started_at)
        annotations = {**(extra or {}), **template.render_annotations(rule, variables)}
        return store.Change(fp, rule.id, labels, annotations, severity, new, transitions)

    async def _save(self, rule: RuleBase, change: store.Change, now: datetime, out: Outgoing,
                    report: CycleReport) -> None:
        fp = change.fingerprint
        row, ids = await store.save(self.conn, change, now)
        report.transitions += len(ids)
        for tid, (before, after) in ids:
            log.info("alert %s %s: %s -> %s", rule.id, fp, before, after)
            if after == "resolved" and row is not None:
                await notify_resolved(self.conn, self.cfg, row, tid, rule.name, out, now)

    async def _sync_maintenance(self, now: datetime) -> None:
        if self._synced_at is not None and now - self._synced_at < MAINTENANCE_SYNC:
            return
        n = await sync_config_maintenance(self.conn, self.cfg.maintenance,
                                          self.cfg.province.tz, now)
        self._synced_at = now
        log.debug("maintenance windows from config: %d occurrences ahead", n)

    async def _heartbeat(self, now: datetime) -> None:
        self._started_at = self._started_at or now
        await self.conn.execute(
            "INSERT INTO alert_engine_heartbeats (instance, started_at, seen_at)"
            " VALUES (%s, %s, %s) ON CONFLICT (instance) DO UPDATE"
            " SET started_at = EXCLUDED.started_at, seen_at = EXCLUDED.seen_at",
            (self.instance, self._started_at, now))


async def hold_leadership(conn: AsyncConnection[Any]) -> bool:
    """Try to become the one evaluating engine (held until `conn` closes)."""
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (ENGINE_LOCK,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def run_engine(engine: Engine, lock_conn: AsyncConnection[Any], clock: Clock,
                     tick: float, stop: asyncio.Event) -> None:
    """Evaluate every `tick` seconds while leader, until `stop` is set."""
    leader = False
    while not stop.is_set():
        try:
            leader = leader or await hold_leadership(lock_conn)
            if engine.metrics is not None:
                engine.metrics.leader.set(int(leader))
            if leader:
                report = await engine.cycle(clock())
                if report.transitions or report.notifications:
                    log.info("cycle: %d rules, %d transitions, %d notifications",
                             len(report.evaluated), report.transitions, report.notifications)
        except Exception:  # the loop must survive a lost connection; it retries next tick
            log.exception("evaluation cycle failed")
            if engine.metrics is not None:
                engine.metrics.cycle_failures.inc()
        try:
            await asyncio.wait_for(stop.wait(), timeout=tick)
        except TimeoutError:
            pass
