"""Status semantics: latest probe per target, stale means no data (never green), worst wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ioc.api.status import StatusRules, system_state, target_status

from .conftest import Tokens
from .seed import add_probe, add_target
from .server import ApiServer

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
RULES = StatusRules(grace=timedelta(seconds=10), slow_ms=2000)


def row(age_s: float | None, ok: bool = True, ms: float = 100.0, **labels: str) -> dict[str, Any]:
    return {"id": "t", "system": "portal", "kind": "http", "name": "t", "labels": labels,
            "interval_s": 30.0, "slo_ms": None, "checked_at":
            None if age_s is None else NOW - timedelta(seconds=age_s),
            "ok": ok, "reason": None if ok else "timeout", "status_code": None,
            "duration_ms": ms}


@pytest.mark.parametrize(("probe", "state"), [
    pytest.param(row(5), "up", id="fresh-ok-is-up"),
    pytest.param(row(5, ok=False), "down", id="fresh-failure-is-down"),
    pytest.param(row(5, ms=2500), "slow", id="over-the-latency-objective-is-slow"),
    pytest.param(row(69), "up", id="just-inside-two-intervals-plus-grace"),
    pytest.param(row(70), "nodata", id="two-intervals-plus-grace-is-stale"),
    pytest.param(row(3600, ok=False), "nodata", id="stale-failure-is-no-data"),
    pytest.param(row(None), "nodata", id="never-probed-is-no-data"),
    pytest.param(row(5, ms=2500, slow_ms="3000"), "up", id="target-label-overrides-slow"),
])
def test_target_state(probe: dict[str, Any], state: str) -> None:
    assert target_status(probe, NOW, RULES)["state"] == state


def t(state: str, critical: bool = True) -> dict[str, Any]:
    return {"state": state, "critical": critical}


@pytest.mark.parametrize(("targets", "state"), [
    pytest.param([t("up"), t("up")], "up", id="all-up"),
    pytest.param([t("up"), t("down")], "down", id="a-critical-target-down"),
    pytest.param([t("up"), t("down", critical=False)], "degraded", id="non-critical-down"),
    pytest.param([t("up"), t("slow")], "degraded", id="slow"),
    pytest.param([t("up"), t("nodata")], "degraded", id="partly-no-data"),
    pytest.param([t("nodata"), t("nodata")], "nodata", id="all-no-data"),
    pytest.param([], "nodata", id="no-targets"),
    pytest.param([t("nodata"), t("down")], "down", id="down-beats-no-data"),
])
def test_system_state_is_the_worst_of_its_targets(targets: list[dict[str, Any]],
                                                   state: str) -> None:
    assert system_state(targets) == state


def test_status_endpoint_reports_each_system(api_server: ApiServer, api_tokens: Tokens,
                                             api_db: str) -> None:
    now = datetime.now(UTC)
    add_target(api_db, "st-pay", "payments", interval_s=30)
    add_probe(api_db, "st-pay", now, True, 250.0)
    add_target(api_db, "st-doc", "documents", interval_s=30)
    add_probe(api_db, "st-doc", now - timedelta(minutes=5), True)
    auth = {"Authorization": f"Bearer {api_tokens.viewer}"}
    body = httpx.get(f"{api_server.url}/api/v1/status", headers=auth).json()
    systems = {s["system"]: s for s in body["systems"]}
    assert systems["payments"]["state"] == "up"
    assert systems["payments"]["latency_ms"] == 250.0
    assert systems["documents"]["state"] == "nodata"
    one = httpx.get(f"{api_server.url}/api/v1/status/payments", headers=auth).json()
    assert one["targets"][0]["id"] == "st-pay"
    missing = httpx.get(f"{api_server.url}/api/v1/status/nowhere", headers=auth)
    assert missing.status_code == 404
