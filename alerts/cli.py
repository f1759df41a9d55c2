"""`ioc alerts`: run the evaluation engine and the delivery workers; `ioc alerts ack FP`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from datetime import timedelta
from typing import Any

import aiohttp
import psycopg

from alerts.ack import acknowledge
from alerts.actions import list_alerts
from alerts.engine import Engine, run_engine, utc_now
from alerts.metrics import AlertMetrics
from alerts.outbox import Backoff, Outbox, run_worker
from ioc import db, selfmetrics
from ioc.config import ConfigError, ConfigHolder
from ioc.config.types import parse_duration
from ioc.config_sync import ConfigSyncer
from ioc.settings import Settings, redact_url, settings_or_exit

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("alerts", help="evaluate alert rules and deliver notifications",
                       description="Without an action: run the engine and delivery workers "
                       "until SIGTERM/SIGINT.")
    p.add_argument("--tick", type=float, default=1.0, help="seconds between evaluation "
                   "cycles (each rule still runs at its own interval; default 1)")
    p.add_argument("--workers", type=int, default=2, help="delivery workers (default 2)")
    p.add_argument("--poll", type=float, default=0.5, help="seconds an idle worker waits "
                   "before looking for due messages again (default 0.5)")
    p.add_argument("--backoff-base", type=parse_duration, default=timedelta(seconds=2),
                   help="first retry delay, e.g. 2s (doubles each attempt)")
    p.add_argument("--backoff-cap", type=parse_duration, default=timedelta(minutes=5),
                   help="longest retry delay, e.g. 5m")
    p.add_argument("--lease", type=parse_duration, default=timedelta(seconds=60),
                   help="how long a claimed message is reserved for its worker; a message "
                   "claimed by a worker that died is sent again after this (default 60s)")
    p.add_argument("--give-up-after", type=parse_duration, default=timedelta(hours=24),
                   help="stop retrying a message this long after it was created (24h)")
    p.add_argument("--reload", type=float, default=10.0, help="seconds between looks at the "
                   "config files; SIGHUP reloads at once (default 10)")
    selfmetrics.add_arguments(p, "the alert engine")
    p.set_defaults(func=cmd_run)
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    a = actions.add_parser("ack", help="acknowledge a firing alert (stops repeats, escalation)")
    a.add_argument("fingerprint")
    a.add_argument("--by", default="cli", help="who acknowledges (recorded for MTTA)")
    a.set_defaults(func=cmd_ack)
    ls = actions.add_parser("list", help="show open alerts")
    ls.add_argument("--all", action="store_true", help="include resolved alerts")
    ls.set_defaults(func=cmd_list)


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_or_exit("engine")
    try:
        holder = ConfigHolder(settings.config_dir)
    except ConfigError as exc:
        print(f"error: the config in {settings.config_dir} cannot be used:\n{exc}",
              file=sys.stderr)
        return 2
    cfg = holder.config
    backoff = Backoff(args.backoff_base, args.backoff_cap, args.give_up_after)
    metrics = AlertMetrics(database_url=settings.database_url,
                           channels=[c.name for c in cfg.channels])
    problem = selfmetrics.serve(metrics.registry, args.metrics_port, args.metrics_host)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(settings, holder, args, backoff, metrics))
    except (OSError, psycopg.OperationalError) as exc:
        print(f"error: cannot reach the database {redact_url(settings.database_url)}: "
              f"{type(exc).__name__}", file=sys.stderr)
        return 1
    return 0


async def _serve(settings: Settings, holder: ConfigHolder, args: argparse.Namespace,
                 backoff: Backoff, metrics: AlertMetrics) -> None:
    """Run the engine and the delivery workers until SIGTERM/SIGINT.

    A database that cannot be reached at start is an error (exit 1). One lost later (a restart,
    a failover) is waited out: the connections are opened again and work resumes, because a
    process that stays up on dead connections is never restarted by a supervisor. A config
    reload (files changed, or SIGHUP) writes the config's copy in the database and restarts the
    engine and workers on the new config, on the same connections.
    """
    stop, reload_now, reloaded = asyncio.Event(), asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload_now.set)
    syncer = ConfigSyncer.for_url(settings.database_url, holder, app="ioc-alerts-config").attach()
    await asyncio.to_thread(syncer.ensure)
    watcher = asyncio.create_task(_watch_config(holder, syncer, args.reload, reload_now,
                                                reloaded))
    conns = await _connect(settings.database_url)
    while True:
        reloaded.clear()
        await _serve_round(settings, holder.config, args, backoff, conns, stop, metrics,
                           reloaded)
        if reloaded.is_set() and not stop.is_set() and not any(c.closed or c.broken
                                                               for c in conns):
            log.info("alerts: config reloaded; restarting the engine on it")
            continue
        for conn in conns:
            await conn.close()
        if stop.is_set():
            watcher.cancel()
            return
        log.warning("alerts: lost the database; reconnecting")
        conns = await _reconnect(settings.database_url, stop)
        if not conns:
            watcher.cancel()
            return


async def _watch_config(holder: ConfigHolder, syncer: ConfigSyncer, every_s: float,
                        reload_now: asyncio.Event, reloaded: asyncio.Event) -> None:
    """Reload the config when its files change (polled) or on SIGHUP; the holder's listener
    writes it to the database, `ensure` retries a write that failed."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reload_now.wait(), every_s)
        reload_now.clear()
        if (await asyncio.to_thread(holder.reload)).changed:
            reloaded.set()
        await asyncio.to_thread(syncer.ensure)


