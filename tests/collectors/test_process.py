"""A real `ioc collect` process: killed with -9 while spooling, its spool replays on next start."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from collectors.model import Batch
from collectors.spool import read_segment
from ioc import db
from tests.collectors.conftest import http_target, write_config
from tests.collectors.loopback import Loopback, closed_port

UNREACHABLE_DB = f"postgresql://ioc:secret@127.0.0.1:{closed_port()}/ioc"


def env(database_url: str, state: Path) -> dict[str, str]:
    return {**os.environ, "IOC_DATABASE_URL": database_url, "IOC_STATE_DIR": str(state)}


async def start(database_url: str, state: Path, config: Path,
                *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ioc.cli", "collect", "--config", str(config), *extra,
        env=env(database_url, state), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)


def spooled_results(spool: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in sorted(spool.glob("*.spool")):
        for record in read_segment(path).records:
            for r in Batch.from_json(record).results:
                counts[r.target_id] = counts.get(r.target_id, 0) + 1
    return counts


async def scrape(port: int) -> str:
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{port}/metrics") as resp:
        return await resp.text()


async def test_killed_collector_spool_is_replayed_on_next_start(
        fresh_db_url: str, loopback: Loopback, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", [
        http_target(f"k{i}", f"{loopback.url}/count/k{i}", interval="300ms", timeout="250ms")
        for i in range(3)])
    state, port = tmp_path / "state", closed_port()
    proc = await start(UNREACHABLE_DB, state, config, "--metrics-port", str(port))
    spool = state / "spool"
    for _ in range(100):
        await asyncio.sleep(0.1)
        if sum(p.stat().st_size for p in spool.glob("*.spool")) > 2000:
            break
    exposition = await scrape(port)
    proc.send_signal(signal.SIGKILL)
    _, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert b"secret" not in err  # the database password never reaches the log
    # A crash mid-write leaves a torn record: cut the newest file short.
    newest = sorted(spool.glob("*.spool"))[-1]
    newest.write_bytes(newest.read_bytes()[:-7])
    expected = spooled_results(spool)
    assert sum(expected.values()) >= 3

    proc = await start(fresh_db_url, state, config, "--once")
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert b"truncated record" in err
    with db.connect(fresh_db_url) as conn:
        rows = dict(conn.execute("SELECT target_id, count(*) FROM probe_results "
                                 "GROUP BY 1").fetchall())
    assert rows == {t: n + 1 for t, n in expected.items()}  # the spool, then one --once run
    assert not list(spool.glob("*.spool"))
    assert "ioc_collector_spool_batches_total" in exposition
    pending = [line for line in exposition.splitlines()
               if line.startswith("ioc_collector_spool_pending_batches ")]
    assert pending and float(pending[0].split()[1]) >= 1, pending
    assert 'ioc_collector_probes_total{kind="http"}' in exposition
    check = subprocess.run(["promtool", "check", "metrics"], input=exposition.encode(),
                           capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


async def test_sigterm_spools_what_cannot_be_stored(loopback: Loopback, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", [
        http_target("s0", f"{loopback.url}/count/s0", interval="300ms", timeout="250ms")])
    state = tmp_path / "state"
    proc = await start(UNREACHABLE_DB, state, config)
    for _ in range(150):  # the CLI takes a few seconds to import
        await asyncio.sleep(0.1)
        if loopback.hits["s0"] >= 4:
            break
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert spooled_results(state / "spool") == {"s0": loopback.hits["s0"]}
    assert loopback.hits["s0"] >= 4


async def test_collect_refuses_a_database_without_migrations(server_url: str,
                                                             tmp_path: Path) -> None:
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"ioc_bare_{os.getpid()}"
    with db.connect(server_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_conninfo("", **{**conninfo_to_dict(server_url), "dbname": name})
        config = write_config(tmp_path / "cfg", [http_target("x", "http://127.0.0.1:1/")])
        proc = await start(url, tmp_path / "state", config, "--once")
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        with db.connect(server_url) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
    assert proc.returncode == 2
    assert b"run `ioc db migrate`" in err and b"010_collectors" in err
