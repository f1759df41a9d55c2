"""`ioc grafana ...`: generate the dashboards, push them to a Grafana, set the role password."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from grafana_client import GrafanaApi
from niquests import RequestException
from psycopg.conninfo import conninfo_to_dict

from ioc import db
from ioc.config import ConfigError, load_config
from ioc.grafana import generate, push
from ioc.grafana.dashboards import PLAYLIST
from ioc.grafana.inventory import Inventory, default_inventory, inventory_from_config
from ioc.grafana.role import ROLE, set_role_password
from ioc.settings import PROJECT_ROOT, Settings, SettingsError


def default_config_dir() -> Path:
    """The config directory: IOC_CONFIG_DIR, else config/ of the project."""
    return Path(os.environ.get("IOC_CONFIG_DIR") or PROJECT_ROOT / "config")


def load_inventory(directory: Path | None = None) -> Inventory:
    """The inventory from the province config; the defaults when the directory has no YAML."""
    directory = directory or default_config_dir()
    if not any(directory.glob("*.y*ml")):
        return default_inventory()
    return inventory_from_config(load_config(directory))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grafana", help="Grafana dashboards and data source")
    gsub = p.add_subparsers(title="grafana commands", metavar="ACTION", required=True)
    g = gsub.add_parser("generate", help="write grafana/dashboards/*.json from the config")
    g.add_argument("--config-dir", type=Path, default=None,
                   help="default: IOC_CONFIG_DIR or config/")
    g.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if the files differ from a regeneration")
    g.set_defaults(func=cmd_generate)
    _register_push(gsub)
    r = gsub.add_parser("db-role", help="let the read-only role ioc_grafana log in with the "
                        "password in an environment variable (only a SCRAM verifier is sent)")
    r.add_argument("--password-env", default="IOC_GRAFANA_DB_PASSWORD", metavar="VAR")
    r.set_defaults(func=cmd_db_role)


def _register_push(gsub: argparse._SubParsersAction) -> None:
    p = gsub.add_parser("push", help="create or update the folder, data source, dashboards and "
                        "playlist in a Grafana that is not provisioned from files")
    p.add_argument("--url", required=True, help="Grafana base URL, e.g. http://grafana:3000")
    p.add_argument("--token", default=os.environ.get("IOC_GRAFANA_TOKEN"),
                   help="service-account token (default: IOC_GRAFANA_TOKEN)")
    p.add_argument("--db-host", help="host:port of TimescaleDB as Grafana sees it "
                   "(default: from IOC_DATABASE_URL)")
    p.add_argument("--db-name", help="database name (default: from IOC_DATABASE_URL)")
    p.add_argument("--db-password-env", default="IOC_GRAFANA_DB_PASSWORD", metavar="VAR",
                   help="environment variable holding the ioc_grafana password")
    p.add_argument("--sslmode", default="disable",
                   choices=["disable", "require", "verify-ca", "verify-full"])
    p.add_argument("--config-dir", type=Path, default=None)
    p.set_defaults(func=cmd_push)


def cmd_generate(args: argparse.Namespace) -> int:
    try:
        inv = load_inventory(args.config_dir)
    except ConfigError as exc:
        return _fail(f"the config does not load, dashboards not generated:\n{exc}")
    if args.check:
        changed = generate.differences(inv)
        for name in changed:
            print(f"out of date: grafana/dashboards/{name}", file=sys.stderr)
        return 1 if changed else 0
    changed = generate.write(inv)
    print(f"{len(changed)} dashboard file(s) changed" + (": " + ", ".join(changed)
                                                          if changed else ""))
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _database_address(args: argparse.Namespace) -> tuple[str, str]:
    parts = conninfo_to_dict(os.environ.get("IOC_DATABASE_URL", ""))
    host = args.db_host or f"{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}"
    return host, args.db_name or str(parts.get("dbname", "ioc"))


def cmd_push(args: argparse.Namespace) -> int:
    if not args.token:
        return _fail("no token: pass --token or set IOC_GRAFANA_TOKEN (a service-account token)")
    password = os.environ.get(args.db_password_env, "")
    if not password:
        return _fail(f"{args.db_password_env} is not set: it holds the ioc_grafana password")
    host, name = _database_address(args)
    access = push.DatabaseAccess(host, name, ROLE, password, args.sslmode)
    try:
        models = list(generate.dashboards_json(load_inventory(args.config_dir)).values())
    except ConfigError as exc:
        return _fail(f"the config does not load, nothing pushed:\n{exc}")
    api = GrafanaApi.from_url(args.url, credential=args.token, timeout=10.0)
    try:
        done = push.push(api, access, models, PLAYLIST)
    except push.PushError as exc:
        return _fail(str(exc)) - 1
    except RequestException as exc:
        where = urlsplit(args.url)._replace(netloc=urlsplit(args.url).hostname or "").geturl()
        return _fail(f"cannot reach Grafana at {where}: {type(exc).__name__}") - 1
    finally:
        api.client.s.close()
    for line in done:
        print(line)
    return 0


def cmd_db_role(args: argparse.Namespace) -> int:
    password = os.environ.get(args.password_env, "")
    if not password:
        return _fail(f"{args.password_env} is not set: put the ioc_grafana password there")
    try:
        url = Settings.from_env().database_url
    except SettingsError as exc:
        return _fail(str(exc))
    with db.connect(url) as conn:
        set_role_password(conn, password)
    print("ioc_grafana may log in (read-only)")
    return 0
