"""Each fault is observable through plain HTTP while it is on, and ends by itself on time."""

from __future__ import annotations

import asyncio
import json
import math
import time
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from sim import run_province
from tests.sim.helpers import add_fault, all_records, get_json, options, wait_fault_gone

GRACE_S = 1.0  # how much later than its duration a fault may be seen to end
QUICK = options(backfill_days=0.25)  # a few hours of history: enough for HTTP faults


async def test_latency_delays_matching_requests_by_at_least_the_injected_amount() -> None:
    async with run_province(QUICK) as province, aiohttp.ClientSession() as http:
        stats = province.urls["portal"] + "/api/stats"
        fault = await add_fault(http, province.control_url, kind="latency", system="portal",
                                endpoint="/api/stats", duration="1.2s", ms=500,
                                distribution="uniform", spread_ms=100)
        started = time.monotonic()
        await get_json(http, stats)
        assert time.monotonic() - started >= 0.5
        await wait_fault_gone(http, province.control_url, fault["id"], 1.2 + GRACE_S)
        started = time.monotonic()
        await get_json(http, stats)
        assert time.monotonic() - started < 0.5


async def test_error_rate_answers_the_injected_status_only_on_its_endpoint() -> None:
    async with run_province(QUICK) as province, aiohttp.ClientSession() as http:
        portal = province.urls["portal"]
        fault = await add_fault(http, province.control_url, kind="error_rate", system="portal",
                                endpoint="/api/stats", duration="1s", rate=1.0, status=500)
        for _ in range(5):
            async with http.get(portal + "/api/stats") as resp:
                assert resp.status == 500
                assert (await resp.json())["error"] == "simulated fault"
        await get_json(http, portal + "/health")
        await wait_fault_gone(http, province.control_url, fault["id"], 1 + GRACE_S)
        await get_json(http, portal + "/api/stats")
        await add_fault(http, province.control_url, kind="error_rate", system="portal",
                        duration="5s", rate=0.5)
        codes = []
        for _ in range(60):
            async with http.get(portal + "/health") as resp:
                codes.append(resp.status)
        assert set(codes) == {200, 503}


async def test_outage_refuses_connections_and_reopens_on_the_same_port() -> None:
    async with run_province(QUICK) as province, aiohttp.ClientSession() as http:
        portal = province.urls["portal"]
        port = int(portal.rsplit(":", 1)[1])
        await get_json(http, portal + "/health")  # a kept-alive connection
        fault = await add_fault(http, province.control_url, kind="outage", system="portal",
                                duration="1s")
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        with pytest.raises(aiohttp.ClientError):
            async with http.get(portal + "/health"):
                pass
        await get_json(http, province.urls["payments"] + "/health")
        await wait_fault_gone(http, province.control_url, fault["id"], 1 + GRACE_S)
        for _ in range(20):  # the listener reopens within a tick of the fault's end
            try:
                body = await get_json(http, portal + "/health")
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        assert body["system"] == "portal"
        assert province.urls["portal"] == portal


async def test_hang_accepts_and_never_answers_then_drops_the_connection() -> None:
    async with run_province(QUICK) as province, aiohttp.ClientSession() as http:
        portal = province.urls["portal"]
        port = int(portal.rsplit(":", 1)[1])
        fault = await add_fault(http, province.control_url, kind="hang", system="portal",
                                endpoint="/api/stats", duration="1s")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/stats HTTP/1.1\r\nHost: sim\r\n\r\n")
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.3)
        with pytest.raises(TimeoutError):
            async with http.get(portal + "/api/stats",
                                timeout=aiohttp.ClientTimeout(total=0.3)):
                pass
        await get_json(http, portal + "/health")
        await wait_fault_gone(http, province.control_url, fault["id"], 1 + GRACE_S)
        assert await asyncio.wait_for(reader.read(), 2) == b""  # dropped, never answered
        writer.close()
        await get_json(http, portal + "/api/stats")


async def test_garbage_answers_200_with_a_body_that_is_not_json() -> None:
    async with run_province(QUICK) as province, aiohttp.ClientSession() as http:
        url = province.urls["documents"] + "/api/stats"
        fault = await add_fault(http, province.control_url, kind="garbage", system="documents",
                                duration="1s")
        async with http.get(url) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/json"
            body = await resp.read()
        with pytest.raises(ValueError):
            json.loads(body)
        await wait_fault_gone(http, province.control_url, fault["id"], 1 + GRACE_S)
        assert "incoming" in await get_json(http, url)


