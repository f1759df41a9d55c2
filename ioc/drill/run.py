"""Run the drill: province, collector, `ioc alerts`, receiver; play the script; gather evidence.

The simulated province runs in-process (its clock at `scale`), the collector service in-process
(its tap counts every row collected: the "count in"), the alert engine and delivery workers as a
real `ioc alerts` process reading the drill's config directory, delivering to the drill's
loopback receiver.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from prometheus_client import CollectorRegistry

from collectors.metrics import CollectorMetrics
from collectors.model import Outcome
from collectors.service import CollectOptions, CollectorService
from ioc import db
from ioc.config import ConfigHolder, ProvinceConfig
from ioc.drill import script as sc
from ioc.drill.verdict import Verdict
from ioc.inbox import Delivery, Inbox
from sim import SimOptions, run_province

log = logging.getLogger(__name__)

SETTLE_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 30.0


class DrillRefused(RuntimeError):
    """The database holds data that is not the drill's (run with force to use it anyway)."""


@dataclass(frozen=True)
class DrillOptions:
    """How the drill runs: time scale, the reduced CI script, and the province's seed."""

    scale: float = 60.0
    reduced: bool = False
    force: bool = False
    seed: int = 9
    backfill_days: float = 1.0


@dataclass
class Played:
    """When a step's fault was on (real time)."""

    step: sc.Step
    started_at: datetime
    ended_at: datetime


@dataclass
class Evidence:
    """What the drill saw; the checks judge it against the database."""

    url: str
    config: ProvinceConfig
    steps: tuple[sc.Step, ...]
    started_at: datetime
    played: list[Played] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    rows_in: Counter[str] = field(default_factory=Counter)
    rows_written: float = 0.0
    engine_exit: int | None = None
    engine_log: Path | None = None
    finished_at: datetime | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def foreign_data(url: str) -> list[str]:
    """What in the database is not the drill's: other targets, rules' alerts, records."""
    queries = {
        "targets": "SELECT count(*) FROM targets WHERE id NOT LIKE 'drill-%'",
        "alerts": "SELECT count(*) FROM alerts WHERE rule_id NOT LIKE 'drill-%'",
        "dossiers (without any drill target)":
            "SELECT count(*) FROM dossiers WHERE NOT EXISTS "
            "(SELECT 1 FROM targets WHERE id LIKE 'drill-%')",
        "payment transactions": "SELECT count(*) FROM payment_transactions",
        "documents": "SELECT count(*) FROM documents",
    }
    found = []
    with db.connect(url) as conn:
        for name, query in queries.items():
            row = conn.execute(query.encode()).fetchone()
            if row and row[0]:
                found.append(f"{row[0]} {name}")
    return found


async def play(url: str, opts: DrillOptions, workdir: Path) -> Evidence:
    """Start everything, play the script, wait until the alerts settled, stop everything."""
    steps, minutes = sc.drill_script(opts.reduced)
    receiver = Inbox(hooks={"/hook": sc.HOOK_SECRET})  # checks the signature too
    await receiver.start()
    try:
        sim = SimOptions(seed=opts.seed, speed=opts.scale, backfill_days=opts.backfill_days)
        async with run_province(sim) as province:
            cfg_dir = sc.write_config(workdir / "config", sc.sections(
                steps, province.urls, receiver.url, "http://127.0.0.1:9"))
            holder = ConfigHolder(cfg_dir)
            ev = Evidence(url, holder.config, steps, utc_now())
            await _with_components(ev, holder, workdir, opts, minutes, province)
    finally:
        await receiver.stop()
    ev.deliveries = [d for d in receiver.deliveries if d.accepted]  # HMAC checked
    ev.finished_at = utc_now()
    return ev


async def _with_components(ev: Evidence, holder: ConfigHolder, workdir: Path,
                           opts: DrillOptions, minutes: float, province: object) -> None:
    def tap(outcome: Outcome) -> None:
        if outcome.result is not None:
            ev.rows_in[outcome.result.target_id] += 1
        for sample in outcome.samples:
            ev.rows_in[sample.target_id or ""] += 1

    metrics = CollectorMetrics.create(CollectorRegistry())
    collector = CollectorService(
        ev.url, holder, workdir / "spool",
        CollectOptions(collector_id="drill", flush_age_s=0.2, heartbeat_s=1.0, rollup_s=2.0,
                       reload_s=3600.0, grace_s=2.0), metrics, tap=tap)
    stop = asyncio.Event()
    collecting = asyncio.create_task(collector.run(stop), name="drill-collector")
    engine = await _start_engine(ev, workdir)
    try:
        async with await db.connect_async(ev.url, app="ioc-drill") as conn:
            await _ready(conn, ev)
            await _script(ev, province, opts.scale, minutes)
            await _settled(conn, ev)
    finally:
        stop.set()
        await collecting
        ev.engine_exit = await _stop_engine(engine)
    ev.rows_written = metrics.registry.get_sample_value("ioc_collector_rows_written_total") or 0.0


