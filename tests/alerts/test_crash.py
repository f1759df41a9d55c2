"""`kill -9` of a real `ioc alerts` process while notifications are pending: after a restart
every notification is delivered and none twice (the receiver sees each idempotency key once)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.alerts.support import (
    SECRET,
    Receiver,
    add_target,
    down_rule,
    probe,
    webhook,
    write_config,
)
from tests.pgserver import pg_ctl


@pytest.fixture
def start_engine(alerts_db: str, tmp_path: Path) -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "IOC_DATABASE_URL": alerts_db, "IOC_CONFIG_DIR": str(tmp_path),
           "IOC_SECRET_KEY": SECRET, "IOC_STATE_DIR": str(tmp_path)}

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / f"engine-{len(procs)}.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ioc.cli", "alerts", "--tick", "0.2", "--poll", "0.1",
                 "--backoff-base", "200ms", "--backoff-cap", "1s", "--lease", "3s"],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def wait_until(conn: psycopg.AsyncConnection, query: str, expected: object,
                     timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        cur = await conn.execute(query)
        row = await cur.fetchone()
        if row is not None and row[0] == expected:
            return
        assert loop.time() < deadline, f"{query!r} never returned {expected!r} (last {row})"
        await asyncio.sleep(0.1)


SENT_FOR_A = ("SELECT count(*) FROM notifications WHERE state = 'sent'"
              " AND events @> '[{\"labels\": {\"target\": \"a\"}}]'")
RETRYING = "SELECT count(*) FROM notifications WHERE attempts >= 2 AND state <> 'sent'"
ALL_SENT = "SELECT count(*) FILTER (WHERE state = 'sent') FROM notifications"


async def test_kill_9_while_pending_then_restart_delivers_everything_once(
        conn: psycopg.AsyncConnection, receiver: Receiver, start_engine: object,
        tmp_path: Path) -> None:
    write_config(tmp_path, rules=[down_rule()],
                 routing={"channels": ["ops"], "group_wait": "0s", "group_by": ["target"]},
                 channels=[webhook("ops", receiver.url + "/hook")])
    start = start_engine
    assert callable(start)
    await add_target(conn, "a")
    await probe(conn, "a", datetime.now(UTC), ok=False)
    first = start()
    await wait_until(conn, SENT_FOR_A, 1)  # delivered and recorded before the crash

    receiver.status = 503  # the receiver goes down; three more targets fail
    for target in ("b", "c", "d"):
        await add_target(conn, target)
        await probe(conn, target, datetime.now(UTC), ok=False)
    await wait_until(conn, RETRYING, 3)
    first.send_signal(signal.SIGKILL)
    first.wait()

    now = datetime.now(UTC)
    await probe(conn, "a", now, ok=True)  # a recovers while no engine runs
    for target in ("b", "c", "d"):
        await probe(conn, target, now, ok=False)
    receiver.status = 200
    second = start()
    await wait_until(conn, ALL_SENT, 5)  # a fired+resolved, b c d fired
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=15) == 0

    keys = Counter(r.headers["Idempotency-Key"] for r in receiver.accepted())
    assert set(keys.values()) == {1} and len(keys) == 5
    seen = sorted((ev["labels"]["target"], ev["status"]) for ev in receiver.events())
    assert seen == [("a", "firing"), ("a", "resolved"), ("b", "firing"), ("c", "firing"),
                    ("d", "firing")]
    assert len(receiver.requests) > 5  # the down receiver was retried before and after


SENT_FOR_B = SENT_FOR_A.replace('"a"', '"b"')


async def test_engine_carries_on_after_the_database_restarts(
        alerts_db: str, receiver: Receiver, start_engine: object, tmp_path: Path) -> None:
    write_config(tmp_path, rules=[down_rule()],
                 routing={"channels": ["ops"], "group_wait": "0s", "group_by": ["target"]},
                 channels=[webhook("ops", receiver.url + "/hook")])
    assert callable(start_engine)
    engine = start_engine()
    async with await psycopg.AsyncConnection.connect(alerts_db, autocommit=True) as conn:
        await add_target(conn, "a")
        await probe(conn, "a", datetime.now(UTC), ok=False)
        await wait_until(conn, SENT_FOR_A, 1)  # the engine works before the restart
    pg_ctl("stop")
    try:
        await asyncio.sleep(3)
    finally:
        pg_ctl("start")
    async with await psycopg.AsyncConnection.connect(alerts_db, autocommit=True) as conn:
        await add_target(conn, "b")
        await probe(conn, "b", datetime.now(UTC), ok=False)
        await wait_until(conn, SENT_FOR_B, 1)  # and again after it, without a process restart
    assert engine.poll() is None
    engine.send_signal(signal.SIGTERM)
    assert engine.wait(timeout=15) == 0
