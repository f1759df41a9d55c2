"""`ioc db ...`: migrations, rollups and retention from the command line."""

from __future__ import annotations

import argparse
import sys

from ioc import db, migrate
from ioc.settings import redact_url, settings_or_exit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="database schema and maintenance")
    dbsub = p.add_subparsers(title="db commands", metavar="ACTION", required=True)
    m = dbsub.add_parser("migrate", help="apply pending migrations (safe to repeat)")
    m.set_defaults(func=cmd_migrate)
    s = dbsub.add_parser("status", help="show applied and pending migrations")
    s.set_defaults(func=cmd_status)
    r = dbsub.add_parser("rollup", help="recompute rollups for data written since the last run")
    r.set_defaults(func=cmd_rollup)


def _url() -> str:
    return settings_or_exit().database_url


def cmd_migrate(args: argparse.Namespace) -> int:
    url = _url()
    try:
        with db.connect(url) as conn:
            ran = migrate.migrate(conn)
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
