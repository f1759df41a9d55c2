"""REST behaviour: series, KPIs from ioc_kpi, alerts, silences, push, reports, on-call, ops."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from alerts.ack import link
from ioc import db
from ioc.api.feed import day_start

from .conftest import Tokens, make_tokens
from .seed import add_alert, add_probe, add_target
from .server import ApiServer


@pytest.fixture(scope="module")
def client(api_server: ApiServer, api_tokens: Tokens) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_server.url, timeout=30,
                      headers={"Authorization": f"Bearer {api_tokens.operator}"}) as client:
        yield client


def test_target_series_and_kpi_agree_with_ioc_kpi(client: httpx.Client, api_db: str) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    add_target(api_db, "rest-portal", "portal", interval_s=60)
    for i in range(10):
        add_probe(api_db, "rest-portal", start + timedelta(minutes=i), i != 3, 100.0 + i)
    with db.connect(api_db) as conn:
        conn.execute("SELECT ioc_rollup_run()")
    window = {"from": start.isoformat(), "to": (start + timedelta(minutes=10)).isoformat()}
    points = client.get("/api/v1/targets/rest-portal/series", params=window).json()
    assert [(p["total"], p["ok"]) for p in points][:4] == [(1, 1), (1, 1), (1, 1), (1, 0)]

    got = client.get("/api/v1/kpis/availability",
                     params={**window, "filter": '{"target": "rest-portal"}'}).json()
    with db.connect(api_db) as conn:
        direct = conn.execute(
            "SELECT labels, value FROM ioc_kpi('availability', %s, %s, %s)",
            (window["from"], window["to"], json.dumps({"target": "rest-portal"}))).fetchall()
    assert [(v["labels"], v["value"]) for v in got["values"]] == [tuple(r) for r in direct]
    assert got["values"][0]["value"] == pytest.approx(0.9)


@pytest.mark.parametrize(("path", "params", "status"), [
    pytest.param("/api/v1/kpis/no.such.kpi", {}, 404, id="unknown-kpi"),
    pytest.param("/api/v1/kpis/availability", {"filter": '{"colour": "red"}'}, 422,
                 id="filter-the-kpi-does-not-take"),
    pytest.param("/api/v1/kpis/availability", {"filter": "[1"}, 422, id="filter-not-json"),
    pytest.param("/api/v1/kpis/availability", {"from": "2026-01-02T00:00:00Z",
                                               "to": "2026-01-01T00:00:00Z"}, 422,
                 id="window-backwards"),
    pytest.param("/api/v1/kpis/availability", {"from": "2026-01-01T00:00:00"}, 422,
                 id="naive-time"),
    pytest.param("/api/v1/kpis/availability", {"from": "yesterday"}, 422, id="not-a-time"),
    pytest.param("/api/v1/targets/nope/series", {}, 404, id="unknown-target"),
    pytest.param("/api/v1/alerts", {"state": "sleeping"}, 422, id="unknown-alert-state"),
    pytest.param("/api/v1/series", {"name": "x", "labels": '{"a": 1}'}, 422,
                 id="label-values-not-text"),
])
def test_bad_input_is_a_4xx_with_a_reason(client: httpx.Client, path: str,
                                          params: dict[str, str], status: int) -> None:
    resp = client.get(path, params=params)
    assert resp.status_code == status
    assert resp.json()["detail"]


def test_operator_acknowledges_a_firing_alert(client: httpx.Client, api_db: str) -> None:
    add_alert(api_db, "fp-ack", datetime.now(UTC))
    acked = client.post("/api/v1/alerts/fp-ack/ack")
    assert acked.status_code == 200
    assert acked.json()["acked_by"] == "operator"
    listed = client.get("/api/v1/alerts", params={"system": "portal"}).json()
    assert next(a for a in listed if a["fingerprint"] == "fp-ack")["acked_at"]
    with db.connect(api_db) as conn:
        conn.execute("UPDATE alerts SET state = 'resolved' WHERE fingerprint = 'fp-ack'")
    assert client.post("/api/v1/alerts/fp-ack/ack").status_code == 409


def test_silence_is_created_listed_and_expired(client: httpx.Client) -> None:
    made = client.post("/api/v1/silences", json={
        "matchers": [{"label": "system", "op": "=", "value": "payments"}],
        "duration": "2h", "comment": "Bảo trì cổng thanh toán"})
    assert made.status_code == 201, made.text
    silence = made.json()
    assert silence["active"] and silence["created_by"] == "operator"
    assert any(s["id"] == silence["id"] for s in client.get("/api/v1/silences").json())
    expired = client.post(f"/api/v1/silences/{silence['id']}/expire").json()
    assert not expired["active"]
    assert all(s["id"] != silence["id"] for s in client.get("/api/v1/silences").json())
    assert any(s["id"] == silence["id"] for s in
               client.get("/api/v1/silences", params={"include_expired": True}).json())


@pytest.mark.parametrize("body", [
    pytest.param({"matchers": [], "duration": "1h", "comment": "x"}, id="no-matchers"),
    pytest.param({"matchers": [{"label": "a", "value": "b"}], "comment": "x"}, id="no-end"),
    pytest.param({"matchers": [{"label": "a", "value": "b"}], "comment": "x",
                  "ends_at": "2020-01-01T00:00:00Z"}, id="ends-in-the-past"),
    pytest.param({"matchers": [{"label": "a b", "value": "b"}], "duration": "1h",
                  "comment": "x"}, id="bad-label-name"),
])
def test_bad_silences_are_refused(client: httpx.Client, body: dict[str, object]) -> None:
    assert client.post("/api/v1/silences", json=body).status_code == 422


def test_push_stores_samples_for_the_token_s_push_target(api_server: ApiServer,
                                                         api_tokens: Tokens, api_db: str) -> None:
    auth = {"Authorization": f"Bearer {api_tokens.ingest}"}
    sample = {"metric": "documents_signing_total", "labels": {"agency": "so-tp"}, "value": 7}
    ok = httpx.post(f"{api_server.url}/api/v1/push", headers=auth, json={"samples": [sample]})
    assert ok.json() == {"stored": 1}
    with db.connect(api_db) as conn:
        stored = conn.execute(
            "SELECT s.value FROM samples s JOIN series r ON r.id = s.series_id "
            "WHERE r.name = 'documents_signing_total' AND r.labels->>'agency' = 'so-tp'"
        ).fetchall()
    assert stored == [(7.0,)]
    refused = httpx.post(f"{api_server.url}/api/v1/push", headers=auth,
                         json={"samples": [{**sample, "metric": "cpu_seconds"}]})
    assert refused.status_code == 422
    assert "not allowed" in refused.json()["detail"][0]


def test_reports_are_listed_and_downloaded(client: httpx.Client, api_db: str) -> None:
    with db.connect(api_db) as conn:
        row = conn.execute(
            "INSERT INTO reports (period, language, version, period_from, period_to, data, "
            "html, created_at) VALUES ('2026-W02', 'vi', 1, '2026-01-05', '2026-01-12', '{}', "
            "'<h1>Báo cáo tuần</h1>', now()) RETURNING id").fetchone()
    assert row is not None
    listed = client.get("/api/v1/reports").json()
    assert any(r["id"] == row[0] and r["period"] == "2026-W02" for r in listed)
    html = client.get(f"/api/v1/reports/{row[0]}", params={"format": "html"})
    assert html.text == "<h1>Báo cáo tuần</h1>"
    assert "attachment" in html.headers["content-disposition"]
    assert client.get(f"/api/v1/reports/{row[0]}").status_code == 404  # no PDF stored


def test_on_call_comes_from_the_province_rota(client: httpx.Client) -> None:
    rota = client.get("/api/v1/oncall").json()
    assert {r["rotation"] for r in rota} >= {"primary"}
    assert all(r["name"] for r in rota)


def test_readyz_and_healthz(api_server: ApiServer) -> None:
    assert httpx.get(f"{api_server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api_server.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


def test_readyz_reports_pending_migrations(fresh_db_url: str) -> None:
    with db.connect(fresh_db_url) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = 40")
    server = ApiServer(fresh_db_url).start()
    try:
        resp = httpx.get(f"{server.url}/readyz")
    finally:
        server.stop()
    assert resp.status_code == 503
    assert resp.json()["pending"] == ["040_api_tokens"]


def test_metrics_pass_promtool(api_server: ApiServer, client: httpx.Client) -> None:
    client.get("/api/v1/status")
    assert httpx.get(f"{api_server.url}/metrics").status_code == 401
    text = client.get("/metrics").text
    assert 'ioc_api_requests_total{method="GET",route="/api/v1/status",status="200"}' in text
    check = subprocess.run(["/usr/bin/promtool", "check", "metrics"], input=text, text=True,
                           capture_output=True, timeout=30, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_day_start_is_midnight_in_the_province() -> None:
    assert day_start(datetime(2026, 1, 5, 18, 0, tzinfo=UTC)) == \
        datetime(2026, 1, 5, 17, 0, tzinfo=UTC)


def test_one_click_link_confirms_then_acknowledges(api_server: ApiServer, api_db: str) -> None:
    now = datetime.now(UTC)
    add_alert(api_db, "fp-link", now)
    url = link(api_server.url, "fp-link", 1, now, api_server.settings.secret_key)
    page = httpx.get(url)  # what a mail scanner's prefetch does: nothing is acknowledged
    assert page.status_code == 200 and "<form method=\"post\">" in page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]
    with db.connect(api_db) as conn:
        row = conn.execute("SELECT acked_by FROM alerts WHERE fingerprint = 'fp-link'").fetchone()
    assert row == (None,)
    done = httpx.post(url)
    assert done.status_code == 200 and "Đã xác nhận" in done.text
    with db.connect(api_db) as conn:
        row = conn.execute("SELECT acked_by FROM alerts WHERE fingerprint = 'fp-link'").fetchone()
    assert row == ("link",)
    forged = httpx.post(url[:-3] + "xyz")
    assert forged.status_code == 404


def test_config_summary_has_no_secrets(api_server: ApiServer, api_tokens: Tokens) -> None:
    admin = {"Authorization": f"Bearer {api_tokens.admin}"}
    state = httpx.get(f"{api_server.url}/api/v1/config", headers=admin).json()
    assert state["summary"].startswith("22 targets")
    reload = httpx.post(f"{api_server.url}/api/v1/config/reload", headers=admin)
    assert reload.status_code == 404  # this server was given a config, not a directory


def test_a_lost_database_is_a_503_not_a_500(fresh_db_url: str, server_url: str) -> None:
    secret = make_tokens(fresh_db_url).viewer
    server = ApiServer(fresh_db_url).start()
    try:
        auth = {"Authorization": f"Bearer {secret}"}
        assert httpx.get(f"{server.url}/api/v1/status", headers=auth).status_code == 200
        name = str(conninfo_to_dict(fresh_db_url)["dbname"])
        with db.connect(server_url) as admin:  # every connection of the API is cut
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        lost = httpx.get(f"{server.url}/api/v1/status", headers=auth, timeout=60)
        told = asyncio.run(_live_answer(f"{server.ws_url}?token={secret}"))
    finally:
        server.stop()
    assert lost.status_code == 503
    assert lost.headers["retry-after"] == "5"
    # The token cannot be checked: no 403, no data; the screen is told why and retries.
    assert told == ({"type": "database", "state": "down", "timezone": "Asia/Ho_Chi_Minh"}, 1013)


async def _live_answer(url: str) -> tuple[dict[str, object], int | None]:
    async with asyncio.timeout(60), websockets.connect(url, open_timeout=60) as ws:
        message = json.loads(await ws.recv())
        await ws.wait_closed()
        return message, ws.close_code