async def _start_engine(ev: Evidence, workdir: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "IOC_DATABASE_URL": ev.url, "IOC_CONFIG_DIR": str(workdir / "config"),
           "IOC_SECRET_KEY": secrets.token_hex(24), "IOC_STATE_DIR": str(workdir)}
    ev.engine_log = workdir / "alerts.log"
    with ev.engine_log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ioc.cli", "alerts", "--tick", "0.2", "--poll", "0.1",
            "--backoff-base", "200ms", "--backoff-cap", "1s", env=env, stdout=out,
            stderr=asyncio.subprocess.STDOUT)


async def _stop_engine(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return -9
    return proc.returncode


async def _value(conn: psycopg.AsyncConnection, query: str, *params: object) -> object:
    cur = await conn.execute(query.encode(), params)
    row = await cur.fetchone()
    return None if row is None else row[0]


async def _wait(conn: psycopg.AsyncConnection, limit_s: float, query: str,
                *params: object) -> bool:
    """Poll until `query` returns true (True), or `limit_s` seconds pass (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not await _value(conn, query, *params):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def _ready(conn: psycopg.AsyncConnection, ev: Evidence) -> None:
    """Every probe target has answered once and the alert engine is beating."""
    probes = sorted({s.target for s in sc.FULL})
    if not await _wait(conn, READY_TIMEOUT_S,
                       "SELECT count(DISTINCT target_id) = %s FROM probe_results"
                       " WHERE ok AND time >= %s AND target_id = ANY(%s)",
                       len(probes), ev.started_at, probes):
        raise RuntimeError("the drill timed out waiting for a successful probe of every target")
    if not await _wait(conn, READY_TIMEOUT_S, "SELECT count(*) > 0 FROM alert_engine_heartbeats"
                       " WHERE seen_at >= %s", ev.started_at):
        raise RuntimeError(f"the alert engine did not start: see {ev.engine_log}")


async def _script(ev: Evidence, province: object, scale: float, minutes: float) -> None:
    """Inject each fault at its scripted time; return at the end of the scripted hour."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def one(step: sc.Step) -> None:
        await asyncio.sleep(step.start_s(scale))
        await province.add_fault(step.fault(scale))  # type: ignore[attr-defined]
        started = utc_now()
        ev.played.append(Played(step, started, started + timedelta(
            seconds=step.duration_s(scale))))
        log.info("drill: %s on %s for %.1fs", step.kind, step.target, step.duration_s(scale))

    await asyncio.gather(*(one(s) for s in ev.steps))
    await asyncio.sleep(max(0.0, t0 + minutes * 60 / scale - loop.time()))


async def _settled(conn: psycopg.AsyncConnection, ev: Evidence) -> None:
    """Every step's alert resolved and every notification left the outbox."""
    pairs = [[s.rule, s.target] for s in ev.steps]
    for rule, target in pairs:
        if not await _wait(conn, SETTLE_TIMEOUT_S,
                           "SELECT count(*) > 0 FROM alert_transitions WHERE rule_id = %s"
                           " AND labels->>'target' = %s AND to_state = 'resolved' AND at >= %s",
                           rule, target, ev.started_at):
            log.warning("drill: %s on %s never resolved", rule, target)
    if not await _wait(conn, SETTLE_TIMEOUT_S, "SELECT count(*) = 0 FROM notifications"
                       " WHERE state IN ('pending', 'sending') AND created_at >= %s",
                       ev.started_at):
        log.warning("drill: notifications still waiting in the outbox")


def engine_verdict(ev: Evidence) -> Verdict:
    """The `ioc alerts` process ran the whole drill and stopped cleanly on SIGTERM."""
    return Verdict("alert engine process", "ran, exit 0 on SIGTERM",
                   f"exit {ev.engine_exit} (log {ev.engine_log})", ev.engine_exit == 0)
