"""Least-privilege database roles: one per long-running process, none of them a superuser.

The migration owner (the role `ioc db migrate` connects as) is the only role with DDL. Every
process that runs for long connects as a login of its own group role:

- `ioc_collector` (`ioc collect`): writes probe results, samples, the records the business
  collectors fetch, their rollup queue and its heartbeats and cursors;
- `ioc_engine` (`ioc alerts`): writes its alert tables, silences it expires, the notification
  outbox and the channel credentials it refreshes;
- `ioc_api` (`ioc serve`): writes API tokens, acknowledgements, silences, maintenance windows and
  pushed probe data;
- `ioc_report` (`ioc report schedule`): writes its reports;
- `ioc_grafana` (migration 050) reads and writes nothing.

All four read the schema except the secrets of the others (API tokens: only the API; channel
credentials and the outbox: only the engine). Every process writes the database's copy of the
province config at start (ioc/config_sync.py), so all four write those tables too: the config
is the same file for all of them, and the copy is rewritten from it at every start anyway.

The rollup and retention functions need the owner's rights (retention drops chunks, which only
the owner may do): they are made SECURITY DEFINER with a fixed search_path, and only the roles
that run them may execute them.

`apply(conn)` creates the group roles (NOLOGIN) and sets every grant from scratch in one
transaction; `ioc.migrate.migrate` runs it after every migration run, so tables that later
migrations add are covered (or refused) by the policy below. Logins are separate LOGIN roles that
are members of a group (`create_logins`, `ioc db logins`), named `<group>_<database>` because
roles are shared by every database of the cluster.
"""

from __future__ import annotations

import hashlib
import secrets
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ioc.grafana.role import ROLE as GRAFANA_ROLE

# process name (as in the IOC_<PROCESS>_DATABASE_URL settings) -> its group role
PROCESS_ROLES: dict[str, str] = {
    "collector": "ioc_collector",
    "engine": "ioc_engine",
    "api": "ioc_api",
    "report": "ioc_report",
}

CONFIG_TABLES = ("targets", "calendar_days", "calendar_meta", "slo_objectives",
                 "maintenance_windows")
PROBE_TABLES = ("probe_results", "samples", "series", "rollup_dirty")
RECORD_TABLES = ("agencies", "procedures", "dossiers", "dossier_supplements", "documents",
                 "national_counts", "payment_transactions", "recon_files", "recon_rows")

# Tables each role may insert into, update and delete from (besides the config tables).
WRITES: dict[str, tuple[str, ...]] = {
    "ioc_collector": (*PROBE_TABLES, *RECORD_TABLES, "collector_heartbeats",
                      "collector_cursors"),
    "ioc_engine": ("alerts", "alert_transitions", "alert_notified", "alert_acks",
                   "alert_engine_heartbeats", "silences", "notifications",
                   "channel_credentials"),
    "ioc_api": ("api_tokens", "alerts", "alert_acks", "silences", *PROBE_TABLES),
    "ioc_report": ("reports",),
}

# Tables only the named roles may read (everything else in the schema is readable by all).
SECRETS: dict[str, tuple[str, ...]] = {
    "api_tokens": ("ioc_api",),
    "channel_credentials": ("ioc_engine",),
    "notifications": ("ioc_engine",),
}

# Functions that run with the owner's rights, and the roles allowed to call them.
DEFINER_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "ioc_rollup_run": ("ioc_collector",),
    "ioc_apply_retention": ("ioc_collector",),
}


class RolesError(RuntimeError):
    """The roles cannot be set up (e.g. the migration owner may not create roles)."""


