"""Shared fixtures: a real TimescaleDB database per test session (and fresh ones on demand).

The server comes from IOC_DATABASE_URL (scripts/test sets it from .ioc/env). Without a reachable
server the run fails with instructions: tests never skip for want of a database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ioc import db, db_roles, migrate

HOW_TO = (
    "Tests need a PostgreSQL server with TimescaleDB. Run them with scripts/test (it builds and "
    "starts one under .ioc/), or export IOC_DATABASE_URL=postgresql://USER:PASS@HOST:PORT/DB "
    "for a server where USER may create databases and the timescaledb extension."
)


def _with_db(url: str, name: str) -> str:
    parts = conninfo_to_dict(url)
    parts["dbname"] = name
    return make_conninfo("", **{k: v for k, v in parts.items() if v is not None})


@pytest.fixture(scope="session")
def server_url() -> str:
    """The admin URL of the test server (its own database)."""
    url = os.environ.get("IOC_DATABASE_URL", "")
    if not url:
        pytest.fail("IOC_DATABASE_URL is not set. " + HOW_TO, pytrace=False)
    try:
        with db.connect(url) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"cannot reach the test database ({type(exc).__name__}). " + HOW_TO,
                    pytrace=False)
    return url


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """A migrated database used as the template for every test database of this session."""
    name = f"ioc_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with db.connect(server_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_db(server_url, name)
    with db.connect(url) as conn:
        migrate.migrate(conn)
    # TimescaleDB's scheduler keeps a background worker connected to every database that allows
    # connections, and CREATE DATABASE ... TEMPLATE needs the template idle.
    with db.connect(server_url) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
            sql.Identifier(name)))
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    yield name
    with db.connect(server_url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


@pytest.fixture(scope="session")
def make_db(server_url: str, template_db: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, migrated, empty databases; all are dropped at the end of the session."""
    created: list[str] = []

    def make() -> str:
        name = f"ioc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with db.connect(server_url) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_db)))
        created.append(name)
        return _with_db(server_url, name)

    yield make
    with db.connect(server_url) as admin:
        for name in created:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            # roles are the cluster's: the process logins a test or a killed demo made for it
            for group in db_roles.PROCESS_ROLES.values():
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(
                    sql.Identifier(db_roles.login_name(group, name))))


@pytest.fixture(scope="session")
def db_url(make_db: Callable[[], str]) -> str:
    """One migrated database shared by the whole session (tests must not assume it is empty)."""
    return make_db()


@pytest.fixture
def fresh_db_url(make_db: Callable[[], str]) -> str:
    """A migrated, empty database for this test alone."""
    return make_db()
