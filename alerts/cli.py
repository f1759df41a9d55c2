"""`ioc alerts`: run the evaluation engine and the delivery workers; `ioc alerts ack FP`."""

from __future__ import annotations

import argparse
import asyncio
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
from alerts.outbox import Backoff, Outbox, run_worker
from ioc import db
from ioc.config import ConfigError, load_config
from ioc.config.types import parse_duration
from ioc.settings import Settings, SettingsError, redact_url

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
    p.set_defaults(func=cmd_run)
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    a = actions.add_parser("ack", help="acknowledge a firing alert (stops repeats, escalation)")
    a.add_argument("fingerprint")
    a.add_argument("--by", default="cli", help="who acknowledges (recorded for MTTA)")
    a.set_defaults(func=cmd_ack)
    ls = actions.add_parser("list", help="show open alerts")
    ls.add_argument("--all", action="store_true", help="include resolved alerts")
    ls.set_defaults(func=cmd_list)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    try:
        cfg = load_config(settings.config_dir)
    except ConfigError as exc:
        print(f"error: the config in {settings.config_dir} cannot be used:\n{exc}",
              file=sys.stderr)
        return 2
    backoff = Backoff(args.backoff_base, args.backoff_cap, args.give_up_after)
    try:
        asyncio.run(_serve(settings, cfg, args, backoff))
    except (OSError, psycopg.OperationalError) as exc:
        print(f"error: cannot reach the database {redact_url(settings.database_url)}: "
              f"{type(exc).__name__}", file=sys.stderr)
        return 1
    return 0


async def _serve(settings: Settings, cfg: Any, args: argparse.Namespace,
                 backoff: Backoff) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    url = settings.database_url
    lock_conn = await db.connect_async(url, app="ioc-alerts-lock")
    engine_conn = await db.connect_async(url, app="ioc-alerts-engine")
    worker_conn = await db.connect_async(url, app="ioc-alerts-outbox")
    async with aiohttp.ClientSession() as session:
        outbox = Outbox(worker_conn, cfg, session, secret=settings.secret_key,
                        public_url=cfg.province.public_url, backoff=backoff,
                        lease=args.lease)
        engine = Engine(engine_conn, cfg)
        log.info("alerts: %d rules, %d channels; %d delivery workers", len(cfg.rules),
                 len(cfg.channels), args.workers)
        tasks = [run_engine(engine, lock_conn, utc_now, args.tick, stop)]
        tasks += [run_worker(outbox, utc_now, args.poll, stop) for _ in range(args.workers)]
        await asyncio.gather(*tasks)
    for conn in (lock_conn, engine_conn, worker_conn):
        await conn.close()


def cmd_ack(args: argparse.Namespace) -> int:
    async def run() -> str:
        conn = await db.connect_async(_settings().database_url)
        async with conn:
            result = await acknowledge(conn, args.fingerprint, args.by, utc_now(), via="cli")
        return result.outcome

    outcome = asyncio.run(run())
    print(outcome)
    return 0 if outcome in ("acked", "already_acked") else 1


def cmd_list(args: argparse.Namespace) -> int:
    async def run() -> list[dict[str, Any]]:
        conn = await db.connect_async(_settings().database_url)
        async with conn:
            states = ("pending", "firing", "resolved") if args.all else ("pending", "firing")
            return await list_alerts(conn, states=states)

    for row in asyncio.run(run()):
        ack = f" acked by {row['acked_by']}" if row["acked_at"] else ""
        print(f"{row['fingerprint']}  {row['state']:8} {row['severity']:8} {row['rule_id']}"
              f"  {row['annotations'].get('summary', '')}{ack}")
    return 0
