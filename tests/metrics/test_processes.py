"""Every long-running process exports metrics that `promtool check metrics` accepts without a
word: `ioc serve` (behind a token), `ioc collect` and `ioc alerts` (loopback ports), each run as
a real process on a fresh database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ioc import db
from ioc.api import tokens
from ioc.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Centre:
    api: str
    collect: str
    alerts: str
    tokens: dict[str, str]


def _env(db_url: str, state: Path) -> dict[str, str]:
    """The example config with everything it would reach pointed at closed loopback ports,
    so the processes touch nothing of other tests (or a demo) on this machine."""
    closed = f"http://127.0.0.1:{free_port()}"
    return {**os.environ, "IOC_DATABASE_URL": db_url, "IOC_STATE_DIR": str(state),
            "IOC_SIM_PORTAL_URL": closed, "IOC_SIM_PAYMENTS_URL": closed,
            "IOC_SIM_DOCUMENTS_URL": closed, "IOC_WEBHOOK_URL": closed + "/hooks",
            "IOC_SMTP_PORT": str(free_port()), "IOC_CONFIG_DIR": str(PROJECT_ROOT / "config")}


def _make_tokens(url: str) -> dict[str, str]:
    async def go() -> dict[str, str]:
        made = {}
        async with await db.connect_async(url) as conn:
            for role in ("viewer", "metrics", "ingest"):
                _, made[role] = await tokens.create(conn, f"scrape-{role}", role,
                                                    datetime.now(UTC))
        return made

    return asyncio.run(go())


@pytest.fixture(scope="module")
def centre(make_db: Callable[[], str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Centre]:
    url = make_db()
    tmp = tmp_path_factory.mktemp("centre")
    env = _env(url, tmp / "state")
    ports = {name: free_port() for name in ("api", "collect", "alerts")}
    argv = {
        "api": ["serve", "--port", str(ports["api"])],
        "collect": ["collect", "--metrics-port", str(ports["collect"])],
        "alerts": ["alerts", "--metrics-port", str(ports["alerts"])],
    }
    procs = {}
    for name, args in argv.items():
        with (tmp / f"{name}.log").open("wb") as log:
            procs[name] = subprocess.Popen([sys.executable, "-m", "ioc.cli", *args], env=env,
                                           stdout=log, stderr=subprocess.STDOUT)
    try:
        yield Centre(api=f"http://127.0.0.1:{ports['api']}",
                     collect=f"http://127.0.0.1:{ports['collect']}/metrics",
                     alerts=f"http://127.0.0.1:{ports['alerts']}/metrics",
                     tokens=_make_tokens(url))
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for name, proc in procs.items():  # uvicorn ends by re-raising the SIGTERM it handled
            assert proc.returncode in (0, -signal.SIGTERM), (tmp / f"{name}.log").read_text()


def scrape(url: str, until: str, headers: dict[str, str] | None = None) -> str:
    """The exposition at `url` once it contains `until` (the process has done some work)."""
    deadline = time.monotonic() + 60
    text = ""
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(url, headers=headers, timeout=10)
            text = resp.text
            if resp.status_code == 200 and until in text:
                return text
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} never showed {until!r}; last answer: {text[-500:]}")


def promtool(text: str) -> tuple[int, str]:
    check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                           capture_output=True, timeout=30, check=False)
    return check.returncode, check.stdout + check.stderr


def test_api_metrics_need_a_token_and_pass_promtool(centre: Centre) -> None:
    url = centre.api + "/metrics"
    scrape(centre.api + "/readyz", '"ok"')
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer ioc_not-a-token"}).status_code == 401
    ingest = {"Authorization": f"Bearer {centre.tokens['ingest']}"}
    assert httpx.get(url, headers=ingest).status_code == 403
    scraper = {"Authorization": f"Bearer {centre.tokens['metrics']}"}
    assert httpx.get(centre.api + "/api/v1/status", headers=scraper).status_code == 403
    viewer = {"Authorization": f"Bearer {centre.tokens['viewer']}"}
    text = scrape(url, 'route="/metrics",status="200"', viewer)
    assert scrape(url, "ioc_api_requests_total", scraper)
    assert "\nprocess_resident_memory_bytes" in text
    assert promtool(text) == (0, "")


def test_collector_metrics_pass_promtool(centre: Centre) -> None:
    text = scrape(centre.collect, 'ioc_collector_probes_total{kind="http"}')
    for name in ("ioc_collector_schedule_lag_seconds_count", "ioc_collector_spool_bytes",
                 "ioc_collector_spool_pending_batches", "process_resident_memory_bytes"):
        assert f"\n{name}" in text, name
    assert promtool(text) == (0, "")


def test_alerts_metrics_pass_promtool(centre: Centre) -> None:
    text = scrape(centre.alerts, 'ioc_alerts_rule_evaluations_total{rule="target-down"}')
    assert "\nioc_alerts_database_up 1.0" in text
    for name in ("ioc_alerts_rule_evaluation_seconds_bucket", "ioc_alerts_open",
                 "ioc_alerts_outbox_messages", "ioc_alerts_outbox_oldest_age_seconds",
                 'ioc_alerts_notifications_sent_total{channel="ops-webhook"}',
                 "ioc_alerts_leader 1.0"):
        assert f"\n{name}" in text, name
    assert promtool(text) == (0, "")
    # the standalone ports listen on loopback only unless --metrics-host says otherwise
    port = int(centre.alerts.split(":")[2].split("/")[0])
    assert _listening_addresses(port) == {"127.0.0.1"}


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hexport = local.split(":")
        if state == "0A" and int(hexport, 16) == port:  # 0A = LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found
