"""`ioc db ...`: migrations, rollups and retention from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psycopg

from ioc import db, db_roles, migrate
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
    lg = dbsub.add_parser(
        "logins", help="create the processes' least-privilege database logins",
        description="Create (or set a new password for) one LOGIN role per long-running "
        "process of this database, member of the process's group role (ioc_collector, "
        "ioc_engine, ioc_api, ioc_report; `ioc db migrate` creates the groups and their "
        "grants). Logins are named <group>_<database>. Passwords come from "
        "IOC_COLLECTOR_DB_PASSWORD, IOC_ENGINE_DB_PASSWORD, IOC_API_DB_PASSWORD and "
        "IOC_REPORT_DB_PASSWORD when set, else are generated; only SCRAM verifiers reach the "
        "server. Run it as the migration owner (IOC_DATABASE_URL).")
    lg.add_argument("--env-file", type=Path, default=None,
                    help="write IOC_<PROCESS>_DATABASE_URL lines here (mode 0600); needed "
                    "when any password is generated, since it is shown nowhere else")
    lg.add_argument("--drop", action="store_true", help="drop this database's logins instead")
    lg.set_defaults(func=cmd_logins)


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


def cmd_logins(args: argparse.Namespace) -> int:
    url = _url()
    with db.connect(url) as conn:
        if args.drop:
            for role in db_roles.drop_logins(conn):
                print(f"dropped {role}")
            return 0
        given = {p: os.environ.get(f"IOC_{p.upper()}_DB_PASSWORD", "")
                 for p in db_roles.PROCESS_ROLES}
        if args.env_file is None and not all(given.values()):
            print("error: a password would be generated and shown nowhere: give --env-file, "
                  "or set every IOC_<PROCESS>_DB_PASSWORD", file=sys.stderr)
            return 2
        try:
            logins = db_roles.create_logins(conn, url, {p: pw for p, pw in given.items() if pw})
        except psycopg.errors.InsufficientPrivilege as exc:
            print(f"error: {exc}".rstrip(), file=sys.stderr)
            return 1
    for login in logins:
        print(f"{db_roles.url_variable(login.process)}: login {login.role}")
    if args.env_file is not None:
        write_private(args.env_file, "\n".join(db_roles.env_lines(logins)) + "\n")
        print(f"connection strings written to {args.env_file}")
    return 0


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (also when it already exists)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def cmd_rollup(args: argparse.Namespace) -> int:
    with db.connect(_url()) as conn:
        row = conn.execute("SELECT ioc_rollup_run()").fetchone()
        print(f"rolled up {row[0] if row else 0} dirty minutes")
    return 0
