"""The config's copy in the database has one owner (ioc.config_sync): `ioc db migrate` loads it,
and the long-running processes follow each reload. Real processes on real databases."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from ioc import db
from ioc.api import tokens
from ioc.config import ConfigHolder, load_config
from ioc.config.types import SYSTEMS
from ioc.config_sync import ConfigSyncer, sync_config
from ioc.kpi import kpi_value
from tests.kpi.records import dossier, load, local

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config"
TET_2026 = [date(2026, 2, d) for d in range(16, 21)]         # Mon 16 - Fri 20 Feb 2026
DAY_OFF = "SELECT working FROM calendar_days WHERE day = %s"


def _env(url: str, config_dir: Path, state: Path) -> dict[str, str]:
    return {**os.environ, "IOC_DATABASE_URL": url, "IOC_CONFIG_DIR": str(config_dir),
            "IOC_STATE_DIR": str(state), "IOC_SECRET_KEY": "k" * 32}


def _ioc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ioc.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def _working(conn: psycopg.Connection, day: date) -> bool | None:
    row = conn.execute(DAY_OFF, (day,)).fetchone()
    return None if row is None else bool(row[0])


@pytest.fixture
def empty_db_url(server_url: str, make_db: Callable[[], str]) -> str:
    """A database without any migration (dropped with the others at the end of the session)."""
    url = make_db()
    name = url.rsplit("dbname=", 1)[-1].split()[0]
    with db.connect(server_url) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url


def test_migrate_loads_calendar_objectives_targets_and_maintenance(empty_db_url: str,
                                                                   tmp_path: Path) -> None:
    env = _env(empty_db_url, EXAMPLE, tmp_path)
    done = _ioc("db", "migrate", env=env)
    assert done.returncode == 0, done.stderr
    assert "applied 001_core" in done.stdout
    assert "config in the database: targets" in done.stdout
    config = load_config(EXAMPLE)
    with db.connect(empty_db_url) as conn:
        for day in [date(2026, 4, 30), date(2026, 5, 1), date(2026, 4, 27), *TET_2026]:
            assert _working(conn, day) is False, day
        assert _working(conn, date(2026, 4, 29)) is True
        for day in config.calendar.days_off:              # the config's bridge days ...
            assert _working(conn, day) is False, day
        for day in config.calendar.working_days:          # ... and make-up Saturdays
            assert _working(conn, day) is True, day
        rows = conn.execute("SELECT system, availability, latency_ms, source "
                            "FROM slo_objectives ORDER BY system").fetchall()
        assert rows == sorted(
            (s, config.systems.get(s).slo.availability,
             config.systems.get(s).slo.latency_p95.total_seconds() * 1000, "config")
            for s in SYSTEMS)
        targets = conn.execute("SELECT id, enabled FROM targets ORDER BY id").fetchall()
        assert targets == sorted((t.id, t.enabled) for t in config.targets)
        windows = conn.execute("SELECT DISTINCT comment FROM maintenance_windows "
                               "WHERE source = 'config'").fetchall()
        assert {w[0] for w in windows} <= {f"config:{w.id}" for w in config.maintenance}
        assert windows                        # the weekly window always has an occurrence ahead
        stamps = conn.execute("SELECT xmin::text FROM calendar_meta").fetchall()
    again = _ioc("db", "migrate", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == ["schema is current", "config in the database: unchanged"]
    with db.connect(empty_db_url) as conn:                # unchanged: not even rewritten
        assert conn.execute("SELECT xmin::text FROM calendar_meta").fetchall() == stamps


def test_migrate_refuses_a_bad_config_with_the_checkers_messages(fresh_db_url: str,
                                                                  tmp_path: Path) -> None:
    bad = ROOT / "tests" / "config" / "bad" / "bad-template"
    done = _ioc("db", "migrate", env=_env(fresh_db_url, bad, tmp_path))
    assert done.returncode == 2
    assert "nothing was changed" in done.stderr
    assert f"{bad}/rules.yaml:10:16: rules[0].annotations.summary" in done.stderr
    with db.connect(fresh_db_url) as conn:            # the template's calendar: weekends only
        assert _working(conn, date(2026, 4, 30)) is True
    missing = _ioc("db", "migrate", env=_env(fresh_db_url, tmp_path / "nowhere", tmp_path))
    assert missing.returncode == 2
    assert "not a directory" in missing.stderr
    schema_only = _ioc("db", "migrate", "--no-config",
                       env=_env(fresh_db_url, tmp_path / "nowhere", tmp_path))
    assert schema_only.returncode == 0, schema_only.stderr
    assert schema_only.stdout.strip() == "schema is current"


# Four dossiers around Hùng Kings (Mon 27 Apr, observed), 30/4 and 1/5 2026, judged by hand.
# Working days: Mon 20 - Fri 24, Tue 28, Wed 29, Mon 4 May (a weekends-only calendar adds
# Mon 27, Thu 30 and Fri 1). Processing time in working days of 24 h:
#   W1 Fri 24 08:00 -> Tue 28 08:00: 16 h + 8 h = 1 (weekends only: + Mon 27 = 2); on time
#   W2 Wed 29 08:00 -> Mon 4 08:00: 16 h + 8 h = 1 (+ Thu 30, Fri 1 = 3); on time
#   W3 Mon 20 07:00 -> Thu 30 12:00 (a holiday: counts from the start of Mon 4):
#      17 h + 6 days = 6 17/24 (+ Mon 27 and half of Thu 30 = 8 5/24); due Tue 28: late
#   W4 Wed 22 08:00 -> Thu 30 12:00 less a supplement Fri 24 08:00 -> Tue 28 08:00 (1 working
#      day; 2 on weekends only): 4 2/3 - 1 = 3 2/3 (6 1/6 - 2 = 4 1/6); due Tue 28 17:00,
#      moved by the supplement to Wed 29 17:00: late (weekends only: to Thu 30 17:00, on time)
# 766.2.1 = 2/4 = 0.5 (weekends only 0.75); 766.2.2 = 12.375 / 4 = 3.09 (17.375 / 4 = 4.34).
FOUR = [
    dossier("W1", local(4, 24, 8), local(4, 28, 17), status=9, finished=local(4, 28, 8)),
    dossier("W2", local(4, 29, 8), local(5, 4, 17), status=9, finished=local(5, 4, 8)),
    dossier("W3", local(4, 20, 7), local(4, 28, 17), status=9, finished=local(4, 30, 12)),
    dossier("W4", local(4, 22, 8), local(4, 28, 17), status=9, finished=local(4, 30, 12),
            supplements=((local(4, 24, 8), local(4, 28, 8)),)),
]
WINDOW = (local(4, 27), local(5, 5))


def _figures(conn: psycopg.Connection) -> tuple[float | None, float | None]:
    return kpi_value(conn, "766.2.1", *WINDOW), kpi_value(conn, "766.2.2", *WINDOW)


def test_the_766_figures_need_only_ioc_db_migrate(fresh_db_url: str, tmp_path: Path) -> None:
    with db.connect(fresh_db_url) as conn:      # migrated, config never loaded: weekends only
        assert load(conn, "dossiers", FOUR) == 4          # the collectors' write path
        assert _figures(conn) == (pytest.approx(0.75), pytest.approx(4.34375))
    done = _ioc("db", "migrate", env=_env(fresh_db_url, EXAMPLE, tmp_path))
    assert done.returncode == 0, done.stderr
    with db.connect(fresh_db_url) as conn:
        assert _figures(conn) == (pytest.approx(0.5), pytest.approx(3.09375))
        assert round(_figures(conn)[1] or 0, 2) == 3.09


def test_a_repeated_sync_writes_nothing(fresh_db_url: str) -> None:
    config = load_config(EXAMPLE)
    with db.connect(fresh_db_url) as conn:
        first = sync_config(conn, config)
        assert first.targets == len(config.targets) and first.calendar_days > 0
        assert first.objectives == 3 and first.maintenance > 0
        tables = ("targets", "calendar_days", "calendar_meta", "slo_objectives",
                  "maintenance_windows")
        stamps = "SELECT count(*), string_agg(DISTINCT xmin::text, ',') FROM {}"

        def versions() -> list[object]:
            return [conn.execute(sql.SQL(stamps).format(sql.Identifier(t))).fetchone()
                    for t in tables]

        before = versions()
        assert not sync_config(conn, config).changed
        assert versions() == before                     # no row written, none removed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Callable[[], bool], what: str, procs: list[subprocess.Popen[bytes]],
          timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        for p in procs:
            assert p.poll() is None, f"{p.args!r} exited with {p.returncode}"
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def _add_day_off(config_dir: Path, day: date) -> None:
    path = config_dir / "calendar.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  days_off:\n", f"  days_off:\n    - {day.isoformat()}\n", 1),
                    encoding="utf-8")


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """The example config without rules: nothing fires, nothing is sent anywhere."""
    directory = tmp_path / "config"
    shutil.copytree(EXAMPLE, directory)
    (directory / "rules.yaml").write_text("rules: []\n", encoding="utf-8")
    return directory


@dataclass
class Running:
    serve: subprocess.Popen[bytes]
    alerts: subprocess.Popen[bytes]
    port: int


@pytest.fixture
def running(fresh_db_url: str, config_copy: Path, tmp_path: Path) -> Iterator[Running]:
    env = _env(fresh_db_url, config_copy, tmp_path)
    port = _free_port()
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("serve", "alerts")}
    procs = {
        "serve": subprocess.Popen([sys.executable, "-m", "ioc.cli", "serve", "--port",
                                   str(port)], env=env, cwd=ROOT, stdout=logs["serve"],
                                  stderr=subprocess.STDOUT),
        # files are looked at once an hour: only SIGHUP reloads it within the test
        "alerts": subprocess.Popen([sys.executable, "-m", "ioc.cli", "alerts", "--reload",
                                    "3600"], env=env, cwd=ROOT, stdout=logs["alerts"],
                                   stderr=subprocess.STDOUT),
    }
    try:
        yield Running(procs["serve"], procs["alerts"], port)
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in logs.values():
            f.close()


def _admin_token(url: str) -> str:
    async def make() -> str:
        conn = await db.connect_async(url)
        async with conn:
            _, secret = await tokens.create(conn, "sync-test-admin", "admin", datetime.now(UTC))
        return secret

    return asyncio.run(make())


def test_serve_and_alerts_load_the_config_and_follow_a_reload(
        fresh_db_url: str, config_copy: Path, tmp_path: Path,
        running: Running) -> None:
    alerts, port = running.alerts, running.port
    procs = [running.serve, alerts]
    with db.connect(fresh_db_url) as conn:
        # at start (the template database has a weekends-only calendar)
        _wait(lambda: _working(conn, date(2026, 4, 30)) is False, "30/4 off after start", procs)
        # a bridge day, reloaded by the API (admin: POST /api/v1/config/reload)
        _wait(lambda: _ready(port), "the API answering", procs)
        bridge = date(2026, 4, 29)
        assert _working(conn, bridge) is True
        _add_day_off(config_copy, bridge)
        reply = httpx.post(f"http://127.0.0.1:{port}/api/v1/config/reload", timeout=30,
                           headers={"Authorization": f"Bearer {_admin_token(fresh_db_url)}"})
        assert reply.status_code == 200 and reply.json()["changed"] is True, reply.text
        _wait(lambda: _working(conn, bridge) is False, "the API's reload in calendar_days",
              procs, timeout=30)
        # another one, reloaded by the alert engine on SIGHUP (the API does not watch files)
        second = date(2026, 5, 4)
        assert _working(conn, second) is True
        _add_day_off(config_copy, second)
        alerts.send_signal(signal.SIGHUP)
        _wait(lambda: _working(conn, second) is False, "the engine's reload in calendar_days",
              procs, timeout=30)
    assert b"config reloaded" in (tmp_path / "alerts.log").read_bytes()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_syncer_retries_until_the_database_answers_then_follows_reloads(
        fresh_db_url: str, config_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(config_copy)
    where = {"url": "postgresql://ioc@127.0.0.1:1/nowhere?connect_timeout=2"}  # refused
    syncer = ConfigSyncer(holder, lambda: db.connect(where["url"])).attach()
    with caplog.at_level(logging.WARNING, logger="ioc.config_sync"):
        assert syncer.ensure() is None
    assert "config not written to the database (OperationalError); retrying later" in caplog.text
    where["url"] = fresh_db_url
    first = syncer.ensure()
    assert first is not None and first.calendar_days > 0
    assert syncer.ensure() is None                      # synced: not even a connection
    _add_day_off(config_copy, date(2026, 4, 29))
    assert holder.reload().changed                      # the listener syncs the new config
    with db.connect(fresh_db_url) as conn:
        assert _working(conn, date(2026, 4, 29)) is False
