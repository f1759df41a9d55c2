"""Migrations apply in order, twice, and concurrently; the schema has its hypertables."""

from __future__ import annotations

import threading

import pytest

from ioc import db, migrate


def test_migrations_apply_twice_without_change(fresh_db_url: str) -> None:
    with db.connect(fresh_db_url) as conn:
        # the template already ran them: a second run applies nothing
        assert migrate.migrate(conn) == []
        assert migrate.migrate(conn) == []
        assert migrate.pending(conn) == []
        recorded = migrate.applied(conn)
    assert sorted(recorded) == [m.version for m in migrate.available()]


def test_migrations_on_an_empty_database_concurrently(server_url: str, make_db) -> None:
    # A database without any migration: drop the recorded history by creating from template0.
    from psycopg import sql

    url = make_db()
    name = url.rsplit("dbname=", 1)[-1].split()[0]
    with db.connect(server_url) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    results: list[list[migrate.Migration]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with db.connect(url) as conn:
                results.append(migrate.migrate(conn))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    # exactly one process applied each migration; the others found nothing to do
    applied_counts = sorted(len(r) for r in results)
    assert applied_counts == [0, 0, len(migrate.available())]


def test_core_tables_are_hypertables(db_url: str) -> None:
    with db.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
        ).fetchall()
    names = {r[0] for r in rows}
    assert {"probe_results", "samples", "probe_rollup_1m", "probe_rollup_1h",
            "sample_rollup_1m", "sample_rollup_1h"} <= names


def test_license_is_detected(db_url: str) -> None:
    with db.connect(db_url) as conn:
        row = conn.execute("SELECT ioc_timescale_license()").fetchone()
    assert row is not None and row[0] in {"apache", "timescale"}


def test_failed_probe_needs_a_reason(fresh_db_url: str) -> None:
    import psycopg

    with db.connect(fresh_db_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO probe_results (time, target_id, ok) VALUES (now(), 't', false)")