async def test_oversized_answers_a_body_of_the_injected_size() -> None:
    async with run_province(QUICK) as province, aiohttp.ClientSession() as http:
        url = province.urls["payments"] + "/api/stats"
        fault = await add_fault(http, province.control_url, kind="oversized", system="payments",
                                duration="1s", mb=3)
        async with http.get(url) as resp:
            assert resp.status == 200
            assert resp.content_length == 3 * 1024 * 1024
            body = await resp.read()
        assert len(body) == 3 * 1024 * 1024
        assert set(json.loads(body)) == {"padding"}
        await wait_fault_gone(http, province.control_url, fault["id"], 1 + GRACE_S)
        assert "by_intermediary" in await get_json(http, url)


async def test_slow_drip_sends_the_real_body_a_few_bytes_at_a_time() -> None:
    async with run_province(QUICK) as province, aiohttp.ClientSession() as http:
        url = province.urls["portal"] + "/health"
        fault = await add_fault(http, province.control_url, kind="slow_drip", system="portal",
                                endpoint="/health", duration="1.2s", chunk_bytes=10,
                                interval_ms=30)
        started = time.monotonic()
        chunks = []
        async with http.get(url) as resp:
            async for chunk in resp.content.iter_any():
                chunks.append(chunk)
        elapsed = time.monotonic() - started
        body = b"".join(chunks)
        assert json.loads(body)["status"] == "ok"
        assert len(chunks) >= math.ceil(len(body) / 10) // 2
        assert elapsed >= (math.ceil(len(body) / 10) - 1) * 0.03
        await wait_fault_gone(http, province.control_url, fault["id"], 1.2 + GRACE_S)
        async with http.get(url) as resp:
            assert len([c async for c in resp.content.iter_any()]) == 1


async def _clock(http: aiohttp.ClientSession, control: str, advance: str) -> None:
    async with http.post(control + "/clock", json={"advance": advance}) as resp:
        assert resp.status == 200


@pytest.mark.parametrize(
    ("system", "overdue", "done"),
    [
        pytest.param("portal", ("timeliness", "open_overdue"), ("finished",), id="portal"),
        pytest.param("documents", ("overdue",), ("handled",), id="documents"),
    ],
)
async def test_stuck_queue_piles_records_up_past_deadline_until_it_ends(
        system: str, overdue: tuple[str, ...], done: tuple[str, ...]) -> None:
    def pick(stats: dict[str, Any], path: tuple[str, ...]) -> int:
        for key in path:
            stats = stats[key]
        return int(stats)  # type: ignore[call-overload]

    async with run_province(options(backfill_days=3)) as province, aiohttp.ClientSession() as http:
        url, control = province.urls[system] + "/api/stats", province.control_url
        window = {"from": "2025-03-01T00:00:00Z", "to": "2025-04-01T00:00:00Z"}
        before = await get_json(http, url, **window)
        fault = await add_fault(http, control, kind="stuck_queue", system=system,
                                duration="1s", drain="1h")
        await _clock(http, control, "6d")
        during = await get_json(http, url, **window)
        assert pick(during, done) == pick(before, done)
        assert pick(during, overdue) > pick(before, overdue) + 10
        await wait_fault_gone(http, control, fault["id"], 1 + GRACE_S)
        await _clock(http, control, "1d")
        after = await get_json(http, url, **window)
        assert pick(after, done) > pick(during, done)
        assert pick(after, overdue) < pick(during, overdue)


@pytest.mark.parametrize(
    ("system", "total", "parts"),
    [
        pytest.param("portal", "received", lambda s: sum(s["by_status"].values()), id="portal"),
        pytest.param("payments", "attempts", lambda s: s["succeeded"] + s["failed"],
                     id="payments"),
        pytest.param("documents", "total", lambda s: s["incoming"] + s["outgoing"],
                     id="documents"),
    ],
)
async def test_stats_mismatch_makes_the_total_differ_from_its_parts(
        system: str, total: str, parts: Any) -> None:
    async with run_province(options(backfill_days=1)) as province, aiohttp.ClientSession() as http:
        url = province.urls[system] + "/api/stats"
        window = {"from": "2025-03-10T00:00:00Z", "to": "2025-03-12T00:00:00Z"}
        fault = await add_fault(http, province.control_url, kind="stats_mismatch",
                                system=system, duration="1s")
        during = await get_json(http, url, **window)
        assert during[total] != parts(during)
        await wait_fault_gone(http, province.control_url, fault["id"], 1 + GRACE_S)
        after = await get_json(http, url, **window)
        assert after[total] == parts(after) == parts(during)


