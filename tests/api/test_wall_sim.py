"""End to end: simulated province -> `ioc collect` -> database -> API -> wall in Chromium.

An outage injected into the simulated payment gateway turns its light red within the probe
interval (15 s for payments-health in the example config, plus its jitter) and a few seconds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ioc.api.browser import Chromium
from ioc.config.model import ProvinceConfig
from ioc.settings import PROJECT_ROOT
from sim import RunningProvince, SimOptions, run_province

from .conftest import make_tokens
from .server import ApiServer

PAYMENTS_HEALTH_INTERVAL_S = 15
# The scheduler adds up to a tenth of the interval as jitter; a few seconds more cover the
# collector's batch flush, the NOTIFY and the page (on a loaded two-core machine).
RED_WITHIN_S = PAYMENTS_HEALTH_INTERVAL_S * 1.1 + 8
STATE = "document.querySelector('.system[data-system=\"payments\"]').dataset.state"


class SimThread:
    """The simulated province on an event loop of its own, for the duration of a test."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self.running: RunningProvince | None = None

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        async with run_province(SimOptions(seed=7, backfill_days=0.02)) as running:
            self.running = running
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> RunningProvince:
        self._thread.start()
        if not self._ready.wait(60) or self.running is None:
            raise TimeoutError("the simulated province did not start")
        return self.running

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


@pytest.fixture
def centre(fresh_db_url: str, province: ProvinceConfig,
           tmp_path: Path) -> Iterator[tuple[RunningProvince, ApiServer, str]]:
    secret = make_tokens(fresh_db_url).viewer
    with SimThread() as sim:
        env = {**os.environ, "IOC_DATABASE_URL": fresh_db_url,
               "IOC_CONFIG_DIR": str(PROJECT_ROOT / "config"), "IOC_STATE_DIR": str(tmp_path),
               "IOC_SIM_PORTAL_URL": sim.urls["portal"],
               "IOC_SIM_PAYMENTS_URL": sim.urls["payments"],
               "IOC_SIM_DOCUMENTS_URL": sim.urls["documents"]}
        log = (tmp_path / "collect.log").open("wb")
        collector = subprocess.Popen([sys.executable, "-m", "ioc.cli", "collect"], env=env,
                                     stdout=log, stderr=log)
        server = ApiServer(fresh_db_url, heartbeat_s=2.0, refresh_s=1.0,
                           config=lambda: province).start()
        try:
            yield sim, server, secret
        finally:
            server.stop()
            collector.send_signal(signal.SIGTERM)
            collector.wait(timeout=30)
            log.close()


def test_simulated_outage_turns_the_wall_red(centre: tuple[RunningProvince, ApiServer, str]
                                             ) -> None:
    sim, server, secret = centre
    with Chromium(1920, 1080) as browser:
        browser.open(f"{server.url}/wall#token={secret}")
        # Collector start-up and its first probes: the light turns from grey to a colour.
        browser.wait_for(f"['up', 'degraded'].includes({STATE})", timeout_s=90)
        fault = httpx.post(f"{sim.control_url}/faults", timeout=10, json={
            "kind": "outage", "system": "payments", "duration": "2m"})
        assert fault.status_code == 201, fault.text
        browser.wait_for(f"{STATE} === 'down'", timeout_s=RED_WITHIN_S)
        assert browser.evaluate(
            "document.querySelector('.system[data-system=\"payments\"] .state').textContent"
        ) == "Gián đoạn"
