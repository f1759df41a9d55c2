"""Least-privilege database roles (ioc/db_roles.py): each long-running process does its work as
its own login, and what it has no business doing is refused."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
import psycopg
import pytest
from prometheus_client import CollectorRegistry
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from alerts.engine import Engine
from alerts.outbox import Outbox
from collectors.metrics import CollectorMetrics
from collectors.service import CollectOptions, CollectorService
from ioc import db, db_roles
from ioc.config import ConfigHolder
from ioc.config.model import ProvinceConfig
from ioc.report.store import generate, publish
from ioc.report.week import Week
from ioc.settings import PROJECT_ROOT, Settings
from sim import SimOptions, run_province
from tests.alerts.support import (
    SECRET,
    Receiver,
    add_target,
    down_rule,
    make_config,
    probe,
    write_config,
)
from tests.alerts.support import webhook as webhook_channel
from tests.api.conftest import make_tokens
from tests.api.seed import add_alert
from tests.api.server import ApiServer

PROCESSES = tuple(db_roles.PROCESS_ROLES)


@pytest.fixture(scope="module")
def roles_db(make_db: Callable[[], str]) -> str:
    return make_db()


@pytest.fixture(scope="module")
def logins(roles_db: str) -> Iterator[dict[str, str]]:
    """process -> connection string of its login in roles_db (dropped after the module)."""
    with db.connect(roles_db) as conn:
        made = db_roles.create_logins(conn, roles_db)
    yield {login.process: login.conninfo for login in made}
    with db.connect(roles_db) as conn:
        db_roles.drop_logins(conn)


def test_policy_names_only_tables_that_exist(roles_db: str) -> None:
    with db.connect(roles_db) as conn:
        tables = set(db_roles._tables(conn))
    named = {*db_roles.CONFIG_TABLES, *db_roles.SECRETS,
             *(t for ts in db_roles.WRITES.values() for t in ts)}
    assert named - tables == set()


@pytest.mark.parametrize("process", PROCESSES)
def test_logins_are_no_superusers_and_ddl_files_and_programs_are_refused(
        roles_db: str, logins: dict[str, str], process: str) -> None:
    with db.connect(logins[process]) as conn:
        row = conn.execute("SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb FROM pg_roles r "
                           "WHERE r.rolname = current_user").fetchone()
        assert row == (False, False, False)
        refused = [
            "CREATE TABLE intruder (i int)",
            "COPY (SELECT 1) TO PROGRAM 'id'",
            "COPY (SELECT 1) TO '/tmp/ioc-roles-test'",
            "SELECT pg_read_file('/etc/passwd')",
            "SELECT count(*) FROM drop_chunks('probe_results', older_than => interval '1 day')",
            "ALTER TABLE probe_results ADD COLUMN intruder int",
            "DROP TABLE reports",
            "TRUNCATE alerts",
            "DELETE FROM schema_migrations",
        ]
        for statement in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


@pytest.mark.parametrize("process", PROCESSES)
def test_secrets_are_read_only_by_their_process(logins: dict[str, str], process: str) -> None:
    with db.connect(logins[process]) as conn:
        for table, readers in db_roles.SECRETS.items():
            role = db_roles.PROCESS_ROLES[process]
            count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            if role in readers:
                conn.execute(count)
            else:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(count)
        # the owner's-rights rollup and retention are the collectors' alone
        if process != "collector":
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT ioc_rollup_run()")
        # everyone reads probe data and KPIs, and syncs the config's copy
        conn.execute("SELECT count(*) FROM probe_results").fetchone()
        conn.execute("SELECT * FROM ioc_kpi('availability', now() - interval '1 hour', now())")


def test_grafana_may_not_run_the_owner_s_functions(roles_db: str) -> None:
    with db.connect(roles_db) as conn:
        for fn in ("ioc_rollup_run(integer)", "ioc_apply_retention(interval, interval)"):
            row = conn.execute("SELECT has_function_privilege('ioc_grafana', %s, 'EXECUTE'), "
                               "p.prosecdef FROM pg_proc p WHERE p.oid = %s::regprocedure",
                               (fn, fn)).fetchone()
            assert row == (False, True), fn


async def test_collector_writes_rolls_up_and_applies_retention(
        roles_db: str, logins: dict[str, str], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=400)  # older than the example's raw retention (30 days)
    with db.connect(roles_db) as admin:
        admin.execute("INSERT INTO targets (id, system, kind, name, labels, interval_s) "
                      "VALUES ('gone', 'portal', 'http', 'gone', '{}', 10)")
        admin.execute("INSERT INTO probe_results (time, target_id, ok, duration_ms) "
                      "VALUES (%s, 'gone', true, 1)", (old,))
    caplog.set_level(logging.WARNING)
    async with run_province(SimOptions(seed=5, speed=0)) as province:
        holder = ConfigHolder(write_config(tmp_path / "config", targets=_targets(province.urls)))
        svc = CollectorService(
            logins["collector"], holder, tmp_path / "spool",
            CollectOptions(collector_id="roles", heartbeat_s=0.3, rollup_s=0.3,
                           flush_age_s=0.2),
            CollectorMetrics.create(CollectorRegistry()))
        stop = asyncio.Event()
        task = asyncio.create_task(svc.run(stop))
        try:
            for _ in range(300):
                counts = _counts(roles_db)
                if all(counts.values()):
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await task
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert all(counts.values()), (counts, errors)
    assert errors == []
    with db.connect(roles_db) as admin:
        left = admin.execute("SELECT count(*) FROM probe_results WHERE time < %s",
                             (now - timedelta(days=100),)).fetchone()
    assert left == (0,)  # the collectors' hourly retention dropped the old chunk


def _targets(urls: dict[str, str]) -> list[dict[str, object]]:
    """A probe, a scrape and a records target of the simulated portal, polled every second."""
    portal = urls["portal"]
    fast = {"system": "portal", "interval": "1s", "timeout": "900ms", "jitter": "0s"}
    return [
        {"id": "portal-health", "kind": "http", "name": "Cổng", "url": f"{portal}/health",
         **fast},
        {"id": "portal-metrics", "kind": "prometheus", "name": "Số liệu",
         "url": f"{portal}/metrics", **fast},
        {"id": "portal-agencies", "kind": "records", "name": "Cơ quan", "record_type": "agencies",
         "url": f"{portal}/api/agencies", **fast},
    ]


def _counts(url: str) -> dict[str, int]:
    with db.connect(url) as conn:
        queries = {
            "probes": "SELECT count(*) FROM probe_results WHERE collector = 'roles'",
            "samples": "SELECT count(*) FROM samples",
            "records": "SELECT count(*) FROM agencies",
            "rollups": "SELECT count(*) FROM probe_rollup_1m",
            "heartbeats": "SELECT count(*) FROM collector_heartbeats WHERE collector_id = 'roles'",
        }
        return {k: int(conn.execute(q).fetchone()[0]) for k, q in queries.items()}  # type: ignore[index]


async def test_engine_fires_and_its_outbox_delivers(roles_db: str,
                                                    logins: dict[str, str]) -> None:
    now = datetime.now(UTC)
    receiver = Receiver()
    await receiver.start()
    cfg = make_config(rules=[down_rule()], channels=[webhook_channel("ops", receiver.url + "/h")],
                      routing={"channels": ["ops"], "group_wait": "0s"})
    try:
        async with await db.connect_async(roles_db) as admin:
            await add_target(admin, "engine-t")
            await probe(admin, "engine-t", now, ok=False)
        async with await db.connect_async(logins["engine"]) as conn, \
                await db.connect_async(logins["engine"]) as conn2, \
                aiohttp.ClientSession() as session:
            engine = Engine(conn, cfg)
            await engine.cycle(now)
            await Outbox(conn2, cfg, session, secret=SECRET).drain(now)
    finally:
        await receiver.stop()
    events = receiver.events()
    assert [(e["status"], e["labels"]["target"]) for e in events] == [("firing", "engine-t")]


def test_api_checks_tokens_acknowledges_silences_and_takes_pushes(
        roles_db: str, logins: dict[str, str]) -> None:
    tokens = make_tokens(roles_db)
    province: ProvinceConfig = ConfigHolder(PROJECT_ROOT / "config", env={}).config
    add_alert(roles_db, "fp-roles", datetime.now(UTC))
    server = ApiServer(logins["api"], config=lambda: province).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            operator = {"Authorization": f"Bearer {tokens.operator}"}
            assert client.get("/api/v1/alerts", headers=operator).status_code == 200
            assert client.get("/api/v1/alerts",
                              headers={"Authorization": f"Bearer {tokens.revoked}"}
                              ).status_code == 401
            acked = client.post("/api/v1/alerts/fp-roles/ack", headers=operator)
            assert acked.status_code == 200, acked.text
            silence = client.post("/api/v1/silences", headers=operator, json={
                "matchers": [{"label": "system", "op": "=", "value": "portal"}],
                "duration": "1h", "comment": "roles"})
            assert silence.status_code == 201, silence.text
            sample = {"metric": "documents_signing_total", "labels": {"agency": "so-tp"},
                      "value": 3}
            pushed = client.post("/api/v1/push", json={"samples": [sample]},
                                 headers={"Authorization": f"Bearer {tokens.ingest}"})
            assert pushed.json() == {"stored": 1}
    finally:
        server.stop()
    with db.connect(roles_db) as admin:
        assert admin.execute("SELECT acked_by FROM alerts WHERE fingerprint = 'fp-roles'"
                             ).fetchone() == ("operator",)
        assert admin.execute("SELECT count(*) FROM alert_acks WHERE fingerprint = 'fp-roles'"
                             ).fetchone() == (1,)


def test_report_stores_and_publishes(roles_db: str, logins: dict[str, str]) -> None:
    now = datetime.now(UTC)
    week = Week.containing(now - timedelta(days=7))
    with db.connect(logins["report"]) as conn:
        stored = generate(conn, week, now=now, pdf=False)
        publish(conn, stored.id, now)
    with db.connect(roles_db) as admin:
        row = admin.execute("SELECT period, published_at IS NOT NULL FROM reports WHERE id = %s",
                            (stored.id,)).fetchone()
    assert row == (str(week), True)


def test_each_process_takes_its_own_url_and_falls_back_to_the_shared_one() -> None:
    env = {"IOC_DATABASE_URL": "postgresql://owner@db/ioc",
           "IOC_ENGINE_DATABASE_URL": "postgresql://ioc_engine_ioc@db/ioc",
           "IOC_STATE_DIR": "/nonexistent", "IOC_SECRET_KEY": "k"}
    assert Settings.from_env(env, process="engine").database_url.startswith("postgresql://ioc_e")
    assert Settings.from_env(env, process="api").database_url == env["IOC_DATABASE_URL"]
    assert Settings.from_env(env).database_url == env["IOC_DATABASE_URL"]


def test_db_logins_command_writes_a_private_env_file_and_drops(fresh_db_url: str,
                                                              tmp_path: Path) -> None:
    env = {**os.environ, "IOC_DATABASE_URL": fresh_db_url}
    for process in PROCESSES:
        env.pop(f"IOC_{process.upper()}_DB_PASSWORD", None)
    ioc = [sys.executable, "-m", "ioc.cli", "db", "logins"]
    refused = subprocess.run(ioc, env=env, capture_output=True, text=True, timeout=60,
                             check=False)
    assert refused.returncode == 2 and "--env-file" in refused.stderr
    target = tmp_path / "db-logins.env"
    made = subprocess.run([*ioc, "--env-file", str(target)], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    assert "password" not in made.stdout
    assert target.stat().st_mode & 0o777 == 0o600
    urls = dict(shlex.split(line)[0].split("=", 1)
                for line in target.read_text().splitlines())
    assert set(urls) == {db_roles.url_variable(p) for p in PROCESSES}
    with db.connect(urls["IOC_COLLECTOR_DATABASE_URL"]) as conn:
        user = conn.execute("SELECT current_user").fetchone()
    assert user == (db_roles.login_name("ioc_collector", str(conninfo_to_dict(
        fresh_db_url)["dbname"])),)
    dropped = subprocess.run([*ioc, "--drop"], env=env, capture_output=True, text=True,
                             timeout=60, check=False)
    assert dropped.returncode == 0 and dropped.stdout.count("dropped ") == len(PROCESSES)
    with pytest.raises(psycopg.OperationalError):
        db.connect(urls["IOC_COLLECTOR_DATABASE_URL"])