async def test_national_mismatch_makes_the_national_count_differ_from_the_records() -> None:
    async with run_province(options(backfill_days=1)) as province, aiohttp.ClientSession() as http:
        portal = province.urls["portal"]
        window = {"from": "2025-03-10T00:00:00Z", "to": "2025-03-12T00:00:00Z"}
        records = await all_records(http, portal + "/api/dossiers")
        synced = sum(r["synced_national"] for r in records
                     if "2025-03-10" <= r["received_at"] < "2025-03-12")
        assert (await get_json(http, portal + "/api/national/count", **window))["count"] == synced
        fault = await add_fault(http, province.control_url, kind="national_mismatch",
                                system="portal", duration="1s", ratio=0.1)
        during = await get_json(http, portal + "/api/national/count", **window)
        stats = await get_json(http, portal + "/api/stats", **window)
        assert during["count"] not in (synced, stats["received"])
        await wait_fault_gone(http, province.control_url, fault["id"], 1 + GRACE_S)
        assert (await get_json(http, portal + "/api/national/count", **window))["count"] == synced


def _refs(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(r["ref"] for r in rows)


def _late(broken: dict[str, Any], clean: dict[str, Any]) -> bool:
    days = (datetime.fromisoformat(broken["settled_at"]) -
            datetime.fromisoformat(clean["settled_at"])).days
    return days == 2


RECON_CASES = [
    pytest.param("recon_missing", "treasury",
                 lambda broken, clean: set(_refs(clean)) > set(_refs(broken)), id="missing"),
    pytest.param("recon_amount", "treasury",
                 lambda broken, clean: _refs(broken) == _refs(clean) and any(
                     b["amount"] == c["amount"] - 1100 for b, c in zip(broken, clean,
                                                                        strict=True)),
                 id="amount"),
    pytest.param("recon_duplicate", "intermediary",
                 lambda broken, clean: len(broken) > len(clean) and set(_refs(broken)) == set(
                     _refs(clean)), id="duplicate"),
    pytest.param("recon_late", "treasury",
                 lambda broken, clean: any(_late(b, c) for b, c in zip(broken, clean,
                                                                         strict=True)),
                 id="late"),
]


@pytest.mark.parametrize(("kind", "side", "broken_as_specified"), RECON_CASES)
async def test_reconciliation_faults_break_one_side_until_they_end(
        kind: str, side: str, broken_as_specified: Any) -> None:
    async with run_province(options(backfill_days=3)) as province, aiohttp.ClientSession() as http:
        url = province.urls["payments"] + "/api/reconciliation/2025-03-10"
        other = "intermediary" if side == "treasury" else "treasury"
        fault = await add_fault(http, province.control_url, kind=kind, system="payments",
                                duration="1s", side=side, rate=0.1)
        await add_fault(http, province.control_url, kind=kind, system="payments",
                        duration="1s", side=side, date="2025-03-11")  # another day's file
        broken = (await get_json(http, url, side=side))["items"]
        clean = (await get_json(http, url, side=other))["items"]
        assert len(clean) > 20
        assert broken_as_specified(broken, clean)
        await wait_fault_gone(http, province.control_url, fault["id"], 1 + GRACE_S)
        assert (await get_json(http, url, side=side))["items"] == clean


async def test_faults_are_listed_and_cleared_and_bad_ones_refused() -> None:
    async with run_province(QUICK) as province, aiohttp.ClientSession() as http:
        control, portal = province.control_url, province.urls["portal"]
        first = await add_fault(http, control, kind="error_rate", system="portal",
                                duration="5m")
        await add_fault(http, control, kind="latency", system="payments", duration="5m", ms=1)
        await add_fault(http, control, kind="recon_late", system="payments", duration="5m")
        listed = (await get_json(http, control + "/faults"))["items"]
        assert [f["kind"] for f in listed] == ["error_rate", "latency", "recon_late"]
        assert all(0 < f["remaining_s"] <= 300 for f in listed)
        async with http.delete(f"{control}/faults/{first['id']}") as resp:
            assert (await resp.json()) == {"removed": first["id"]}
        await get_json(http, portal + "/health")  # the error rate ended with it
        async with http.delete(f"{control}/faults") as resp:
            assert len((await resp.json())["removed"]) == 2
        assert (await get_json(http, control + "/faults"))["items"] == []
        async with http.delete(f"{control}/faults/{first['id']}") as resp:
            assert resp.status == 404
        for bad, message in [
            ({"kind": "flood", "system": "portal", "duration": "1s"}, "kind must be one of"),
            ({"kind": "outage", "system": "portal", "duration": "1s", "endpoint": "/x"},
             "leave out endpoint"),
            ({"kind": "latency", "system": "portal", "duration": "1s"}, "ms: Field required"),
            ({"kind": "hang", "system": "portal", "duration": "soon"}, "not a duration"),
            ({"kind": "hang", "system": "portal", "duration": "1s", "colour": 1}, "colour"),
            ({"kind": "stuck_queue", "system": "payments", "duration": "1s"}, "system"),
        ]:
            async with http.post(control + "/faults", json=bad) as resp:
                assert resp.status == 400
                assert message in (await resp.json())["error"]
