"""`ioc sim` runs the province until interrupted; `ioc sim fault|clock` steer a running one."""

from __future__ import annotations

import asyncio
import signal
import sys

import aiohttp
import pytest

from ioc.cli import main
from sim import run_province
from tests.sim.helpers import get_json, options


async def _ioc(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_fault_commands_add_list_and_clear_through_the_control_api(
        capsys: pytest.CaptureFixture[str]) -> None:
    async with run_province(options(backfill_days=0.2)) as province, \
            aiohttp.ClientSession() as http:
        control = ("--control-url", province.control_url)
        assert await _ioc("sim", "fault", "add", "error_rate", "--system", "portal",
                          "--endpoint", "/api/stats", "--duration", "5m", "-p", "rate=1",
                          "-p", "status=502", *control) == 0
        assert await _ioc("sim", "fault", "add", "recon_late", "--system", "payments",
                          "-p", "side=intermediary", *control) == 0
        async with http.get(province.urls["portal"] + "/api/stats") as resp:
            assert resp.status == 502
        assert await _ioc("sim", "fault", "list", *control) == 0
        listed = capsys.readouterr().out
        assert "error_rate" in listed and "/api/stats" in listed and "status=502" in listed
        assert "side=intermediary" in listed
        assert await _ioc("sim", "fault", "clear", "f1", *control) == 0
        assert "cleared: f1" in capsys.readouterr().out
        await get_json(http, province.urls["portal"] + "/api/stats")
        assert await _ioc("sim", "fault", "clear", *control) == 0
        assert await _ioc("sim", "fault", "list", *control) == 0
        assert capsys.readouterr().out.endswith("cleared: f2\nno faults are on\n")
        assert await _ioc("sim", "clock", "--advance", "2h", "--speed", "0", *control) == 0
        assert "2025-03-12T05:00:00Z at 0x" in capsys.readouterr().out
        assert await _ioc("sim", "fault", "add", "latency", "--system", "portal", *control) == 1
        assert "ms: Field required" in capsys.readouterr().err
        assert await _ioc("sim", "fault", "add", "hang", "--system", "portal", "-p", "oops",
                          *control) == 1
        assert "write KEY=VALUE" in capsys.readouterr().err


async def test_fault_command_says_when_no_simulator_is_listening(
        capsys: pytest.CaptureFixture[str]) -> None:
    async with run_province(options(backfill_days=0)) as province:
        port = int(province.control_url.rsplit(":", 1)[1])
    assert await _ioc("sim", "fault", "list", "--control-url", f"http://127.0.0.1:{port}") == 1
    assert "is `ioc sim` running?" in capsys.readouterr().err


async def test_ioc_sim_prints_its_urls_serves_and_stops_cleanly_on_ctrl_c() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ioc.cli", "sim", "--port-base", "0", "--backfill-days", "0.2",
        "--dossiers-per-day", "300", "--documents-per-day", "200", "--seed", "5",
        "--start-at", "2025-03-12T03:00:00Z",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    urls: dict[str, str] = {}
    try:
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "ioc sim exited before it was ready"
            if line.startswith("  "):
                name, url = line.split()
                urls[name] = url
            if line.startswith("Ctrl-C"):
                break
        assert set(urls) == {"portal", "payments", "documents", "control"}
        async with aiohttp.ClientSession() as http:
            for name in ("portal", "payments", "documents"):
                assert (await get_json(http, urls[name] + "/health"))["system"] == name
            clock = await get_json(http, urls["control"] + "/clock")
            assert clock["now"].startswith("2025-03-12T03:00")
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert b"simulated province stopped" in out