async def _connect(url: str) -> list[psycopg.AsyncConnection[Any]]:
    return [await db.connect_async(url, app=f"ioc-alerts-{role}")
            for role in ("lock", "engine", "outbox")]


async def _reconnect(url: str, stop: asyncio.Event) -> list[psycopg.AsyncConnection[Any]]:
    """Open the connections again, retrying every 2 s; [] when stopped meanwhile."""
    while not stop.is_set():
        try:
            return await _connect(url)
        except (OSError, psycopg.OperationalError) as exc:
            log.warning("alerts: database still unreachable (%s); retrying in 2 s",
                        type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2)
    return []


async def _serve_round(settings: Settings, cfg: Any, args: argparse.Namespace, backoff: Backoff,
                       conns: list[psycopg.AsyncConnection[Any]], stop: asyncio.Event,
                       metrics: AlertMetrics, reloaded: asyncio.Event) -> None:
    """Work on these connections until `stop` or `reloaded` is set or one of them is lost."""
    lock_conn, engine_conn, worker_conn = conns
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            if stop.is_set() or reloaded.is_set() or any(c.closed or c.broken for c in conns):
                done.set()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1)

    async with aiohttp.ClientSession() as session:
        outbox = Outbox(worker_conn, cfg, session, secret=settings.secret_key,
                        public_url=cfg.province.public_url, backoff=backoff,
                        lease=args.lease, metrics=metrics)
        engine = Engine(engine_conn, cfg, metrics=metrics)
        log.info("alerts: %d rules, %d channels; %d delivery workers", len(cfg.rules),
                 len(cfg.channels), args.workers)
        tasks = [watch(), run_engine(engine, lock_conn, utc_now, args.tick, done)]
        tasks += [run_worker(outbox, utc_now, args.poll, done) for _ in range(args.workers)]
        await asyncio.gather(*tasks)


def cmd_ack(args: argparse.Namespace) -> int:
    async def run() -> str:
        conn = await db.connect_async(settings_or_exit().database_url)
        async with conn:
            result = await acknowledge(conn, args.fingerprint, args.by, utc_now(), via="cli")
        return result.outcome

    outcome = asyncio.run(run())
    print(outcome)
    return 0 if outcome in ("acked", "already_acked") else 1


def cmd_list(args: argparse.Namespace) -> int:
    async def run() -> list[dict[str, Any]]:
        conn = await db.connect_async(settings_or_exit().database_url)
        async with conn:
            states = ("pending", "firing", "resolved") if args.all else ("pending", "firing")
            return await list_alerts(conn, states=states)

    for row in asyncio.run(run()):
        ack = f" acked by {row['acked_by']}" if row["acked_at"] else ""
        print(f"{row['fingerprint']}  {row['state']:8} {row['severity']:8} {row['rule_id']}"
              f"  {row['annotations'].get('summary', '')}{ack}")
    return 0
