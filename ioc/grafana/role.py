"""The read-only database role Grafana logs in as (created NOLOGIN by migration 050)."""

from __future__ import annotations

import psycopg
from psycopg import sql

ROLE = "ioc_grafana"

# Session settings of the role. Each chart calls the KPI functions once per step in one
# statement; PostgreSQL's generic plan for them (chosen after five calls in a session) scans
# whole rollup ranges and is 100x slower, so every call gets a plan for its own window.
ROLE_SETTINGS: tuple[tuple[str, str], ...] = (
    ("default_transaction_read_only", "on"),
    ("statement_timeout", "30s"),
    ("plan_cache_mode", "force_custom_plan"),
)


def set_role_password(conn: psycopg.Connection, password: str) -> None:
    """Let the role log in with `password` (libpq hashes it: the server sees only a SCRAM
    verifier) and give its sessions the settings above."""
    verifier = conn.pgconn.encrypt_password(password.encode(), ROLE.encode(), b"scram-sha-256")
    with conn.transaction():
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(ROLE), sql.Literal(verifier.decode())))
        for name, value in ROLE_SETTINGS:
            conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(
                sql.Identifier(ROLE), sql.Identifier(name), sql.Literal(value)))
