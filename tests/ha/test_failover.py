"""The highly available database for real: Patroni, etcd, two PostgreSQL nodes with synchronous
replication. kill -9 of the primary (Patroni, postmaster and backends: the machine is lost)
while `ioc collect` writes and two `ioc alerts` run; kill -9 of the leading engine."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import websockets
from aiohttp import web

from alerts.engine import ENGINE_LOCK
from ioc import db, migrate
from ioc.ha import HaCluster
from tests.alerts.support import SECRET, Receiver, add_target, down_rule, probe, webhook
from tests.alerts.support import write_config as write_alert_config
from tests.api.conftest import make_tokens
from tests.collectors.conftest import http_target
from tests.collectors.conftest import write_config as write_collect_config
from tests.collectors.loopback import Loopback
from tests.pgserver import free_port

pytestmark = pytest.mark.slow


async def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One query on a fresh connection (whichever node is the primary now)."""
    async with await db.connect_async(url) as conn:
        cur = await conn.execute(sql, params)
        return list(await cur.fetchall())


async def eventually(check: Any, what: str, timeout: float = 90) -> None:
    """Until `await check()` is true; database errors while there is no primary are retried."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        try:
            if await check():
                print(f"{what}: {time.monotonic() - started:.1f} s")
                return
        except psycopg.OperationalError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.3)


def failover(ha: HaCluster) -> tuple[int, float]:
    """kill -9 the primary node; (the old primary, seconds until another node is primary)."""
    old = ha.primary()
    assert old is not None
    started = time.monotonic()
    ha.kill_node(old)
    ha.wait_primary(120, other_than=old)
    return old, time.monotonic() - started


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def spawn(procs: list[subprocess.Popen[bytes]], log: Path, env: dict[str, str],
          *argv: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ioc.cli", *argv],
                                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    procs.append(proc)
    return proc


class Targets(Loopback):
    """The loopback targets, plus /flip whose answer the test switches (a status change)."""

    flip = 200

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get("/flip", self.flipped)
        return app

    async def flipped(self, request: web.Request) -> web.Response:
        return web.Response(status=self.flip, text="flip")


async def live_status(ws: Any, system: str, state: str, timeout: float = 60) -> None:
    """Until the live feed says `system` is `state` (other messages are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "status" and message["system"]["system"] == system \
                    and message["system"]["state"] == state:
                return


async def test_primary_failover_during_collection_loses_and_duplicates_nothing(
        ha: HaCluster, procs: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    targets = Targets()
    await targets.start()
    try:
        config = write_collect_config(tmp_path / "cfg", [
            *(http_target(f"h{i}", f"{targets.url}/count/h{i}", interval="2s",
                          timeout="1500ms") for i in range(3)),
            http_target("flip", f"{targets.url}/flip", system="payments", interval="2s",
                        timeout="1500ms")])
        url = ha.url()
        collector = spawn(procs, tmp_path / "collect.log",
                          {"IOC_DATABASE_URL": url, "IOC_STATE_DIR": str(tmp_path / "state")},
                          "collect", "--config", str(config))
        viewer = (await asyncio.to_thread(make_tokens, url)).viewer
        api = f"127.0.0.1:{free_port()}"
        spawn(procs, tmp_path / "serve.log",
              {"IOC_DATABASE_URL": url, "IOC_API_PORT": api.split(":")[1],
               "IOC_STATE_DIR": str(tmp_path / "serve"), "IOC_SECRET_KEY": SECRET,
               "IOC_CONFIG_DIR": str(config)}, "serve")

        async def stored() -> int:
            return int((await query(url, "SELECT count(*) FROM probe_results"
                                    " WHERE target_id <> 'flip'"))[0][0])

        async def some_stored() -> bool:
            assert collector.poll() is None, (tmp_path / "collect.log").read_text()
            return await stored() >= 6

        async def api_answers() -> bool:
            async with httpx.AsyncClient(timeout=5) as client:
                try:
                    r = await client.get(f"http://{api}/api/v1/status",
                                         headers={"Authorization": f"Bearer {viewer}"})
                except httpx.HTTPError:
                    return False
            return r.status_code == 200

        await eventually(some_stored, "the collector stores results")
        await eventually(api_answers, "the API answers")
        killed_at = datetime.now(UTC)
        old, seconds = await asyncio.to_thread(failover, ha)
        promoted_at = datetime.now(UTC)
        print(f"primary node{old} killed; another node primary after {seconds:.1f} s")

        async def outage_replayed() -> bool:
            # results probed while there was no primary were spooled, then replayed
            rows = await query(url, "SELECT count(DISTINCT target_id) FROM probe_results"
                               " WHERE time > %s AND time < %s", (killed_at, promoted_at))
            return int(rows[0][0]) == 4

        await eventually(outage_replayed, "results from the outage are replayed")
        before = await stored()

        async def writing_again() -> bool:
            return await stored() >= before + 6

        await eventually(writing_again, "the collector writes to the new primary")
        # The API answers again, and its live feed listens on the new primary: a status
        # change the collector commits there reaches a screen.
        await eventually(api_answers, "the API answers after the failover")
        async with websockets.connect(f"ws://{api}/ws/live?token={viewer}") as ws:
            targets.flip = 503
            started = time.monotonic()
            await live_status(ws, "payments", "down")
            print(f"live status change: {time.monotonic() - started:.1f} s")

        # The old primary comes back: Patroni rewinds it and it follows the new one.
        await asyncio.to_thread(ha.start_node, old)
        rejoin = time.monotonic()
        await asyncio.to_thread(ha.wait_replicas, 1, 120)
        print(f"old primary streams again: {time.monotonic() - rejoin:.1f} s")
        status = ha.status(old)
        assert status is not None and status["role"] == "replica", status

        collector.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(collector.wait, 60) == 0
    finally:
        await targets.stop()
    rows = dict(await query(url, "SELECT target_id, count(*) FROM probe_results"
                            " WHERE target_id <> 'flip' GROUP BY 1"))
    assert rows == dict(targets.hits), "rows stored must equal probes served"
    assert (await query(url, "SELECT count(*) FROM (SELECT target_id, time FROM probe_results"
                        " GROUP BY 1, 2 HAVING count(*) > 1) d"))[0][0] == 0
    log = (tmp_path / "collect.log").read_text()
    assert "spooling" in log  # the outage was ridden out by the spool
    assert ha.url().split("@")[0].split(":")[-1] not in log  # the password is never logged


HOLDER = ("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        f" AND classid = 0 AND objid = {ENGINE_LOCK}")


async def test_engine_takeover_and_primary_failover_notify_once_per_transition(
        ha: HaCluster, procs: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    with db.connect(ha.url("postgres")) as admin:
        admin.execute("CREATE DATABASE alerts")
    url = ha.url("alerts")
    with db.connect(url) as conn:
        migrate.migrate(conn)
    receiver = Receiver()
    await receiver.start()
    try:
        write_alert_config(tmp_path, rules=[down_rule()],
                           routing={"channels": ["ops"], "group_wait": "0s",
                                    "group_by": ["target"]},
                           channels=[webhook("ops", receiver.url + "/hook")])
        env = {"IOC_DATABASE_URL": url, "IOC_CONFIG_DIR": str(tmp_path),
               "IOC_SECRET_KEY": SECRET, "IOC_STATE_DIR": str(tmp_path)}
        argv = ("alerts", "--tick", "0.2", "--poll", "0.1", "--backoff-base", "200ms",
                "--backoff-cap", "1s", "--lease", "3s")

        def sent(target: str, status: str) -> bool:
            return any(ev["labels"]["target"] == target and ev["status"] == status
                       for ev in receiver.events())

        async with await db.connect_async(url) as conn:
            await add_target(conn, "a")
            await probe(conn, "a", datetime.now(UTC), ok=False)
        leader = spawn(procs, tmp_path / "engine-0.log", env, *argv)
        await receiver.wait_for(lambda: sent("a", "firing"), 60)
        standby = spawn(procs, tmp_path / "engine-1.log", env, *argv)
        await asyncio.sleep(2)  # the standby is up and waiting for the lock

        # 1. kill -9 the leading engine: the standby takes the lock and evaluates.
        first = await query(url, HOLDER)
        assert len(first) == 1
        killed = time.monotonic()
        leader.send_signal(signal.SIGKILL)
        leader.wait()

        async def held() -> bool:  # by another session than the killed leader's
            now_held = await query(url, HOLDER)
            return bool(now_held) and now_held != first

        await eventually(held, "the standby engine holds the lock", 30)
        takeover = time.monotonic() - killed
        print(f"standby engine leads {takeover:.1f} s after the leader's kill -9")
        assert takeover < 15
        async with await db.connect_async(url) as conn:
            await add_target(conn, "b")
            await probe(conn, "b", datetime.now(UTC), ok=False)
        await receiver.wait_for(lambda: sent("b", "firing"), 30)
        assert standby.poll() is None
        spawn(procs, tmp_path / "engine-2.log", env, *argv)  # a new standby

        # 2. a failure committed right before the primary is lost is notified once
        async with await db.connect_async(url) as conn:
            await add_target(conn, "c")
            await probe(conn, "c", datetime.now(UTC), ok=False)
        await asyncio.to_thread(failover, ha)
        async with await db.connect_async(url) as conn:
            await probe(conn, "a", datetime.now(UTC), ok=True)  # a recovers after the failover
        await receiver.wait_for(lambda: sent("c", "firing") and sent("a", "resolved"), 90)
        await asyncio.sleep(2)  # room for a duplicate to show up
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        await receiver.stop()
    keys = Counter(r.headers["Idempotency-Key"] for r in receiver.accepted())
    by_key = {r.headers["Idempotency-Key"]: r for r in receiver.accepted()}
    seen = sorted((ev["labels"]["target"], ev["status"])
                  for r in by_key.values() for ev in r.json()["alerts"])
    assert seen == [("a", "firing"), ("a", "resolved"), ("b", "firing"), ("c", "firing")]
    print(f"deliveries per idempotency key: {sorted(keys.values())}")
    assert set(keys.values()) == {1}, keys
