"""`ioc db ...`: migrations, rollups and retention from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ioc import db, migrate
from ioc.config.loader import check_config
from ioc.config.model import ProvinceConfig
from ioc.config_sync import sync_config
from ioc.settings import redact_url, settings_or_exit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="database schema and maintenance")
    dbsub = p.add_subparsers(title="db commands", metavar="ACTION", required=True)
    m = dbsub.add_parser(
        "migrate", help="apply pending migrations, then load the config (safe to repeat)",
        description="Apply pending migrations, then write the province config's copy in the "
        "database (targets, working-day calendar, SLO objectives, maintenance windows) from "
        "IOC_CONFIG_DIR. An invalid config stops before anything is changed.")
    m.add_argument("--config", type=Path, default=None,
                   help="config directory (default: IOC_CONFIG_DIR or ./config)")
    m.add_argument("--no-config", action="store_true",
                   help="only apply migrations; leave the config tables as they are")
    m.set_defaults(func=cmd_migrate)
    s = dbsub.add_parser("status", help="show applied and pending migrations")
    s.set_defaults(func=cmd_status)
    r = dbsub.add_parser("rollup", help="recompute rollups for data written since the last run")
    r.set_defaults(func=cmd_rollup)


def _url() -> str:
    return settings_or_exit().database_url


def _config_or_none(args: argparse.Namespace) -> tuple[ProvinceConfig | None, int]:
    """The config to load after migrating (None with --no-config), or an exit code."""
    if args.no_config:
        return None, 0
    directory = args.config or settings_or_exit().config_dir
    result = check_config(directory)
    if result.config is None:
        print(f"error: the config in {directory} cannot be loaded into the database; nothing "
              "was changed (fix it, or run with --no-config to migrate only):", file=sys.stderr)
        for issue in result.errors:
            print(f"  {issue}", file=sys.stderr)
        return None, 2
    return result.config, 0


def cmd_migrate(args: argparse.Namespace) -> int:
    url = _url()
    config, code = _config_or_none(args)
    if code:
        return code
    try:
        with db.connect(url) as conn:
            ran = migrate.migrate(conn)
            synced = sync_config(conn, config) if config is not None else None
    except migrate.MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # connection failures: say where, never the password
        print(f"error: cannot migrate {redact_url(url)}: {type(exc).__name__}", file=sys.stderr)
        return 1
    if ran:
        for mig in ran:
            print(f"applied {mig.version:03d}_{mig.name}")
    else:
        print("schema is current")
    if synced is not None:
        print(synced)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with db.connect(_url()) as conn:
        done = migrate.applied(conn)
        for mig in migrate.available():
            state = "applied" if mig.version in done else "PENDING"
            print(f"{mig.version:03d}_{mig.name}: {state}")
        return 0 if not migrate.pending(conn) else 1


def cmd_rollup(args: argparse.Namespace) -> int:
    with db.connect(_url()) as conn:
        row = conn.execute("SELECT ioc_rollup_run()").fetchone()
        print(f"rolled up {row[0] if row else 0} dirty minutes")
    return 0