def apply(conn: psycopg.Connection) -> None:
    """Create the group roles and set their privileges in this database (idempotent)."""
    groups = list(PROCESS_ROLES.values())
    tables = _tables(conn)
    with conn.transaction():
        for group in groups:
            _create_group(conn, group)
        # from scratch, so a privilege the policy no longer gives is taken back
        for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
            conn.execute(sql.SQL("REVOKE ALL ON ALL {} IN SCHEMA public FROM {}").format(
                sql.SQL(kind), _idents(groups)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(_idents(groups)))
        conn.execute(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {}").format(
            _idents(groups)))
        for table in tables:
            readers = SECRETS.get(table, groups)
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                sql.Identifier(table), _idents(readers)))
        for group in groups:
            writable = [t for t in (*CONFIG_TABLES, *WRITES[group]) if t in tables]
            for table in writable:
                conn.execute(sql.SQL("GRANT INSERT, UPDATE, DELETE ON {} TO {}").format(
                    sql.Identifier(table), sql.Identifier(group)))
            for seq in _sequences(conn, writable):
                conn.execute(sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
                    sql.Identifier(seq), sql.Identifier(group)))
        for name, callers in DEFINER_FUNCTIONS.items():
            for signature in _signatures(conn, name):
                conn.execute(sql.SQL(
                    "ALTER FUNCTION {} SECURITY DEFINER SET search_path = public, pg_temp"
                ).format(sql.SQL(signature)))
                others = [r for r in (*groups, GRAFANA_ROLE) if r not in callers]
                conn.execute(sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC, {}").format(
                    sql.SQL(signature), _idents(others)))
                conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                    sql.SQL(signature), _idents(callers)))


def _create_group(conn: psycopg.Connection, role: str) -> None:
    """CREATE ROLE … NOLOGIN unless it exists (another database of the cluster may create it
    at the same moment: the loser of that race finds it made)."""
    conn.execute(sql.SQL(
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {lit}) THEN "
        "CREATE ROLE {ident} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT; "
        "END IF; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ).format(lit=sql.Literal(role), ident=sql.Identifier(role)))


def _idents(names: Iterable[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


def _sequences(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """The sequences owned by columns of `tables` (serial and identity columns)."""
    rows = conn.execute(
        "SELECT DISTINCT s.relname FROM pg_depend d "
        "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
        "JOIN pg_class t ON t.oid = d.refobjid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public' "
        "WHERE d.deptype IN ('a', 'i') AND t.relname = ANY(%s) ORDER BY 1", (tables,)).fetchall()
    return [str(r[0]) for r in rows]


def _signatures(conn: psycopg.Connection, name: str) -> list[str]:
    rows = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'public' "
        "WHERE p.proname = %s ORDER BY 1", (name,)).fetchall()
    return [str(r[0]) for r in rows]


# --- logins ---------------------------------------------------------------------------------

MAX_NAME = 63  # NAMEDATALEN - 1


@dataclass(frozen=True)
class Login:
    process: str
    role: str
    conninfo: str
    """A libpq connection string for `role` (it holds the password: never print it)."""


def login_name(group: str, database: str) -> str:
    """`<group>_<database>`, shortened with a hash of the database name past 63 bytes."""
    name = f"{group}_{database}"
    if len(name.encode()) <= MAX_NAME:
        return name
    digest = hashlib.sha256(database.encode()).hexdigest()[:12]
    return f"{group}_{digest}"


def create_logins(conn: psycopg.Connection, admin_url: str,
                  passwords: Mapping[str, str] | None = None) -> list[Login]:
    """Create (or re-password) one LOGIN member of each process group for this database.

    `passwords` maps a process name to its password; processes without one get a new random
    password. Only a SCRAM verifier reaches the server. Returns connection strings made from
    `admin_url` with the login's user and password.
    """
    passwords = passwords or {}
    database = str(conn.info.dbname)
    logins: list[Login] = []
    with conn.transaction():
        for process, group in PROCESS_ROLES.items():
            role = login_name(group, database)
            password = passwords.get(process) or secrets.token_urlsafe(24)
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(),
                                                    b"scram-sha-256").decode()
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                  (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(sql.SQL(
                "{} ROLE {} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
            ).format(sql.SQL(verb), sql.Identifier(role), sql.Literal(verifier)))
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group),
                                                         sql.Identifier(role)))
            logins.append(Login(process, role,
                                make_conninfo(admin_url, user=role, password=password)))
    return logins


def drop_logins(conn: psycopg.Connection) -> list[str]:
    """Drop this database's logins (the group roles and their grants stay)."""
    database = str(conn.info.dbname)
    dropped: list[str] = []
    for group in PROCESS_ROLES.values():
        role = login_name(group, database)
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            dropped.append(role)
    return dropped


def env_lines(logins: Iterable[Login]) -> list[str]:
    """`IOC_<PROCESS>_DATABASE_URL=…` lines for an env file (quoted for a shell)."""
    return [f"{url_variable(login.process)}={shlex.quote(login.conninfo)}" for login in logins]


def url_variable(process: str) -> str:
    return f"IOC_{process.upper()}_DATABASE_URL"
