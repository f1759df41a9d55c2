"""The http kind turns every way a server can fail into a failed result with the right reason."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from collectors.fetch import HttpClient
from collectors.httpprobe import HttpProbe
from collectors.metrics import CollectorMetrics
from collectors.model import Outcome
from collectors.scheduler import Scheduler
from ioc.config.targets import HttpTarget
from tests.collectors.loopback import Loopback, closed_port


def probe(url: str, **fields: Any) -> HttpProbe:
    target = HttpTarget.model_validate({"kind": "http", "id": "t", "system": "portal",
                                        "name": "Cổng", "url": url, "timeout": "2s", **fields})
    return HttpProbe(target, HttpClient(limit=10))


async def collect(p: HttpProbe) -> Outcome:
    try:
        async with asyncio.timeout(p.target.timeout.total_seconds()):
            # the real clock: the TLS fixture makes its certificate from it
            return await p.collect(datetime.now(UTC))
    finally:
        await p._client.close()


CASES = [
    ("bad-status", "/status/503", {}, "status"),
    ("unexpected-2xx", "/ok", {"expected_status": [204]}, "status"),
    ("body-missing-text", "/text", {"conditions": [{"body_contains": "Thanh toán"}]},
     "condition"),
    ("json-field-wrong", "/json", {"conditions": [{"json_path": "status", "equals": "down"}]},
     "condition"),
    ("json-expected-got-html", "/text", {"conditions": [{"json_path": "status",
                                                          "exists": True}]}, "garbage"),
    ("too-slow", "/delay/300", {"conditions": [{"response_time_below": "100ms"}]},
     "condition"),
    ("oversized-declared", "/big", {"max_body_bytes": 1_000_000}, "oversized"),
    ("oversized-chunked", "/big-chunked", {"max_body_bytes": 1_000_000}, "oversized"),
]


@pytest.mark.parametrize(("path", "fields", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
async def test_http_probe_reports_failure_reason(loopback: Loopback, path: str,
                                                 fields: dict[str, Any], reason: str) -> None:
    outcome = await collect(probe(loopback.url + path, **fields))
    assert outcome.result is not None
    assert (outcome.result.ok, outcome.result.reason) == (False, reason)
    assert outcome.result.detail


async def test_http_probe_passes_when_every_condition_holds(loopback: Loopback) -> None:
    outcome = await collect(probe(loopback.url + "/json", conditions=[
        {"json_path": "status", "equals": "ok"}, {"json_path": "items[1]", "equals": 2},
        {"body_contains": "version"}, {"body_regex": r"\"2\.\d\""},
        {"response_time_below": "2s"}]))
    r = outcome.result
    assert r is not None and r.ok and r.reason is None
    assert r.status_code == 200 and r.bytes and r.bytes > 10
    assert r.connect_ms is not None and r.ttfb_ms is not None and r.duration_ms is not None
    assert r.duration_ms >= r.ttfb_ms
    assert r.tls_ms is None and r.cert_days is None


async def test_http_probe_sends_method_headers_and_json_body(loopback: Loopback) -> None:
    outcome = await collect(probe(loopback.url + "/echo", method="POST",
                                  headers={"X-Token": "t0k"}, expected_status=[201],
                                  body={"procedure_code": "1.001", "channel": 2}))
    assert outcome.result is not None and outcome.result.ok


@pytest.mark.parametrize("path", ["/hang", "/drip"], ids=["hang", "slow-drip"])
async def test_http_probe_reports_hang_as_timeout(loopback: Loopback, path: str) -> None:
    outcomes: list[Outcome] = []
    sched = Scheduler(lambda job, o: outcomes.append(o),
                      CollectorMetrics.create(CollectorRegistry()))
    p = probe(loopback.url + path, timeout="500ms", interval="5s")
    try:
        [outcome] = await sched.run_once([p])
    finally:
        await p._client.close()
    assert outcome.result is not None
    assert (outcome.result.ok, outcome.result.reason) == (False, "timeout")
    assert outcome.result.duration_ms == 500


async def test_http_probe_reports_refused_connection() -> None:
    outcome = await collect(probe(f"http://127.0.0.1:{closed_port()}/"))
    assert outcome.result is not None and outcome.result.reason == "refused"


async def test_http_probe_reports_reset_and_garbage(raw_ports: dict[str, int]) -> None:
    reset = await collect(probe(f"http://127.0.0.1:{raw_ports['reset']}/"))
    garbage = await collect(probe(f"http://127.0.0.1:{raw_ports['garbage']}/"))
    assert reset.result is not None and reset.result.reason == "reset"
    assert garbage.result is not None and garbage.result.reason == "protocol"


async def test_added_latency_of_300ms_is_measured_as_300ms(loopback: Loopback) -> None:
    base = await collect(probe(loopback.url + "/ok"))
    slow = await collect(probe(loopback.url + "/delay/300"))
    assert base.result is not None and slow.result is not None
    assert base.result.duration_ms is not None and slow.result.duration_ms is not None
    added = slow.result.duration_ms - base.result.duration_ms
    assert 250 <= added <= 350, added
    assert slow.result.ttfb_ms is not None and 250 <= slow.result.ttfb_ms <= 350


async def test_https_probe_measures_tls_and_certificate_days(tls_url: str) -> None:
    unverified = await collect(probe(tls_url, tls={"verify": False}))
    r = unverified.result
    assert r is not None and r.ok, r
    assert r.tls_ms is not None and r.tls_ms > 0
    assert r.cert_days is not None and 29 <= r.cert_days <= 31
    verified = await collect(probe(tls_url))
    assert verified.result is not None and verified.result.reason == "tls"
    expiring = await collect(probe(tls_url, tls={"verify": False, "min_cert_days": 45}))
    assert expiring.result is not None and expiring.result.reason == "tls"
