"""The read-only role ioc_grafana: created NOLOGIN by migration 050, reads, never writes."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ioc import db, migrate
from ioc.cli import main
from ioc.grafana.role import ROLE_SETTINGS


def _as_grafana(url: str, statement: str) -> None:
    with psycopg.connect(url) as conn, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE ioc_grafana")
        conn.execute(statement.encode())


def test_role_exists_without_login_or_privileges(db_url: str) -> None:
    with db.connect(db_url) as conn:
        row = conn.execute("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                           "WHERE rolname = 'ioc_grafana'").fetchone()
    assert row == (False, False, False)


@pytest.mark.parametrize("statement", [
    "SELECT count(*) FROM probe_results",
    "SELECT count(*) FROM probe_rollup_1h",
    "SELECT count(*) FROM alert_transitions",
    "SELECT * FROM ioc_kpi('availability', now() - interval '1 hour', now())",
])
def test_role_reads_data_and_runs_kpi_functions(db_url: str, statement: str) -> None:
    _as_grafana(db_url, statement)


@pytest.mark.parametrize("statement", [
    "INSERT INTO targets (id, system, kind, name, interval_s) VALUES ('x', 'portal', 'http', "
    "'x', 60)",
    "DELETE FROM probe_results",
    "SELECT * FROM api_tokens",
    "SELECT * FROM notifications",
    "CREATE TABLE grafana_was_here (x int)",
])
def test_role_cannot_write_or_read_secrets(db_url: str, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_grafana(db_url, statement)


def test_migration_is_repeatable(fresh_db_url: str) -> None:
    (mig,) = [m for m in migrate.available() if m.version == 50]
    with db.connect(fresh_db_url) as conn:
        conn.execute(mig.sql.encode())
        conn.execute(mig.sql.encode())


@pytest.fixture
def login_url(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("IOC_DATABASE_URL", db_url)
    monkeypatch.setenv("IOC_GRAFANA_DB_PASSWORD", "role-pw-for-tests")
    parts = conninfo_to_dict(db_url)
    parts.update(user="ioc_grafana", password="role-pw-for-tests")
    yield make_conninfo("", **{k: v for k, v in parts.items() if v is not None})
    with db.connect(db_url) as conn:  # the role is cluster-wide: leave it as the migration made it
        conn.execute("ALTER ROLE ioc_grafana NOLOGIN PASSWORD NULL")


def test_db_role_lets_grafana_log_in_read_only(login_url: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grafana", "db-role"]) == 0
    assert "role-pw-for-tests" not in capsys.readouterr().out
    with psycopg.connect(login_url, autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("ioc_grafana",)
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TEMP TABLE t (x int)")


def test_db_role_without_password_changes_nothing(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("IOC_GRAFANA_DB_PASSWORD", raising=False)
    assert main(["grafana", "db-role"]) == 2
    assert "IOC_GRAFANA_DB_PASSWORD" in capsys.readouterr().err


def test_db_role_gives_the_role_its_session_settings(login_url: str) -> None:
    assert main(["grafana", "db-role"]) == 0
    with psycopg.connect(login_url, autocommit=True) as conn:
        for name, value in ROLE_SETTINGS:
            (shown,) = conn.execute(f"SHOW {name}").fetchone() or ("",)
            assert shown == value, name
