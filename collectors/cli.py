"""`ioc collect`: run the collectors for the configured targets (or one shard of them)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys
from pathlib import Path

import psycopg
from prometheus_client import CollectorRegistry

from collectors.metrics import CollectorMetrics
from collectors.service import CollectOptions, CollectorService
from ioc import db, migrate, selfmetrics
from ioc.config import ConfigError, ConfigHolder
from ioc.settings import Settings, SettingsError

log = logging.getLogger(__name__)
_SHARD = re.compile(r"(\d+)/(\d+)")


def parse_shard(text: str) -> tuple[int, int]:
    """`i/n` (0 <= i < n) into (i, n); argparse reports the error text."""
    match = _SHARD.fullmatch(text.strip())
    if match is None or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise argparse.ArgumentTypeError(
            f"invalid shard {text!r}: write i/n with 0 <= i < n, e.g. 0/2 and 1/2 for two "
            "processes")
    return int(match.group(1)), int(match.group(2))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="probe, poll and scrape the configured targets into "
                       "the database")
    p.add_argument("--config", type=Path, default=None,
                   help="config directory (default: IOC_CONFIG_DIR or ./config)")
    p.add_argument("--shard", type=parse_shard, default=(0, 1), metavar="I/N",
                   help="collect only shard I of N (0-based; a stable hash of the target id)")
    selfmetrics.add_arguments(p, "the collector")
    p.add_argument("--once", action="store_true",
                   help="collect every target once, store (or spool) the results and exit")
    p.add_argument("--collector-id", default="",
                   help="name in collector_heartbeats (default: host name and shard)")
    p.add_argument("--concurrency", type=int, default=1000,
                   help="collections running at once at most (default 1000)")
    p.add_argument("--spool-max-mb", type=int, default=512,
                   help="on-disk spool limit; the oldest batches are dropped past it (512)")
    p.set_defaults(func=cmd_collect)


def cmd_collect(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(process="collector")
        holder = ConfigHolder(args.config or settings.config_dir)
    except (SettingsError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shard, shards = args.shard
    options = CollectOptions(shard=shard, shards=shards, collector_id=args.collector_id,
                             once=args.once, concurrency=args.concurrency,
                             spool_max_bytes=args.spool_max_mb * 2**20)
    problem = schema_problem(settings.database_url)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    metrics = CollectorMetrics.create(CollectorRegistry())
    problem = selfmetrics.serve(metrics.registry, args.metrics_port, args.metrics_host)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    service = CollectorService(settings.database_url, holder, settings.state_dir / "spool",
                               options, metrics)
    asyncio.run(_main(service))
    return 0


def schema_problem(url: str) -> str | None:
    """Why the database cannot take our rows (migrations missing), or None.

    An unreachable database is not a problem here: the collector spools until it is back.
    """
    try:
        with db.connect(url) as conn:
            missing = migrate.pending(conn)
    except psycopg.OperationalError as exc:
        log.warning("database unreachable at start (%s); results are spooled until it is back",
                    type(exc).__name__)
        return None
    if missing:
        names = ", ".join(f"{m.version:03d}_{m.name}" for m in missing)
        return f"the database schema is not current (pending: {names}); run `ioc db migrate`"
    return None


async def _main(service: CollectorService) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, service.reload_now.set)
    await service.run(stop)
