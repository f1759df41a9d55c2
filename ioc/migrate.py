"""Numbered SQL migrations, applied in order under an advisory lock and recorded in a table."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from ioc import db_roles

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every process migrating this database.
LOCK_KEY = 0x10C_0001
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """A migration failed or the recorded history does not match the files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """The migrations shipped with the package, in order."""
    found: list[Migration] = []
    for entry in resources.files("ioc.migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(versions) != len(set(versions)):
        raise MigrationError(f"two migration files share a number: {versions}")
    return found


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version    integer PRIMARY KEY,
               name       text NOT NULL,
               checksum   text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def applied(conn: psycopg.Connection) -> dict[int, str]:
    """Version -> checksum of the migrations recorded in the database ({} if none)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    return {int(v): str(c) for v, c in rows}


def pending(conn: psycopg.Connection) -> list[Migration]:
    """Migrations not yet applied (what /readyz reports as not current)."""
    done = applied(conn)
    return [m for m in available() if m.version not in done]


def migrate(conn: psycopg.Connection) -> list[Migration]:
    """Apply every pending migration; safe to run twice and from several processes at once.

    `conn` must be in autocommit mode; each migration runs in its own transaction.
    """
    if not conn.autocommit:
        raise MigrationError("migrate() needs an autocommit connection")
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        _ensure_table(conn)
        done = applied(conn)
        ran: list[Migration] = []
        for mig in available():
            if mig.version in done:
                if done[mig.version] != mig.checksum:
                    log.warning("migration %03d_%s changed after it was applied", mig.version,
                                mig.name)
                continue
            log.info("applying migration %03d_%s", mig.version, mig.name)
            try:
                with conn.transaction():
                    conn.execute(mig.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (mig.version, mig.name, mig.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {mig.version:03d}_{mig.name} failed: {exc}"
                ) from exc
            ran.append(mig)
        # repeatable: the process roles' grants cover the tables the migrations just made
        try:
            db_roles.apply(conn)
        except psycopg.Error as exc:
            raise MigrationError(f"granting the process roles their privileges failed: {exc} "
                                 "(the migration owner needs CREATEROLE)") from exc
        return ran
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
