"""Forwarding to a real Prometheus Alertmanager (the Debian package) on loopback: the alert
appears in its /api/v2/alerts with our labels, and resolves."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from alerts.engine import Engine
from alerts.outbox import Outbox
from tests.alerts.support import SECRET, add_target, down_rule, make_config, probe

BINARY = "/usr/bin/prometheus-alertmanager"
AM_CONFIG = """
route:
  receiver: blackhole
  group_wait: 1s
receivers:
  - name: blackhole
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[str]:
    assert shutil.which(BINARY), f"{BINARY} is missing: apt-get install prometheus-alertmanager"
    (tmp_path / "am.yml").write_text(AM_CONFIG)
    port = _free_port()
    proc = subprocess.Popen(
        [BINARY, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(100):
                try:
                    async with client.get(url + "/-/ready") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("Alertmanager did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def am_clock(session: aiohttp.ClientSession, url: str) -> datetime:
    """Alertmanager's own clock (its Date header): it judges endsAt by it, not by ours."""
    async with session.get(url + "/-/ready") as resp:
        return parsedate_to_datetime(resp.headers["Date"]).astimezone(UTC)


async def am_alerts(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    async with session.get(url + "/api/v2/alerts") as resp:
        assert resp.status == 200
        alerts: list[dict[str, Any]] = await resp.json()
        return alerts


async def test_alert_is_forwarded_to_alertmanager_and_resolves(
        alertmanager: str, conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection,
        session: aiohttp.ClientSession) -> None:
    cfg = make_config(rules=[down_rule(labels={"team": "portal"})],
                      channels=[{"name": "central-am", "kind": "alertmanager",
                                 "url": alertmanager}],
                      routing={"channels": ["central-am"], "group_wait": "0s"})
    await add_target(conn, "portal-home")
    engine, outbox = Engine(conn, cfg), Outbox(conn2, cfg, session, secret=SECRET)
    # Alertmanager judges endsAt by its own clock: the outage happened a few seconds ago by it
    now = await am_clock(session, alertmanager) - timedelta(seconds=5)
    await probe(conn, "portal-home", now, ok=False)
    await engine.cycle(now)
    assert await outbox.drain(now) == {"sent": 1}

    [alert] = await am_alerts(session, alertmanager)
    assert alert["labels"] == {"alertname": "target-down", "severity": "critical",
                               "rule": "target-down", "system": "portal",
                               "target": "portal-home", "team": "portal",
                               "ioc_fingerprint": alert["labels"]["ioc_fingerprint"]}
    assert alert["annotations"]["summary"] == "portal-home không phản hồi"
    assert alert["status"]["state"] == "active"

    later = now + timedelta(seconds=1)
    await probe(conn, "portal-home", later, ok=True)
    await engine.cycle(later)
    assert await outbox.drain(later) == {"sent": 1}
    for _ in range(50):  # Alertmanager drops an alert from the list once its endsAt passed
        if not await am_alerts(session, alertmanager):
            break
        await asyncio.sleep(0.1)
    assert await am_alerts(session, alertmanager) == []
